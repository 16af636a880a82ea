/* sp.c - the spatial pooler.
 *
 * Each column may connect to `potential` input bits drawn at random; a
 * synapse is connected when its permanence reaches `connected`.  A column's
 * overlap is the number of its connected synapses on active input bits; the
 * k columns of highest overlap win (global inhibition; ties to the lower
 * column, so the result is deterministic).  Learning moves the winners'
 * permanences towards their input: up on active bits, down on the others.
 *
 * Overlaps come from an index input bit -> (column, slot), so a step costs
 * in proportion to the active input bits, not to the whole pool. */
#include <stdlib.h>
#include <string.h>

#include "htm/internal.h"

static uint16_t scale16(double x)
{
	double v = x * 65535.0 + 0.5;
	return v < 0 ? 0 : v > 65535 ? 65535 : (uint16_t)v;
}

int sp_init(sp_state *sp, const htm_params *p, uint16_t inputs, uint64_t *rng)
{
	memset(sp, 0, sizeof(*sp));
	sp->inputs = inputs;
	sp->columns = p->columns;
	sp->potential = p->potential;
	sp->k = p->active_columns;
	sp->connected = scale16(p->sp_connected);
	sp->inc = scale16(p->sp_inc);
	sp->dec = scale16(p->sp_dec);
	size_t n = (size_t)sp->columns * sp->potential;
	uint16_t *pool = malloc(n * sizeof(*pool));
	sp->perm = malloc(n * sizeof(*sp->perm));
	sp->index_start = calloc((size_t)inputs + 1, sizeof(*sp->index_start));
	sp->index = malloc(n * sizeof(*sp->index));
	sp->overlap = calloc(sp->columns, sizeof(*sp->overlap));
	sp->winner = calloc(sp->columns, 1);
	uint32_t *fill = calloc(inputs, sizeof(*fill));
	if (!pool || !sp->perm || !sp->index_start || !sp->index || !sp->overlap || !sp->winner || !fill) {
		free(pool);
		free(fill);
		return -1;
	}
	for (uint16_t c = 0; c < sp->columns; c++) {
		uint16_t *cp = pool + (size_t)c * sp->potential;
		for (uint16_t j = 0; j < sp->potential; j++) {
			uint16_t bit;
			bool dup;
			do {
				bit = (uint16_t)htm_rand_below(rng, inputs);
				dup = false;
				for (uint16_t k = 0; k < j; k++)
					dup |= cp[k] == bit;
			} while (dup);
			cp[j] = bit;
			/* About half start connected, all near the threshold. */
			int32_t perm = (int32_t)sp->connected + (int32_t)htm_rand_below(rng, 2 * 6554u + 1) - 6554;
			sp->perm[(size_t)c * sp->potential + j] = (uint16_t)(perm < 0 ? 0 : perm > 65535 ? 65535 : perm);
		}
	}
	for (size_t i = 0; i < n; i++)
		sp->index_start[pool[i] + 1]++;
	for (uint16_t b = 0; b < inputs; b++)
		sp->index_start[b + 1] += sp->index_start[b];
	for (size_t i = 0; i < n; i++)
		sp->index[sp->index_start[pool[i]] + fill[pool[i]]++] = (uint16_t)i;
	free(fill);
	free(pool);
	return 0;
}

void sp_free(sp_state *sp)
{
	free(sp->winner);
	free(sp->perm);
	free(sp->index_start);
	free(sp->index);
	free(sp->overlap);
}

size_t sp_memory(const sp_state *sp)
{
	size_t n = (size_t)sp->columns * sp->potential;
	return n * (2 + 2) + ((size_t)sp->inputs + 1) * 4 + (size_t)sp->columns * 3;
}

size_t sp_compute(sp_state *sp, const uint16_t *bits, size_t nbits, bool learn, uint16_t *cols)
{
	memset(sp->overlap, 0, sp->columns * sizeof(*sp->overlap));
	{
		uint16_t *restrict overlap = sp->overlap;
		const uint16_t *restrict perm = sp->perm, *restrict index = sp->index;
		const uint32_t *restrict start = sp->index_start;
		const uint16_t connected = sp->connected, potential = sp->potential;
		for (size_t i = 0; i < nbits; i++) {
			uint16_t b = bits[i];
			for (uint32_t e = start[b]; e < start[b + 1]; e++) {
				uint16_t syn = index[e];
				if (perm[syn] >= connected)
					overlap[syn / potential]++;
			}
		}
	}
	/* Top k by overlap, ties to the lower column: find the overlap T of
	 * the k-th winner from a histogram, then take every column above T
	 * and, in column order, those at T while places remain. */
	uint32_t hist[256] = { 0 };
	for (uint16_t c = 0; c < sp->columns; c++)
		hist[sp->overlap[c] > 255 ? 255 : sp->overlap[c]]++;
	uint32_t above = 0;
	int t = 255;
	while (t > 1 && above + hist[t] < sp->k)
		above += hist[t--];
	size_t at_t = sp->k > above ? sp->k - above : 0, n = 0;
	for (uint16_t c = 0; c < sp->columns; c++) {
		uint16_t o = sp->overlap[c];
		if (o > t || (o == t && o >= 1 && at_t > 0)) {
			if (o == t)
				at_t--;
			cols[n++] = c;
		}
	}
	if (!learn)
		return n;
	/* Winners' synapses: all down, then those on active bits up (by inc
	 * plus the dec just taken), found through the index. */
	for (size_t i = 0; i < n; i++) {
		sp->winner[cols[i]] = 1;
		uint16_t *perm = sp->perm + (size_t)cols[i] * sp->potential;
		for (uint16_t j = 0; j < sp->potential; j++)
			perm[j] = (uint16_t)(perm[j] < sp->dec ? 0 : perm[j] - sp->dec);
	}
	uint32_t up = (uint32_t)sp->inc + sp->dec;
	for (size_t i = 0; i < nbits; i++) {
		uint16_t b = bits[i];
		for (uint32_t e = sp->index_start[b]; e < sp->index_start[b + 1]; e++) {
			uint16_t syn = sp->index[e];
			if (sp->winner[syn / sp->potential]) {
				uint32_t v = sp->perm[syn] + up;
				sp->perm[syn] = (uint16_t)(v > 65535 ? 65535 : v);
			}
		}
	}
	for (size_t i = 0; i < n; i++)
		sp->winner[cols[i]] = 0;
	return n;
}
