/* htm.c - the model: encoders, spatial pooler, temporal memory, likelihood
 * and forecast composed; saving and loading.  See htm.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detector/bytes.h"
#include "htm/internal.h"

struct htm_model {
	htm_params p;
	uint64_t rng;           /* after initialisation: kept for the blob */
	uint64_t steps;
	uint16_t inputs;
	sp_state sp;
	tm_state tm;
	likelihood_state lk;
	uint16_t *cols;         /* active columns of the last step */
	size_t ncols;
	uint16_t *bits;         /* scratch: the encoding */
	float *col_value;       /* per column: running mean of the values it stood for */
	uint16_t *col_count;
};

htm_params htm_params_default(void)
{
	htm_params p = {
		.seed = 42,
		.resolution = 0.05, .value_bits = 400, .value_active = 21,
		.time_of_day = true, .tod_bits = 120, .tod_active = 11,
		.columns = 512, .active_columns = 10, .potential = 24,
		.sp_connected = 0.2, .sp_inc = 0.003, .sp_dec = 0.0005,
		.cells_per_column = 12, .max_segments = 1536, .max_synapses = 16,
		.new_synapses = 8, .activation_threshold = 5, .min_threshold = 4,
		.tm_connected = 0.5, .tm_initial = 0.21, .tm_inc = 0.1, .tm_dec = 0.1,
		.learning_period = 288, .estimation_samples = 100, .historic_window = 8640,
		.reestimation_period = 100,
	};
	return p;
}

static bool params_valid(const htm_params *p)
{
	return p->resolution > 0 && isfinite(p->resolution) && p->value_bits >= 32 &&
	       p->value_active >= 1 && p->value_active < p->value_bits &&
	       (!p->time_of_day || (p->tod_bits >= 24 && p->tod_active >= 1 && p->tod_active < p->tod_bits)) &&
	       (uint32_t)p->value_bits + (p->time_of_day ? p->tod_bits : 0) < 65535 &&
	       p->columns >= 16 && p->active_columns >= 1 && p->active_columns <= p->columns &&
	       p->potential >= 1 && p->potential <= p->value_bits &&
	       (uint32_t)p->columns * p->potential <= 65535 &&
	       p->cells_per_column >= 1 && (uint32_t)p->columns * p->cells_per_column < 65535 &&
	       p->max_segments >= 1 && p->max_segments < 65535 && p->max_synapses >= 1 &&
	       (p->max_synapses & (p->max_synapses - 1)) == 0 &&
	       (uint32_t)p->max_segments * p->max_synapses <= 65535 &&
	       p->new_synapses >= 1 && p->new_synapses <= p->max_synapses &&
	       p->activation_threshold >= 1 && p->min_threshold >= 1 &&
	       p->sp_connected > 0 && p->sp_connected < 1 && p->tm_connected > 0 && p->tm_connected < 1 &&
	       p->historic_window >= 10 && p->historic_window <= 1000000;
}

void htm_free(htm_model *m)
{
	if (!m)
		return;
	sp_free(&m->sp);
	tm_free(&m->tm);
	likelihood_free(&m->lk);
	free(m->cols);
	free(m->bits);
	free(m->col_value);
	free(m->col_count);
	free(m);
}

htm_model *htm_new(const htm_params *p)
{
	if (!p || !params_valid(p))
		return NULL;
	htm_model *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->p = *p;
	m->rng = p->seed ? p->seed : 1;
	m->inputs = (uint16_t)(p->value_bits + (p->time_of_day ? p->tod_bits : 0));
	m->cols = calloc(p->active_columns, sizeof(*m->cols));
	m->bits = calloc(m->inputs, sizeof(*m->bits));
	m->col_value = calloc(p->columns, sizeof(*m->col_value));
	m->col_count = calloc(p->columns, sizeof(*m->col_count));
	if (!m->cols || !m->bits || !m->col_value || !m->col_count ||
	    sp_init(&m->sp, p, m->inputs, &m->rng) != 0 ||
	    tm_init(&m->tm, p, htm_rand(&m->rng)) != 0 || likelihood_init(&m->lk, p) != 0) {
		htm_free(m);
		return NULL;
	}
	return m;
}


size_t htm_encode(const htm_model *m, double value, int64_t time, uint16_t *bits, size_t cap)
{
	if (cap < (size_t)m->p.value_active + m->p.tod_active)
		return 0;
	size_t n = encode_value(&m->p, value, bits);
	n += encode_time(&m->p, time, m->p.value_bits, bits + n);
	return n;
}

size_t htm_active_columns(const htm_model *m, uint16_t *cols, size_t cap)
{
	size_t n = m->ncols < cap ? m->ncols : cap;
	memcpy(cols, m->cols, n * sizeof(*cols));
	return n;
}

void htm_step(htm_model *m, double value, int64_t time, bool learn, htm_result *out)
{
	size_t nbits = htm_encode(m, value, time, m->bits, m->inputs);
	m->ncols = sp_compute(&m->sp, m->bits, nbits, learn, m->cols);
	out->raw_anomaly = tm_compute(&m->tm, m->cols, m->ncols, learn);
	out->likelihood = likelihood_step(&m->lk, out->raw_anomaly);
	out->log_likelihood = likelihood_log(out->likelihood);
	/* What the active columns stand for, then the forecast: the mean of
	 * what the columns predicted for the next step stand for. */
	for (size_t i = 0; i < m->ncols; i++) {
		uint16_t c = m->cols[i];
		if (m->col_count[c] < 10)
			m->col_count[c]++;
		m->col_value[c] += (float)((value - m->col_value[c]) / m->col_count[c]);
	}
	double sum = 0;
	size_t n = 0;
	for (uint16_t c = 0; c < m->p.columns; c++)
		if (m->tm.predicted_col[c] && m->col_count[c]) {
			sum += m->col_value[c];
			n++;
		}
	out->has_prediction = n > 0;
	out->prediction = n ? sum / (double)n : 0.0;
	m->steps++;
}

size_t htm_memory(const htm_model *m)
{
	return sizeof(*m) + sp_memory(&m->sp) + tm_memory(&m->tm) +
	       (size_t)m->lk.window * sizeof(*m->lk.scores) +
	       (size_t)m->p.columns * (sizeof(float) + sizeof(uint16_t) + 2) + m->inputs * 2u;
}

/* --- the blob ------------------------------------------------------------ */

#define HTM_MAGIC "HTM"
#define HTM_VERSION 1

typedef struct {
	uint8_t *buf;
	size_t cap, len;
	bool overflow;
} writer;

static void w_bytes(writer *w, const void *p, size_t n)
{
	if (w->len + n > w->cap) {
		w->overflow = true;
		w->len += n;
		return;
	}
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

static void w_u64(writer *w, uint64_t v)
{
	uint8_t b[8];
	put_u64le(b, v);
	w_bytes(w, b, 8);
}

static void w_f64(writer *w, double v)
{
	uint64_t u;
	memcpy(&u, &v, 8);
	w_u64(w, u);
}

static void w_u16s(writer *w, const uint16_t *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t b[2] = { (uint8_t)a[i], (uint8_t)(a[i] >> 8) };
		w_bytes(w, b, 2);
	}
}

static void w_u32s(writer *w, const uint32_t *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t b[4];
		put_u32le(b, a[i]);
		w_bytes(w, b, 4);
	}
}

static void w_f32s(writer *w, const float *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t u;
		memcpy(&u, &a[i], 4);
		uint8_t b[4];
		put_u32le(b, u);
		w_bytes(w, b, 4);
	}
}

static void w_params(writer *w, const htm_params *p)
{
	w_u64(w, p->seed);
	w_f64(w, p->resolution);
	uint16_t u16[] = { p->value_bits, p->value_active, p->time_of_day, p->tod_bits, p->tod_active,
	                   p->columns, p->active_columns, p->potential, p->cells_per_column,
	                   p->max_segments, p->max_synapses, p->new_synapses,
	                   p->activation_threshold, p->min_threshold };
	w_u16s(w, u16, sizeof(u16) / sizeof(u16[0]));
	w_f64(w, p->sp_connected);
	w_f64(w, p->sp_inc);
	w_f64(w, p->sp_dec);
	w_f64(w, p->tm_connected);
	w_f64(w, p->tm_initial);
	w_f64(w, p->tm_inc);
	w_f64(w, p->tm_dec);
	uint32_t u32[] = { p->learning_period, p->estimation_samples, p->historic_window,
	                   p->reestimation_period };
	w_u32s(w, u32, 4);
}


/* Everything that changes as the model runs; the rest follows from the
 * parameters (the spatial pooler's pools are regenerated from the seed). */
static void w_model(writer *w, const htm_model *m)
{
	const tm_state *tm = &m->tm;
	const likelihood_state *lk = &m->lk;
	size_t S = tm->max_segs, M = tm->max_syn;
	w_bytes(w, HTM_MAGIC, 3);
	uint8_t v = HTM_VERSION;
	w_bytes(w, &v, 1);
	w_params(w, &m->p);
	w_u64(w, m->steps);
	w_u16s(w, m->sp.perm, (size_t)m->sp.columns * m->sp.potential);
	w_u64(w, tm->rng);
	uint32_t counts[] = { tm->clock, tm->nactive, tm->nwinners, tm->nprev_active,
	                      tm->nprev_winners, tm->nact_segs, tm->nmatch_segs };
	w_u32s(w, counts, 7);
	w_u16s(w, tm->seg_cell, S);
	w_bytes(w, tm->seg_nsyn, S);
	w_u32s(w, tm->seg_used, S);
	w_u16s(w, tm->syn_pre, S * M);
	w_bytes(w, tm->syn_perm, S * M);
	/* the presynaptic lists, in their order: it decides the order in
	 * which segments learn, so a reloaded model continues identically */
	w_u16s(w, tm->cell_head, tm->cells);
	w_u16s(w, tm->syn_next, S * M);
	w_bytes(w, tm->seg_conn, S);
	w_bytes(w, tm->seg_pot, S);
	w_u16s(w, tm->active, tm->nactive);
	w_u16s(w, tm->winners, tm->nwinners);
	w_u16s(w, tm->prev_active, tm->nprev_active);
	w_u16s(w, tm->prev_winners, tm->nprev_winners);
	w_u16s(w, tm->act_segs, tm->nact_segs);
	w_u16s(w, tm->match_segs, tm->nmatch_segs);
	w_bytes(w, tm->predicted_col, tm->columns);
	w_u64(w, lk->iteration);
	uint32_t lc[] = { lk->nscores, lk->head, lk->avg_n, lk->avg_head, lk->nhist, lk->have_dist };
	w_u32s(w, lc, 6);
	w_u16s(w, lk->scores, lk->window);
	for (int i = 0; i < 10; i++)
		w_f64(w, lk->avg_ring[i]);
	w_f64(w, lk->avg_total);
	w_f64(w, lk->mean);
	w_f64(w, lk->stdev);
	for (int i = 0; i < 10; i++)
		w_f64(w, lk->hist_lik[i]);
	w_u64(w, m->ncols);
	w_u16s(w, m->cols, m->ncols);
	w_f32s(w, m->col_value, m->p.columns);
	w_u16s(w, m->col_count, m->p.columns);
}

size_t htm_state_size(const htm_model *m)
{
	writer w = { NULL, 0, 0, false };
	w_model(&w, m);
	return w.len + 8;
}

int htm_save(const htm_model *m, uint8_t *buf, size_t cap, size_t *len)
{
	writer w = { buf, cap, 0, false };
	w_model(&w, m);
	if (w.overflow || w.len + 8 > cap)
		return -1;
	put_u64le(buf + w.len, fnv1a(FNV1A_INIT, buf, w.len));
	*len = w.len + 8;
	return 0;
}

typedef struct {
	const uint8_t *buf;
	size_t len, pos;
	bool bad;
} reader;

static void r_bytes(reader *r, void *p, size_t n)
{
	if (r->bad || r->len - r->pos < n) {
		r->bad = true;
		memset(p, 0, n);
		return;
	}
	memcpy(p, r->buf + r->pos, n);
	r->pos += n;
}

static uint64_t r_u64(reader *r)
{
	uint8_t b[8];
	r_bytes(r, b, 8);
	return get_u64le(b);
}

static double r_f64(reader *r)
{
	uint64_t u = r_u64(r);
	double v;
	memcpy(&v, &u, 8);
	return v;
}

static void r_u16s(reader *r, uint16_t *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t b[2];
		r_bytes(r, b, 2);
		a[i] = (uint16_t)(b[0] | b[1] << 8);
	}
}

static void r_u32s(reader *r, uint32_t *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t b[4];
		r_bytes(r, b, 4);
		a[i] = get_u32le(b);
	}
}

static void r_f32s(reader *r, float *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t u;
		r_u32s(r, &u, 1);
		memcpy(&a[i], &u, 4);
	}
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
	reader r = { buf, len - 8, 4, false };
	htm_params p;
	memset(&p, 0, sizeof(p));
	p.seed = r_u64(&r);
	p.resolution = r_f64(&r);
	uint16_t u16[14];
	r_u16s(&r, u16, 14);
	p.value_bits = u16[0];
	p.value_active = u16[1];
	p.time_of_day = u16[2] != 0;
	p.tod_bits = u16[3];
	p.tod_active = u16[4];
	p.columns = u16[5];
	p.active_columns = u16[6];
	p.potential = u16[7];
	p.cells_per_column = (uint8_t)u16[8];
	p.max_segments = u16[9];
	p.max_synapses = (uint8_t)u16[10];
	p.new_synapses = (uint8_t)u16[11];
	p.activation_threshold = (uint8_t)u16[12];
	p.min_threshold = (uint8_t)u16[13];
	p.sp_connected = r_f64(&r);
	p.sp_inc = r_f64(&r);
	p.sp_dec = r_f64(&r);
	p.tm_connected = r_f64(&r);
	p.tm_initial = r_f64(&r);
	p.tm_inc = r_f64(&r);
	p.tm_dec = r_f64(&r);
	uint32_t u32[4];
	r_u32s(&r, u32, 4);
	p.learning_period = u32[0];
	p.estimation_samples = u32[1];
	p.historic_window = u32[2];
	p.reestimation_period = u32[3];
	htm_model *m = r.bad ? NULL : htm_new(&p);
	if (!m) {
		snprintf(err, errlen, "HTM model parameters out of range");
		return NULL;
	}
	tm_state *tm = &m->tm;
	likelihood_state *lk = &m->lk;
	size_t S = tm->max_segs, M = tm->max_syn, cells_max = (size_t)p.active_columns * p.cells_per_column;
	m->steps = r_u64(&r);
	r_u16s(&r, m->sp.perm, (size_t)m->sp.columns * m->sp.potential);
	tm->rng = r_u64(&r);
	uint32_t counts[7];
	r_u32s(&r, counts, 7);
	tm->clock = counts[0];
	tm->nactive = counts[1];
	tm->nwinners = counts[2];
	tm->nprev_active = counts[3];
	tm->nprev_winners = counts[4];
	tm->nact_segs = counts[5];
	tm->nmatch_segs = counts[6];
	if (tm->nactive > cells_max || tm->nwinners > cells_max || tm->nprev_active > cells_max ||
	    tm->nprev_winners > cells_max || tm->nact_segs > S || tm->nmatch_segs > S)
		r.bad = true;
	if (!r.bad) {
		r_u16s(&r, tm->seg_cell, S);
		r_bytes(&r, tm->seg_nsyn, S);
		r_u32s(&r, tm->seg_used, S);
		r_u16s(&r, tm->syn_pre, S * M);
		r_bytes(&r, tm->syn_perm, S * M);
		r_u16s(&r, tm->cell_head, tm->cells);
		r_u16s(&r, tm->syn_next, S * M);
		r_bytes(&r, tm->seg_conn, S);
		r_bytes(&r, tm->seg_pot, S);
		r_u16s(&r, tm->active, tm->nactive);
		r_u16s(&r, tm->winners, tm->nwinners);
		r_u16s(&r, tm->prev_active, tm->nprev_active);
		r_u16s(&r, tm->prev_winners, tm->nprev_winners);
		r_u16s(&r, tm->act_segs, tm->nact_segs);
		r_u16s(&r, tm->match_segs, tm->nmatch_segs);
		r_bytes(&r, tm->predicted_col, tm->columns);
	}
	/* every cell and segment reference must be in range */
	for (size_t s = 0; !r.bad && s < S; s++) {
		if (tm->seg_cell[s] != TM_FREE && (tm->seg_cell[s] >= tm->cells || tm->seg_nsyn[s] > M))
			r.bad = true;
		for (size_t i = 0; !r.bad && tm->seg_cell[s] != TM_FREE && i < tm->seg_nsyn[s]; i++)
			r.bad = tm->syn_pre[s * M + i] >= tm->cells;
	}
	for (uint32_t i = 0; !r.bad && i < tm->nact_segs; i++)
		r.bad = tm->act_segs[i] >= S || tm->seg_cell[tm->act_segs[i]] == TM_FREE;
	for (uint32_t i = 0; !r.bad && i < tm->nmatch_segs; i++)
		r.bad = tm->match_segs[i] >= S || tm->seg_cell[tm->match_segs[i]] == TM_FREE;
	uint16_t *lists[] = { tm->active, tm->winners, tm->prev_active, tm->prev_winners };
	uint32_t nlists[] = { tm->nactive, tm->nwinners, tm->nprev_active, tm->nprev_winners };
	for (int l = 0; !r.bad && l < 4; l++)
		for (uint32_t i = 0; !r.bad && i < nlists[l]; i++)
			r.bad = lists[l][i] >= tm->cells;
	if (!r.bad && tm_check_lists(tm) != 0)
		r.bad = true;
	if (!r.bad)
		tm_relink(tm);
	memset(tm->cell_segs, 0, tm->cells);
	for (size_t s = 0; !r.bad && s < S; s++)
		if (tm->seg_cell[s] != TM_FREE)
			tm->cell_segs[tm->seg_cell[s]]++;
	lk->iteration = r_u64(&r);
	uint32_t lc[6];
	r_u32s(&r, lc, 6);
	lk->nscores = lc[0];
	lk->head = lc[1];
	lk->avg_n = lc[2];
	lk->avg_head = lc[3];
	lk->nhist = lc[4];
	lk->have_dist = lc[5] != 0;
	if (lk->nscores > lk->window || lk->head >= lk->window || lk->avg_n > 10 || lk->avg_head >= 10)
		r.bad = true;
	r_u16s(&r, lk->scores, lk->window);
	for (int i = 0; i < 10; i++)
		lk->avg_ring[i] = r_f64(&r);
	lk->avg_total = r_f64(&r);
	lk->mean = r_f64(&r);
	lk->stdev = r_f64(&r);
	for (int i = 0; i < 10; i++)
		lk->hist_lik[i] = r_f64(&r);
	m->ncols = (size_t)r_u64(&r);
	if (m->ncols > p.active_columns)
		r.bad = true;
	else
		r_u16s(&r, m->cols, m->ncols);
	for (size_t i = 0; !r.bad && i < m->ncols; i++)
		r.bad = m->cols[i] >= p.columns;
	r_f32s(&r, m->col_value, p.columns);
	r_u16s(&r, m->col_count, p.columns);
	if (r.bad || r.pos != r.len || !isfinite(lk->mean) || !isfinite(lk->stdev)) {
		snprintf(err, errlen, "HTM model blob is malformed");
		htm_free(m);
		return NULL;
	}
	return m;
}
