/*
 * baseline.h - what a host's response time normally is, by hour of day, in
 * a form that does not chase a fault.
 *
 * A baseline holds time-weighted histograms of log10(RTT in us): one for
 * the whole day and one per UTC hour of day.  Each has two parts:
 *
 *   normal   responses the caller judged normal (baseline_learn);
 *   held     responses the caller judged bad (baseline_hold): they are kept
 *            aside, not learned, until baseline_accept moves them to
 *            normal, which the caller does once they add up to long enough
 *            ("a high load that has been proved OK is normal").
 *
 * The reference for a moment is its hour's histogram once that hour has
 * been learned on two different days, else the whole day's: so a nightly
 * peak, once seen twice, is normal at night and still abnormal at noon.
 * Weights are seconds (the time since the host's previous probe), so the
 * histograms mean the same at any probe interval, and they fade: the whole
 * day's with a time constant of a day, an hour's over a week (it is fed one
 * hour in 24), the held ones over the caller's held_fade_s.  The caller
 * forgets what it held when a slow stretch ends by itself, and accepts it
 * when the stretch has lasted so long that it is a change.
 *
 * No I/O; deterministic (the same calls give the same numbers).  Saved to
 * and loaded from a caller-owned byte buffer.
 */
#ifndef CLOUDSONAR_BASELINE_H
#define CLOUDSONAR_BASELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Histogram bins are BASELINE_BIN wide in log10(us) (12% apart), from
 * 1 us to 10^BASELINE_TOP us (about 3 s); values outside fall in the end
 * bins. */
#define BASELINE_BIN 0.05
#define BASELINE_BINS 130
#define BASELINE_TOP (BASELINE_BIN * BASELINE_BINS)

typedef struct baseline baseline;

/* The reference at one moment, in log10(us). */
typedef struct {
	bool ready;    /* enough learned (BASELINE_READY_*) to judge a response */
	bool hourly;   /* from the hour's histogram, not the whole day's */
	double median; /* time-weighted median of the normal responses */
	double high;   /* their 99th percentile, or where the 90th puts it if higher */
} baseline_ref;

/* Ready once this much is learned: 30 responses and 30 s of them. */
#define BASELINE_READY_PROBES 30
#define BASELINE_READY_SECONDS 30.0

baseline *baseline_new(void);
void baseline_free(baseline *b);

baseline_ref baseline_reference(const baseline *b, int64_t wall_ms);

/* Adds response x (log10 us), weighing weight_s seconds, at wall_ms. */
void baseline_learn(baseline *b, int64_t wall_ms, double x, double weight_s);
void baseline_hold(baseline *b, int64_t wall_ms, double x, double weight_s, double held_fade_s);

/* Forgets every held response (an excursion that ended by itself). */
void baseline_forget_held(baseline *b);
/* Moves every held response to normal, as of wall_ms. */
void baseline_accept(baseline *b, int64_t wall_ms, double held_fade_s);

/* Saved state: a versioned little-endian blob of exactly
 * baseline_state_size(b) bytes (the bins a histogram keeps: a few kB).
 * baseline_load returns NULL with a reason in err when the blob is
 * malformed; it also takes the first version's blobs (every bin, 27 kB). */
size_t baseline_state_size(const baseline *b);
void baseline_save(const baseline *b, uint8_t *buf);
baseline *baseline_load(const uint8_t *buf, size_t len, char *err, size_t errlen);

#endif
