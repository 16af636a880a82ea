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
	/* What recurs, each with its parameters drawn over wide ranges per seed
	 * (scenario_trace says which), and then one different incident: longer,
	 * higher or out of rhythm (the seed picks). */
	SCENARIO_PERIODIC_JOB, /* a slowdown every 30 min to a day, 15 s to 20 min long, 2-10x */
	SCENARIO_BATCH,        /* a slowdown every 3 to 30 min, 10 s to 2 min long, 2-10x */
	SCENARIO_WEEKLY,       /* a weekday's window of 1-4 h at 2-4x */
	SCENARIO_MULTI_LEVEL,  /* two levels 2-10x apart, each held 5-15 min */
	SCENARIO_LOSS_HELD,    /* 20-50% loss for 2 to 30 min: one episode */
	SCENARIO_WARMUP,       /* slow for its first answers, normal, then slow again at that level */
} scenario_kind;

typedef struct {
	const char *name;
	scenario_kind kind;
	double interval_s;    /* 0: drawn per seed (the trace says) */
	double duration_s;    /* 0: as the drawn parameters need */
	double learn_s;       /* false alarms count from here on (recurring: from the 6th recurrence) */
	double deadline_s;    /* an incident counts as caught only this soon (0: while it lasts;
	                       * recurring: twice the usual stretch) */
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
#define SCENARIO_RECURRENCES_MAX 4096

typedef enum { DIFFERENT_NONE, DIFFERENT_LONGER, DIFFERENT_HIGHER, DIFFERENT_OFF_RHYTHM } different_kind;

typedef struct {
	trace_probe *probes;
	size_t count;
	incident incidents[SCENARIO_INCIDENTS_MAX];
	size_t incident_count;
	int64_t start_ms;
	/* recurring scenarios: what the trace drew */
	double interval_s;         /* the probe interval */
	incident *recurrences;     /* the slow stretches that recur (or the high level's visits) */
	size_t recurrence_count;
	different_kind different; /* the incident's kind */
	double usual_s;            /* the usual stretch's length */
	double period_s, level;    /* the rhythm (0: none) and the usual level */
	int64_t learned_ms;        /* the 6th recurrence's end: judged from here */
} trace;

/* Midnight UTC, Monday 2026-01-05, where every trace starts. */
#define SCENARIO_EPOCH_MS INT64_C(1767571200000)

extern const scenario SCENARIOS[];
extern const size_t SCENARIO_COUNT;

bool scenario_recurring(scenario_kind k);
const char *different_name(different_kind k);

/* Generates the trace of scenario s for seed; 0, or -1 when memory is short. */
int scenario_trace(const scenario *s, uint64_t seed, trace *out);
void trace_free(trace *t);

#endif
