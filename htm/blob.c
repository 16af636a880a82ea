/*
 * blob.c - a model as a versioned, checksummed blob (htm_save, htm_load).
 *
 * The layout is written once, in code_params and code_state, which saving
 * and loading both run (detector/bytes.h): "HTM" and a version byte, the
 * parameters, everything that changes as the model runs, then an FNV-1a
 * checksum.  The spatial pooler's potential pools are not saved: they
 * follow from the seed.  Loading then checks every cell, segment and
 * column reference, so a blob that passes the checksum but was not written
 * by this code cannot make the model index out of its arrays.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "detector/bytes.h"
#include "htm/internal.h"

#define HTM_MAGIC "HTM"
#define HTM_VERSION 1

static void code_params(bytes_cursor *c, htm_params *p)
{
	bytes_u64(c, &p->seed);
	bytes_f64(c, &p->resolution);
	bytes_u16(c, &p->value_bits);
	bytes_u16(c, &p->value_active);
	bytes_bool_as_u16(c, &p->time_of_day);
	bytes_u16(c, &p->tod_bits);
	bytes_u16(c, &p->tod_active);
	bytes_u16(c, &p->columns);
	bytes_u16(c, &p->active_columns);
	bytes_u16(c, &p->potential);
	bytes_u8_as_u16(c, &p->cells_per_column);
	bytes_u16(c, &p->max_segments);
	bytes_u8_as_u16(c, &p->max_synapses);
	bytes_u8_as_u16(c, &p->new_synapses);
	bytes_u8_as_u16(c, &p->activation_threshold);
	bytes_u8_as_u16(c, &p->min_threshold);
	bytes_f64(c, &p->sp_connected);
	bytes_f64(c, &p->sp_inc);
	bytes_f64(c, &p->sp_dec);
	bytes_f64(c, &p->tm_connected);
	bytes_f64(c, &p->tm_initial);
	bytes_f64(c, &p->tm_inc);
	bytes_f64(c, &p->tm_dec);
	bytes_u32(c, &p->learning_period);
	bytes_u32(c, &p->estimation_samples);
	bytes_u32(c, &p->historic_window);
	bytes_u32(c, &p->reestimation_period);
}

/* A count about to size an array: beyond max, the blob is refused. */
static void code_count(bytes_cursor *c, uint32_t *n, size_t max)
{
	bytes_u32(c, n);
	if (*n > max)
		bytes_fail(c);
}

/* Everything that changes as the model runs, into a model of the blob's
 * parameters. */
static void code_state(bytes_cursor *c, htm_model *m)
{
	tm_state *tm = &m->tm;
	likelihood_state *lk = &m->lk;
	size_t S = tm->max_segs, M = tm->max_syn;
	size_t cells_max = (size_t)m->p.active_columns * m->p.cells_per_column;
	bytes_u64(c, &m->steps);
	bytes_u16s(c, m->sp.perm, (size_t)m->sp.columns * m->sp.potential);
	bytes_u64(c, &tm->rng);
	bytes_u32(c, &tm->clock);
	code_count(c, &tm->nactive, cells_max);
	code_count(c, &tm->nwinners, cells_max);
	code_count(c, &tm->nprev_active, cells_max);
	code_count(c, &tm->nprev_winners, cells_max);
	code_count(c, &tm->nact_segs, S);
	code_count(c, &tm->nmatch_segs, S);
	bytes_u16s(c, tm->seg_cell, S);
	bytes_u8s(c, tm->seg_nsyn, S);
	bytes_u32s(c, tm->seg_used, S);
	bytes_u16s(c, tm->syn_pre, S * M);
	bytes_u8s(c, tm->syn_perm, S * M);
	/* the presynaptic lists, in their order: it decides the order in
	 * which segments learn, so a reloaded model continues identically */
	bytes_u16s(c, tm->cell_head, tm->cells);
	bytes_u16s(c, tm->syn_next, S * M);
	bytes_u8s(c, tm->seg_conn, S);
	bytes_u8s(c, tm->seg_pot, S);
	bytes_u16s(c, tm->active, tm->nactive);
	bytes_u16s(c, tm->winners, tm->nwinners);
	bytes_u16s(c, tm->prev_active, tm->nprev_active);
	bytes_u16s(c, tm->prev_winners, tm->nprev_winners);
	bytes_u16s(c, tm->act_segs, tm->nact_segs);
	bytes_u16s(c, tm->match_segs, tm->nmatch_segs);
	bytes_u8s(c, tm->predicted_col, tm->columns);
	bytes_u64(c, &lk->iteration);
	code_count(c, &lk->nscores, lk->window);
	code_count(c, &lk->head, lk->window - 1);
	code_count(c, &lk->avg_n, 10);
	code_count(c, &lk->avg_head, 9);
	bytes_u32(c, &lk->nhist);
	bytes_bool_as_u32(c, &lk->have_dist);
	bytes_u16s(c, lk->scores, lk->window);
	bytes_f64s(c, lk->avg_ring, 10);
	bytes_f64(c, &lk->avg_total);
	bytes_f64(c, &lk->mean);
	bytes_f64(c, &lk->stdev);
	bytes_f64s(c, lk->hist_lik, 10);
	uint64_t ncols = m->ncols;
	bytes_u64(c, &ncols);
	if (ncols > m->p.active_columns)
		bytes_fail(c);
	m->ncols = (size_t)ncols;
	bytes_u16s(c, m->cols, m->ncols);
	bytes_f32s(c, m->col_value, m->p.columns);
	bytes_u16s(c, m->col_count, m->p.columns);
}

/* Saving runs the same code as loading, which writes through its
 * pointers; an encoder only reads them. */
static size_t code_model(bytes_cursor *c, const htm_model *m)
{
	htm_model *same = (htm_model *)m;
	char magic[3];
	memcpy(magic, HTM_MAGIC, 3);
	bytes_raw(c, magic, 3);
	uint8_t version = HTM_VERSION;
	bytes_u8(c, &version);
	code_params(c, &same->p);
	code_state(c, same);
	return c->pos;
}

size_t htm_state_size(const htm_model *m)
{
	bytes_cursor c = bytes_encoder(NULL, 0);
	return code_model(&c, m) + 8;
}

int htm_save(const htm_model *m, uint8_t *buf, size_t cap, size_t *len)
{
	bytes_cursor c = bytes_encoder(buf, cap);
	size_t n = code_model(&c, m);
	if (c.bad || n + 8 > cap)
		return -1;
	put_u64le(buf + n, fnv1a(FNV1A_INIT, buf, n));
	*len = n + 8;
	return 0;
}

/* Every cell and segment reference of a decoded model in range. */
static bool references_valid(const htm_model *m)
{
	const tm_state *tm = &m->tm;
	size_t S = tm->max_segs, M = tm->max_syn;
	for (size_t s = 0; s < S; s++) {
		if (tm->seg_cell[s] == TM_FREE)
			continue;
		if (tm->seg_cell[s] >= tm->cells || tm->seg_nsyn[s] > M)
			return false;
		for (size_t i = 0; i < tm->seg_nsyn[s]; i++)
			if (tm->syn_pre[s * M + i] >= tm->cells)
				return false;
	}
	for (uint32_t i = 0; i < tm->nact_segs; i++)
		if (tm->act_segs[i] >= S || tm->seg_cell[tm->act_segs[i]] == TM_FREE)
			return false;
	for (uint32_t i = 0; i < tm->nmatch_segs; i++)
		if (tm->match_segs[i] >= S || tm->seg_cell[tm->match_segs[i]] == TM_FREE)
			return false;
	const uint16_t *lists[] = { tm->active, tm->winners, tm->prev_active, tm->prev_winners };
	uint32_t nlists[] = { tm->nactive, tm->nwinners, tm->nprev_active, tm->nprev_winners };
	for (int l = 0; l < 4; l++)
		for (uint32_t i = 0; i < nlists[l]; i++)
			if (lists[l][i] >= tm->cells)
				return false;
	for (size_t i = 0; i < m->ncols; i++)
		if (m->cols[i] >= m->p.columns)
			return false;
	return isfinite(m->lk.mean) && isfinite(m->lk.stdev) && tm_check_lists(tm) == 0;
}

htm_model *htm_load(const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	if (len < 12 || memcmp(buf, HTM_MAGIC, 3) != 0) {
		snprintf(err, errlen, "not an HTM model blob");
		return NULL;
	}
	if (buf[3] != HTM_VERSION) {
		snprintf(err, errlen, "HTM model version %u, expected %u", buf[3], HTM_VERSION);
		return NULL;
	}
	if (fnv1a(FNV1A_INIT, buf, len - 8) != get_u64le(buf + len - 8)) {
		snprintf(err, errlen, "HTM model checksum mismatch");
		return NULL;
	}
	bytes_cursor c = bytes_decoder(buf, len - 8);
	c.pos = 4;
	htm_params p;
	memset(&p, 0, sizeof(p));
	code_params(&c, &p);
	htm_model *m = c.bad ? NULL : htm_new(&p);
	if (!m) {
		snprintf(err, errlen, "HTM model parameters out of range");
		return NULL;
	}
	code_state(&c, m);
	if (c.bad || c.pos != c.len || !references_valid(m)) {
		snprintf(err, errlen, "HTM model blob is malformed");
		htm_free(m);
		return NULL;
	}
	tm_relink(&m->tm);
	memset(m->tm.cell_segs, 0, m->tm.cells);
	for (size_t s = 0; s < m->tm.max_segs; s++)
		if (m->tm.seg_cell[s] != TM_FREE)
			m->tm.cell_segs[m->tm.seg_cell[s]]++;
	return m;
}
