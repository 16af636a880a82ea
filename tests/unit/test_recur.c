/* Unit tests of the memory of what recurs (detector/recur.h). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "detector/recur.h"

#define T0 INT64_C(1767571200000)
#define MIN 60000
#define DAY_MS INT64_C(86400000)

static recur_kind judge(const recur_memory *r, int64_t start_ms, double dur_s, double level)
{
	return recur_judge(r, start_ms, dur_s, level, 2.0, 1800.0).kind;
}

static void a_drifting_period_is_followed(void **state)
{
	(void)state;
	recur_memory r;
	recur_init(&r);
	/* every 60.6 minutes, never on the hour */
	int64_t period = 3636000;
	/* three make a rhythm (two gaps that agree) */
	for (int k = 0; k < 4; k++) {
		assert_int_equal(judge(&r, T0 + k * period, 10, 4.0), k < 3 ? RECUR_NEW : RECUR_RHYTHM);
		recur_add(&r, T0 + k * period, 15, 4.0);
	}
	for (int k = 4; k < 12; k++)
		recur_add(&r, T0 + k * period, 15, 4.0);
	recur_verdict v = recur_judge(&r, T0 + 12 * period, 10, 4.05, 2.0, 1800.0);
	assert_int_equal(v.kind, RECUR_RHYTHM);
	assert_true(fabs(v.period_s - 3636.0) < 1.0);
	/* a missed turn is still in rhythm; a turn and a half is not */
	assert_int_equal(judge(&r, T0 + 13 * period, 10, 4.0), RECUR_RHYTHM);
	assert_int_equal(judge(&r, T0 + 12 * period + period / 2, 10, 4.0), RECUR_OFF_RHYTHM);
	/* longer than 1.3 times its longest, or at another level */
	assert_int_equal(judge(&r, T0 + 12 * period, 30, 4.0), RECUR_LONGER);
	assert_int_equal(judge(&r, T0 + 12 * period, 10, 4.5), RECUR_HIGHER);
	assert_int_equal(judge(&r, T0 + 12 * period, 10, 3.5), RECUR_NEW);
}

static void two_nights_make_a_nightly_rhythm(void **state)
{
	(void)state;
	recur_memory r;
	recur_init(&r);
	/* a peak that starts 40 minutes apart on two nights: still nightly */
	recur_add(&r, T0 + 20 * 60 * MIN, 7200, 4.5);
	recur_add(&r, T0 + DAY_MS + 19 * 60 * MIN + 20 * MIN, 7200, 4.5);
	assert_int_equal(judge(&r, T0 + 2 * DAY_MS + 20 * 60 * MIN + 10 * MIN, 3600, 4.5), RECUR_RHYTHM);
	assert_int_equal(judge(&r, T0 + 3 * DAY_MS + 12 * 60 * MIN, 600, 4.5), RECUR_OFF_RHYTHM);
}

static void a_level_held_long_once_is_proved(void **state)
{
	(void)state;
	recur_memory r;
	recur_init(&r);
	recur_add(&r, T0, 4 * 3600, 4.2);
	recur_verdict v = recur_judge(&r, T0 + 30 * 3600000LL, 600, 4.2, 2.0, 1800.0);
	assert_int_equal(v.kind, RECUR_PROVED);
	assert_true(v.expected);
	/* not when it lasted less than the proof */
	recur_init(&r);
	recur_add(&r, T0, 600, 4.2);
	assert_int_equal(judge(&r, T0 + 30 * 3600000LL, 60, 4.2), RECUR_NEW);
}

static void the_memory_is_a_ring_and_round_trips(void **state)
{
	(void)state;
	recur_memory r, back;
	recur_init(&r);
	for (int k = 0; k < RECUR_MEMBERS + 10; k++)
		recur_add(&r, T0 + k * 10 * MIN, 30, 4.0 + 0.001 * k);
	assert_int_equal(r.n, RECUR_MEMBERS);
	uint8_t buf[1 + RECUR_MEMBERS * 16];
	bytes_cursor c = bytes_encoder(buf, sizeof(buf));
	recur_code(&c, &r);
	assert_false(c.bad);
	assert_int_equal(c.pos, sizeof(buf));
	bytes_cursor d = bytes_decoder(buf, sizeof(buf));
	recur_code(&d, &back);
	assert_false(d.bad);
	assert_int_equal(back.head, 0);
	assert_int_equal(back.n, r.n);
	for (int i = 0; i < RECUR_MEMBERS; i++) {
		const recur_member *a = &r.m[(r.head + i) % RECUR_MEMBERS], *b = &back.m[i];
		assert_true(a->start_ms == b->start_ms && a->dur_s == b->dur_s && a->level == b->level);
	}
	buf[0] = RECUR_MEMBERS + 1; /* more members than a memory holds */
	d = bytes_decoder(buf, sizeof(buf));
	recur_code(&d, &back);
	assert_true(d.bad);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_drifting_period_is_followed),
		cmocka_unit_test(two_nights_make_a_nightly_rhythm),
		cmocka_unit_test(a_level_held_long_once_is_proved),
		cmocka_unit_test(the_memory_is_a_ring_and_round_trips),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
