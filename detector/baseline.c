/* baseline.c - a host's normal response times by hour; see baseline.h. */
#include "detector/baseline.h"

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

typedef struct {
	float w[BASELINE_BINS]; /* seconds of responses per bin (faded) */
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
	memset(h->w, 0, sizeof(h->w));
	h->mass = 0.0;
	h->faded_ms = NEVER;
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
	baseline *b = malloc(sizeof(*b));
	if (!b)
		return NULL;
	cell_init(&b->day);
	for (int i = 0; i < 24; i++)
		cell_init(&b->hour[i]);
	b->probes = 0;
	return b;
}

void baseline_free(baseline *b) { free(b); }

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

/* Brings h's weights to wall_ms.  A clock that went back fades nothing. */
static void histogram_fade(histogram *h, int64_t wall_ms, double fade_ms)
{
	if (h->faded_ms != NEVER && wall_ms > h->faded_ms && h->mass > 0.0) {
		double f = exp(-(double)(wall_ms - h->faded_ms) / fade_ms);
		double mass = 0.0;
		for (int i = 0; i < BASELINE_BINS; i++) {
			h->w[i] = (float)(h->w[i] * f);
			mass += h->w[i];
		}
		h->mass = mass;
	}
	h->faded_ms = wall_ms;
}

static void histogram_add(histogram *h, int64_t wall_ms, double fade_ms, double x, double weight_s)
{
	histogram_fade(h, wall_ms, fade_ms);
	int i = bin_of(x);
	float before = h->w[i];
	h->w[i] = (float)(h->w[i] + weight_s);
	h->mass += (double)h->w[i] - (double)before;
}

static double histogram_quantile(const histogram *h, double q)
{
	double target = q * h->mass, cum = 0.0;
	for (int i = 0; i < BASELINE_BINS; i++) {
		double w = h->w[i];
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

double baseline_held_seconds(baseline *b, int64_t wall_ms, double held_fade_s)
{
	histogram *h = &b->day.held;
	histogram_fade(h, wall_ms, held_fade_s * 1000.0);
	double most = 0.0;
	for (int i = 0; i + BASELINE_HELD_LEVEL <= BASELINE_BINS; i++) {
		double sum = 0.0;
		for (int k = 0; k < BASELINE_HELD_LEVEL; k++)
			sum += h->w[i + k];
		if (sum > most)
			most = sum;
	}
	return most;
}

static void cell_accept(cell *c, int64_t wall_ms, double fade_ms, double held_fade_ms)
{
	histogram_fade(&c->normal, wall_ms, fade_ms);
	histogram_fade(&c->held, wall_ms, held_fade_ms);
	double mass = 0.0;
	for (int i = 0; i < BASELINE_BINS; i++) {
		c->normal.w[i] += c->held.w[i];
		mass += c->normal.w[i];
	}
	c->normal.mass = mass;
	histogram_init(&c->held);
}

void baseline_accept(baseline *b, int64_t wall_ms, double held_fade_s)
{
	cell_accept(&b->day, wall_ms, FADE_DAY_MS, held_fade_s * 1000.0);
	for (int i = 0; i < 24; i++)
		cell_accept(&b->hour[i], wall_ms, FADE_HOUR_MS, held_fade_s * 1000.0);
}

/* --- saved state ------------------------------------------------------------ */

#define STATE_VERSION 1
/* per histogram: the fade moment (8) and the bins (4 each) */
#define HISTOGRAM_BYTES (8 + 4 * BASELINE_BINS)
/* per cell: days (2), last day (4), two histograms */
#define CELL_BYTES (2 + 4 + 2 * HISTOGRAM_BYTES)
/* version (1), probes (4), 25 cells */
#define STATE_BYTES (1 + 4 + 25 * CELL_BYTES)

size_t baseline_state_size(void) { return STATE_BYTES; }

static uint8_t *put_histogram(uint8_t *p, const histogram *h)
{
	put_u64le(p, (uint64_t)h->faded_ms);
	p += 8;
	for (int i = 0; i < BASELINE_BINS; i++, p += 4) {
		uint32_t u;
		memcpy(&u, &h->w[i], 4);
		put_u32le(p, u);
	}
	return p;
}

static uint8_t *put_cell(uint8_t *p, const cell *c)
{
	p[0] = (uint8_t)c->days;
	p[1] = (uint8_t)(c->days >> 8);
	put_u32le(p + 2, (uint32_t)c->last_day);
	p = put_histogram(p + 6, &c->normal);
	return put_histogram(p, &c->held);
}

void baseline_save(const baseline *b, uint8_t *buf)
{
	buf[0] = STATE_VERSION;
	put_u32le(buf + 1, b->probes);
	uint8_t *p = put_cell(buf + 5, &b->day);
	for (int i = 0; i < 24; i++)
		p = put_cell(p, &b->hour[i]);
}

static int get_histogram(const uint8_t **pp, histogram *h)
{
	const uint8_t *p = *pp;
	h->faded_ms = (int64_t)get_u64le(p);
	p += 8;
	h->mass = 0.0;
	for (int i = 0; i < BASELINE_BINS; i++, p += 4) {
		uint32_t u = get_u32le(p);
		memcpy(&h->w[i], &u, 4);
		if (!isfinite(h->w[i]) || h->w[i] < 0.0f || h->w[i] > 1e12f)
			return -1;
		h->mass += h->w[i];
	}
	*pp = p;
	return 0;
}

static int get_cell(const uint8_t **pp, cell *c)
{
	const uint8_t *p = *pp;
	c->days = (uint16_t)(p[0] | (p[1] << 8));
	c->last_day = (int32_t)get_u32le(p + 2);
	p += 6;
	if (get_histogram(&p, &c->normal) != 0 || get_histogram(&p, &c->held) != 0)
		return -1;
	*pp = p;
	return 0;
}

baseline *baseline_load(const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	if (len != STATE_BYTES || buf[0] != STATE_VERSION) {
		snprintf(err, errlen, "malformed baseline (%zu bytes, version %u)", len, len ? buf[0] : 0u);
		return NULL;
	}
	baseline *b = baseline_new();
	if (!b) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	b->probes = get_u32le(buf + 1);
	const uint8_t *p = buf + 5;
	int rc = get_cell(&p, &b->day);
	for (int i = 0; i < 24 && rc == 0; i++)
		rc = get_cell(&p, &b->hour[i]);
	if (rc != 0) {
		snprintf(err, errlen, "malformed baseline (a weight out of range)");
		baseline_free(b);
		return NULL;
	}
	return b;
}
