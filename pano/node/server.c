/* server.c - a Panorama node's request loop; see server.h. */
#include "pano/node/server.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "pano/common/arena.h"
#include "pano/common/cert.h"
#include "pano/common/curve.h"
#include "pano/node/console.h"
#include "pano/node/db.h"
#include "pano/common/http.h"
#include "pano/common/endpoint.h"
#include "pano/node/keyring.h"
#include "pano/node/meshgate.h"
#include "pano/common/log.h"
#include "pano/node/peers.h"
#include "pano/node/store.h"
#include "pano/node/watch.h"
#include "pano/node/wire.h"
#include "pano/node/zap.h"
#include "pano/common/clock.h"

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
	batch batches[NBATCHES];  /* a ring: queued ones, then cur */
	size_t qhead, qlen;       /* queued batches awaiting their fsync */
	batch *cur;               /* being received and applied */
	uint64_t next_seq;
	pthread_t syncer;
	bool syncer_running, syncer_stop;
	pthread_mutex_t sync_mu;  /* guards the three counters below */
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


static pano_node_figures figures(void *ctx)
{
	pano_server *s = ctx;
	char wal[4200];
	snprintf(wal, sizeof(wal), "%s-wal", s->cfg.db_file);
	struct stat st;
	size_t npeers = peers_count(s->peers), up = 0;
	for (size_t i = 0; i < npeers; i++)
		up += s->peer_up[i] = peers_reachable(s->peers, i);
	pano_node_figures f = { s->served, s->accepted, s->refused, s->ignored, s->by_kind, s->batch_in, s->batch_sum_s,
	                        s->commit_in, s->commit_sum_s, npeers, up,
	                        s->peer_ids, s->peer_addrs, s->peer_up,
	                        stat(wal, &st) == 0 ? (long long)st.st_size : 0,
	                        s->watch ? pano_watch_resets(s->watch) : 0 };
	return f;
}

/* The HTTP face: the console reads the store on the loop, through the
 * pointer to it (a reload replaces the store). */
static int start_http(pano_server *s, char *err, size_t errlen)
{
	size_t npeers = peers_count(s->peers);
	s->peer_ids = calloc(npeers + 1, sizeof(*s->peer_ids));
	s->peer_addrs = calloc(npeers + 1, sizeof(*s->peer_addrs));
	s->peer_up = calloc(npeers + 1, sizeof(*s->peer_up));
	if (!s->peer_ids || !s->peer_addrs || !s->peer_up) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < npeers; i++) {
		s->peer_ids[i] = peers_id(s->peers, i);
		s->peer_addrs[i] = peers_addr(s->peers, i);
	}
	s->console = pano_console_new(s->cfg.id, (const pano_store *const *)&s->store, figures, s);
	if (!s->console) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->http = pano_http_new(s->cfg.http_addr, s->cfg.http_token, pano_console_render, s->console, err, errlen);
	if (!s->http)
		return -1;
	pano_console_flush(s->console, s->http); /* nothing to post yet: it learns where to */
	pano_log(PANO_LOG_INFO, "node %s: console on http://%s/", s->cfg.id, s->cfg.http_addr);
	return 0;
}

/* One duration into a histogram of PANO_BATCH_BOUNDS_S buckets. */
static void histogram_add(unsigned long long *in, double d, double *sum)
{
	size_t b = 0;
	while (b < PANO_BATCH_BUCKETS && d > PANO_BATCH_BOUNDS_S[b])
		b++;
	in[b]++;
	*sum += d;
}

/* A fresh store holding exactly what the database holds. */
static int load_store(pano_server *s, char *err, size_t errlen)
{
	pano_limits lim = pano_limits_default();
	if (s->cfg.max_views > 0)
		lim.max_views = (size_t)s->cfg.max_views;
	if (s->cfg.max_values > 0)
		lim.max_values = (size_t)s->cfg.max_values;
	pano_store *st = pano_store_new(&lim);
	if (!st) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	pano_store_set_filter(st, s->cfg.filter);
	for (size_t i = 0; i < s->cfg.nsubjects; i++)
		pano_store_watch(st, s->cfg.subjects[i]);
	size_t count = 0;
	if (pano_db_load(s->db, st, &count, err, errlen) != 0) {
		pano_store_free(st);
		return -1;
	}
	pano_store_free(s->store);
	s->store = st;
	pano_log(PANO_LOG_INFO, "loaded %zu observations of %zu subjects from %s (%lld log rows)", count,
	         pano_store_subject_count(st), s->cfg.db_file, (long long)pano_db_log_rows(s->db));
	return 0;
}

/* The syncer: one fsync after another, each covering every batch queued
 * before it began; batches that wrote nothing need none. */
static void *syncer_main(void *arg)
{
	pano_server *s = arg;
	pthread_mutex_lock(&s->sync_mu);
	for (;;) {
		while (s->synced == s->committed && !s->syncer_stop)
			pthread_cond_wait(&s->sync_cv, &s->sync_mu);
		if (s->synced == s->committed)
			break;
		uint64_t target = s->committed;
		bool need = s->last_write > s->synced;
		pthread_mutex_unlock(&s->sync_mu);
		bool failed = need && pano_db_sync(s->db) != 0;
		pthread_mutex_lock(&s->sync_mu);
		if (failed)
			s->failed_upto = target;
		s->synced = target;
		uint64_t one = 1;
		if (write(s->sync_efd, &one, sizeof(one)) < 0) {
			/* an eventfd counter does not overflow at our rates */
		}
	}
	pthread_mutex_unlock(&s->sync_mu);
	return NULL;
}

/* Tries SCHED_BATCH on the thread it runs in: whether this process may. */
static void *try_batch_policy(void *arg)
{
	struct sched_param zero = { 0 };
	*(int *)arg = pthread_setschedparam(pthread_self(), SCHED_BATCH, &zero);
	return NULL;
}

/*
 * ZeroMQ's I/O thread runs under SCHED_BATCH: the loop wakes it with every
 * batch of replies, and as an ordinary thread it then often preempted the
 * loop on the loop's own CPU, in the middle of the batch.  SCHED_BATCH
 * takes it out of that wake-up preemption (it keeps its fair share of the
 * CPU), so the loop finishes sending the batch, and the I/O thread takes
 * every reply at once.  Where a CPU is free, nothing changes.  libzmq aborts when it cannot set a thread's policy, so a
 * throwaway thread tries first; a process that may not keeps the usual
 * policy.
 */
static void batch_io_thread(void *zctx)
{
	pthread_t probe;
	int rc = -1;
	if (pthread_create(&probe, NULL, try_batch_policy, &rc) != 0)
		return;
	pthread_join(probe, NULL);
	if (rc == 0)
		zmq_ctx_set(zctx, ZMQ_THREAD_SCHED_POLICY, SCHED_BATCH);
}

static void *arena_pb_alloc(void *data, size_t size)
{
	return arena_alloc(data, size);
}

static void arena_pb_free(void *data, void *ptr)
{
	(void)data; /* freed with the arena, at the end of the batch */
	(void)ptr;
}

/* CURVE: the node's own certificate (a node key named as the node) and the
 * keyring, checked before anything else (a refused start touches no
 * database); the gatekeeper comes with the sockets. */
static int load_keys(pano_server *s, char *err, size_t errlen)
{
	const pano_config *cfg = &s->cfg;
	if (!cfg->curve_allow) {
		snprintf(err, errlen, "CURVE: a key (-key, CurveKey) needs an allow list (-allow, CurveAllow)");
		return -1;
	}
	if (pano_cert_load(cfg->curve_key, true, &s->self, err, errlen) != 0)
		return -1;
	if (s->self.role != PANO_ROLE_NODE || strcmp(s->self.name, cfg->id) != 0) {
		snprintf(err, errlen, "%s: a %s key for '%.64s', but this is node '%.64s' (make one with "
		         "sonar-keygen -role node %.64s)", cfg->curve_key, pano_role_name(s->self.role),
		         s->self.name, cfg->id, cfg->id);
		return -1;
	}
	if (!(s->keys = pano_keyring_load(cfg->curve_allow, err, errlen)))
		return -1;
	return peers_check_keys(cfg, s->keys, err, errlen);
}

pano_server *pano_server_new(const pano_config *cfg, char *err, size_t errlen)
{
	pano_server *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->cfg = *cfg; /* borrowed strings: cfg outlives the server */
	/* Signals are read from a signalfd by the loop; block them before any
	 * thread (sqlite's checkpointer, zmq's I/O thread, the syncer) starts,
	 * so that none of those inherits them and dies of them. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP); /* reopens the log file (logrotate) */
	sigprocmask(SIG_BLOCK, &set, NULL);
	s->sigfd = s->sync_efd = -1;
	bool arenas = true;
	for (int i = 0; i < NBATCHES; i++) {
		s->batches[i].arena = arena_new();
		s->batches[i].alloc = (ProtobufCAllocator){ arena_pb_alloc, arena_pb_free, s->batches[i].arena };
		arenas = arenas && s->batches[i].arena;
	}
	s->cur = &s->batches[0];
	if (cfg->curve_key && load_keys(s, err, errlen) != 0)
		goto failed;
	s->db = pano_db_open(cfg->db_file, err, errlen);
	if (s->db && pano_db_upgraded_from(s->db))
		pano_log(PANO_LOG_INFO, "upgraded %s from schema version %d to %d", cfg->db_file,
		         pano_db_upgraded_from(s->db), PANO_DB_SCHEMA_VERSION);
	if (!arenas || !s->db || load_store(s, err, errlen) != 0)
		goto failed;
	char **peer_addrs = calloc(cfg->npeers + 1, sizeof(*peer_addrs));
	for (size_t i = 0; peer_addrs && i < cfg->npeers; i++)
		peer_addrs[i] = cfg->peers[i].addr;
	meshgate_config mc = { cfg->curve_key != NULL, cfg->mesh_open, peer_addrs, cfg->npeers };
	s->meshgate = peer_addrs ? meshgate_new(&mc) : NULL;
	free(peer_addrs);
	if (!s->meshgate) {
		snprintf(err, errlen, "out of memory");
		goto failed;
	}
	char endpoint[512];
	if (pano_endpoint(cfg->addr, endpoint, sizeof(endpoint)) != 0) {
		snprintf(err, errlen, "address '%.200s' is not host:port", cfg->addr);
		goto failed;
	}
	s->zctx = zmq_ctx_new();
	if (s->zctx)
		batch_io_thread(s->zctx); /* before the first socket starts the thread */
	s->router = s->zctx ? zmq_socket(s->zctx, ZMQ_ROUTER) : NULL;
	if (!s->router) {
		snprintf(err, errlen, "zmq: %s", zmq_strerror(errno));
		goto failed;
	}
	if (s->keys && (!(s->zap = pano_zap_start(s->zctx, s->keys, err, errlen)) ||
	                pano_curve_server_apply(s->router, &s->self, err, errlen) != 0))
		goto failed;
	int64_t maxmsg = PANO_MSG_MAX;
	int hwm = 10000, one = 1, linger = 1000;
	zmq_setsockopt(s->router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
	zmq_setsockopt(s->router, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(s->router, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	/* A reply to a client that is gone fails at once instead of vanishing. */
	zmq_setsockopt(s->router, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
	zmq_setsockopt(s->router, ZMQ_LINGER, &linger, sizeof(linger));
	if (pano_endpoint_prepare(s->router, endpoint) != 0 || zmq_bind(s->router, endpoint) != 0) {
		snprintf(err, errlen, "cannot listen on %.200s: %s", cfg->addr, zmq_strerror(errno));
		goto failed;
	}
	s->peers = peers_new(s->zctx, cfg, s->keys ? &s->self : NULL, s->keys, err, errlen);
	if (!s->peers)
		goto failed;
	if (!cfg->watch_addr || strcmp(cfg->watch_addr, "off") != 0) {
		char waddr[512];
		if (cfg->watch_addr)
			snprintf(waddr, sizeof(waddr), "%s", cfg->watch_addr);
		else if (pano_endpoint_watch_addr(cfg->addr, waddr, sizeof(waddr)) != 0) {
			snprintf(err, errlen, "no default watch address for '%.200s' (give -watch)", cfg->addr);
			pano_server_free(s);
			return NULL;
		}
		if (!(s->watch = pano_watch_new(s->zctx, waddr, s->keys ? &s->self : NULL, err, errlen))) {
			pano_server_free(s);
			return NULL;
		}
	}
	if (cfg->http_addr && strcmp(cfg->http_addr, "off") != 0 && start_http(s, err, errlen) != 0)
		goto failed;
	s->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	s->sync_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_mutex_init(&s->sync_mu, NULL);
	pthread_cond_init(&s->sync_cv, NULL);
	if (s->sigfd < 0 || s->sync_efd < 0 || pthread_create(&s->syncer, NULL, syncer_main, s) != 0) {
		snprintf(err, errlen, "cannot start the syncer thread");
		goto failed;
	}
	s->syncer_running = true;
	return s;
failed:
	pano_server_free(s);
	return NULL;
}

void pano_server_free(pano_server *s)
{
	if (!s)
		return;
	if (s->syncer_running) {
		pthread_mutex_lock(&s->sync_mu);
		s->syncer_stop = true;
		pthread_cond_signal(&s->sync_cv);
		pthread_mutex_unlock(&s->sync_mu);
		pthread_join(s->syncer, NULL);
		pthread_mutex_destroy(&s->sync_mu);
		pthread_cond_destroy(&s->sync_cv);
	}
	if (s->sync_efd >= 0)
		close(s->sync_efd);
	pano_http_free(s->http); /* its threads first: they wait on the loop */
	pano_console_free(s->console);
	free(s->peer_ids);
	free(s->peer_addrs);
	free(s->peer_up);
	peers_free(s->peers);
	pano_watch_free(s->watch);
	if (s->router)
		zmq_close(s->router);
	pano_zap_stop(s->zap);
	if (s->zctx)
		zmq_ctx_term(s->zctx);
	pano_keyring_free(s->keys);
	explicit_bzero(&s->self, sizeof(s->self)); /* the secret key: a memset before free may be dropped */
	pano_db_close(s->db);
	pano_store_free(s->store);
	meshgate_free(s->meshgate);
	for (int i = 0; i < NBATCHES; i++)
		arena_free(s->batches[i].arena);
	if (s->sigfd >= 0)
		close(s->sigfd);
	free(s);
}

/* --- replies ---------------------------------------------------------- */

static void *anew(pano_server *s, size_t size)
{
	return arena_alloc(s->cur->arena, size);
}

static void reply_error(pano_server *s, pending *p, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void reply_error(pano_server *s, pending *p, int code, const char *fmt, ...)
{
	Panorama__ErrorReply *e = anew(s, sizeof(*e));
	char *msg = anew(s, 256);
	if (!e || !msg) {
		p->reply.body_case = PANORAMA__REPLY__BODY__NOT_SET;
		return;
	}
	panorama__error_reply__init(e);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, 256, fmt, ap);
	va_end(ap);
	e->code = (Panorama__ErrorReply__Code)code;
	e->message = msg;
	p->reply.body_case = PANORAMA__REPLY__BODY_ERROR;
	p->reply.error = e;
}

static void reply_missing(pano_server *s, pending *p)
{
	reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__BAD_REQUEST, "request without its arguments");
}

static void reply_submit(pano_server *s, pending *p, Panorama__SubmitReportReply__Status st)
{
	Panorama__SubmitReportReply *r = anew(s, sizeof(*r));
	if (!r)
		return;
	panorama__submit_report_reply__init(r);
	r->result = st;
	p->reply.body_case = PANORAMA__REPLY__BODY_SUBMIT_REPORT;
	p->reply.submit_report = r;
}

static void reply_learn(pano_server *s, pending *p, Panorama__LearnReportReply__Status st)
{
	Panorama__LearnReportReply *r = anew(s, sizeof(*r));
	if (!r)
		return;
	panorama__learn_report_reply__init(r);
	r->result = st;
	p->reply.body_case = PANORAMA__REPLY__BODY_LEARN_REPORT;
	p->reply.learn_report = r;
}

static void reply_observe(pano_server *s, pending *p, bool ok)
{
	Panorama__ObserveReply *r = anew(s, sizeof(*r));
	if (!r)
		return;
	panorama__observe_reply__init(r);
	r->success = ok;
	p->reply.body_case = PANORAMA__REPLY__BODY_OBSERVE;
	p->reply.observe = r;
}

/* --- writes ----------------------------------------------------------- */

static bool writes_refused(pano_server *s, pending *p)
{
	if (clock_mono_ns() >= s->degraded_until)
		return false;
	reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__UNAVAILABLE,
	            "the node's database cannot take writes now; retry later");
	return true;
}

/* Validates, stores and persists one report (inside the open transaction).
 * Returns 1 accepted (or a duplicate of a stored one), 0 refused (reply set). */
static int store_report(pano_server *s, pending *p, const Panorama__Report *r, bool learned)
{
	char err[512];
	if (!r || !r->observer || !r->subject) {
		s->refused++;
		reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__BAD_REQUEST, "report without observer or subject");
		return 0;
	}
	if (!pano_name_valid(s->store, r->observer, err, sizeof(err)) ||
	    !pano_name_valid(s->store, r->subject, err, sizeof(err))) {
		s->refused++;
		reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__BAD_REQUEST, "observer or subject: %s", err);
		return 0;
	}
	int64_t now_ns = clock_wall_ns();
	bool mesh = meshgate_is_mesh(r->subject);
	if (mesh) {
		meshgate_verdict v = meshgate_admit(s->meshgate, r->subject, r->observer, p->from, learned,
		                                    now_ns / 1000000000, err, sizeof(err));
		if (v != MESHGATE_ADMIT) {
			s->refused++;
			reply_error(s, p, v == MESHGATE_FORBIDDEN ? PANORAMA__ERROR_REPLY__CODE__FORBIDDEN
			                                          : PANORAMA__ERROR_REPLY__CODE__BAD_REQUEST, "%s", err);
			if (pano_log_due(&s->last_mesh_log))
				pano_log(PANO_LOG_WARN, "refused a mesh report from %s: %s", p->from[0] ? p->from : "?", err);
			return 0;
		}
	}
	pano_obs obs;
	if (pano_obs_from_pb(s->store, r->observation, now_ns / 1000000000, &obs, err, sizeof(err)) != 0) {
		s->refused++;
		reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__BAD_REQUEST, "%s", err);
		return 0;
	}
	if (mesh) { /* a member is as fresh as when this node heard of it (meshgate.h) */
		obs.sec = now_ns / 1000000000;
		obs.nsec = (int32_t)(now_ns % 1000000000);
	}
	uint64_t seq = 0;
	pano_view *v = NULL;
	int rc = pano_store_add(s->store, r->observer, r->subject, &obs, &seq, &v, err, sizeof(err));
	if (rc < 0) {
		pano_obs_clear(&obs);
		pano_store_names_rollback(s->store);
		s->refused++;
		reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__BAD_REQUEST, "%s", err);
		return 0;
	}
	if (rc == 1) { /* duplicate: already durable */
		pano_obs_clear(&obs);
		return 1;
	}
	if (pano_db_put(s->db, v, seq, err, sizeof(err)) != 0) {
		/* The commit will fail too, or be skipped: see apply_writes. */
		reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__UNAVAILABLE, "database: %s", err);
		return -1;
	}
	return 1;
}

static int handle_submit(pano_server *s, pending *p)
{
	const Panorama__SubmitReportRequest *q = p->req->submit_report;
	if (!q) {
		reply_missing(s, p);
		return 0;
	}
	if (writes_refused(s, p))
		return 0;
	if (!q->report || !q->report->observer || q->handle != pano_handle_of(q->report->observer)) {
		reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__BAD_REQUEST,
		            "handle %llu is not the one Register gave observer %.64s",
		            (unsigned long long)q->handle,
		            q->report && q->report->observer ? q->report->observer : "(none)");
		return 0;
	}
	int rc = store_report(s, p, q->report, false);
	if (rc == 1) {
		reply_submit(s, p, PANORAMA__SUBMIT_REPORT_REPLY__STATUS__ACCEPTED);
		p->local_accepted = true;
	}
	return rc;
}

static int handle_learn(pano_server *s, pending *p)
{
	const Panorama__LearnReportRequest *q = p->req->learn_report;
	if (!q) {
		reply_missing(s, p);
		return 0;
	}
	const char *source = q->source && q->source->id ? q->source->id : "";
	const char *subject = q->report && q->report->subject ? q->report->subject : NULL;
	switch (q->kind) {
	case PANORAMA__LEARN_REPORT_REQUEST__KIND__SUBSCRIPTION:
	case PANORAMA__LEARN_REPORT_REQUEST__KIND__UNSUBSCRIPTION:
		if (!subject) {
			reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__BAD_REQUEST, "subscription without a subject");
			return 0;
		}
		peers_set_interest(s->peers, source, subject,
		                   q->kind == PANORAMA__LEARN_REPORT_REQUEST__KIND__SUBSCRIPTION);
		reply_learn(s, p, PANORAMA__LEARN_REPORT_REPLY__STATUS__ACCEPTED);
		return 0;
	case PANORAMA__LEARN_REPORT_REQUEST__KIND__NORMAL:
		break;
	default:
		reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__BAD_REQUEST, "unknown learn kind %d", (int)q->kind);
		return 0;
	}
	if (subject && !pano_store_watching(s->store, subject)) {
		pano_log(PANO_LOG_DEBUG, "learn from %s about %s: ignored (not watched)", source, subject);
		reply_learn(s, p, PANORAMA__LEARN_REPORT_REPLY__STATUS__IGNORED);
		s->ignored++;
		return 0;
	}
	if (writes_refused(s, p))
		return 0;
	int rc = store_report(s, p, q->report, true);
	if (rc == 1)
		reply_learn(s, p, PANORAMA__LEARN_REPORT_REPLY__STATUS__ACCEPTED);
	return rc;
}

static int handle_observe(pano_server *s, pending *p, bool watch)
{
	const Panorama__ObserveRequest *q = watch ? p->req->observe : p->req->stop_observing;
	char err[256];
	if (!q) {
		reply_missing(s, p);
		return 0;
	}
	if (!q->subject || !pano_name_valid(s->store, q->subject, err, sizeof(err))) {
		reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__BAD_REQUEST, "subject: %s",
		            q->subject ? err : "missing");
		return 0;
	}
	if (writes_refused(s, p))
		return 0;
	if (watch ? pano_store_watch(s->store, q->subject) != 0 : (pano_store_unwatch(s->store, q->subject), 0)) {
		reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__BAD_REQUEST, "watch list full");
		return 0;
	}
	if (pano_db_watch(s->db, q->subject, watch, err, sizeof(err)) != 0) {
		reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__UNAVAILABLE, "database: %s", err);
		return -1;
	}
	reply_observe(s, p, true);
	p->subscribe_change = true;
	return 1;
}

/* A peer's report the node stored (not one IGNORED, not a subscription). */
static bool learned(const pending *p)
{
	return p->req && p->reply.body_case == PANORAMA__REPLY__BODY_LEARN_REPORT &&
	       p->reply.learn_report->result == PANORAMA__LEARN_REPORT_REPLY__STATUS__ACCEPTED &&
	       p->req->learn_report->kind == PANORAMA__LEARN_REPORT_REQUEST__KIND__NORMAL &&
	       p->req->learn_report->report;
}

/* Whether p's reply acknowledges a write: what a failed fsync takes back. */
static bool acknowledges_write(const pending *p)
{
	return p->local_accepted || p->subscribe_change || learned(p);
}

/* --- reads: one function per reply ---------------------------------------- */

/* The subject a request q names, or NULL with the reply set (q itself
 * missing, or no such subject). */
static const pano_subject *find_subject(pano_server *s, pending *p, const void *q, const char *name)
{
	if (!q) {
		reply_missing(s, p);
		return NULL;
	}
	const pano_subject *sub = name ? pano_store_subject(s->store, name) : NULL;
	if (!sub)
		reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__NOT_FOUND, "no such subject: %.200s",
		            name ? name : "(none)");
	return sub;
}

static int read_register(pano_server *s, pending *p)
{
	const Panorama__RegisterRequest *q = p->req->register_;
	char err[128];
	if (!q || !q->observer) {
		reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__BAD_REQUEST, "register without an observer");
	} else if (!pano_name_valid(s->store, q->observer, err, sizeof(err))) {
		reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__BAD_REQUEST, "observer: %s", err);
	} else {
		Panorama__RegisterReply *rr = anew(s, sizeof(*rr));
		if (rr) {
			panorama__register_reply__init(rr);
			rr->handle = pano_handle_of(q->observer);
			p->reply.body_case = PANORAMA__REPLY__BODY_REGISTER;
			p->reply.register_ = rr;
		}
	}
	return 0;
}

static int read_latest_report(pano_server *s, pending *p)
{
	const Panorama__GetReportRequest *q = p->req->get_latest_report;
	const pano_subject *sub = find_subject(s, p, q, q ? q->subject : NULL);
	if (!sub)
		return 0;
	p->reply.report = wire_latest_report(s->cur->arena, sub);
	p->reply.body_case = PANORAMA__REPLY__BODY_REPORT;
	if (!p->reply.report)
		reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__NOT_FOUND, "no report about %.200s", q->subject);
	return 0;
}

static int read_panorama(pano_server *s, pending *p)
{
	const Panorama__GetPanoramaRequest *q = p->req->get_panorama;
	const pano_subject *sub = find_subject(s, p, q, q ? q->subject : NULL);
	if (sub && (p->reply.panorama = wire_panorama(s->cur->arena, sub)))
		p->reply.body_case = PANORAMA__REPLY__BODY_PANORAMA;
	return 0;
}

static int read_view(pano_server *s, pending *p)
{
	const Panorama__GetViewRequest *q = p->req->get_view;
	const pano_subject *sub = find_subject(s, p, q, q ? q->subject : NULL);
	if (!sub)
		return 0;
	const pano_view *v = q->observer ? pano_subject_view(sub, q->observer) : NULL;
	if (!v)
		reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__NOT_FOUND, "no view of %.100s by %.100s", q->subject,
		            q->observer ? q->observer : "(none)");
	else if ((p->reply.view = wire_view(s->cur->arena, v)))
		p->reply.body_case = PANORAMA__REPLY__BODY_VIEW;
	return 0;
}

static int read_inference(pano_server *s, pending *p)
{
	const Panorama__GetInferenceRequest *q = p->req->get_inference;
	const pano_subject *sub = find_subject(s, p, q, q ? q->subject : NULL);
	if (sub && (p->reply.inference = wire_inference(s->cur->arena, sub)))
		p->reply.body_case = PANORAMA__REPLY__BODY_INFERENCE;
	return 0;
}

static int read_subjects(pano_server *s, pending *p)
{
	size_t n = 0;
	const pano_subject **subs = pano_store_subjects(s->store, &n);
	Panorama__GetObservedSubjectsReply *sr = anew(s, sizeof(*sr));
	Panorama__GetObservedSubjectsReply__SubjectsEntry *es = anew(s, (n ? n : 1) * sizeof(*es));
	Panorama__GetObservedSubjectsReply__SubjectsEntry **ptrs = anew(s, (n ? n : 1) * sizeof(*ptrs));
	if (subs && sr && es && ptrs) {
		panorama__get_observed_subjects_reply__init(sr);
		for (size_t i = 0; i < n; i++) {
			panorama__get_observed_subjects_reply__subjects_entry__init(&es[i]);
			es[i].key = (char *)pano_subject_name(subs[i]);
			int64_t sec;
			int32_t nsec;
			pano_subject_last_seen(subs[i], &sec, &nsec);
			es[i].value = wire_ts(s->cur->arena, sec, nsec);
			ptrs[i] = &es[i];
		}
		sr->subjects = ptrs;
		sr->n_subjects = n;
		p->reply.body_case = PANORAMA__REPLY__BODY_SUBJECTS;
		p->reply.subjects = sr;
	}
	free(subs);
	return 0;
}

static int read_observers(pano_server *s, pending *p)
{
	size_t n = 0;
	const char **names = pano_store_observers(s->store, &n);
	Panorama__GetObserversReply *orp = anew(s, sizeof(*orp));
	char **copy = anew(s, (n ? n : 1) * sizeof(char *));
	if (names && orp && copy) {
		panorama__get_observers_reply__init(orp);
		memcpy(copy, names, n * sizeof(char *));
		orp->observers = copy;
		orp->n_observers = n;
		p->reply.body_case = PANORAMA__REPLY__BODY_OBSERVERS;
		p->reply.observers = orp;
	}
	free(names);
	return 0;
}

/* The two dumps: a map entry per subject, key its name. */
static int read_dump_panorama(pano_server *s, pending *p)
{
	size_t n = 0;
	const pano_subject **subs = pano_store_subjects(s->store, &n);
	Panorama__DumpPanoramaReply *d = anew(s, sizeof(*d));
	Panorama__DumpPanoramaReply__PanoramasEntry *es = anew(s, (n ? n : 1) * sizeof(*es));
	Panorama__DumpPanoramaReply__PanoramasEntry **ptrs = anew(s, (n ? n : 1) * sizeof(*ptrs));
	if (subs && d && es && ptrs) {
		panorama__dump_panorama_reply__init(d);
		for (size_t i = 0; i < n; i++) {
			panorama__dump_panorama_reply__panoramas_entry__init(&es[i]);
			es[i].key = (char *)pano_subject_name(subs[i]);
			es[i].value = wire_panorama(s->cur->arena, subs[i]);
			ptrs[i] = &es[i];
		}
		d->panoramas = ptrs;
		d->n_panoramas = n;
		p->reply.body_case = PANORAMA__REPLY__BODY_DUMP_PANORAMA;
		p->reply.dump_panorama = d;
	}
	free(subs);
	return 0;
}

static int read_dump_inference(pano_server *s, pending *p)
{
	size_t n = 0;
	const pano_subject **subs = pano_store_subjects(s->store, &n);
	Panorama__DumpInferenceReply *d = anew(s, sizeof(*d));
	Panorama__DumpInferenceReply__InferencesEntry *es = anew(s, (n ? n : 1) * sizeof(*es));
	Panorama__DumpInferenceReply__InferencesEntry **ptrs = anew(s, (n ? n : 1) * sizeof(*ptrs));
	if (subs && d && es && ptrs) {
		panorama__dump_inference_reply__init(d);
		for (size_t i = 0; i < n; i++) {
			panorama__dump_inference_reply__inferences_entry__init(&es[i]);
			es[i].key = (char *)pano_subject_name(subs[i]);
			es[i].value = wire_inference(s->cur->arena, subs[i]);
			ptrs[i] = &es[i];
		}
		d->inferences = ptrs;
		d->n_inferences = n;
		p->reply.body_case = PANORAMA__REPLY__BODY_DUMP_INFERENCE;
		p->reply.dump_inference = d;
	}
	free(subs);
	return 0;
}

static int read_ping(pano_server *s, pending *p)
{
	Panorama__PingReply *pr = anew(s, sizeof(*pr));
	if (pr) {
		panorama__ping_reply__init(pr);
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		pr->result = PANORAMA__PING_REPLY__STATUS__GOOD;
		pr->time = wire_ts(s->cur->arena, now.tv_sec, (int32_t)now.tv_nsec);
		p->reply.body_case = PANORAMA__REPLY__BODY_PING;
		p->reply.ping = pr;
	}
	return 0;
}

static int read_peers(pano_server *s, pending *p)
{
	if ((p->reply.peers = peers_reply(s->peers, s->cur->arena)))
		p->reply.body_case = PANORAMA__REPLY__BODY_PEERS;
	return 0;
}

static int read_id(pano_server *s, pending *p)
{
	Panorama__Peer *me = anew(s, sizeof(*me));
	if (me) {
		panorama__peer__init(me);
		me->id = s->cfg.id;
		me->addr = s->cfg.addr;
		p->reply.body_case = PANORAMA__REPLY__BODY_NODE;
		p->reply.node = me;
	}
	return 0;
}

static int handle_observe_request(pano_server *s, pending *p) { return handle_observe(s, p, true); }
static int handle_stop_observing(pano_server *s, pending *p) { return handle_observe(s, p, false); }

/*
 * Every kind of request: whether it writes (it then runs inside the batch's
 * transaction, before the reads, and returns 1 stored, 0 refused with its
 * reply set, -1 when the database failed) and what answers it.  A handler
 * that leaves no reply ran out of the batch's memory.
 */
typedef struct {
	bool writes;
	int (*handle)(pano_server *s, pending *p);
} request_kind;

static const request_kind REQUEST_KINDS[] = {
	[PANORAMA__REQUEST__BODY_REGISTER] = { false, read_register },
	[PANORAMA__REQUEST__BODY_SUBMIT_REPORT] = { true, handle_submit },
	[PANORAMA__REQUEST__BODY_LEARN_REPORT] = { true, handle_learn },
	[PANORAMA__REQUEST__BODY_GET_LATEST_REPORT] = { false, read_latest_report },
	[PANORAMA__REQUEST__BODY_GET_PANORAMA] = { false, read_panorama },
	[PANORAMA__REQUEST__BODY_GET_VIEW] = { false, read_view },
	[PANORAMA__REQUEST__BODY_GET_INFERENCE] = { false, read_inference },
	[PANORAMA__REQUEST__BODY_GET_OBSERVED_SUBJECTS] = { false, read_subjects },
	[PANORAMA__REQUEST__BODY_GET_OBSERVERS] = { false, read_observers },
	[PANORAMA__REQUEST__BODY_DUMP_PANORAMA] = { false, read_dump_panorama },
	[PANORAMA__REQUEST__BODY_DUMP_INFERENCE] = { false, read_dump_inference },
	[PANORAMA__REQUEST__BODY_PING] = { false, read_ping },
	[PANORAMA__REQUEST__BODY_GET_PEERS] = { false, read_peers },
	[PANORAMA__REQUEST__BODY_GET_ID] = { false, read_id },
	[PANORAMA__REQUEST__BODY_OBSERVE] = { true, handle_observe_request },
	[PANORAMA__REQUEST__BODY_STOP_OBSERVING] = { true, handle_stop_observing },
};

/* The kind of a decoded request; NULL for one without a body or of a kind
 * this node does not know. */
static const request_kind *kind_of(const Panorama__Request *q)
{
	size_t c = (size_t)q->body_case;
	return c < sizeof(REQUEST_KINDS) / sizeof(REQUEST_KINDS[0]) && REQUEST_KINDS[c].handle ? &REQUEST_KINDS[c]
	                                                                                         : NULL;
}

/* Phase one of a batch: every write, in one transaction. */
static void apply_writes(pano_server *s)
{
	char err[256];
	bool open = false, failed = false;
	for (size_t i = 0; i < s->cur->n; i++) {
		pending *p = &s->cur->items[i];
		if (!p->req)
			continue;
		const request_kind *k = kind_of(p->req);
		if (!k || !k->writes)
			continue;
		if (!open && !failed && clock_mono_ns() >= s->degraded_until) {
			if (pano_db_begin(s->db, err, sizeof(err)) != 0) {
				pano_log(PANO_LOG_ERROR, "database: %s", err);
				failed = true;
			} else {
				open = true;
				pano_store_begin(s->store);
			}
		}
		if (failed) {
			reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__UNAVAILABLE, "database: %s", err);
			continue;
		}
		if (k->handle(s, p) < 0)
			failed = true;
	}
	int64_t commit_started = clock_mono_ns();
	bool committing = open && !failed;
	if (committing && pano_db_commit(s->db, err, sizeof(err)) != 0) {
		pano_log(PANO_LOG_ERROR, "database commit: %s", err);
		failed = true;
	}
	if (committing)
		histogram_add(s->commit_in, (clock_mono_ns() - commit_started) / 1e9, &s->commit_sum_s);

	if (!failed) {
		pano_store_commit(s->store);
		s->cur->wrote = open;
		return;
	}
	/* Nothing of this batch is durable: refuse every write in it, and make
	 * the store hold again exactly what was acknowledged before: undone
	 * in memory, or (should the database's map of live rows be lost)
	 * reloaded from the file. */
	if (pano_db_rollback(s->db) == 0) {
		pano_store_undo(s->store);
	} else if (load_store(s, err, sizeof(err)) != 0) {
		pano_log(PANO_LOG_ERROR, "reloading after a failed commit: %s", err);
	}
	for (size_t i = 0; i < s->cur->n; i++) {
		pending *p = &s->cur->items[i];
		if (acknowledges_write(p)) {
			reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__UNAVAILABLE,
			            "the node could not store this report (%s); retry later", err);
			p->local_accepted = p->subscribe_change = false;
		}
	}
	s->degraded_until = clock_mono_ns() + DEGRADED_NS;
}

/* Phase two of a batch: every request the writes left unanswered. */
static void answer_reads(pano_server *s)
{
	for (size_t i = 0; i < s->cur->n; i++) {
		pending *p = &s->cur->items[i];
		if (!p->req || p->reply.body_case != PANORAMA__REPLY__BODY__NOT_SET)
			continue;
		const request_kind *k = kind_of(p->req);
		if (k)
			k->handle(s, p);
		else if (p->req->body_case == PANORAMA__REQUEST__BODY__NOT_SET)
			reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__BAD_REQUEST, "request without a body");
		else
			reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__BAD_REQUEST, "unknown request type %d",
			            (int)p->req->body_case);
		if (p->reply.body_case == PANORAMA__REPLY__BODY__NOT_SET)
			reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__UNAVAILABLE, "the node is short of memory; retry");
	}
}

/* --- the loop ----------------------------------------------------------- */

static bool is_peer(const pano_server *s, const char *id)
{
	for (size_t i = 0; i < s->cfg.npeers; i++)
		if (strcmp(s->cfg.peers[i].id, id) == 0)
			return true;
	return false;
}

/* With CURVE: may the sender's key do this?  A key speaks for its own
 * name only: it registers and reports as that observer, and only the node
 * key of a configured peer relays reports, under its own id.  Reads need
 * only a key the node lets in.  false with an error reply set. */
static bool authorized(pano_server *s, pending *p)
{
	const Panorama__Request *q = p->req;
	const pano_cert *who = p->who;
	const char *claimed = NULL, *as = "observer";
	if (!who) { /* the gatekeeper admitted a key the keyring lacks: cannot happen */
		reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__FORBIDDEN, "unauthenticated client");
		return false;
	}
	switch (q->body_case) {
	case PANORAMA__REQUEST__BODY_REGISTER:
		claimed = q->register_ ? q->register_->observer : NULL;
		break;
	case PANORAMA__REQUEST__BODY_SUBMIT_REPORT:
		claimed = q->submit_report && q->submit_report->report ? q->submit_report->report->observer : NULL;
		break;
	case PANORAMA__REQUEST__BODY_LEARN_REPORT:
		if (who->role != PANO_ROLE_NODE) {
			reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__FORBIDDEN,
			            "key of '%.64s' is an observer's, not a node's: it may not relay reports", who->name);
			return false;
		}
		claimed = q->learn_report && q->learn_report->source ? q->learn_report->source->id : NULL;
		as = "node";
		if (claimed && strcmp(claimed, who->name) == 0 && !is_peer(s, who->name)) {
			reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__FORBIDDEN,
			            "node '%.64s' is not one of this node's peers (Peers): it may not relay reports",
			            who->name);
			return false;
		}
		break;
	default:
		return true;
	}
	if (claimed && strcmp(claimed, who->name) == 0)
		return true;
	reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__FORBIDDEN, "key of '%.64s' may not speak as %s '%.64s'",
	            who->name, as, claimed ? claimed : "(none)");
	if (pano_log_due(&s->last_refusal_log))
		pano_log(PANO_LOG_WARN, "refused a request from key '%s': it claimed to be %s '%.64s'", who->name, as,
		         claimed ? claimed : "(none)");
	return false;
}

/* Receives one client message; 1 when p holds it, 0 when none is waiting,
 * -1 when a malformed envelope was read and dropped. */
static int receive_one(pano_server *s, pending *p)
{
	zmq_msg_t frames[3];
	int n = 0, more = 1;
	while (more) {
		zmq_msg_t f;
		zmq_msg_init(&f);
		if (zmq_msg_recv(&f, s->router, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
			zmq_msg_close(&f);
			for (int i = 0; i < n && i < 3; i++)
				zmq_msg_close(&frames[i]);
			return n == 0 ? 0 : -1;
		}
		more = zmq_msg_more(&f);
		if (n < 3)
			frames[n] = f;
		else
			zmq_msg_close(&f);
		n++;
	}
	if (n < 2 || n > 3 || (n == 3 && zmq_msg_size(&frames[1]) != 0)) {
		for (int i = 0; i < n && i < 3; i++)
			zmq_msg_close(&frames[i]);
		return -1;
	}
	memset(p, 0, sizeof(*p));
	p->identity = frames[0];
	p->delimiter = n == 3;
	zmq_msg_t *body = &frames[n - 1];
	if (s->keys) { /* the gatekeeper let it in under its public key */
		const char *key = zmq_msg_gets(body, "User-Id");
		p->who = key ? pano_keyring_find(s->keys, key) : NULL;
	}
	const char *from = zmq_msg_gets(body, "Peer-Address");
	snprintf(p->from, sizeof(p->from), "%s", from ? from : "");
	p->req = panorama__request__unpack(&s->cur->alloc, zmq_msg_size(body), zmq_msg_data(body));
	char why[160];
	bool text_ok = !p->req || wire_strings_valid(&panorama__request__descriptor, zmq_msg_data(body),
	                                             zmq_msg_size(body), why, sizeof(why)) == 0;
	if (n == 3)
		zmq_msg_close(&frames[1]);
	zmq_msg_close(body);
	panorama__reply__init(&p->reply);
	if (p->req)
		p->reply.id = p->req->id;
	if (!text_ok) {
		reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__BAD_REQUEST, "%s", why);
		p->req = NULL; /* answered */
		return 1;
	}
	if (p->req && s->keys && !authorized(s, p))
		p->req = NULL; /* answered: the error reply is set */
	return 1;
}

static void send_reply(pano_server *s, pending *p)
{
	if (p->reply.body_case == PANORAMA__REPLY__BODY__NOT_SET && !p->req)
		reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__BAD_REQUEST, "message is not a Panorama request");
	if (p->reply.body_case == PANORAMA__REPLY__BODY__NOT_SET)
		reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__INTERNAL, "out of memory");
	size_t len = panorama__reply__get_packed_size(&p->reply);
	zmq_msg_t out;
	if (zmq_msg_init_size(&out, len) != 0)
		return;
	panorama__reply__pack(&p->reply, zmq_msg_data(&out));
	/* Replies never block the loop: a client that stopped reading loses
	 * its replies (EAGAIN), one that left is unreachable (EHOSTUNREACH). */
	if (zmq_msg_send(&p->identity, s->router, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&out);
		return;
	}
	if (p->delimiter)
		zmq_send(s->router, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
	if (zmq_msg_send(&out, s->router, ZMQ_DONTWAIT) < 0)
		zmq_msg_close(&out);
	s->served++;
	if (p->req && (unsigned)p->req->body_case < PANO_REQUEST_KINDS)
		s->by_kind[p->req->body_case]++;
}

/* Answers a batch whose writes are on disk, then tells the peers. */
static void finish_batch(pano_server *s, batch *b, bool sync_failed)
{
	if (sync_failed && b->wrote) {
		pano_log(PANO_LOG_ERROR, "fsync of the database's WAL failed; refusing writes for a second");
		s->degraded_until = clock_mono_ns() + DEGRADED_NS;
	}
	batch *saved = s->cur;
	s->cur = b; /* reply builders allocate from the batch being answered */
	for (size_t i = 0; i < b->n; i++) {
		pending *p = &b->items[i];
		if (sync_failed && b->wrote && acknowledges_write(p)) {
			reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__UNAVAILABLE,
			            "the node could not make this report durable; retry later");
			p->local_accepted = p->subscribe_change = false;
		}
		send_reply(s, p);
	}
	for (size_t i = 0; i < b->n; i++) {
		pending *p = &b->items[i];
		if (p->local_accepted) {
			s->accepted++;
			peers_propagate(s->peers, p->req->submit_report->report);
			pano_watch_subject(s->watch, s->store, p->req->submit_report->report->subject);
			if (s->http)
				pano_console_changed(s->console, p->req->submit_report->report->subject);
		} else if (learned(p)) {
			pano_watch_subject(s->watch, s->store, p->req->learn_report->report->subject);
			if (s->http)
				pano_console_changed(s->console, p->req->learn_report->report->subject);
		}
		if (p->subscribe_change) {
			bool watch = p->req->body_case == PANORAMA__REQUEST__BODY_OBSERVE;
			peers_announce(s->peers, watch ? p->req->observe->subject : p->req->stop_observing->subject, watch);
		}
		zmq_msg_close(&p->identity);
	}
	s->cur = saved;
	b->n = 0;
	b->wrote = false;
	arena_reset(b->arena);
}

/* Answers the queued batches the syncer has made durable; with block,
 * first waits until it has made progress (when the queue is full, or at
 * shutdown). */
static void collect_synced(pano_server *s, bool block)
{
	if (s->qlen == 0)
		return;
	if (block) {
		struct pollfd pfd = { s->sync_efd, POLLIN, 0 };
		while (poll(&pfd, 1, -1) < 0 && errno == EINTR)
			;
	}
	uint64_t count;
	if (read(s->sync_efd, &count, sizeof(count)) < 0) {
		/* EAGAIN: read the counters anyway */
	}
	pthread_mutex_lock(&s->sync_mu);
	uint64_t synced = s->synced, failed_upto = s->failed_upto;
	pthread_mutex_unlock(&s->sync_mu);
	while (s->qlen && s->batches[s->qhead].seq <= synced) {
		batch *b = &s->batches[s->qhead];
		finish_batch(s, b, b->seq <= failed_upto);
		s->qhead = (s->qhead + 1) % NBATCHES;
		s->qlen--;
	}
}

/* Compaction (db.h), in a transaction of its own once a batch is answered:
 * the batch that happened to make it due does not wait for it.  Should it
 * fail, nothing acknowledged is lost; the store is reloaded, as after a
 * failed batch, because compaction moves views' rows. */
static void compact_log(pano_server *s)
{
	char err[256];
	if (clock_mono_ns() < s->compact_after || !pano_db_compaction_due(s->db))
		return;
	if (pano_db_begin(s->db, err, sizeof(err)) != 0 || pano_db_compact(s->db, s->store, err, sizeof(err)) != 0 ||
	    pano_db_commit(s->db, err, sizeof(err)) != 0) {
		pano_db_rollback(s->db);
		pano_log(PANO_LOG_WARN, "compaction: %s; reloading, and trying again in 10 s", err);
		if (load_store(s, err, sizeof(err)) != 0)
			pano_log(PANO_LOG_ERROR, "reloading after a failed compaction: %s", err);
		s->compact_after = clock_mono_ns() + COMPACT_RETRY_NS;
	}
}

static void count_batch(pano_server *s, int64_t started_ns)
{
	histogram_add(s->batch_in, (clock_mono_ns() - started_ns) / 1e9, &s->batch_sum_s);
}

static void process_batch(pano_server *s)
{
	int64_t started = clock_mono_ns();
	apply_writes(s);
	answer_reads(s);
	if (!s->cfg.fsync) {
		/* Committed means written to the WAL: safe from kill -9, which
		 * is the durability asked for; answer at once. */
		finish_batch(s, s->cur, false);
		compact_log(s);
		count_batch(s, started);
		return;
	}
	/* Queue it behind the others and let the syncer know. */
	s->cur->seq = ++s->next_seq;
	s->qlen++;
	pthread_mutex_lock(&s->sync_mu);
	s->committed = s->cur->seq;
	if (s->cur->wrote)
		s->last_write = s->cur->seq;
	pthread_cond_signal(&s->sync_cv);
	pthread_mutex_unlock(&s->sync_mu);
	/* The next free batch of the ring; a full ring waits for the disk. */
	while (s->qlen == NBATCHES - 1)
		collect_synced(s, true);
	s->cur = &s->batches[(s->qhead + s->qlen) % NBATCHES];
	compact_log(s);
	count_batch(s, started);
}

typedef struct {
	pano_server *s;
	bool failed;
	char err[256];
} gc_ctx;

static void gc_dropped(void *ctx, int64_t row)
{
	gc_ctx *g = ctx;
	pano_db_forget(g->s->db, row);
}

static void gc_trimmed(void *ctx, int64_t view_row, int64_t oldest_row)
{
	gc_ctx *g = ctx;
	if (!g->failed && pano_db_trim_view(g->s->db, view_row, oldest_row, g->err, sizeof(g->err)) != 0)
		g->failed = true;
}

static void gc_view_gone(void *ctx, int64_t view_row)
{
	gc_ctx *g = ctx;
	if (!g->failed && pano_db_forget_view(g->s->db, view_row, g->err, sizeof(g->err)) != 0)
		g->failed = true;
}

/* Garbage collection of the subjects whose names begin with prefix (NULL:
 * all), dropping what is older than threshold_s (from now, or from its
 * view's newest with relative). */
static void run_gc(pano_server *s, const char *prefix, int64_t threshold_s, bool relative)
{
	gc_ctx g = { s, false, "" };
	if (pano_db_begin(s->db, g.err, sizeof(g.err)) != 0) {
		pano_log(PANO_LOG_WARN, "gc: %s", g.err);
		return;
	}
	pano_gc_hooks hooks = { gc_dropped, gc_trimmed, gc_view_gone, &g };
	size_t dropped = pano_store_gc(s->store, prefix, (int64_t)time(NULL), threshold_s, relative, &hooks);
	if (g.failed || pano_db_commit(s->db, g.err, sizeof(g.err)) != 0) {
		pano_db_rollback(s->db);
		pano_log(PANO_LOG_WARN, "gc: %s; reloading", g.err);
		load_store(s, g.err, sizeof(g.err));
		return;
	}
	if (dropped)
		pano_log(PANO_LOG_INFO, "gc: dropped %zu observations%s%s older than %lld s", dropped,
		         prefix ? " of " : "", prefix ? prefix : "", (long long)threshold_s);
	compact_log(s); /* what it dropped is dead rows now */
}

static void log_memory(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0) {
			line[strcspn(line, "\n")] = '\0';
			pano_log(PANO_LOG_INFO, "memory: %s", line);
		}
	if (f)
		fclose(f);
}

int pano_server_run(pano_server *s)
{
	bool failed = false;
	pano_log(PANO_LOG_INFO, "node %s serving on %s (database %s%s, %zu peers, filter %s)", s->cfg.id,
	         s->cfg.addr, s->cfg.db_file, s->cfg.fsync ? ", fsync before replies" : "",
	         peers_count(s->peers), s->cfg.filter ? "on" : "off");
	if (s->keys)
		pano_log(PANO_LOG_INFO, "CURVE on every socket: %zu public keys let in (from %s)",
		         pano_keyring_count(s->keys), s->cfg.curve_allow);
	else
		pano_log(PANO_LOG_WARN, "no CURVE keys (-key, -allow): requests travel in clear text and anyone "
		         "who reaches %s may report as any observer%s", s->cfg.addr,
		         s->cfg.mesh_open ? "" : "; mesh membership (mesh@GROUP) is refused without keys");
	if (!s->keys && s->cfg.mesh_open)
		pano_log(PANO_LOG_WARN, "-mesh-open: ANYONE who reaches %s may add members to a mesh, and so point "
		         "every agent of the group at an address of their choosing (at most %d members from one "
		         "client address a group); use CURVE keys instead wherever the network is not yours alone",
		         s->cfg.addr, MESHGATE_PER_ADDRESS);
	time_t next_gc = time(NULL) + s->cfg.gc_frequency_s;
	time_t next_mesh_gc = time(NULL) + MESH_GC_EVERY_S;
	time_t next_mem = time(NULL) + MEM_DUMP_EVERY_S;
	while (!s->stopping) {
		size_t npeers = peers_count(s->peers);
		zmq_pollitem_t items[5 + PEERS_MAX];
		items[0] = (zmq_pollitem_t){ s->router, 0, ZMQ_POLLIN, 0 };
		items[1] = (zmq_pollitem_t){ NULL, s->sigfd, ZMQ_POLLIN, 0 };
		items[2] = (zmq_pollitem_t){ NULL, s->sync_efd, ZMQ_POLLIN, 0 };
		peers_pollitems(s->peers, items + 3);
		/* the watch socket last: absent, it is simply not polled */
		pano_watch_tick(s->watch);
		void *wsock = s->watch ? pano_watch_socket(s->watch) : NULL;
		/* then the HTTP face's jobs (an fd of -1 is never ready) */
		items[3 + npeers] = (zmq_pollitem_t){ NULL, s->http ? pano_http_fd(s->http) : -1, ZMQ_POLLIN, 0 };
		items[4 + npeers] = (zmq_pollitem_t){ wsock, -1, ZMQ_POLLIN, 0 };
		int due = s->http ? pano_console_due_ms(s->console) : -1;
		long wait_ms = due >= 0 && due < 1000 ? due : 1000;
		if (zmq_poll(items, (int)(4 + npeers + (wsock != NULL)), wait_ms) < 0 && errno != EINTR) {
			pano_log(PANO_LOG_ERROR, "node %s: zmq_poll: %s", s->cfg.id, zmq_strerror(errno));
			failed = true;
			break;
		}
		if (wsock && items[4 + npeers].revents)
			pano_watch_read(s->watch);
		if (s->http && items[3 + npeers].revents)
			pano_http_run_jobs(s->http);
		if (items[2].revents)
			collect_synced(s, false);
		if (items[1].revents) {
			struct signalfd_siginfo si;
			while (read(s->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo == SIGHUP)
					pano_log_reopen();
				else
					s->stopping = true;
			}
		}
		peers_read_replies(s->peers, items + 3);
		peers_tick(s->peers);
		int rc;
		while (s->cur->n < PANO_BATCH_MAX && arena_used(s->cur->arena) < BATCH_ARENA_MAX &&
		       (rc = receive_one(s, &s->cur->items[s->cur->n])) != 0)
			if (rc > 0)
				s->cur->n++;
		if (s->cur->n)
			process_batch(s);
		if (s->http)
			pano_console_flush(s->console, s->http);
		time_t now = time(NULL);
		if (s->cfg.gc_enable && now >= next_gc) {
			run_gc(s, NULL, s->cfg.gc_threshold_s, s->cfg.gc_relative);
			next_gc = now + s->cfg.gc_frequency_s;
		}
		if (now >= next_mesh_gc) { /* members gone quiet free their places */
			run_gc(s, MESHGATE_PREFIX, MESHGATE_EXPIRE_S, false);
			next_mesh_gc = now + MESH_GC_EVERY_S;
		}
		if (s->cfg.dump_mem && now >= next_mem) {
			log_memory();
			next_mem = now + MEM_DUMP_EVERY_S;
		}
	}
	while (s->qlen) /* answer what is in flight before leaving */
		collect_synced(s, true);
	pano_log(PANO_LOG_INFO, "node %s stopping: %llu requests served, %llu reports accepted",
	         s->cfg.id, s->served, s->accepted);
	return failed ? -1 : 0;
}
