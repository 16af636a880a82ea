/* history.c - views' measurements over time in sqlite; see history.h. */
#include "pano/node/history.h"

#include "pano/common/grow.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STEP_MINUTE 60
#define STEP_HOUR 3600
/* What a summary may say and still be kept: a report's stretch is seconds
 * to minutes, so more probes than this is a client's error, as is a
 * response time past a day. */
#define SUMMARY_PROBES_MAX 1000000u
#define SUMMARY_MS_MAX 86400000.0f

struct history {
	sqlite3 *w; /* the node's connection: the loop's */
	sqlite3_stmt *new_view, *find_view, *touch_view, *add, *prune, *drop_views, *restore;
	/* The views whose hist_id or hist_hour this transaction set: taken
	 * back by history_rollback, so no view keeps an id the file lost. */
	pano_view **journal;
	size_t njournal, journal_cap;
	char *path;
	pthread_mutex_t read_mu; /* guards r and its statements */
	sqlite3 *r;
	sqlite3_stmt *r_views, *r_rows;
};

static const char SCHEMA[] =
	/* last: the hour of the view's newest summary, for pruning views
	 * whose history is gone */
	"CREATE TABLE IF NOT EXISTS hist_views(id INTEGER PRIMARY KEY, subject TEXT NOT NULL,"
	" observer TEXT NOT NULL, last INTEGER NOT NULL DEFAULT 0, UNIQUE(subject, observer));"
	/* Keyed by time before view: the buckets being filled are all at the
	 * end of the tree, so a batch of reports dirties a few pages, not one
	 * per view (each dirty page is 4 KB more in the WAL at every commit),
	 * and pruning deletes from the start.  A view's series is read with a
	 * seek per bucket.  Times and sums are integers (µs), which sqlite
	 * stores in as few bytes as they need: a row is some 40 bytes. */
	"CREATE TABLE IF NOT EXISTS history(step INTEGER NOT NULL, t INTEGER NOT NULL,"
	" view INTEGER NOT NULL, probes INTEGER NOT NULL, lost INTEGER NOT NULL,"
	" answered INTEGER NOT NULL, min_us INTEGER NOT NULL, max_us INTEGER NOT NULL,"
	" med_sum INTEGER NOT NULL, p90_sum INTEGER NOT NULL, bad INTEGER NOT NULL,"
	" PRIMARY KEY(step, t, view)) WITHOUT ROWID;";

static bool ms_valid(float ms) { return isfinite(ms) && ms >= 0 && ms <= SUMMARY_MS_MAX; }

static int64_t us_of(float ms) { return (int64_t)llround((double)ms * 1000.0); }

static int fail(sqlite3 *db, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "history: %s: %s", what, sqlite3_errmsg(db));
	return -1;
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, char *err, size_t errlen)
{
	return sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) == SQLITE_OK ? 0
	       : fail(db, "preparing", err, errlen);
}

history *history_new(sqlite3 *w, const char *path, char *err, size_t errlen)
{
	history *h = calloc(1, sizeof(*h));
	if (!h || !(h->path = strdup(path))) {
		free(h);
		snprintf(err, errlen, "history: out of memory");
		return NULL;
	}
	h->w = w;
	pthread_mutex_init(&h->read_mu, NULL);
	if (sqlite3_exec(w, SCHEMA, NULL, NULL, NULL) != SQLITE_OK) {
		fail(w, "making its tables", err, errlen);
		history_free(h);
		return NULL;
	}
	if (prepare(w, "INSERT INTO hist_views(subject, observer) VALUES(?1, ?2) ON CONFLICT DO NOTHING", &h->new_view,
	            err, errlen) != 0 ||
	    prepare(w, "SELECT id FROM hist_views WHERE subject = ?1 AND observer = ?2", &h->find_view, err,
	            errlen) != 0 ||
	    prepare(w, "UPDATE hist_views SET last = ?2 WHERE id = ?1", &h->touch_view, err, errlen) != 0 ||
	    prepare(w,
	            "INSERT INTO history VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
	            " ON CONFLICT(step, t, view) DO UPDATE SET"
	            " probes = probes + excluded.probes, lost = lost + excluded.lost,"
	            " min_us = CASE WHEN excluded.answered > 0 AND (answered = 0 OR excluded.min_us < min_us)"
	            "   THEN excluded.min_us ELSE min_us END,"
	            " max_us = CASE WHEN excluded.max_us > max_us THEN excluded.max_us ELSE max_us END,"
	            " answered = answered + excluded.answered,"
	            " med_sum = med_sum + excluded.med_sum, p90_sum = p90_sum + excluded.p90_sum,"
	            " bad = bad + excluded.bad",
	            &h->add, err, errlen) != 0 ||
	    prepare(w, "DELETE FROM history WHERE step = ?1 AND t < ?2", &h->prune, err, errlen) != 0 ||
	    prepare(w, "DELETE FROM hist_views WHERE last < ?1", &h->drop_views, err, errlen) != 0 ||
	    prepare(w,
	            "SELECT v.subject, v.observer, h.med_sum, h.answered FROM history h JOIN hist_views v"
	            " ON v.id = h.view WHERE h.step = 60 AND h.t >= ?1 AND h.answered > 0 ORDER BY h.t",
	            &h->restore, err, errlen) != 0) {
		history_free(h);
		return NULL;
	}
	return h;
}

void history_free(history *h)
{
	if (!h)
		return;
	sqlite3_stmt *all[] = { h->new_view, h->find_view, h->touch_view, h->add, h->prune, h->drop_views,
		                h->restore, h->r_views, h->r_rows };
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		sqlite3_finalize(all[i]);
	sqlite3_close(h->r);
	pthread_mutex_destroy(&h->read_mu);
	free(h->journal);
	free(h->path);
	free(h);
}

static int journal(history *h, pano_view *v)
{
	if (grow_array(&h->journal, &h->journal_cap, h->njournal + 1, sizeof(*h->journal), 64) != 0)
		return -1;
	h->journal[h->njournal++] = v;
	return 0;
}

void history_commit(history *h) { h->njournal = 0; }

void history_rollback(history *h)
{
	for (size_t i = 0; i < h->njournal; i++)
		h->journal[i]->hist_id = h->journal[i]->hist_hour = 0;
	h->njournal = 0;
}

/* The view's id in hist_views, made if missing, kept in the view; 0 on
 * error.  The insert comes first: a transaction whose first statement
 * reads holds a snapshot, and its first write must then upgrade its lock,
 * which fails at once (SQLITE_BUSY, no waiting) while the checkpointer
 * holds the writer's lock; a write first waits for it like any other. */
static int64_t view_id(history *h, pano_view *v, const char *subject, const char *observer)
{
	if (v->hist_id)
		return v->hist_id;
	if (journal(h, v) != 0)
		return 0;
	sqlite3_stmt *st = h->new_view;
	sqlite3_bind_text(st, 1, subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, observer, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return 0;
	st = h->find_view;
	sqlite3_bind_text(st, 1, subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, observer, -1, SQLITE_STATIC);
	v->hist_id = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	return v->hist_id;
}

/* The report's summary (its first metric's that has one), or NULL when it
 * has none or one that cannot be true: that is left out, not refused, as
 * the report itself is good. */
static const Panorama__Summary *summary_of(const Panorama__Report *r, bool *bad)
{
	const Panorama__Summary *m = NULL;
	for (size_t i = 0; r->observation && i < r->observation->n_metrics && !m; i++) {
		const Panorama__Observation__MetricsEntry *e = r->observation->metrics[i];
		if (e && e->value && e->value->value && e->value->value->summary) {
			m = e->value->value->summary;
			*bad = e->value->value->status >= PANORAMA__STATUS__UNHEALTHY;
		}
	}
	if (!m || m->probes == 0 || m->probes > SUMMARY_PROBES_MAX || m->lost > m->probes || !ms_valid(m->min_ms) ||
	    !ms_valid(m->median_ms) || !ms_valid(m->p90_ms) || !ms_valid(m->max_ms))
		return NULL;
	return m;
}

int history_note(history *h, pano_view *v, const Panorama__Report *r, int64_t sec, char *err, size_t errlen)
{
	bool bad = false;
	const Panorama__Summary *m = summary_of(r, &bad);
	v->median_ms = m && m->lost < m->probes ? m->median_ms : -1.0f; /* the console's cell */
	if (!m || sec < 0)
		return 0;
	int64_t id = view_id(h, v, r->subject, r->observer);
	if (!id)
		return fail(h->w, "a view's row", err, errlen);
	int64_t hour = sec - sec % STEP_HOUR;
	if (hour > v->hist_hour) { /* once an hour a view: when it was last heard of */
		if (journal(h, v) != 0)
			return fail(h->w, "out of memory", err, errlen);
		sqlite3_bind_int64(h->touch_view, 1, id);
		sqlite3_bind_int64(h->touch_view, 2, hour);
		int rc = sqlite3_step(h->touch_view);
		sqlite3_reset(h->touch_view);
		if (rc != SQLITE_DONE)
			return fail(h->w, "a view's row", err, errlen);
		if (sqlite3_changes(h->w) == 0) { /* pruned since: a row anew */
			v->hist_id = 0;
			if (!(id = view_id(h, v, r->subject, r->observer)))
				return fail(h->w, "a view's row", err, errlen);
			sqlite3_bind_int64(h->touch_view, 1, id);
			sqlite3_bind_int64(h->touch_view, 2, hour);
			rc = sqlite3_step(h->touch_view);
			sqlite3_reset(h->touch_view);
			if (rc != SQLITE_DONE)
				return fail(h->w, "a view's row", err, errlen);
		}
		v->hist_hour = hour;
	}
	int64_t answered = m->probes - m->lost;
	static const int64_t steps[] = { STEP_MINUTE, STEP_HOUR };
	for (size_t i = 0; i < 2; i++) {
		sqlite3_stmt *st = h->add;
		sqlite3_bind_int64(st, 1, steps[i]);
		sqlite3_bind_int64(st, 2, sec - sec % steps[i]);
		sqlite3_bind_int64(st, 3, id);
		sqlite3_bind_int64(st, 4, m->probes);
		sqlite3_bind_int64(st, 5, m->lost);
		sqlite3_bind_int64(st, 6, answered);
		sqlite3_bind_int64(st, 7, answered ? us_of(m->min_ms) : 0);
		sqlite3_bind_int64(st, 8, answered ? us_of(m->max_ms) : 0);
		sqlite3_bind_int64(st, 9, answered * us_of(m->median_ms));
		sqlite3_bind_int64(st, 10, answered * us_of(m->p90_ms));
		sqlite3_bind_int64(st, 11, bad);
		int rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return fail(h->w, "adding to a bucket", err, errlen);
	}
	return 0;
}

int history_restore(history *h, pano_store *s, char *err, size_t errlen)
{
	sqlite3_stmt *st = h->restore;
	sqlite3_bind_int64(st, 1, (int64_t)time(NULL) - 600);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) { /* oldest first: the newest stays */
		const char *subject = (const char *)sqlite3_column_text(st, 0);
		const char *observer = (const char *)sqlite3_column_text(st, 1);
		pano_view *v = subject && observer ? pano_store_view(s, subject, observer) : NULL;
		if (v)
			v->median_ms = (float)((double)sqlite3_column_int64(st, 2) / (double)sqlite3_column_int64(st, 3) / 1000.0);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : fail(h->w, "restoring", err, errlen);
}

int history_prune(history *h, int64_t now_sec, char *err, size_t errlen)
{
	if (sqlite3_exec(h->w, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return fail(h->w, "pruning", err, errlen);
	static const int64_t steps[] = { STEP_MINUTE, STEP_HOUR };
	static const int64_t kept[] = { HISTORY_MINUTES_KEPT_S, HISTORY_HOURS_KEPT_S };
	int rc = SQLITE_DONE;
	for (size_t i = 0; i < 2 && rc == SQLITE_DONE; i++) {
		sqlite3_bind_int64(h->prune, 1, steps[i]);
		sqlite3_bind_int64(h->prune, 2, now_sec - kept[i]);
		rc = sqlite3_step(h->prune);
		sqlite3_reset(h->prune);
	}
	/* A view unheard of for as long as hours are kept has no history
	 * left.  (Should a view of the store that still holds its id report
	 * again, history_note finds the row gone and makes a new one.) */
	if (rc == SQLITE_DONE) {
		sqlite3_bind_int64(h->drop_views, 1, now_sec - HISTORY_HOURS_KEPT_S);
		rc = sqlite3_step(h->drop_views);
		sqlite3_reset(h->drop_views);
	}
	if (rc != SQLITE_DONE || sqlite3_exec(h->w, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		fail(h->w, "pruning", err, errlen);
		sqlite3_exec(h->w, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}

/* The reader, opened at the first query (the node's file exists by then). */
static int open_reader(history *h, char *err, size_t errlen)
{
	if (h->r)
		return 0;
	if (sqlite3_open_v2(h->path, &h->r, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		fail(h->r, "opening a reader", err, errlen);
		sqlite3_close(h->r);
		h->r = NULL;
		return -1;
	}
	sqlite3_busy_timeout(h->r, 1000);
	if (prepare(h->r,
	            "SELECT id, observer FROM hist_views WHERE subject = ?1 AND (?2 IS NULL OR observer = ?2)"
	            " ORDER BY observer",
	            &h->r_views, err, errlen) != 0 ||
	    prepare(h->r,
	            /* a seek per bucket of the span (the key is time first) */
	            "WITH RECURSIVE ts(t) AS (SELECT ?3 UNION ALL SELECT t + ?2 FROM ts WHERE t + ?2 <= ?4)"
	            " SELECT h.t, probes, lost, answered, min_us, max_us, med_sum, p90_sum, bad"
	            " FROM ts JOIN history h ON h.step = ?2 AND h.t = ts.t AND h.view = ?1 ORDER BY h.t",
	            &h->r_rows, err, errlen) != 0) {
		sqlite3_finalize(h->r_views);
		h->r_views = NULL;
		sqlite3_close(h->r);
		h->r = NULL;
		return -1;
	}
	return 0;
}

typedef struct {
	int64_t t, probes, lost, answered, min_us, max_us, med_sum, p90_sum, bad;
} bucket;

static json_t *ms_or_null(int64_t us) { return json_real((double)us / 1000.0); }

static int append_point(json_t *points, const bucket *b)
{
	json_t *p = json_array();
	bool any = b->answered > 0;
	if (!p || json_array_append_new(p, json_integer(b->t)) || json_array_append_new(p, json_integer(b->probes)) ||
	    json_array_append_new(p, json_integer(b->lost)) ||
	    json_array_append_new(p, any ? ms_or_null(b->min_us) : json_null()) ||
	    json_array_append_new(p, any ? ms_or_null(b->med_sum / b->answered) : json_null()) ||
	    json_array_append_new(p, any ? ms_or_null(b->p90_sum / b->answered) : json_null()) ||
	    json_array_append_new(p, any ? ms_or_null(b->max_us) : json_null()) ||
	    json_array_append_new(p, json_integer(b->bad))) {
		json_decref(p);
		return -1;
	}
	return json_array_append_new(points, p);
}

/* One view's rows into points of step seconds. */
static json_t *series_points(history *h, int64_t id, int64_t res, int64_t from, int64_t to, int64_t step)
{
	json_t *points = json_array();
	if (!points)
		return NULL;
	sqlite3_stmt *st = h->r_rows;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, res);
	sqlite3_bind_int64(st, 3, from - from % res);
	sqlite3_bind_int64(st, 4, to);
	bucket b = { .t = -1 };
	int rc = SQLITE_DONE;
	bool ok = true;
	while (ok && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t t = sqlite3_column_int64(st, 0);
		int64_t at = t - t % step;
		if (at != b.t) {
			if (b.t >= 0 && append_point(points, &b) != 0)
				ok = false;
			b = (bucket){ .t = at };
		}
		int64_t answered = sqlite3_column_int64(st, 3);
		int64_t min_us = sqlite3_column_int64(st, 4), max_us = sqlite3_column_int64(st, 5);
		if (answered > 0) {
			if (b.answered == 0 || min_us < b.min_us)
				b.min_us = min_us;
			if (max_us > b.max_us)
				b.max_us = max_us;
		}
		b.probes += sqlite3_column_int64(st, 1);
		b.lost += sqlite3_column_int64(st, 2);
		b.answered += answered;
		b.med_sum += sqlite3_column_int64(st, 6);
		b.p90_sum += sqlite3_column_int64(st, 7);
		b.bad += sqlite3_column_int64(st, 8);
	}
	if (ok && b.t >= 0 && append_point(points, &b) != 0)
		ok = false;
	sqlite3_reset(st);
	if (!ok || (rc != SQLITE_DONE && rc != SQLITE_ROW)) {
		json_decref(points);
		return NULL;
	}
	return points;
}

json_t *history_query(history *h, const char *subject, const char *observer, int64_t from_sec,
                      int64_t to_sec, int64_t step_sec, char *err, size_t errlen)
{
	if (to_sec < from_sec)
		to_sec = from_sec;
	int64_t span = to_sec - from_sec;
	int64_t now = (int64_t)time(NULL);
	/* Minutes while they are held and the span is short enough to want
	 * them; hours beyond. */
	int64_t res = step_sec >= STEP_HOUR || span > 2 * 86400 || from_sec < now - HISTORY_MINUTES_KEPT_S + STEP_HOUR
	            ? STEP_HOUR : STEP_MINUTE;
	int64_t step = step_sec > res ? (step_sec + res - 1) / res * res : res;
	while (span / step > HISTORY_POINTS_MAX)
		step *= 2;
	json_t *series = json_array();
	json_t *out = series ? json_pack("{s:s, s:I, s:I, s:I, s:o}", "subject", subject, "from", (json_int_t)from_sec,
	                                 "to", (json_int_t)to_sec, "step", (json_int_t)step, "series", series)
	                     : NULL;
	if (!out) {
		snprintf(err, errlen, "history: out of memory");
		return NULL;
	}
	pthread_mutex_lock(&h->read_mu);
	if (open_reader(h, err, errlen) != 0) {
		pthread_mutex_unlock(&h->read_mu);
		json_decref(out);
		return NULL;
	}
	/* One read transaction: every series of the answer from one state. */
	sqlite3_exec(h->r, "BEGIN", NULL, NULL, NULL);
	sqlite3_stmt *vs = h->r_views;
	sqlite3_bind_text(vs, 1, subject, -1, SQLITE_STATIC);
	if (observer)
		sqlite3_bind_text(vs, 2, observer, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(vs, 2);
	int rc = SQLITE_DONE;
	bool ok = true;
	while (ok && (rc = sqlite3_step(vs)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(vs, 0);
		json_t *points = series_points(h, id, res, from_sec, to_sec, step);
		json_t *one = points ? json_pack("{s:s, s:o}", "observer", (const char *)sqlite3_column_text(vs, 1),
		                                 "points", points)
		                     : NULL;
		if (!one || json_array_append_new(series, one) != 0)
			ok = false;
	}
	if (ok && rc != SQLITE_DONE)
		ok = false;
	if (!ok)
		fail(h->r, "reading", err, errlen);
	sqlite3_reset(vs);
	sqlite3_exec(h->r, "COMMIT", NULL, NULL, NULL);
	pthread_mutex_unlock(&h->read_mu);
	if (!ok) {
		json_decref(out);
		return NULL;
	}
	return out;
}
