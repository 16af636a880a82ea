/* Unit tests of the phi accrual detector (detector/phi.h). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "detector/phi.h"

static phi_detector *filled(phi_dist dist, size_t window, const int64_t *v, size_t n)
{
	phi_detector *d = phi_new(window, dist);
	assert_non_null(d);
	for (size_t i = 0; i < n; i++)
		phi_add(d, v[i]);
	return d;
}

static const int64_t FIVE[] = { 100, 200, 300, 400, 500 };

static void zero_until_five_samples(void **state)
{
	(void)state;
	phi_detector *d = phi_new(10, PHI_DIST_EXP);
	for (int i = 0; i < 4; i++) {
		phi_add(d, 100);
		assert_true(phi_score(d, 1000000) == 0.0);
	}
	phi_add(d, 100);
	assert_true(phi_score(d, 1000000) > 0.0);
	phi_free(d);
}

static void exponential_matches_hand_computation(void **state)
{
	(void)state;
	phi_detector *d = filled(PHI_DIST_EXP, 1000, FIVE, 5);
	/* mean 300 ns: phi(600) = 600 / (300 ln 10) */
	assert_float_equal(phi_score(d, 600), 0.8685889638, 1e-9);
	/* phi = 1 at t = mean * ln 10 = 2.3x the mean (docs/detection.md) */
	assert_float_equal(phi_score(d, 691), 1.0, 2e-3);
	assert_true(phi_score(d, 0) == 0.0);
	phi_free(d);
}

static void normal_matches_hand_computation(void **state)
{
	(void)state;
	phi_detector *d = filled(PHI_DIST_NORMAL, 1000, FIVE, 5);
	/* mean 300, population sd 141.42: z = 2.1213, -log10 Q(z) = 1.77090 */
	assert_float_equal(phi_score(d, 600), 1.7708962342, 1e-6);
	phi_free(d);
}

static void normal_sd_is_floored_and_phi_capped(void **state)
{
	(void)state;
	int64_t same[10];
	for (int i = 0; i < 10; i++)
		same[i] = 1000;
	phi_detector *d = filled(PHI_DIST_NORMAL, 100, same, 10);
	/* sd 0 floored at mean/10 = 100: t = 1300 is z = 3 */
	assert_float_equal(phi_score(d, 1300), 2.8696990359, 1e-6);
	double far = phi_score(d, PHI_RTT_MAX_NS);
	assert_true(isfinite(far));
	assert_true(far <= PHI_MAX);
	assert_true(far > 100.0);
	phi_free(d);
}

static void window_evicts_oldest(void **state)
{
	(void)state;
	phi_detector *d = phi_new(5, PHI_DIST_EXP);
	for (int i = 0; i < 5; i++)
		phi_add(d, 1000000);
	for (int i = 0; i < 5; i++)
		phi_add(d, 100);
	assert_int_equal(phi_count(d), 5);
	assert_float_equal(phi_mean_ns(d), 100.0, 1e-12);
	phi_free(d);
}

static void growth_keeps_exact_sums(void **state)
{
	(void)state;
	/* 5000 samples through a 1000 window: the ring grows 16 -> 1000 and
	 * wraps; the mean must be that of the last 1000 exactly. */
	phi_detector *d = phi_new(1000, PHI_DIST_EXP);
	for (int64_t i = 1; i <= 5000; i++)
		phi_add(d, i);
	assert_int_equal(phi_count(d), 1000);
	assert_float_equal(phi_mean_ns(d), (4001.0 + 5000.0) / 2.0, 1e-9);
	phi_free(d);
}

static void rejects_bad_arguments_and_clamps(void **state)
{
	(void)state;
	assert_null(phi_new(0, PHI_DIST_EXP));
	assert_null(phi_new(PHI_WINDOW_MAX + 1, PHI_DIST_EXP));
	assert_null(phi_new(10, (phi_dist)7));
	phi_dist dist;
	assert_int_equal(phi_dist_parse("normal", &dist), 0);
	assert_int_equal(dist, PHI_DIST_NORMAL);
	assert_int_equal(phi_dist_parse("gamma", &dist), -1);
	phi_detector *d = phi_new(10, PHI_DIST_EXP);
	for (int i = 0; i < 5; i++)
		phi_add(d, -50); /* clamped to 0: mean 0 must not divide by zero */
	assert_true(isfinite(phi_score(d, INT64_MAX)));
	phi_free(d);
}

static void save_load_round_trip(void **state)
{
	(void)state;
	phi_detector *d = phi_new(50, PHI_DIST_EXP);
	for (int64_t i = 0; i < 77; i++)
		phi_add(d, 1000 + i * 7);
	uint8_t buf[1024];
	size_t len;
	assert_int_equal(phi_save(d, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, phi_state_size(d));
	char err[128];
	phi_detector *e = phi_load(buf, len, 50, PHI_DIST_EXP, err, sizeof(err));
	assert_non_null(e);
	for (int64_t t = 0; t < 100000; t += 997)
		assert_true(phi_score(d, t) == phi_score(e, t));
	phi_add(d, 5);
	phi_add(e, 5);
	assert_true(phi_score(d, 4321) == phi_score(e, 4321));
	/* a smaller window keeps the newest samples */
	phi_detector *s = phi_load(buf, len, 10, PHI_DIST_EXP, err, sizeof(err));
	assert_non_null(s);
	assert_int_equal(phi_count(s), 10);
	assert_float_equal(phi_mean_ns(s), 1000 + 7 * (67 + 76) / 2.0, 1e-9);
	phi_free(s);
	phi_free(d);
	phi_free(e);
}

static void load_rejects_malformed_blobs(void **state)
{
	(void)state;
	phi_detector *d = phi_new(8, PHI_DIST_EXP);
	for (int i = 0; i < 8; i++)
		phi_add(d, 10);
	uint8_t buf[256];
	size_t len;
	phi_save(d, buf, sizeof(buf), &len);
	char err[128];
	assert_null(phi_load(buf, len - 1, 8, PHI_DIST_EXP, err, sizeof(err)));
	assert_null(phi_load(buf, 3, 8, PHI_DIST_EXP, err, sizeof(err)));
	uint8_t bad[256];
	memcpy(bad, buf, len);
	bad[3] = 99; /* version */
	assert_null(phi_load(bad, len, 8, PHI_DIST_EXP, err, sizeof(err)));
	memcpy(bad, buf, len);
	bad[len - 1] = 0xff; /* a negative sample */
	assert_null(phi_load(bad, len, 8, PHI_DIST_EXP, err, sizeof(err)));
	memcpy(bad, buf, len);
	bad[4] = 0xff; bad[5] = 0xff; bad[6] = 0xff; bad[7] = 0x7f; /* absurd count */
	assert_null(phi_load(bad, len, 8, PHI_DIST_EXP, err, sizeof(err)));
	assert_int_equal(phi_save(d, buf, 4, &len), -1);
	phi_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(zero_until_five_samples),
		cmocka_unit_test(exponential_matches_hand_computation),
		cmocka_unit_test(normal_matches_hand_computation),
		cmocka_unit_test(normal_sd_is_floored_and_phi_capped),
		cmocka_unit_test(window_evicts_oldest),
		cmocka_unit_test(growth_keeps_exact_sums),
		cmocka_unit_test(rejects_bad_arguments_and_clamps),
		cmocka_unit_test(save_load_round_trip),
		cmocka_unit_test(load_rejects_malformed_blobs),
	};
	return cmocka_run_group_tests_name("phi", tests, NULL, NULL);
}
