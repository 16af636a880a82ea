/* Unit tests of a node's durable store (pano/db.h): what a restart loads is
 * what the store held, whatever rows of pushed-out, collected or moved
 * observations the log still holds; compaction keeps the file near the
 * size of what is live; a version 2 file is upgraded in place. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "pano/node/db.h"
#include "pano/node/store.h"

typedef struct {
	char dir[64], path[96];
	pano_db *db;
	pano_store *s;
} fixture;

static void fixture_open(fixture *f)
{
	char err[256];
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-pano-db-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/node.db", f->dir);
	f->db = pano_db_open(f->path, err, sizeof(err));
	if (!f->db)
		fail_msg("%s", err);
	f->s = pano_store_new(NULL);
	assert_non_null(f->s);
}

static void fixture_close(fixture *f)
{
	pano_db_close(f->db);
	pano_store_free(f->s);
	const char *suffix[] = { "", "-wal", "-shm" };
	for (int i = 0; i < 3; i++) {
		char file[128];
		snprintf(file, sizeof(file), "%s%s", f->path, suffix[i]);
		unlink(file);
	}
	assert_int_equal(rmdir(f->dir), 0);
}

static void begin(fixture *f)
{
	char err[256];
	if (pano_db_begin(f->db, err, sizeof(err)) != 0)
		fail_msg("%s", err);
}

/* Compacts and commits, as the node does at the end of a batch. */
static void commit(fixture *f)
{
	char err[256];
	if (pano_db_compact(f->db, f->s, err, sizeof(err)) != 0 || pano_db_commit(f->db, err, sizeof(err)) != 0)
		fail_msg("%s", err);
}

/* One report, stored and persisted as the node does (inside a transaction). */
static pano_view *put(fixture *f, const char *observer, const char *subject, int64_t sec)
{
	char err[256];
	pano_obs o = { sec, 0, 1, malloc(sizeof(pano_metric)) };
	assert_non_null(o.metrics);
	o.metrics[0] = (pano_metric){ pano_store_intern(f->s, "m", err, sizeof(err)), PANO_HEALTHY,
	                              (float)(sec % 100), NULL, 0.0f, -1.0f };
	uint64_t seq;
	pano_view *v = NULL;
	assert_int_equal(pano_store_add(f->s, observer, subject, &o, &seq, &v, err, sizeof(err)), 0);
	assert_ptr_equal(v, pano_store_view(f->s, subject, observer));
	if (pano_db_put(f->db, v, seq, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	return v;
}

/* One batch of n reports from observer, at times sec0, sec0 + 1, ...: about
 * subject, or about subject0 .. subject<views - 1> in turn. */
static void batch(fixture *f, const char *observer, const char *subject, int views, int n, int64_t sec0)
{
	begin(f);
	for (int k = 0; k < n; k++) {
		char name[64];
		snprintf(name, sizeof(name), views > 1 ? "%s%d" : "%s", subject, k % views);
		put(f, observer, views > 1 ? name : subject, sec0 + k);
	}
	commit(f);
}

static int64_t query(const char *path, const char *sql)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int64_t n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return n;
}

/* Equal observations; metric names are interned per store, so compared
 * by their text. */
static void assert_same_obs(const pano_obs *a, const pano_obs *b)
{
	assert_int_equal(a->sec, b->sec);
	assert_int_equal(a->nsec, b->nsec);
	assert_int_equal(a->n, b->n);
	for (uint16_t i = 0; i < a->n; i++) {
		assert_string_equal(a->metrics[i].name, b->metrics[i].name);
		assert_int_equal(a->metrics[i].status, b->metrics[i].status);
		assert_true(a->metrics[i].score == b->metrics[i].score);
	}
}

static void assert_same_store(const pano_store *a, const pano_store *b)
{
	size_t na = 0, nb = 0;
	const pano_subject **sa = pano_store_subjects(a, &na), **sb = pano_store_subjects(b, &nb);
	assert_int_equal(na, nb);
	for (size_t i = 0; i < na; i++) {
		assert_string_equal(pano_subject_name(sa[i]), pano_subject_name(sb[i]));
		int64_t sec_a, sec_b;
		int32_t nsec_a, nsec_b;
		pano_subject_last_seen(sa[i], &sec_a, &nsec_a);
		pano_subject_last_seen(sb[i], &sec_b, &nsec_b);
		assert_int_equal(sec_a, sec_b);
		assert_int_equal(nsec_a, nsec_b);
		size_t va = 0, vb = 0;
		const pano_view *const *xa = pano_subject_views(sa[i], &va);
		const pano_view *const *xb = pano_subject_views(sb[i], &vb);
		assert_int_equal(va, vb);
		for (size_t k = 0; k < va; k++) {
			const pano_view *x = xa[k], *y = xb[k];
			assert_string_equal(x->observer, y->observer);
			assert_int_equal(x->count, y->count);
			assert_int_equal(x->seq, y->seq);
			assert_int_equal(x->db_id, y->db_id);
			for (size_t j = 0; j < x->count; j++) {
				assert_same_obs(pano_view_at(x, j), pano_view_at(y, j));
				assert_int_equal(x->db_row[(x->head + j) % PANO_VIEW_DEPTH],
				                 y->db_row[(y->head + j) % PANO_VIEW_DEPTH]);
			}
		}
	}
	free(sa);
	free(sb);
}

/* Closes and reopens the database and loads a fresh store from it, as a
 * restarted node does; the new store must hold what the old one did.
 * Returns the observations loaded. */
static size_t restart(fixture *f)
{
	char err[256];
	pano_db_close(f->db);
	f->db = pano_db_open(f->path, err, sizeof(err));
	if (!f->db)
		fail_msg("%s", err);
	pano_store *back = pano_store_new(NULL);
	size_t count = 0;
	if (pano_db_load(f->db, back, &count, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_same_store(f->s, back);
	pano_store_free(f->s);
	f->s = back;
	return count;
}

static const pano_view *view_of(fixture *f, const char *subject, const char *observer)
{
	const pano_subject *sub = pano_store_subject(f->s, subject);
	return sub ? pano_subject_view(sub, observer) : NULL;
}

static void dropped(void *ctx, int64_t row)
{
	pano_db_forget(ctx, row);
}

static void trimmed(void *ctx, int64_t view_row, int64_t oldest_row)
{
	char err[256];
	assert_int_equal(pano_db_trim_view(ctx, view_row, oldest_row, err, sizeof(err)), 0);
}

static void gone(void *ctx, int64_t view_row)
{
	char err[256];
	assert_int_equal(pano_db_forget_view(ctx, view_row, err, sizeof(err)), 0);
}

static size_t collect(fixture *f, int64_t now, int64_t threshold, bool relative)
{
	pano_gc_hooks hooks = { dropped, trimmed, gone, f->db };
	begin(f);
	size_t n = pano_store_gc(f->s, NULL, now, threshold, relative, &hooks);
	commit(f);
	return n;
}

/* A pushed-out observation's row stays until compaction; a restart still
 * holds each view's newest ten, in order, at their rows. */
static void a_restart_holds_what_the_store_held(void **state)
{
	(void)state;
	fixture f;
	fixture_open(&f);
	begin(&f);
	const char *observers[] = { "o1", "o2", "o3" };
	for (int i = 0; i < 25; i++)
		for (int k = 0; k < 3; k++)
			put(&f, observers[k], "x", 1000 + i);
	commit(&f);
	assert_int_equal(query(f.path, "SELECT count(*) FROM log"), 75);
	assert_int_equal(restart(&f), 30);
	assert_int_equal(view_of(&f, "x", "o2")->seq, 25);
	/* and it goes on from there */
	begin(&f);
	put(&f, "o2", "x", 2000);
	commit(&f);
	assert_int_equal(restart(&f), 30);
	fixture_close(&f);
}

/* An observer whose clock ran ahead, then went back: once the observation
 * from the future is pushed out, "last seen" is the newest one held, and a
 * restart finds the same, whether that observation's row is still in the
 * log or compaction has deleted it. */
static void last_seen_is_the_same_after_a_restart(void **state)
{
	(void)state;
	fixture f;
	fixture_open(&f);
	batch(&f, "o", "y", 1, 1, 9000);    /* row 1 */
	batch(&f, "o", "y", 1, 12, 3000);   /* pushes row 1 out */
	assert_int_equal(restart(&f), 10); /* row 1 still in the log */
	batch(&f, "o", "z", 1, 1100, 4000);
	batch(&f, "o", "y", 1, 10, 5000);
	assert_true(query(f.path, "SELECT min(id) FROM log") > 1000); /* row 1 deleted */
	assert_int_equal(restart(&f), 20);
	int64_t sec;
	int32_t nsec;
	pano_subject_last_seen(pano_store_subject(f.s, "y"), &sec, &nsec);
	assert_int_equal(sec, 5009);
	fixture_close(&f);
}

/* Garbage collection that drops part of a view raises its floor: the
 * rows it dropped, and the pushed-out ones below them, stay dead. */
static void a_trimmed_view_stays_trimmed(void **state)
{
	(void)state;
	fixture f;
	fixture_open(&f);
	batch(&f, "o", "x", 1, 15, 100); /* holds 105..114; rows of 100..104 are dead */
	assert_int_equal(collect(&f, 1108, 1000, false), 3); /* 105, 106, 107 go */
	assert_int_equal(view_of(&f, "x", "o")->count, 7);
	assert_int_equal(restart(&f), 7);
	fixture_close(&f);
}

/* A view that garbage collection drops leaves only dead rows and no view
 * row; a new view that gets the same id does not inherit them. */
static void a_dropped_view_stays_dropped_and_its_id_is_reused_safely(void **state)
{
	(void)state;
	fixture f;
	fixture_open(&f);
	begin(&f);
	for (int k = 0; k < 12; k++)
		put(&f, "o1", "kept", 5000 + k);
	for (int k = 0; k < 600; k++) {
		put(&f, "o1", "gone", 100 + k);
		put(&f, "o2", "gone", 100 + k);
	}
	commit(&f);
	assert_int_equal(query(f.path, "SELECT count(*) FROM views"), 3);
	assert_int_equal(collect(&f, 6000, 1000, false), 20);
	assert_null(pano_store_subject(f.s, "gone"));
	assert_int_equal(query(f.path, "SELECT count(*) FROM views"), 1);
	/* o2 comes back: its new view row takes the id o1's had */
	begin(&f);
	const pano_view *back = put(&f, "o2", "gone", 5990);
	commit(&f);
	assert_int_equal(back->db_id, 2);
	assert_int_equal(restart(&f), 11);
	assert_int_equal(view_of(&f, "gone", "o2")->count, 1);
	assert_null(view_of(&f, "gone", "o1"));

	/* everything collected: the log keeps only its newest row, so that
	 * row ids go on growing */
	assert_int_equal(collect(&f, 99999, 10, false), 11);
	assert_int_equal(query(f.path, "SELECT count(*) FROM log"), 1);
	int64_t newest = query(f.path, "SELECT max(id) FROM log");
	assert_int_equal(restart(&f), 0);
	begin(&f);
	const pano_view *v = put(&f, "o1", "kept", 100000);
	commit(&f);
	assert_int_equal(v->db_row[v->head], newest + 1);
	assert_int_equal(restart(&f), 1);
	fixture_close(&f);
}

/* A view that stops reporting would pin the log's start: once the log
 * spans more than twice its live rows (plus slack), the view is copied to
 * the end, and the dead rows behind it are deleted. */
static void compaction_moves_a_quiet_view_and_bounds_the_file(void **state)
{
	(void)state;
	fixture f;
	fixture_open(&f);
	batch(&f, "o1", "quiet", 1, 10, 100);
	for (int i = 0; i < 150; i++) {
		batch(&f, "o2", "busy", 1, 64, 1000 + i * 64);
		/* live rows: 20; what may stay: twice that, the slack, and a
		 * run not yet worth deleting */
		assert_true(query(f.path, "SELECT count(*) FROM log") <= 2 * 20 + 4096 + 1024);
	}
	const pano_view *quiet = view_of(&f, "quiet", "o1");
	assert_true(quiet->db_row[quiet->head] > 4096);
	assert_int_equal(query(f.path, "SELECT floor FROM views WHERE subject = 'quiet'"),
	                 quiet->db_row[quiet->head]);
	assert_true(query(f.path, "SELECT min(id) FROM log") > 4096);
	assert_int_equal(restart(&f), 20);
	fixture_close(&f);
}

/* Many quiet views and large batches: each call copies more than the batch
 * wrote, so the log stays bounded however large the batches. */
static void compaction_keeps_up_with_large_batches(void **state)
{
	(void)state;
	fixture f;
	fixture_open(&f);
	batch(&f, "o1", "quiet", 200, 2000, 100);
	int64_t most = 0;
	for (int i = 0; i < 40; i++) {
		batch(&f, "o2", "busy", 10, 1000, 10000 + i * 1000);
		int64_t rows = query(f.path, "SELECT count(*) FROM log");
		most = rows > most ? rows : most;
	}
	/* live: 2,100; twice that plus 4,096, a run not yet deleted, a batch,
	 * and the pinned views still on their way (a quarter of the live rows) */
	assert_true(most <= 2 * 2100 + 4096 + 1024 + 1000 + 2100 / 4);
	assert_int_equal(restart(&f), 2100);
	fixture_close(&f);
}

/* Compaction stops at the first live row, and starts there next time: a
 * lone row between long runs of dead ones survives both. */
static void compaction_keeps_a_lone_live_row_between_dead_runs(void **state)
{
	(void)state;
	fixture f;
	fixture_open(&f);
	/* rows 1-1030: too few dead ones (1020) to delete */
	batch(&f, "o", "busy", 1, 1030, 1000);
	assert_int_equal(query(f.path, "SELECT min(id) FROM log"), 1);
	/* row 1031 live, then a run: the 1030 before it go */
	batch(&f, "o", "lone", 1, 1, 1);
	for (int round = 0; round < 2; round++) {
		batch(&f, "o", "busy", 1, 1100, 3000 + round * 1100);
		assert_int_equal(query(f.path, "SELECT min(id) FROM log"), 1031);
	}
	assert_int_equal(restart(&f), 11);
	assert_int_equal(view_of(&f, "lone", "o")->db_row[0], 1031);
	fixture_close(&f);
}

/* A batch that is rolled back leaves the file as it was; reloading brings
 * the store and the map of live rows back to it, and writing goes on. */
static void a_rolled_back_batch_is_forgotten_after_a_reload(void **state)
{
	(void)state;
	fixture f;
	fixture_open(&f);
	char err[256];
	batch(&f, "o1", "x", 1, 5, 100);
	begin(&f);
	for (int k = 0; k < 50; k++)
		put(&f, "o1", "x", 200 + k);
	pano_db_rollback(f.db);
	pano_store_free(f.s);
	f.s = pano_store_new(NULL);
	size_t count = 0;
	assert_int_equal(pano_db_load(f.db, f.s, &count, err, sizeof(err)), 0);
	assert_int_equal(count, 5);
	begin(&f);
	put(&f, "o1", "x", 300);
	commit(&f);
	assert_int_equal(view_of(&f, "x", "o1")->db_row[5], 6);
	assert_int_equal(restart(&f), 6);
	fixture_close(&f);
}

/* A batch the database refuses is undone in memory, with what it did to
 * the map of live rows: new subjects, new views, pushed-out observations
 * and watch-list changes are taken back, and the batches and restarts
 * that follow find the store and the file in agreement. */
static void a_refused_batch_is_undone_in_memory(void **state)
{
	(void)state;
	fixture f;
	fixture_open(&f);
	pano_store_set_filter(f.s, true);
	batch(&f, "o1", "x", 3, 40, 100); /* x0..x2 hold 10 each, some pushed out */
	assert_int_equal(pano_store_watch(f.s, "w1"), 0);
	int64_t rows = pano_db_log_rows(f.db);
	size_t values = pano_store_value_count(f.s), views = pano_store_view_count(f.s);

	begin(&f);
	pano_store_begin(f.s);
	for (int k = 0; k < 30; k++) {
		char subject[16];
		snprintf(subject, sizeof(subject), "x%d", k % 3);
		put(&f, "o1", subject, 500 + k); /* pushes out */
		put(&f, "o2", "y", 600 + k);     /* a new subject */
		put(&f, "o3", "x0", 700 + k);    /* a new view of a subject held */
	}
	assert_int_equal(pano_store_watch(f.s, "w2"), 0);
	pano_store_unwatch(f.s, "w1");
	assert_int_equal(pano_db_rollback(f.db), 0);
	pano_store_undo(f.s);

	assert_null(pano_store_subject(f.s, "y"));
	assert_null(view_of(&f, "x0", "o3"));
	assert_int_equal(pano_view_newest(view_of(&f, "x1", "o1"))->sec, 137);
	assert_true(pano_store_watching(f.s, "w1"));
	assert_false(pano_store_watching(f.s, "w2"));
	assert_int_equal(pano_store_value_count(f.s), values);
	assert_int_equal(pano_store_view_count(f.s), views);
	assert_int_equal(pano_db_log_rows(f.db), rows);
	size_t n = 0;
	const char **observers = pano_store_observers(f.s, &n);
	assert_int_equal(n, 1);
	free(observers);
	assert_int_equal(restart(&f), 30);

	/* what follows: enough batches for compaction to move and delete */
	for (int b = 0; b < 200; b++)
		batch(&f, b % 2 ? "o1" : "o4", "z", 40, 40, 1000 + 40 * b);
	assert_int_equal(restart(&f), 30 + 2 * 40 * 10);
	fixture_close(&f);
}

/* Rows go into the file in INSERTs of several: each row gets the id its
 * view was given for it, whatever the batch's size. */
static void every_row_has_the_id_its_view_holds(void **state)
{
	(void)state;
	fixture f;
	fixture_open(&f);
	int sizes[] = { 1, 15, 16, 17, 37, 64 };
	int64_t sec = 100, rows = 0;
	for (size_t b = 0; b < sizeof(sizes) / sizeof(sizes[0]); b++) {
		begin(&f);
		for (int k = 0; k < sizes[b]; k++) {
			char subject[16];
			snprintf(subject, sizeof(subject), "s%d", k % 7);
			put(&f, "o1", subject, sec++);
		}
		commit(&f);
		rows += sizes[b];
		assert_int_equal(query(f.path, "SELECT count(*) FROM log"), rows);
		for (int k = 0; k < 7; k++) {
			char subject[16], sql[160];
			snprintf(subject, sizeof(subject), "s%d", k);
			const pano_view *v = view_of(&f, subject, "o1");
			for (size_t i = 0; v && i < v->count; i++) {
				size_t slot = (v->head + i) % PANO_VIEW_DEPTH;
				snprintf(sql, sizeof(sql), "SELECT count(*) FROM log WHERE id = %lld AND view = %lld",
				         (long long)v->db_row[slot], (long long)v->db_id);
				assert_int_equal(query(f.path, sql), 1);
			}
		}
	}
	assert_int_equal(restart(&f), 7 * PANO_VIEW_DEPTH);
	fixture_close(&f);
}

static void run_sql(const char *path, const char *sql)
{
	sqlite3 *h;
	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	char *msg = NULL;
	if (sqlite3_exec(h, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	sqlite3_close(h);
}

/* Until a load has mapped which rows are live, nothing is written: a
 * load that fails part way must not let compaction delete live rows. */
static void no_writes_before_a_load_succeeds(void **state)
{
	(void)state;
	fixture f;
	fixture_open(&f);
	char err[256];
	batch(&f, "o1", "x", 1, 5, 100);
	pano_db_close(f.db);
	f.db = pano_db_open(f.path, err, sizeof(err));
	assert_non_null(f.db);
	begin(&f);
	pano_view *v = pano_store_view(f.s, "x", "o1");
	assert_int_equal(pano_db_put(f.db, v, 9, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not loaded"));
	assert_int_equal(pano_db_compact(f.db, f.s, err, sizeof(err)), -1);
	assert_int_equal(pano_db_trim_view(f.db, 1, 3, err, sizeof(err)), -1);
	assert_int_equal(pano_db_forget_view(f.db, 1, err, sizeof(err)), -1);
	pano_db_rollback(f.db);
	/* a load that fails on a damaged row leaves it so */
	pano_db_close(f.db);
	run_sql(f.path, "UPDATE log SET obs = x'ffff' WHERE id = 4");
	f.db = pano_db_open(f.path, err, sizeof(err));
	assert_non_null(f.db);
	pano_store *partial = pano_store_new(NULL);
	size_t count = 0;
	assert_int_equal(pano_db_load(f.db, partial, &count, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "corrupt"));
	pano_store_free(partial);
	begin(&f);
	assert_int_equal(pano_db_compact(f.db, f.s, err, sizeof(err)), -1);
	pano_db_rollback(f.db);
	assert_int_equal(query(f.path, "SELECT count(*) FROM log"), 5);
	fixture_close(&f);
}

/* A version 2 file (no floors, every row live, ids spread out) is upgraded
 * in place and loads as it was; a version from the future is refused and
 * left alone. */
static void a_version_2_file_is_upgraded(void **state)
{
	(void)state;
	fixture f;
	fixture_open(&f);
	begin(&f);
	for (int k = 0; k < 7; k++) {
		put(&f, "o1", "x", 100 + k);
		put(&f, "o2", "y", 100 + k);
	}
	put(&f, "o1", "y", 500);
	commit(&f);
	pano_db_close(f.db);
	f.db = NULL;
	run_sql(f.path, "ALTER TABLE views DROP COLUMN floor;"
	                "UPDATE log SET id = id * 1000 + 7;"
	                "PRAGMA user_version = 2;");
	char err[256];
	pano_db *db = pano_db_open(f.path, err, sizeof(err));
	if (!db)
		fail_msg("%s", err);
	assert_int_equal(pano_db_upgraded_from(db), 2);
	pano_db_close(db);
	assert_int_equal(query(f.path, "PRAGMA user_version"), 3);
	assert_int_equal(query(f.path, "SELECT min(id) FROM log"), 1);
	assert_int_equal(query(f.path, "SELECT max(id) FROM log"), 15);
	assert_int_equal(query(f.path, "SELECT sum(floor) FROM views"), 0);
	f.db = pano_db_open(f.path, err, sizeof(err));
	assert_non_null(f.db);
	assert_int_equal(pano_db_upgraded_from(f.db), 0);
	/* restart() compares with the store as written; its rows were renumbered */
	pano_store *back = pano_store_new(NULL);
	size_t count = 0;
	assert_int_equal(pano_db_load(f.db, back, &count, err, sizeof(err)), 0);
	assert_int_equal(count, 15);
	const pano_subject *y = pano_store_subject(back, "y");
	assert_int_equal(pano_subject_view(y, "o2")->count, 7);
	assert_int_equal(pano_subject_view(y, "o1")->count, 1);
	assert_int_equal(pano_view_newest(pano_subject_view(y, "o1"))->sec, 500);
	pano_store_free(f.s);
	f.s = back;
	begin(&f);
	put(&f, "o1", "x", 600);
	commit(&f);
	assert_int_equal(restart(&f), 16);

	pano_db_close(f.db);
	run_sql(f.path, "PRAGMA user_version = 7");
	f.db = pano_db_open(f.path, err, sizeof(err));
	assert_null(f.db);
	assert_non_null(strstr(err, "schema version 7"));
	assert_int_equal(query(f.path, "PRAGMA user_version"), 7);
	fixture_close(&f);
}

/* Many batches over 30 views with garbage collection (which trims views
 * and drops five that stop for good), views that are quiet for stretches
 * long enough to be moved, rolled-back batches, and restarts among them:
 * after each restart the store is what it was, and the file stays
 * bounded. */
static void random_batches_restart_to_the_same_store(void **state)
{
	(void)state;
	fixture f;
	fixture_open(&f);
	char err[256];
	uint64_t rng = 42;
	int64_t clock = 1000;
	size_t restarts = 0;
	for (int batch = 1; batch <= 2400; batch++) {
		begin(&f);
		pano_store_begin(f.s);
		int n = 1 + (int)((rng = rng * 6364136223846793005u + 1442695040888963407u) >> 59);
		for (int k = 0; k < n; k++) {
			rng = rng * 6364136223846793005u + 1442695040888963407u;
			/* views 0-9 rest in every other stretch of 400 batches;
			 * views 25-29 stop after the first 300 */
			int view = (int)((rng >> 33) % 30);
			if (view < 10 && (batch / 400) % 2 == 1)
				view += 10;
			if (view >= 25 && batch > 300)
				view -= 10;
			char subject[16], observer[16];
			snprintf(subject, sizeof(subject), "s%d", view % 5);
			snprintf(observer, sizeof(observer), "o%d", view / 5);
			put(&f, observer, subject, clock++);
		}
		if (batch % 97 == 0 && batch % 2 == 0) {
			/* a batch that fails: the node undoes it in memory */
			assert_int_equal(pano_db_rollback(f.db), 0);
			pano_store_undo(f.s);
			continue;
		}
		if (batch % 97 == 0) {
			/* or, when the map of live rows is lost, reloads */
			pano_db_rollback(f.db);
			pano_store_free(f.s);
			f.s = pano_store_new(NULL);
			size_t count = 0;
			assert_int_equal(pano_db_load(f.db, f.s, &count, err, sizeof(err)), 0);
			continue;
		}
		pano_store_commit(f.s);
		commit(&f);
		if (batch % 151 == 0)
			collect(&f, clock, 150, true); /* trims every view to about half */
		if (batch % 500 == 0)
			collect(&f, clock, 20000, false);
		if (batch % 50 == 0) {
			restart(&f);
			restarts++;
		}
		if (batch % 10 == 0) {
			int64_t live = query(f.path, "SELECT count(*) FROM log l JOIN views v ON l.view = v.id"
			                             " WHERE l.id >= v.floor");
			assert_true(query(f.path, "SELECT count(*) FROM log") <= 2 * live + 4096 + 1024 + 64);
		}
	}
	assert_int_equal(restarts, 48);
	assert_int_equal(query(f.path, "SELECT count(*) FROM views"), 25);
	fixture_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_restart_holds_what_the_store_held),
		cmocka_unit_test(last_seen_is_the_same_after_a_restart),
		cmocka_unit_test(a_trimmed_view_stays_trimmed),
		cmocka_unit_test(a_dropped_view_stays_dropped_and_its_id_is_reused_safely),
		cmocka_unit_test(compaction_moves_a_quiet_view_and_bounds_the_file),
		cmocka_unit_test(compaction_keeps_up_with_large_batches),
		cmocka_unit_test(compaction_keeps_a_lone_live_row_between_dead_runs),
		cmocka_unit_test(a_rolled_back_batch_is_forgotten_after_a_reload),
		cmocka_unit_test(a_refused_batch_is_undone_in_memory),
		cmocka_unit_test(every_row_has_the_id_its_view_holds),
		cmocka_unit_test(no_writes_before_a_load_succeeds),
		cmocka_unit_test(a_version_2_file_is_upgraded),
		cmocka_unit_test(random_batches_restart_to_the_same_store),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
