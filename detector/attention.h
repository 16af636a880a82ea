/*
 * attention.h - per-host health state from the detectors' outputs.
 *
 * CloudSonar calls a host NEEDS_ATTENTION when the HTM model finds its
 * response time unexpected (anomaly score over its threshold) AND the phi
 * detector finds it bad (phi over its threshold), and phi goes on finding
 * it bad for `confirm` probes in a row counting that one: a gray failure
 * lasts, while a lone slow answer (which both detectors see at once, being
 * fed the same number) does not.  One of the two alone is PENDING; neither
 * is HEALTHY; ATTENTION_DEAD_AFTER lost probes in a row is DEAD, whatever
 * the scores say.  The anomaly score marks the moment the pattern broke
 * (the likelihood falls back within a few steps even while the host stays
 * slow), so a host that needs attention keeps needing it as long as phi
 * still finds it bad.
 *
 * Until a host has an HTM score (anomaly given as NAN), only phi decides
 * and the state is at most PENDING.
 *
 * No I/O: the caller logs the transitions attention_update reports.
 */
#ifndef CLOUDSONAR_ATTENTION_H
#define CLOUDSONAR_ATTENTION_H

#include <stdbool.h>

#define ATTENTION_DEAD_AFTER 3

typedef enum {
	ATTENTION_HEALTHY = 0,
	ATTENTION_PENDING,
	ATTENTION_NEEDS_ATTENTION,
	ATTENTION_DEAD,
} attention_state;

typedef struct {
	double phi_threshold;     /* phi strictly above this is "bad" */
	double anomaly_threshold; /* anomaly strictly above this is "unexpected" */
	unsigned confirm;         /* bad probes in a row from the unexpected one
	                             (0 or 1: that one alone suffices) */
} attention_params;

typedef struct {
	attention_state state;
	unsigned lost_in_a_row;
	unsigned confirming;      /* bad probes in a row since an unexpected one */
	bool started; /* false until the first probe: its state is always logged */
} attention_tracker;

/* A tracker before any probe (state HEALTHY, not yet started). */
attention_tracker attention_tracker_init(void);

/* Feeds one probe outcome.  Returns true when the state changed (the first
 * probe of a tracker counts as a change, so every host's initial state is
 * logged once). */
bool attention_update(attention_tracker *t, const attention_params *p,
                      bool lost, double phi, double anomaly);

const char *attention_state_name(attention_state s);

#endif
