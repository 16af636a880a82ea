/*
 * db.h - a node's durable store in sqlite (SPEC section 4, Durability).
 *
 * A row per view (id, subject, observer), and an append-only log of the
 * stored observations (view, seq, the observation packed as protobuf): a
 * view's eleventh observation is appended and its first deleted by row id in
 * the same transaction, so the file holds what the in-memory store holds and
 * never grows past it, and a commit touches a few pages at the log's end
 * rather than one page per view.  Plus the subjects watched through Observe.
 * Checkpoints run on a thread of their own, never stalling the writer.
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

#include "store.h"

#define PANO_DB_SCHEMA_VERSION 2

typedef struct pano_db pano_db;

pano_db *pano_db_open(const char *path, char *err, size_t errlen);
void pano_db_close(pano_db *db);

/* fdatasync of the write-ahead log; safe to call from one other thread
 * while this connection is in use.  0 or -1. */
int pano_db_sync(pano_db *db);

int pano_db_begin(pano_db *db, char *err, size_t errlen);
int pano_db_commit(pano_db *db, char *err, size_t errlen);
void pano_db_rollback(pano_db *db);

/* Stores the newest observation of a view, number seq, replacing the row
 * of the observation it pushed out of the view (giving the view its row
 * first if it has none).  Updates v->db_id and v->db_row. */
int pano_db_put(pano_db *db, pano_view *v, uint64_t seq, char *err, size_t errlen);
/* Deletes one observation's row (garbage collection). */
int pano_db_forget(pano_db *db, int64_t row, char *err, size_t errlen);
/* Deletes a view's row, once garbage collection has dropped the view and
 * every observation of it: a subject or observer that never comes back
 * leaves nothing behind in the file. */
int pano_db_forget_view(pano_db *db, int64_t view_row, char *err, size_t errlen);
int pano_db_watch(pano_db *db, const char *subject, bool watched, char *err, size_t errlen);

/* Loads everything into an empty store (views oldest first) and the watch
 * list.  *count: observations loaded. */
int pano_db_load(pano_db *db, pano_store *s, size_t *count, char *err, size_t errlen);

#endif
