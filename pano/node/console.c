/* console.c - the node's pages, API and metrics; see console.h. */
#include "pano/node/console.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "console_html.h" /* build/gen: pano/node/console.html as a C string */
#include "panorama.pb-c.h"
#include "pano/common/model.h"
#include "pano/common/strmap.h"
#include "pano/common/clock.h"

/* 14 digits: a time to the millisecond, and no 17-digit noise */
#define DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(14))
/* A snapshot serves the whole-store answers for this long. */
#define SNAPSHOT_MS 1000
/* and is let go when nobody asked for one this long. */
#define SNAPSHOT_IDLE_MS 10000

struct pano_console {
	const char *node_id;
	const pano_store *const *store;
	pano_node_figures (*figures)(void *ctx);
	void *ctx;
	pano_snapshot *snap; /* the newest, while it serves */
	int64_t asked_ms;    /* when a whole-store answer was last asked for */
	strmap *changed;     /* subjects changed since the last flush */
	int64_t flushed_ms;
	int64_t served_ms;   /* when a page last fetched the matrix */
	pano_http *http;
	history *history;    /* NULL: no /api/v1/history */
	int (*reload)(void *ctx, char *err, size_t errlen); /* POST /-/reload */
	void *reload_ctx;
};

pano_console *pano_console_new(const char *node_id, const pano_store *const *store,
                               pano_node_figures (*figures)(void *ctx), void *ctx)
{
	pano_console *c = calloc(1, sizeof(*c));
	if (c) {
		c->node_id = node_id;
		c->store = store;
		c->figures = figures;
		c->ctx = ctx;
		c->changed = strmap_new();
	}
	return c;
}

void pano_console_free(pano_console *c)
{
	if (!c)
		return;
	pano_snapshot_unref(c->snap);
	strmap_free(c->changed);
	free(c);
}

static double seconds(int64_t sec, int32_t nsec) { return (double)sec + nsec / 1e9; }

/* --- JSON ----------------------------------------------------------------------- */

static json_t *status_json(int status, double score)
{
	if (!status)
		return json_null();
	json_t *w = json_object();
	json_object_set_new_nocheck(w, "status", json_string_nocheck(pano_status_name(status)));
	json_object_set_new_nocheck(w, "code", json_integer(status));
	json_object_set_new_nocheck(w, "score", json_real(score));
	return w;
}

static json_t *inference_json(const snap_subject *sub)
{
	json_t *obs = json_array();
	for (size_t i = 0; i < sub->nobservers; i++)
		json_array_append_new(obs, json_string_nocheck(sub->observers[i]));
	json_t *j = json_object();
	json_object_set_new_nocheck(j, "observers", obs);
	if (sub->inferred) {
		json_t *m = json_object();
		int worst = 0;
		double score = 0;
		for (size_t i = 0; i < sub->nmetrics; i++) {
			const snap_metric *x = &sub->metrics[i];
			json_t *v = json_object();
			json_object_set_new_nocheck(v, "status", json_string_nocheck(pano_status_name(x->status)));
			json_object_set_new_nocheck(v, "score", json_real(x->score));
			json_object_set_new_nocheck(m, x->name, v);
			if (x->status > worst) {
				worst = x->status;
				score = x->score;
			}
		}
		json_object_set_new(j, "ts", json_real(seconds(sub->sec, sub->nsec)));
		json_object_set_new(j, "metrics", m);
		json_object_set_new(j, "worst", status_json(worst, score));
	}
	if (sub->all_stale)
		json_object_set_new_nocheck(j, "stale", json_true());
	return j;
}

/* The row of the matrix for one subject: its inference and, per observer,
 * the newest observation's worst metric as [status code, score, time,
 * mute, median ms, loss]
 * (arrays, not objects: 100,000 cells render several times faster). */
static json_t *row_json(const snap_subject *sub)
{
	json_t *cells = json_object();
	for (size_t k = 0; k < sub->ncells; k++) {
		const snap_cell *x = &sub->cells[k];
		json_t *cell = json_array();
		json_array_append_new(cell, json_integer(x->worst));
		json_array_append_new(cell, json_real(x->worst_score));
		json_array_append_new(cell, json_real(seconds(x->sec, x->nsec)));
		json_array_append_new(cell, json_integer(x->mute)); /* 0 votes, 1 stale, 2 a blame explains it */
		json_array_append_new(cell, x->median_ms >= 0 ? json_real(x->median_ms) : json_null());
		json_array_append_new(cell, x->loss >= 0 ? json_real(x->loss) : json_null());
		/* names are checked UTF-8 already */
		json_object_set_new_nocheck(cells, x->observer, cell);
	}
	json_t *row = json_object();
	json_object_set_new_nocheck(row, "subject", json_string_nocheck(sub->name));
	json_object_set_new_nocheck(row, "inferred", inference_json(sub));
	json_object_set_new_nocheck(row, "cells", cells);
	return row;
}

static char *dumped(json_t *j, size_t *len)
{
	char *s = j ? json_dumps(j, DUMP_FLAGS) : NULL;
	json_decref(j);
	*len = s ? strlen(s) : 0;
	return s;
}

static char *make_matrix(const pano_snapshot_data *d, size_t *len)
{
	json_t *obs = json_array(), *rows = json_array();
	for (size_t i = 0; i < d->nobservers; i++)
		json_array_append_new(obs, json_string_nocheck(d->observers[i]));
	for (size_t i = 0; i < d->nsubjects; i++)
		json_array_append_new(rows, row_json(&d->subjects[i]));
	return dumped(json_pack("{s:o,s:o,s:I}", "observers", obs, "subjects", rows, "seq", (json_int_t)d->seq), len);
}

static char *make_inference(const pano_snapshot_data *d, size_t *len)
{
	json_t *j = json_object();
	for (size_t i = 0; i < d->nsubjects; i++)
		json_object_set_new_nocheck(j, d->subjects[i].name, inference_json(&d->subjects[i]));
	return dumped(j, len);
}

static char *make_subjects(const pano_snapshot_data *d, size_t *len)
{
	json_t *j = json_array();
	for (size_t i = 0; i < d->nsubjects; i++)
		json_array_append_new(j, json_pack("{s:s,s:f}", "subject", d->subjects[i].name, "last_seen",
		                                   seconds(d->subjects[i].last_sec, d->subjects[i].last_nsec)));
	return dumped(j, len);
}

static char *make_observers(const pano_snapshot_data *d, size_t *len)
{
	json_t *j = json_array();
	for (size_t i = 0; i < d->nobservers; i++)
		json_array_append_new(j, json_string_nocheck(d->observers[i]));
	return dumped(j, len);
}

static void rfc3339(int64_t sec, char *buf, size_t len)
{
	time_t t = (time_t)sec;
	struct tm tm;
	if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "?");
}

/* {"blame": [{kind, hosts, group, since, evidence}]} */
static char *make_blame(const pano_snapshot_data *d, size_t *len)
{
	json_t *list = json_array();
	for (size_t i = 0; i < d->figures.nblames; i++) {
		const judge_blame *b = &d->figures.blames[i];
		json_t *hosts = json_array();
		for (size_t k = 0; k < b->nhosts; k++)
			json_array_append_new(hosts, json_string(b->hosts[k]));
		json_t *ev = json_pack("{s:i,s:i}", "bad", (json_int_t)b->bad, "views", (json_int_t)b->views);
		if (b->ratio > 0)
			json_object_set_new_nocheck(ev, "ratio", json_real(b->ratio));
		if (b->loss >= 0)
			json_object_set_new_nocheck(ev, "loss", json_real(b->loss));
		char since[40];
		rfc3339(b->since_sec, since, sizeof(since));
		json_t *x = json_pack("{s:s,s:o,s:s,s:o}", "kind", blame_kind_name(b->kind), "hosts", hosts, "since", since,
		                      "evidence", ev);
		if (b->group[0])
			json_object_set_new_nocheck(x, "group", json_string(b->group));
		json_array_append_new(list, x);
	}
	return dumped(json_pack("{s:o}", "blame", list), len);
}

static char *make_peers(const pano_snapshot_data *d, size_t *len)
{
	const pano_node_figures *f = &d->figures;
	json_t *j = json_array();
	for (size_t i = 0; i < f->peers; i++)
		json_array_append_new(j, json_pack("{s:s,s:s,s:b}", "id", f->peer_ids[i], "addr", f->peer_addrs[i],
		                                   "reachable", f->peer_up[i]));
	return dumped(j, len);
}

static json_t *metrics_json(const pano_obs *o)
{
	json_t *m = json_object();
	for (size_t i = 0; i < o->n; i++) {
		json_t *v = json_pack("{s:s,s:f}", "status", pano_status_name(o->metrics[i].status), "score",
		                      (double)o->metrics[i].score);
		if (o->metrics[i].reason)
			json_object_set_new_nocheck(v, "reason", json_string(o->metrics[i].reason));
		json_object_set_new_nocheck(m, o->metrics[i].name, v);
	}
	return m;
}

/* One subject: every view's observations, and the inference. */
static json_t *panorama_json(const pano_subject *sub)
{
	arena *a = arena_new();
	snap_subject inferred;
	if (!a || !pano_snapshot_subject(a, sub, &inferred)) {
		arena_free(a);
		return NULL;
	}
	size_t nv = 0;
	const pano_view *const *views = pano_subject_views(sub, &nv);
	json_t *vs = json_array();
	for (size_t k = 0; k < nv; k++) {
		json_t *list = json_array();
		for (size_t i = 0; i < views[k]->count; i++) {
			const pano_obs *o = pano_view_at(views[k], i);
			json_array_append_new(list, json_pack("{s:f,s:o}", "ts", seconds(o->sec, o->nsec), "metrics",
			                                      metrics_json(o)));
		}
		json_array_append_new(vs, json_pack("{s:s,s:o}", "observer", views[k]->observer, "observations", list));
	}
	json_t *j = json_pack("{s:s,s:o,s:o}", "subject", pano_subject_name(sub), "inferred",
	                      inference_json(&inferred), "views", vs);
	arena_free(a);
	return j;
}

/* --- Prometheus -------------------------------------------------------------- */

typedef struct {
	char *buf;
	size_t len, cap;
	bool failed;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = t->failed ? 0 : vsnprintf(t->buf ? t->buf + t->len : NULL, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (t->failed || n < 0)
			return;
		if ((size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = t->cap * 2 + (size_t)n + 1;
		char *b = realloc(t->buf, cap);
		if (!b) {
			t->failed = true;
			return;
		}
		t->buf = b;
		t->cap = cap;
	}
}

/* A label value as the exposition format wants it. */
static const char *label(const char *s, char *out, size_t cap)
{
	size_t o = 0;
	for (; *s && o + 3 < cap; s++) {
		if (*s == '\\' || *s == '"')
			out[o++] = '\\';
		out[o++] = *s;
	}
	out[o] = '\0';
	return out;
}

static void family(text *t, const char *name, const char *type, const char *help)
{
	put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Every subject's inferred metrics: their status codes, or their scores
 * (a family's samples come together). */
static void inferred_lines(text *t, const pano_snapshot_data *d, bool scores)
{
	char a[600], m[600];
	for (size_t i = 0; i < d->nsubjects; i++) {
		const snap_subject *sub = &d->subjects[i];
		label(sub->name, a, sizeof(a));
		for (size_t k = 0; sub->inferred && k < sub->nmetrics; k++) {
			const snap_metric *x = &sub->metrics[k];
			if (scores)
				put(t, "pano_subject_score{subject=\"%s\",metric=\"%s\"} %.9g\n", a,
				    label(x->name, m, sizeof(m)), (double)x->score);
			else
				put(t, "pano_subject_status_code{subject=\"%s\",metric=\"%s\",status=\"%s\"} %d\n", a,
				    label(x->name, m, sizeof(m)), pano_status_name(x->status), x->status);
		}
	}
}

/* A histogram's _bucket, _sum and _count from per-bucket counts. */
static void histogram_lines(text *t, const char *name, const unsigned long long *in, double sum)
{
	unsigned long long cum = 0;
	for (size_t k = 0; in && k <= PANO_BATCH_BUCKETS; k++) {
		cum += in[k];
		if (k < PANO_BATCH_BUCKETS)
			put(t, "%s_bucket{le=\"%g\"} %llu\n", name, PANO_BATCH_BOUNDS_S[k], cum);
		else
			put(t, "%s_bucket{le=\"+Inf\"} %llu\n", name, cum);
	}
	put(t, "%s_sum %.6f\n%s_count %llu\n", name, sum, name, cum);
}

static void metrics_text(const pano_snapshot_data *d, text *t)
{
	char a[600], b[600];
	family(t, "pano_subject_status_code", "gauge",
	       "The inferred status of a subject's metric: 0 invalid, 1 NA, 2 HEALTHY, 3 PENDING, "
	       "4 MAYBE_UNHEALTHY, 5 UNHEALTHY, 6 DYING, 7 DEAD.");
	inferred_lines(t, d, false);
	family(t, "pano_subject_score", "gauge", "The inferred score of a subject's metric, 0 to 100.");
	inferred_lines(t, d, true);
	family(t, "pano_view_last_observation_timestamp_seconds", "gauge",
	       "When the newest observation of a view (an observer's view of a subject) was made.");
	for (size_t i = 0; i < d->nsubjects; i++) {
		const snap_subject *sub = &d->subjects[i];
		label(sub->name, a, sizeof(a));
		for (size_t k = 0; k < sub->ncells; k++)
			put(t, "pano_view_last_observation_timestamp_seconds{subject=\"%s\",observer=\"%s\"} %lld.%03d\n", a,
			    label(sub->cells[k].observer, b, sizeof(b)), (long long)sub->cells[k].sec,
			    (int)(sub->cells[k].nsec / 1000000));
	}
	const pano_node_figures *f = &d->figures;
	family(t, "pano_blame", "gauge", "1 for each current blame: a fault located on a host, an observer, a link "
	       "or a group (hosts comma-separated, sorted).");
	for (size_t i = 0; i < f->nblames; i++) {
		const judge_blame *bl = &f->blames[i];
		char hosts[4096] = "", one[600];
		size_t at = 0;
		for (size_t k = 0; k < bl->nhosts && at < sizeof(hosts) - 1; k++)
			at += (size_t)snprintf(hosts + at, sizeof(hosts) - at, "%s%s", k ? "," : "",
			                       label(bl->hosts[k], one, sizeof(one)));
		put(t, "pano_blame{kind=\"%s\",hosts=\"%s\",group=\"%s\"} 1\n", blame_kind_name(bl->kind), hosts,
		    label(bl->group, a, sizeof(a)));
	}
	size_t stale = 0;
	for (size_t i = 0; i < d->nsubjects; i++)
		for (size_t k = 0; k < d->subjects[i].ncells; k++)
			stale += d->subjects[i].cells[k].mute == PANO_STALE;
	family(t, "pano_views_stale", "gauge", "Views whose observer has stopped reporting: they do not vote.");
	put(t, "pano_views_stale %zu\n", stale);
	family(t, "pano_notifications_queued", "gauge", "Notifications waiting for their targets.");
	put(t, "pano_notifications_queued %zu\n", f->notify_queued);
	family(t, "pano_notifications_sent_total", "counter", "Notifications their targets took.");
	put(t, "pano_notifications_sent_total %llu\n", f->notify_sent);
	family(t, "pano_notifications_dropped_total", "counter",
	       "Notifications dropped, the oldest first, while a target had 1000 waiting.");
	put(t, "pano_notifications_dropped_total %llu\n", f->notify_dropped);
	family(t, "pano_requests_total", "counter", "Requests the node answered.");
	put(t, "pano_requests_total %llu\n", f->requests);
	family(t, "pano_requests_by_kind_total", "counter", "Requests the node answered, by kind.");
	for (unsigned k = 0; f->by_kind && k < PANO_REQUEST_KINDS; k++) {
		const ProtobufCFieldDescriptor *fd = protobuf_c_message_descriptor_get_field(&panorama__request__descriptor, k);
		if (fd && fd->label == PROTOBUF_C_LABEL_NONE && fd->type == PROTOBUF_C_TYPE_MESSAGE)
			put(t, "pano_requests_by_kind_total{kind=\"%s\"} %llu\n", fd->name, f->by_kind[k]);
	}
	family(t, "pano_batch_duration_seconds", "histogram",
	       "How long the loop took over each batch of requests (writes, reads, replies).");
	histogram_lines(t, "pano_batch_duration_seconds", f->batch_le, f->batch_sum_s);
	family(t, "pano_commit_duration_seconds", "histogram", "How long each database commit took.");
	histogram_lines(t, "pano_commit_duration_seconds", f->commit_le, f->commit_sum_s);
	family(t, "pano_reports_total", "counter", "Reports the node was sent, by what became of them.");
	put(t, "pano_reports_total{result=\"accepted\"} %llu\n", f->accepted);
	put(t, "pano_reports_total{result=\"refused\"} %llu\n", f->refused);
	put(t, "pano_reports_total{result=\"ignored\"} %llu\n", f->ignored);
	family(t, "pano_store_subjects", "gauge", "Subjects the node holds.");
	put(t, "pano_store_subjects %zu\n", d->nsubjects);
	family(t, "pano_store_views", "gauge", "Views (observer, subject) the node holds.");
	put(t, "pano_store_views %zu\n", d->views);
	family(t, "pano_store_metric_values", "gauge", "Metric values held in all views' observations.");
	put(t, "pano_store_metric_values %zu\n", d->values);
	family(t, "pano_peers", "gauge", "Peers the node is configured to exchange reports with.");
	put(t, "pano_peers %zu\n", f->peers);
	family(t, "pano_peers_reachable", "gauge", "Peers that answered the node within the last 15 seconds.");
	put(t, "pano_peers_reachable %zu\n", f->peers_reachable);
	family(t, "pano_wal_bytes", "gauge", "Size of the database's write-ahead log.");
	put(t, "pano_wal_bytes %lld\n", f->wal_bytes);
	family(t, "pano_watch_resets_total", "counter", "Times the watch socket dropped every watcher (a bound).");
	put(t, "pano_watch_resets_total %ld\n", f->watch_resets);
	family(t, "pano_snapshot_duration_seconds", "gauge",
	       "How long the node's loop took to copy the store for these whole-store answers.");
	put(t, "pano_snapshot_duration_seconds %.6f\n", d->took_s);
	family(t, "pano_build_info", "gauge", "The node's id; always 1.");
	put(t, "pano_build_info{node=\"%s\"} 1\n", label(d->node_id, a, sizeof(a)));
}

static char *make_metrics(const pano_snapshot_data *d, size_t *len)
{
	text t = { NULL, 0, 0, false };
	metrics_text(d, &t);
	if (t.failed) {
		free(t.buf);
		return NULL;
	}
	*len = t.len;
	return t.buf;
}

const double PANO_BATCH_BOUNDS_S[PANO_BATCH_BUCKETS] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
};

/* --- routing ------------------------------------------------------------------ */

static pano_http_answer answer(char *body, const char *type, int status)
{
	return (pano_http_answer){ .body = body, .len = body ? strlen(body) : 0, .content_type = type, .status = status };
}

static pano_http_answer json_answer(json_t *j, int status)
{
	size_t len;
	char *body = dumped(j, &len);
	return answer(body, "application/json", status);
}

static pano_http_answer not_found(const char *what)
{
	return json_answer(json_pack("{s:s}", "error", what), 404);
}

/* The whole-store answers: one kind each, rendered from a snapshot. */
typedef char *(*snapshot_renderer)(const pano_snapshot_data *d, size_t *len);
static const struct {
	const char *path, *type;
	snapshot_renderer make;
} WHOLE[] = {
	{ "/metrics", "text/plain; version=0.0.4; charset=utf-8", make_metrics },
	{ "/api/v1/matrix", "application/json", make_matrix },
	{ "/api/v1/inference", "application/json", make_inference },
	{ "/api/v1/subjects", "application/json", make_subjects },
	{ "/api/v1/observers", "application/json", make_observers },
	{ "/api/v1/peers", "application/json", make_peers },
	{ "/api/v1/blame", "application/json", make_blame },
};

typedef struct {
	pano_snapshot *snap;
	unsigned kind;
} rendering;

static void release_snapshot(void *data) { pano_snapshot_unref(data); }

/* On the HTTP thread: the answer from the snapshot the loop handed over,
 * sent from the snapshot's own rendering, which it holds until sent. */
static void finish_rendering(void *data, pano_http_answer *a)
{
	rendering *r = data;
	pano_snapshot *snap = r->snap;
	unsigned kind = r->kind;
	free(r);
	const char *shared = pano_snapshot_render(snap, kind, WHOLE[kind].make, &a->len);
	if (!shared) {
		pano_snapshot_unref(snap);
		return; /* no body: out of memory */
	}
	a->body = (char *)shared; /* not ours: release gives it back */
	a->data = snap;
	a->release = release_snapshot;
}

/* On the loop: the snapshot taken within the last second, or a new one;
 * but none while SNAPSHOTS_MAX are still being sent (slow readers hold
 * theirs), so neither the loop's time nor the memory grows with them. */
#define SNAPSHOTS_MAX 4
static pano_snapshot *current_snapshot(pano_console *c)
{
	int64_t now = clock_mono_ms();
	c->asked_ms = now;
	if (c->snap && (now - pano_snapshot_get(c->snap)->taken_ms < SNAPSHOT_MS || pano_snapshots_alive() >= SNAPSHOTS_MAX))
		return c->snap;
	pano_snapshot_unref(c->snap);
	pano_node_figures f = c->figures(c->ctx);
	c->snap = pano_snapshot_take(*c->store, c->node_id, &f, c->http ? pano_http_posted(c->http) : 0);
	return c->snap;
}

static pano_http_answer whole_store(pano_console *c, unsigned kind)
{
	pano_snapshot *snap = current_snapshot(c);
	rendering *r = snap ? malloc(sizeof(*r)) : NULL;
	if (!r)
		return answer(NULL, WHOLE[kind].type, 500);
	pano_snapshot_ref(snap);
	*r = (rendering){ snap, kind };
	return (pano_http_answer){ .content_type = WHOLE[kind].type, .status = 200, .finish = finish_rendering,
	                           .data = r };
}

void pano_console_set_history(pano_console *c, history *h) { c->history = h; }

void pano_console_set_reload(pano_console *c, int (*reload)(void *ctx, char *err, size_t errlen), void *ctx)
{
	c->reload = reload;
	c->reload_ctx = ctx;
}

static pano_http_answer reload_answer(pano_console *c, const pano_http_query *q)
{
	if (!q || !q->post)
		return answer(strdup("POST to reload the configuration\n"), "text/plain; charset=utf-8", 405);
	char err[512];
	if (!c->reload || c->reload(c->reload_ctx, err, sizeof(err)) != 0) {
		char *body = NULL;
		if (asprintf(&body, "not reloaded: %s\n", c->reload ? err : "nothing to reload") < 0)
			body = NULL;
		return answer(body, "text/plain; charset=utf-8", 400);
	}
	return answer(strdup("reloaded\n"), "text/plain; charset=utf-8", 200);
}

/* A time or a step in whole seconds, 0 to 2^40: the whole text or nothing. */
static bool seconds_arg(const char *s, int64_t *out)
{
	if (!s)
		return true;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > (INT64_C(1) << 40))
		return false;
	*out = v;
	return true;
}

typedef struct {
	history *h;
	char subject[1025], observer[1025];
	bool one_observer;
	int64_t from, to, step;
} history_job;

/* On the HTTP thread: the query, on history's own connection. */
static void finish_history(void *data, pano_http_answer *a)
{
	history_job *q = data;
	char err[256];
	json_t *j = history_query(q->h, q->subject, q->one_observer ? q->observer : NULL, q->from, q->to, q->step, err,
	                          sizeof(err));
	free(q);
	*a = j ? json_answer(j, 200) : json_answer(json_pack("{s:s}", "error", err), 500);
}

static pano_http_answer history_answer(pano_console *c, const pano_http_query *q)
{
	if (!c->history)
		return not_found("no history here");
	if (!q->subject)
		return json_answer(json_pack("{s:s}", "error", "give ?subject=NAME"), 400);
	int64_t now = (int64_t)time(NULL);
	int64_t to = now, from = -1, step = 0;
	if (!seconds_arg(q->to, &to) || !seconds_arg(q->from, &from) || !seconds_arg(q->step, &step) ||
	    (q->from && from > to))
		return json_answer(json_pack("{s:s}", "error",
		                             "from, to and step are whole seconds (times since 1970), from before to"),
		                   400);
	if (from < 0)
		from = to > 3 * 3600 ? to - 3 * 3600 : 0;
	history_job *j = malloc(sizeof(*j));
	if (!j)
		return answer(NULL, "application/json", 500);
	*j = (history_job){ .h = c->history, .one_observer = q->observer != NULL, .from = from, .to = to, .step = step };
	snprintf(j->subject, sizeof(j->subject), "%s", q->subject);
	if (q->observer)
		snprintf(j->observer, sizeof(j->observer), "%s", q->observer);
	return (pano_http_answer){ .content_type = "application/json", .status = 200, .finish = finish_history,
	                           .data = j };
}

/* The charting library, as Debian installs it (libjs-dygraphs): read on
 * the HTTP thread, whole, at most 1 MB. */
static void finish_static(void *data, pano_http_answer *a)
{
	const char *file = data;
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", PANO_DYGRAPHS_DIR, file);
	FILE *f = fopen(path, "rb");
	char *body = f ? malloc(1 << 20) : NULL;
	size_t n = body ? fread(body, 1, 1 << 20, f) : 0;
	if (f)
		fclose(f);
	if (!body || n == 0 || n == 1 << 20) {
		free(body);
		*a = answer(strdup("the charts need libjs-dygraphs (apt-get install libjs-dygraphs)\n"),
		            "text/plain; charset=utf-8", 404);
		return;
	}
	a->body = body;
	a->len = n;
}

static pano_http_answer static_file(const char *path)
{
	static const struct {
		const char *path, *file, *type;
	} FILES[] = {
		{ "/static/dygraph.js", "dygraph.min.js", "text/javascript; charset=utf-8" },
		{ "/static/dygraph.css", "dygraph.min.css", "text/css; charset=utf-8" },
	};
	for (size_t i = 0; i < sizeof(FILES) / sizeof(FILES[0]); i++)
		if (strcmp(path, FILES[i].path) == 0)
			return (pano_http_answer){ .content_type = FILES[i].type, .status = 200, .finish = finish_static,
			                           .data = (void *)FILES[i].file };
	return not_found("no such page");
}

pano_http_answer pano_console_render(void *console, const char *path, const pano_http_query *q)
{
	pano_console *c = console;
	const char *query = q ? q->subject : NULL;
	if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0)
		return answer(strdup(CONSOLE_HTML), "text/html; charset=utf-8", 200);
	for (unsigned k = 0; k < sizeof(WHOLE) / sizeof(WHOLE[0]); k++)
		if (strcmp(path, WHOLE[k].path) == 0) {
			if (WHOLE[k].make == make_matrix)
				c->served_ms = clock_mono_ms();
			return whole_store(c, k);
		}
	if (strcmp(path, "/api/v1/panorama") == 0) {
		const pano_subject *sub = query ? pano_store_subject(*c->store, query) : NULL;
		return sub ? json_answer(panorama_json(sub), 200) : not_found("no such subject (give ?subject=NAME)");
	}
	if (strcmp(path, "/api/v1/history") == 0)
		return history_answer(c, q);
	if (strcmp(path, "/-/reload") == 0)
		return reload_answer(c, q);
	if (strncmp(path, "/static/", 8) == 0)
		return static_file(path);
	return not_found("no such page");
}

void pano_console_changed(pano_console *c, const char *subject)
{
	/* on every stored report: nothing to keep while nobody can want it */
	if (!c->http || !(pano_http_listening(c->http) || clock_mono_ms() - c->served_ms < PANO_CONSOLE_LOADING_MS))
		return;
	if (c->changed && !strmap_get(c->changed, subject))
		strmap_put(c->changed, subject, (void *)1);
}

void pano_console_flush(pano_console *c, pano_http *h)
{
	int64_t now = clock_mono_ms();
	c->http = h;
	if (c->snap && now - c->asked_ms >= SNAPSHOT_IDLE_MS) {
		pano_snapshot_unref(c->snap); /* nobody polls: its memory back */
		c->snap = NULL;
	}
	if (!c->changed || strmap_count(c->changed) == 0 || now - c->flushed_ms < PANO_CONSOLE_EVENT_MS)
		return;
	c->flushed_ms = now;
	/* nobody watching, nor loading a page that will: nothing to render */
	bool wanted = pano_http_listening(h) || now - c->served_ms < PANO_CONSOLE_LOADING_MS;
	size_t i = 0;
	const char *name;
	void *v;
	arena *a = wanted ? arena_new() : NULL;
	while (a && strmap_next(c->changed, &i, &name, &v)) {
		const pano_subject *sub = pano_store_subject(*c->store, name);
		snap_subject row;
		arena_reset(a);
		if (!sub || !pano_snapshot_subject(a, sub, &row))
			continue;
		size_t len;
		char *line = dumped(row_json(&row), &len);
		if (line)
			pano_http_post(h, line);
		free(line);
	}
	arena_free(a);
	strmap_free(c->changed);
	c->changed = strmap_new();
}

int pano_console_due_ms(const pano_console *c)
{
	if (!c->changed || strmap_count(c->changed) == 0)
		return -1;
	int64_t left = PANO_CONSOLE_EVENT_MS - (clock_mono_ms() - c->flushed_ms);
	return left < 0 ? 0 : (int)left;
}
