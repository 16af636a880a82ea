/* Unit tests of the HTM model (htm/htm.h) on small hand-checkable inputs. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "htm/htm.h"

static void same_result(const htm_result *a, const htm_result *b)
{
	assert_true(a->raw_anomaly == b->raw_anomaly);
	assert_true(a->likelihood == b->likelihood);
	assert_true(a->log_likelihood == b->log_likelihood);
	assert_true(a->has_prediction == b->has_prediction);
	assert_true(a->prediction == b->prediction);
}

static size_t overlap(const uint16_t *a, size_t na, const uint16_t *b, size_t nb)
{
	size_t n = 0;
	for (size_t i = 0; i < na; i++)
		for (size_t j = 0; j < nb; j++)
			n += a[i] == b[j];
	return n;
}

static void encoder_overlap_falls_with_distance(void **state)
{
	(void)state;
	htm_params p = htm_params_default();
	p.time_of_day = false;
	htm_model *m = htm_new(&p);
	uint16_t a[64], b[64];
	size_t na = htm_encode(m, 2.0, -1, a, 64);
	assert_true(na >= 19 && na <= 21); /* hash collisions may merge a bit or two */
	size_t last = na;
	for (int d = 1; d <= 30; d++) {
		size_t nb = htm_encode(m, 2.0 + d * p.resolution + p.resolution / 2, -1, b, 64);
		size_t o = overlap(a, na, b, nb);
		assert_true(o <= last + 1); /* non-increasing, up to a collision */
		if (d >= 25)
			assert_true(o <= 2);
		last = o;
	}
	size_t nb = htm_encode(m, 2.0 + p.resolution / 3, -1, b, 64);
	assert_int_equal(overlap(a, na, b, nb), na); /* same bucket */
	htm_free(m);
}

static void time_of_day_encoding_wraps_at_midnight(void **state)
{
	(void)state;
	htm_model *m = htm_new(&(htm_params){ 0 }) ; /* invalid: must be refused */
	assert_null(m);
	htm_params p = htm_params_default();
	m = htm_new(&p);
	uint16_t a[64], b[64];
	size_t na = htm_encode(m, 2.0, 86400 - 60, a, 64);   /* 23:59 */
	size_t nb = htm_encode(m, 2.0, 86400 + 60, b, 64);   /* 00:01 next day */
	assert_true(overlap(a, na, b, nb) >= na - 2);
	nb = htm_encode(m, 2.0, 86400 / 2, b, 64);           /* noon */
	assert_true(overlap(a, na, b, nb) < na - p.tod_active + 2);
	htm_free(m);
}

static void pooler_columns_stay_sparse(void **state)
{
	(void)state;
	htm_params p = htm_params_default();
	htm_model *m = htm_new(&p);
	uint16_t cols[2048];
	uint64_t x = 7;
	for (int i = 0; i < 500; i++) {
		x = x * 6364136223846793005ULL + 1;
		htm_result r;
		htm_step(m, (double)(x >> 40) / (1 << 20), i * 60, true, &r);
		size_t n = htm_active_columns(m, cols, 2048);
		assert_true(n <= p.active_columns);
		assert_true(n >= p.active_columns / 2);
		for (size_t k = 1; k < n; k++)
			assert_true(cols[k - 1] < cols[k]);
	}
	htm_free(m);
}

static void repeated_sequence_becomes_predicted(void **state)
{
	(void)state;
	htm_params p = htm_params_default();
	p.time_of_day = false;
	htm_model *m = htm_new(&p);
	const double seq[] = { 1.0, 2.0, 3.0, 4.0, 5.0 };
	htm_result r;
	double last_cycle = 1.0;
	for (int rep = 0; rep < 60; rep++) {
		double sum = 0;
		for (int i = 0; i < 5; i++) {
			htm_step(m, seq[i], -1, true, &r);
			sum += r.raw_anomaly;
		}
		last_cycle = sum / 5;
	}
	assert_true(last_cycle < 0.05);       /* learnt: every step predicted */
	assert_true(r.has_prediction);
	assert_float_equal(r.prediction, 1.0, 0.45); /* after 5 comes 1 (nearer than 2) */
	htm_step(m, 1.0, -1, true, &r);
	assert_true(r.raw_anomaly < 0.05);
	/* With 10 active columns, a column may happen to serve two values:
	 * "not predicted" is most columns, not all. */
	htm_step(m, 4.0, -1, true, &r);       /* 1 -> 4: never seen */
	assert_true(r.raw_anomaly >= 0.75);
	htm_step(m, 6.5, -1, true, &r);       /* a value never seen at all */
	assert_true(r.raw_anomaly >= 0.75);
	htm_free(m);
}

static void same_seed_same_output_and_save_load_continues(void **state)
{
	(void)state;
	htm_params p = htm_params_default();
	htm_model *a = htm_new(&p), *b = htm_new(&p);
	htm_result ra, rb;
	for (int i = 0; i < 600; i++) {
		double v = 2.0 + 0.3 * sin(i / 10.0) + (i % 7) * 0.01;
		htm_step(a, v, i * 300, true, &ra);
		htm_step(b, v, i * 300, true, &rb);
		same_result(&ra, &rb);
	}
	size_t cap = htm_state_size(a), len;
	uint8_t *blob = malloc(cap);
	assert_int_equal(htm_save(a, blob, cap, &len), 0);
	assert_int_equal(len, cap);
	char err[128];
	htm_model *c = htm_load(blob, len, err, sizeof(err));
	assert_non_null(c);
	for (int i = 600; i < 700; i++) {
		double v = 2.0 + 0.3 * sin(i / 10.0);
		htm_step(a, v, i * 300, true, &ra);
		htm_step(c, v, i * 300, true, &rb);
		same_result(&ra, &rb);
	}
	assert_true(htm_memory(a) < 256 * 1024);
	/* damaged blobs are refused */
	blob[len / 2] ^= 0x40;
	assert_null(htm_load(blob, len, err, sizeof(err)));
	blob[len / 2] ^= 0x40;
	assert_null(htm_load(blob, len - 9, err, sizeof(err)));
	assert_null(htm_load(blob, 3, err, sizeof(err)));
	blob[3] = 99;
	assert_null(htm_load(blob, len, err, sizeof(err)));
	free(blob);
	htm_free(a);
	htm_free(b);
	htm_free(c);
}

static void likelihood_flags_a_change_not_the_routine(void **state)
{
	(void)state;
	htm_params p = htm_params_default();
	p.time_of_day = false;
	htm_model *m = htm_new(&p);
	htm_result r;
	double max_routine = 0;
	for (int i = 0; i < 1500; i++) {
		htm_step(m, 2.0 + (i % 10) * 0.1, -1, true, &r);
		if (i > 800)
			max_routine = fmax(max_routine, r.log_likelihood);
	}
	assert_true(max_routine < 0.5);
	double peak = 0;
	for (int i = 0; i < 15; i++) {
		htm_step(m, 4.0 + (i % 3) * 0.3, -1, true, &r);
		peak = fmax(peak, r.log_likelihood);
	}
	assert_true(peak > 0.5);
	htm_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(encoder_overlap_falls_with_distance),
		cmocka_unit_test(time_of_day_encoding_wraps_at_midnight),
		cmocka_unit_test(pooler_columns_stay_sparse),
		cmocka_unit_test(repeated_sequence_becomes_predicted),
		cmocka_unit_test(same_seed_same_output_and_save_load_continues),
		cmocka_unit_test(likelihood_flags_a_change_not_the_routine),
	};
	return cmocka_run_group_tests_name("htm", tests, NULL, NULL);
}
