/* tm.c - the temporal memory (as in Numenta's BAMI pseudocode).
 *
 * Cells sit in columns; each cell grows distal segments whose synapses
 * point at cells that were active one step earlier.  A segment with enough
 * connected synapses on the currently active cells makes its cell predictive.
 * Next step, an active column with predictive cells activates just those
 * (the input was expected); one without bursts, every cell at once (it was
 * not), and the raw anomaly is the fraction of active columns that burst.
 *
 * Learning: the segments that predicted correctly are reinforced and grow
 * synapses to the previous winner cells; in a bursting column the best
 * matching segment learns, or the least used cell grows a new one.  The
 * segment pool has a fixed size: when it is full, the least recently used
 * segment is recycled, which bounds the model's memory for good. */
#include <stdlib.h>
#include <string.h>

#include "htm/internal.h"

static uint8_t scale8(double x)
{
	double v = x * 255.0 + 0.5;
	return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

int tm_init(tm_state *tm, const htm_params *p, uint64_t seed)
{
	memset(tm, 0, sizeof(*tm));
	tm->columns = p->columns;
	tm->cpc = p->cells_per_column;
	tm->max_syn = p->max_synapses;
	tm->new_syn = p->new_synapses;
	tm->act_th = p->activation_threshold;
	tm->min_th = p->min_threshold;
	tm->connected = scale8(p->tm_connected);
	tm->initial = scale8(p->tm_initial);
	tm->inc = scale8(p->tm_inc);
	tm->dec = scale8(p->tm_dec);
	tm->max_segs = p->max_segments;
	tm->cells = (uint32_t)tm->columns * tm->cpc;
	tm->rng = seed ? seed : 1;
	size_t S = tm->max_segs, M = tm->max_syn, k = p->active_columns;
	tm->seg_cell = malloc(S * sizeof(*tm->seg_cell));
	tm->seg_nsyn = calloc(S, 1);
	tm->seg_used = calloc(S, sizeof(*tm->seg_used));
	tm->syn_pre = calloc(S * M, sizeof(*tm->syn_pre));
	tm->syn_perm = calloc(S * M, 1);
	tm->seg_conn = calloc(S, 1);
	tm->seg_pot = calloc(S, 1);
	tm->cell_segs = calloc(tm->cells, 1);
	tm->active = malloc(k * tm->cpc * sizeof(uint16_t));
	tm->prev_active = malloc(k * tm->cpc * sizeof(uint16_t));
	tm->winners = malloc(k * tm->cpc * sizeof(uint16_t));
	tm->prev_winners = malloc(k * tm->cpc * sizeof(uint16_t));
	tm->active_bits = calloc((tm->cells + 63) / 64, sizeof(uint64_t));
	tm->prev_active_bits = calloc((tm->cells + 63) / 64, sizeof(uint64_t));
	while ((1u << tm->syn_shift) < tm->max_syn)
		tm->syn_shift++;
	tm->act_segs = malloc(S * sizeof(uint16_t));
	tm->match_segs = malloc(S * sizeof(uint16_t));
	tm->predicted_col = calloc(tm->columns, 1);
	tm->cell_head = malloc(tm->cells * sizeof(uint16_t));
	tm->act_head = malloc(tm->columns * sizeof(uint16_t));
	tm->match_head = malloc(tm->columns * sizeof(uint16_t));
	tm->act_next = malloc(S * sizeof(uint16_t));
	tm->match_next = malloc(S * sizeof(uint16_t));
	tm->mark = calloc((tm->cells + 63) / 64, sizeof(uint64_t));
	tm->gmark = calloc((tm->cells + 63) / 64, sizeof(uint64_t));
	if (!tm->act_head || !tm->match_head || !tm->act_next || !tm->match_next || !tm->mark || !tm->gmark)
		return -1;
	for (uint16_t c = 0; c < tm->columns; c++)
		tm->act_head[c] = tm->match_head[c] = TM_FREE;
	tm->syn_next = calloc(S * M, sizeof(uint16_t)); /* saved whole: no garbage */
	tm->touched = malloc(S * sizeof(uint16_t));
	if (!tm->cell_head || !tm->syn_next || !tm->touched)
		return -1;
	for (uint32_t c = 0; c < tm->cells; c++)
		tm->cell_head[c] = TM_FREE;
	if (!tm->seg_cell || !tm->seg_nsyn || !tm->seg_used || !tm->syn_pre || !tm->syn_perm ||
	    !tm->seg_conn || !tm->seg_pot || !tm->cell_segs || !tm->active || !tm->prev_active ||
	    !tm->winners || !tm->prev_winners || !tm->active_bits || !tm->prev_active_bits || !tm->act_segs ||
	    !tm->match_segs || !tm->predicted_col)
		return -1;
	for (size_t s = 0; s < S; s++)
		tm->seg_cell[s] = TM_FREE;
	return 0;
}

void tm_free(tm_state *tm)
{
	free(tm->act_head);
	free(tm->match_head);
	free(tm->act_next);
	free(tm->match_next);
	free(tm->mark);
	free(tm->gmark);
	free(tm->cell_head);
	free(tm->syn_next);
	free(tm->touched);
	free(tm->seg_cell);
	free(tm->seg_nsyn);
	free(tm->seg_used);
	free(tm->syn_pre);
	free(tm->syn_perm);
	free(tm->seg_conn);
	free(tm->seg_pot);
	free(tm->cell_segs);
	free(tm->active);
	free(tm->prev_active);
	free(tm->winners);
	free(tm->prev_winners);
	free(tm->active_bits);
	free(tm->prev_active_bits);
	free(tm->act_segs);
	free(tm->match_segs);
	free(tm->predicted_col);
}

size_t tm_memory(const tm_state *tm)
{
	size_t S = tm->max_segs, M = tm->max_syn;
	return S * (2 + 1 + 4 + 1 + 1 + 2 + 2 + 2) + S * M * 5 + tm->cells * 3 + (tm->cells + 63) / 64 * 32 +
	       (size_t)tm->columns * 4 + S * 4 +
	       tm->columns + 4 * 2 * 20 * (size_t)tm->cpc;
}

static bool was_active(const tm_state *tm, uint16_t cell)
{
	return tm->prev_active_bits[cell >> 6] >> (cell & 63) & 1;
}

static void link_columns(tm_state *tm);

static void link_syn(tm_state *tm, uint16_t id)
{
	uint16_t pre = tm->syn_pre[id];
	tm->syn_next[id] = tm->cell_head[pre];
	tm->cell_head[pre] = id;
}

static void unlink_syn(tm_state *tm, uint16_t id)
{
	uint16_t *at = &tm->cell_head[tm->syn_pre[id]];
	while (*at != TM_FREE && *at != id)
		at = &tm->syn_next[*at];
	if (*at == id)
		*at = tm->syn_next[id];
}

int tm_check_lists(const tm_state *tm)
{
	size_t total = 0, seen = 0, limit = (size_t)tm->max_segs << tm->syn_shift;
	for (uint16_t s = 0; s < tm->max_segs; s++)
		if (tm->seg_cell[s] != TM_FREE)
			total += tm->seg_nsyn[s];
	for (uint32_t c = 0; c < tm->cells; c++) {
		for (uint16_t id = tm->cell_head[c]; id != TM_FREE; id = tm->syn_next[id]) {
			uint16_t seg = (uint16_t)(id >> tm->syn_shift);
			if (id >= limit || ++seen > total || tm->seg_cell[seg] == TM_FREE ||
			    (id & ((1u << tm->syn_shift) - 1)) >= tm->seg_nsyn[seg] || tm->syn_pre[id] != c)
				return -1;
		}
	}
	return seen == total ? 0 : -1;
}

void tm_relink(tm_state *tm)
{
	for (uint16_t c = 0; c < tm->columns; c++)
		tm->act_head[c] = tm->match_head[c] = TM_FREE;
	link_columns(tm);
	memset(tm->active_bits, 0, (tm->cells + 63) / 64 * sizeof(uint64_t));
	for (uint32_t i = 0; i < tm->nactive; i++)
		tm->active_bits[tm->active[i] >> 6] |= UINT64_C(1) << (tm->active[i] & 63);
	tm->ntouched = 0;
	for (uint16_t s = 0; s < tm->max_segs; s++)
		if (tm->seg_pot[s] || tm->seg_conn[s])
			tm->touched[tm->ntouched++] = s;
}

static void remove_synapse(tm_state *tm, uint16_t seg, uint8_t i)
{
	size_t base = ((size_t)seg << tm->syn_shift);
	uint8_t last = (uint8_t)(tm->seg_nsyn[seg] - 1);
	unlink_syn(tm, (uint16_t)(base + i));
	if (i != last) {
		unlink_syn(tm, (uint16_t)(base + last));
		tm->syn_pre[base + i] = tm->syn_pre[base + last];
		tm->syn_perm[base + i] = tm->syn_perm[base + last];
		link_syn(tm, (uint16_t)(base + i));
	}
	tm->seg_nsyn[seg] = last;
}

static void destroy_segment(tm_state *tm, uint16_t seg)
{
	if (tm->seg_cell[seg] != TM_FREE) {
		tm->cell_segs[tm->seg_cell[seg]]--;
		for (uint8_t i = 0; i < tm->seg_nsyn[seg]; i++)
			unlink_syn(tm, (uint16_t)(((size_t)seg << tm->syn_shift) + i));
	}
	tm->seg_cell[seg] = TM_FREE;
	tm->seg_nsyn[seg] = 0;
}

/* Reinforce: synapses on previously active cells up, the others down;
 * synapses that reach zero go. */
static void adapt(tm_state *tm, uint16_t seg)
{
	size_t base = ((size_t)seg << tm->syn_shift);
	for (int i = tm->seg_nsyn[seg] - 1; i >= 0; i--) {
		uint8_t *perm = &tm->syn_perm[base + (size_t)i];
		if (was_active(tm, tm->syn_pre[base + (size_t)i]))
			*perm = (uint8_t)(*perm > 255 - tm->inc ? 255 : *perm + tm->inc);
		else if (*perm <= tm->dec)
			remove_synapse(tm, seg, (uint8_t)i);
		else
			*perm = (uint8_t)(*perm - tm->dec);
	}
	tm->seg_used[seg] = tm->clock;
}

/* Grows up to n synapses to previous winner cells not yet on the segment,
 * chosen at random; makes room by dropping the weakest synapses. */
static void grow(tm_state *tm, uint16_t seg, int n)
{
	if (n <= 0 || tm->nprev_winners == 0)
		return;
	size_t base = ((size_t)seg << tm->syn_shift);
	uint16_t cand[256];
	uint32_t nc = 0;
	/* mark the segment's presynaptic cells, take the unmarked winners */
	for (uint8_t i = 0; i < tm->seg_nsyn[seg]; i++)
		tm->gmark[tm->syn_pre[base + i] >> 6] |= UINT64_C(1) << (tm->syn_pre[base + i] & 63);
	for (uint32_t w = 0; w < tm->nprev_winners && nc < 256; w++) {
		uint16_t c = tm->prev_winners[w];
		if (!(tm->gmark[c >> 6] >> (c & 63) & 1))
			cand[nc++] = c;
	}
	for (uint8_t i = 0; i < tm->seg_nsyn[seg]; i++)
		tm->gmark[tm->syn_pre[base + i] >> 6] = 0;
	if ((uint32_t)n > nc)
		n = (int)nc;
	while (tm->seg_nsyn[seg] + n > tm->max_syn && tm->seg_nsyn[seg] > 0) {
		uint8_t weakest = 0;
		for (uint8_t i = 1; i < tm->seg_nsyn[seg]; i++)
			if (tm->syn_perm[base + i] < tm->syn_perm[base + weakest])
				weakest = i;
		remove_synapse(tm, seg, weakest);
	}
	if (n > tm->max_syn)
		n = tm->max_syn;
	for (int j = 0; j < n; j++) {
		uint32_t pick = j + htm_rand_below(&tm->rng, nc - (uint32_t)j);
		uint16_t c = cand[pick];
		cand[pick] = cand[j];
		cand[j] = c;
		uint8_t i = tm->seg_nsyn[seg]++;
		tm->syn_pre[base + i] = c;
		tm->syn_perm[base + i] = tm->initial;
		link_syn(tm, (uint16_t)(base + i));
	}
}

static uint16_t new_segment(tm_state *tm, uint16_t cell)
{
	uint16_t seg = TM_FREE;
	uint32_t oldest = UINT32_MAX;
	for (uint16_t s = 0; s < tm->max_segs; s++) {
		if (tm->seg_cell[s] == TM_FREE) {
			seg = s;
			break;
		}
		if (tm->seg_used[s] < oldest) {
			oldest = tm->seg_used[s];
			seg = s;
		}
	}
	destroy_segment(tm, seg);
	tm->seg_cell[seg] = cell;
	tm->seg_nsyn[seg] = 0;
	tm->seg_used[seg] = tm->clock;
	tm->cell_segs[cell]++;
	return seg;
}

#define COLUMN_SEGS_MAX 512

/* A column's segments from its linked list (at most COLUMN_SEGS_MAX). */
static uint32_t segs_in_column(const uint16_t *head, const uint16_t *next, uint16_t col, uint16_t *out)
{
	uint32_t n = 0;
	for (uint16_t s = head[col]; s != TM_FREE && n < COLUMN_SEGS_MAX; s = next[s])
		out[n++] = s;
	return n;
}

/* Rebuilds the per-column lists from the segment lists, in list order. */
static void link_columns(tm_state *tm)
{
	for (uint32_t i = tm->nact_segs; i-- > 0;) {
		uint16_t s = tm->act_segs[i], col = (uint16_t)(tm->seg_cell[s] / tm->cpc);
		tm->act_next[s] = tm->act_head[col];
		tm->act_head[col] = s;
	}
	for (uint32_t i = tm->nmatch_segs; i-- > 0;) {
		uint16_t s = tm->match_segs[i], col = (uint16_t)(tm->seg_cell[s] / tm->cpc);
		tm->match_next[s] = tm->match_head[col];
		tm->match_head[col] = s;
	}
}

static void unlink_columns(tm_state *tm)
{
	for (uint32_t i = 0; i < tm->nact_segs; i++)
		tm->act_head[tm->seg_cell[tm->act_segs[i]] / tm->cpc] = TM_FREE;
	for (uint32_t i = 0; i < tm->nmatch_segs; i++)
		tm->match_head[tm->seg_cell[tm->match_segs[i]] / tm->cpc] = TM_FREE;
}

/* Adds cell to a list unless the mark bitmap has it (and marks it). */
static bool add_once(tm_state *tm, uint16_t *list, uint32_t *n, uint16_t cell)
{
	uint64_t bit = UINT64_C(1) << (cell & 63);
	if (tm->mark[cell >> 6] & bit)
		return false;
	tm->mark[cell >> 6] |= bit;
	list[(*n)++] = cell;
	return true;
}

double tm_compute(tm_state *tm, const uint16_t *cols, size_t ncols, bool learn)
{
	tm->clock++;
	/* the last step's cells become the previous ones */
	uint16_t *t = tm->prev_active;
	tm->prev_active = tm->active;
	tm->active = t;
	tm->nprev_active = tm->nactive;
	t = tm->prev_winners;
	tm->prev_winners = tm->winners;
	tm->winners = t;
	tm->nprev_winners = tm->nwinners;
	tm->nactive = tm->nwinners = 0;
	uint64_t *tb = tm->prev_active_bits;
	tm->prev_active_bits = tm->active_bits;
	tm->active_bits = tb;

	size_t predicted = 0;
	uint16_t segs[COLUMN_SEGS_MAX];
	for (size_t i = 0; i < ncols; i++) {
		uint16_t col = cols[i];
		uint32_t na = segs_in_column(tm->act_head, tm->act_next, col, segs);
		if (na > 0 && tm->predicted_col[col]) {
			predicted++;
			for (uint32_t j = 0; j < na; j++) {
				uint16_t cell = tm->seg_cell[segs[j]];
				if (add_once(tm, tm->active, &tm->nactive, cell))
					tm->winners[tm->nwinners++] = cell;
				if (learn) {
					int grown = tm->new_syn - tm->seg_pot[segs[j]];
					adapt(tm, segs[j]);
					grow(tm, segs[j], grown);
				}
			}
			continue;
		}
		/* burst */
		for (uint8_t c = 0; c < tm->cpc; c++)
			add_once(tm, tm->active, &tm->nactive, (uint16_t)(col * tm->cpc + c));
		uint32_t nm = segs_in_column(tm->match_head, tm->match_next, col, segs);
		uint16_t best = TM_FREE;
		for (uint32_t j = 0; j < nm; j++)
			if (best == TM_FREE || tm->seg_pot[segs[j]] > tm->seg_pot[best])
				best = segs[j];
		uint16_t winner;
		if (best != TM_FREE) {
			winner = tm->seg_cell[best];
			if (learn) {
				int grown = tm->new_syn - tm->seg_pot[best];
				adapt(tm, best);
				grow(tm, best, grown);
			}
		} else {
			/* the least used cell; ties at random */
			uint8_t fewest = 255, ties = 0;
			winner = (uint16_t)(col * tm->cpc);
			for (uint8_t c = 0; c < tm->cpc; c++) {
				uint16_t cell = (uint16_t)(col * tm->cpc + c);
				if (tm->cell_segs[cell] < fewest) {
					fewest = tm->cell_segs[cell];
					winner = cell;
					ties = 1;
				} else if (tm->cell_segs[cell] == fewest && htm_rand_below(&tm->rng, ++ties) == 0) {
					winner = cell;
				}
			}
			if (learn && tm->nprev_winners > 0) {
				uint16_t seg = new_segment(tm, winner);
				grow(tm, seg, tm->new_syn);
			}
		}
		tm->winners[tm->nwinners++] = winner;
	}
	for (uint32_t i = 0; i < tm->nactive; i++)
		tm->mark[tm->active[i] >> 6] = 0;

	/* Dendrites for the next step, from the cells active now: only the
	 * synapses on active cells are visited.  Counts of the segments the
	 * last step reached are cleared first; a zero potential count marks a
	 * segment not yet reached this step. */
	memset(tm->active_bits, 0, (tm->cells + 63) / 64 * sizeof(uint64_t));
	for (uint32_t i = 0; i < tm->nactive; i++)
		tm->active_bits[tm->active[i] >> 6] |= UINT64_C(1) << (tm->active[i] & 63);
	for (uint32_t i = 0; i < tm->ntouched; i++)
		tm->seg_conn[tm->touched[i]] = tm->seg_pot[tm->touched[i]] = 0;
	tm->ntouched = 0;
	memset(tm->predicted_col, 0, tm->columns);
	{
		/* locals: the stores below cannot alias the state's fields */
		uint8_t *restrict pot = tm->seg_pot, *restrict conn = tm->seg_conn;
		const uint8_t *restrict perm = tm->syn_perm;
		const uint16_t *restrict next = tm->syn_next, *restrict head = tm->cell_head;
		uint16_t *restrict touched = tm->touched;
		const uint8_t connected = tm->connected, shift = tm->syn_shift;
		uint32_t nt = 0;
		for (uint32_t a = 0; a < tm->nactive; a++) {
			for (uint16_t id = head[tm->active[a]]; id != TM_FREE; id = next[id]) {
				uint16_t seg = (uint16_t)(id >> shift);
				if (pot[seg] == 0)
					touched[nt++] = seg;
				pot[seg]++;
				conn[seg] += perm[id] >= connected;
			}
		}
		tm->ntouched = nt;
	}
	unlink_columns(tm);
	tm->nact_segs = tm->nmatch_segs = 0;
	for (uint32_t i = 0; i < tm->ntouched; i++) {
		uint16_t seg = tm->touched[i];
		if (tm->seg_conn[seg] >= tm->act_th) {
			tm->act_segs[tm->nact_segs++] = seg;
			tm->predicted_col[tm->seg_cell[seg] / tm->cpc] = 1;
		}
		if (tm->seg_pot[seg] >= tm->min_th)
			tm->match_segs[tm->nmatch_segs++] = seg;
	}
	/* Segments in cell order, so a column's cells activate in order. */
	link_columns(tm);
	return ncols ? 1.0 - (double)predicted / (double)ncols : 0.0;
}

