/*
 * agent_internal.h - the agent's state, shared by agent.c (the loop:
 * epoll, signals, logs, state, exporters, publishing) and hosts.c (the
 * host table: the targets' slots, their engines and schedules, the probes
 * in flight, and what a reloaded targets file or a mesh changes).  A
 * slot's fields are hosts.c's alone (host_slot is opaque here).  Not for
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
#include "pano/common/log.h"
#include "pano/common/strmap.h"

/* One target being probed (hosts.c; no other file sees its fields). */
typedef struct host_slot host_slot;

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
	pano_logger log;         /* the daemon log, for the library objects it makes */
	int observer_fd;         /* holds the observer's name on this host (claim_observer) */
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


#include "agent/hosts.h"

#endif
