/*
 * scenarios.h - labelled, seeded probe traces of the gray failures people
 * have, for the detection scorecard (and, written out, for sonar-replay).
 *
 * Every trace starts on a Monday at 00:00 UTC and is made of one host's
 * probe outcomes at a fixed interval: a base response time with log-normal
 * jitter, rare spikes (one probe 3 to 10 times slower) and rare losses
 * (0.2%), shaped by the scenario's fault.  The same scenario and seed
 * always give the same trace.
 */
#ifndef CLOUDSONAR_SCENARIOS_H
#define CLOUDSONAR_SCENARIOS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
	SCENARIO_DAILY_PEAK,  /* 2.5x every night at 21:00; a 3x incident of 30 min at noon of day 4 */
	SCENARIO_SUDDEN,      /* 6x for 3 min */
	SCENARIO_CREEP,       /* +2% a minute for 90 min */
	SCENARIO_SHIFT,       /* 3x, for good */
	SCENARIO_LOSS,        /* three 30-s bursts of 50% loss, no slowdown */
	SCENARIO_DEAD,        /* answers nothing for 5 min */
	SCENARIO_ROUTE_FLAP,  /* two routes, 10 ms and 35 ms, switching every few minutes */
	SCENARIO_LOOPBACK,    /* 40 us with heavy jitter and scheduler stalls */
} scenario_kind;

typedef struct {
	const char *name;
	scenario_kind kind;
	double interval_s;
	double duration_s;
	double learn_s;       /* false alarms count from here on */
	double deadline_s;    /* an incident counts as caught only this soon (0: while it lasts) */
} scenario;

typedef struct {
	int64_t wall_ms;
	bool lost;
	int64_t rtt_ns;
} trace_probe;

typedef struct {
	int64_t start_ms, end_ms;
} incident;

#define SCENARIO_INCIDENTS_MAX 8

typedef struct {
	trace_probe *probes;
	size_t count;
	incident incidents[SCENARIO_INCIDENTS_MAX];
	size_t incident_count;
	int64_t start_ms;
} trace;

/* Midnight UTC, Monday 2026-01-05, where every trace starts. */
#define SCENARIO_EPOCH_MS INT64_C(1767571200000)

extern const scenario SCENARIOS[];
extern const size_t SCENARIO_COUNT;

/* Generates the trace of scenario s for seed; 0, or -1 when memory is short. */
int scenario_trace(const scenario *s, uint64_t seed, trace *out);
void trace_free(trace *t);

#endif
