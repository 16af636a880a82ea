/*
 * store.h - the local observation store of a Panorama node.
 *
 * Subjects -> one view per observer -> the newest PANO_VIEW_DEPTH
 * observations.  Each view keeps its summary (inference.h) current; each
 * subject its inference, recomputed from those at the first read after a
 * change, and the time it was last seen.  The store also keeps
 * the watch list (FilterSubmission: a peer's report about an unwatched
 * subject is ignored; local submissions never are) and interns every
 * observer and metric name.
 *
 * No I/O: the node persists what the store accepts (db.h) and restores it
 * through pano_store_add at start.  Every size is bounded (pano_limits); an
 * input beyond a bound is refused with a reason, never truncated.
 */
#ifndef PANO_STORE_H
#define PANO_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pano/node/inference.h"
#include "pano/common/model.h"

typedef struct {
	size_t max_subjects;          /* default 100000 */
	size_t max_observers;         /* distinct observers, default 100000 */
	size_t max_views_per_subject; /* default 1000 */
	size_t max_metric_names;      /* distinct metric names, default 10000 */
	size_t max_metrics;           /* per observation, default 64 */
	size_t max_name_len;          /* subjects, observers, metrics: default 255 */
	/* The node's memory: views in all, and metric values held in all
	 * views' observations (a report of 3 metrics holds 3).  Defaults
	 * 1,000,000 and 10,000,000: about 1 GB at both bounds. */
	size_t max_views;
	size_t max_values;
} pano_limits;

pano_limits pano_limits_default(void);

typedef struct pano_store pano_store;

pano_store *pano_store_new(const pano_limits *limits);
void pano_store_free(pano_store *s);
const pano_limits *pano_store_limits(const pano_store *s);
/* Views and metric values held now (for the bounds above). */
size_t pano_store_view_count(const pano_store *s);
size_t pano_store_value_count(const pano_store *s);

/* A name is 1..max_name_len bytes of valid UTF-8 with no space and no
 * control character (text.h). */
bool pano_name_valid(const pano_store *s, const char *name, char *err, size_t errlen);

/* The interned copy of a metric name, adding it if new and allowed;
 * NULL with a reason when the table is full. */
const char *pano_store_intern(pano_store *s, const char *name, char *err, size_t errlen);
/* A report that is refused must not use up the name budget: mark before
 * interning its names, and roll back (removing the names interned since
 * the mark, which nothing else can use yet) when it is refused. */
void pano_store_names_mark(pano_store *s);
void pano_store_names_rollback(pano_store *s);

/*
 * Appends obs (metrics interned, sorted by name; moved into the store on
 * success) to observer's view of subject, evicting the oldest beyond the
 * depth, and recomputes the subject's inference.  *seq is the observation's
 * sequence number in its view, and *view (unless view is NULL) the view, for
 * the caller that persists it without looking it up again.  A report
 * identical to one the view already holds (same timestamp and metrics) is a
 * duplicate: returns 1, nothing changes.  0 when added, -1 with a reason
 * when a bound is hit.
 */
int pano_store_add(pano_store *s, const char *observer, const char *subject,
                   pano_obs *obs, uint64_t *seq, pano_view **view, char *err, size_t errlen);

/*
 * A batch as one unit.  Between pano_store_begin and pano_store_commit the
 * store journals every add and watch-list change, and pano_store_undo puts
 * it back exactly as it was at begin: views and subjects the batch created
 * go, observations it pushed out come back with their database rows.  The
 * node undoes a batch whose transaction the database refused (a full disk)
 * instead of reloading the whole store.  Metric names interned meanwhile
 * stay: they are valid, and the retry will use them.  An add that cannot
 * journal (out of memory) is refused like any other.
 */
void pano_store_begin(pano_store *s);
void pano_store_commit(pano_store *s);
void pano_store_undo(pano_store *s);

/* As pano_store_add, at a given sequence number (restoring from the DB,
 * oldest first); inference follows at its first read, as after any add.
 * db_id and row: the view's and the observation's database rows; *evicted
 * is the row of an observation this one pushed out (0 if none), a row
 * that is dead from then on. */
int pano_store_restore(pano_store *s, const char *observer, const char *subject,
                       uint64_t seq, int64_t db_id, int64_t row, pano_obs *obs,
                       int64_t *evicted, char *err, size_t errlen);
/* The view an add just went to (for persisting it). */
pano_view *pano_store_view(pano_store *s, const char *subject, const char *observer);

/* Watch list. */
void pano_store_set_filter(pano_store *s, bool filter);
int pano_store_watch(pano_store *s, const char *subject);
void pano_store_unwatch(pano_store *s, const char *subject);
/* True when reports about subject from peers are accepted. */
bool pano_store_watching(const pano_store *s, const char *subject);

/* Queries. */
typedef struct pano_subject pano_subject;
pano_subject *pano_store_subject(const pano_store *s, const char *name);
const char *pano_subject_name(const pano_subject *sub);
void pano_subject_last_seen(const pano_subject *sub, int64_t *sec, int32_t *nsec);
const pano_inference *pano_subject_inference(const pano_subject *sub);
/* Views of a subject, in natural order of observers (the store's array,
 * valid until the store changes). */
const pano_view *const *pano_subject_views(const pano_subject *sub, size_t *n);
const pano_view *pano_subject_view(const pano_subject *sub, const char *observer);
/* Sets whether a view votes (pano_view.mute); its subject's inference is
 * recomputed at its next read when that changes it.  True when it changed. */
bool pano_subject_mute(pano_subject *sub, const pano_view *v, uint8_t mute);

/* All subjects / observers in natural order (arrays owned by the caller). */
const pano_subject **pano_store_subjects(const pano_store *s, size_t *n);
const char **pano_store_observers(const pano_store *s, size_t *n);
size_t pano_store_subject_count(const pano_store *s);

/*
 * Garbage collection as Panorama's GCConfig: drops observations older than
 * threshold_sec, measured from now (relative = false) or from the newest
 * observation of their view (relative = true), of every subject or of those
 * whose names begin with prefix (non-NULL); empty views and subjects go.  So that the caller can keep its database in step, hooks (any of
 * them, or hooks itself, may be NULL) hear of
 *   dropped(ctx, row):            each dropped observation's database row;
 *   trimmed(ctx, view_row, row):  each view that lost some observations but
 *                                 keeps others, with the row of the oldest
 *                                 it keeps;
 *   gone(ctx, view_row):          each removed view that has a row.
 * Returns observations dropped.
 */
typedef struct {
	void (*dropped)(void *ctx, int64_t row);
	void (*trimmed)(void *ctx, int64_t view_row, int64_t oldest_row);
	void (*gone)(void *ctx, int64_t view_row);
	void *ctx;
} pano_gc_hooks;
size_t pano_store_gc(pano_store *s, const char *prefix, int64_t now_sec, int64_t threshold_sec,
                     bool relative, const pano_gc_hooks *hooks);

#endif
