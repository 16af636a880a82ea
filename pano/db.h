/*
 * db.h - a node's durable store in sqlite (SPEC section 4, Durability).
 *
 * One row per stored observation: (subject, observer, slot) -> the
 * observation, packed as protobuf, where slot = seq mod PANO_VIEW_DEPTH; a
 * view's eleventh observation overwrites its first, so the file holds what
 * the in-memory store holds and never grows past it.  Plus the subjects
 * watched through Observe.
 *
 * The database runs in WAL mode with synchronous=FULL: a committed
 * transaction is in the write-ahead log and fsynced, so it survives kill -9
 * and power loss.  The node batches the reports of one loop iteration into
 * one transaction and acknowledges them only after the commit.
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

#define PANO_DB_SCHEMA_VERSION 1

typedef struct pano_db pano_db;

pano_db *pano_db_open(const char *path, char *err, size_t errlen);
void pano_db_close(pano_db *db);

int pano_db_begin(pano_db *db, char *err, size_t errlen);
int pano_db_commit(pano_db *db, char *err, size_t errlen);
void pano_db_rollback(pano_db *db);

/* Upserts observation number seq of a view. */
int pano_db_put(pano_db *db, const char *subject, const char *observer, uint64_t seq,
                const pano_obs *obs, char *err, size_t errlen);
/* Rewrites a view's rows from memory (after garbage collection). */
int pano_db_rewrite_view(pano_db *db, const pano_view *v, char *err, size_t errlen);
int pano_db_watch(pano_db *db, const char *subject, bool watched, char *err, size_t errlen);

/* Loads everything into an empty store (views oldest first) and the watch
 * list; recomputes inference.  *count: observations loaded. */
int pano_db_load(pano_db *db, pano_store *s, size_t *count, char *err, size_t errlen);

#endif
