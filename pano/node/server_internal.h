/*
 * server_internal.h - the node's state, shared by the three parts of its
 * request path.  Not for use outside pano/node/server*.c, requests.c and
 * commit.c.
 *
 *   server.c    the loop: sockets, receiving and authorising requests,
 *               sending replies, garbage collection, the HTTP face, start
 *               and stop.  Runs on the main thread.
 *   requests.c  what each kind of request does (the table REQUEST_KINDS):
 *               the writes of a batch in one transaction, then the reads.
 *               Runs on the main thread, inside the loop's batch.
 *   commit.c    the commit path: a batch's writes made durable and its
 *               replies sent in order (at once, or with -fsync behind the
 *               syncer thread's fsync), and the log's compaction.  The
 *               syncer thread touches only the counters under sync_mu, the
 *               database's fsync and sync_efd; everything else in the
 *               struct belongs to the main thread.
 *
 * How to add a request kind: docs/layout.md.
 */
#ifndef PANO_SERVER_INTERNAL_H
#define PANO_SERVER_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <zmq.h>

#include "pano/common/arena.h"
#include "pano/common/cert.h"
#include "pano/common/http.h"
#include "pano/node/console.h"
#include "pano/node/db.h"
#include "pano/node/history.h"
#include "pano/node/judge.h"
#include "pano/node/notify.h"
#include "pano/node/keyring.h"
#include "pano/node/meshgate.h"
#include "pano/node/peers.h"
#include "pano/node/server.h"
#include "pano/node/store.h"
#include "pano/node/watch.h"
#include "pano/node/zap.h"
#include "panorama.pb-c.h"

#define DEGRADED_NS (INT64_C(1000000000))
/* After a failed compaction, the next try waits this long: each failure
 * reloads the store, which takes a second or more for a large one. */
#define COMPACT_RETRY_NS (INT64_C(10000000000))
/* A batch stops taking requests once its decoded requests and replies hold
 * this much memory, so hostile 1 MiB messages cannot make a batch huge. */
#define BATCH_ARENA_MAX ((size_t)64 << 20)
#define MEM_DUMP_EVERY_S 60
#define MESH_GC_EVERY_S 60

typedef struct {
	zmq_msg_t identity;
	bool delimiter;           /* REQ-style envelope: an empty frame before the body */
	const pano_cert *who;     /* with CURVE, the sender's certificate; NULL without */
	char from[64];            /* the client's address, as ZeroMQ gives it ("" unknown) */
	Panorama__Request *req;   /* NULL: undecodable */
	Panorama__Reply reply;
	bool local_accepted;      /* an accepted SubmitReport to propagate */
	bool subscribe_change;    /* an Observe / StopObserving to announce */
} pending;

/* A batch: its requests, their decoded forms and replies (all in its
 * arena), and whether it committed writes that must reach the disk before
 * it is answered. */
typedef struct {
	pending items[PANO_BATCH_MAX];
	size_t n;
	arena *arena;
	ProtobufCAllocator alloc; /* decoded requests live in the arena */
	bool wrote;
	uint64_t seq;             /* commit order */
} batch;

#define NBATCHES 8

/*
 * With -fsync (cfg.fsync), group commit, pipelined.  The loop decodes a
 * batch, applies its writes,
 * commits them to the WAL, builds every reply, and queues the batch; it
 * does not wait.  The syncer thread fsyncs the WAL back to back, each fsync
 * covering every batch committed before it began, and reports how far it
 * got; the loop then answers those batches, in order.  So the loop never
 * sits in fsync, one fsync serves many batches under load, and no reply
 * (not even a read's) leaves before what it shows is on disk.
 */
struct pano_server {
	pano_config cfg;
	void *zctx, *router;
	int sigfd;
	pano_store *store;
	pano_db *db;
	peers *peers;
	pano_watch *watch;        /* NULL: no watch stream (-watch off) */
	pano_cert self;           /* with CURVE: the node's key pair */
	pano_keyring *keys;       /* with CURVE: whom it lets in; NULL: no CURVE */
	pano_zap *zap;
	time_t last_refusal_log, last_mesh_log;
	meshgate *meshgate;       /* who may join a mesh (meshgate.h) */
	judge *judge;             /* staleness, blame and votes (judge.h) */
	history *history;         /* the views' measurements over time (history.h) */
	notifier *notify;         /* who hears of changes (notify.h) */
	/* What reloads read (server_reload): the peers borrow their names
	 * from peers_cfg; cfg's subjects and notification targets point into
	 * latest_cfg.  Either may be NULL (the command line's config). */
	pano_config *peers_cfg, *latest_cfg;
	int64_t next_prune_s;     /* when history_prune is next due */
	int64_t next_judge_ns;    /* the next pass; later when a pass is long (a large store) */
	batch batches[NBATCHES];  /* a ring: queued ones, then cur */
	size_t qhead, qlen;       /* queued batches awaiting their fsync */
	batch *cur;               /* being received and applied */
	uint64_t next_seq;
	pthread_t syncer;
	bool syncer_running, syncer_stop;
	bool sync_init;           /* sync_mu and sync_cv are made */
	pthread_mutex_t sync_mu;  /* guards the four counters below, shared with the syncer */
	pthread_cond_t sync_cv;
	uint64_t committed;       /* batches queued so far (their seq) */
	uint64_t last_write;      /* seq of the newest queued batch that wrote */
	uint64_t synced;          /* batches up to this seq are durable */
	uint64_t failed_upto;     /* an fsync failed for batches up to this seq */
	int sync_efd;             /* the syncer's "progress" signal */
	int64_t degraded_until;
	int64_t compact_after; /* see COMPACT_RETRY_NS */
	bool stopping;
	unsigned long long served, accepted, refused, ignored;
	unsigned long long by_kind[PANO_REQUEST_KINDS];
	unsigned long long batch_in[PANO_BATCH_BUCKETS + 1];
	double batch_sum_s;
	unsigned long long commit_in[PANO_BATCH_BUCKETS + 1]; /* the database's COMMITs */
	double commit_sum_s;
	pano_console *console;    /* with -http: what the HTTP face shows */
	pano_http *http;          /* NULL: no HTTP face */
	const char **peer_ids, **peer_addrs;
	bool *peer_up;
};



/* server.c */
void server_histogram_add(unsigned long long *in, double d, double *sum);
/* Loads the store from the database (at start, and after a failed commit
 * or compaction); 0, or -1 with a reason. */
int server_load_store(pano_server *s, char *err, size_t errlen);
/* SIGHUP, or POST /-/reload: reads the -config file again and applies its
 * peers (reconnected when they changed), new subjects and notification
 * targets.  0, or -1 with why, having changed nothing. */
int server_reload(pano_server *s, char *err, size_t errlen);
/* Sends p's reply (an error one when it has none) and counts it. */
void server_send_reply(pano_server *s, pending *p);

/* requests.c */
void reply_error(pano_server *s, pending *p, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Phase one of a batch: every write, in one transaction (refused, all of
 * them, when it fails); phase two: every request left unanswered. */
void requests_apply_writes(pano_server *s);
void requests_answer_reads(pano_server *s);
/* Whether p is a write the node acknowledges (its reply says it is stored),
 * and whether it is a peer's report the node learned. */
bool request_acknowledges_write(const pending *p);
bool request_learned(const pending *p);

/* commit.c */
/* Starts and stops the syncer thread (it runs with and without -fsync). */
int commit_start(pano_server *s, char *err, size_t errlen);
void commit_stop(pano_server *s);
/* The loop's batch, s->cur, through both phases, made durable and
 * answered (or queued behind the syncer with -fsync). */
void commit_process_batch(pano_server *s);
/* Answers the queued batches the syncer has made durable; with block,
 * first waits until it has made progress. */
void commit_collect(pano_server *s, bool block);
/* Compacts the database's log when it is due, in a transaction of its own
 * (after a batch is answered, after garbage collection). */
void commit_compact(pano_server *s);

#endif
