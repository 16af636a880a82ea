/*
 * schedule.h - when each probe is due, and how late it went out.
 *
 * Every target has a phase, an interval and a burst (probes per interval,
 * 1 without --burst): its probe number k is due at
 *
 *     phase + (k / burst) * interval + (k mod burst) * interval / burst
 *
 * computed in integer nanoseconds, so no schedule drifts however long the
 * agent runs.  The phases spread the probes of n targets evenly over their
 * interval instead of sending them in one burst: schedule_spread gives the
 * i-th of n the offset i * interval / n.
 *
 * A min-heap of (time, slot, generation) entries gives the next probe due;
 * the same heap orders the probes in flight by their deadlines.  An entry
 * whose slot has since moved on (its target left, or was probed again) has
 * an older generation than the slot, and the caller skips it.
 *
 * The lateness histogram records how far behind its schedule each probe
 * was actually sent (10 us buckets below 20 ms, 1 ms buckets up to 1 s),
 * for the p50/p99 figures of the benchmark.
 */
#ifndef CLOUDSONAR_SCHEDULE_H
#define CLOUDSONAR_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int64_t schedule_due(int64_t phase_ns, int64_t interval_ns, unsigned burst, uint64_t probe);
/* The offset of the i-th of n targets spread over interval. */
int64_t schedule_spread(int64_t interval_ns, size_t i, size_t n);

typedef struct {
	int64_t at;
	uint32_t slot, gen;
} due_entry;

typedef struct {
	due_entry *e;
	size_t n, cap;
} due_heap;

/* 0, or -1 when out of memory. */
int due_push(due_heap *h, int64_t at, uint32_t slot, uint32_t gen);
/* The earliest entry; false when the heap is empty. */
bool due_peek(const due_heap *h, due_entry *out);
void due_pop(due_heap *h);
void due_free(due_heap *h);

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
