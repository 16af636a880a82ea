/* promfile.c - the agent's metrics: snapshot and exposition; see promfile.h. */
#include "agent/promfile.h"

#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pano/common/clock.h"
#include "pano/common/grow.h"
#include "pano/common/regfile.h"

typedef struct {
	size_t labels;             /* offset of its label text in the snapshot's text */
	size_t unprobed;           /* offset of why it cannot be probed (0: it can) */
	pipeline_host_stats st;
} snap_host;

struct promfile_snapshot {
	atomic_int refs;
	int64_t taken_ns;
	int64_t wall_ms;
	double interval_s;
	size_t htm_models, htm_denied, htm_budget;
	double bounds[PIPELINE_RTT_BUCKETS_MAX]; /* the histogram's */
	size_t nbounds;
	snap_host *hosts;
	size_t n;
	char *text;                /* every host's labels, NUL-separated */
	size_t text_len, text_cap;
};

/* Process-wide, as the snapshots themselves are: how many are alive. */
static atomic_int alive;

int promfile_snapshots_alive(void) { return atomic_load(&alive); }

/* --- a growable piece of text ------------------------------------------------ */

typedef struct {
	char *buf;
	size_t len, cap;
	bool failed;
} piece;

static void piece_reserve(piece *p, size_t more)
{
	if (!p->failed && grow_array(&p->buf, &p->cap, p->len + more + 1, 1, 4096) != 0)
		p->failed = true;
}

static void put(piece *p, const char *s, size_t n)
{
	piece_reserve(p, n);
	if (p->failed)
		return;
	memcpy(p->buf + p->len, s, n);
	p->len += n;
	p->buf[p->len] = '\0';
}

static void puts_(piece *p, const char *s) { put(p, s, strlen(s)); }

__attribute__((format(printf, 2, 3))) static void putf(piece *p, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		put(p, small, (size_t)n);
		return;
	}
	piece_reserve(p, (size_t)n);
	if (p->failed)
		return;
	va_start(ap, fmt);
	vsnprintf(p->buf + p->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	p->len += (size_t)n;
}

/* A label value as the exposition format wants it: \ " and newline escaped. */
static void put_label(piece *p, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			put(p, "\\", 1);
		if (*s == '\n')
			put(p, "\\n", 2);
		else
			put(p, s, 1);
	}
}

/* --- the snapshot ------------------------------------------------------------ */

/* host="..",address="..",method=".."[,group=".."][,key=".."...]; then,
 * when it cannot be probed, why (as a label value).  Returns the offset of
 * the why, 0 when there is none. */
static size_t labels_text(piece *t, const char *host, const promfile_labels *labels, size_t i)
{
	promfile_host d = { "", "", "", NULL, 0, NULL };
	if (labels && labels->describe)
		labels->describe(labels->ctx, i, &d);
	puts_(t, "host=\"");
	put_label(t, host);
	puts_(t, "\",address=\"");
	put_label(t, d.address);
	puts_(t, "\",method=\"");
	put_label(t, d.method ? d.method : "");
	put(t, "\"", 1);
	if (d.group && d.group[0]) {
		puts_(t, ",group=\"");
		put_label(t, d.group);
		put(t, "\"", 1);
	}
	for (size_t k = 0; k < d.nlabels; k++) {
		const char *eq = strchr(d.labels[k], '=');
		if (!eq)
			continue;
		put(t, ",", 1);
		put(t, d.labels[k], (size_t)(eq - d.labels[k]));
		puts_(t, "=\"");
		put_label(t, eq + 1);
		put(t, "\"", 1);
	}
	put(t, "", 1); /* each host's text ends in its NUL */
	if (!d.unprobed || !d.unprobed[0])
		return 0;
	size_t at = t->len;
	put_label(t, d.unprobed);
	put(t, "", 1);
	return at;
}

promfile_snapshot *promfile_snapshot_take(const pipeline *p, double interval_s, const promfile_labels *labels)
{
	promfile_snapshot *s = calloc(1, sizeof(*s));
	size_t slots = pipeline_host_count(p), live = 0;
	for (size_t i = 0; i < slots; i++)
		live += pipeline_has_host(p, i);
	if (s)
		s->hosts = calloc(live ? live : 1, sizeof(*s->hosts));
	if (!s || !s->hosts) {
		free(s);
		return NULL;
	}
	atomic_init(&s->refs, 1);
	atomic_fetch_add(&alive, 1);
	s->taken_ns = clock_mono_ns();
	s->wall_ms = clock_wall_ms();
	s->interval_s = interval_s;
	pipeline_htm_usage(p, &s->htm_models, &s->htm_denied, &s->htm_budget);
	const double *b = pipeline_rtt_bounds(p, &s->nbounds);
	memcpy(s->bounds, b, s->nbounds * sizeof(*b));
	piece t = { 0 };
	for (size_t i = 0; i < slots && !t.failed; i++) {
		if (!pipeline_has_host(p, i))
			continue;
		snap_host *h = &s->hosts[s->n++];
		h->labels = t.len;
		h->unprobed = labels_text(&t, pipeline_host_name(p, i), labels, i);
		pipeline_host_stats_get(p, i, &h->st);
	}
	s->text = t.buf;
	if (t.failed) {
		promfile_snapshot_unref(s);
		return NULL;
	}
	return s;
}

promfile_snapshot *promfile_snapshot_ref(promfile_snapshot *s)
{
	atomic_fetch_add(&s->refs, 1);
	return s;
}

void promfile_snapshot_unref(promfile_snapshot *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	atomic_fetch_sub(&alive, 1);
	free(s->hosts);
	free(s->text);
	free(s);
}

int64_t promfile_snapshot_taken_ns(const promfile_snapshot *s) { return s->taken_ns; }

/* --- the exposition ------------------------------------------------------------ */

enum { M_RTT, M_SUCCESS, M_TOTAL, M_LOST, M_JITTER, M_PHI, M_ANOMALY, M_STATE, M_CAUSE, M_TIMES, M_UNPROBED, M_HISTOGRAM, M_COUNT };

static const struct { const char *name, *type, *help; } METRICS[M_COUNT] = {
	{ "sonar_rtt_seconds", "gauge", "Response time of the latest answered probe." },
	{ "sonar_probe_success", "gauge", "Whether the latest probe was answered (1) or lost (0)." },
	{ "sonar_probes_total", "counter", "Probes sent since the agent started." },
	{ "sonar_probes_lost_total", "counter", "Probes lost (timeouts and errors) since the agent started." },
	{ "sonar_jitter_seconds", "gauge", "Interarrival jitter of the response times (RFC 3550)." },
	{ "sonar_phi", "gauge", "Phi accrual suspicion of the latest probe." },
	{ "sonar_anomaly_score", "gauge", "HTM anomaly score (log likelihood) of the latest step." },
	{ "sonar_state", "gauge", "Attention state of the host (1 for the current one)." },
	{ "sonar_attention_cause", "gauge", "1 while the host is NEEDS_ATTENTION or DEAD, with the cause." },
	{ "sonar_slow_times_baseline", "gauge", "While the host needs attention for slowness: its level over its baseline." },
	{ "sonar_unprobed", "gauge", "1 while the host cannot be probed (its name does not resolve), with the reason." },
	{ "sonar_response_seconds", "histogram", "Response times of the answered probes." },
};

static void header(piece *o, const char *name, const char *type, const char *help)
{
	putf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{LABELS[,extra]} value */
static void sample(piece *o, const char *name, const char *labels, const char *extra, const char *value)
{
	puts_(o, name);
	put(o, "{", 1);
	puts_(o, labels);
	if (extra) {
		put(o, ",", 1);
		puts_(o, extra);
	}
	put(o, "} ", 2);
	puts_(o, value);
	put(o, "\n", 1);
}

/* One host's samples of metric m. */
static void host_lines(piece *o, const promfile_snapshot *s, int m, size_t i)
{
	const pipeline_host_stats *st = &s->hosts[i].st;
	const char *l = s->text + s->hosts[i].labels;
	if (m == M_UNPROBED) {
		if (!s->hosts[i].unprobed)
			return;
		char extra[600];
		snprintf(extra, sizeof(extra), "reason=\"%.500s\"", s->text + s->hosts[i].unprobed);
		sample(o, METRICS[m].name, l, extra, "1");
		return;
	}
	if (st->probes == 0 && m != M_TOTAL && m != M_LOST)
		return; /* not probed yet (unresolved): no state to show */
	char v[64];
	switch (m) {
	case M_RTT:
		if (st->last_rtt_ns < 0)
			return;
		snprintf(v, sizeof(v), "%.9f", st->last_rtt_ns / 1e9);
		break;
	case M_SUCCESS:
		snprintf(v, sizeof(v), "%d", st->last_rtt_ns >= 0);
		break;
	case M_TOTAL:
		snprintf(v, sizeof(v), "%llu", (unsigned long long)st->probes);
		break;
	case M_LOST:
		snprintf(v, sizeof(v), "%llu", (unsigned long long)st->lost);
		break;
	case M_JITTER:
		snprintf(v, sizeof(v), "%.9f", st->jitter_s);
		break;
	case M_PHI:
		snprintf(v, sizeof(v), "%.6g", isfinite(st->phi) ? st->phi : 0.0);
		break;
	case M_ANOMALY:
		if (isnan(st->anomaly))
			return;
		snprintf(v, sizeof(v), "%.4f", st->anomaly);
		break;
	case M_STATE:
		for (int k = ATTENTION_HEALTHY; k <= ATTENTION_DEAD; k++) {
			char extra[64];
			snprintf(extra, sizeof(extra), "state=\"%s\"", attention_state_name((attention_state)k));
			sample(o, METRICS[m].name, l, extra, (int)st->state == k ? "1" : "0");
		}
		return;
	case M_CAUSE: {
		if (st->why.cause == ATTENTION_CAUSE_NONE)
			return;
		char extra[64];
		snprintf(extra, sizeof(extra), "cause=\"%s\"", attention_cause_name(st->why.cause));
		sample(o, METRICS[m].name, l, extra, "1");
		return;
	}
	case M_TIMES:
		if (st->why.times_baseline <= 0.0)
			return;
		snprintf(v, sizeof(v), "%.3f", st->why.times_baseline);
		break;
	case M_HISTOGRAM: {
		uint64_t answered = st->probes - st->lost;
		for (size_t b = 0; b < s->nbounds; b++) {
			char extra[64];
			snprintf(extra, sizeof(extra), "le=\"%g\"", s->bounds[b]);
			snprintf(v, sizeof(v), "%llu", (unsigned long long)st->rtt_le[b]);
			sample(o, "sonar_response_seconds_bucket", l, extra, v);
		}
		snprintf(v, sizeof(v), "%llu", (unsigned long long)answered);
		sample(o, "sonar_response_seconds_bucket", l, "le=\"+Inf\"", v);
		snprintf(v, sizeof(v), "%.9f", st->rtt_sum_s);
		sample(o, "sonar_response_seconds_sum", l, NULL, v);
		snprintf(v, sizeof(v), "%llu", (unsigned long long)answered);
		sample(o, "sonar_response_seconds_count", l, NULL, v);
		return;
	}
	}
	sample(o, METRICS[m].name, l, NULL, v);
}

struct promfile_reader {
	promfile_snapshot *s;
	int m;                 /* -1: the preamble; M_COUNT: done */
	size_t host;           /* the next host of metric m */
	piece out;             /* rendered, not yet read */
	size_t off;
};

promfile_reader *promfile_reader_new(promfile_snapshot *s)
{
	promfile_reader *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->s = promfile_snapshot_ref(s);
	r->m = -1;
	return r;
}

void promfile_reader_free(promfile_reader *r)
{
	if (!r)
		return;
	promfile_snapshot_unref(r->s);
	free(r->out.buf);
	free(r);
}

/* Renders the next lines: a metric's header, or a few hosts' samples. */
static void render_more(promfile_reader *r)
{
	piece *o = &r->out;
	o->len = 0;
	r->off = 0;
	const promfile_snapshot *s = r->s;
	if (r->m < 0) {
		header(o, "sonar_interval_seconds", "gauge", "Probe interval per host.");
		putf(o, "sonar_interval_seconds %.6g\n", s->interval_s);
		/* a file left behind by an agent that stopped says so by its age */
		header(o, "sonar_last_update_timestamp_seconds", "gauge", "When these figures were written.");
		putf(o, "sonar_last_update_timestamp_seconds %lld.%03lld\n", (long long)(s->wall_ms / 1000),
		     (long long)(s->wall_ms % 1000));
		header(o, "sonar_htm_models", "gauge", "Hosts with an HTM model.");
		putf(o, "sonar_htm_models %zu\n", s->htm_models);
		header(o, "sonar_htm_refused_hosts", "gauge",
		       "Hosts without an HTM model because the HTM budget is full (they run on phi and the baseline).");
		putf(o, "sonar_htm_refused_hosts %zu\n", s->htm_denied);
		header(o, "sonar_htm_budget_bytes", "gauge", "The memory HTM models may take (0: no bound).");
		putf(o, "sonar_htm_budget_bytes %zu\n", s->htm_budget);
		r->m = 0;
		r->host = 0;
		return;
	}
	if (r->host == 0)
		header(o, METRICS[r->m].name, METRICS[r->m].type, METRICS[r->m].help);
	/* about 16 KB at a time: few calls, little held */
	while (r->host < s->n && o->len < 16384 && !o->failed)
		host_lines(o, s, r->m, r->host++);
	if (r->host == s->n) {
		r->m++;
		r->host = 0;
	}
}

size_t promfile_reader_read(promfile_reader *r, char *buf, size_t max)
{
	size_t got = 0;
	while (got < max) {
		if (r->off == r->out.len) {
			if (r->m >= M_COUNT || r->out.failed)
				break;
			render_more(r);
			continue;
		}
		size_t n = r->out.len - r->off;
		if (n > max - got)
			n = max - got;
		memcpy(buf + got, r->out.buf + r->off, n);
		r->off += n;
		got += n;
	}
	return got;
}

void promfile_render(FILE *f, promfile_snapshot *s)
{
	promfile_reader *r = promfile_reader_new(s);
	char buf[65536];
	size_t n;
	while (r && (n = promfile_reader_read(r, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, n, f);
	promfile_reader_free(r);
}

int promfile_write(const regdir *dir, const char *path, promfile_snapshot *s, char *err, size_t errlen)
{
	/* not durable: the file is rewritten every interval, and one lost
	 * to a power cut is written again at the next */
	regfile_replacement r;
	if (regfile_replace_begin_in(&r, dir, path, err, errlen) != 0)
		return -1;
	promfile_render(r.f, s);
	return regfile_replace_commit(&r, false, err, errlen);
}
