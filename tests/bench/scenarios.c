/* scenarios.c - labelled gray-failure traces; see scenarios.h. */
#include "tests/bench/scenarios.h"
#include "tests/bench/splitmix.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HOUR 3600.0
#define DAY 86400.0

const scenario SCENARIOS[] = {
	{ "daily-peak-60s", SCENARIO_DAILY_PEAK, 60, 3 * DAY + 13.5 * HOUR, 2 * DAY, 0 },
	{ "daily-peak-10s", SCENARIO_DAILY_PEAK, 10, 3 * DAY + 13.5 * HOUR, 2 * DAY, 0 },
	{ "sudden-6x-0.1s", SCENARIO_SUDDEN, 0.1, 1.25 * HOUR, 0.5 * HOUR, 3 },
	{ "sudden-6x-1s", SCENARIO_SUDDEN, 1, 1.25 * HOUR, 0.5 * HOUR, 3 },
	{ "creep-2pct-1s", SCENARIO_CREEP, 1, 3.6 * HOUR, 0.5 * HOUR, 55.48 * 60 },
	{ "creep-2pct-10s", SCENARIO_CREEP, 10, 3.6 * HOUR, 0.5 * HOUR, 55.48 * 60 },
	{ "shift-3x-1s", SCENARIO_SHIFT, 1, 2 * HOUR, 0.5 * HOUR, 0 },
	{ "shift-3x-300s", SCENARIO_SHIFT, 300, 12 * HOUR, 6 * HOUR, 0 },
	{ "loss-50pct-0.1s", SCENARIO_LOSS, 0.1, 2 * HOUR, 0.5 * HOUR, 0 },
	{ "loss-50pct-1s", SCENARIO_LOSS, 1, 2 * HOUR, 0.5 * HOUR, 0 },
	{ "dead-1s", SCENARIO_DEAD, 1, 1.25 * HOUR, 0.5 * HOUR, 0 },
	{ "route-flap-10s", SCENARIO_ROUTE_FLAP, 10, 30 * HOUR, 6 * HOUR, 0 },
	{ "loopback-jitter-1s", SCENARIO_LOOPBACK, 1, 5 * HOUR, 1 * HOUR, 0 },
	{ "periodic-job", SCENARIO_PERIODIC_JOB, 0, 0, 0, 0 },
	{ "batch", SCENARIO_BATCH, 0, 0, 0, 0 },
	{ "weekly-job", SCENARIO_WEEKLY, 0, 0, 0, 0 },
	{ "multi-level", SCENARIO_MULTI_LEVEL, 0, 0, 0, 0 },
	{ "loss-held", SCENARIO_LOSS_HELD, 0, 0, 0, 0 },
	{ "warm-up", SCENARIO_WARMUP, 0, 0, 0, 0 },
};
const size_t SCENARIO_COUNT = sizeof(SCENARIOS) / sizeof(SCENARIOS[0]);

static double uniform(rng *r) { return ((double)(rng_next(r) >> 11) + 0.5) / 9007199254740992.0; }

static double gaussian(rng *r)
{
	return sqrt(-2.0 * log(uniform(r))) * cos(2.0 * M_PI * uniform(r));
}

/* The nightly peak's factor at a time of day: a raised cosine 6 h wide,
 * 2.5x at 21:00. */
static double nightly_peak(double t_s)
{
	double h = fmod(t_s / HOUR, 24.0);
	double d = fabs(h - 21.0);
	if (d > 12.0)
		d = 24.0 - d;
	return d >= 3.0 ? 1.0 : 1.0 + 1.5 * 0.5 * (1.0 + cos(M_PI * d / 3.0));
}

typedef struct {
	double base_ms, sigma, spike_p, loss_p;
	double mode_until_s; /* route flap: when the current route changes */
	bool high_mode;
	int stall_left;      /* loopback: slow answers left in a scheduler stall */
	double stall_factor;
} shape;

bool scenario_recurring(scenario_kind k) { return k >= SCENARIO_PERIODIC_JOB; }

const char *different_name(different_kind k)
{
	switch (k) {
	case DIFFERENT_NONE: return "none";
	case DIFFERENT_LONGER: return "longer";
	case DIFFERENT_HIGHER: return "higher";
	case DIFFERENT_OFF_RHYTHM: return "off-rhythm";
	}
	return "?";
}

/* --- what recurs ------------------------------------------------------------------
 * A trace is a base (log-normal jitter, rare spikes and losses) under a list
 * of stretches, each a factor on the response time and a loss rate. */

typedef struct {
	double on, off;      /* s from the start */
	double factor, loss;
} stretch;

#define STRETCHES_MAX 8192

typedef struct {
	stretch *s;
	size_t n;
} stretches;

static void add_stretch(stretches *x, double on, double off, double factor, double loss)
{
	if (x->n < STRETCHES_MAX && off > on)
		x->s[x->n++] = (stretch){ on, off, factor, loss };
}

/* One visit of a recurring stretch: the incident (its times kept) or a
 * usual recurrence (listed in out's recurrences); either way in the trace. */
static void recurrence(trace *out, stretches *x, bool is_incident, double on, double d, double f, double *inc_on,
                       double *inc_off)
{
	if (is_incident) {
		*inc_on = on;
		*inc_off = on + d;
	} else if (out->recurrence_count < SCENARIO_RECURRENCES_MAX) {
		out->recurrences[out->recurrence_count++] = (incident){ out->start_ms + (int64_t)(on * 1000),
		                                                        out->start_ms + (int64_t)((on + d) * 1000) };
	}
	add_stretch(x, on, on + d, f, 0);
}

static double log_uniform(rng *r, double lo, double hi) { return exp(log(lo) + (log(hi) - log(lo)) * uniform(r)); }

/* The probe intervals a recurring trace may be drawn at. */
static const double INTERVALS[] = { 1, 2, 5, 10, 30, 60, 300 };
#define NINTERVALS (sizeof(INTERVALS) / sizeof(INTERVALS[0]))
/* Probes a trace may hold at most (the scorecard's time). */
#define PROBES_MAX 1500000.0

/* An interval for a stretch of stretch_s in a trace of span_s: at least 6
 * probes a stretch, at most PROBES_MAX in all, within [lo, hi]; drawn
 * among those that fit. */
static double draw_interval(rng *r, double stretch_s, double span_s, double lo, double hi)
{
	double fit[NINTERVALS];
	size_t n = 0;
	for (size_t i = 0; i < NINTERVALS; i++)
		if (INTERVALS[i] >= lo && INTERVALS[i] <= hi && stretch_s >= 6 * INTERVALS[i] &&
		    span_s / INTERVALS[i] <= PROBES_MAX)
			fit[n++] = INTERVALS[i];
	if (n == 0) /* the longest span at the shortest interval that keeps 6 probes a stretch */
		return fmax(lo, fmin(stretch_s / 6.0, span_s / PROBES_MAX));
	return fit[(size_t)(uniform(r) * (double)n) % n];
}

static int recurring_trace(const scenario *sc, uint64_t seed, trace *out)
{
	rng r = { seed * UINT64_C(7777777) + (uint64_t)sc->kind * UINT64_C(31) };
	stretches x = { calloc(STRETCHES_MAX, sizeof(stretch)), 0 };
	out->recurrences = calloc(SCENARIO_RECURRENCES_MAX, sizeof(incident));
	if (!x.s || !out->recurrences) {
		free(x.s);
		free(out->recurrences);
		out->recurrences = NULL;
		return -1;
	}
	out->recurrence_count = 0;
	out->incident_count = 0;
	out->start_ms = SCENARIO_EPOCH_MS;
	double base_ms = log_uniform(&r, 0.5, 50.0), sigma = 0.05 + 0.15 * uniform(&r);
	double span = 0, interval = 1, inc_on = 0, inc_off = 0;
	int recur_n = 0; /* the stretches before which the incident comes */
	const int LEARN = 6;
	switch (sc->kind) {
	case SCENARIO_PERIODIC_JOB:
	case SCENARIO_BATCH: {
		bool batch = sc->kind == SCENARIO_BATCH;
		double period = batch ? log_uniform(&r, 3 * 60, 30 * 60) : log_uniform(&r, 30 * 60, DAY);
		double len = batch ? log_uniform(&r, 10, fmin(120, period / 4)) : log_uniform(&r, 15, fmin(1200, period / 6));
		double level = log_uniform(&r, 2, 10);
		double first = fmax(2 * HOUR, 0.5 * period);
		int total = 12;
		span = first + total * period + 2 * len;
		interval = draw_interval(&r, len, span, 1, batch ? 5 : 300);
		first = fmax(first, 200 * interval);
		span = first + total * period + 2 * len;
		out->different = (different_kind)(1 + (int)(3.0 * uniform(&r)) % 3);
		double jitter = 0.005 * period;
		recur_n = 9;
		for (int k = 0; k < total; k++) {
			double on = first + k * period + jitter * (2 * uniform(&r) - 1);
			double d = len * (0.85 + 0.3 * uniform(&r)), f = level * (0.9 + 0.2 * uniform(&r));
			if (k == recur_n && out->different == DIFFERENT_LONGER)
				d = 3 * len;
			if (k == recur_n && out->different == DIFFERENT_HIGHER)
				f = level * (2.5 + uniform(&r));
			recurrence(out, &x, k == recur_n && out->different != DIFFERENT_OFF_RHYTHM, on, d, f, &inc_on, &inc_off);
			if (k == recur_n - 1 && out->different == DIFFERENT_OFF_RHYTHM) {
				inc_on = on + period / 2;
				inc_off = inc_on + len;
				add_stretch(&x, inc_on, inc_off, level, 0);
			}
		}
		out->usual_s = len;
		out->period_s = period;
		out->level = level;
		break;
	}
	case SCENARIO_WEEKLY: {
		double week = 7 * DAY;
		int weekday = (int)(7 * uniform(&r)) % 7;
		double hour = floor(20 * uniform(&r));
		double len = (1 + floor(4 * uniform(&r) * 4) / 4) * HOUR; /* 1 to 4 h, by quarters */
		double level = 2 + 2 * uniform(&r);
		int total = 9;
		span = total * week;
		interval = uniform(&r) < 0.5 ? 60 : 300;
		out->different = (different_kind)(1 + (int)(3.0 * uniform(&r)) % 3);
		recur_n = 7;
		for (int k = 0; k < total; k++) {
			double on = k * week + weekday * DAY + hour * HOUR;
			double d = len, f = level * (0.95 + 0.1 * uniform(&r));
			if (k == recur_n && out->different == DIFFERENT_LONGER)
				d = 2.5 * len;
			if (k == recur_n && out->different == DIFFERENT_HIGHER)
				f = level * 2;
			recurrence(out, &x, k == recur_n && out->different != DIFFERENT_OFF_RHYTHM, on, d, f, &inc_on, &inc_off);
			if (k == recur_n - 1 && out->different == DIFFERENT_OFF_RHYTHM) {
				/* the same hours, another day of the same week, a little higher (3x beside 2.6x) */
				inc_on = on + (2 + (int)(4 * uniform(&r)) % 4) * DAY;
				inc_off = inc_on + fmin(len, HOUR);
				add_stretch(&x, inc_on, inc_off, level * 1.15, 0);
			}
		}
		out->usual_s = len;
		out->period_s = week;
		out->level = level;
		break;
	}
	case SCENARIO_MULTI_LEVEL: {
		double ratio = log_uniform(&r, 2, 10);
		span = 30 * HOUR;
		interval = draw_interval(&r, 5 * 60, span, 1, 30);
		out->different = uniform(&r) < 0.5 ? DIFFERENT_LONGER : DIFFERENT_HIGHER;
		double t = HOUR + 20 * 60 * uniform(&r);
		double inc_at = 24 * HOUR;
		bool placed = false;
		while (t < span) {
			double hold = 5 * 60 + 10 * 60 * uniform(&r);
			if (!placed && t >= inc_at) {
				double d = out->different == DIFFERENT_LONGER ? 45 * 60 : 10 * 60;
				double f = out->different == DIFFERENT_LONGER ? ratio : ratio * 2.5;
				inc_on = t;
				inc_off = t + d;
				add_stretch(&x, t, t + d, f, 0);
				t += d;
				placed = true;
			} else {
				add_stretch(&x, t, t + hold, ratio, 0);
				if (out->recurrence_count < SCENARIO_RECURRENCES_MAX)
					out->recurrences[out->recurrence_count++] = (incident){
						out->start_ms + (int64_t)(t * 1000), out->start_ms + (int64_t)((t + hold) * 1000) };
				t += hold;
			}
			t += 5 * 60 + 10 * 60 * uniform(&r); /* at the base level */
		}
		out->usual_s = 15 * 60;
		out->level = ratio;
		break;
	}
	case SCENARIO_LOSS_HELD: {
		static const double LOSS_INTERVALS[] = { 0.5, 1, 2, 5 };
		interval = LOSS_INTERVALS[(size_t)(4 * uniform(&r)) % 4];
		double len = log_uniform(&r, 120, 1800), loss = 0.2 + 0.3 * uniform(&r);
		inc_on = 1 * HOUR + 600 * uniform(&r);
		inc_off = inc_on + len;
		span = inc_off + HOUR;
		add_stretch(&x, inc_on, inc_off, 1, loss);
		out->usual_s = len;
		out->level = loss;
		out->different = DIFFERENT_NONE;
		break;
	}
	case SCENARIO_WARMUP: {
		interval = uniform(&r) < 0.5 ? 1 : 10;
		double level = log_uniform(&r, 3, 20), n = 20 + 40 * uniform(&r);
		double normal = log_uniform(&r, 600, 7200), len = 180 + 420 * uniform(&r);
		add_stretch(&x, 0, n * interval, level, 0);
		inc_on = n * interval + normal;
		inc_off = inc_on + len;
		add_stretch(&x, inc_on, inc_off, level, 0);
		span = inc_off + 1800;
		out->usual_s = len;
		out->level = level;
		out->different = DIFFERENT_NONE;
		break;
	}
	default:
		break;
	}
	out->interval_s = interval;
	out->incidents[out->incident_count++] =
		(incident){ out->start_ms + (int64_t)(inc_on * 1000), out->start_ms + (int64_t)(inc_off * 1000) };
	/* judged from the end of the LEARN-th recurrence on (loss and warm-up:
	 * from the start) */
	out->learned_ms = out->start_ms;
	if (out->recurrence_count >= (size_t)LEARN)
		out->learned_ms = out->recurrences[LEARN - 1].end_ms;
	(void)recur_n;
	size_t n = (size_t)(span / interval);
	out->probes = malloc((n ? n : 1) * sizeof(*out->probes));
	if (!out->probes) {
		free(x.s);
		return -1;
	}
	out->count = n;
	size_t at = 0; /* stretches are in time order: the first that may cover t */
	for (size_t i = 0; i < n; i++) {
		double t = (double)i * interval + interval * 0.25;
		while (at < x.n && x.s[at].off <= t && (at + 1 >= x.n || x.s[at + 1].on <= t))
			at++;
		double factor = 1, loss = 0.002;
		for (size_t k = at; k < x.n && x.s[k].on <= t; k++)
			if (t < x.s[k].off) {
				factor = x.s[k].factor;
				loss = fmax(loss, x.s[k].loss);
			}
		double jitter = exp(sigma * gaussian(&r));
		if (uniform(&r) < 0.001)
			jitter *= 3.0 + 7.0 * uniform(&r);
		bool lost = uniform(&r) < loss;
		double rtt_ms = base_ms * factor * jitter;
		if (rtt_ms >= interval * 1000.0)
			lost = true;
		out->probes[i] = (trace_probe){ out->start_ms + (int64_t)llround(t * 1000.0), lost,
		                                lost ? 0 : (int64_t)llround(rtt_ms * 1e6) };
	}
	free(x.s);
	return 0;
}

int scenario_trace(const scenario *s, uint64_t seed, trace *out)
{
	memset(out, 0, sizeof(*out));
	if (scenario_recurring(s->kind))
		return recurring_trace(s, seed, out);
	out->interval_s = s->interval_s;
	rng r = { seed * UINT64_C(1000003) + (uint64_t)s->kind };
	size_t n = (size_t)(s->duration_s / s->interval_s);
	out->probes = malloc(n * sizeof(*out->probes));
	if (!out->probes)
		return -1;
	out->count = n;
	out->incident_count = 0;
	out->start_ms = SCENARIO_EPOCH_MS;
	shape sh = { 20.0, 0.10, 0.001, 0.002, 0, false, 0, 1.0 };
	double on = 0, off = 0; /* a single incident's window, in s from the start */
	switch (s->kind) {
	case SCENARIO_DAILY_PEAK:
		on = 3 * DAY + 11.75 * HOUR + uniform(&r) * 0.5 * HOUR;
		off = on + 0.5 * HOUR;
		break;
	case SCENARIO_SUDDEN:
		sh.base_ms = 5.0;
		on = 0.75 * HOUR + uniform(&r) * 600.0;
		off = on + 180.0;
		break;
	case SCENARIO_CREEP:
		sh.base_ms = 8.0;
		on = 2 * HOUR + uniform(&r) * 600.0;
		off = on + 90 * 60.0;
		break;
	case SCENARIO_SHIFT:
		sh.base_ms = 5.0;
		/* after the baseline is ready (30 probes) at any interval */
		on = fmax(1 * HOUR, 100 * s->interval_s) + uniform(&r) * 600.0;
		off = s->duration_s;
		break;
	case SCENARIO_DEAD:
		sh.base_ms = 5.0;
		on = 0.75 * HOUR + uniform(&r) * 600.0;
		off = on + 300.0;
		break;
	case SCENARIO_LOSS:
		sh.base_ms = 5.0;
		break;
	case SCENARIO_ROUTE_FLAP:
		sh.base_ms = 10.0;
		sh.sigma = 0.08;
		sh.mode_until_s = -20 * 60.0 * log(uniform(&r));
		break;
	case SCENARIO_LOOPBACK:
		sh.base_ms = 0.040;
		sh.sigma = 0.35;
		sh.spike_p = 0.004;
		break;
	default: /* recurring_trace's */
		break;
	}
	if (s->kind == SCENARIO_LOSS) {
		for (int i = 0; i < 3; i++) {
			double b = 1 * HOUR + i * 20 * 60.0 + uniform(&r) * 300.0;
			out->incidents[out->incident_count++] =
				(incident){ out->start_ms + (int64_t)(b * 1000), out->start_ms + (int64_t)((b + 30) * 1000) };
		}
	} else if (off > on) {
		out->incidents[out->incident_count++] =
			(incident){ out->start_ms + (int64_t)(on * 1000), out->start_ms + (int64_t)(off * 1000) };
	}
	for (size_t i = 0; i < n; i++) {
		double t = (double)i * s->interval_s + s->interval_s * 0.25;
		int64_t wall_ms = out->start_ms + (int64_t)llround(t * 1000.0);
		double factor = 1.0;
		bool in = t >= on && t < off;
		double loss_p = sh.loss_p;
		switch (s->kind) {
		case SCENARIO_DAILY_PEAK:
			factor = nightly_peak(t) * (in ? 3.0 : 1.0);
			break;
		case SCENARIO_SUDDEN:
			factor = in ? 6.0 : 1.0;
			break;
		case SCENARIO_CREEP:
			factor = in ? pow(1.02, (t - on) / 60.0) : (t >= off ? 6.0 : 1.0);
			break;
		case SCENARIO_SHIFT:
			factor = in ? 3.0 : 1.0;
			break;
		case SCENARIO_DEAD:
			loss_p = in ? 1.0 : loss_p;
			break;
		case SCENARIO_LOSS:
			for (size_t k = 0; k < out->incident_count; k++)
				if (wall_ms >= out->incidents[k].start_ms && wall_ms < out->incidents[k].end_ms)
					loss_p = 0.5;
			break;
		case SCENARIO_ROUTE_FLAP:
			while (t >= sh.mode_until_s) {
				sh.high_mode = !sh.high_mode;
				sh.mode_until_s += -(sh.high_mode ? 8 : 20) * 60.0 * log(uniform(&r));
			}
			factor = sh.high_mode ? 3.5 : 1.0;
			break;
		case SCENARIO_LOOPBACK:
			/* a scheduler stall: one or two slow answers in a row, now and then */
			if (sh.stall_left == 0 && uniform(&r) < 0.001) {
				sh.stall_left = 1 + (int)(2.0 * uniform(&r));
				sh.stall_factor = 2.0 + 6.0 * uniform(&r);
			}
			if (sh.stall_left > 0) {
				sh.stall_left--;
				factor = sh.stall_factor;
			}
			break;
		default:
			break;
		}
		double jitter = exp(sh.sigma * gaussian(&r));
		if (uniform(&r) < sh.spike_p)
			jitter *= 3.0 + 7.0 * uniform(&r);
		bool lost = uniform(&r) < loss_p;
		double rtt_ms = sh.base_ms * factor * jitter;
		double timeout_ms = s->interval_s * 1000.0;
		if (rtt_ms >= timeout_ms)
			lost = true;
		out->probes[i] = (trace_probe){ wall_ms, lost, lost ? 0 : (int64_t)llround(rtt_ms * 1e6) };
	}
	return 0;
}

void trace_free(trace *t)
{
	free(t->probes);
	free(t->recurrences);
	t->probes = NULL;
	t->recurrences = NULL;
}
