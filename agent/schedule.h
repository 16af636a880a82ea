/*
 * schedule.h - when each probe is due, and how late it went out.
 *
 * Probes of N hosts are spread evenly over the interval instead of sent in
 * one burst: probe number s (counting from 0 over all hosts) goes to host
 * s mod N at
 *
 *     start + (s / N) * interval + (s mod N) * interval / N
 *
 * computed in integer nanoseconds, so the schedule never drifts however long
 * the agent runs.  The lateness histogram records how far behind that
 * schedule each probe was actually sent (10 us buckets below 20 ms, 1 ms
 * buckets up to 1 s), for the p50/p99 figures of the benchmark.
 */
#ifndef CLOUDSONAR_SCHEDULE_H
#define CLOUDSONAR_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	int64_t start_ns;
	int64_t interval_ns;
	uint64_t hosts;
	uint64_t next; /* the next probe number due */
} schedule;

void schedule_init(schedule *s, int64_t start_ns, int64_t interval_ns, uint64_t hosts);
int64_t schedule_due(const schedule *s, uint64_t probe);
/* Host of probe number `probe`. */
static inline uint64_t schedule_host(const schedule *s, uint64_t probe) { return probe % s->hosts; }

#define LATENESS_BUCKETS 2980
typedef struct {
	uint64_t bucket[LATENESS_BUCKETS + 1]; /* the last one: 1 s or more */
	uint64_t count;
	int64_t max_ns;
} lateness_histogram;

void lateness_record(lateness_histogram *h, int64_t late_ns);
/* The q-quantile (0..1) in ns, as the upper edge of its bucket; 0 if empty. */
int64_t lateness_quantile(const lateness_histogram *h, double q);

#endif
