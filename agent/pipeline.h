/*
 * pipeline.h - what happens to one probe outcome: the detectors and the rows
 * they log.  The live agent and sonar-replay both feed outcomes through this
 * one path, which is why a replay of sonar.csv reproduces fd.csv and
 * attention.csv byte for byte.
 *
 * For each outcome, in order: phi is scored (a lost probe as the timeout),
 * a successful response time joins the phi window, an fd.csv row is written,
 * and the host's attention state is updated, with an attention.csv row when
 * it changes.  sonar.csv is the caller's: replay reads it, the agent
 * writes it before calling pipeline_observe.
 */
#ifndef CLOUDSONAR_PIPELINE_H
#define CLOUDSONAR_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "../detector/attention.h"
#include "../detector/phi.h"
#include "csvlog.h"

typedef enum { PROBE_OK = 0, PROBE_TIMEOUT, PROBE_ERROR } probe_status;

const char *probe_status_name(probe_status s);

typedef struct {
	size_t phi_window;
	phi_dist phi_dist;
	double phi_threshold;
	double anomaly_threshold;
	int64_t timeout_ns; /* a lost probe's response time for phi */
} pipeline_params;

typedef struct pipeline pipeline;

/* logs may be NULL (nothing written); the pipeline does not own it. */
pipeline *pipeline_new(const pipeline_params *params, csvlogs *logs);
void pipeline_free(pipeline *p);

/* Adds a host; returns its index, or -1 when out of memory. */
long pipeline_add_host(pipeline *p, const char *name);
size_t pipeline_host_count(const pipeline *p);
const char *pipeline_host_name(const pipeline *p, size_t host);

/* One probe outcome of host, sent at wall time wall_ms (rtt_ns is ignored
 * unless status is PROBE_OK). */
void pipeline_observe(pipeline *p, size_t host, int64_t wall_ms,
                      probe_status status, int64_t rtt_ns);

/* The host's latest phi and attention state. */
double pipeline_last_phi(const pipeline *p, size_t host);
attention_state pipeline_state(const pipeline *p, size_t host);

/*
 * Detector state on disk (path written atomically: temporary file, fsync,
 * rename).  pipeline_load_state restores the hosts it knows by name and
 * ignores the others, and returns 1 with the count in *restored; a missing
 * file returns 0.  A malformed file returns -1 with a reason in err and
 * restores no host at all.
 */
int pipeline_save_state(const pipeline *p, const char *path, char *err, size_t errlen);
int pipeline_load_state(pipeline *p, const char *path, size_t *restored,
                        char *err, size_t errlen);

#endif
