/*
 * attention.h - the decision layer: a host's state from its probe outcomes,
 * phi, the HTM anomaly score and its own baseline.
 *
 * The states, worst first:
 *
 *   DEAD             no answer at all for dead_after_s (and 3 probes at least).
 *   NEEDS_ATTENTION  a slowdown the host has not shown before, or loss:
 *                    - slow: `confirm` slow probes in a row, or one fewer
 *                      when the HTM model found one of them unexpected and
 *                      they span ATTENTION_HTM_SPAN_S (at long intervals,
 *                      where waiting costs minutes; at short ones a
 *                      scheduler stall is two slow answers the model finds
 *                      just as surprising);
 *                      then held until `confirm` probes in a row are back
 *                      to normal, or until the slow responses add up to
 *                      accept_after_s and become the host's new normal;
 *                    - lossy: 4 or more of the last 16 probes lost; held
 *                      until at most 1 of the last 16 is.
 *   PENDING          one sign alone: phi over its threshold, the anomaly
 *                    score over its threshold, a slow or a lost probe.
 *   HEALTHY          none.
 *
 * A probe is slow when its response time is over all of
 *   - the phi threshold's factor of the baseline's median (phi as the docs
 *     define it, but against a reference that does not chase the fault:
 *     phi_threshold 1 is 2.3 times the median),
 *   - the baseline's 99th percentile by one histogram bin (12%), and
 *   - the median by slow_margin_s (100 us): a host 20 us away that answers
 *     in 60 us for a while is a busy CPU, not a gray failure,
 * where the baseline (baseline.h) is the host's hour of day once learned on
 * two days, else its whole day.  Slow responses are held aside, not
 * learned; while the host needs attention for slowness nothing is learned.
 * A lost probe counts as slow.  Until the baseline is ready (30 responses,
 * 30 s) nothing is slow.
 *
 * No I/O: the caller logs the transitions attention_update reports.
 * Deterministic: the same inputs give the same states.
 */
#ifndef CLOUDSONAR_ATTENTION_H
#define CLOUDSONAR_ATTENTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
	ATTENTION_HEALTHY = 0,
	ATTENTION_PENDING,
	ATTENTION_NEEDS_ATTENTION,
	ATTENTION_DEAD,
} attention_state;

/* Fewest lost probes in a row that can make DEAD, whatever the time. */
#define ATTENTION_DEAD_MIN_PROBES 3
/* Loss over the last ATTENTION_LOSS_WINDOW probes. */
#define ATTENTION_LOSS_WINDOW 16
#define ATTENTION_LOSS_ENTER 4
/* ... and held until at most ATTENTION_LOSS_LEAVE of the last
 * ATTENTION_LOSS_HOLD_WINDOW are lost. */
#define ATTENTION_LOSS_HOLD_WINDOW 64
#define ATTENTION_LOSS_LEAVE 1
#define ATTENTION_HTM_SPAN_S 30.0

typedef struct {
	double phi_threshold;     /* phi strictly above this is bad */
	double anomaly_threshold; /* anomaly strictly above this is unexpected */
	unsigned confirm;         /* slow probes in a row to need attention (>= 1) */
	double accept_after_s;    /* slow responses this long in all become normal */
	double dead_after_s;      /* no answer this long is DEAD */
	double slow_margin_s;     /* slow only this far above the median at least */
	bool no_recurrence;       /* what recurs needs attention too: only to measure what recur.h adds */
	bool htm_familiar;        /* a slowdown the HTM model was never surprised by is expected */
} attention_params;

#define ATTENTION_ACCEPT_AFTER_S 1800.0
#define ATTENTION_DEAD_AFTER_S 10.0
/* Below this, a difference in response time is the machines' scheduling
 * (both ends' kernels, a busy core next door), not the network's: 100 us. */
#define ATTENTION_SLOW_MARGIN_S 0.0001

/* The defaults: phi 1, anomaly 0.4, confirm 3, accept after 30 min, dead
 * after 10 s, a slow margin of 100 us, what recurs is normal. */
attention_params attention_params_default(void);

/* One probe outcome as the decision sees it.  A burst of probes (the
 * agent's --burst) is one outcome: its median response time, lost when
 * every probe of it was; each of its probes counts in the loss window. */
typedef struct {
	int64_t wall_ms;  /* when it was sent */
	bool lost;
	int64_t rtt_ns;   /* ignored when lost */
	double phi;       /* phi as fd.csv logs it */
	double anomaly;   /* the latest HTM anomaly score; NAN before one */
	uint16_t burst;        /* probes in the outcome; 0 or 1: a single probe */
	uint16_t burst_lost;   /* how many of them were lost */
} attention_input;

typedef struct attention_tracker attention_tracker;

/* A tracker before any probe (HEALTHY, not yet started); NULL when memory
 * is short. */
attention_tracker *attention_new(void);
void attention_free(attention_tracker *t);

/* Feeds one outcome.  Returns true when the state changed (the first
 * outcome of a tracker counts as a change, so every host's initial state
 * is logged once). */
bool attention_update(attention_tracker *t, const attention_params *p, const attention_input *in);

attention_state attention_current(const attention_tracker *t);
/* Why the host is NEEDS_ATTENTION or DEAD, in a few words without commas
 * ("slow 4.2x baseline for 40 s", "lossy: 9 of the last 64 probes lost",
 * "dead: no answer for 12 s", "slow 3.1x baseline: out of its rhythm of
 * every 60.6 min"); "" in the other states. */
#define ATTENTION_REASON_MAX 112
const char *attention_reason(const attention_tracker *t);

/* The same as figures, for exporters (a label that does not change with
 * every probe, and numbers).  A host both slow and lossy shows its
 * slowness. */
typedef enum {
	ATTENTION_CAUSE_NONE = 0,   /* HEALTHY or PENDING */
	ATTENTION_CAUSE_SLOW,       /* slow, and nothing like it before */
	ATTENTION_CAUSE_LONGER,     /* a known slowdown, lasting longer than it ever has */
	ATTENTION_CAUSE_OFF_RHYTHM, /* a known slowdown out of its rhythm */
	ATTENTION_CAUSE_HIGHER,     /* slower than a known slowdown */
	ATTENTION_CAUSE_LOSSY,
	ATTENTION_CAUSE_DEAD,
} attention_cause;
typedef struct {
	attention_cause cause;
	double times_baseline;  /* a slow cause's level over the baseline's median; 0 otherwise */
	unsigned lost, of;      /* the last `of` probes (up to ATTENTION_LOSS_HOLD_WINDOW), `lost` of them */
} attention_why;
attention_why attention_explain(const attention_tracker *t);
/* The evidence behind any state, for Panorama: the newest answer's
 * response time over the baseline's median (0 before the baseline is
 * ready, or after a lost probe), and the share of the last probes (up to
 * ATTENTION_LOSS_HOLD_WINDOW) lost. */
void attention_evidence(const attention_tracker *t, double *ratio, double *loss);
/* "slow", "longer", "off_rhythm", "higher", "lossy", "dead"; "" for none. */
const char *attention_cause_name(attention_cause c);
const char *attention_state_name(attention_state s);

/* Saved state: a versioned little-endian blob of exactly
 * attention_state_size(t) bytes (the baseline included). */
size_t attention_state_size(const attention_tracker *t);
void attention_save(const attention_tracker *t, uint8_t *buf);
attention_tracker *attention_load(const uint8_t *buf, size_t len, char *err, size_t errlen);

#endif
