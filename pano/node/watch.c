/* watch.c - publishing inference changes; see watch.h. */
#include "pano/node/watch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "pano/common/arena.h"
#include "pano/common/curve.h"
#include "pano/common/endpoint.h"
#include "pano/common/log.h"
#include "pano/common/strmap.h"
#include "pano/node/wire.h"

/* Past this many subjects remembered, the memory starts over (the next
 * report of each is published again: harmless). */
#define WATCH_REMEMBER_MAX 200000

struct pano_watch {
	void *zctx;
	void *sock;        /* NULL between a reset and the next successful bind */
	char endpoint[512];
	char addr[256];
	pano_cert curve;
	bool has_curve;
	long topics;       /* distinct subscriptions the XPUB socket reported */
	long resets;
	time_t last_reset_log;
	strmap *last;      /* subject -> signature of the inference last published */
	arena *arena;
};

/* libzmq keeps every distinct subscription of every subscriber in a trie
 * of one node per byte, whoever sent it, CURVE or not; so a subscription
 * is at most a name long (a longer message drops the connection), a
 * subscriber's backlog of them is short, and past PANO_WATCH_TOPICS_MAX
 * distinct ones the socket is closed and bound afresh, which frees them
 * all.  Real watchers (SUB sockets) reconnect and subscribe again on
 * their own within ZeroMQ's reconnect interval. */
static int open_socket(pano_watch *w, char *err, size_t errlen)
{
	void *sock = zmq_socket(w->zctx, ZMQ_XPUB);
	if (!sock) {
		snprintf(err, errlen, "cannot make the watch socket: %s", zmq_strerror(errno));
		return -1;
	}
	int hwm = 10000, rcvhwm = PANO_WATCH_BACKLOG_MAX, linger = 0;
	/* the frame bound applies to CURVE's handshake commands too (about
	 * 300 bytes), so it is looser than a subscription's; a longer
	 * subscription is caught when read */
	int64_t maxmsg = PANO_WATCH_FRAME_MAX;
	if (zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof(hwm)) != 0 ||
	    zmq_setsockopt(sock, ZMQ_RCVHWM, &rcvhwm, sizeof(rcvhwm)) != 0 ||
	    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
	    zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) != 0) {
		snprintf(err, errlen, "cannot set up the watch socket: %s", zmq_strerror(errno));
		zmq_close(sock);
		return -1;
	}
	if (w->has_curve && pano_curve_server_apply(sock, &w->curve, err, errlen) != 0) {
		zmq_close(sock);
		return -1;
	}
	if (pano_endpoint_prepare(sock, w->endpoint) != 0 || zmq_bind(sock, w->endpoint) != 0) {
		snprintf(err, errlen, "cannot serve the watch stream on %.200s: %s", w->addr, zmq_strerror(errno));
		zmq_close(sock);
		return -1;
	}
	w->sock = sock;
	w->topics = 0;
	return 0;
}

pano_watch *pano_watch_new(void *zctx, const char *addr, const pano_cert *curve, char *err, size_t errlen)
{
	pano_watch *w = calloc(1, sizeof(*w));
	if (!w || !(w->last = strmap_new()) || !(w->arena = arena_new())) {
		snprintf(err, errlen, "out of memory");
		pano_watch_free(w);
		return NULL;
	}
	if (pano_endpoint(addr, w->endpoint, sizeof(w->endpoint)) != 0 ||
	    snprintf(w->addr, sizeof(w->addr), "%s", addr) >= (int)sizeof(w->addr)) {
		snprintf(err, errlen, "watch address '%.200s' is not host:port", addr);
		pano_watch_free(w);
		return NULL;
	}
	w->zctx = zctx;
	if (curve) {
		w->curve = *curve;
		w->has_curve = true;
	}
	if (open_socket(w, err, errlen) != 0) {
		pano_watch_free(w);
		return NULL;
	}
	return w;
}

static void forget_all(pano_watch *w)
{
	size_t i = 0;
	const char *key;
	void *value;
	while (strmap_next(w->last, &i, &key, &value))
		free(value);
	strmap_free(w->last);
	w->last = strmap_new();
}

void pano_watch_free(pano_watch *w)
{
	if (!w)
		return;
	if (w->sock)
		zmq_close(w->sock);
	if (w->last) {
		forget_all(w);
		strmap_free(w->last);
	}
	arena_free(w->arena);
	free(w);
}

void *pano_watch_socket(pano_watch *w) { return w->sock; }

long pano_watch_resets(const pano_watch *w) { return w->resets; }

static void reset(pano_watch *w)
{
	zmq_close(w->sock);
	w->sock = NULL;
	w->topics = 0;
	w->resets++;
	if (pano_log_due(&w->last_reset_log))
		pano_log(PANO_LOG_WARN, "watch: more than %d distinct subscriptions, or one over %d bytes; "
		         "dropped every watcher (%ld times so far)", PANO_WATCH_TOPICS_MAX,
		         PANO_WATCH_TOPIC_LEN_MAX, w->resets);
	pano_watch_tick(w);
}

void pano_watch_tick(pano_watch *w)
{
	if (!w || w->sock)
		return;
	/* The old listener goes away in ZeroMQ's I/O thread; until it has,
	 * the port is taken and the next tick tries again. */
	char err[256];
	if (open_socket(w, err, sizeof(err)) != 0 && errno != EADDRINUSE)
		pano_log(PANO_LOG_ERROR, "watch: %s", err);
}

void pano_watch_read(pano_watch *w)
{
	if (!w->sock)
		return;
	zmq_msg_t m;
	zmq_msg_init(&m);
	while (zmq_msg_recv(&m, w->sock, ZMQ_DONTWAIT) >= 0) {
		const unsigned char *d = zmq_msg_data(&m);
		bool too_long = zmq_msg_size(&m) > 1 + PANO_WATCH_TOPIC_LEN_MAX;
		if (zmq_msg_size(&m) > 0 && d[0] == 1)
			w->topics += too_long ? PANO_WATCH_TOPICS_MAX + 1 : 1;
		else if (zmq_msg_size(&m) > 0 && d[0] == 0 && w->topics > 0)
			w->topics--;
		if (w->topics > PANO_WATCH_TOPICS_MAX) {
			zmq_msg_close(&m);
			reset(w);
			return;
		}
	}
	zmq_msg_close(&m);
	if (w->topics == 0 && strmap_count(w->last) > 0)
		forget_all(w); /* no one listens: the next one starts afresh */
}

/* What a watcher sees change: each metric's name, status and score. */
static char *signature(const pano_inference *inf)
{
	size_t cap = 16 + (inf->has_obs ? inf->obs.n : 0) * 96, len = 0;
	char *s = malloc(cap);
	if (!s)
		return NULL;
	s[0] = '\0';
	for (size_t i = 0; inf->has_obs && i < inf->obs.n; i++) {
		const pano_metric *m = &inf->obs.metrics[i];
		int n = snprintf(s + len, cap - len, "%.64s:%d:%.9g;", m->name, m->status, (double)m->score);
		if (n < 0 || (size_t)n >= cap - len)
			break;
		len += (size_t)n;
	}
	return s;
}

void pano_watch_subject(pano_watch *w, const pano_store *store, const char *subject)
{
	if (!w || !w->sock || w->topics == 0 || !subject)
		return;
	const pano_subject *sub = pano_store_subject(store, subject);
	if (!sub)
		return;
	const char *name = pano_subject_name(sub);
	char *sig = signature(pano_subject_inference(sub));
	if (!sig)
		return;
	char *prev = strmap_get(w->last, name);
	if (prev && strcmp(prev, sig) == 0) {
		free(sig);
		return;
	}
	if (!prev && strmap_count(w->last) >= WATCH_REMEMBER_MAX)
		forget_all(w);
	if (strmap_put(w->last, name, sig) != 0) {
		free(sig);
		return;
	}
	free(prev);
	Panorama__Inference *inf = wire_inference(w->arena, sub);
	size_t len = inf ? panorama__inference__get_packed_size(inf) : 0;
	uint8_t *buf = len ? arena_alloc(w->arena, len) : NULL;
	if (buf) {
		panorama__inference__pack(inf, buf);
		/* a subscriber that cannot keep up loses messages: never block */
		if (zmq_send(w->sock, name, strlen(name), ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0)
			zmq_send(w->sock, buf, len, ZMQ_DONTWAIT);
	}
	arena_reset(w->arena);
}

void pano_watch_blames(pano_watch *w, const judge_blame *b, size_t n)
{
	if (!w || !w->sock || w->topics == 0)
		return;
	Panorama__GetBlameReply *r = wire_blames(w->arena, b, n);
	size_t len = r ? panorama__get_blame_reply__get_packed_size(r) : 0;
	uint8_t *buf = r ? arena_alloc(w->arena, len ? len : 1) : NULL;
	if (buf) {
		panorama__get_blame_reply__pack(r, buf);
		if (zmq_send(w->sock, PANO_WATCH_BLAME_TOPIC, strlen(PANO_WATCH_BLAME_TOPIC), ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0)
			zmq_send(w->sock, buf, len, ZMQ_DONTWAIT);
	}
	arena_reset(w->arena);
}
