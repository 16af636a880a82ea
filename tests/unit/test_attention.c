/* Unit tests of the needs-attention rule (detector/attention.h). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../detector/attention.h"

static const attention_params P = { 1.0, 0.5, 1 };

static void first_probe_is_always_a_change(void **state)
{
	(void)state;
	attention_tracker t = attention_tracker_init();
	assert_true(attention_update(&t, &P, false, 0.1, NAN));
	assert_int_equal(t.state, ATTENTION_HEALTHY);
	assert_false(attention_update(&t, &P, false, 0.2, NAN));
}

static void both_detectors_make_needs_attention(void **state)
{
	(void)state;
	attention_tracker t = attention_tracker_init();
	attention_update(&t, &P, false, 0.1, 0.1);
	assert_true(attention_update(&t, &P, false, 2.0, 0.1));
	assert_int_equal(t.state, ATTENTION_PENDING);      /* phi alone */
	assert_true(attention_update(&t, &P, false, 2.0, 0.9));
	assert_int_equal(t.state, ATTENTION_NEEDS_ATTENTION);
	/* the anomaly passed, the host is still slow: still needs attention */
	assert_false(attention_update(&t, &P, false, 2.0, 0.1));
	assert_int_equal(t.state, ATTENTION_NEEDS_ATTENTION);
	assert_true(attention_update(&t, &P, false, 0.5, 0.9));
	assert_int_equal(t.state, ATTENTION_PENDING);      /* anomaly alone */
	assert_true(attention_update(&t, &P, false, 0.5, 0.2));
	assert_int_equal(t.state, ATTENTION_HEALTHY);
	/* thresholds are strict */
	assert_false(attention_update(&t, &P, false, 1.0, 0.5));
}

static void a_lone_slow_answer_is_not_confirmed(void **state)
{
	(void)state;
	const attention_params three = { 1.0, 0.5, 3 };
	attention_tracker t = attention_tracker_init();
	attention_update(&t, &three, false, 0.1, 0.1);
	/* one slow answer that is also unexpected, then fine again */
	attention_update(&t, &three, false, 5.0, 0.9);
	assert_int_equal(t.state, ATTENTION_PENDING);
	attention_update(&t, &three, false, 0.2, 0.9);
	assert_int_equal(t.state, ATTENTION_PENDING);
	attention_update(&t, &three, false, 0.2, 0.1);
	assert_int_equal(t.state, ATTENTION_HEALTHY);
	/* a slowdown that lasts: the third bad probe from the unexpected one */
	attention_update(&t, &three, false, 5.0, 0.9);
	attention_update(&t, &three, false, 5.0, 0.1);
	assert_int_equal(t.state, ATTENTION_PENDING);
	assert_true(attention_update(&t, &three, false, 5.0, 0.1));
	assert_int_equal(t.state, ATTENTION_NEEDS_ATTENTION);
	/* bad before the unexpected one does not count */
	attention_update(&t, &three, false, 0.1, 0.1);
	attention_update(&t, &three, false, 5.0, 0.1);
	attention_update(&t, &three, false, 5.0, 0.1);
	attention_update(&t, &three, false, 5.0, 0.9);
	assert_int_equal(t.state, ATTENTION_PENDING);
}

static void without_htm_phi_alone_is_pending_at_most(void **state)
{
	(void)state;
	attention_tracker t = attention_tracker_init();
	attention_update(&t, &P, false, 50.0, NAN);
	assert_int_equal(t.state, ATTENTION_PENDING);
}

static void three_lost_in_a_row_is_dead(void **state)
{
	(void)state;
	attention_tracker t = attention_tracker_init();
	attention_update(&t, &P, false, 0.0, NAN);
	attention_update(&t, &P, true, 5.0, NAN);
	attention_update(&t, &P, true, 5.0, NAN);
	assert_int_equal(t.state, ATTENTION_PENDING);
	assert_true(attention_update(&t, &P, true, 5.0, NAN));
	assert_int_equal(t.state, ATTENTION_DEAD);
	assert_false(attention_update(&t, &P, true, 5.0, NAN));
	assert_true(attention_update(&t, &P, false, 0.1, NAN));
	assert_int_equal(t.state, ATTENTION_HEALTHY);
	assert_string_equal(attention_state_name(ATTENTION_NEEDS_ATTENTION), "NEEDS_ATTENTION");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(first_probe_is_always_a_change),
		cmocka_unit_test(both_detectors_make_needs_attention),
		cmocka_unit_test(a_lone_slow_answer_is_not_confirmed),
		cmocka_unit_test(without_htm_phi_alone_is_pending_at_most),
		cmocka_unit_test(three_lost_in_a_row_is_dead),
	};
	return cmocka_run_group_tests_name("attention", tests, NULL, NULL);
}
