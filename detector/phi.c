/* phi.c - phi accrual failure detector; see phi.h for the model. */
#include "detector/phi.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_sf_erf.h>

#include "detector/bytes.h"

struct phi_detector {
	phi_dist dist;
	size_t cap;      /* window size */
	size_t alloc;    /* ring slots allocated, grown up to cap */
	size_t count;    /* samples held, <= alloc */
	size_t next;     /* ring index of the next write */
	int64_t sum;     /* exact: cap * PHI_RTT_MAX_NS < 2^63 */
	unsigned __int128 sumsq; /* exact: cap * PHI_RTT_MAX_NS^2 < 2^128 */
	int64_t *ring;
};

static int64_t clamp_rtt(int64_t rtt_ns)
{
	if (rtt_ns < 0)
		return 0;
	return rtt_ns > PHI_RTT_MAX_NS ? PHI_RTT_MAX_NS : rtt_ns;
}

phi_detector *phi_new(size_t window, phi_dist dist)
{
	if (window < 1 || window > PHI_WINDOW_MAX)
		return NULL;
	if (dist != PHI_DIST_EXP && dist != PHI_DIST_NORMAL)
		return NULL;
	phi_detector *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	/* The ring grows as samples arrive: a host probed for a minute should
	 * not cost a full window, and restoring state must not hold two. */
	d->alloc = window < 16 ? window : 16;
	d->ring = calloc(d->alloc, sizeof(*d->ring));
	if (!d->ring) {
		free(d);
		return NULL;
	}
	d->dist = dist;
	d->cap = window;
	return d;
}

void phi_free(phi_detector *d)
{
	if (!d)
		return;
	free(d->ring);
	free(d);
}

size_t phi_count(const phi_detector *d) { return d->count; }
size_t phi_window(const phi_detector *d) { return d->cap; }

double phi_mean_ns(const phi_detector *d)
{
	return d->count ? (double)d->sum / (double)d->count : 0.0;
}

/* Doubles the ring (up to the window).  The ring only wraps once it holds
 * the whole window, so until then its samples sit in slots 0..count-1 and
 * stay in place.  On allocation failure the window shrinks to what is
 * allocated, for good, so a wrapped ring is never grown. */
static void grow(phi_detector *d)
{
	size_t alloc = d->alloc * 2 < d->cap ? d->alloc * 2 : d->cap;
	int64_t *ring = realloc(d->ring, alloc * sizeof(*ring));
	if (!ring) {
		d->cap = d->alloc;
		return;
	}
	d->ring = ring;
	d->alloc = alloc;
	d->next = d->count;
}

void phi_add(phi_detector *d, int64_t rtt_ns)
{
	int64_t v = clamp_rtt(rtt_ns);
	if (d->count == d->alloc && d->alloc < d->cap)
		grow(d);
	if (d->count == d->alloc) {
		int64_t old = d->ring[d->next];
		d->sum -= old;
		d->sumsq -= (unsigned __int128)((uint64_t)old) * (uint64_t)old;
	} else {
		d->count++;
	}
	d->ring[d->next] = v;
	d->sum += v;
	d->sumsq += (unsigned __int128)((uint64_t)v) * (uint64_t)v;
	d->next = (d->next + 1) % d->alloc;
}

/* Population standard deviation of the window, from the exact sums. */
static double window_sd(const phi_detector *d)
{
	unsigned __int128 n = d->count;
	unsigned __int128 s = (uint64_t)d->sum;
	/* n*sumsq >= sum^2 always (Cauchy-Schwarz), so this cannot wrap. */
	unsigned __int128 num = n * d->sumsq - s * s;
	double var = (double)num / ((double)d->count * (double)d->count);
	return sqrt(var);
}

double phi_score(const phi_detector *d, int64_t rtt_ns)
{
	if (d->count < PHI_MIN_SAMPLES)
		return 0.0;
	double t = (double)clamp_rtt(rtt_ns);
	double mean = phi_mean_ns(d);
	if (mean < 1.0)
		mean = 1.0; /* an all-zero window must not divide by zero */
	double phi;
	if (d->dist == PHI_DIST_EXP) {
		phi = t / (mean * M_LN10);
	} else {
		double sd = window_sd(d);
		if (sd < mean / 10.0)
			sd = mean / 10.0;
		double z = (t - mean) / sd;
		/* log Q(z) = log(erfc(z/sqrt 2) / 2): gsl's log_erfc stays
		 * accurate far into the tail where Q itself underflows. */
		double log_q = gsl_sf_log_erfc(z / M_SQRT2) - M_LN2;
		phi = -log_q / M_LN10;
		if (!(phi < PHI_MAX))
			phi = PHI_MAX;
	}
	return phi > 0.0 ? phi : 0.0;
}

int phi_dist_parse(const char *s, phi_dist *out)
{
	if (strcmp(s, "exp") == 0)
		*out = PHI_DIST_EXP;
	else if (strcmp(s, "normal") == 0)
		*out = PHI_DIST_NORMAL;
	else
		return -1;
	return 0;
}

const char *phi_dist_name(phi_dist dist)
{
	return dist == PHI_DIST_NORMAL ? "normal" : "exp";
}

/* Blob: "PHI" version(1) count(u32) then count int64 samples, oldest first. */
#define PHI_MAGIC "PHI"
#define PHI_VERSION 1
#define PHI_HEADER 8

size_t phi_state_size(const phi_detector *d)
{
	return PHI_HEADER + d->count * 8;
}

int phi_save(const phi_detector *d, uint8_t *buf, size_t cap, size_t *len)
{
	size_t need = phi_state_size(d);
	if (cap < need)
		return -1;
	memcpy(buf, PHI_MAGIC, 3);
	buf[3] = PHI_VERSION;
	put_u32le(buf + 4, (uint32_t)d->count);
	size_t start = (d->next + d->alloc - d->count) % d->alloc;
	for (size_t i = 0; i < d->count; i++)
		put_u64le(buf + PHI_HEADER + 8 * i,
		          (uint64_t)d->ring[(start + i) % d->alloc]);
	*len = need;
	return 0;
}

phi_detector *phi_load(const uint8_t *buf, size_t len, size_t window,
                       phi_dist dist, char *err, size_t errlen)
{
	if (len < PHI_HEADER || memcmp(buf, PHI_MAGIC, 3) != 0) {
		snprintf(err, errlen, "not a phi state blob");
		return NULL;
	}
	if (buf[3] != PHI_VERSION) {
		snprintf(err, errlen, "phi state version %u, expected %u",
		         buf[3], PHI_VERSION);
		return NULL;
	}
	uint32_t count = get_u32le(buf + 4);
	if (count > PHI_WINDOW_MAX || len != PHI_HEADER + (size_t)count * 8) {
		snprintf(err, errlen, "phi state of %zu bytes does not hold %u samples",
		         len, count);
		return NULL;
	}
	phi_detector *d = phi_new(window, dist);
	if (!d) {
		snprintf(err, errlen, "cannot allocate a window of %zu", window);
		return NULL;
	}
	for (uint32_t i = 0; i < count; i++) {
		int64_t v = (int64_t)get_u64le(buf + PHI_HEADER + 8 * (size_t)i);
		if (v < 0 || v > PHI_RTT_MAX_NS) {
			snprintf(err, errlen, "phi state sample %u out of range", i);
			phi_free(d);
			return NULL;
		}
		phi_add(d, v); /* older samples fall out of a smaller window */
	}
	return d;
}
