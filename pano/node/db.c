/* db.c - sqlite persistence of the store; see db.h. */
#include "pano/node/db.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "pano/common/arena.h"
#include "pano/node/wire.h"
#include "pano/node/walcheck.h"
#include "pano/common/clock.h"
#include "pano/common/grow.h"

#define CHECKPOINT_EVERY_MS 500
#define WAL_RESTART_FRAMES 4096
#define BUSY_RETRY_US 50
#define BUSY_GIVE_UP_MS 5000
/* Compaction (see pano_db_compact): dead rows go in runs of at least
 * CLEAN_RUN rows; the log may span twice the live rows plus SPAN_SLACK
 * before the oldest live views are copied to its end.  A call copies
 * COPY_ROWS rows, or twice what was written since the last call if that
 * is more: little per batch, so that no batch waits long, yet more than
 * the batch added, so that the log cannot outgrow its bound.  A log that
 * spans more than MAX_SPAN rows is not one we wrote. */
#define CLEAN_RUN 1024
#define SPAN_SLACK 4096
#define COPY_ROWS 80
#define MAX_SPAN (INT64_C(1) << 32)
/* A transaction's new log rows wait in a queue and go in by INSERTs of up
 * to PUT_CHUNK rows each: one statement per row cost about half as much
 * again per row in sqlite (stepping, halting and resetting a statement
 * outweighs adding a row to it). */
#define PUT_CHUNK 16

/* A log row waiting to be inserted; its observation is packed in the
 * queue's buffer, at off. */
typedef struct {
	int64_t view, seq;
	size_t off, len;
} queued_row;

struct pano_db {
	sqlite3 *h;
	sqlite3_stmt *put_rows[PUT_CHUNK + 1]; /* put_rows[n]: an INSERT of n log rows */
	sqlite3_stmt *new_view, *del_view, *set_floor, *owner, *copy_row, *clean, *watch, *unwatch,
		*begin, *commit, *rollback;
	/* Which rows of the log are live (held by a view): bit i of live is
	 * row live_base + i.  Rows below first_row are deleted; last_row is
	 * the newest, never deleted, so that row ids only grow. */
	uint64_t *live;
	size_t live_words, live_count;
	int64_t live_base, first_row, last_row;
	bool map_valid; /* false from opening a non-empty log until a load succeeds */
	/* Inside a transaction, every flip of the map and where the log
	 * ended, so that a rollback can put the map back as it was. */
	bool in_txn, txn_map_lost;
	struct live_flip { int64_t row; bool was; } *flips;
	size_t nflips, capflips;
	int64_t txn_last_row;
	int64_t compacted_at; /* last_row when pano_db_compact last ran */
	int upgraded_from;
	arena *arena;
	/* Rows pano_db_put queued: they are the log's newest, up to last_row,
	 * so their ids are known before sqlite assigns them. */
	queued_row queued[PUT_CHUNK];
	size_t nqueued;
	uint8_t *qbuf;
	size_t qlen, qcap;
	char wal_path[4200];
	int wal_fd; /* the syncer's own descriptor of the WAL */
	int64_t busy_since_ms; /* see wait_briefly */
	/* The checkpointer: its own connection, on its own thread. */
	sqlite3 *ckpt;
	pthread_t ckpt_thread;
	bool ckpt_running, ckpt_stop;
	pthread_mutex_t ckpt_mu;
	pthread_cond_t ckpt_cv;
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

/* One integer from a one-row query; the first query doubles as the check
 * that the file is a database at all, before anything writes to it. */
static int query_int(pano_db *db, const char *sql, int *v, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
		return fail(db, "not a usable database", err, errlen);
	int rc = sqlite3_step(st);
	*v = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : fail(db, "not a usable database", err, errlen);
}

/* Before anything writes to a file that may not be ours, or not whole:
 * refuses a read-only file (every write would fail), one that is not a
 * Panorama database, and one sqlite finds damaged.  quick_check reads
 * every page once: about a second for a few hundred MB. */
static int check_file(pano_db *db, const char *path, int tables, int version, char *err, size_t errlen)
{
	char why[256];
	if (sqlite3_db_readonly(db->h, "main") == 1) {
		snprintf(err, errlen, "%s: read-only; the node could not store a report", path);
		return -1;
	}
	if (tables == 0)
		return 0;
	if (version != PANO_DB_SCHEMA_VERSION && version != 2) {
		snprintf(err, errlen, "%s: schema version %d, this node reads version %d (and upgrades 2); "
		         "not touching it", path, version, PANO_DB_SCHEMA_VERSION);
		return -1;
	}
	int ours = 0;
	if (query_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND"
	                  " name IN ('views', 'log', 'watched')", &ours, why, sizeof(why)) != 0 || ours != 3) {
		snprintf(err, errlen, "%s: not a Panorama database (no views, log and watched tables); "
		         "not touching it", path);
		return -1;
	}
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db->h, "PRAGMA quick_check(1)", -1, &st, NULL) != SQLITE_OK)
		return fail(db, path, err, errlen);
	int rc = sqlite3_step(st);
	const char *verdict = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
	if (!verdict || strcmp(verdict, "ok") != 0) {
		/* one line: sqlite's verdict spans several, after a banner */
		char what[160];
		const char *v = verdict ? verdict : sqlite3_errmsg(db->h);
		const char *banner = "*** in database main ***\n";
		if (strncmp(v, banner, strlen(banner)) == 0)
			v += strlen(banner);
		snprintf(what, sizeof(what), "%s", v);
		for (char *c = what; *c; c++)
			if (*c == '\n')
				*c = ' ';
		snprintf(err, errlen, "%s: damaged (%s); not touching it (docs/panorama.md, "
		         "\"A damaged database\", says how to salvage it)", path, what);
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return 0;
}

/* --- which rows are live ------------------------------------------------- */

/* Inside a transaction: a flip, for pano_db_rollback to undo.  Should the
 * list not grow, the rollback says the map is lost (the node reloads). */
static void remember_flip(pano_db *db, int64_t row, bool was)
{
	if (grow_array(&db->flips, &db->capflips, db->nflips + 1, sizeof(*db->flips), 256) != 0) {
		db->txn_map_lost = true;
		return;
	}
	db->flips[db->nflips++] = (struct live_flip){ row, was };
}

/* Marks a row live or dead.  -1 when the map cannot grow to hold it (or the
 * row lies below the map, which only deleted rows do). */
static int live_mark(pano_db *db, int64_t row, bool live)
{
	if (row < db->live_base)
		return live ? -1 : 0;
	uint64_t off = (uint64_t)(row - db->live_base);
	size_t w = (size_t)(off >> 6);
	if (w >= db->live_words) {
		if (!live)
			return 0;
		size_t n = db->live_words ? db->live_words : 64;
		while (n <= w)
			n *= 2;
		uint64_t *grown = realloc(db->live, n * sizeof(*grown));
		if (!grown)
			return -1;
		memset(grown + db->live_words, 0, (n - db->live_words) * sizeof(*grown));
		db->live = grown;
		db->live_words = n;
	}
	uint64_t bit = UINT64_C(1) << (off & 63);
	bool was = db->live[w] & bit;
	if (was != live && db->in_txn)
		remember_flip(db, row, was);
	if (live && !was) {
		db->live[w] |= bit;
		db->live_count++;
	} else if (!live && was) {
		db->live[w] &= ~bit;
		db->live_count--;
	}
	return 0;
}

/* The first live row at or after from; last_row + 1 when there is none. */
static int64_t first_live(const pano_db *db, int64_t from)
{
	if (from < db->live_base)
		from = db->live_base;
	uint64_t off = (uint64_t)(from - db->live_base);
	for (size_t w = (size_t)(off >> 6); w < db->live_words; w++) {
		uint64_t word = db->live[w];
		if (w == (size_t)(off >> 6))
			word &= ~UINT64_C(0) << (off & 63);
		if (word) {
			int64_t row = db->live_base + (int64_t)(w * 64 + (size_t)__builtin_ctzll(word));
			return row <= db->last_row ? row : db->last_row + 1;
		}
	}
	return db->last_row + 1;
}

/* Rows below first_row are gone: once they fill half the map, move the
 * rest down, so the map stays about the size of the log. */
static void live_trim(pano_db *db)
{
	size_t gone = (size_t)((uint64_t)(db->first_row - db->live_base) >> 6);
	if (gone == 0 || gone * 2 < db->live_words)
		return;
	if (gone > db->live_words)
		gone = db->live_words;
	db->txn_map_lost |= db->in_txn; /* rows below the new base cannot come back */
	memmove(db->live, db->live + gone, (db->live_words - gone) * sizeof(*db->live));
	memset(db->live + (db->live_words - gone), 0, gone * sizeof(*db->live));
	db->live_base += (int64_t)gone * 64;
}

/* An empty map for a log of rows first..last. */
static int live_reset(pano_db *db, int64_t first, int64_t last)
{
	db->first_row = first;
	db->last_row = last;
	db->compacted_at = last;
	db->live_base = first & ~INT64_C(63);
	db->live_count = 0;
	size_t words = (size_t)((uint64_t)(last - db->live_base) >> 6) + 1;
	if (words > db->live_words) {
		uint64_t *grown = realloc(db->live, words * sizeof(*grown));
		if (!grown)
			return -1;
		db->live = grown;
		db->live_words = words;
	}
	memset(db->live, 0, db->live_words * sizeof(*db->live));
	return 0;
}

/* Forgets the rows pano_db_put queued: written (insert_queued), rolled
 * back, or never to be written (a new transaction, a reload). */
static void drop_queued(pano_db *db)
{
	db->nqueued = 0;
	db->qlen = 0;
}

/* Reads the log's first and last rows, with none live yet. */
static int read_extent(pano_db *db, char *err, size_t errlen)
{
	drop_queued(db);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db->h, "SELECT min(id), max(id) FROM log", -1, &st, NULL) != SQLITE_OK)
		return fail(db, "reading the log", err, errlen);
	int64_t first = 1, last = 0;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		first = sqlite3_column_int64(st, 0);
		last = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	if (first < 1 || last - first >= MAX_SPAN) {
		snprintf(err, errlen, "the log's rows %lld to %lld are not ones this node wrote",
		         (long long)first, (long long)last);
		return -1;
	}
	if (live_reset(db, first, last) != 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* An empty log has nothing to lose; any other is mapped by a load. */
	db->map_valid = last < first;
	return 0;
}

/* Writing and compacting trust the map of live rows; a map that a failed
 * load left half-built would have compaction delete live rows. */
static int map_ready(const pano_db *db, char *err, size_t errlen)
{
	if (db->map_valid)
		return 0;
	snprintf(err, errlen, "the observations were not loaded from the database; reload first");
	return -1;
}

/* Copies the WAL back into the database twice a second, in PASSIVE mode,
 * never waiting for nor blocking the writer; under steady load a passive
 * checkpoint never quite catches up, and the WAL only starts over once one
 * has, so past WAL_RESTART_FRAMES it finishes the job in RESTART mode,
 * holding the writer off for the frames left.  Those are the frames
 * written while the last passive pass ran, so one more passive pass goes
 * first: it has only the frames of the pass that copied the bulk to copy,
 * and the RESTART after it holds the writer off for the few written
 * meanwhile. */
static void *checkpointer(void *arg)
{
	pano_db *db = arg;
	pthread_mutex_lock(&db->ckpt_mu);
	while (!db->ckpt_stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += CHECKPOINT_EVERY_MS * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&db->ckpt_cv, &db->ckpt_mu, &until);
		if (db->ckpt_stop)
			break;
		pthread_mutex_unlock(&db->ckpt_mu);
		int frames = 0, copied = 0;
		sqlite3_wal_checkpoint_v2(db->ckpt, NULL, SQLITE_CHECKPOINT_PASSIVE, &frames, &copied);
		if (frames > WAL_RESTART_FRAMES) {
			sqlite3_wal_checkpoint_v2(db->ckpt, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
			sqlite3_wal_checkpoint_v2(db->ckpt, NULL, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
		}
		pthread_mutex_lock(&db->ckpt_mu);
	}
	pthread_mutex_unlock(&db->ckpt_mu);
	return NULL;
}

static int start_checkpointer(pano_db *db, const char *path, char *err, size_t errlen)
{
	if (sqlite3_open_v2(path, &db->ckpt, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(db->ckpt));
		return -1;
	}
	sqlite3_busy_timeout(db->ckpt, 100);
	/* A connection learns that the file is in WAL mode by reading it. */
	if (sqlite3_exec(db->ckpt, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(db->ckpt));
		return -1;
	}
	pthread_mutex_init(&db->ckpt_mu, NULL);
	pthread_cond_init(&db->ckpt_cv, NULL);
	if (pthread_create(&db->ckpt_thread, NULL, checkpointer, db) != 0) {
		pthread_mutex_destroy(&db->ckpt_mu);
		pthread_cond_destroy(&db->ckpt_cv);
		snprintf(err, errlen, "cannot start the checkpoint thread");
		return -1;
	}
	db->ckpt_running = true;
	return 0;
}

/* The writer's busy handler.  The checkpointer's RESTART holds the write
 * lock for a millisecond or two (the last frames and the database's
 * fsync), about twice a second under load.  sqlite's own busy_timeout
 * sleeps 1, 2, 5, 10... ms between tries, so a commit that met it held a
 * whole batch's replies back 3 to 8 ms more than the lock did.  This one
 * tries again every 50 us, and gives up (SQLITE_BUSY: the batch is
 * refused) after BUSY_GIVE_UP_MS. */
static int wait_briefly(void *ctx, int tries)
{
	pano_db *db = ctx;
	int64_t now_ms = clock_mono_ms();
	if (tries == 0)
		db->busy_since_ms = now_ms;
	else if (now_ms - db->busy_since_ms >= BUSY_GIVE_UP_MS)
		return 0;
	struct timespec pause = { 0, BUSY_RETRY_US * 1000L };
	nanosleep(&pause, NULL);
	return 1;
}

/* sqlite's process-wide settings, before its first use: no memory
 * statistics (they take a global mutex on every allocation, and nothing
 * here reads them). */
static void configure_sqlite(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/* A new file's tables, version 3. */
static int create_schema(pano_db *db, char *err, size_t errlen)
{
	return exec(db,
	            "BEGIN;"
	            "CREATE TABLE views(id INTEGER PRIMARY KEY, subject TEXT NOT NULL,"
	            " observer TEXT NOT NULL, floor INTEGER NOT NULL DEFAULT 0,"
	            " UNIQUE(subject, observer));"
	            "CREATE TABLE log(id INTEGER PRIMARY KEY, view INTEGER NOT NULL,"
	            " seq INTEGER NOT NULL, obs BLOB NOT NULL);"
	            "CREATE TABLE watched(subject TEXT PRIMARY KEY) WITHOUT ROWID;"
	            "PRAGMA user_version=3;"
	            "COMMIT;", err, errlen);
}

/* Version 2 deleted every dead row at once, so its log holds only live
 * ones and every floor is 0.  Its row ids are renumbered from 1, in order:
 * a view that stopped reporting long ago would otherwise leave the log
 * spanning every row ever written. */
static int upgrade_from_v2(pano_db *db, char *err, size_t errlen)
{
	if (exec(db,
	         "BEGIN;"
	         "ALTER TABLE views ADD COLUMN floor INTEGER NOT NULL DEFAULT 0;"
	         "CREATE TABLE log3(id INTEGER PRIMARY KEY, view INTEGER NOT NULL,"
	         " seq INTEGER NOT NULL, obs BLOB NOT NULL);"
	         "INSERT INTO log3(view, seq, obs) SELECT view, seq, obs FROM log ORDER BY id;"
	         "DROP TABLE log;"
	         "ALTER TABLE log3 RENAME TO log;"
	         "PRAGMA user_version=3;"
	         "COMMIT;", err, errlen) != 0)
		return -1;
	db->upgraded_from = 2;
	return 0;
}

/* The connection's settings. */
static int configure(pano_db *db, char *err, size_t errlen)
{
	return exec(db, "PRAGMA journal_mode=WAL", err, errlen) != 0 ||
	       /* NORMAL: a commit writes the WAL but does not fsync it;
	        * pano_db_sync does, on the node's syncer thread, before replies. */
	       exec(db, "PRAGMA synchronous=NORMAL", err, errlen) != 0 ||
	       exec(db, "PRAGMA wal_autocheckpoint=0", err, errlen) != 0 ||
	       exec(db, "PRAGMA journal_size_limit=67108864", err, errlen) != 0 ? -1 : 0;
}

static int prepare_statements(pano_db *db, char *err, size_t errlen)
{
	struct { sqlite3_stmt **st; const char *sql; } stmts[] = {
		/* REPLACE: files written before garbage collection deleted the
		 * rows of the views it dropped still hold such rows; when such a
		 * view is seen again, it gets a fresh row, where a plain INSERT
		 * failed on UNIQUE and refused every report of that observer
		 * about that subject, ever after. */
		{ &db->new_view, "INSERT OR REPLACE INTO views(subject, observer, floor) VALUES(?1, ?2, ?3)" },
		{ &db->del_view, "DELETE FROM views WHERE id = ?1" },
		{ &db->set_floor, "UPDATE views SET floor = ?2 WHERE id = ?1" },
		{ &db->owner, "SELECT v.id, v.subject, v.observer FROM log l JOIN views v ON v.id = l.view"
		              " WHERE l.id = ?1" },
		{ &db->copy_row, "INSERT INTO log(view, seq, obs) SELECT view, seq, obs FROM log WHERE id = ?1" },
		{ &db->clean, "DELETE FROM log WHERE id < ?1" },
		{ &db->watch, "INSERT OR IGNORE INTO watched VALUES(?1)" },
		{ &db->unwatch, "DELETE FROM watched WHERE subject = ?1" },
		{ &db->begin, "BEGIN" },
		{ &db->commit, "COMMIT" },
		{ &db->rollback, "ROLLBACK" },
	};
	for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++)
		if (sqlite3_prepare_v3(db->h, stmts[i].sql, -1, SQLITE_PREPARE_PERSISTENT, stmts[i].st, NULL) != SQLITE_OK)
			return fail(db, "preparing", err, errlen);
	for (int n = 1; n <= PUT_CHUNK; n++) {
		char sql[64 + PUT_CHUNK * 12];
		int used = snprintf(sql, sizeof(sql), "INSERT INTO log(view, seq, obs) VALUES");
		for (int i = 0; i < n; i++)
			used += snprintf(sql + used, sizeof(sql) - (size_t)used, "%s(?,?,?)", i ? "," : "");
		if (sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &db->put_rows[n], NULL) != SQLITE_OK)
			return fail(db, "preparing", err, errlen);
	}
	return 0;
}

/* sqlite would open a read-only file (or one in a read-only directory,
 * where the WAL cannot be made) and fail every write, or say only "unable
 * to open database file". */
static int check_writable(const char *path, char *err, size_t errlen)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	if ((access(path, F_OK) == 0 && access(path, W_OK) != 0) || access(dir, W_OK) != 0) {
		snprintf(err, errlen, "read-only (%s); the node could not store a report", strerror(errno));
		return -1;
	}
	return 0;
}

pano_db *pano_db_open(const char *path, char *err, size_t errlen)
{
	static pthread_once_t configured = PTHREAD_ONCE_INIT;
	pthread_once(&configured, configure_sqlite);
	pano_db *db = calloc(1, sizeof(*db));
	if (!db || !(db->arena = arena_new())) {
		free(db);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	db->wal_fd = -1;
	snprintf(db->wal_path, sizeof(db->wal_path), "%s-wal", path);
	char why[256];
	int tables = 0, version = 0;
	if (check_writable(path, why, sizeof(why)) != 0)
		goto failed;
	/* before sqlite reads the WAL, and drops what follows damage in it */
	if (pano_wal_check(db->wal_path, err, errlen) != 0) {
		size_t n = strlen(err);
		snprintf(err + n, errlen - n, "; not touching it (docs/panorama.md, \"A damaged database\")");
		goto refused;
	}
	/* NOMUTEX: only the node's loop uses this connection (the syncer
	 * has its own descriptor, the checkpointer its own connection), so
	 * sqlite need not lock it on every call. */
	if (sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	                    NULL) != SQLITE_OK) {
		snprintf(why, sizeof(why), "%s", sqlite3_errmsg(db->h));
		goto failed;
	}
	sqlite3_extended_result_codes(db->h, 1);
	/* Wait out the checkpointer's brief RESTART instead of failing. */
	sqlite3_busy_handler(db->h, wait_briefly, db);
	if (query_int(db, "SELECT count(*) FROM sqlite_master", &tables, why, sizeof(why)) != 0 ||
	    query_int(db, "PRAGMA user_version", &version, why, sizeof(why)) != 0)
		goto failed;
	if (check_file(db, path, tables, version, err, errlen) != 0)
		goto refused;
	if (configure(db, why, sizeof(why)) != 0 || (tables == 0 && create_schema(db, why, sizeof(why)) != 0) ||
	    (tables > 0 && version == 2 && upgrade_from_v2(db, why, sizeof(why)) != 0) ||
	    prepare_statements(db, why, sizeof(why)) != 0 || read_extent(db, why, sizeof(why)) != 0 ||
	    start_checkpointer(db, path, why, sizeof(why)) != 0)
		goto failed;
	return db;
failed:
	snprintf(err, errlen, "%s: %s", path, why);
refused:
	pano_db_close(db);
	return NULL;
}

sqlite3 *pano_db_sqlite(pano_db *db) { return db->h; }

void pano_db_close(pano_db *db)
{
	if (!db)
		return;
	if (db->ckpt_running) {
		pthread_mutex_lock(&db->ckpt_mu);
		db->ckpt_stop = true;
		pthread_cond_signal(&db->ckpt_cv);
		pthread_mutex_unlock(&db->ckpt_mu);
		pthread_join(db->ckpt_thread, NULL);
		pthread_mutex_destroy(&db->ckpt_mu);
		pthread_cond_destroy(&db->ckpt_cv);
	}
	if (db->ckpt)
		sqlite3_close(db->ckpt);
	for (int n = 1; n <= PUT_CHUNK; n++)
		sqlite3_finalize(db->put_rows[n]);
	sqlite3_stmt *all[] = { db->new_view, db->del_view, db->set_floor, db->owner, db->copy_row,
	                        db->clean, db->watch, db->unwatch, db->begin, db->commit, db->rollback };
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		sqlite3_finalize(all[i]);
	sqlite3_close(db->h);
	if (db->wal_fd >= 0)
		close(db->wal_fd);
	arena_free(db->arena);
	free(db->qbuf);
	free(db->live);
	free(db->flips);
	free(db);
}

int pano_db_sync(pano_db *db)
{
	if (db->wal_fd < 0)
		db->wal_fd = open(db->wal_path, O_RDONLY | O_CLOEXEC);
	return db->wal_fd >= 0 && fdatasync(db->wal_fd) == 0 ? 0 : -1;
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

/* Records the row just inserted into the log as live, in *row. */
static int added_row(pano_db *db, int64_t *row, char *err, size_t errlen)
{
	int64_t id = sqlite3_last_insert_rowid(db->h);
	if (id <= db->last_row) { /* the map relies on ids growing */
		snprintf(err, errlen, "row id %lld after %lld", (long long)id, (long long)db->last_row);
		return -1;
	}
	if (live_mark(db, id, true) != 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	db->last_row = id;
	*row = id;
	return 0;
}

/* Inserts the queued rows, in one statement.  sqlite gives a row one more
 * than the log's largest id, so they get the ids pano_db_put gave them;
 * should one not, the transaction fails rather than have the map of live
 * rows disagree with the file. */
static int insert_queued(pano_db *db, char *err, size_t errlen)
{
	if (db->nqueued == 0)
		return 0;
	sqlite3_stmt *st = db->put_rows[db->nqueued];
	int param = 1;
	for (size_t i = 0; i < db->nqueued; i++) {
		const queued_row *q = &db->queued[i];
		sqlite3_bind_int64(st, param++, q->view);
		sqlite3_bind_int64(st, param++, q->seq);
		sqlite3_bind_blob(st, param++, db->qbuf + q->off, (int)q->len, SQLITE_STATIC);
	}
	drop_queued(db);
	if (step(db, st, "storing observations", err, errlen) != 0)
		return -1;
	int64_t last = sqlite3_last_insert_rowid(db->h);
	if (last != db->last_row) {
		snprintf(err, errlen, "storing observations: the newest row is %lld, not %lld", (long long)last,
		         (long long)db->last_row);
		return -1;
	}
	return 0;
}

int pano_db_begin(pano_db *db, char *err, size_t errlen)
{
	drop_queued(db);
	if (step(db, db->begin, "begin", err, errlen) != 0)
		return -1;
	db->in_txn = true;
	db->txn_map_lost = false;
	db->nflips = 0;
	db->txn_last_row = db->last_row;
	return 0;
}

int pano_db_commit(pano_db *db, char *err, size_t errlen)
{
	if (insert_queued(db, err, errlen) != 0 || step(db, db->commit, "commit", err, errlen) != 0)
		return -1;
	db->in_txn = false;
	return 0;
}

int pano_db_rollback(pano_db *db)
{
	drop_queued(db);
	if (!sqlite3_get_autocommit(db->h)) {
		sqlite3_step(db->rollback);
		sqlite3_reset(db->rollback);
	}
	if (!db->in_txn)
		return 0;
	db->in_txn = false;
	while (db->nflips > 0) {
		const struct live_flip *f = &db->flips[--db->nflips];
		if (live_mark(db, f->row, f->was) != 0)
			db->txn_map_lost = true;
	}
	db->last_row = db->txn_last_row;
	return db->txn_map_lost ? -1 : 0;
}

int pano_db_put(pano_db *db, pano_view *v, uint64_t seq, char *err, size_t errlen)
{
	if (map_ready(db, err, errlen) != 0)
		return -1;
	if (v->db_id == 0) {
		/* Rows up to last_row belong to no new view: a view removed by
		 * garbage collection may leave some behind under the id this
		 * one gets. */
		sqlite3_bind_text(db->new_view, 1, v->subject, -1, SQLITE_STATIC);
		sqlite3_bind_text(db->new_view, 2, v->observer, -1, SQLITE_STATIC);
		sqlite3_bind_int64(db->new_view, 3, db->last_row + 1);
		if (step(db, db->new_view, "storing a view", err, errlen) != 0)
			return -1;
		v->db_id = sqlite3_last_insert_rowid(db->h);
	}
	/* The observation this one pushed out keeps its row until compaction
	 * deletes it with its neighbours: a restart replays a view's rows
	 * oldest first, and the newest ten win. */
	size_t slot = (v->head + v->count - 1u) % PANO_VIEW_DEPTH;
	if (v->db_row[slot])
		live_mark(db, v->db_row[slot], false);
	v->db_row[slot] = 0;
	arena_reset(db->arena);
	Panorama__Observation *pb = wire_obs(db->arena, &v->ring[slot]);
	if (!pb) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	size_t len = panorama__observation__get_packed_size(pb);
	if (len > INT32_MAX || len > SIZE_MAX / 2 - db->qlen) {
		snprintf(err, errlen, "an observation of %zu bytes", len);
		return -1;
	}
	if (db->qlen + len > db->qcap) {
		size_t cap = db->qcap ? db->qcap : 4096;
		while (cap < db->qlen + len)
			cap *= 2;
		uint8_t *grown = realloc(db->qbuf, cap);
		if (!grown) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		db->qbuf = grown;
		db->qcap = cap;
	}
	panorama__observation__pack(pb, db->qbuf + db->qlen);
	int64_t row = db->last_row + 1;
	if (live_mark(db, row, true) != 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	db->queued[db->nqueued++] = (queued_row){ v->db_id, (int64_t)seq, db->qlen, len };
	db->qlen += len;
	db->last_row = row;
	v->db_row[slot] = row;
	return db->nqueued == PUT_CHUNK ? insert_queued(db, err, errlen) : 0;
}

void pano_db_forget(pano_db *db, int64_t row)
{
	live_mark(db, row, false);
}

int pano_db_trim_view(pano_db *db, int64_t view_row, int64_t oldest_row, char *err, size_t errlen)
{
	if (map_ready(db, err, errlen) != 0)
		return -1;
	sqlite3_bind_int64(db->set_floor, 1, view_row);
	sqlite3_bind_int64(db->set_floor, 2, oldest_row);
	return step(db, db->set_floor, "trimming a view", err, errlen);
}

int pano_db_forget_view(pano_db *db, int64_t view_row, char *err, size_t errlen)
{
	if (map_ready(db, err, errlen) != 0)
		return -1;
	sqlite3_bind_int64(db->del_view, 1, view_row);
	return step(db, db->del_view, "deleting a view", err, errlen);
}

/* Moves the view holding a live row to the log's end: its rows copied in
 * order, the old ones dead, its floor raised past them. */
static int copy_view_forward(pano_db *db, pano_store *s, int64_t row, char *err, size_t errlen)
{
	sqlite3_bind_int64(db->owner, 1, row);
	pano_view *v = NULL;
	int64_t view_row = 0;
	if (sqlite3_step(db->owner) == SQLITE_ROW) {
		view_row = sqlite3_column_int64(db->owner, 0);
		const char *subject = (const char *)sqlite3_column_text(db->owner, 1);
		const char *observer = (const char *)sqlite3_column_text(db->owner, 2);
		if (subject && observer)
			v = pano_store_view(s, subject, observer);
	}
	sqlite3_reset(db->owner);
	bool holds = false;
	for (size_t i = 0; v && i < v->count; i++)
		holds |= v->db_row[(v->head + i) % PANO_VIEW_DEPTH] == row;
	if (!v || v->db_id != view_row || !holds) {
		/* The map and the store disagree: never delete what may be live. */
		snprintf(err, errlen, "compaction: row %lld is live but no view holds it", (long long)row);
		return -1;
	}
	int64_t floor = 0;
	for (size_t i = 0; i < v->count; i++) {
		int64_t *slot_row = &v->db_row[(v->head + i) % PANO_VIEW_DEPTH];
		sqlite3_bind_int64(db->copy_row, 1, *slot_row);
		if (step(db, db->copy_row, "compaction", err, errlen) != 0)
			return -1;
		live_mark(db, *slot_row, false);
		if (added_row(db, slot_row, err, errlen) != 0)
			return -1;
		if (i == 0)
			floor = *slot_row;
	}
	return pano_db_trim_view(db, view_row, floor, err, errlen);
}

/* Whether the log spans more rows than its bound allows. */
static bool too_long(const pano_db *db, int64_t first)
{
	return first <= db->last_row && db->last_row - first + 1 > 2 * (int64_t)db->live_count + SPAN_SLACK;
}

/* Where deleting may stop, given the first live row: there, but never past
 * the newest row, which stays so that row ids only grow. */
static int64_t clean_below(const pano_db *db, int64_t first)
{
	return first > db->last_row ? db->last_row : first;
}

bool pano_db_compaction_due(const pano_db *db)
{
	if (!db->map_valid)
		return false;
	int64_t first = first_live(db, db->first_row);
	return too_long(db, first) || clean_below(db, first) - db->first_row >= CLEAN_RUN;
}

int pano_db_compact(pano_db *db, pano_store *s, char *err, size_t errlen)
{
	/* Compaction reads the log, and copies rows to its end. */
	if (map_ready(db, err, errlen) != 0 || insert_queued(db, err, errlen) != 0)
		return -1;
	int64_t first = first_live(db, db->first_row);
	int64_t budget = db->last_row - db->compacted_at;
	budget = budget * 2 > COPY_ROWS ? budget * 2 : COPY_ROWS;
	for (int64_t until = db->last_row + budget; db->last_row < until && too_long(db, first);
	     first = first_live(db, first)) {
		if (copy_view_forward(db, s, first, err, errlen) != 0)
			return -1;
	}
	db->compacted_at = db->last_row;
	first = clean_below(db, first);
	if (first - db->first_row < CLEAN_RUN)
		return 0;
	sqlite3_bind_int64(db->clean, 1, first);
	if (step(db, db->clean, "compaction", err, errlen) != 0)
		return -1;
	db->first_row = first;
	live_trim(db);
	return 0;
}

int pano_db_watch(pano_db *db, const char *subject, bool watched, char *err, size_t errlen)
{
	sqlite3_stmt *st = watched ? db->watch : db->unwatch;
	sqlite3_bind_text(st, 1, subject, -1, SQLITE_STATIC);
	return step(db, st, "updating the watch list", err, errlen);
}

int pano_db_upgraded_from(const pano_db *db)
{
	return db->upgraded_from;
}

int64_t pano_db_log_rows(const pano_db *db)
{
	return db->last_row >= db->first_row ? db->last_row - db->first_row + 1 : 0;
}

int pano_db_load(pano_db *db, pano_store *s, size_t *count, char *err, size_t errlen)
{
	*count = 0;
	if (read_extent(db, err, errlen) != 0)
		return -1;
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db->h, "SELECT subject FROM watched", -1, &st, NULL) != SQLITE_OK)
		return fail(db, "loading the watch list", err, errlen);
	while (sqlite3_step(st) == SQLITE_ROW)
		pano_store_watch(s, (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);

	/* Log order is insertion order, so each view's rows come oldest first,
	 * and its newest ten stay: rows that compaction has not deleted yet
	 * fall out of the view as they did when they were written.  Rows
	 * below a view's floor were dropped by garbage collection or copied
	 * forward; rows whose view is gone were all dropped. */
	if (sqlite3_prepare_v2(db->h, "SELECT v.subject, v.observer, l.seq, l.obs, v.id, l.id"
	                       " FROM log l JOIN views v ON l.view = v.id WHERE l.id >= v.floor"
	                       " ORDER BY l.id",
	                       -1, &st, NULL) != SQLITE_OK)
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
		int64_t evicted = 0, row = sqlite3_column_int64(st, 5);
		if (pano_store_restore(s, observer, subject, seq, sqlite3_column_int64(st, 4), row, &obs,
		                       &evicted, why, sizeof(why)) != 0) {
			pano_obs_clear(&obs);
			snprintf(err, errlen, "restoring %.64s->%.64s: %s", observer, subject, why);
			sqlite3_finalize(st);
			return -1;
		}
		if (live_mark(db, row, true) != 0) {
			snprintf(err, errlen, "out of memory");
			sqlite3_finalize(st);
			return -1;
		}
		if (evicted)
			live_mark(db, evicted, false);
	}
	*count = db->live_count;
	db->map_valid = rc == SQLITE_DONE;
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return fail(db, "loading observations", err, errlen);
	return 0; /* inferences follow lazily, at their first read */
}
