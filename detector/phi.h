/*
 * phi.h - phi accrual failure detector over response times.
 *
 * CloudSonar applies Cassandra's phi accrual detector to probe response
 * times instead of heartbeat inter-arrival times.  A detector keeps the last
 * `window` successful response times (W) of one host.  For a response time t
 * (a lost probe is scored with t = the probe timeout):
 *
 *   |W| < PHI_MIN_SAMPLES        phi = 0
 *   PHI_DIST_EXP (default)       phi = t / (mean(W) * ln 10)
 *                                    = -log10(exponential survival(t))
 *   PHI_DIST_NORMAL              phi = -log10(Q(t; mean(W), sd(W)))
 *                                    sd floored at mean/10, phi capped at
 *                                    PHI_MAX so it stays finite.
 *
 * Only successful response times enter W (phi_add); scoring (phi_score) never
 * changes the detector.  Both are O(1): the window is a ring buffer with
 * exact integer running sums, so the same input always gives the same
 * output, whatever its length.
 *
 * No I/O: state is saved to and loaded from a caller-owned byte buffer.
 */
#ifndef CLOUDSONAR_PHI_H
#define CLOUDSONAR_PHI_H

#include <stddef.h>
#include <stdint.h>

/* phi is 0 until the window holds this many samples. */
#define PHI_MIN_SAMPLES 5
/* Largest window accepted by phi_new (and by the state loader). */
#define PHI_WINDOW_MAX 1000000u
/* Response times are clamped to [0, PHI_RTT_MAX_NS] (1000 s). */
#define PHI_RTT_MAX_NS INT64_C(1000000000000)
/* Upper bound of phi for the normal model (the exponential one is finite). */
#define PHI_MAX 1000.0

typedef enum { PHI_DIST_EXP = 0, PHI_DIST_NORMAL = 1 } phi_dist;

typedef struct phi_detector phi_detector;

/* A detector with an empty window of `window` samples (1..PHI_WINDOW_MAX).
 * NULL when the arguments are out of range or memory is short. */
phi_detector *phi_new(size_t window, phi_dist dist);
void phi_free(phi_detector *d);

/* phi of response time rtt_ns against the current window; no update. */
double phi_score(const phi_detector *d, int64_t rtt_ns);

/* Adds a successful response time to the window (evicting the oldest). */
void phi_add(phi_detector *d, int64_t rtt_ns);

size_t phi_count(const phi_detector *d);
size_t phi_window(const phi_detector *d);
/* Mean of the window in ns (0 when empty). */
double phi_mean_ns(const phi_detector *d);

/* Parses "exp" / "normal"; returns 0 on success, -1 otherwise. */
int phi_dist_parse(const char *s, phi_dist *out);
const char *phi_dist_name(phi_dist dist);

/*
 * Saved state: the window's samples, oldest first, in a versioned little
 * endian blob.  phi_state_size gives the exact size phi_save needs.
 * phi_load rebuilds a detector of the given window and dist from a blob
 * written with any window size (keeping the newest samples that fit); it
 * returns NULL and a reason in err when the blob is malformed.
 */
size_t phi_state_size(const phi_detector *d);
int phi_save(const phi_detector *d, uint8_t *buf, size_t cap, size_t *len);
phi_detector *phi_load(const uint8_t *buf, size_t len, size_t window,
                       phi_dist dist, char *err, size_t errlen);

#endif
