/*
 * detection_scorecard.c - how well the agent's detectors catch the gray
 * failures of scenarios.h, against a rule anyone could write.
 *
 * Every scenario is generated for each seed and fed, probe by probe,
 * through the agent's own pipeline (default options, the scenario's
 * interval) and through the trivial rule: "3 response times in a row above
 * 3 times the median of the last 100".  Per scenario it prints incidents
 * caught, the median delay, how long the alarm was held, and false alarms
 * per host-hour after the learning time, for both.  The alarm is
 * NEEDS_ATTENTION (DEAD in the dead-host scenario).  With --nab DIR it adds
 * NAB's real EC2 request-latency series with its labelled window.  It also
 * counts how often the HTM anomaly score exceeds a few thresholds on
 * stationary stretches, which is what those thresholds mean.
 *
 *   detection-scorecard [--seeds N] [--only NAME] [--nab DIR] [--realdata DIR] [--verbose]\n"
	        "       [--no-recurrence] [--no-htm] [--htm-familiar]
 *   detection-scorecard --write NAME SEED     (the trace as sonar.csv on
 *                                              stdout, incidents on stderr)
 */
#include <jansson.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/cli.h"
#include "agent/pipeline.h"
#include "agent/timefmt.h"
#include "tests/bench/realdata.h"
#include "tests/bench/scenarios.h"

#define PROG "detection-scorecard"
#define TRIVIAL_WINDOW 100
#define TRIVIAL_FACTOR 3.0
#define TRIVIAL_RUN 3
/* An alarm that starts this long after an incident ended is a false one. */
#define AFTER_INCIDENT_MS (10 * 60 * 1000)
#define EPISODES_MAX 100000
static const double THRESHOLDS[] = { 0.3, 0.4, 0.5, 0.6, 0.7 };
#define NTHRESHOLDS (sizeof(THRESHOLDS) / sizeof(THRESHOLDS[0]))

typedef struct {
	int64_t start_ms, end_ms;
} episode;

typedef struct {
	episode *e;
	size_t n;
	bool on;
} episodes;

static void episodes_set(episodes *x, int64_t wall_ms, bool on)
{
	if (on && !x->on && x->n < EPISODES_MAX)
		x->e[x->n++] = (episode){ wall_ms, INT64_MAX };
	else if (!on && x->on && x->n > 0)
		x->e[x->n - 1].end_ms = wall_ms;
	x->on = on;
}

/* What one detector scored over every seed of a scenario. */
typedef struct {
	unsigned incidents, caught;
	double *delays, *held;
	size_t ndelays;
	unsigned false_alarms;
	double eval_hours;
	unsigned dead_in_incident; /* episodes of DEAD inside an incident (loss) */
} tally;

/* --- the trivial rule --------------------------------------------------------- */

typedef struct {
	double ring[TRIVIAL_WINDOW];
	size_t count, next;
	unsigned run;
	bool alarm;
} trivial_rule;

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static bool trivial_step(trivial_rule *t, bool lost, double rtt)
{
	if (lost)
		return t->alarm;
	if (t->count >= 20) {
		double sorted[TRIVIAL_WINDOW];
		memcpy(sorted, t->ring, t->count * sizeof(double));
		qsort(sorted, t->count, sizeof(double), cmp_double);
		double median = sorted[t->count / 2];
		bool high = rtt > TRIVIAL_FACTOR * median;
		t->run = high ? t->run + 1 : 0;
		if (t->run >= TRIVIAL_RUN)
			t->alarm = true;
		else if (!high)
			t->alarm = false;
	}
	t->ring[t->next] = rtt;
	t->next = (t->next + 1) % TRIVIAL_WINDOW;
	if (t->count < TRIVIAL_WINDOW)
		t->count++;
	return t->alarm;
}

/* --- scoring ------------------------------------------------------------------ */

static bool near_incident(const trace *tr, int64_t t)
{
	for (size_t k = 0; k < tr->incident_count; k++)
		if (t >= tr->incidents[k].start_ms && t < tr->incidents[k].end_ms + AFTER_INCIDENT_MS)
			return true;
	return false;
}

static void score(const episodes *x, const trace *tr, double interval_s, double learn_s,
                  double deadline_s, int64_t end_ms, tally *out)
{
	int64_t grace = (int64_t)(3 * interval_s * 1000);
	for (size_t k = 0; k < tr->incident_count; k++) {
		const incident *in = &tr->incidents[k];
		out->incidents++;
		for (size_t i = 0; i < x->n; i++) {
			const episode *e = &x->e[i];
			int64_t from = e->start_ms > in->start_ms ? e->start_ms : in->start_ms;
			if (e->end_ms <= in->start_ms || from > in->end_ms + grace)
				continue;
			double delay = (double)(from - in->start_ms) / 1000.0;
			if (deadline_s > 0 && delay > deadline_s)
				break;
			int64_t until = e->end_ms < in->end_ms ? e->end_ms : in->end_ms;
			if (until > end_ms)
				until = end_ms;
			out->caught++;
			out->delays[out->ndelays] = delay;
			out->held[out->ndelays++] = until > from ? (double)(until - from) / 1000.0 : 0.0;
			break;
		}
	}
	int64_t learn_ms = tr->start_ms + (int64_t)(learn_s * 1000);
	for (size_t i = 0; i < x->n; i++)
		if (x->e[i].start_ms >= learn_ms && !near_incident(tr, x->e[i].start_ms))
			out->false_alarms++;
	out->eval_hours += (double)(end_ms - learn_ms) / 3600e3;
}

static double median_of(double *v, size_t n)
{
	if (n == 0)
		return NAN;
	qsort(v, n, sizeof(double), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

/* --- running the pipeline ------------------------------------------------------ */

typedef struct {
	uint64_t steps, over[NTHRESHOLDS];
} calibration;

/* Ablations (--no-recurrence, --no-htm) and the HTM's familiarity
 * (--htm-familiar): what each part of the decision adds. */
static bool ablate_recurrence, ablate_htm, htm_familiar;

static pipeline *new_pipeline(double interval_s)
{
	detector_options o;
	detector_options_defaults(&o, "unused");
	o.interval_s = interval_s;
	if (detector_options_finish(&o, PROG, false) != 0)
		return NULL;
	pipeline_params pp;
	detector_options_to_params(&o, &pp);
	pp.no_recurrence = ablate_recurrence;
	pp.htm = pp.htm && !ablate_htm;
	pp.htm_familiar = htm_familiar;
	pipeline *p = pipeline_new(&pp, NULL);
	if (p && pipeline_add_host(p, "host") < 0) {
		pipeline_free(p);
		return NULL;
	}
	return p;
}

typedef enum { ALARM_ATTENTION, ALARM_DEAD, ALARM_ANY } alarm_kind;

static bool is_alarm(attention_state st, alarm_kind k)
{
	return k == ALARM_DEAD ? st == ATTENTION_DEAD
	     : k == ALARM_ATTENTION ? st == ATTENTION_NEEDS_ATTENTION
	     : st == ATTENTION_NEEDS_ATTENTION || st == ATTENTION_DEAD;
}

/* Runs one trace through both detectors; returns -1 when memory is short. */
/* --verbose: each seed's incidents and alarms, and why, on stderr */
static bool verbose;

static int run_trace(const trace *tr, double interval_s, alarm_kind alarm, double learn_s,
                     episodes *ours, episodes *trivial, episodes *dead, calibration *cal)
{
	pipeline *p = new_pipeline(interval_s);
	if (!p)
		return -1;
	trivial_rule tv = { { 0 }, 0, 0, 0, false };
	int64_t learn_ms = tr->start_ms + (int64_t)(learn_s * 1000);
	int64_t first_incident = tr->incident_count ? tr->incidents[0].start_ms : INT64_MAX;
	for (size_t i = 0; i < tr->count; i++) {
		const trace_probe *pr = &tr->probes[i];
		pipeline_observe(p, 0, pr->wall_ms, pr->lost ? PROBE_TIMEOUT : PROBE_OK, pr->rtt_ns);
		attention_state st = pipeline_state(p, 0);
		if (verbose && is_alarm(st, alarm) && !ours->on)
			fprintf(stderr, "    alarm at +%.0f s: %s\n", (double)(pr->wall_ms - tr->start_ms) / 1000,
			        pipeline_reason(p, 0));
		episodes_set(ours, pr->wall_ms, is_alarm(st, alarm));
		episodes_set(dead, pr->wall_ms, st == ATTENTION_DEAD);
		episodes_set(trivial, pr->wall_ms, trivial_step(&tv, pr->lost, (double)pr->rtt_ns));
		double a = pipeline_last_anomaly(p, 0);
		if (cal && pr->wall_ms >= learn_ms && pr->wall_ms < first_incident && !isnan(a)) {
			cal->steps++;
			for (size_t k = 0; k < NTHRESHOLDS; k++)
				cal->over[k] += a > THRESHOLDS[k];
		}
	}
	pipeline_free(p);
	return 0;
}

static void print_row(const char *name, const char *who, tally *t)
{
	char caught[32], delay[32], held[32], fa[32];
	snprintf(caught, sizeof(caught), "%u/%u", t->caught, t->incidents);
	double d = median_of(t->delays, t->ndelays), h = median_of(t->held, t->ndelays);
	if (t->incidents == 0)
		snprintf(caught, sizeof(caught), "-");
	if (isnan(d))
		snprintf(delay, sizeof(delay), "-");
	else
		snprintf(delay, sizeof(delay), d < 10 ? "%.1f s" : "%.0f s", d);
	if (isnan(h))
		snprintf(held, sizeof(held), "-");
	else
		snprintf(held, sizeof(held), "%.0f s", h);
	snprintf(fa, sizeof(fa), "%.3f", t->eval_hours > 0 ? t->false_alarms / t->eval_hours : 0.0);
	printf("%-20s %-8s %9s %9s %9s %8s %9.0f\n", name, who, caught, delay, held, fa, t->eval_hours);
}

static int tally_init(tally *t, size_t incidents)
{
	memset(t, 0, sizeof(*t));
	t->delays = calloc(incidents + 1, sizeof(double));
	t->held = calloc(incidents + 1, sizeof(double));
	return t->delays && t->held ? 0 : -1;
}

static void tally_free(tally *t)
{
	free(t->delays);
	free(t->held);
}

/* Episodes that overlap an incident. */
static unsigned overlapping(const episodes *x, const trace *tr)
{
	unsigned n = 0;
	for (size_t i = 0; i < x->n; i++)
		for (size_t k = 0; k < tr->incident_count; k++)
			if (x->e[i].start_ms < tr->incidents[k].end_ms && x->e[i].end_ms > tr->incidents[k].start_ms) {
				n++;
				break;
			}
	return n;
}

static int run_scenario(const scenario *s, unsigned seeds, calibration *cal)
{
	tally ours, trivial;
	if (tally_init(&ours, seeds * SCENARIO_INCIDENTS_MAX) != 0 ||
	    tally_init(&trivial, seeds * SCENARIO_INCIDENTS_MAX) != 0)
		return -1;
	episodes eo = { calloc(EPISODES_MAX, sizeof(episode)), 0, false };
	episodes et = { calloc(EPISODES_MAX, sizeof(episode)), 0, false };
	episodes ed = { calloc(EPISODES_MAX, sizeof(episode)), 0, false };
	int rc = eo.e && et.e && ed.e ? 0 : -1;
	bool stationary = s->kind == SCENARIO_LOOPBACK || s->kind == SCENARIO_SUDDEN || s->kind == SCENARIO_SHIFT;
	for (unsigned seed = 1; seed <= seeds && rc == 0; seed++) {
		trace tr;
		if (scenario_trace(s, seed, &tr) != 0) {
			rc = -1;
			break;
		}
		eo.n = et.n = ed.n = 0;
		eo.on = et.on = ed.on = false;
		rc = run_trace(&tr, s->interval_s, s->kind == SCENARIO_DEAD ? ALARM_DEAD : ALARM_ATTENTION, s->learn_s, &eo,
		               &et, &ed, stationary ? cal : NULL);
		int64_t end_ms = tr.probes[tr.count - 1].wall_ms;
		if (verbose) {
			fprintf(stderr, "  seed %u: incidents at", seed);
			for (size_t k = 0; k < tr.incident_count; k++)
				fprintf(stderr, " +%.0f s", (double)(tr.incidents[k].start_ms - tr.start_ms) / 1000);
			fprintf(stderr, "; alarms:");
			for (size_t k = 0; k < eo.n && k < 40; k++)
				fprintf(stderr, " [%+.0f, %+.0f]", (double)(eo.e[k].start_ms - tr.start_ms) / 1000,
				        (double)(eo.e[k].end_ms - tr.start_ms) / 1000);
			fprintf(stderr, "\n");
		}
		score(&eo, &tr, s->interval_s, s->learn_s, s->deadline_s, end_ms, &ours);
		score(&et, &tr, s->interval_s, s->learn_s, s->deadline_s, end_ms, &trivial);
		if (s->kind == SCENARIO_LOSS)
			ours.dead_in_incident += overlapping(&ed, &tr);
		trace_free(&tr);
	}
	if (rc == 0) {
		print_row(s->name, "ours", &ours);
		print_row("", "trivial", &trivial);
		if (s->kind == SCENARIO_LOSS)
			printf("%-20s %-8s DEAD during %u of %u loss bursts\n", "", "ours", ours.dead_in_incident,
			       ours.incidents);
	}
	free(eo.e);
	free(et.e);
	free(ed.e);
	tally_free(&ours);
	tally_free(&trivial);
	return rc;
}

/* --- what recurs ---------------------------------------------------------------------
 * A recurring scenario is judged from its 6th recurrence on: how many of the
 * later recurrences draw an alarm (at most 10%), false alarms per host-hour
 * outside recurrences and the incident (at most 0.05), and whether the
 * different incident is caught within twice the usual stretch (90% of
 * seeds).  Loss that holds: exactly one alarm episode (NEEDS_ATTENTION or
 * DEAD) across the loss and the 2 minutes after it.  Warm-up: the later
 * slowdown at the start's level is caught. */

typedef struct {
	unsigned seeds, caught, by_kind[4], of_kind[4];
	unsigned judged_recurrences, alarmed_recurrences;
	unsigned false_alarms, exactly_one;
	double eval_hours;
	double *delays;
	size_t ndelays;
	double interval_min, interval_max;
} recurring_tally;

static bool overlaps(const episode *e, int64_t from, int64_t to) { return e->start_ms < to && e->end_ms > from; }

static void tell_seed(const episodes *x, const trace *tr)
{
	const incident *in = &tr->incidents[0];
	fprintf(stderr, "  interval %g s, %s incident at +%.0f s for %.0f s (usual %.0f s, period %.0f s, level %.2f):",
	        tr->interval_s, different_name(tr->different), (double)(in->start_ms - tr->start_ms) / 1000,
	        (double)(in->end_ms - in->start_ms) / 1000, tr->usual_s, tr->period_s, tr->level);
	for (size_t i = 0; i < x->n; i++)
		if (x->e[i].end_ms > in->start_ms - 3600000 && x->e[i].start_ms < in->end_ms + 3600000)
			fprintf(stderr, " [%+.0f, %+.0f]", (double)(x->e[i].start_ms - in->start_ms) / 1000,
			        (double)(x->e[i].end_ms - in->start_ms) / 1000);
	fprintf(stderr, "\n");
}

static void score_recurring(const episodes *x, const trace *tr, scenario_kind kind, int64_t end_ms, recurring_tally *t)
{
	const incident *in = &tr->incidents[0];
	t->seeds++;
	t->of_kind[tr->different]++;
	int64_t window = kind == SCENARIO_LOSS_HELD || kind == SCENARIO_WARMUP
		? in->end_ms : in->start_ms + (int64_t)(2 * tr->usual_s * 1000);
	for (size_t i = 0; i < x->n; i++)
		if (overlaps(&x->e[i], in->start_ms, window)) {
			t->caught++;
			t->by_kind[tr->different]++;
			double d = (double)((x->e[i].start_ms > in->start_ms ? x->e[i].start_ms : in->start_ms) - in->start_ms) / 1000;
			t->delays[t->ndelays++] = d;
			break;
		}
	if (kind == SCENARIO_LOSS_HELD) {
		unsigned n = 0;
		for (size_t i = 0; i < x->n; i++)
			n += overlaps(&x->e[i], in->start_ms, in->end_ms + 120000);
		t->exactly_one += n == 1;
	}
	for (size_t k = 0; k < tr->recurrence_count; k++) {
		const incident *r = &tr->recurrences[k];
		if (r->start_ms < tr->learned_ms)
			continue;
		t->judged_recurrences++;
		for (size_t i = 0; i < x->n; i++)
			if (overlaps(&x->e[i], r->start_ms, r->end_ms)) {
				t->alarmed_recurrences++;
				break;
			}
	}
	for (size_t i = 0; i < x->n; i++) {
		const episode *e = &x->e[i];
		if (e->start_ms < tr->learned_ms || (e->start_ms >= in->start_ms && e->start_ms < in->end_ms + AFTER_INCIDENT_MS))
			continue;
		bool in_recurrence = false;
		for (size_t k = 0; k < tr->recurrence_count && !in_recurrence; k++)
			in_recurrence = overlaps(e, tr->recurrences[k].start_ms, tr->recurrences[k].end_ms);
		t->false_alarms += !in_recurrence;
	}
	t->eval_hours += (double)(end_ms - tr->learned_ms) / 3600e3;
	if (t->seeds == 1 || tr->interval_s < t->interval_min)
		t->interval_min = tr->interval_s;
	if (t->seeds == 1 || tr->interval_s > t->interval_max)
		t->interval_max = tr->interval_s;
}

static void print_recurring(const char *name, const char *who, const recurring_tally *t, scenario_kind kind)
{
	char caught[32], rec[32], kinds[96] = "";
	snprintf(caught, sizeof(caught), "%u/%u", t->caught, t->seeds);
	snprintf(rec, sizeof(rec), t->judged_recurrences ? "%u/%u" : "-", t->alarmed_recurrences, t->judged_recurrences);
	for (int k = 1; k < 4; k++)
		if (t->of_kind[k]) {
			size_t n = strlen(kinds);
			snprintf(kinds + n, sizeof(kinds) - n, "%s%s %u/%u", n ? ", " : "", different_name((different_kind)k),
			         t->by_kind[k], t->of_kind[k]);
		}
	if (kind == SCENARIO_LOSS_HELD)
		snprintf(kinds, sizeof(kinds), "exactly one episode in %u/%u", t->exactly_one, t->seeds);
	double d[4096];
	size_t nd = t->ndelays < 4096 ? t->ndelays : 4096;
	memcpy(d, t->delays, nd * sizeof(double));
	double delay = median_of(d, nd);
	char ds[32];
	if (isnan(delay))
		snprintf(ds, sizeof(ds), "-");
	else
		snprintf(ds, sizeof(ds), delay < 10 ? "%.1f s" : "%.0f s", delay);
	printf("%-20s %-8s %9s %9s %9s %8.3f %9.0f  %s (interval %g-%g s)\n", name, who, caught, ds, rec,
	       t->eval_hours > 0 ? t->false_alarms / t->eval_hours : 0.0, t->eval_hours, kinds, t->interval_min,
	       t->interval_max);
}

static int run_recurring(const scenario *s, unsigned seeds)
{
	recurring_tally ours, trivial;
	memset(&ours, 0, sizeof(ours));
	memset(&trivial, 0, sizeof(trivial));
	ours.delays = calloc(seeds + 1, sizeof(double));
	trivial.delays = calloc(seeds + 1, sizeof(double));
	episodes eo = { calloc(EPISODES_MAX, sizeof(episode)), 0, false };
	episodes et = { calloc(EPISODES_MAX, sizeof(episode)), 0, false };
	episodes ed = { calloc(EPISODES_MAX, sizeof(episode)), 0, false };
	int rc = eo.e && et.e && ed.e && ours.delays && trivial.delays ? 0 : -1;
	for (unsigned seed = 1; seed <= seeds && rc == 0; seed++) {
		trace tr;
		if (scenario_trace(s, seed, &tr) != 0) {
			rc = -1;
			break;
		}
		eo.n = et.n = ed.n = 0;
		eo.on = et.on = ed.on = false;
		rc = run_trace(&tr, tr.interval_s, s->kind == SCENARIO_LOSS_HELD ? ALARM_ANY : ALARM_ATTENTION, 0, &eo,
		               &et, &ed, NULL);
		int64_t end_ms = tr.probes[tr.count - 1].wall_ms;
		if (verbose)
			tell_seed(&eo, &tr);
		score_recurring(&eo, &tr, s->kind, end_ms, &ours);
		score_recurring(&et, &tr, s->kind, end_ms, &trivial);
		trace_free(&tr);
	}
	if (rc == 0) {
		print_recurring(s->name, "ours", &ours, s->kind);
		print_recurring("", "trivial", &trivial, s->kind);
	}
	free(eo.e);
	free(et.e);
	free(ed.e);
	free(ours.delays);
	free(trivial.delays);
	return rc;
}

/* --- NAB's EC2 request latency ------------------------------------------------- */

static int64_t parse_nab_time(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *end = strptime(s, "%Y-%m-%d %H:%M:%S", &tm);
	if (!end)
		return -1;
	return (int64_t)timegm(&tm) * 1000;
}

static int run_nab(const char *dir)
{
	static const char *const FILE_NAME = "realKnownCause/ec2_request_latency_system_failure.csv";
	char path[4096];
	snprintf(path, sizeof(path), "%s/data/%s", dir, FILE_NAME);
	FILE *f = fopen(path, "r");
	if (!f) {
		printf("%-20s (NAB series not found at %s)\n", "nab-ec2-latency", path);
		return 0;
	}
	trace tr;
	memset(&tr, 0, sizeof(tr));
	size_t cap = 0;
	char line[256];
	while (fgets(line, sizeof(line), f)) {
		char *comma = strchr(line, ',');
		if (!comma)
			continue;
		*comma = '\0';
		int64_t t = parse_nab_time(line);
		double v = strtod(comma + 1, NULL);
		if (t < 0 || !(v > 0))
			continue;
		if (tr.count == cap) {
			cap = cap ? cap * 2 : 4096;
			trace_probe *np = realloc(tr.probes, cap * sizeof(*np));
			if (!np) {
				fclose(f);
				free(tr.probes);
				return -1;
			}
			tr.probes = np;
		}
		tr.probes[tr.count++] = (trace_probe){ t, false, (int64_t)llround(v * 1e6) };
	}
	fclose(f);
	if (tr.count == 0) {
		free(tr.probes);
		return 0;
	}
	tr.start_ms = tr.probes[0].wall_ms;
	snprintf(path, sizeof(path), "%s/labels/combined_windows.json", dir);
	json_error_t jerr;
	json_t *labels = json_load_file(path, 0, &jerr);
	json_t *windows = labels ? json_object_get(labels, FILE_NAME) : NULL;
	size_t i;
	json_t *w;
	json_array_foreach(windows, i, w) {
		if (tr.incident_count < SCENARIO_INCIDENTS_MAX)
			tr.incidents[tr.incident_count++] = (incident){
				parse_nab_time(json_string_value(json_array_get(w, 0)) ? json_string_value(json_array_get(w, 0)) : ""),
				parse_nab_time(json_string_value(json_array_get(w, 1)) ? json_string_value(json_array_get(w, 1)) : "") };
	}
	json_decref(labels);
	/* NAB's probationary period: the first 15% of the series */
	double learn_s = (double)(tr.probes[tr.count - 1].wall_ms - tr.start_ms) / 1000.0 * 0.15;
	episodes eo = { calloc(EPISODES_MAX, sizeof(episode)), 0, false };
	episodes et = { calloc(EPISODES_MAX, sizeof(episode)), 0, false };
	episodes ed = { calloc(EPISODES_MAX, sizeof(episode)), 0, false };
	tally ours, trivial;
	int rc = -1;
	if (eo.e && et.e && ed.e && tally_init(&ours, SCENARIO_INCIDENTS_MAX) == 0 &&
	    tally_init(&trivial, SCENARIO_INCIDENTS_MAX) == 0 &&
	    run_trace(&tr, 300, ALARM_ATTENTION, learn_s, &eo, &et, &ed, NULL) == 0) {
		int64_t end_ms = tr.probes[tr.count - 1].wall_ms;
		score(&eo, &tr, 300, learn_s, 0, end_ms, &ours);
		score(&et, &tr, 300, learn_s, 0, end_ms, &trivial);
		print_row("nab-ec2-latency", "ours", &ours);
		print_row("", "trivial", &trivial);
		tally_free(&ours);
		tally_free(&trivial);
		rc = 0;
	}
	free(eo.e);
	free(et.e);
	free(ed.e);
	free(tr.probes);
	return rc;
}

/* --- main ---------------------------------------------------------------------- */

static const scenario *find_scenario(const char *name)
{
	for (size_t i = 0; i < SCENARIO_COUNT; i++)
		if (strcmp(SCENARIOS[i].name, name) == 0)
			return &SCENARIOS[i];
	return NULL;
}

static int write_trace(const char *name, const char *seed_arg)
{
	const scenario *s = find_scenario(name);
	long seed;
	if (!s || parse_long(seed_arg, 1, 1000000, &seed) != 0) {
		fprintf(stderr, PROG ": --write: unknown scenario '%s' or seed '%s' (see --help)\n", name, seed_arg);
		return 2;
	}
	trace tr;
	if (scenario_trace(s, (uint64_t)seed, &tr) != 0) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	printf("timestamp,host,rtt_ns\n");
	char ts[TIMEFMT_LEN];
	for (size_t i = 0; i < tr.count; i++) {
		timefmt_format(tr.probes[i].wall_ms, ts);
		if (tr.probes[i].lost)
			printf("%s,%s,\n", ts, s->name);
		else
			printf("%s,%s,%lld\n", ts, s->name, (long long)tr.probes[i].rtt_ns);
	}
	for (size_t k = 0; k < tr.incident_count; k++) {
		char a[TIMEFMT_LEN], b[TIMEFMT_LEN];
		timefmt_format(tr.incidents[k].start_ms, a);
		timefmt_format(tr.incidents[k].end_ms, b);
		fprintf(stderr, "incident,%s,%s\n", a, b);
	}
	trace_free(&tr);
	return 0;
}

/* --- real recordings ------------------------------------------------------------
 * Each series of each folder of ../shared/realdata, replayed at its own
 * interval: NEEDS_ATTENTION episodes per host-hour, ours and the trivial
 * rule's, and, where the folder labels moments, how many labelled stretches
 * (labels an interval and a half apart or less are one) drew an alarm from
 * an interval before to ten intervals after. */

typedef struct {
	unsigned stretches, alarmed;
} label_tally;

static void score_labels(const episodes *x, const recording *r, label_tally *t)
{
	int64_t step = (int64_t)(r->interval_s * 1000);
	for (size_t i = 0; i < r->nlabels;) {
		size_t j = i;
		while (j + 1 < r->nlabels && r->labels[j + 1] - r->labels[j] <= step * 3 / 2)
			j++;
		int64_t from = r->labels[i] - step, to = r->labels[j] + 10 * step;
		t->stretches++;
		for (size_t k = 0; k < x->n; k++)
			if (x->e[k].start_ms < to && x->e[k].end_ms > from) {
				t->alarmed++;
				break;
			}
		i = j + 1;
	}
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The names in dir ending in .csv, sorted; *labels the one that begins with
 * "labels" (NULL when none).  The caller frees them. */
static size_t csv_files(const char *dir, char ***out, char **labels)
{
	DIR *d = opendir(dir);
	*out = NULL;
	*labels = NULL;
	if (!d)
		return 0;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len < 5 || strcmp(e->d_name + len - 4, ".csv") != 0)
			continue;
		if (strncmp(e->d_name, "labels", 6) == 0) {
			free(*labels);
			*labels = strdup(e->d_name);
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			char **p = realloc(*out, cap * sizeof(*p));
			if (!p)
				break;
			*out = p;
		}
		if (((*out)[n] = strdup(e->d_name)))
			n++;
	}
	closedir(d);
	qsort(*out, n, sizeof(char *), cmp_name);
	return n;
}

static int run_realdata(const char *root)
{
	static const char *const folders[] = { "ripe-atlas-labelled-changes", "ripe-atlas-anchor-week",
	                                       "cloud-service-latency" };
	episodes eo = { calloc(EPISODES_MAX, sizeof(episode)), 0, false };
	episodes et = { calloc(EPISODES_MAX, sizeof(episode)), 0, false };
	episodes ed = { calloc(EPISODES_MAX, sizeof(episode)), 0, false };
	if (!eo.e || !et.e || !ed.e) {
		free(eo.e);
		free(et.e);
		free(ed.e);
		return -1;
	}
	printf("\nreal recordings (%s): NEEDS_ATTENTION episodes per host-hour, and labelled stretches alarmed\n"
	       "%-34s %8s %8s %9s %9s %14s %14s\n", root, "series", "interval", "hours", "ours/h", "trivial/h",
	       "ours: labels", "trivial: labels");
	for (size_t f = 0; f < sizeof(folders) / sizeof(folders[0]); f++) {
		char dir[4200], csv[4500], lab[4500];
		snprintf(dir, sizeof(dir), "%s/%s", root, folders[f]);
		char **names, *labels;
		size_t n = csv_files(dir, &names, &labels);
		if (n == 0)
			printf("%-34s (not found at %s)\n", folders[f], dir);
		if (labels)
			snprintf(lab, sizeof(lab), "%s/%s", dir, labels);
		for (size_t i = 0; i < n; i++) {
			snprintf(csv, sizeof(csv), "%s/%s", dir, names[i]);
			recording r;
			char err[512];
			if (recording_load(csv, labels ? lab : NULL, &r, err, sizeof(err)) != 0) {
				printf("%-34s (%s)\n", names[i], err);
				continue;
			}
			eo.n = et.n = ed.n = 0;
			eo.on = et.on = ed.on = false;
			int rc = run_trace(&r.tr, r.interval_s, ALARM_ATTENTION, 0, &eo, &et, &ed, NULL);
			double hours = (double)(r.tr.probes[r.tr.count - 1].wall_ms - r.tr.start_ms) / 3600e3;
			label_tally lo = { 0, 0 }, lt = { 0, 0 };
			score_labels(&eo, &r, &lo);
			score_labels(&et, &r, &lt);
			char so[32] = "-", st[32] = "-", name[64];
			if (lo.stretches) {
				snprintf(so, sizeof(so), "%u/%u", lo.alarmed, lo.stretches);
				snprintf(st, sizeof(st), "%u/%u", lt.alarmed, lt.stretches);
			}
			snprintf(name, sizeof(name), "%.20s/%.12s", folders[f], names[i]);
			if (rc == 0)
				printf("%-34s %7.0fs %8.0f %9.3f %9.3f %14s %14s\n", name, r.interval_s, hours,
				       (double)eo.n / hours, (double)et.n / hours, so, st);
			recording_free(&r);
			free(names[i]);
		}
		free(names);
		free(labels);
	}
	free(eo.e);
	free(et.e);
	free(ed.e);
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: " PROG " [--seeds N] [--only NAME] [--nab DIR] [--realdata DIR] [--verbose]\n"
	             "       [--no-recurrence] [--no-htm] [--htm-familiar]\n"
	             "       " PROG " --write NAME SEED\n"
	             "Scores the agent's detectors and the trivial 3x-median rule on labelled\n"
	             "traces (default 20 seeds each).  --write prints one trace as sonar.csv and\n"
	             "its incidents on stderr.  --only takes a scenario, nab or realdata.  Scenarios:");
	for (size_t i = 0; i < SCENARIO_COUNT; i++)
		fprintf(out, " %s", SCENARIOS[i].name);
	fprintf(out, "\n");
}

int main(int argc, char **argv)
{
	long seeds = 20;
	const char *only = NULL, *nab = NULL, *realdata = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--write") == 0 && i + 2 < argc) {
			return write_trace(argv[i + 1], argv[i + 2]);
		} else if (strcmp(argv[i], "--seeds") == 0 && i + 1 < argc) {
			if (parse_long(argv[++i], 1, 10000, &seeds) != 0) {
				fprintf(stderr, PROG ": --seeds: '%s' is not an integer in [1, 10000] (see --help)\n", argv[i]);
				return 2;
			}
		} else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
			only = argv[++i];
			if (!find_scenario(only) && strcmp(only, "realdata") != 0 && strcmp(only, "nab") != 0) {
				fprintf(stderr, PROG ": --only: unknown scenario '%s' (see --help)\n", only);
				return 2;
			}
		} else if (strcmp(argv[i], "--verbose") == 0) {
			verbose = true;
		} else if (strcmp(argv[i], "--no-recurrence") == 0) {
			ablate_recurrence = true;
		} else if (strcmp(argv[i], "--no-htm") == 0) {
			ablate_htm = true;
		} else if (strcmp(argv[i], "--htm-familiar") == 0) {
			htm_familiar = true;
		} else if (strcmp(argv[i], "--nab") == 0 && i + 1 < argc) {
			nab = argv[++i];
		} else if (strcmp(argv[i], "--realdata") == 0 && i + 1 < argc) {
			realdata = argv[++i];
		} else {
			fprintf(stderr, PROG ": unknown or incomplete option '%s' (see --help)\n", argv[i]);
			return 2;
		}
	}
	printf("detection scorecard: %ld seeds a scenario, default options; alarm = NEEDS_ATTENTION (DEAD for dead-1s)\n", seeds);
	printf("%-20s %-8s %9s %9s %9s %8s %9s\n", "scenario", "detector", "caught", "delay", "held",
	       "false/h", "eval h");
	calibration cal = { 0, { 0 } };
	bool printed_recurring = false;
	for (size_t i = 0; i < SCENARIO_COUNT; i++) {
		if (only && strcmp(only, SCENARIOS[i].name) != 0)
			continue;
		if (scenario_recurring(SCENARIOS[i].kind) && !printed_recurring) {
			printf("\nwhat recurs: %ld seeds a class, parameters drawn per seed; judged from the 6th recurrence on\n"
			       "%-20s %-8s %9s %9s %9s %8s %9s  %s\n", seeds, "scenario", "detector", "caught", "delay",
			       "alarmed", "false/h", "eval h", "incident kinds caught");
			printed_recurring = true;
		}
		if ((scenario_recurring(SCENARIOS[i].kind) ? run_recurring(&SCENARIOS[i], (unsigned)seeds)
		                                            : run_scenario(&SCENARIOS[i], (unsigned)seeds, &cal)) != 0) {
			fprintf(stderr, PROG ": out of memory\n");
			return 1;
		}
		fflush(stdout);
	}
	if (nab && (!only || strcmp(only, "nab") == 0) && run_nab(nab) != 0) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	if (realdata && (!only || strcmp(only, "realdata") == 0) && run_realdata(realdata) != 0) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	if (cal.steps) {
		printf("HTM anomaly score on stationary stretches (%llu steps): exceeded",
		       (unsigned long long)cal.steps);
		for (size_t k = 0; k < NTHRESHOLDS; k++) {
			printf("%s %.1f ", k ? "," : "", THRESHOLDS[k]);
			if (cal.over[k])
				printf("on 1 step in %.0f", (double)cal.steps / (double)cal.over[k]);
			else
				printf("never");
		}
		printf("\n");
	}
	return 0;
}
