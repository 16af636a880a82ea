/*
 * realdata.h - the recordings in ../shared/realdata as the scorecard's
 * traces: one series (a sonar.csv of one host) and the labels its folder
 * gives it.
 *
 * Rows less than BURST_GAP_MS apart are one probe of a burst (the anchor
 * week's three packets every 240 s), taken as the fastest of them, as
 * RIPE Atlas reports its own pings; a burst is lost when all of it is.  The
 * interval is the median gap between probes.
 */
#ifndef CLOUDSONAR_REALDATA_H
#define CLOUDSONAR_REALDATA_H

#include <stddef.h>
#include <stdint.h>

#include "tests/bench/scenarios.h"

#define BURST_GAP_MS 5000

typedef struct {
	trace tr;             /* probes only (no incidents) */
	double interval_s;
	char host[256];
	int64_t *labels;      /* labelled moments of this host, in time order */
	size_t nlabels;
} recording;

/* Loads series csv and, when labels is not NULL, the rows of labels
 * (timestamp,host,label) for its host.  0, or -1 with a reason in err. */
int recording_load(const char *csv, const char *labels, recording *out, char *err, size_t errlen);
void recording_free(recording *r);

#endif
