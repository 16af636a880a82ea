/* schedule.c - spread probe schedule and lateness histogram; see schedule.h. */
#include "agent/schedule.h"
#include "pano/common/grow.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>

int64_t schedule_due(int64_t phase_ns, int64_t interval_ns, unsigned burst, uint64_t probe)
{
	uint64_t b = burst ? burst : 1, round = probe / b, k = probe % b;
	return phase_ns + (int64_t)round * interval_ns + (int64_t)((k * (uint64_t)interval_ns) / b);
}

int64_t schedule_spread(int64_t interval_ns, size_t i, size_t n)
{
	/* i * interval < 2^63 for any sane count and interval */
	return n ? (int64_t)(((uint64_t)i * (uint64_t)interval_ns) / n) : 0;
}

/* Earlier first; at the same time, lower slots first, so that targets
 * spread over the same instants go out in the order they were given. */
static bool before(const due_entry *a, const due_entry *b)
{
	return a->at < b->at || (a->at == b->at && a->slot < b->slot);
}

int due_push(due_heap *h, int64_t at, uint32_t slot, uint32_t gen)
{
	if (grow_array(&h->e, &h->cap, h->n + 1, sizeof(*h->e), 64) != 0)
		return -1;
	size_t i = h->n++;
	due_entry x = { at, slot, gen };
	while (i > 0 && before(&x, &h->e[(i - 1) / 2])) {
		h->e[i] = h->e[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->e[i] = x;
	return 0;
}

bool due_peek(const due_heap *h, due_entry *out)
{
	if (h->n == 0)
		return false;
	*out = h->e[0];
	return true;
}

void due_pop(due_heap *h)
{
	if (h->n == 0)
		return;
	assert(h->n <= h->cap);
	due_entry x = h->e[--h->n];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && before(&h->e[c + 1], &h->e[c]))
			c++;
		if (!before(&h->e[c], &x))
			break;
		h->e[i] = h->e[c];
		i = c;
	}
	if (h->n)
		h->e[i] = x;
}

void due_free(due_heap *h)
{
	free(h->e);
	h->e = NULL;
	h->n = h->cap = 0;
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
