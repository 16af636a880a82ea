/* htm.c - the model: encoders, spatial pooler, temporal memory, likelihood
 * and forecast composed (saving and loading: blob.c).  See htm.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htm/internal.h"

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
