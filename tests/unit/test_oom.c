/* Out of memory, everywhere: each scenario runs again and again with its
 * Nth allocation failing, N = 1, 2, ... until a run meets no failure at all,
 * so every allocation the scenario makes fails once.  The test links with
 * -Wl,--wrap=malloc,... (Makefile): our code's malloc, calloc, realloc,
 * strdup and strndup come here; the system libraries' own do not.  Under
 * ASan and LeakSanitizer (build-san) a crash, a read of freed memory or a
 * leak on any of those paths fails the test.  Where a call says it stored
 * something, it is there: no silent loss.  At the end it prints how many
 * distinct allocation sites it made fail. */
#include <math.h>
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
#include "agent/targets.h"
#include "detector/attention.h"
#include "detector/phi.h"
#include "htm/htm.h"
#include "pano/client/publisher.h"
#include "tools/csv_reader.h"
#include "pano/client/client.h"
#include "pano/common/regfile.h"
#include "pano/node/config.h"
#include "pano/node/store.h"
#include "pano/node/wire.h"

/* --- the failing allocator -------------------------------------------------------- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

#define SITES_MAX 4096
static unsigned long counted, fail_at, injected; /* fail_at 0: never */
static const void *sites[SITES_MAX];
static size_t nsites;

static int fails(const void *caller)
{
	if (fail_at == 0 || ++counted != fail_at)
		return 0;
	injected++;
	size_t i = 0;
	while (i < nsites && sites[i] != caller)
		i++;
	if (i == nsites && nsites < SITES_MAX)
		sites[nsites++] = caller;
	return 1;
}

void *__wrap_malloc(size_t n) { return fails(__builtin_return_address(0)) ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t size) { return fails(__builtin_return_address(0)) ? NULL : __real_calloc(n, size); }
void *__wrap_realloc(void *p, size_t n) { return fails(__builtin_return_address(0)) ? NULL : __real_realloc(p, n); }
char *__wrap_strdup(const char *s) { return fails(__builtin_return_address(0)) ? NULL : __real_strdup(s); }
char *__wrap_strndup(const char *s, size_t n) { return fails(__builtin_return_address(0)) ? NULL : __real_strndup(s, n); }

/* Runs scenario with its 1st, 2nd, ... allocation failing until one run
 * meets no failure; returns how many runs that took. */
static unsigned long sweep(void (*scenario)(void))
{
	unsigned long n;
	for (n = 1;; n++) {
		counted = injected = 0;
		fail_at = n;
		scenario();
		fail_at = 0;
		if (injected == 0)
			break;
		assert_true(n < 1000000);
	}
	return n;
}

/* --- scenarios ---------------------------------------------------------------------- */

#define T0 INT64_C(1767571200000)

/* The decision layer through an excursion that recurs, a slow start, loss,
 * and a save and load. */
static void attention_scenario(void)
{
	attention_tracker *t = attention_new();
	if (!t)
		return;
	attention_params p = attention_params_default();
	int64_t now = T0;
	for (int i = 0; i < 1400; i++, now += 1000) {
		bool slow = i < 40 || (i % 300 >= 200 && i % 300 < 230);
		attention_input in = { now, i % 97 == 0, (int64_t)((slow ? 50 : 10) * 1e6), 0.1, NAN, 1, i % 97 == 0 };
		attention_update(t, &p, &in);
	}
	size_t n = attention_state_size(t);
	uint8_t *buf = malloc(n);
	if (buf) {
		attention_save(t, buf);
		char err[128];
		attention_tracker *back = attention_load(buf, n, err, sizeof(err));
		if (back) /* what loads is what was saved */
			assert_int_equal(attention_state_size(back), n);
		attention_free(back);
		free(buf);
	}
	attention_free(t);
}

static void phi_scenario(void)
{
	phi_detector *d = phi_new(100, PHI_DIST_EXP);
	if (!d)
		return;
	for (int i = 0; i < 200; i++)
		phi_add(d, 1000000 + i);
	phi_free(d);
}

/* The agent's pipeline without HTM: hosts, outcomes, logs off, its state
 * saved and loaded. */
static char state_dir[] = "/tmp/cloudsonar-oom.XXXXXX";

static void pipeline_scenario(void)
{
	pipeline_params pp;
	memset(&pp, 0, sizeof(pp));
	pp.phi_window = 100;
	pp.phi_dist = PHI_DIST_EXP;
	pp.phi_threshold = 1;
	pp.anomaly_threshold = 0.4;
	pp.confirm = 3;
	pp.accept_after_s = 1800;
	pp.dead_after_s = 10;
	pp.slow_margin_s = 0.0001;
	pp.timeout_ns = 1000000000;
	pipeline *p = pipeline_new(&pp, NULL);
	if (!p)
		return;
	long a = pipeline_add_host(p, "a"), b = pipeline_add_host(p, "b");
	for (int i = 0; a >= 0 && b >= 0 && i < 200; i++) {
		pipeline_observe(p, (size_t)a, T0 + i * 1000, PROBE_OK, 1000000 + (i % 50 > 40 ? 9000000 : 0));
		pipeline_observe(p, (size_t)b, T0 + i * 1000, i % 5 ? PROBE_OK : PROBE_TIMEOUT, 2000000);
	}
	char err[256];
	regdir d;
	if (regdir_open(&d, state_dir, err, sizeof(err)) == 0) {
		if (pipeline_save_state(p, &d, "phi.state", err, sizeof(err)) == 0) {
			pipeline *q = pipeline_new(&pp, NULL);
			size_t restored = 0;
			if (q && pipeline_add_host(q, "a") >= 0 && pipeline_add_host(q, "b") >= 0)
				pipeline_load_state(q, &d, "phi.state", &restored, err, sizeof(err));
			pipeline_free(q);
		}
		regdir_close(&d);
	}
	pipeline_free(p);
}

/* Panorama's store: reports decoded from the wire, added, inferred and
 * garbage collected; an add that says it stored an observation did. */
static void store_scenario(void)
{
	pano_limits l = pano_limits_default();
	pano_store *s = pano_store_new(&l);
	if (!s)
		return;
	char err[256];
	for (int i = 0; i < 12; i++) {
		char subject[16], observer[16];
		snprintf(subject, sizeof(subject), "h%d", i % 4);
		snprintf(observer, sizeof(observer), "o%d", i % 3);
		pano_one_metric_report x;
		pano_one_metric_report_init(&x, observer, subject, "rtt", i % 2 ? PANO_HEALTHY : PANO_UNHEALTHY, 50.0f,
		                            1795428000 + i, 0);
		x.value.reason = i % 2 ? "" : "slow 4.2x baseline";
		pano_obs o;
		if (pano_obs_from_pb(s, &x.observation, 1795428100, &o, err, sizeof(err)) != 0)
			continue; /* refused, and said so */
		uint64_t seq;
		pano_view *v = NULL;
		int rc = pano_store_add(s, observer, subject, &o, &seq, &v, err, sizeof(err));
		if (rc != 0) {
			pano_obs_clear(&o);
			continue;
		}
		/* it says stored: it is there, and inferred */
		const pano_view *held = pano_store_view(s, subject, observer);
		assert_non_null(held);
		assert_true(pano_view_newest(held)->sec == 1795428000 + i);
		assert_non_null(pano_subject_inference(pano_store_subject(s, subject)));
	}
	pano_store_gc(s, NULL, 1795429000, 600, false, NULL);
	pano_store_free(s);
}

static void targets_scenario(void)
{
	static const char text[] = "# fleet\n"
	                           "10.0.0.7 name=web-1 group=web env=prod rack=r12\n"
	                           "10.0.0.8 name=web-2 group=web method=tcp:80 interval=5 phi-threshold=2\n"
	                           "db-1.example.org group=db\n";
	target_list t;
	char err[256];
	int rc = targets_parse(text, sizeof(text) - 1, "fleet.conf", &t, err, sizeof(err));
	if (rc == 0) {
		assert_int_equal(t.n, 3);
		targets_free(&t);
	} else {
		assert_non_null(strstr(err, "memory")); /* the text is good: only memory may fail it */
	}
}

static void config_scenario(void)
{
	char path[] = "/tmp/cloudsonar-oom-cfg.XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return;
	static const char cfg[] = "{\"Addr\": \"127.0.0.1:6688\", \"Id\": \"pano0\", \"Subjects\": [\"a\", \"b\"],"
	                          " \"Peers\": {\"pano0\": \"127.0.0.1:6688\", \"pano1\": \"127.0.0.2:6688\"},"
	                          " \"DBFile\": \"x.db\"}";
	if (write(fd, cfg, sizeof(cfg) - 1) == (ssize_t)(sizeof(cfg) - 1)) {
		pano_config c;
		char err[256];
		pano_config_defaults(&c);
		pano_config_load(&c, path, err, sizeof(err));
		pano_config_clear(&c);
	}
	close(fd);
	unlink(path);
}

static void htm_scenario(void)
{
	htm_params p = htm_params_default();
	htm_model *m = htm_new(&p);
	if (!m)
		return;
	htm_result r;
	for (int i = 0; i < 20; i++)
		htm_step(m, 3.0 + (i % 5) * 0.1, T0 / 1000 + i, true, &r);
	size_t cap = htm_state_size(m), len = 0;
	uint8_t *buf = malloc(cap);
	if (buf && htm_save(m, buf, cap, &len) == 0) {
		char err[128];
		htm_free(htm_load(buf, len, err, sizeof(err)));
	}
	free(buf);
	htm_free(m);
}

static void csv_scenario(void)
{
	static const char rows[] = "timestamp,host,rtt_ns\n2026-12-06T10:00:00.000Z,a,1000\n"
	                           "2026-12-06T10:00:01.000Z,b,\nbad line\n2026-12-06T10:00:02.000Z,a,2000\n";
	FILE *f = fmemopen((void *)rows, sizeof(rows) - 1, "r");
	if (!f)
		return;
	csv_reader *r = csv_reader_new(f);
	sonar_row row;
	char err[256];
	while (r && csv_reader_next(r, &row, err, sizeof(err)) != 0)
		;
	csv_reader_free(r);
	fclose(f);
}

/* The publisher's queue: reports queued (and appended to its file), then
 * a second publisher that loads them back. */
static void publisher_scenario(void)
{
	char path[300];
	snprintf(path, sizeof(path), "%s/publish.queue", state_dir);
	unlink(path);
	char err[256];
	publisher *p = publisher_new(NULL, NULL, 0, "oom", path, NULL, err, sizeof(err));
	if (!p)
		return;
	static const char *const labels[] = { "rack=r1", "zone=a" };
	static const publisher_summary summary = { 50, 5, 1.0f, 2.0f, 3.0f, 9.0f };
	publisher_extra x = { "slow 3.0x baseline", 3.0f, 0.1f, labels, 2, labels, 1, &summary };
	for (int i = 0; i < 5; i++)
		publisher_report(p, "h", "rtt", PANO_UNHEALTHY, 30, &x, INT64_C(1795428000000000000) + i);
	size_t queued = publisher_pending(p);
	publisher_free(p);
	publisher *q = publisher_new(NULL, NULL, 0, "oom", path, NULL, err, sizeof(err));
	if (q) /* what was queued (and so on disk) is loaded back, or the start says why */
		assert_true(publisher_pending(q) <= queued);
	publisher_free(q);
}

/* --- the sweep ------------------------------------------------------------------- */

static void every_allocation_fails_once(void **state)
{
	(void)state;
	assert_non_null(mkdtemp(state_dir));
	static const struct { const char *name; void (*run)(void); } scenarios[] = {
		{ "decision layer", attention_scenario }, { "phi", phi_scenario },
		{ "pipeline and state file", pipeline_scenario }, { "Panorama store", store_scenario },
		{ "targets file", targets_scenario }, { "node config", config_scenario },
		{ "HTM model", htm_scenario }, { "sonar.csv reader", csv_scenario },
		{ "Panorama queue", publisher_scenario },
	};
	unsigned long runs = 0;
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
		unsigned long n = sweep(scenarios[i].run);
		printf("# %s: %lu allocations, each failed once\n", scenarios[i].name, n - 1);
		runs += n;
	}
	printf("# %lu runs; %zu distinct allocation sites made to fail\n", runs, nsites);
	assert_true(nsites >= 40);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", state_dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_allocation_fails_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
