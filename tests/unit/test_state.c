/* Unit tests of crash-safe state files (agent/statefile.h) and the
 * pipeline's state and log rows (agent/pipeline.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/pipeline.h"
#include "agent/statefile.h"

static char dir[64];

static int make_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/cs-unit-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void records_round_trip(void **state)
{
	(void)state;
	char path[128], err[256];
	snprintf(path, sizeof(path), "%s/s.state", dir);
	statefile_writer *w = statefile_begin(NULL, path, err, sizeof(err));
	assert_non_null(w);
	const uint8_t blob[] = { 1, 2, 3 };
	assert_int_equal(statefile_put(w, "alpha", blob, 3), 0);
	assert_int_equal(statefile_put(w, "beta", blob, 0), 0);
	assert_int_equal(statefile_put(w, "", blob, 1), -1);
	assert_int_equal(statefile_commit(w, err, sizeof(err)), 0);
	statefile_reader *r;
	assert_int_equal(statefile_open(NULL, path, STATEFILE_SIZE_MAX, &r, err, sizeof(err)), 1);
	const char *name;
	const uint8_t *b;
	size_t len;
	assert_int_equal(statefile_next(r, &name, &b, &len, err, sizeof(err)), 1);
	assert_string_equal(name, "alpha");
	assert_int_equal(len, 3);
	assert_memory_equal(b, blob, 3);
	assert_int_equal(statefile_next(r, &name, &b, &len, err, sizeof(err)), 1);
	assert_string_equal(name, "beta");
	assert_int_equal(statefile_next(r, &name, &b, &len, err, sizeof(err)), 0);
	statefile_close(r);
	snprintf(path, sizeof(path), "%s/missing.state", dir);
	assert_int_equal(statefile_open(NULL, path, STATEFILE_SIZE_MAX, &r, err, sizeof(err)), 0);
}

static void corrupt_truncated_and_foreign_files_are_rejected(void **state)
{
	(void)state;
	char path[128], err[256];
	snprintf(path, sizeof(path), "%s/c.state", dir);
	statefile_writer *w = statefile_begin(NULL, path, err, sizeof(err));
	const uint8_t blob[64] = { 7 };
	statefile_put(w, "host", blob, sizeof(blob));
	statefile_commit(w, err, sizeof(err));
	FILE *f = fopen(path, "r+b");
	fseek(f, 20, SEEK_SET);
	fputc(0x55, f); /* flip a byte inside the blob */
	fclose(f);
	statefile_reader *r;
	assert_int_equal(statefile_open(NULL, path, STATEFILE_SIZE_MAX, &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "checksum"));
	assert_int_equal(truncate(path, 10), 0);
	assert_int_equal(statefile_open(NULL, path, STATEFILE_SIZE_MAX, &r, err, sizeof(err)), -1);
	f = fopen(path, "wb");
	fputs("{\"not\": \"ours\"}", f);
	fclose(f);
	assert_int_equal(statefile_open(NULL, path, STATEFILE_SIZE_MAX, &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "magic"));
	char moved[256];
	assert_int_equal(statefile_set_aside(NULL, path, moved, sizeof(moved)), 0);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(access(moved, F_OK), 0);
}

/* The size bound is the caller's: a large fleet's state is not refused
 * for its size, and only one rejected file is ever kept aside. */
static void size_bound_is_the_callers_and_one_file_is_kept_aside(void **state)
{
	(void)state;
	char path[128], err[256];
	snprintf(path, sizeof(path), "%s/big.state", dir);
	statefile_writer *w = statefile_begin(NULL, path, err, sizeof(err));
	static uint8_t blob[1 << 20];
	for (int i = 0; i < 3; i++) {
		char name[16];
		snprintf(name, sizeof(name), "h%d", i);
		assert_int_equal(statefile_put(w, name, blob, sizeof(blob)), 0);
	}
	assert_int_equal(statefile_commit(w, err, sizeof(err)), 0);
	statefile_reader *r;
	assert_int_equal(statefile_open(NULL, path, 2 << 20, &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than the 2097152"));
	assert_int_equal(statefile_open(NULL, path, 4 << 20, &r, err, sizeof(err)), 1);
	statefile_close(r);
	char moved[256], again[256];
	assert_int_equal(statefile_set_aside(NULL, path, moved, sizeof(moved)), 0);
	/* the same state refused at the next start, a second later */
	w = statefile_begin(NULL, path, err, sizeof(err));
	assert_int_equal(statefile_commit(w, err, sizeof(err)), 0);
	sleep(1);
	assert_int_equal(statefile_set_aside(NULL, path, again, sizeof(again)), 0);
	assert_string_not_equal(moved, again);
	assert_int_equal(access(moved, F_OK), -1);
	assert_int_equal(access(again, F_OK), 0);
	unlink(again);
}

static const pipeline_params PARAMS = {
	.phi_window = 1000, .phi_dist = PHI_DIST_EXP, .phi_threshold = 1.0, .anomaly_threshold = 0.5,
	.confirm = 1, .accept_after_s = 1800, .dead_after_s = 10, .timeout_ns = 1000000000, .htm = false,
	.htm_aggregate = 1, .htm_resolution = 0.025,
};

static void pipeline_state_restores_the_same_phi(void **state)
{
	(void)state;
	char path[128], err[256];
	snprintf(path, sizeof(path), "%s/phi.state", dir);
	pipeline *a = pipeline_new(&PARAMS, NULL);
	pipeline_add_host(a, "h1");
	pipeline_add_host(a, "h2");
	for (int i = 0; i < 20; i++) {
		pipeline_observe(a, 0, 0, PROBE_OK, 1000 + i);
		pipeline_observe(a, 1, 0, PROBE_OK, 50000);
	}
	assert_int_equal(pipeline_save_state(a, NULL, path, err, sizeof(err)), 0);
	pipeline *b = pipeline_new(&PARAMS, NULL);
	pipeline_add_host(b, "h2"); /* different order, one host unknown */
	pipeline_add_host(b, "new");
	pipeline_add_host(b, "h1");
	size_t restored;
	assert_int_equal(pipeline_load_state(b, NULL, path, &restored, err, sizeof(err)), 1);
	assert_int_equal(restored, 2);
	pipeline_observe(a, 0, 0, PROBE_OK, 3000);
	pipeline_observe(b, 2, 0, PROBE_OK, 3000);
	assert_true(pipeline_last_phi(a, 0) == pipeline_last_phi(b, 2));
	pipeline_observe(b, 1, 0, PROBE_OK, 3000);
	assert_true(pipeline_last_phi(b, 1) == 0.0); /* fresh host */
	pipeline_free(a);
	pipeline_free(b);
}

static void pipeline_writes_fd_and_attention_rows(void **state)
{
	(void)state;
	char logdir[128], err[256];
	snprintf(logdir, sizeof(logdir), "%s/logs", dir);
	csvlogs *logs = csvlogs_open(logdir, LOG_ALL, NULL, err, sizeof(err));
	assert_non_null(logs);
	pipeline *p = pipeline_new(&PARAMS, logs);
	pipeline_add_host(p, "10.0.0.1");
	for (int i = 0; i < 5; i++)
		pipeline_observe(p, 0, 1000, PROBE_OK, 300);
	pipeline_observe(p, 0, 2000, PROBE_TIMEOUT, 0);
	pipeline_free(p);
	csvlogs_close(logs);
	char path[160], line[256];
	snprintf(path, sizeof(path), "%s/fd.csv", logdir);
	FILE *f = fopen(path, "r");
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "timestamp,host,rtt_ns,status,phi\n");
	for (int i = 0; i < 6; i++)
		assert_non_null(fgets(line, sizeof(line), f));
	/* lost: t = 1 s against a 300 ns mean */
	assert_string_equal(line, "1970-01-01T00:00:02.000Z,10.0.0.1,,TIMEOUT,1447648.273\n");
	fclose(f);
	snprintf(path, sizeof(path), "%s/attention.csv", logdir);
	f = fopen(path, "r");
	assert_non_null(fgets(line, sizeof(line), f));
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "1970-01-01T00:00:01.000Z,10.0.0.1,HEALTHY,0.000,,\n");
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "1970-01-01T00:00:02.000Z,10.0.0.1,PENDING,1447648.273,,\n");
	assert_null(fgets(line, sizeof(line), f));
	fclose(f);
}

/* What the reports said, summed. */
static struct {
	int reports;
	uint32_t probes, lost;
	float min_ms, max_ms;
	bool ordered; /* each: least <= median <= p90 <= greatest */
} said;
static void keep_summary(void *ctx, const pipeline_report *r)
{
	(void)ctx;
	const publisher_summary *m = &r->summary;
	if (said.reports++ == 0)
		said.min_ms = m->min_ms;
	said.probes += m->probes;
	said.lost += m->lost;
	if (m->lost < m->probes) {
		said.min_ms = m->min_ms < said.min_ms ? m->min_ms : said.min_ms;
		said.max_ms = m->max_ms > said.max_ms ? m->max_ms : said.max_ms;
		said.ordered = said.ordered && m->min_ms <= m->median_ms && m->median_ms <= m->p90_ms &&
		               m->p90_ms <= m->max_ms;
	}
}

/* Each report says what was measured since the one before: together they
 * count every probe once, and each one's least, median, 90th percentile
 * and greatest are in order, however many probes it had to thin out. */
static void reports_summarize_the_probes_since_the_last(void **state)
{
	(void)state;
	said.ordered = true;
	pipeline *p = pipeline_new(&PARAMS, NULL);
	pipeline_set_reporter(p, keep_summary, NULL);
	pipeline_add_host(p, "h");
	pipeline_observe(p, 0, 0, PROBE_OK, 1000000); /* the first: reported at once */
	assert_int_equal(said.reports, 1);
	assert_int_equal(said.probes, 1);
	/* 1,000 probes of 1 to 1,000 µs in a scrambled order, a tenth lost,
	 * then one 10 s on (a report is due) */
	for (int i = 0; i < 1000; i++) {
		int64_t us = 1 + (i * 389) % 1000;
		pipeline_observe(p, 0, 1 + i, i % 10 == 9 ? PROBE_TIMEOUT : PROBE_OK, us * 1000);
	}
	pipeline_observe(p, 0, 10001, PROBE_OK, 500000);
	assert_int_equal(said.probes, 1002);
	assert_int_equal(said.lost, 100);
	assert_true(said.min_ms >= 0.001f && said.min_ms <= 0.002f);
	assert_true(said.max_ms == 1.0f);
	assert_true(said.ordered);
	pipeline_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reports_summarize_the_probes_since_the_last),
		cmocka_unit_test(records_round_trip),
		cmocka_unit_test(corrupt_truncated_and_foreign_files_are_rejected),
		cmocka_unit_test(size_bound_is_the_callers_and_one_file_is_kept_aside),
		cmocka_unit_test(pipeline_state_restores_the_same_phi),
		cmocka_unit_test(pipeline_writes_fd_and_attention_rows),
	};
	return cmocka_run_group_tests_name("state", tests, make_dir, remove_dir);
}
