/* console.c - the node's pages, API and metrics; see console.h. */
#include "pano/node/console.h"

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

#define CACHE_SLOTS 4
/* 14 digits: a time to the millisecond, and no 17-digit noise */
#define DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(14))
#define CACHE_MS 1000

typedef struct {
	char path[32];
	char *body;
	size_t len;
	int64_t at_ms;
} cached;

struct pano_console {
	const char *node_id;
	const pano_store *const *store;
	pano_node_figures (*figures)(void *ctx);
	void *ctx;
	cached cache[CACHE_SLOTS];
	strmap *changed;   /* subjects changed since the last flush */
	int64_t flushed_ms;
	int64_t served_ms; /* when a page last fetched the matrix */
	pano_http *http;
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
	for (size_t i = 0; i < CACHE_SLOTS; i++)
		free(c->cache[i].body);
	strmap_free(c->changed);
	free(c);
}

static double seconds(int64_t sec, int32_t nsec) { return (double)sec + nsec / 1e9; }

/* --- JSON --------------------------------------------------------------------- */

static json_t *metrics_json(const pano_obs *o)
{
	json_t *m = json_object();
	for (size_t i = 0; o && i < o->n; i++) {
		json_t *v = json_object();
		json_object_set_new_nocheck(v, "status", json_string_nocheck(pano_status_name(o->metrics[i].status)));
		json_object_set_new_nocheck(v, "score", json_real(o->metrics[i].score));
		json_object_set_new_nocheck(m, o->metrics[i].name, v);
	}
	return m;
}

/* The worst status of an observation's metrics, and that metric's score. */
static json_t *worst_json(const pano_obs *o)
{
	int worst = 0;
	double score = 0;
	for (size_t i = 0; o && i < o->n; i++)
		if (o->metrics[i].status > worst) {
			worst = o->metrics[i].status;
			score = o->metrics[i].score;
		}
	if (!worst)
		return json_null();
	json_t *w = json_object();
	json_object_set_new_nocheck(w, "status", json_string_nocheck(pano_status_name(worst)));
	json_object_set_new_nocheck(w, "code", json_integer(worst));
	json_object_set_new_nocheck(w, "score", json_real(score));
	return w;
}

static json_t *inference_json(const pano_subject *sub)
{
	const pano_inference *inf = pano_subject_inference(sub);
	json_t *obs = json_array();
	for (size_t i = 0; inf && i < inf->nobservers; i++)
		json_array_append_new(obs, json_string_nocheck(inf->observers[i]));
	json_t *j = json_object();
	json_object_set_new_nocheck(j, "observers", obs);
	if (inf && inf->has_obs) {
		json_object_set_new(j, "ts", json_real(seconds(inf->obs.sec, inf->obs.nsec)));
		json_object_set_new(j, "metrics", metrics_json(&inf->obs));
		json_object_set_new(j, "worst", worst_json(&inf->obs));
	}
	return j;
}

/* The row of the matrix for one subject: its inference and, per observer,
 * the newest observation's worst metric as [status code, score, time]
 * (arrays, not objects: 100,000 cells render several times faster). */
static json_t *row_json(const pano_subject *sub)
{
	size_t nv = 0;
	const pano_view *const *views = pano_subject_views(sub, &nv);
	json_t *cells = json_object();
	for (size_t k = 0; k < nv; k++) {
		const pano_obs *o = pano_view_newest(views[k]);
		if (!o)
			continue;
		int worst = 0;
		double score = 0;
		for (size_t i = 0; i < o->n; i++)
			if (o->metrics[i].status > worst) {
				worst = o->metrics[i].status;
				score = o->metrics[i].score;
			}
		json_t *cell = json_array();
		json_array_append_new(cell, json_integer(worst));
		json_array_append_new(cell, json_real(score));
		json_array_append_new(cell, json_real(seconds(o->sec, o->nsec)));
		/* names are checked UTF-8 already */
		json_object_set_new_nocheck(cells, views[k]->observer, cell);
	}
	json_t *row = json_object();
	json_object_set_new_nocheck(row, "subject", json_string_nocheck(pano_subject_name(sub)));
	json_object_set_new_nocheck(row, "inferred", inference_json(sub));
	json_object_set_new_nocheck(row, "cells", cells);
	return row;
}

static json_t *matrix_json(const pano_store *st, unsigned long long seq)
{
	size_t n = 0, no = 0;
	const pano_subject **subs = pano_store_subjects(st, &n);
	const char **observers = pano_store_observers(st, &no);
	json_t *obs = json_array(), *rows = json_array();
	for (size_t i = 0; i < no; i++)
		json_array_append_new(obs, json_string(observers[i]));
	for (size_t i = 0; i < n; i++)
		json_array_append_new(rows, row_json(subs[i]));
	free(subs);
	free(observers);
	return json_pack("{s:o,s:o,s:I}", "observers", obs, "subjects", rows, "seq", (json_int_t)seq);
}

static json_t *panorama_json(const pano_subject *sub)
{
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
	return json_pack("{s:s,s:o,s:o}", "subject", pano_subject_name(sub), "inferred", inference_json(sub), "views",
	                 vs);
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
		int n = t->failed ? 0 : vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
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
static void inferred_lines(text *t, const pano_subject **subs, size_t n, bool scores)
{
	char a[600], m[600];
	for (size_t i = 0; i < n; i++) {
		const pano_inference *inf = pano_subject_inference(subs[i]);
		if (!inf || !inf->has_obs)
			continue;
		label(pano_subject_name(subs[i]), a, sizeof(a));
		for (size_t k = 0; k < inf->obs.n; k++) {
			const pano_metric *x = &inf->obs.metrics[k];
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

static void metrics_text(pano_console *c, text *t)
{
	const pano_store *st = *c->store;
	size_t n = 0;
	const pano_subject **subs = pano_store_subjects(st, &n);
	char a[600], b[600];
	family(t, "pano_subject_status_code", "gauge",
	       "The inferred status of a subject's metric: 0 invalid, 1 NA, 2 HEALTHY, 3 PENDING, "
	       "4 MAYBE_UNHEALTHY, 5 UNHEALTHY, 6 DYING, 7 DEAD.");
	inferred_lines(t, subs, n, false);
	family(t, "pano_subject_score", "gauge", "The inferred score of a subject's metric, 0 to 100.");
	inferred_lines(t, subs, n, true);
	family(t, "pano_view_last_observation_timestamp_seconds", "gauge",
	       "When the newest observation of a view (an observer's view of a subject) was made.");
	size_t views = 0;
	for (size_t i = 0; i < n; i++) {
		size_t nv = 0;
		const pano_view *const *vs = pano_subject_views(subs[i], &nv);
		label(pano_subject_name(subs[i]), a, sizeof(a));
		for (size_t k = 0; k < nv; k++) {
			const pano_obs *o = pano_view_newest(vs[k]);
			if (o)
				put(t, "pano_view_last_observation_timestamp_seconds{subject=\"%s\",observer=\"%s\"} %lld.%03d\n",
				    a, label(vs[k]->observer, b, sizeof(b)), (long long)o->sec, (int)(o->nsec / 1000000));
		}
		views += nv;
	}
	free(subs);
	pano_node_figures f = c->figures(c->ctx);
	family(t, "pano_requests_total", "counter", "Requests the node answered.");
	put(t, "pano_requests_total %llu\n", f.requests);
	family(t, "pano_requests_by_kind_total", "counter", "Requests the node answered, by kind.");
	for (unsigned k = 0; f.by_kind && k < PANO_REQUEST_KINDS; k++) {
		const ProtobufCFieldDescriptor *fd = protobuf_c_message_descriptor_get_field(&panorama__request__descriptor, k);
		if (fd && fd->label == PROTOBUF_C_LABEL_NONE && fd->type == PROTOBUF_C_TYPE_MESSAGE)
			put(t, "pano_requests_by_kind_total{kind=\"%s\"} %llu\n", fd->name, f.by_kind[k]);
	}
	family(t, "pano_batch_duration_seconds", "histogram",
	       "How long the loop took over each batch of requests (writes, reads, replies).");
	histogram_lines(t, "pano_batch_duration_seconds", f.batch_le, f.batch_sum_s);
	family(t, "pano_commit_duration_seconds", "histogram", "How long each database commit took.");
	histogram_lines(t, "pano_commit_duration_seconds", f.commit_le, f.commit_sum_s);
	family(t, "pano_reports_total", "counter", "Reports the node was sent, by what became of them.");
	put(t, "pano_reports_total{result=\"accepted\"} %llu\n", f.accepted);
	put(t, "pano_reports_total{result=\"refused\"} %llu\n", f.refused);
	put(t, "pano_reports_total{result=\"ignored\"} %llu\n", f.ignored);
	family(t, "pano_store_subjects", "gauge", "Subjects the node holds.");
	put(t, "pano_store_subjects %zu\n", n);
	family(t, "pano_store_views", "gauge", "Views (observer, subject) the node holds.");
	put(t, "pano_store_views %zu\n", views);
	family(t, "pano_store_metric_values", "gauge", "Metric values held in all views' observations.");
	put(t, "pano_store_metric_values %zu\n", pano_store_value_count(st));
	family(t, "pano_peers", "gauge", "Peers the node is configured to exchange reports with.");
	put(t, "pano_peers %zu\n", f.peers);
	family(t, "pano_wal_bytes", "gauge", "Size of the database's write-ahead log.");
	put(t, "pano_wal_bytes %lld\n", f.wal_bytes);
	family(t, "pano_watch_resets_total", "counter", "Times the watch socket dropped every watcher (a bound).");
	put(t, "pano_watch_resets_total %ld\n", f.watch_resets);
	family(t, "pano_build_info", "gauge", "The node's id; always 1.");
	put(t, "pano_build_info{node=\"%s\"} 1\n", label(c->node_id, a, sizeof(a)));
}

const double PANO_BATCH_BOUNDS_S[PANO_BATCH_BUCKETS] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
};

/* --- routing ------------------------------------------------------------------ */

static pano_http_answer answer(char *body, const char *type, int status)
{
	return (pano_http_answer){ body, body ? strlen(body) : 0, type, status };
}

static pano_http_answer json_answer(json_t *j, int status)
{
	char *body = j ? json_dumps(j, DUMP_FLAGS) : NULL;
	json_decref(j);
	return answer(body, "application/json", status);
}

static pano_http_answer not_found(const char *what)
{
	json_t *j = json_pack("{s:s}", "error", what);
	return json_answer(j, 404);
}

/* The whole-store answers, from the copy made within the last second. */
static pano_http_answer from_cache(pano_console *c, const char *path, const char *type,
                                   char *(*make)(pano_console *))
{
	int64_t now = clock_mono_ms();
	cached *slot = NULL;
	for (size_t i = 0; i < CACHE_SLOTS && !slot; i++)
		if (strcmp(c->cache[i].path, path) == 0 || !c->cache[i].path[0])
			slot = &c->cache[i];
	if (!slot)
		slot = &c->cache[0];
	if (strcmp(slot->path, path) != 0 || !slot->body || now - slot->at_ms >= CACHE_MS) {
		free(slot->body);
		snprintf(slot->path, sizeof(slot->path), "%s", path);
		slot->body = make(c);
		slot->len = slot->body ? strlen(slot->body) : 0;
		slot->at_ms = now;
	}
	char *copy = slot->body ? malloc(slot->len + 1) : NULL;
	if (copy)
		memcpy(copy, slot->body, slot->len + 1);
	return answer(copy, type, 200);
}

static char *make_matrix(pano_console *c)
{
	json_t *j = matrix_json(*c->store, c->http ? pano_http_posted(c->http) : 0);
	char *s = json_dumps(j, DUMP_FLAGS);
	json_decref(j);
	return s;
}

static char *make_inference(pano_console *c)
{
	size_t n = 0;
	const pano_subject **subs = pano_store_subjects(*c->store, &n);
	json_t *j = json_object();
	for (size_t i = 0; i < n; i++)
		json_object_set_new(j, pano_subject_name(subs[i]), inference_json(subs[i]));
	free(subs);
	char *s = json_dumps(j, DUMP_FLAGS);
	json_decref(j);
	return s;
}

static char *make_metrics(pano_console *c)
{
	text t = { NULL, 0, 0, false };
	metrics_text(c, &t);
	if (t.failed) {
		free(t.buf);
		return NULL;
	}
	return t.buf;
}

pano_http_answer pano_console_render(void *console, const char *path, const char *query)
{
	pano_console *c = console;
	const pano_store *st = *c->store;
	if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0)
		return answer(strdup(CONSOLE_HTML), "text/html; charset=utf-8", 200);
	if (strcmp(path, "/metrics") == 0)
		return from_cache(c, path, "text/plain; version=0.0.4; charset=utf-8", make_metrics);
	if (strcmp(path, "/api/v1/matrix") == 0) {
		c->served_ms = clock_mono_ms();
		return from_cache(c, path, "application/json", make_matrix);
	}
	if (strcmp(path, "/api/v1/inference") == 0)
		return from_cache(c, path, "application/json", make_inference);
	if (strcmp(path, "/api/v1/subjects") == 0) {
		size_t n = 0;
		const pano_subject **subs = pano_store_subjects(st, &n);
		json_t *j = json_array();
		for (size_t i = 0; i < n; i++) {
			int64_t sec;
			int32_t nsec;
			pano_subject_last_seen(subs[i], &sec, &nsec);
			json_array_append_new(j, json_pack("{s:s,s:f}", "subject", pano_subject_name(subs[i]), "last_seen",
			                                   seconds(sec, nsec)));
		}
		free(subs);
		return json_answer(j, 200);
	}
	if (strcmp(path, "/api/v1/observers") == 0) {
		size_t n = 0;
		const char **obs = pano_store_observers(st, &n);
		json_t *j = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(j, json_string(obs[i]));
		free(obs);
		return json_answer(j, 200);
	}
	if (strcmp(path, "/api/v1/peers") == 0) {
		pano_node_figures f = c->figures(c->ctx);
		json_t *j = json_array();
		for (size_t i = 0; i < f.peers; i++)
			json_array_append_new(j, json_pack("{s:s,s:s}", "id", f.peer_ids[i], "addr", f.peer_addrs[i]));
		return json_answer(j, 200);
	}
	if (strcmp(path, "/api/v1/panorama") == 0) {
		const pano_subject *sub = query ? pano_store_subject(st, query) : NULL;
		return sub ? json_answer(panorama_json(sub), 200) : not_found("no such subject (give ?subject=NAME)");
	}
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
	if (!c->changed || strmap_count(c->changed) == 0 || now - c->flushed_ms < PANO_CONSOLE_EVENT_MS)
		return;
	c->flushed_ms = now;
	/* nobody watching, nor loading a page that will: nothing to render */
	bool wanted = pano_http_listening(h) || now - c->served_ms < PANO_CONSOLE_LOADING_MS;
	size_t i = 0;
	const char *name;
	void *v;
	while (wanted && strmap_next(c->changed, &i, &name, &v)) {
		const pano_subject *sub = pano_store_subject(*c->store, name);
		if (!sub)
			continue;
		json_t *j = row_json(sub);
		char *line = json_dumps(j, DUMP_FLAGS);
		json_decref(j);
		if (line)
			pano_http_post(h, line);
		free(line);
	}
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
