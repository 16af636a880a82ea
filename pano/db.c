/* db.c - sqlite persistence of the store; see db.h. */
#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "arena.h"
#include "wire.h"

struct pano_db {
	sqlite3 *h;
	sqlite3_stmt *put, *del_view, *watch, *unwatch, *begin, *commit, *rollback;
	arena *arena;
	uint8_t *buf;
	size_t bufcap;
};

static int fail(pano_db *db, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %s", what, sqlite3_errmsg(db->h));
	return -1;
}

static int exec(pano_db *db, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;
	if (sqlite3_exec(db->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db->h));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int user_version(pano_db *db, int *v, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db->h, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return fail(db, "reading schema version", err, errlen);
	int rc = sqlite3_step(st);
	*v = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : fail(db, "reading schema version", err, errlen);
}

static int count_tables(pano_db *db, int *n, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	/* The first read of the file: a non-database fails here, before any
	 * write could touch it. */
	if (sqlite3_prepare_v2(db->h, "SELECT count(*) FROM sqlite_master", -1, &st, NULL) != SQLITE_OK)
		return fail(db, "not a usable database", err, errlen);
	int rc = sqlite3_step(st);
	*n = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : fail(db, "not a usable database", err, errlen);
}

pano_db *pano_db_open(const char *path, char *err, size_t errlen)
{
	pano_db *db = calloc(1, sizeof(*db));
	if (!db || !(db->arena = arena_new())) {
		free(db);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		fail(db, path, err, errlen);
		pano_db_close(db);
		return NULL;
	}
	sqlite3_extended_result_codes(db->h, 1);
	int tables = 0, version = 0;
	char why[256];
	if (count_tables(db, &tables, why, sizeof(why)) != 0 ||
	    user_version(db, &version, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "%s: %s", path, why);
		pano_db_close(db);
		return NULL;
	}
	if (tables > 0 && version != PANO_DB_SCHEMA_VERSION) {
		snprintf(err, errlen, "%s: schema version %d, this node reads version %d; not touching it",
		         path, version, PANO_DB_SCHEMA_VERSION);
		pano_db_close(db);
		return NULL;
	}
	if (exec(db, "PRAGMA journal_mode=WAL", why, sizeof(why)) != 0 ||
	    exec(db, "PRAGMA synchronous=FULL", why, sizeof(why)) != 0 ||
	    (tables == 0 &&
	     exec(db,
	          "BEGIN;"
	          "CREATE TABLE observations(subject TEXT NOT NULL, observer TEXT NOT NULL,"
	          " slot INTEGER NOT NULL, seq INTEGER NOT NULL, obs BLOB NOT NULL,"
	          " PRIMARY KEY(subject, observer, slot)) WITHOUT ROWID;"
	          "CREATE TABLE watched(subject TEXT PRIMARY KEY) WITHOUT ROWID;"
	          "PRAGMA user_version=1;"
	          "COMMIT;", why, sizeof(why)) != 0)) {
		snprintf(err, errlen, "%s: %s", path, why);
		pano_db_close(db);
		return NULL;
	}
	struct { sqlite3_stmt **st; const char *sql; } stmts[] = {
		{ &db->put, "INSERT OR REPLACE INTO observations VALUES(?1, ?2, ?3, ?4, ?5)" },
		{ &db->del_view, "DELETE FROM observations WHERE subject = ?1 AND observer = ?2" },
		{ &db->watch, "INSERT OR IGNORE INTO watched VALUES(?1)" },
		{ &db->unwatch, "DELETE FROM watched WHERE subject = ?1" },
		{ &db->begin, "BEGIN" },
		{ &db->commit, "COMMIT" },
		{ &db->rollback, "ROLLBACK" },
	};
	for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
		if (sqlite3_prepare_v3(db->h, stmts[i].sql, -1, SQLITE_PREPARE_PERSISTENT,
		                       stmts[i].st, NULL) != SQLITE_OK) {
			fail(db, path, err, errlen);
			pano_db_close(db);
			return NULL;
		}
	}
	return db;
}

void pano_db_close(pano_db *db)
{
	if (!db)
		return;
	sqlite3_stmt *all[] = { db->put, db->del_view, db->watch, db->unwatch,
	                        db->begin, db->commit, db->rollback };
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		sqlite3_finalize(all[i]);
	sqlite3_close(db->h);
	arena_free(db->arena);
	free(db->buf);
	free(db);
}

static int step(pano_db *db, sqlite3_stmt *st, const char *what, char *err, size_t errlen)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE)
		return fail(db, what, err, errlen);
	return 0;
}

int pano_db_begin(pano_db *db, char *err, size_t errlen)
{
	return step(db, db->begin, "begin", err, errlen);
}

int pano_db_commit(pano_db *db, char *err, size_t errlen)
{
	return step(db, db->commit, "commit", err, errlen);
}

void pano_db_rollback(pano_db *db)
{
	if (!sqlite3_get_autocommit(db->h)) {
		sqlite3_step(db->rollback);
		sqlite3_reset(db->rollback);
	}
}

int pano_db_put(pano_db *db, const char *subject, const char *observer, uint64_t seq,
                const pano_obs *obs, char *err, size_t errlen)
{
	arena_reset(db->arena);
	Panorama__Observation *pb = wire_obs(db->arena, obs);
	if (!pb) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	size_t len = panorama__observation__get_packed_size(pb);
	if (len > db->bufcap) {
		uint8_t *nb = realloc(db->buf, len);
		if (!nb) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		db->buf = nb;
		db->bufcap = len;
	}
	panorama__observation__pack(pb, db->buf);
	sqlite3_bind_text(db->put, 1, subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(db->put, 2, observer, -1, SQLITE_STATIC);
	sqlite3_bind_int64(db->put, 3, (sqlite3_int64)(seq % PANO_VIEW_DEPTH));
	sqlite3_bind_int64(db->put, 4, (sqlite3_int64)seq);
	sqlite3_bind_blob(db->put, 5, db->buf, (int)len, SQLITE_STATIC);
	return step(db, db->put, "storing an observation", err, errlen);
}

int pano_db_rewrite_view(pano_db *db, const pano_view *v, char *err, size_t errlen)
{
	sqlite3_bind_text(db->del_view, 1, v->subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(db->del_view, 2, v->observer, -1, SQLITE_STATIC);
	if (step(db, db->del_view, "trimming a view", err, errlen) != 0)
		return -1;
	uint64_t first = v->seq - v->count;
	for (size_t i = 0; i < v->count; i++)
		if (pano_db_put(db, v->subject, v->observer, first + i, pano_view_at(v, i), err, errlen) != 0)
			return -1;
	return 0;
}

int pano_db_watch(pano_db *db, const char *subject, bool watched, char *err, size_t errlen)
{
	sqlite3_stmt *st = watched ? db->watch : db->unwatch;
	sqlite3_bind_text(st, 1, subject, -1, SQLITE_STATIC);
	return step(db, st, "updating the watch list", err, errlen);
}

int pano_db_load(pano_db *db, pano_store *s, size_t *count, char *err, size_t errlen)
{
	*count = 0;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db->h, "SELECT subject FROM watched", -1, &st, NULL) != SQLITE_OK)
		return fail(db, "loading the watch list", err, errlen);
	while (sqlite3_step(st) == SQLITE_ROW)
		pano_store_watch(s, (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);

	if (sqlite3_prepare_v2(db->h, "SELECT subject, observer, seq, obs FROM observations"
	                       " ORDER BY subject, observer, seq", -1, &st, NULL) != SQLITE_OK)
		return fail(db, "loading observations", err, errlen);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *subject = (const char *)sqlite3_column_text(st, 0);
		const char *observer = (const char *)sqlite3_column_text(st, 1);
		uint64_t seq = (uint64_t)sqlite3_column_int64(st, 2);
		const void *blob = sqlite3_column_blob(st, 3);
		int len = sqlite3_column_bytes(st, 3);
		Panorama__Observation *pb = panorama__observation__unpack(NULL, (size_t)len, blob);
		pano_obs obs;
		char why[200];
		if (!subject || !observer || !pb ||
		    pano_obs_from_pb(s, pb, INT64_MAX / 4, &obs, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "observation %llu of %.64s->%.64s is corrupt",
			         (unsigned long long)seq, observer ? observer : "?", subject ? subject : "?");
			if (pb)
				panorama__observation__free_unpacked(pb, NULL);
			sqlite3_finalize(st);
			return -1;
		}
		panorama__observation__free_unpacked(pb, NULL);
		if (pano_store_restore(s, observer, subject, seq, &obs, why, sizeof(why)) != 0) {
			pano_obs_clear(&obs);
			snprintf(err, errlen, "restoring %.64s->%.64s: %s", observer, subject, why);
			sqlite3_finalize(st);
			return -1;
		}
		(*count)++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return fail(db, "loading observations", err, errlen);
	if (pano_store_reinfer_all(s) != 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}
