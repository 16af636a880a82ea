/* server.c - a Panorama node's request loop; see server.h. */
#include "pano/node/server_internal.h"

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
	                        s->watch ? pano_watch_resets(s->watch) : 0, NULL, 0, 0, 0, 0 };
	f.blames = judge_blames(s->judge, &f.nblames);
	if (s->notify)
		notify_figures(s->notify, &f.notify_queued, &f.notify_sent, &f.notify_dropped);
	return f;
}

/* The HTTP face: the console reads the store on the loop, through the
 * pointer to it (a reload replaces the store). */
/* The peers' names and addresses as the console shows them (figures). */
static int list_peers(pano_server *s)
{
	size_t npeers = peers_count(s->peers);
	const char **ids = calloc(npeers + 1, sizeof(*ids)), **addrs = calloc(npeers + 1, sizeof(*addrs));
	bool *up = calloc(npeers + 1, sizeof(*up));
	if (!ids || !addrs || !up) {
		free(ids);
		free(addrs);
		free(up);
		return -1;
	}
	for (size_t i = 0; i < npeers; i++) {
		ids[i] = peers_id(s->peers, i);
		addrs[i] = peers_addr(s->peers, i);
	}
	free(s->peer_ids);
	free(s->peer_addrs);
	free(s->peer_up);
	s->peer_ids = ids;
	s->peer_addrs = addrs;
	s->peer_up = up;
	return 0;
}

static int reload_from_console(void *ctx, char *err, size_t errlen) { return server_reload(ctx, err, errlen); }

static int start_http(pano_server *s, char *err, size_t errlen)
{
	if (list_peers(s) != 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->console = pano_console_new(s->cfg.id, (const pano_store *const *)&s->store, figures, s);
	if (!s->console) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	pano_console_set_history(s->console, s->history);
	pano_console_set_reload(s->console, reload_from_console, s);
	s->http = pano_http_new(s->cfg.http_addr, s->cfg.http_token, pano_console_render, s->console, err, errlen);
	if (!s->http)
		return -1;
	pano_console_flush(s->console, s->http); /* nothing to post yet: it learns where to */
	pano_log(PANO_LOG_INFO, "node %s: console on http://%s/", s->cfg.id, s->cfg.http_addr);
	return 0;
}

static bool same_peers(const pano_config *a, const pano_config *b)
{
	if (a->npeers != b->npeers)
		return false;
	for (size_t i = 0; i < a->npeers; i++)
		if (strcmp(a->peers[i].id, b->peers[i].id) != 0 || strcmp(a->peers[i].addr, b->peers[i].addr) != 0)
			return false;
	return true;
}

static void config_free(pano_config *c)
{
	if (c) {
		pano_config_clear(c);
		free(c);
	}
}

int server_reload(pano_server *s, char *err, size_t errlen)
{
	if (!s->cfg.config_path) {
		snprintf(err, errlen, "no -config file to read again");
		return -1;
	}
	const char *path = s->cfg.config_path;
	char why[256];
	pano_config *next = calloc(1, sizeof(*next));
	if (!next) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	pano_config_defaults(next);
	if (pano_config_load(next, path, err, errlen) != 0 || pano_config_check_names(next, path, err, errlen) != 0 ||
	    (s->keys && peers_check_keys(next, s->keys, err, errlen) != 0)) {
		config_free(next);
		return -1;
	}
	if ((s->cfg.flag_command && pano_config_add_target(next, s->cfg.flag_command, false, why, sizeof(why))) ||
	    (s->cfg.flag_webhook && pano_config_add_target(next, s->cfg.flag_webhook, true, why, sizeof(why)))) {
		snprintf(err, errlen, "%s", why);
		config_free(next);
		return -1;
	}
	/* what may still fail first, so that a failure changes nothing */
	peers *fresh = NULL;
	if (!same_peers(&s->cfg, next) &&
	    !(fresh = peers_new(s->zctx, next, s->keys ? &s->self : NULL, s->keys, err, errlen))) {
		config_free(next);
		return -1;
	}
	if (notify_set_targets(s->notify, next->notify_commands, next->nnotify_commands, next->notify_webhooks,
	                       next->nnotify_webhooks, err, errlen) != 0) {
		peers_free(fresh);
		config_free(next);
		return -1;
	}
	size_t added = 0, kept_out = 0;
	for (size_t i = 0; i < next->nsubjects; i++) {
		bool listed = false;
		for (size_t k = 0; k < s->cfg.nsubjects && !listed; k++)
			listed = strcmp(s->cfg.subjects[k], next->subjects[i]) == 0;
		added += !listed && pano_store_watch(s->store, next->subjects[i]) == 0;
	}
	for (size_t i = 0; i < s->cfg.nsubjects; i++) {
		bool still = false;
		for (size_t k = 0; k < next->nsubjects && !still; k++)
			still = strcmp(s->cfg.subjects[i], next->subjects[k]) == 0;
		kept_out += !still;
	}
	if (fresh) { /* the peers borrow their names from the config they came from */
		peers_free(s->peers);
		s->peers = fresh;
		s->cfg.peers = next->peers;
		s->cfg.npeers = next->npeers;
		if (s->http && list_peers(s) != 0)
			pano_log(PANO_LOG_WARN, "reload: out of memory listing the peers for the console");
		if (s->peers_cfg != s->latest_cfg)
			config_free(s->peers_cfg);
		s->peers_cfg = next;
	}
	s->cfg.subjects = next->subjects;
	s->cfg.nsubjects = next->nsubjects;
	s->cfg.notify_commands = next->notify_commands;
	s->cfg.nnotify_commands = next->nnotify_commands;
	s->cfg.notify_webhooks = next->notify_webhooks;
	s->cfg.nnotify_webhooks = next->nnotify_webhooks;
	if (s->latest_cfg != s->peers_cfg)
		config_free(s->latest_cfg);
	s->latest_cfg = next;
	pano_log(PANO_LOG_INFO, "reloaded %s: %zu peers%s, %zu subjects (%zu new%s), %zu notification targets", path,
	         s->cfg.npeers, fresh ? " (reconnected)" : "", s->cfg.nsubjects, added,
	         kept_out ? "; one no longer listed is watched until a restart" : "",
	         s->cfg.nnotify_commands + s->cfg.nnotify_webhooks);
	return 0;
}

/* One duration into a histogram of PANO_BATCH_BOUNDS_S buckets. */
void server_histogram_add(unsigned long long *in, double d, double *sum)
{
	size_t b = 0;
	while (b < PANO_BATCH_BUCKETS && d > PANO_BATCH_BOUNDS_S[b])
		b++;
	in[b]++;
	*sum += d;
}

/* A fresh store holding exactly what the database holds. */
int server_load_store(pano_server *s, char *err, size_t errlen)
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
	char why[256];
	if (s->history && history_restore(s->history, st, why, sizeof(why)) != 0)
		pano_log(PANO_LOG_WARN, "%s (the console shows scores until the next reports)", why);
	pano_log(PANO_LOG_INFO, "loaded %zu observations of %zu subjects from %s (%lld log rows)", count,
	         pano_store_subject_count(st), s->cfg.db_file, (long long)pano_db_log_rows(s->db));
	return 0;
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
	if (!arenas || !s->db || !(s->history = history_new(pano_db_sqlite(s->db), cfg->db_file, err, errlen)) ||
	    server_load_store(s, err, errlen) != 0)
		goto failed;
	char **peer_addrs = calloc(cfg->npeers + 1, sizeof(*peer_addrs));
	for (size_t i = 0; peer_addrs && i < cfg->npeers; i++)
		peer_addrs[i] = cfg->peers[i].addr;
	meshgate_config mc = { cfg->curve_key != NULL, cfg->mesh_open, peer_addrs, cfg->npeers };
	s->meshgate = peer_addrs ? meshgate_new(&mc) : NULL;
	free(peer_addrs);
	s->judge = judge_new(cfg->stale_after);
	if (!s->meshgate || !s->judge) {
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
	bool http_on = cfg->http_addr && strcmp(cfg->http_addr, "off") != 0;
	if (http_on && start_http(s, err, errlen) != 0)
		goto failed;
	char url[320] = "";
	if (http_on)
		snprintf(url, sizeof(url), "http://%.300s/", cfg->http_addr);
	if (!(s->notify = notify_new(pano_db_sqlite(s->db), cfg->id, url, err, errlen)) ||
	    notify_set_targets(s->notify, cfg->notify_commands, cfg->nnotify_commands, cfg->notify_webhooks,
	                       cfg->nnotify_webhooks, err, errlen) != 0)
		goto failed;
	if (cfg->nnotify_commands + cfg->nnotify_webhooks)
		pano_log(PANO_LOG_INFO, "notifications to %zu command(s) and %zu webhook(s)", cfg->nnotify_commands,
		         cfg->nnotify_webhooks);
	s->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (s->sigfd < 0) {
		snprintf(err, errlen, "signalfd: %s", strerror(errno));
		goto failed;
	}
	if (commit_start(s, err, errlen) != 0)
		goto failed;
	return s;
failed:
	pano_server_free(s);
	return NULL;
}

void pano_server_free(pano_server *s)
{
	if (!s)
		return;
	commit_stop(s);
	pano_http_free(s->http); /* its threads first: they wait on the loop */
	pano_console_free(s->console);
	free(s->peer_ids);
	free(s->peer_addrs);
	free(s->peer_up);
	peers_free(s->peers);
	if (s->peers_cfg != s->latest_cfg)
		config_free(s->peers_cfg);
	config_free(s->latest_cfg);
	pano_watch_free(s->watch);
	if (s->router)
		zmq_close(s->router);
	pano_zap_stop(s->zap);
	if (s->zctx)
		zmq_ctx_term(s->zctx);
	pano_keyring_free(s->keys);
	explicit_bzero(&s->self, sizeof(s->self)); /* the secret key: a memset before free may be dropped */
	notify_free(s->notify); /* its threads, then its statements, before the connection */
	history_free(s->history);
	pano_db_close(s->db);
	pano_store_free(s->store);
	meshgate_free(s->meshgate);
	judge_free(s->judge);
	for (int i = 0; i < NBATCHES; i++)
		arena_free(s->batches[i].arena);
	if (s->sigfd >= 0)
		close(s->sigfd);
	free(s);
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

void server_send_reply(pano_server *s, pending *p)
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
		server_load_store(s, g.err, sizeof(g.err));
		return;
	}
	if (dropped)
		pano_log(PANO_LOG_INFO, "gc: dropped %zu observations%s%s older than %lld s", dropped,
		         prefix ? " of " : "", prefix ? prefix : "", (long long)threshold_s);
	commit_compact(s); /* what it dropped is dead rows now */
}

/* A pass of the judge (judge.h), once a second, or less often when a pass
 * takes more than a twentieth of that (a very large store): what it
 * changes reaches the watch stream and the console. */
static void run_judge(pano_server *s)
{
	int64_t started = clock_mono_ns();
	int changed = judge_pass(s->judge, s->store, time(NULL));
	int64_t took = clock_mono_ns() - started;
	int64_t every = 20 * took > INT64_C(1000000000) ? 20 * took : INT64_C(1000000000);
	s->next_judge_ns = started + every;
	size_t n;
	const char *const *touched = judge_touched(s->judge, &n);
	for (size_t i = 0; i < n; i++) {
		pano_watch_subject(s->watch, s->store, touched[i]);
		notify_changed(s->notify, touched[i]);
		if (s->http)
			pano_console_changed(s->console, touched[i]);
	}
	size_t nblames;
	const judge_blame *blames = judge_blames(s->judge, &nblames);
	notify_tick(s->notify, s->store, blames, nblames, time(NULL));
	if (changed > 0) {
		size_t nb;
		const judge_blame *b = judge_blames(s->judge, &nb);
		pano_watch_blames(s->watch, b, nb);
		size_t fresh = 0;
		for (size_t i = 0; i < nb; i++)
			if (b[i].since_sec >= time(NULL) - 2 && fresh++ < 10) /* ten lines a pass at most */
				pano_log(PANO_LOG_INFO, "blame: %s %s%s%s (%u of %u views bad)", blame_kind_name(b[i].kind),
				         b[i].nhosts ? b[i].hosts[0] : "", b[i].nhosts > 1 ? " ..." : "", b[i].group, b[i].bad,
				         b[i].views);
		if (fresh > 10)
			pano_log(PANO_LOG_INFO, "blame: and %zu more (hview-client dump blame)", fresh - 10);
	}
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
			commit_collect(s, false);
		if (items[1].revents) {
			struct signalfd_siginfo si;
			while (read(s->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo == SIGHUP) {
					pano_log_reopen();
					char why[512];
					if (s->cfg.config_path && server_reload(s, why, sizeof(why)) != 0)
						pano_log(PANO_LOG_WARN, "reload: %s; the running configuration stays", why);
				}
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
			commit_process_batch(s);
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
		if (clock_mono_ns() >= s->next_judge_ns)
			run_judge(s);
		if (now >= s->next_prune_s) {
			char why[256];
			if (history_prune(s->history, now, why, sizeof(why)) != 0)
				pano_log(PANO_LOG_WARN, "%s", why);
			s->next_prune_s = now + 3600;
		}
		if (s->cfg.dump_mem && now >= next_mem) {
			log_memory();
			next_mem = now + MEM_DUMP_EVERY_S;
		}
	}
	while (s->qlen) /* answer what is in flight before leaving */
		commit_collect(s, true);
	pano_log(PANO_LOG_INFO, "node %s stopping: %llu requests served, %llu reports accepted",
	         s->cfg.id, s->served, s->accepted);
	return failed ? -1 : 0;
}
