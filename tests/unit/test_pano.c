/* Unit tests of the Panorama library: natural order, the store, the
 * majority inference, output formats and the config reader. */
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

#include "pano/node/config.h"
#include "pano/client/format.h"
#include "pano/node/inference.h"
#include "pano/common/natural.h"
#include "pano/node/store.h"
#include "pano/node/judge.h"
#include "pano/node/wire.h"
#include "pano/client/client.h"
#include "pano/common/arena.h"
#include "pano/common/strmap.h"
#include "pano/common/text.h"

static void natural_order(void **state)
{
	(void)state;
	assert_true(natural_cmp("peer@2", "peer@10") < 0);
	assert_true(natural_cmp("peer@10", "peer@9") > 0);
	assert_true(natural_cmp("a", "b") < 0);
	assert_true(natural_cmp("x1y2", "x1y10") < 0);
	assert_true(natural_cmp("abc", "abc") == 0);
	assert_true(natural_cmp("ab", "abc") < 0);
	const char *p1 = "peer@02", *p2 = "peer@2";
	assert_true(natural_cmp_ptr(&p1, &p2) != 0); /* total order */
}

static void strmap_put_get_remove(void **state)
{
	(void)state;
	strmap *m = strmap_new();
	char key[32];
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(strmap_put(m, key, (void *)(intptr_t)(i + 1)), 0);
	}
	for (int i = 0; i < 5000; i += 2) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_true(strmap_remove(m, key) == (void *)(intptr_t)(i + 1));
	}
	assert_int_equal(strmap_count(m), 2500);
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		void *v = strmap_get(m, key);
		assert_true(i % 2 ? v == (void *)(intptr_t)(i + 1) : v == NULL);
	}
	strmap_free(m);
}

/* An observation of one metric, interned in s. */
static pano_obs obs1(pano_store *s, int64_t sec, const char *name, int status, float score)
{
	char err[128];
	pano_obs o = { sec, 0, 1, malloc(sizeof(pano_metric)) };
	o.metrics[0] = (pano_metric){ pano_store_intern(s, name, err, sizeof(err)), (uint8_t)status, score, NULL, 0.0f, -1.0f };
	return o;
}

static void add(pano_store *s, const char *observer, const char *subject, pano_obs o)
{
	uint64_t seq;
	char err[128];
	int rc = pano_store_add(s, observer, subject, &o, &seq, NULL, err, sizeof(err));
	if (rc != 0)
		pano_obs_clear(&o);
	assert_int_equal(rc, 0);
}

static const pano_metric *inferred(pano_store *s, const char *subject)
{
	const pano_inference *inf = pano_subject_inference(pano_store_subject(s, subject));
	assert_true(inf->has_obs);
	return &inf->obs.metrics[0];
}

static void view_keeps_newest_ten_and_drops_duplicates(void **state)
{
	(void)state;
	pano_store *s = pano_store_new(NULL);
	for (int i = 0; i < 25; i++)
		add(s, "o", "x", obs1(s, 100 + i, "m", PANO_HEALTHY, (float)i));
	const pano_view *v = pano_subject_view(pano_store_subject(s, "x"), "o");
	assert_int_equal(v->count, PANO_VIEW_DEPTH);
	assert_true(pano_view_at(v, 0)->sec == 115);
	assert_true(pano_view_newest(v)->sec == 124);
	assert_true(v->seq == 25);
	pano_obs dup = obs1(s, 124, "m", PANO_HEALTHY, 24.0f);
	uint64_t seq;
	char err[128];
	assert_int_equal(pano_store_add(s, "o", "x", &dup, &seq, NULL, err, sizeof(err)), 1);
	pano_obs_clear(&dup);
	assert_true(v->seq == 25);
	pano_store_free(s);
}

static void view_inference_averages_two_of_a_status(void **state)
{
	(void)state;
	pano_store *s = pano_store_new(NULL);
	add(s, "o", "x", obs1(s, 1, "m", PANO_UNHEALTHY, 10));
	add(s, "o", "x", obs1(s, 2, "m", PANO_UNHEALTHY, 20));
	add(s, "o", "x", obs1(s, 3, "m", PANO_UNHEALTHY, 30));
	/* newest two UNHEALTHY: (30 + 20) / 2; the third is beyond the look-back */
	assert_int_equal(inferred(s, "x")->status, PANO_UNHEALTHY);
	assert_float_equal(inferred(s, "x")->score, 25.0, 1e-6);
	add(s, "o", "x", obs1(s, 4, "m", PANO_HEALTHY, 90));
	/* a different status ends the look-back: the newest alone */
	assert_int_equal(inferred(s, "x")->status, PANO_HEALTHY);
	assert_float_equal(inferred(s, "x")->score, 90.0, 1e-6);
	pano_store_free(s);
}

static void older_pending_behind_healthy_is_skipped(void **state)
{
	(void)state;
	pano_store *s = pano_store_new(NULL);
	add(s, "o", "x", obs1(s, 1, "m", PANO_HEALTHY, 80));
	add(s, "o", "x", obs1(s, 2, "m", PANO_PENDING, 50));
	add(s, "o", "x", obs1(s, 3, "m", PANO_HEALTHY, 100));
	/* newest HEALTHY 100, the PENDING is passed over, HEALTHY 80 averages in */
	assert_int_equal(inferred(s, "x")->status, PANO_HEALTHY);
	assert_float_equal(inferred(s, "x")->score, 90.0, 1e-6);
	pano_store_free(s);
}

static void majority_across_views_ties_go_worse(void **state)
{
	(void)state;
	pano_store *s = pano_store_new(NULL);
	add(s, "a", "x", obs1(s, 1, "m", PANO_HEALTHY, 90));
	add(s, "b", "x", obs1(s, 2, "m", PANO_UNHEALTHY, 10));
	/* one each: the tie goes to the worse status; scores averaged */
	assert_int_equal(inferred(s, "x")->status, PANO_UNHEALTHY);
	assert_float_equal(inferred(s, "x")->score, 50.0, 1e-6);
	add(s, "c", "x", obs1(s, 3, "m", PANO_HEALTHY, 60));
	assert_int_equal(inferred(s, "x")->status, PANO_HEALTHY);
	assert_float_equal(inferred(s, "x")->score, (90.0 + 10.0 + 60.0) / 3.0, 1e-5);
	const pano_inference *inf = pano_subject_inference(pano_store_subject(s, "x"));
	assert_int_equal(inf->nobservers, 3);
	assert_string_equal(inf->observers[0], "a");
	assert_true(inf->obs.sec == 3); /* the newest timestamp */
	pano_store_free(s);
}

static void inference_leaves_observations_alone(void **state)
{
	(void)state;
	pano_store *s = pano_store_new(NULL);
	add(s, "o", "x", obs1(s, 1, "m", PANO_UNHEALTHY, 10));
	add(s, "o", "x", obs1(s, 2, "m", PANO_UNHEALTHY, 30));
	const pano_view *v = pano_subject_view(pano_store_subject(s, "x"), "o");
	assert_float_equal(pano_view_at(v, 0)->metrics[0].score, 10.0, 0);
	assert_float_equal(pano_view_at(v, 1)->metrics[0].score, 30.0, 0);
	pano_store_free(s);
}

static void bounds_are_enforced(void **state)
{
	(void)state;
	pano_limits lim = pano_limits_default();
	lim.max_subjects = 2;
	lim.max_metric_names = 1;
	pano_store *s = pano_store_new(&lim);
	char err[128];
	add(s, "o", "x", obs1(s, 1, "m", PANO_HEALTHY, 1));
	add(s, "o", "y", obs1(s, 1, "m", PANO_HEALTHY, 1));
	pano_obs o = obs1(s, 1, "m", PANO_HEALTHY, 1);
	uint64_t seq;
	assert_int_equal(pano_store_add(s, "o", "z", &o, &seq, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "subjects"));
	pano_obs_clear(&o);
	assert_null(pano_store_intern(s, "other", err, sizeof(err)));
	assert_false(pano_name_valid(s, "", err, sizeof(err)));
	assert_false(pano_name_valid(s, "has space", err, sizeof(err)));
	char longname[300];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_false(pano_name_valid(s, longname, err, sizeof(err)));
	pano_store_free(s);
}

/* The node's memory bounds: views and metric values in all; a refused
 * report leaves nothing behind, and garbage collection gives room back. */
static void memory_bounds_are_enforced(void **state)
{
	(void)state;
	pano_limits lim = pano_limits_default();
	lim.max_views = 2;
	lim.max_values = 3;
	pano_store *s = pano_store_new(&lim);
	char err[128];
	uint64_t seq;
	add(s, "o1", "x", obs1(s, 1, "m", PANO_HEALTHY, 1));
	add(s, "o2", "x", obs1(s, 1, "m", PANO_HEALTHY, 1));
	pano_obs o = obs1(s, 1, "m", PANO_HEALTHY, 1);
	assert_int_equal(pano_store_add(s, "o1", "y", &o, &seq, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "2 views"));
	assert_null(pano_store_subject(s, "y")); /* no empty subject left */
	pano_obs_clear(&o);
	add(s, "o1", "x", obs1(s, 2, "m", PANO_HEALTHY, 1));
	assert_int_equal(pano_store_value_count(s), 3);
	o = obs1(s, 3, "m", PANO_HEALTHY, 1);
	assert_int_equal(pano_store_add(s, "o2", "x", &o, &seq, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "3 metric values"));
	pano_obs_clear(&o);
	assert_int_equal(pano_store_gc(s, NULL, 100, 10, false, NULL), 3);
	assert_int_equal(pano_store_view_count(s), 0);
	assert_int_equal(pano_store_value_count(s), 0);
	add(s, "o1", "y", obs1(s, 95, "m", PANO_HEALTHY, 1));
	pano_store_free(s);
}

static void watch_list_filters_only_when_asked(void **state)
{
	(void)state;
	pano_store *s = pano_store_new(NULL);
	assert_true(pano_store_watching(s, "x"));
	pano_store_set_filter(s, true);
	assert_false(pano_store_watching(s, "x"));
	pano_store_watch(s, "x");
	assert_true(pano_store_watching(s, "x"));
	pano_store_unwatch(s, "x");
	assert_false(pano_store_watching(s, "x"));
	pano_store_free(s);
}

static void gc_drops_old_observations(void **state)
{
	(void)state;
	pano_store *s = pano_store_new(NULL);
	for (int i = 0; i < 5; i++)
		add(s, "o", "x", obs1(s, 1000 + i * 100, "m", PANO_HEALTHY, 1));
	add(s, "o", "old", obs1(s, 10, "m", PANO_HEALTHY, 1));
	/* relative: older than 150 s before each view's newest */
	size_t dropped = pano_store_gc(s, NULL, 5000, 150, true, NULL);
	assert_int_equal(dropped, 3);
	assert_int_equal(pano_subject_view(pano_store_subject(s, "x"), "o")->count, 2);
	/* absolute: everything older than 1000 s before now=2000 */
	dropped = pano_store_gc(s, NULL, 2000, 1000, false, NULL);
	assert_int_equal(dropped, 1);
	assert_null(pano_store_subject(s, "old"));
	assert_int_equal(pano_store_subject_count(s), 1);
	pano_store_free(s);
}

/* "Last seen" is the newest timestamp the subject's views hold: pushing
 * out an observation from a clock that ran ahead lowers it. */
static void last_seen_follows_what_is_held(void **state)
{
	(void)state;
	pano_store *s = pano_store_new(NULL);
	add(s, "o", "x", obs1(s, 5000, "m", PANO_HEALTHY, 1));
	add(s, "p", "x", obs1(s, 3000, "m", PANO_HEALTHY, 1));
	int64_t sec;
	int32_t nsec;
	for (int i = 0; i < 9; i++)
		add(s, "o", "x", obs1(s, 1000 + i, "m", PANO_HEALTHY, 1));
	pano_subject_last_seen(pano_store_subject(s, "x"), &sec, &nsec);
	assert_int_equal(sec, 5000);
	add(s, "o", "x", obs1(s, 1009, "m", PANO_HEALTHY, 1)); /* pushes 5000 out */
	pano_subject_last_seen(pano_store_subject(s, "x"), &sec, &nsec);
	assert_int_equal(sec, 3000);
	assert_int_equal(pano_store_gc(s, NULL, 4000, 500, false, NULL), 11); /* 1000.. and 3000 go */
	assert_null(pano_store_subject(s, "x"));
	add(s, "o", "y", obs1(s, 900, "m", PANO_HEALTHY, 1));
	add(s, "o", "y", obs1(s, 2000, "m", PANO_HEALTHY, 1));
	add(s, "p", "y", obs1(s, 1500, "m", PANO_HEALTHY, 1));
	pano_store_gc(s, NULL, 2000, 1000, false, NULL); /* 900 goes: still 2000 */
	pano_subject_last_seen(pano_store_subject(s, "y"), &sec, &nsec);
	assert_int_equal(sec, 2000);
	pano_store_free(s);
}

static void formats_like_go(void **state)
{
	(void)state;
	char b[96];
	fmt_rfc3339(b, sizeof(b), 1495181595, 385767379);
	assert_string_equal(b, "2017-05-19T08:13:15.385767379Z");
	fmt_rfc3339(b, sizeof(b), 1495214185, 0);
	assert_string_equal(b, "2017-05-19T17:16:25Z");
	fmt_rfc3339(b, sizeof(b), 1495214185, 500000000);
	assert_string_equal(b, "2017-05-19T17:16:25.5Z");
	fmt_go_time(b, sizeof(b), 1495353639, 367133633);
	assert_string_equal(b, "2017-05-21 08:00:39.367133633 +0000 UTC");
	/* a time no date can show is shown as what it is */
	fmt_go_time(b, sizeof(b), -1000000000000000000LL, 0);
	assert_string_equal(b, "(-1000000000000000000 s since 1970, not a date)");
	fmt_rfc3339(b, sizeof(b), 253402300800LL, 0); /* year 10000 */
	assert_string_equal(b, "(253402300800 s since 1970, not a date)");
	fmt_rfc3339(b, sizeof(b), 253402300799LL, 0);
	assert_string_equal(b, "9999-12-31T23:59:59Z");
	fmt_go_float(b, sizeof(b), 30.0f);
	assert_string_equal(b, "30");
	fmt_go_float(b, sizeof(b), 20.5f);
	assert_string_equal(b, "20.5");
	fmt_go_float(b, sizeof(b), 0.1f);
	assert_string_equal(b, "0.1");
	fmt_go_float(b, sizeof(b), 1e6f);
	assert_string_equal(b, "1e+06");
	fmt_go_float(b, sizeof(b), 123456.0f);
	assert_string_equal(b, "123456");
	fmt_go_float(b, sizeof(b), 0.0001f);
	assert_string_equal(b, "0.0001");
	fmt_go_float(b, sizeof(b), 0.00001f);
	assert_string_equal(b, "1e-05");
}

static void report_text_matches_the_seed_readme(void **state)
{
	(void)state;
	Panorama__Value v = PANORAMA__VALUE__INIT;
	v.status = PANORAMA__STATUS__UNHEALTHY;
	v.score = 30;
	Panorama__Metric m = PANORAMA__METRIC__INIT;
	m.name = (char *)"snapshot";
	m.value = &v;
	Panorama__Observation__MetricsEntry e = PANORAMA__OBSERVATION__METRICS_ENTRY__INIT;
	e.key = (char *)"snapshot";
	e.value = &m;
	Panorama__Observation__MetricsEntry *ep = &e;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	ts.seconds = 1495181595;
	ts.nanos = 385767379;
	Panorama__Observation o = PANORAMA__OBSERVATION__INIT;
	o.ts = &ts;
	o.n_metrics = 1;
	o.metrics = &ep;
	Panorama__Report r = PANORAMA__REPORT__INIT;
	r.observer = (char *)"peer@2";
	r.subject = (char *)"peer@1";
	r.observation = &o;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	fmt_report_text(f, &r);
	fmt_observation(f, &o);
	fclose(f);
	assert_string_equal(buf,
		"observer:\"peer@2\" subject:\"peer@1\" observation:<ts:<seconds:1495181595 nanos:385767379 > "
		"metrics:<key:\"snapshot\" value:<name:\"snapshot\" value:<status:UNHEALTHY score:30 > > > >\n"
		"2017-05-19T08:13:15.385767379Z { snapshot: UNHEALTHY, 30.0; }");
	free(buf);
}

static void names_are_text(void **state)
{
	(void)state;
	char err[128];
	struct { const char *s; bool ok; } cases[] = {
		{ "db-1", true }, { "caf\xc3\xa9", true }, { "\xe6\x97\xa5\xe6\x9c\xac", true },
		{ "\xf0\x9f\x98\x80", true },          /* U+1F600, four bytes */
		{ "bad\xff", false }, { "\xc0\xaf", false }, /* overlong '/' */
		{ "\xed\xa0\x80", false },               /* a surrogate */
		{ "\xf4\x90\x80\x80", false },           /* above U+10FFFF */
		{ "\xe6\x97", false },                    /* cut short */
		{ "a b", false }, { "a\x1b[2J", false }, { "\xc2\x9b", false }, /* C1 CSI */
		{ "", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool ok = pano_text_name_valid(cases[i].s, strlen(cases[i].s), 255, err, sizeof(err));
		if (ok != cases[i].ok)
			fail_msg("case %zu: '%s' %s", i, cases[i].s, ok ? "accepted" : err);
	}
	assert_false(pano_utf8_valid("a\0b", 3));
	assert_true(pano_utf8_valid("a\xc3\xa9", 3));
}

/* A report refused after its metric names were interned gives them back. */
static void a_reason_travels_and_a_hostile_one_is_refused(void **state)
{
	(void)state;
	pano_limits l = pano_limits_default();
	pano_store *s = pano_store_new(&l);
	char err[160];
	pano_one_metric_report x;
	pano_one_metric_report_init(&x, "o", "h", "rtt", PANO_UNHEALTHY, 30.0f, 1795428000, 0);
	x.value.reason = "slow 4.2x baseline for 40 s";
	pano_obs o;
	assert_int_equal(pano_obs_from_pb(s, &x.observation, 1795428000, &o, err, sizeof(err)), 0);
	assert_string_equal(o.metrics[0].reason, "slow 4.2x baseline for 40 s");
	arena *a = arena_new();
	Panorama__Observation *back = wire_obs(a, &o);
	assert_string_equal(back->metrics[0]->value->value->reason, "slow 4.2x baseline for 40 s");
	pano_obs again;
	assert_int_equal(pano_obs_from_pb(s, back, 1795428000, &again, err, sizeof(err)), 0);
	assert_true(pano_obs_equal(&o, &again));
	pano_obs_clear(&again);
	pano_obs_clear(&o);
	arena_free(a);
	/* control characters, or longer than PANO_REASON_MAX - 1 bytes */
	x.value.reason = "slow\nFAKE LOG LINE";
	assert_int_equal(pano_obs_from_pb(s, &x.observation, 1795428000, &o, err, sizeof(err)), -1);
	char longer[PANO_REASON_MAX + 1];
	memset(longer, 'x', PANO_REASON_MAX);
	longer[PANO_REASON_MAX] = '\0';
	x.value.reason = longer;
	assert_int_equal(pano_obs_from_pb(s, &x.observation, 1795428000, &o, err, sizeof(err)), -1);
	longer[PANO_REASON_MAX - 1] = '\0';
	assert_int_equal(pano_obs_from_pb(s, &x.observation, 1795428000, &o, err, sizeof(err)), 0);
	pano_obs_clear(&o);
	pano_store_free(s);
}

/* The judge: a sick observer among two no longer makes its subjects
 * UNHEALTHY once blamed; a stopped observer's views stop voting once stale. */
static void a_sick_observer_and_a_silent_one_do_not_vote(void **state)
{
	(void)state;
	pano_limits l = pano_limits_default();
	pano_store *s = pano_store_new(&l);
	judge *j = judge_new(JUDGE_STALE_AFTER);
	assert_non_null(j);
	int64_t now = 1795428000;
	static const char *const hosts[] = { "a", "b", "c", "d" };
	/* each host seen by two others; d sees everything bad */
	for (int round = 0; round < 3; round++)
		for (int si = 0; si < 4; si++)
			for (int k = 1; k <= 2; k++) {
				const char *o = hosts[(si + k) % 4];
				bool sick = o[0] == 'd';
				add(s, o, hosts[si], obs1(s, now + round, "rtt", sick ? PANO_UNHEALTHY : PANO_HEALTHY, sick ? 20 : 90));
			}
	/* a tie, one sick observer of two: today, the worse status */
	const pano_metric *m = inferred(s, "b");
	assert_int_equal(m->status, PANO_UNHEALTHY);
	/* two passes find the same blame: it is current, and d's views do not vote */
	assert_true(judge_pass(j, s, now + 3) >= 0);
	assert_int_equal(judge_pass(j, s, now + 4), 1);
	size_t n;
	const judge_blame *b = judge_blames(j, &n);
	assert_int_equal(n, 1);
	assert_int_equal(b[0].kind, BLAME_OBSERVER);
	assert_string_equal(b[0].hosts[0], "d");
	assert_true(judge_explains(j, "d", "b"));
	m = inferred(s, "b");
	assert_int_equal(m->status, PANO_HEALTHY);
	/* everyone stops reporting: after the window every view is stale and
	 * the inference says it is of stale views */
	assert_true(judge_pass(j, s, now + 1000) >= 0);
	const pano_inference *inf = pano_subject_inference(pano_store_subject(s, "b"));
	assert_true(inf->all_stale);
	assert_int_equal(inf->stale, 2);
	judge_free(j);
	pano_store_free(s);
}

static void refused_reports_use_no_name_budget(void **state)
{
	(void)state;
	pano_limits l = pano_limits_default();
	l.max_metric_names = 3;
	pano_store *s = pano_store_new(&l);
	char err[128];
	for (int round = 0; round < 10; round++) {
		pano_store_names_mark(s);
		char name[32];
		for (int i = 0; i < 3; i++) {
			snprintf(name, sizeof(name), "r%d.%d", round, i);
			assert_non_null(pano_store_intern(s, name, err, sizeof(err)));
		}
		pano_store_names_rollback(s);
	}
	pano_store_names_mark(s);
	assert_non_null(pano_store_intern(s, "kept", err, sizeof(err)));
	pano_store_names_mark(s); /* kept stays */
	pano_store_names_rollback(s);
	assert_non_null(pano_store_intern(s, "two", err, sizeof(err)));
	assert_non_null(pano_store_intern(s, "three", err, sizeof(err)));
	assert_null(pano_store_intern(s, "four", err, sizeof(err)));
	pano_store_free(s);
}

static void config_is_strict(void **state)
{
	(void)state;
	char path[] = "/tmp/cs-config-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	struct { const char *json; const char *expect; } cases[] = {
		{ "{\"Addr\": \"h:1\", \"Id\": \"p\", \"Peers\": {\"p\": \"h:1\", \"q\": \"g:2\"}, \"FilterSubmission\": true,"
		  " \"Subjects\": [\"a\"], \"GCConfig\": {\"Enable\": true, \"Frequency\": 5, \"Threshold\": 60, \"Relative\": true},"
		  " \"BufConfig\": {\"HoldTime\": 0, \"HoldListLen\": 0}, \"LogLevel\": \"debug\", \"DumpMemUsage\": false, \"DBFile\": \"x.db\"}", NULL },
		{ "{\"Adr\": \"h:1\"}", "field Adr: unknown field" },
		{ "{\"Peers\": {\"p\": 5}}", "field Peers.p: must be a string" },
		{ "{\"FilterSubmission\": \"yes\"}", "field FilterSubmission: must be true or false" },
		{ "{\"GCConfig\": {\"Frequency\": -1}}", "field GCConfig.Frequency: must be an integer in [1, " },
		{ "{\"Subjects\": \"a,b\"}", "field Subjects: must be an array of strings" },
		{ "{\"LogLevel\": \"loud\"}", "field LogLevel" },
		{ "[1, 2]", "must be a JSON object" },
		{ "{\"Addr\": ", "line 1" },
		{ "{\"Id\": \"a\", \"Id\": \"b\"}", "duplicate" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		FILE *f = fopen(path, "w");
		fputs(cases[i].json, f);
		fclose(f);
		pano_config c;
		pano_config_defaults(&c);
		char err[256] = "";
		int rc = pano_config_load(&c, path, err, sizeof(err));
		if (!cases[i].expect) {
			assert_int_equal(rc, 0);
			assert_string_equal(c.addr, "h:1");
			assert_int_equal(c.npeers, 2);
			assert_true(c.filter && c.gc_enable && c.gc_relative);
			assert_true(c.gc_threshold_s == 60);
		} else {
			assert_int_equal(rc, -1);
			if (!strstr(err, cases[i].expect))
				fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].expect);
		}
		pano_config_clear(&c);
	}
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(natural_order),
		cmocka_unit_test(names_are_text),
		cmocka_unit_test(refused_reports_use_no_name_budget),
		cmocka_unit_test(a_reason_travels_and_a_hostile_one_is_refused),
		cmocka_unit_test(a_sick_observer_and_a_silent_one_do_not_vote),
		cmocka_unit_test(strmap_put_get_remove),
		cmocka_unit_test(view_keeps_newest_ten_and_drops_duplicates),
		cmocka_unit_test(view_inference_averages_two_of_a_status),
		cmocka_unit_test(older_pending_behind_healthy_is_skipped),
		cmocka_unit_test(majority_across_views_ties_go_worse),
		cmocka_unit_test(inference_leaves_observations_alone),
		cmocka_unit_test(bounds_are_enforced),
		cmocka_unit_test(memory_bounds_are_enforced),
		cmocka_unit_test(watch_list_filters_only_when_asked),
		cmocka_unit_test(gc_drops_old_observations),
		cmocka_unit_test(last_seen_follows_what_is_held),
		cmocka_unit_test(formats_like_go),
		cmocka_unit_test(report_text_matches_the_seed_readme),
		cmocka_unit_test(config_is_strict),
	};
	return cmocka_run_group_tests_name("pano", tests, NULL, NULL);
}
