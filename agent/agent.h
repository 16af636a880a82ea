/*
 * agent.h - the sonar agent's probe loop.
 *
 * One thread runs everything that decides: the spread schedule, sends,
 * timeouts, the detectors and the logs (engines, the resolver and the mesh
 * only post results back to it), so outcomes are processed in one
 * well-defined order, the order sonar.csv records and sonar-replay replays.
 * The targets can change while it runs (a reloaded targets file, a mesh's
 * members): hosts.c starts and stops them.
 */
#ifndef CLOUDSONAR_AGENT_H
#define CLOUDSONAR_AGENT_H

#include <stdbool.h>
#include <stddef.h>

#include "pano/common/curve.h"
#include "agent/cli.h"
#include "agent/engine.h"
#include "agent/targets.h"

typedef struct {
	detector_options det;
	method_spec method;
	probe_options probe;        /* --source, --interface, --size, --tos */
	const target_list *targets; /* the command line's, or the targets file's */
	const char *targets_file;   /* reloaded on SIGHUP and when it changes; NULL: none */
	unsigned burst;             /* probes per interval (1: one) */
	const char *mesh_group;     /* --mesh: the group; NULL: no mesh */
	double mesh_refresh_s;
	size_t mesh_peers;
	const char *state_dir;   /* NULL: LOGDIR/state */
	char *const *servers;    /* Panorama nodes (none: no publishing) */
	size_t nservers;
	const pano_curve_client *curves; /* one per server, or NULL: plain */
	const char *observer;    /* the agent's name in Panorama */
	const char *const *labels; /* --label: what it says of itself to Panorama ("k=v") */
	size_t nlabels;
	double duration_s;       /* 0: run until signalled */
	double resolve_every_s;  /* names are looked up again this often (resolver.h) */
	const char *user;        /* started as root, run as this user (privdrop.h); NULL: the default */
	bool stats;              /* print probe statistics at exit */
	const char *prom_file;   /* node-exporter textfile, rewritten every interval */
	const char *http_addr;   /* serve /metrics live on IP:PORT (NULL: no) */
	const char *http_token;  /* a bearer token's file for it (NULL: none) */
	const char *prog;
} agent_config;

/* Runs until SIGINT/SIGTERM or the duration ends; returns the exit code. */
int agent_run(const agent_config *cfg);

#endif
