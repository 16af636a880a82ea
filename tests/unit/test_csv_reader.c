/* Unit tests of the sonar.csv reader (tools/csv_reader.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tools/csv_reader.h"

static FILE *from(const char *text, size_t len)
{
	FILE *f = tmpfile();
	assert_non_null(f);
	fwrite(text, 1, len, f);
	rewind(f);
	return f;
}

static void reads_rows_header_crlf_and_last_line(void **state)
{
	(void)state;
	static const char text[] =
		"timestamp,host,rtt_ns\r\n"
		"2026-11-22T16:01:09.345Z,127.0.0.1,45000\r\n"
		"\n"
		"2026-11-22T16:01:10.345Z,::1,\n"
		"timestamp,host,rtt_ns\n"
		"2026-11-22T16:01:11.345Z,db-1.example,7";
	FILE *f = from(text, sizeof(text) - 1);
	csv_reader *r = csv_reader_new(f);
	sonar_row row;
	char err[256];
	assert_int_equal(csv_reader_next(r, &row, err, sizeof(err)), 1);
	assert_string_equal(row.host, "127.0.0.1");
	assert_false(row.lost);
	assert_true(row.rtt_ns == 45000);
	assert_int_equal(csv_reader_next(r, &row, err, sizeof(err)), 1);
	assert_string_equal(row.host, "::1");
	assert_true(row.lost);
	assert_int_equal(csv_reader_next(r, &row, err, sizeof(err)), 1);
	assert_string_equal(row.host, "db-1.example");
	assert_true(row.rtt_ns == 7);
	assert_int_equal(csv_reader_next(r, &row, err, sizeof(err)), 0);
	csv_reader_free(r);
	fclose(f);
}

static void bad_lines_are_reported_with_line_numbers(void **state)
{
	(void)state;
	static const char text[] =
		"garbage\n"
		"2026-11-22T16:01:09.345Z,127.0.0.1\n"
		"2026-11-22T16:01:09.345Z,127.0.0.1,-5\n"
		"2026-11-22T16:01:09.345Z,127.0.0.1,99999999999999999999\n"
		"2026-11-22T16:01:09.345Z,127.0.0.1,1e3\n"
		"2026-11-22T16:01:09.345Z,bad host,1\n"
		"2026-11-22T16:01:09.345Z,127.0.0.1,1,extra\n"
		"2026-11-22T16:01:09,127.0.0.1,1\n"
		"2026-11-22T16:01:09.345Z,127.0.0.1, 5\n"
		"2026-11-22T16:01:09.345Z,127.0.0.1,42\n";
	FILE *f = from(text, sizeof(text) - 1);
	csv_reader *r = csv_reader_new(f);
	sonar_row row;
	char err[256];
	for (int line = 1; line <= 9; line++) {
		assert_int_equal(csv_reader_next(r, &row, err, sizeof(err)), -1);
		char want[32];
		snprintf(want, sizeof(want), "line %d: ", line);
		assert_memory_equal(err, want, strlen(want));
	}
	assert_int_equal(csv_reader_next(r, &row, err, sizeof(err)), 1);
	assert_true(row.rtt_ns == 42);
	csv_reader_free(r);
	fclose(f);
}

static void overlong_lines_and_nul_bytes_are_skipped(void **state)
{
	(void)state;
	size_t big = 100000;
	char *text = malloc(big + 200);
	memset(text, 'x', big);
	text[big] = '\n';
	static const char nul_line[] = "2026-11-22T16:01:09.345Z,a\0b,1\n";
	memcpy(text + big + 1, nul_line, sizeof(nul_line) - 1);
	static const char good[] = "2026-11-22T16:01:09.345Z,h,1\n";
	memcpy(text + big + 1 + sizeof(nul_line) - 1, good, sizeof(good) - 1);
	FILE *f = from(text, big + sizeof(nul_line) + sizeof(good) - 1);
	csv_reader *r = csv_reader_new(f);
	sonar_row row;
	char err[256];
	assert_int_equal(csv_reader_next(r, &row, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "line 1: 100000 bytes long"));
	assert_int_equal(csv_reader_next(r, &row, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "line 2: contains a NUL"));
	assert_int_equal(csv_reader_next(r, &row, err, sizeof(err)), 1);
	assert_string_equal(row.host, "h");
	csv_reader_free(r);
	fclose(f);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reads_rows_header_crlf_and_last_line),
		cmocka_unit_test(bad_lines_are_reported_with_line_numbers),
		cmocka_unit_test(overlong_lines_and_nul_bytes_are_skipped),
	};
	return cmocka_run_group_tests_name("csv_reader", tests, NULL, NULL);
}
