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

static void probes_are_spread_over_the_interval(void **state)
{
	(void)state;
	schedule s;
	schedule_init(&s, 1000, 1000000000, 4);
	assert_true(schedule_due(&s, 0) == 1000);
	assert_true(schedule_due(&s, 1) == 1000 + 250000000);
	assert_true(schedule_due(&s, 3) == 1000 + 750000000);
	assert_true(schedule_due(&s, 4) == 1000 + 1000000000);
	assert_int_equal(schedule_host(&s, 6), 2);
	/* no drift after a year of probes */
	assert_true(schedule_due(&s, UINT64_C(4) * 31536000) == 1000 + INT64_C(31536000) * 1000000000);
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
		cmocka_unit_test(probes_are_spread_over_the_interval),
		cmocka_unit_test(lateness_quantiles),
	};
	return cmocka_run_group_tests_name("timefmt_schedule", tests, NULL, NULL);
}
