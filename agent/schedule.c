/* schedule.c - spread probe schedule and lateness histogram; see schedule.h. */
#include "schedule.h"

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

void lateness_record(lateness_histogram *h, int64_t late_ns)
{
	if (late_ns < 0)
		late_ns = 0;
	int64_t us = late_ns / 1000;
	size_t b;
	if (us < 1000)
		b = (size_t)us;
	else if (us < 1000000)
		b = 1000 + (size_t)(us / 1000) - 1;
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
			int64_t edge = h->max_ns;
			if (b < 1000)
				edge = (int64_t)(b + 1) * 1000;
			else if (b < LATENESS_BUCKETS)
				edge = (int64_t)(b - 1000 + 2) * 1000000;
			return edge < h->max_ns ? edge : h->max_ns;
		}
	}
	return h->max_ns;
}
