/*
 * promfile.h - the agent's metrics for Prometheus: a snapshot the probe
 * loop takes, and its text exposition, rendered anywhere else: streamed to
 * a scraper (--http) or written as a node-exporter textfile (--prom-file).
 *
 * Per host, named in the style of the blackbox exporter, each with the
 * labels host, address (the one probed; empty before it resolves), method
 * (the probe engine), and the group and labels a targets file gave it:
 *   sonar_rtt_seconds{host}          the latest answered probe's response time
 *                                    (absent while the latest one was lost)
 *   sonar_probe_success{host}        1 when the latest probe was answered, else 0
 *   sonar_probes_total{host}         probes since the agent started (counter)
 *   sonar_probes_lost_total{host}    of which lost: timeouts and errors (counter);
 *                                    loss = rate(lost) / rate(total)
 *   sonar_jitter_seconds{host}       the response times' interarrival jitter
 *                                    (RFC 3550, over consecutive answers)
 *   sonar_phi{host}                  the latest phi
 *   sonar_anomaly_score{host}        the HTM anomaly score (absent before one)
 *   sonar_state{host,state}          1 for the host's attention state, 0 for
 *                                    the three others
 *   sonar_attention_cause{host,cause} 1 while NEEDS_ATTENTION or DEAD: why
 *                                    (slow, longer, off_rhythm, higher, lossy,
 *                                    dead; attention_explain)
 *   sonar_slow_times_baseline{host}  while slow is the cause: how many times
 *                                    the baseline's median its level is
 *   sonar_response_seconds{host}     a histogram of the answered probes'
 *                                    response times (_bucket{le}, _sum, _count),
 *                                    as smokeping_prober's, its bounds --buckets
 *   sonar_unprobed{host,reason}      1 while the host cannot be probed (its
 *                                    name does not resolve), the reason said;
 *                                    its probes count as lost meanwhile
 * and sonar_interval_seconds, the probe interval, and
 * sonar_last_update_timestamp_seconds, when the figures were taken (a
 * file an agent left behind when it stopped shows its age).  A host not probed yet
 * (a name that does not resolve) has only its two counters, at 0.
 *
 * Why a snapshot: the loop that times probes must not spend a scrape's
 * rendering (150 MB of text at 100,000 hosts), nor wait for a scraper that
 * reads slowly.  Taking one copies each host's figures and renders its
 * labels once (about 300 bytes a host); it is immutable and shared by
 * reference count, so any number of readers stream from it on their own
 * threads, each holding only its place and one host's lines.
 */
#ifndef CLOUDSONAR_PROMFILE_H
#define CLOUDSONAR_PROMFILE_H

#include <stddef.h>
#include <stdio.h>

#include "agent/pipeline.h"
#include "pano/common/regfile.h"

/* What labels a host's series besides its name. */
typedef struct {
	char address[64];          /* the address probed ("" while unresolved) */
	const char *method;        /* the probe engine: icmp, tcp:7 */
	const char *group;         /* its targets-file group; "" for none (no label) */
	const char *const *labels; /* its targets-file labels, "key=value" */
	size_t nlabels;
	const char *unprobed;      /* why it cannot be probed ("" or NULL: it can) */
} promfile_host;

typedef struct {
	void (*describe)(void *ctx, size_t host, promfile_host *out);
	void *ctx;
} promfile_labels;

typedef struct promfile_snapshot promfile_snapshot;

/* On the loop: the figures of every host of p now.  NULL when out of
 * memory.  The caller holds one reference. */
promfile_snapshot *promfile_snapshot_take(const pipeline *p, double interval_s, const promfile_labels *labels);
/* From any thread. */
promfile_snapshot *promfile_snapshot_ref(promfile_snapshot *s);
void promfile_snapshot_unref(promfile_snapshot *s);
/* When it was taken (clock_mono_ns). */
int64_t promfile_snapshot_taken_ns(const promfile_snapshot *s);
/* Snapshots alive in this process now (taken and not yet released). */
int promfile_snapshots_alive(void);

/* A reader streams one snapshot's text, in whatever pieces are asked for. */
typedef struct promfile_reader promfile_reader;
/* Takes a reference of its own; NULL when out of memory. */
promfile_reader *promfile_reader_new(promfile_snapshot *s);
/* Up to max bytes of the text into buf; 0 at the end. */
size_t promfile_reader_read(promfile_reader *r, char *buf, size_t max);
void promfile_reader_free(promfile_reader *r);

/* The whole text to f. */
void promfile_render(FILE *f, promfile_snapshot *s);
/* The text into path (in dir: regfile.h), atomically (written beside it
 * as PATH.tmp, which the collector ignores, not ending in .prom, and
 * renamed over it, so a scrape never sees half a file); 0, or -1 with
 * "PATH: reason" in err. */
int promfile_write(const regdir *dir, const char *path, promfile_snapshot *s, char *err, size_t errlen);

#endif
