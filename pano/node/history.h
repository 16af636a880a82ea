/*
 * history.h - what each view measured over time, kept in the node's sqlite
 * file at two resolutions, and read back for the console's charts.
 *
 * A report whose metric carries a Summary (panorama.proto: the probes
 * since the observer's previous report, their loss and response times)
 * adds to its view's bucket of that minute and of that hour: probes and
 * lost are summed, and the reports that said UNHEALTHY or worse counted
 * (a chart shades them), the least and greatest kept, the median and the 90th
 * percentile averaged over the answered probes.  That mean of medians is
 * the median itself when a bucket's probes came in one report, and close to
 * it when they came in several of similar spread; the least and greatest
 * are exact.  Minute buckets are kept HISTORY_MINUTES_KEPT_S, hour buckets
 * HISTORY_HOURS_KEPT_S: history_prune deletes what is older.
 *
 * Rows are written in the node's own transaction (history_note, on the
 * loop, between pano_db_begin and pano_db_commit), so a report's history
 * is durable exactly when the report is: acknowledged means kept, across
 * kill -9, and a rolled-back batch takes its history with it.
 *
 * Reading (history_query) goes through a read-only connection of its own,
 * one caller at a time (a mutex): the console's HTTP threads read while the
 * loop writes, as WAL allows, and a long query never holds the loop.
 */
#ifndef PANO_HISTORY_H
#define PANO_HISTORY_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>

#include "panorama.pb-c.h"
#include "pano/node/store.h"

#define HISTORY_MINUTES_KEPT_S (3 * 86400)
#define HISTORY_HOURS_KEPT_S (400 * 86400)
#define HISTORY_POINTS_MAX 5000 /* a series, at most: a coarser step beyond */

typedef struct history history;

/* On the node's connection w (its tables are made there if missing) and a
 * reader of its own on path.  NULL with err set. */
history *history_new(sqlite3 *w, const char *path, char *err, size_t errlen);
void history_free(history *h);

/* Inside the node's transaction: the summary of report r's metrics (the
 * first that has one), added to the buckets of its view v (the store's,
 * which keeps its id in hist_views, and its newest median for the
 * console).  0, or -1 with err (roll back, as
 * for pano_db_put).  A report without a summary is 0. */
int history_note(history *h, pano_view *v, const Panorama__Report *r, int64_t sec, char *err, size_t errlen);
/* After the node's transaction commits; or before its store is undone or
 * reloaded after a rollback (the views must still be there): what the
 * transaction taught the views of their rows is forgotten with it. */
void history_commit(history *h);
void history_rollback(history *h);

/* After the store is loaded: each view's newest response time (the views'
 * median_ms, which the stored observations do not keep) from its newest
 * minute, when that is less than an hour old.  0, or -1 with err. */
int history_restore(history *h, pano_store *s, char *err, size_t errlen);

/* In a transaction of its own: deletes buckets past their keeping, and
 * views with none left.  0 or -1 with err. */
int history_prune(history *h, int64_t now_sec, char *err, size_t errlen);

/* The history of subject (of one observer, or of all when observer is
 * NULL) from from_sec to to_sec, in buckets of step_sec (0: the finest
 * held for that span; rounded up to a multiple of it, and coarser when
 * the series would pass HISTORY_POINTS_MAX):
 *   {"subject", "from", "to", "step",
 *    "series": [{"observer", "points": [[t, probes, lost, min_ms,
 *                median_ms, p90_ms, max_ms, bad], ...]}]}
 * (response times null where nothing was answered; bad: the reports of
 * the bucket that said UNHEALTHY or worse), observers by name,
 * points by time, empty buckets left out.  Any thread.  NULL when memory
 * is short or the file cannot be read (err says). */
json_t *history_query(history *h, const char *subject, const char *observer, int64_t from_sec,
                      int64_t to_sec, int64_t step_sec, char *err, size_t errlen);

#endif
