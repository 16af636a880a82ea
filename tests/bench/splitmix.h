/*
 * splitmix.h - splitmix64, the benches' random numbers: small, seedable,
 * and the same on every machine, so a seed names a scenario.
 */
#ifndef TESTS_BENCH_SPLITMIX_H
#define TESTS_BENCH_SPLITMIX_H

#include <stdint.h>

typedef struct { uint64_t s; } rng;

static inline uint64_t rng_next(rng *r)
{
	uint64_t z = (r->s += UINT64_C(0x9E3779B97F4A7C15));
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

#endif
