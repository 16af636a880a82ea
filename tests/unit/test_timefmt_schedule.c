/* Unit tests of timestamps (agent/timefmt.h) and the probe schedule
 * (agent/schedule.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "agent/schedule.h"
#include "agent/timefmt.h"

static void formats_and_parses_iso8601_ms(void **state)
{
	(void)state;
	char buf[TIMEFMT_LEN];
	timefmt_format(INT64_C(1795881669345), buf);
	assert_string_equal(buf, "2026-11-28T16:01:09.345Z");
	int64_t ms;
	assert_int_equal(timefmt_parse(buf, strlen(buf), &ms), 0);
	assert_true(ms == INT64_C(1795881669345));
	timefmt_format(0, buf);
	assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
}

static void rejects_malformed_timestamps(void **state)
{
	(void)state;
	const char *bad[] = {
		"2026-11-22T16:01:09.345", "2026-11-22 16:01:09.345Z",
		"2026-13-22T16:01:09.345Z", "2026-02-31T16:01:09.345Z",
		"2026-11-22T24:01:09.345Z", "2026-11-22T16:01:09.34aZ",
		"1969-12-31T23:59:59.999Z", "", "garbage",
	};
	int64_t ms;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(timefmt_parse(bad[i], strlen(bad[i]), &ms), -1);
}

static void takes_the_times_people_type(void **state)
{
	(void)state;
	int64_t ms, want;
	assert_int_equal(timefmt_parse("2026-12-06T08:08:00.000Z", 24, &want), 0);
	static const char *const same[] = { "2026-12-06T08:08:00Z", "2026-12-06T08:08Z", "2026-12-06 08:08:00",
	                                    "2026-12-06 08:08", "2026-12-06T08:08:00.000Z", "2026-12-06 08:08:00 +0000 UTC",
	                                    "2026-12-06T08:08:00+00:00", "2026-12-06t08:08:00z" };
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		assert_int_equal(timefmt_parse_user(same[i], &ms), 0);
		assert_true(ms == want);
	}
	assert_int_equal(timefmt_parse_user("2026-12-06 08:08:00.25", &ms), 0);
	assert_true(ms == want + 250);
	assert_int_equal(timefmt_parse_user("2026-12-06", &ms), 0);
	assert_true(ms == want - (8 * 60 + 8) * 60000);
	static const char *const bad[] = { "", "2026", "2026-12-06T", "2026-12-06T8:08", "2026-12-06T08:08:00+01:00",
	                                   "2026-02-30", "2026-12-06T24:00", "2026-12-06T08:08:00.", "yesterday",
	                                   "2026-12-06T08:08:00Zjunk" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(timefmt_parse_user(bad[i], &ms), -1);
}

static void probes_are_spread_over_the_interval(void **state)
{
	(void)state;
	/* 4 targets spread over 1 s, from 1000 ns */
	assert_true(1000 + schedule_spread(1000000000, 0, 4) == 1000);
	assert_true(1000 + schedule_spread(1000000000, 1, 4) == 1000 + 250000000);
	assert_true(1000 + schedule_spread(1000000000, 3, 4) == 1000 + 750000000);
	assert_true(schedule_due(1000, 1000000000, 1, 1) == 1000 + 1000000000);
	/* no drift after a year of probes */
	assert_true(schedule_due(1000, 1000000000, 1, UINT64_C(31536000)) == 1000 + INT64_C(31536000) * 1000000000);
}

static void a_burst_is_spread_over_its_interval(void **state)
{
	(void)state;
	/* 5 probes a second: 200 ms apart, the 6th opens the next second */
	assert_true(schedule_due(0, 1000000000, 5, 0) == 0);
	assert_true(schedule_due(0, 1000000000, 5, 1) == 200000000);
	assert_true(schedule_due(0, 1000000000, 5, 4) == 800000000);
	assert_true(schedule_due(0, 1000000000, 5, 5) == 1000000000);
	assert_true(schedule_due(0, 1000000000, 5, 7) == 1400000000);
}

static void the_heap_gives_the_earliest_first(void **state)
{
	(void)state;
	due_heap h = { NULL, 0, 0 };
	uint64_t rng = 7;
	for (uint32_t i = 0; i < 1000; i++) {
		rng = rng * 6364136223846793005u + 1442695040888963407u;
		assert_int_equal(due_push(&h, (int64_t)(rng >> 40), i, i * 3), 0);
	}
	due_entry e, prev = { INT64_MIN, 0, 0 };
	size_t n = 0;
	while (due_peek(&h, &e)) {
		due_pop(&h);
		assert_true(e.at > prev.at || (e.at == prev.at && e.slot > prev.slot));
		assert_int_equal(e.gen, e.slot * 3);
		prev = e;
		n++;
	}
	assert_int_equal(n, 1000);
	/* at the same time, lower slots first */
	due_push(&h, 5, 9, 0);
	due_push(&h, 5, 2, 0);
	due_push(&h, 5, 4, 0);
	assert_true(due_peek(&h, &e) && e.slot == 2);
	due_free(&h);
}

static void lateness_quantiles(void **state)
{
	(void)state;
	static lateness_histogram h;
	memset(&h, 0, sizeof(h));
	for (int i = 0; i < 98; i++)
		lateness_record(&h, 50000);       /* 50 us */
	lateness_record(&h, 3500000);             /* 3.5 ms */
	lateness_record(&h, 2000000000);          /* 2 s */
	assert_true(lateness_quantile(&h, 0.5) == 60000);     /* bucket [50, 60) us */
	assert_true(lateness_quantile(&h, 0.99) == 3510000);  /* bucket [3.50, 3.51) ms */
	assert_true(lateness_quantile(&h, 1.0) == 2000000000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(formats_and_parses_iso8601_ms),
		cmocka_unit_test(rejects_malformed_timestamps),
		cmocka_unit_test(takes_the_times_people_type),
		cmocka_unit_test(probes_are_spread_over_the_interval),
		cmocka_unit_test(a_burst_is_spread_over_its_interval),
		cmocka_unit_test(the_heap_gives_the_earliest_first),
		cmocka_unit_test(lateness_quantiles),
	};
	return cmocka_run_group_tests_name("timefmt_schedule", tests, NULL, NULL);
}
