/*
 * promfile.h - the agent's metrics for Prometheus, as a node-exporter
 * textfile (its textfile collector reads *.prom files from a folder).
 *
 * Per host, named in the style of the blackbox exporter:
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
 * and sonar_interval_seconds, the probe interval.  A host not probed yet
 * (a name that does not resolve) has only its two counters, at 0.
 *
 * The file is replaced atomically: written beside it as FILE.tmp (which the
 * collector ignores, not ending in .prom) and renamed over it, so a scrape
 * never sees half a file.
 */
#ifndef CLOUDSONAR_PROMFILE_H
#define CLOUDSONAR_PROMFILE_H

#include <stddef.h>

#include "agent/pipeline.h"

/* 0, or -1 with "PATH: reason" in err. */
int promfile_write(const char *path, const pipeline *p, double interval_s, char *err, size_t errlen);

#endif
