/* Unit tests of hview-logtail's rules (tools/logrules.h) and log follower
 * (tools/logfollow.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "pano/common/model.h"
#include "tools/logfollow.h"
#include "tools/logrules.h"

static logrules *load(const char *json)
{
	logrules *r = logrules_new();
	char err[512] = "";
	if (logrules_load_json(r, json, "test", err, sizeof(err)) != 0)
		fail_msg("%s", err);
	return r;
}

static void templates_take_groups_and_dollars(void **state)
{
	(void)state;
	logrules *r = load("{\"rules\": [{\"match\": \"to ([a-z]+):([0-9]+) cost ([0-9.]+)\","
	                   " \"subject\": \"$1:$2\", \"metric\": \"$$net\", \"status\": \"u\", \"score\": \"$3\"}]}");
	logevent ev[4];
	assert_int_equal(logrules_match(r, "conn to db:5432 cost 12.5 ms", ev, 4), 1);
	assert_string_equal(ev[0].subject, "db:5432");
	assert_string_equal(ev[0].metric, "$net");
	assert_int_equal(ev[0].status, PANO_UNHEALTHY);
	assert_true(ev[0].score == 12.5f);
	assert_true(ev[0].time_ns == 0); /* no time rule: the caller's clock */
	assert_int_equal(logrules_match(r, "nothing here", ev, 4), 0);
	logrules_free(r);
}

static void time_with_milliseconds_in_utc(void **state)
{
	(void)state;
	logrules *r = load("{\"time\": {\"match\": \"^([0-9-]+ [0-9:]+)\", \"format\": \"%Y-%m-%d %H:%M:%S\","
	                   " \"zone\": \"utc\"},"
	                   " \"rules\": [{\"match\": \"down ([a-z]+)\", \"subject\": \"$1\", \"metric\": \"m\","
	                   " \"status\": \"UNHEALTHY\"}]}");
	logevent ev[1];
	assert_int_equal(logrules_match(r, "2026-11-23 10:00:01,250 down web", ev, 1), 1);
	assert_true(ev[0].time_ns == INT64_C(1795428001250000000));
	assert_true(ev[0].score == 0.0f); /* UNHEALTHY's default score */
	assert_int_equal(logrules_match(r, "garbled time down web", ev, 1), 1);
	assert_true(ev[0].time_ns == 0);
	/* a year no clock reaches (found by fuzz_rules: it overflowed) */
	assert_int_equal(logrules_match(r, "99999999-01-01 10:00:01 down web", ev, 1), 1);
	assert_true(ev[0].time_ns == 0);
	logrules_free(r);
}

/* Repetitions glibc's regcomp expands into copies (the fuzzer's "S+++...")
 * are refused before they take gigabytes; ordinary ones still load. */
static void exploding_repetitions_are_refused(void **state)
{
	(void)state;
	static const char *const bad[] = { "S++++++++++++++++++++++++++++++++++++++++", "((a{100}){100}){100}",
	                                   "(x{1000}){1000}", "S*****************++++++++++++" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char json[512], err[512] = "";
		snprintf(json, sizeof(json), "{\"rules\": [{\"match\": \"%s\", \"subject\": \"s\", "
		         "\"metric\": \"m\", \"status\": \"u\", \"score\": 1}]}", bad[i]);
		logrules *r = logrules_new();
		assert_int_not_equal(logrules_load_json(r, json, "test", err, sizeof(err)), 0);
		if (!strstr(err, "too large once its repetitions are expanded"))
			fail_msg("'%s': %s", bad[i], err);
		logrules_free(r);
	}
	logrules_free(load("{\"rules\": [{\"match\": \"^([0-9]{4}/[0-9]{2}/[0-9]{2}) ([a-z]+)+ x{2,50} [[:alpha:]]{1,8} a*b*c?d*e*f?g*h*\", "
	                   "\"subject\": \"$1\", \"metric\": \"m\", \"status\": \"u\", \"score\": 1}]}"));
}

static void every_rule_until_stop_and_bad_values_dropped(void **state)
{
	(void)state;
	logrules *r = load("{\"rules\": ["
	                   " {\"name\": \"a\", \"match\": \"x=([a-z]*)\", \"subject\": \"$1\", \"metric\": \"m\", \"status\": \"h\"},"
	                   " {\"name\": \"b\", \"match\": \"x=\", \"subject\": \"s\", \"metric\": \"m\", \"status\": \"p\", \"stop\": true},"
	                   " {\"name\": \"c\", \"match\": \"x\", \"subject\": \"never\", \"metric\": \"m\", \"status\": \"h\"},"
	                   " {\"name\": \"d\", \"match\": \"st=([A-Z]+)\", \"subject\": \"t\", \"metric\": \"m\", \"status\": \"$1\"}]}");
	logevent ev[4];
	assert_int_equal(logrules_match(r, "x=web", ev, 4), 2);
	assert_string_equal(ev[0].rule, "a");
	assert_true(ev[0].score == 100.0f); /* HEALTHY's default */
	assert_string_equal(ev[1].rule, "b");
	assert_int_equal(logrules_match(r, "x=", ev, 4), 1); /* an empty subject is dropped */
	assert_int_equal(logrules_dropped(r), 1);
	assert_int_equal(logrules_match(r, "st=BOGUS", ev, 4), 0);
	assert_int_equal(logrules_match(r, "st=DEAD", ev, 4), 1);
	assert_int_equal(ev[0].status, PANO_DEAD);
	char *keep[] = { "d" };
	char err[128];
	assert_int_equal(logrules_keep_only(r, keep, 1, err, sizeof(err)), 0);
	assert_int_equal(logrules_count(r), 1);
	char *unknown[] = { "zz" };
	assert_int_equal(logrules_keep_only(r, unknown, 1, err, sizeof(err)), -1);
	assert_string_equal(err, "no rule named 'zz'");
	logrules_free(r);
}

static void follower_keeps_partial_lines_and_skips_long_ones(void **state)
{
	(void)state;
	char path[] = "/tmp/test_logfollow.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	logfollow *f = logfollow_new(path);
	assert_true(logfollow_check(f));
	uint64_t n;
	assert_null(logfollow_next(f, &n));
	assert_int_equal(write(fd, "one\ntw", 6), 6);
	assert_string_equal(logfollow_next(f, &n), "one");
	assert_int_equal(n, 1);
	assert_null(logfollow_next(f, &n));
	assert_int_equal(write(fd, "o\r\n", 3), 3);
	assert_string_equal(logfollow_next(f, &n), "two");
	char *big = malloc(LOGFOLLOW_MAX_LINE * 2);
	memset(big, 'x', LOGFOLLOW_MAX_LINE * 2);
	assert_int_equal(write(fd, big, LOGFOLLOW_MAX_LINE * 2), LOGFOLLOW_MAX_LINE * 2);
	assert_int_equal(write(fd, "\nthree\nfour", 11), 11);
	assert_string_equal(logfollow_next(f, &n), "three");
	assert_int_equal(n, 4);
	assert_int_equal(logfollow_long_lines(f), 1);
	assert_null(logfollow_next(f, &n));
	assert_string_equal(logfollow_flush(f, &n), "four");
	free(big);
	close(fd);
	unlink(path);
	logfollow_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(templates_take_groups_and_dollars),
		cmocka_unit_test(time_with_milliseconds_in_utc),
		cmocka_unit_test(every_rule_until_stop_and_bad_values_dropped),
		cmocka_unit_test(exploding_repetitions_are_refused),
		cmocka_unit_test(follower_keeps_partial_lines_and_skips_long_ones),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
