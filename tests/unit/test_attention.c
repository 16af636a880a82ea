/* Unit tests of the decision layer (detector/attention.h, detector/baseline.h). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "detector/attention.h"
#include "detector/baseline.h"

#define T0 INT64_C(1767571200000) /* a Monday, 00:00 UTC */
#define MS 1000000                /* ns in a ms */

typedef struct {
	attention_tracker *t;
	attention_params p;
	int64_t now_ms, step_ms;
	uint64_t rng;
	char why[ATTENTION_REASON_MAX]; /* job(): the reason of its latest alarm */
} host;

static void host_init(host *h, int64_t step_ms)
{
	h->t = attention_new();
	assert_non_null(h->t);
	h->p = attention_params_default();
	h->now_ms = T0;
	h->step_ms = step_ms;
	h->rng = 12345;
}

/* 10% jitter around rtt_ms, the same for every run */
static int64_t jittered(host *h, double rtt_ms)
{
	h->rng = h->rng * 6364136223846793005u + 1442695040888963407u;
	double u = (double)(h->rng >> 11) / 9007199254740992.0;
	return (int64_t)(rtt_ms * (0.9 + 0.2 * u) * MS);
}

static attention_state probe(host *h, bool lost, double rtt_ms, double anomaly)
{
	attention_input in = { h->now_ms, lost, lost ? 0 : jittered(h, rtt_ms), 0.1, anomaly, 1, lost };
	attention_update(h->t, &h->p, &in);
	h->now_ms += h->step_ms;
	return attention_current(h->t);
}

static void probes(host *h, int n, double rtt_ms)
{
	for (int i = 0; i < n; i++)
		probe(h, false, rtt_ms, 0.1);
}

static void first_probe_is_always_a_change(void **state)
{
	(void)state;
	attention_tracker *t = attention_new();
	attention_params p = attention_params_default();
	attention_input in = { T0, false, 10 * MS, 0.1, NAN, 1, 0 };
	assert_true(attention_update(t, &p, &in));
	assert_int_equal(attention_current(t), ATTENTION_HEALTHY);
	in.wall_ms += 1000;
	assert_false(attention_update(t, &p, &in));
	attention_free(t);
}

static void nothing_is_slow_before_the_baseline_is_ready(void **state)
{
	(void)state;
	host h;
	host_init(&h, 1000);
	probes(&h, 10, 10);
	for (int i = 0; i < 10; i++)
		assert_true(probe(&h, false, 100, 0.9) <= ATTENTION_PENDING);
	attention_free(h.t);
}

static void a_sudden_slowdown_needs_three_slow_probes(void **state)
{
	(void)state;
	host h;
	host_init(&h, 1000);
	probes(&h, 600, 10);
	assert_int_equal(probe(&h, false, 60, 0.1), ATTENTION_PENDING);
	assert_int_equal(probe(&h, false, 60, 0.1), ATTENTION_PENDING);
	assert_int_equal(probe(&h, false, 60, 0.1), ATTENTION_NEEDS_ATTENTION);
	/* held while slow, left after three normal probes */
	for (int i = 0; i < 100; i++)
		assert_int_equal(probe(&h, false, 60, 0.1), ATTENTION_NEEDS_ATTENTION);
	probe(&h, false, 10, 0.1);
	probe(&h, false, 10, 0.1);
	assert_int_equal(probe(&h, false, 10, 0.1), ATTENTION_HEALTHY);
	attention_free(h.t);
}

static void a_lone_slow_answer_is_pending_only(void **state)
{
	(void)state;
	host h;
	host_init(&h, 1000);
	probes(&h, 600, 10);
	assert_int_equal(probe(&h, false, 200, 0.9), ATTENTION_PENDING);
	assert_int_equal(probe(&h, false, 10, 0.1), ATTENTION_HEALTHY);
	/* two in a row with the model agreeing, at 1 s: still only pending */
	probe(&h, false, 200, 0.9);
	assert_int_equal(probe(&h, false, 200, 0.9), ATTENTION_PENDING);
	attention_free(h.t);
}

static void at_long_intervals_htm_agreement_saves_a_probe(void **state)
{
	(void)state;
	host h;
	host_init(&h, 60000);
	probes(&h, 100, 10);
	probe(&h, false, 60, 0.9);
	assert_int_equal(probe(&h, false, 60, 0.1), ATTENTION_NEEDS_ATTENTION);
	attention_free(h.t);

	host_init(&h, 60000);
	probes(&h, 100, 10);
	probe(&h, false, 60, 0.1);
	assert_int_equal(probe(&h, false, 60, 0.1), ATTENTION_PENDING);
	attention_free(h.t);
}

static void a_shift_is_held_then_accepted_as_the_new_normal(void **state)
{
	(void)state;
	host h;
	host_init(&h, 1000);
	probes(&h, 3600, 10);
	int held = 0;
	while (probe(&h, false, 30, 0.1) == ATTENTION_NEEDS_ATTENTION || held < 3)
		held++;
	/* accepted after 1.07 times --accept-after: 30 min, give or take */
	assert_in_range(held, 1700, 2100);
	assert_int_equal(probe(&h, false, 30, 0.1), ATTENTION_HEALTHY);
	probes(&h, 100, 30);
	assert_int_equal(attention_current(h.t), ATTENTION_HEALTHY);
	attention_free(h.t);
}

static void a_creep_is_caught_before_three_times(void **state)
{
	(void)state;
	host h;
	host_init(&h, 1000);
	probes(&h, 7200, 10);
	double factor = 1.0;
	while (probe(&h, false, 10 * factor, 0.1) != ATTENTION_NEEDS_ATTENTION) {
		factor *= pow(1.02, 1.0 / 60.0);
		assert_true(factor < 3.0);
	}
	/* and held while it goes on creeping, until it has been an alarm for
	 * --accept-after (30 min) */
	for (int i = 0; i < 1700; i++) {
		factor *= pow(1.02, 1.0 / 60.0);
		assert_int_equal(probe(&h, false, 10 * factor, 0.1), ATTENTION_NEEDS_ATTENTION);
	}
	attention_free(h.t);
}

static void half_the_probes_lost_needs_attention_not_dead(void **state)
{
	(void)state;
	host h;
	host_init(&h, 1000);
	probes(&h, 600, 10);
	attention_state worst = ATTENTION_HEALTHY, st = ATTENTION_HEALTHY;
	/* lost, lost, answered, answered, lost, answered... about half */
	static const bool pattern[] = { 1, 1, 0, 0, 1, 0, 1, 1, 1, 0, 0, 1, 0, 1, 0, 1, 1, 0, 1, 0 };
	for (int round = 0; round < 2; round++)
		for (size_t i = 0; i < sizeof(pattern) / sizeof(pattern[0]); i++) {
			st = probe(&h, pattern[i], 10, 0.1);
			assert_int_not_equal(st, ATTENTION_DEAD);
			if (st > worst)
				worst = st;
		}
	assert_int_equal(worst, ATTENTION_NEEDS_ATTENTION);
	assert_int_equal(st, ATTENTION_NEEDS_ATTENTION);
	assert_string_equal(attention_reason(h.t), "lossy: 22 of the last 64 probes lost");
	/* held until at most 1 of the last 64 is lost: not a state that flaps */
	probes(&h, 40, 10);
	assert_int_equal(attention_current(h.t), ATTENTION_NEEDS_ATTENTION);
	probes(&h, 24, 10);
	assert_int_equal(attention_current(h.t), ATTENTION_HEALTHY);
	assert_string_equal(attention_reason(h.t), "");
	attention_free(h.t);
}

static void a_silent_host_is_dead_after_ten_seconds(void **state)
{
	(void)state;
	host h;
	host_init(&h, 1000);
	probes(&h, 600, 10);
	for (int i = 1; i < 10; i++)
		assert_int_equal(probe(&h, true, 0, 0.1), ATTENTION_PENDING);
	assert_int_equal(probe(&h, true, 0, 0.1), ATTENTION_DEAD);
	assert_string_equal(attention_reason(h.t), "dead: no answer for 10 s");
	for (int i = 0; i < 100; i++)
		assert_int_equal(probe(&h, true, 0, 0.1), ATTENTION_DEAD);
	/* back: healthy, its silence is not loss */
	assert_int_equal(probe(&h, false, 10, 0.1), ATTENTION_HEALTHY);
	attention_free(h.t);

	/* at 0.1 s, three lost probes are not ten seconds */
	host_init(&h, 100);
	probes(&h, 600, 10);
	for (int i = 0; i < 50; i++)
		assert_int_not_equal(probe(&h, true, 0, 0.1), ATTENTION_DEAD);
	attention_free(h.t);
}

/* n probes of a job: slow at factor for len of every period probes,
 * starting `phase` probes into the period; the worst state seen while slow */
static attention_state job(host *h, int periods, int period, int len, int phase, double factor)
{
	attention_state worst = ATTENTION_HEALTHY;
	for (int k = 0; k < periods; k++)
		for (int i = 0; i < period; i++) {
			bool on = i >= phase && i < phase + len;
			attention_state st = probe(h, false, on ? 10 * factor : 10, 0.1);
			if (on && st > worst)
				worst = st;
			if (st == ATTENTION_NEEDS_ATTENTION)
				snprintf(h->why, sizeof(h->why), "%s", attention_reason(h->t));
		}
	return worst;
}

static void a_job_that_recurs_becomes_normal_and_one_out_of_rhythm_is_not(void **state)
{
	(void)state;
	host h;
	host_init(&h, 1000);
	probes(&h, 600, 10);
	/* a 30-s 5x slowdown every 10 minutes: the first three need attention */
	assert_int_equal(job(&h, 3, 600, 30, 100, 5), ATTENTION_NEEDS_ATTENTION);
	/* then its rhythm is known */
	for (int k = 0; k < 6; k++)
		assert_true(job(&h, 1, 600, 30, 100, 5) <= ATTENTION_PENDING);
	/* and stays known across a restart */
	size_t n = attention_state_size(h.t);
	uint8_t *buf = malloc(n);
	assert_non_null(buf);
	attention_save(h.t, buf);
	char err[128];
	attention_tracker *back = attention_load(buf, n, err, sizeof(err));
	assert_non_null(back);
	assert_int_equal(attention_state_size(back), n);
	free(buf);
	attention_free(h.t);
	h.t = back;
	assert_true(job(&h, 1, 600, 30, 100, 5) <= ATTENTION_PENDING);
	/* a quarter of a period late: out of its rhythm */
	assert_int_equal(job(&h, 1, 300, 30, 250, 5), ATTENTION_NEEDS_ATTENTION);
	assert_non_null(strstr(h.why, "out of its rhythm of every 10.0 min"));
	probes(&h, 300, 10);
	assert_true(job(&h, 1, 600, 30, 100, 5) <= ATTENTION_PENDING);
	/* three times as long: longer than it ever was */
	assert_int_equal(job(&h, 1, 600, 90, 100, 5), ATTENTION_NEEDS_ATTENTION);
	assert_non_null(strstr(h.why, "longer than its usual"));
	/* or twice as high */
	assert_true(job(&h, 1, 600, 30, 100, 5) <= ATTENTION_PENDING);
	assert_int_equal(job(&h, 1, 600, 30, 100, 15), ATTENTION_NEEDS_ATTENTION);
	attention_free(h.t);

	/* with recurrence off, every one needs attention */
	host_init(&h, 1000);
	h.p.no_recurrence = true;
	probes(&h, 600, 10);
	assert_int_equal(job(&h, 3, 600, 30, 100, 5), ATTENTION_NEEDS_ATTENTION);
	assert_int_equal(job(&h, 1, 600, 30, 100, 5), ATTENTION_NEEDS_ATTENTION);
	attention_free(h.t);
}

static void a_level_the_host_keeps_returning_to_is_normal(void **state)
{
	(void)state;
	host h;
	host_init(&h, 1000);
	probes(&h, 600, 10);
	/* two routes, 10 and 40 ms, at irregular times */
	static const int stay[] = { 400, 700, 300, 900, 500, 350, 800, 450, 600, 380, 520, 640 };
	attention_state worst_late = ATTENTION_HEALTHY;
	for (int k = 0; k < 12; k++) {
		probes(&h, stay[(k + 5) % 12], 10);
		for (int i = 0; i < stay[k]; i++) {
			attention_state st = probe(&h, false, 40, 0.1);
			if (k >= 6 && st > worst_late)
				worst_late = st;
		}
	}
	assert_true(worst_late <= ATTENTION_PENDING);
	attention_free(h.t);
}

static void a_slow_start_is_not_learned_as_normal(void **state)
{
	(void)state;
	host h;
	host_init(&h, 1000);
	probes(&h, 40, 100);   /* slow from its first answer */
	probes(&h, 1200, 10);  /* then its real normal */
	attention_state st = ATTENTION_HEALTHY;
	for (int i = 0; i < 5 && st != ATTENTION_NEEDS_ATTENTION; i++)
		st = probe(&h, false, 100, 0.1);
	assert_int_equal(st, ATTENTION_NEEDS_ATTENTION);
	assert_int_equal(attention_explain(h.t).cause, ATTENTION_CAUSE_SLOW);
	assert_in_range((long)attention_explain(h.t).times_baseline, 8, 12);
	attention_free(h.t);
}

static double nightly(int64_t wall_ms)
{
	double hour = (double)((wall_ms - T0) % 86400000) / 3600e3;
	double d = fabs(hour - 21.0);
	return d >= 3.0 ? 1.0 : 1.0 + 1.5 * 0.5 * (1.0 + cos(M_PI * d / 3.0));
}

static void a_learned_nightly_peak_is_normal_and_noon_is_not(void **state)
{
	(void)state;
	host h;
	host_init(&h, 60000);
	for (int i = 0; i < 3 * 1440; i++)
		probe(&h, false, 20 * nightly(h.now_ms), 0.1);
	/* day 4: the peak raises nothing ... */
	for (int i = 0; i < 12 * 60; i++)
		assert_true(probe(&h, false, 20 * nightly(h.now_ms), 0.1) <= ATTENTION_PENDING);
	assert_true(nightly(h.now_ms - 60000) == 1.0);
	/* ... at noon 3x does */
	attention_state st = ATTENTION_HEALTHY;
	for (int i = 0; i < 5 && st != ATTENTION_NEEDS_ATTENTION; i++)
		st = probe(&h, false, 60, 0.1);
	assert_int_equal(st, ATTENTION_NEEDS_ATTENTION);
	attention_free(h.t);
}

static void saved_state_continues_exactly(void **state)
{
	(void)state;
	host a, b;
	host_init(&a, 1000);
	probes(&a, 900, 10);
	probe(&a, false, 80, 0.9);
	probe(&a, true, 0, 0.9);
	size_t n = attention_state_size(a.t);
	uint8_t *buf = malloc(n);
	attention_save(a.t, buf);
	char err[128];
	b = a;
	b.t = attention_load(buf, n, err, sizeof(err));
	assert_non_null(b.t);
	for (int i = 0; i < 400; i++) {
		double rtt = i % 50 < 20 ? 90 : 10;
		assert_int_equal(probe(&a, i % 7 == 0, rtt, 0.5), probe(&b, i % 7 == 0, rtt, 0.5));
	}
	/* malformed blobs are refused */
	assert_null(attention_load(buf, n - 1, err, sizeof(err)));
	buf[0] = 99;
	assert_null(attention_load(buf, n, err, sizeof(err)));
	buf[0] = 1;
	memset(buf + n - 4, 0xff, 4); /* a NaN weight */
	assert_null(attention_load(buf, n, err, sizeof(err)));
	free(buf);
	attention_free(a.t);
	attention_free(b.t);
}

static void baseline_quantiles_follow_what_it_learned(void **state)
{
	(void)state;
	baseline *b = baseline_new();
	assert_false(baseline_reference(b, T0).ready);
	for (int i = 0; i < 100; i++)
		baseline_learn(b, T0 + i * 1000, 3.0 + (i % 10) * 0.01, 1.0);
	baseline_ref r = baseline_reference(b, T0 + 100000);
	assert_true(r.ready);
	assert_false(r.hourly);
	assert_true(r.median > 2.95 && r.median < 3.10);
	assert_true(r.high >= r.median && r.high < 3.2);
	/* held answers do not move it, until accepted */
	for (int i = 0; i < 100; i++)
		baseline_hold(b, T0 + 100000 + i * 1000, 4.0, 1.0, 14400);
	assert_true(baseline_reference(b, T0 + 200000).median < 3.1);
	baseline_accept(b, T0 + 200000, 14400);
	double high = baseline_reference(b, T0 + 200000).high;
	assert_true(high > 3.9);
	/* forgotten ones never are */
	for (int i = 0; i < 100; i++)
		baseline_hold(b, T0 + 200000 + i * 1000, 5.0, 1.0, 14400);
	baseline_forget_held(b);
	baseline_accept(b, T0 + 200000, 14400);
	assert_true(baseline_reference(b, T0 + 200000).high == high);
	baseline_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(first_probe_is_always_a_change),
		cmocka_unit_test(nothing_is_slow_before_the_baseline_is_ready),
		cmocka_unit_test(a_sudden_slowdown_needs_three_slow_probes),
		cmocka_unit_test(a_lone_slow_answer_is_pending_only),
		cmocka_unit_test(at_long_intervals_htm_agreement_saves_a_probe),
		cmocka_unit_test(a_shift_is_held_then_accepted_as_the_new_normal),
		cmocka_unit_test(a_creep_is_caught_before_three_times),
		cmocka_unit_test(half_the_probes_lost_needs_attention_not_dead),
		cmocka_unit_test(a_silent_host_is_dead_after_ten_seconds),
		cmocka_unit_test(a_learned_nightly_peak_is_normal_and_noon_is_not),
		cmocka_unit_test(a_job_that_recurs_becomes_normal_and_one_out_of_rhythm_is_not),
		cmocka_unit_test(a_level_the_host_keeps_returning_to_is_normal),
		cmocka_unit_test(a_slow_start_is_not_learned_as_normal),
		cmocka_unit_test(saved_state_continues_exactly),
		cmocka_unit_test(baseline_quantiles_follow_what_it_learned),
	};
	return cmocka_run_group_tests_name("attention", tests, NULL, NULL);
}
