/* encoder.c - the input encoders.
 *
 * Values: a random distributed scalar encoder.  A value falls in bucket
 * b = floor(value / resolution); bucket b sets the bits h(b), h(b+1), ...,
 * h(b+w-1) for a fixed hash h into [0, n).  Buckets d apart share w-d of
 * their hash inputs, so their overlap falls linearly with distance and
 * vanishes beyond w buckets; no range needs to be known in advance.
 *
 * Time of day: a ring of n buckets over 24 h; w consecutive bits (wrapping
 * around midnight) centred on the time's bucket. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "htm/internal.h"

static uint32_t hash32(int64_t x, uint64_t seed)
{
	uint64_t h = (uint64_t)x * UINT64_C(0x9E3779B97F4A7C15) ^ seed;
	h ^= h >> 31;
	h *= UINT64_C(0xBF58476D1CE4E5B9);
	h ^= h >> 29;
	return (uint32_t)(h >> 32);
}

static int cmp_u16(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

size_t encode_value(const htm_params *p, double value, uint16_t *bits)
{
	if (!isfinite(value))
		value = 0.0;
	double b = floor(value / p->resolution);
	if (b > 1e15)
		b = 1e15;
	if (b < -1e15)
		b = -1e15;
	int64_t bucket = (int64_t)b;
	size_t n = 0;
	for (uint16_t j = 0; j < p->value_active; j++) {
		uint16_t bit = (uint16_t)(hash32(bucket + j, p->seed) % p->value_bits);
		bool dup = false;
		for (size_t k = 0; k < n; k++)
			dup |= bits[k] == bit;
		if (!dup)
			bits[n++] = bit;
	}
	qsort(bits, n, sizeof(*bits), cmp_u16);
	return n;
}

size_t encode_time(const htm_params *p, int64_t time, uint16_t offset, uint16_t *bits)
{
	if (!p->time_of_day || time < 0)
		return 0;
	int64_t sec = time % 86400;
	uint32_t centre = (uint32_t)(sec * p->tod_bits / 86400);
	for (uint16_t j = 0; j < p->tod_active; j++)
		bits[j] = (uint16_t)(offset + (centre + p->tod_bits - p->tod_active / 2 + j) % p->tod_bits);
	qsort(bits, p->tod_active, sizeof(*bits), cmp_u16);
	return p->tod_active;
}
