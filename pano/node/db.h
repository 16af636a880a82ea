/*
 * db.h - a node's durable store in sqlite.
 *
 * A row per view (id, subject, observer, floor), and an append-only log of
 * observations (view, seq, the observation packed as protobuf), so that a
 * commit touches a few pages at the log's end rather than one page per
 * view.  Plus the subjects watched through Observe.
 *
 * Which rows are live is implied by order, not kept in the file: replaying
 * the log oldest first, each view keeps its newest PANO_VIEW_DEPTH rows at
 * or above its floor, exactly as the store did when they were written.  So
 * the observation a report pushes out of its view needs no delete of its
 * own (that delete, a B-tree walk over old pages, was a quarter of the
 * node's work per report).  Garbage collection raises a view's floor past
 * what it drops, or deletes the view row.  Compaction (pano_db_compact)
 * deletes dead rows from the log's start in runs; a view that stops
 * reporting would pin the start, so once the log spans more than twice
 * its live rows, the oldest such views are copied to its end.  The file
 * then holds the live rows plus at most about as many dead ones.  Which
 * rows are live is tracked in memory (a bitmap over the log's rows).
 *
 * Schema version 3; a version 2 file (which deleted every dead row at once)
 * is upgraded in place, in one transaction, when opened.
 *
 * The database runs in WAL mode.  A commit writes the transaction to the
 * write-ahead log (it then survives kill -9); pano_db_sync fdatasyncs the
 * log (it then survives power loss too).  The node batches the reports of
 * one loop iteration into one transaction and acknowledges them only after
 * both; the sync runs on another thread while the next batch is applied.
 *
 * Opening never overwrites a file that is not a sqlite database of our
 * schema: it fails with a clear reason instead.
 */
#ifndef PANO_DB_H
#define PANO_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pano/node/store.h"

#define PANO_DB_SCHEMA_VERSION 3

typedef struct pano_db pano_db;

pano_db *pano_db_open(const char *path, char *err, size_t errlen);
void pano_db_close(pano_db *db);

/* fdatasync of the write-ahead log; safe to call from one other thread
 * while this connection is in use.  0 or -1. */
int pano_db_sync(pano_db *db);

int pano_db_begin(pano_db *db, char *err, size_t errlen);
int pano_db_commit(pano_db *db, char *err, size_t errlen);
/* Takes the open transaction back, and with it what it did to the map of
 * live rows: 0 when the map is again as at pano_db_begin (with
 * pano_store_undo, the store and the file then agree, no reload needed);
 * -1 when it is not (compaction moved the map, or memory was short):
 * reload. */
int pano_db_rollback(pano_db *db);

/* Inside a transaction: stores the newest observation of a view, number
 * seq, in a new row (giving the view its row first if it has none); the row
 * of the observation it pushed out is dead from now on.  Updates v->db_id
 * and v->db_row.  New rows go into the file 16 at a time, the last of them
 * at pano_db_commit, so a failure to write one may be reported by a later
 * put or by the commit: either way, roll back and reload. */
int pano_db_put(pano_db *db, pano_view *v, uint64_t seq, char *err, size_t errlen);
/* Garbage collection, in step with pano_store_gc's hooks: an observation's
 * row is dead; a trimmed view keeps only rows from oldest_row on; a view
 * removed with every observation of it loses its row, so a subject or
 * observer that never comes back leaves only dead rows, which compaction
 * deletes. */
void pano_db_forget(pano_db *db, int64_t row);
int pano_db_trim_view(pano_db *db, int64_t view_row, int64_t oldest_row, char *err, size_t errlen);
int pano_db_forget_view(pano_db *db, int64_t view_row, char *err, size_t errlen);
/* Inside a transaction (the node opens one of its own for it after
 * answering a batch or collecting garbage, so that no reply waits for it):
 * deletes the dead rows at the
 * log's start once there are 1024 of them.  Before that, while the log
 * spans more than twice its live rows plus 4096, copies the views that pin
 * its start to its end: 80 rows' worth per call, or twice what was written
 * since the last call if that is more, so the log stays bounded however
 * large the batches.  s is the store the views are in (the one
 * pano_db_load filled).  On failure, roll back and reload. */
int pano_db_compact(pano_db *db, pano_store *s, char *err, size_t errlen);
/* Whether pano_db_compact has work to do (cheap: the node asks after
 * every batch, and opens a transaction only when it has). */
bool pano_db_compaction_due(const pano_db *db);
int pano_db_watch(pano_db *db, const char *subject, bool watched, char *err, size_t errlen);

/* The node's connection, for modules that keep tables of their own in its
 * file and write them in its transactions (history.h).  The loop's only. */
struct sqlite3;
struct sqlite3 *pano_db_sqlite(pano_db *db);

/* The schema version the file had when opened, if pano_db_open upgraded
 * it (2); 0 when it was already current or new. */
int pano_db_upgraded_from(const pano_db *db);

/* Rows in the log, live and dead (its rows are consecutive: compaction
 * deletes only from the start, and nothing else deletes). */
int64_t pano_db_log_rows(const pano_db *db);

/* Loads everything into an empty store (views oldest first) and the watch
 * list, and learns which rows are live.  After a rolled-back transaction,
 * reload into a fresh store: the store and the map of live rows must both
 * hold what the file holds.  Until a load has succeeded, a database whose
 * log is not empty refuses every write (put, compact, trim, forget_view)
 * with an error, so that a half-built map never has compaction delete a
 * live row.  *count: observations loaded. */
int pano_db_load(pano_db *db, pano_store *s, size_t *count, char *err, size_t errlen);

#endif
