/*
 * agent_internal.h - the agent's state, shared by agent.c (the probe loop,
 * logs, state, exporters) and hosts.c (the targets it probes: slots, their
 * engines, and what a reloaded targets file or a mesh changes).  Not for
 * use outside agent/.
 */
#ifndef CLOUDSONAR_AGENT_INTERNAL_H
#define CLOUDSONAR_AGENT_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#include "agent/agent.h"
#include "agent/csvlog.h"
#include "agent/engine.h"
#include "agent/mesh.h"
#include "agent/pipeline.h"
#include "agent/resolver.h"
#include "agent/schedule.h"
#include "agent/targets.h"
#include "pano/client/publisher.h"
#include "pano/common/http.h"
#include "pano/common/strmap.h"

/* One target being probed: a slot, numbered for the engines, the pipeline
 * and the resolver alike.  A slot of a target that left is free for the
 * next one. */
typedef struct {
	bool live;
	uint32_t epoch;          /* bumped when the slot changes hands or how it is probed:
	                          * older schedule and resolver entries are stale */
	target t;                /* its own copy */
	probe_engine *engine;
	char method[64];         /* the engine's short name: icmp, tcp:7 */
	int64_t interval_ns, timeout_ns, phase_ns;
	unsigned burst;
	uint64_t next_probe;     /* the number of its next probe (schedule.h) */
	uint32_t addr_epoch;     /* bumped when the address to resolve changes */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	bool resolved;
	bool unresolvable;       /* its name's last lookup failed: why */
	char why[96];
	bool inflight;
	uint32_t gen;            /* of the probe in flight: answers and timeouts carry it */
	int64_t send_wall_ms;
	uint64_t burst_of;       /* the in-flight probe's burst number */
	probe_outcome *outcomes; /* with --burst: the current burst's, so far */
	unsigned got;
	int64_t burst_wall_ms;   /* when the current burst began */
} host_slot;

/* An engine per way of probing: a method, and (liboping waits that long)
 * a timeout. */
typedef struct {
	method_spec method;
	int64_t timeout_ns;
	probe_engine *engine;
} engine_entry;

typedef struct {
	uint64_t sent, answered, lost, errors, skipped, unresolved;
} probe_counts;

/* What the last hosts_apply did. */
typedef struct {
	size_t added, removed, restarted, kept;
} target_change;

typedef struct agent {
	const agent_config *cfg;
	host_slot *slots;
	size_t nslots, capslots;
	size_t *free_slots;
	size_t nfree;
	strmap *by_name;         /* target name -> slot + 1 */
	size_t live;             /* targets being probed */
	engine_entry *engines;
	size_t nengines;
	size_t engine_cap;       /* the hosts every engine has room for */
	int64_t interval_ns, timeout_ns; /* the agent's own */
	due_heap due;            /* the next probe of each target */
	due_heap deadlines;      /* the probes in flight */
	size_t inflight;
	pipeline *pipe;
	csvlogs *logs;
	resolver *res;
	publisher *pub;
	mesh *mesh;
	target_list static_targets; /* the command line's or the file's */
	char **members;          /* the mesh's, last known */
	size_t nmembers;
	int epfd;
	watch signal_watch, resolver_watch, http_watch, mesh_watch;
	pano_http *http;         /* --http: /metrics, live */
	struct promfile_snapshot *prom_snap; /* the newest metrics snapshot (promfile.h) */
	int sigfd;
	int lock_fd;             /* holds the state directory's lock */
	bool stopping, reopen, reload;
	bool no_pwait2;          /* epoll_pwait2 is not available here */
	regdir state_dir;        /* held open: the agent keeps working in it after dropping root */
	regdir prom_dir;         /* --prom-file's folder (fd -1: none) */
	const char *prom_name;   /* --prom-file's name in it */
	regdir targets_dir;      /* --targets' folder (fd -1: none): reread through it */
	const char *targets_name;
	bool dropped;            /* runs as an ordinary user now (privdrop.h) */
	probe_counts counts;
	size_t htm_denied_said;  /* hosts refused an HTM model, as last said */
	lateness_histogram lateness;
	target_change last_change;
	int64_t last_save_ns;    /* how long the last save of the state took */
	bool saved;              /* the state was saved at the end of the run */
	struct timespec targets_mtime, targets_ctime; /* of the targets file last read */
	off_t targets_size;
	ino_t targets_ino;
} agent;

/* agent.c: an engine's answer (engine.h's probe_done_fn). */
void agent_probe_done(void *ctx, uint32_t slot, uint32_t gen, probe_status st, int64_t rtt_ns);

/* hosts.c */
/* The engine of the agent's own --method (made first, so that a method
 * this process may not use is said at start). */
probe_engine *hosts_default_engine(agent *a, char *err, size_t errlen);
/* Makes the slots probe exactly the targets of want (the static targets,
 * then the mesh's members): new ones start, with fresh detectors (the
 * caller then restores the saved state of those it has), ones that left
 * stop, ones that stay keep their detectors and their schedule (or restart
 * it, if how they are probed changed).  Rewrites the targets side file.
 * 0, or -1 with a reason. */
int hosts_apply(agent *a, const target_list *want, int64_t now_ns, char *err, size_t errlen);
/* The static targets and the mesh's members, as one list for hosts_apply. */
int hosts_wanted(const agent *a, target_list *out);
void hosts_free(agent *a);
/* The address probed for slot, as text ("" while unresolved). */
void hosts_address(const agent *a, size_t slot, char *out, size_t len);
/* A resolver answer for slot (stale ones are dropped): its address, a new
 * one (said), or that it has none (said once). */
void hosts_resolved(agent *a, size_t slot, uint32_t tag, const resolution_result *r);

#endif
