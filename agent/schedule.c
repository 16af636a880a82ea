/* schedule.c - spread probe schedule and lateness histogram; see schedule.h. */
#include "agent/schedule.h"

#include <math.h>

void schedule_init(schedule *s, int64_t start_ns, int64_t interval_ns, uint64_t hosts)
{
	s->start_ns = start_ns;
	s->interval_ns = interval_ns;
	s->hosts = hosts ? hosts : 1;
	s->next = 0;
}

int64_t schedule_due(const schedule *s, uint64_t probe)
{
	uint64_t round = probe / s->hosts, slot = probe % s->hosts;
	/* slot * interval < 2^63 for any sane host count and interval. */
	return s->start_ns + (int64_t)round * s->interval_ns +
	       (int64_t)((slot * (uint64_t)s->interval_ns) / s->hosts);
}

/* Buckets: 10 us wide below 20 ms (2000 of them), 1 ms wide from 20 ms to
 * 1 s (980), then one for everything later. */
#define FINE_NS 10000
#define FINE_BUCKETS 2000
#define COARSE_NS 1000000

void lateness_record(lateness_histogram *h, int64_t late_ns)
{
	if (late_ns < 0)
		late_ns = 0;
	size_t b;
	if (late_ns < (int64_t)FINE_BUCKETS * FINE_NS)
		b = (size_t)(late_ns / FINE_NS);
	else if (late_ns < INT64_C(1000000000))
		b = FINE_BUCKETS + (size_t)(late_ns / COARSE_NS) - 20;
	else
		b = LATENESS_BUCKETS;
	h->bucket[b]++;
	h->count++;
	if (late_ns > h->max_ns)
		h->max_ns = late_ns;
}

int64_t lateness_quantile(const lateness_histogram *h, double q)
{
	if (h->count == 0)
		return 0;
	/* nearest rank: the ceil(q * count)-th smallest, counted from 1 */
	double want = ceil(q * (double)h->count);
	uint64_t rank = want < 1.0 ? 0 : (uint64_t)want - 1;
	if (rank >= h->count)
		rank = h->count - 1;
	uint64_t seen = 0;
	for (size_t b = 0; b <= LATENESS_BUCKETS; b++) {
		seen += h->bucket[b];
		if (seen > rank) {
			int64_t edge = h->max_ns; /* upper edge of the bucket */
			if (b < FINE_BUCKETS)
				edge = (int64_t)(b + 1) * FINE_NS;
			else if (b < LATENESS_BUCKETS)
				edge = (int64_t)(b - FINE_BUCKETS + 21) * COARSE_NS;
			return edge < h->max_ns ? edge : h->max_ns;
		}
	}
	return h->max_ns;
}
