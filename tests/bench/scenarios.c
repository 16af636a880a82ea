/* scenarios.c - labelled gray-failure traces; see scenarios.h. */
#include "tests/bench/scenarios.h"

#include <math.h>
#include <stdlib.h>

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
};
const size_t SCENARIO_COUNT = sizeof(SCENARIOS) / sizeof(SCENARIOS[0]);

/* splitmix64: small, seedable, the same everywhere */
typedef struct { uint64_t s; } rng;

static uint64_t rng_next(rng *r)
{
	uint64_t z = (r->s += UINT64_C(0x9E3779B97F4A7C15));
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

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

int scenario_trace(const scenario *s, uint64_t seed, trace *out)
{
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
	t->probes = NULL;
}
