/* baseline.c - a host's normal response times by hour; see baseline.h. */
#include "detector/baseline.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detector/bytes.h"

#define MS_PER_HOUR INT64_C(3600000)
#define MS_PER_DAY (24 * MS_PER_HOUR)
/* The whole day's histogram fades over a day; an hour's, fed one hour in
 * 24, over a week. */
#define FADE_DAY_MS ((double)MS_PER_DAY)
#define FADE_HOUR_MS (7.0 * (double)MS_PER_DAY)
/* An hour's histogram is the reference once learned on 2 days, 30 min in all. */
#define HOUR_LEARNED_DAYS 2
#define HOUR_LEARNED_SECONDS 1800.0
#define HIGH_QUANTILE 0.99
#define TAIL_FROM_BODY 1.82 /* z(0.99) / z(0.90) */
#define NEVER INT64_MIN

/* Only the bins from lo to lo + n - 1 are kept; the others are 0.  A host's
 * answers fill a few dozen of the 130 bins, and most held histograms none,
 * so a baseline takes a few kB where every bin would take 27.  Zero bins add
 * nothing to any sum, so the numbers are those of a full array, to the bit. */
typedef struct {
	float *w;               /* seconds of responses per bin (faded) */
	uint8_t lo, n;
	double mass;            /* their sum */
	int64_t faded_ms;       /* the moment w was last faded to */
} histogram;

typedef struct {
	histogram normal, held;
	uint16_t days;    /* distinct UTC days with something learned */
	int32_t last_day; /* the latest of them (days since the epoch) */
} cell;

struct baseline {
	cell day;       /* the whole day */
	cell hour[24];  /* by UTC hour of day */
	uint32_t probes; /* responses learned (saturating) */
};

static void histogram_init(histogram *h)
{
	free(h->w);
	h->w = NULL;
	h->lo = h->n = 0;
	h->mass = 0.0;
	h->faded_ms = NEVER;
}

static float histogram_at(const histogram *h, int i)
{
	return i >= h->lo && i < h->lo + h->n ? h->w[i - h->lo] : 0.0f;
}

/* Widens the kept bins to hold bin i; -1 when memory is short. */
static int histogram_cover(histogram *h, int i)
{
	if (h->n && i >= h->lo && i < h->lo + h->n)
		return 0;
	int lo = h->n ? (i < h->lo ? i : h->lo) : i;
	int hi = h->n ? (i >= h->lo + h->n ? i + 1 : h->lo + h->n) : i + 1;
	float *w = calloc((size_t)(hi - lo), sizeof(*w));
	if (!w)
		return -1;
	if (h->n)
		memcpy(w + (h->lo - lo), h->w, h->n * sizeof(*w));
	free(h->w);
	h->w = w;
	h->lo = (uint8_t)lo;
	h->n = (uint8_t)(hi - lo);
	return 0;
}

static void cell_init(cell *c)
{
	histogram_init(&c->normal);
	histogram_init(&c->held);
	c->days = 0;
	c->last_day = INT32_MIN;
}

baseline *baseline_new(void)
{
	baseline *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	cell_init(&b->day);
	for (int i = 0; i < 24; i++)
		cell_init(&b->hour[i]);
	return b;
}

static void cell_free(cell *c)
{
	histogram_init(&c->normal);
	histogram_init(&c->held);
}

void baseline_free(baseline *b)
{
	if (!b)
		return;
	cell_free(&b->day);
	for (int i = 0; i < 24; i++)
		cell_free(&b->hour[i]);
	free(b);
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int hour_of(int64_t wall_ms)
{
	return (int)(floor_div(wall_ms, MS_PER_HOUR) - floor_div(wall_ms, MS_PER_DAY) * 24);
}

static int bin_of(double x)
{
	if (!(x > 0.0))
		return 0;
	if (x >= BASELINE_TOP)
		return BASELINE_BINS - 1;
	int i = (int)(x / BASELINE_BIN);
	return i < BASELINE_BINS ? i : BASELINE_BINS - 1;
}

/* Fading is done in steps of at least FADE_STEP_MS: an answer a second
 * would otherwise pay an exp() and a pass over the bins for a change of one
 * part in 86,400; within a step, answers add up unfaded (one part in 1,440
 * of a day's fade, in 240 of the held ones' four hours). */
#define FADE_STEP_MS INT64_C(60000)

/* Brings h's weights to wall_ms (to within FADE_STEP_MS).  A clock that went
 * back fades nothing. */
static void histogram_fade(histogram *h, int64_t wall_ms, double fade_ms)
{
	if (h->faded_ms != NEVER && wall_ms > h->faded_ms && wall_ms - h->faded_ms < FADE_STEP_MS)
		return;
	if (h->faded_ms != NEVER && wall_ms > h->faded_ms && h->mass > 0.0) {
		double f = exp(-(double)(wall_ms - h->faded_ms) / fade_ms);
		double mass = 0.0;
		for (int i = 0; i < h->n; i++) {
			h->w[i] = (float)(h->w[i] * f);
			mass += h->w[i];
		}
		h->mass = mass;
	}
	h->faded_ms = wall_ms;
}

static void histogram_add(histogram *h, int64_t wall_ms, double fade_ms, double x, double weight_s)
{
	assert(h->lo + h->n <= BASELINE_BINS);
	histogram_fade(h, wall_ms, fade_ms);
	int b = bin_of(x);
	if (histogram_cover(h, b) != 0)
		return; /* memory short: this answer is not learned */
	float *w = &h->w[b - h->lo];
	float before = *w;
	*w = (float)(*w + weight_s);
	h->mass += (double)*w - (double)before;
}

static double histogram_quantile(const histogram *h, double q)
{
	double target = q * h->mass, cum = 0.0;
	for (int i = h->lo; i < h->lo + h->n; i++) {
		double w = h->w[i - h->lo];
		if (w > 0.0 && cum + w >= target)
			return BASELINE_BIN * (i + (target - cum) / w);
		cum += w;
	}
	return BASELINE_TOP;
}

static bool hour_learned(const cell *c)
{
	return c->days >= HOUR_LEARNED_DAYS && c->normal.mass >= HOUR_LEARNED_SECONDS;
}

baseline_ref baseline_reference(const baseline *b, int64_t wall_ms)
{
	baseline_ref r = { false, false, 0.0, 0.0 };
	if (b->probes < BASELINE_READY_PROBES || b->day.normal.mass < BASELINE_READY_SECONDS)
		return r;
	const cell *hour = &b->hour[hour_of(wall_ms)];
	const histogram *h = hour_learned(hour) ? &hour->normal : &b->day.normal;
	r.ready = true;
	r.hourly = h == &hour->normal;
	r.median = histogram_quantile(h, 0.5);
	r.high = histogram_quantile(h, HIGH_QUANTILE);
	/* Answers above the 99th percentile are not learned, so the learned
	 * tail is cut short; the body says where it should be: for log-normal
	 * jitter the 99th percentile is 1.82 times as far from the median as
	 * the 90th, which the cut barely moves. */
	double body = r.median + TAIL_FROM_BODY * (histogram_quantile(h, 0.9) - r.median);
	if (body > r.high)
		r.high = body;
	return r;
}

void baseline_learn(baseline *b, int64_t wall_ms, double x, double weight_s)
{
	cell *hour = &b->hour[hour_of(wall_ms)];
	histogram_add(&b->day.normal, wall_ms, FADE_DAY_MS, x, weight_s);
	histogram_add(&hour->normal, wall_ms, FADE_HOUR_MS, x, weight_s);
	int64_t day = floor_div(wall_ms, MS_PER_DAY);
	if (day != hour->last_day && day >= INT32_MIN && day <= INT32_MAX) {
		hour->last_day = (int32_t)day;
		if (hour->days < UINT16_MAX)
			hour->days++;
	}
	if (b->probes < UINT32_MAX)
		b->probes++;
}

void baseline_hold(baseline *b, int64_t wall_ms, double x, double weight_s, double held_fade_s)
{
	histogram_add(&b->day.held, wall_ms, held_fade_s * 1000.0, x, weight_s);
	histogram_add(&b->hour[hour_of(wall_ms)].held, wall_ms, held_fade_s * 1000.0, x, weight_s);
}

void baseline_forget_held(baseline *b)
{
	histogram_init(&b->day.held);
	for (int i = 0; i < 24; i++)
		histogram_init(&b->hour[i].held);
}

static void cell_accept(cell *c, int64_t wall_ms, double fade_ms, double held_fade_ms)
{
	histogram_fade(&c->normal, wall_ms, fade_ms);
	histogram_fade(&c->held, wall_ms, held_fade_ms);
	histogram *n = &c->normal, *h = &c->held;
	if (h->n && (histogram_cover(n, h->lo) != 0 || histogram_cover(n, h->lo + h->n - 1) != 0))
		return; /* memory short: the held ones stay held */
	double mass = 0.0;
	for (int i = n->lo; i < n->lo + n->n; i++) {
		n->w[i - n->lo] += histogram_at(h, i);
		mass += n->w[i - n->lo];
	}
	n->mass = mass;
	histogram_init(h);
}

void baseline_accept(baseline *b, int64_t wall_ms, double held_fade_s)
{
	cell_accept(&b->day, wall_ms, FADE_DAY_MS, held_fade_s * 1000.0);
	for (int i = 0; i < 24; i++)
		cell_accept(&b->hour[i], wall_ms, FADE_HOUR_MS, held_fade_s * 1000.0);
}

/* --- saved state ------------------------------------------------------------ */

/*
 * Version 2: version (1), probes (4), then 25 cells (the day's, then the
 * hours'), each: days (2), last day (4), and two histograms (normal, held),
 * each: the fade moment (8), the first kept bin (1), how many (1), and their
 * weights (4 each).  Version 1, every bin of every histogram, still loads.
 */
#define STATE_VERSION 2
#define V1_HISTOGRAM_BYTES (8 + 4 * BASELINE_BINS)
#define V1_STATE_BYTES (1 + 4 + 25 * (2 + 4 + 2 * V1_HISTOGRAM_BYTES))

/* Bins as floats, bit for bit. */
static void code_weights(bytes_cursor *c, float *w, size_t n)
{
	bytes_f32s(c, w, n);
	for (size_t i = 0; c->decoding && i < n; i++)
		if (!isfinite(w[i]) || w[i] < 0.0f || w[i] > 1e12f)
			bytes_fail(c);
}

static void code_histogram(bytes_cursor *c, histogram *h, bool v1)
{
	bytes_i64(c, &h->faded_ms);
	if (v1) { /* every bin: keep those from the first to the last that is not 0 */
		float all[BASELINE_BINS];
		code_weights(c, all, BASELINE_BINS);
		int lo = 0, hi = BASELINE_BINS;
		while (lo < hi && all[lo] == 0.0f)
			lo++;
		while (hi > lo && all[hi - 1] == 0.0f)
			hi--;
		if (hi > lo && (histogram_cover(h, lo) != 0 || histogram_cover(h, hi - 1) != 0))
			bytes_fail(c);
		if (!c->bad && hi > lo)
			memcpy(h->w, all + lo, (size_t)(hi - lo) * sizeof(float));
	} else {
		uint8_t lo = h->lo, n = h->n;
		bytes_u8(c, &lo);
		bytes_u8(c, &n);
		if (c->decoding && !c->bad && n) {
			if (lo + n > BASELINE_BINS || histogram_cover(h, lo) != 0 || histogram_cover(h, lo + n - 1) != 0)
				bytes_fail(c);
		}
		if (!c->bad)
			code_weights(c, h->w, h->n);
	}
	if (c->decoding) {
		h->mass = 0.0;
		for (int i = 0; i < h->n; i++)
			h->mass += h->w[i];
	}
}

static void code_cell(bytes_cursor *c, cell *x, bool v1)
{
	bytes_u16(c, &x->days);
	uint32_t last = (uint32_t)x->last_day;
	bytes_u32(c, &last);
	x->last_day = (int32_t)last;
	code_histogram(c, &x->normal, v1);
	code_histogram(c, &x->held, v1);
}

/* The whole baseline, both ways; v1 only decodes. */
static void code_baseline(bytes_cursor *c, baseline *b, bool v1)
{
	uint8_t version = v1 ? 1 : STATE_VERSION;
	bytes_u8(c, &version);
	bytes_u32(c, &b->probes);
	code_cell(c, &b->day, v1);
	for (int i = 0; i < 24; i++)
		code_cell(c, &b->hour[i], v1);
}

size_t baseline_state_size(const baseline *b)
{
	bytes_cursor c = bytes_encoder(NULL, 0);
	code_baseline(&c, (baseline *)b, false);
	return c.pos;
}

void baseline_save(const baseline *b, uint8_t *buf)
{
	bytes_cursor c = bytes_encoder(buf, baseline_state_size(b));
	code_baseline(&c, (baseline *)b, false); /* an encoder only reads through its pointers */
}

baseline *baseline_load(const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	bool v1 = len == V1_STATE_BYTES && buf[0] == 1;
	if (len < 5 || (!v1 && buf[0] != STATE_VERSION)) {
		snprintf(err, errlen, "malformed baseline (%zu bytes, version %u)", len, len ? buf[0] : 0u);
		return NULL;
	}
	baseline *b = baseline_new();
	if (!b) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	bytes_cursor c = bytes_decoder(buf, len);
	code_baseline(&c, b, v1);
	if (c.bad || c.pos != len) {
		snprintf(err, errlen, "malformed baseline (a weight out of range, or %zu bytes left over)", len - c.pos);
		baseline_free(b);
		return NULL;
	}
	return b;
}
