/*
 * promfile.h - the agent's metrics for Prometheus, as a node-exporter
 * textfile (its textfile collector reads *.prom files from a folder).
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
 *   sonar_phi{host}                  the latest phi
 *   sonar_anomaly_score{host}        the HTM anomaly score (absent before one)
 *   sonar_state{host,state}          1 for the host's attention state, 0 for
 *                                    the three others
 *   sonar_response_seconds{host}     a histogram of the answered probes'
 *                                    response times (_bucket{le}, _sum, _count),
 *                                    as smokeping_prober's
 * and sonar_interval_seconds, the probe interval, and
 * sonar_last_update_timestamp_seconds, when the figures were written (a
 * file an agent left behind when it stopped shows its age).  A host not probed yet
 * (a name that does not resolve) has only its two counters, at 0.
 *
 * The file is replaced atomically: written beside it as FILE.tmp (which the
 * collector ignores, not ending in .prom) and renamed over it, so a scrape
 * never sees half a file.
 */
#ifndef CLOUDSONAR_PROMFILE_H
#define CLOUDSONAR_PROMFILE_H

#include <stddef.h>
#include <stdio.h>

#include "agent/pipeline.h"

/* What labels a host's series besides its name. */
typedef struct {
	char address[64];          /* the address probed ("" while unresolved) */
	const char *method;        /* the probe engine: icmp, tcp:7 */
	const char *group;         /* its targets-file group; "" for none (no label) */
	const char *const *labels; /* its targets-file labels, "key=value" */
	size_t nlabels;
} promfile_host;

typedef struct {
	void (*describe)(void *ctx, size_t host, promfile_host *out);
	void *ctx;
} promfile_labels;

/* The metrics, in the text exposition format, to f. */
void promfile_render(FILE *f, const pipeline *p, double interval_s, const promfile_labels *labels);
/* promfile_render into path, atomically; 0, or -1 with "PATH: reason" in err. */
int promfile_write(const char *path, const pipeline *p, double interval_s, const promfile_labels *labels,
                   char *err, size_t errlen);

#endif
