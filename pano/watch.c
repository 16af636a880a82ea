/* watch.c - publishing inference changes; see watch.h. */
#include "watch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "arena.h"
#include "curve.h"
#include "endpoint.h"
#include "log.h"
#include "strmap.h"
#include "wire.h"

/* Past this many subjects remembered, the memory starts over (the next
 * report of each is published again: harmless). */
#define WATCH_REMEMBER_MAX 200000

struct pano_watch {
	void *sock;
	long topics;       /* distinct subscriptions the XPUB socket reported */
	strmap *last;      /* subject -> signature of the inference last published */
	arena *arena;
};

int pano_watch_default_addr(const char *addr, char *out, size_t outlen)
{
	const char *colon = strrchr(addr, ':');
	char *end;
	long port = colon ? strtol(colon + 1, &end, 10) : 0;
	if (!colon || colon == addr || *end || port < 1 || port >= 65535)
		return -1;
	int n = snprintf(out, outlen, "%.*s:%ld", (int)(colon - addr), addr, port + 1);
	return n > 0 && (size_t)n < outlen ? 0 : -1;
}

pano_watch *pano_watch_new(void *zctx, const char *addr, const pano_cert *curve, char *err, size_t errlen)
{
	char endpoint[512];
	if (pano_endpoint(addr, endpoint, sizeof(endpoint)) != 0) {
		snprintf(err, errlen, "watch address '%.200s' is not host:port", addr);
		return NULL;
	}
	pano_watch *w = calloc(1, sizeof(*w));
	if (!w || !(w->last = strmap_new()) || !(w->arena = arena_new())) {
		snprintf(err, errlen, "out of memory");
		pano_watch_free(w);
		return NULL;
	}
	w->sock = zmq_socket(zctx, ZMQ_XPUB);
	int hwm = 10000, linger = 0;
	if (w->sock) {
		zmq_setsockopt(w->sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
		zmq_setsockopt(w->sock, ZMQ_LINGER, &linger, sizeof(linger));
	}
	if (w->sock && curve && pano_curve_server_apply(w->sock, curve, err, errlen) != 0) {
		pano_watch_free(w);
		return NULL;
	}
	if (!w->sock || zmq_bind(w->sock, endpoint) != 0) {
		snprintf(err, errlen, "cannot serve the watch stream on %.200s: %s", addr, zmq_strerror(errno));
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

void pano_watch_read(pano_watch *w)
{
	zmq_msg_t m;
	zmq_msg_init(&m);
	while (zmq_msg_recv(&m, w->sock, ZMQ_DONTWAIT) >= 0) {
		const unsigned char *d = zmq_msg_data(&m);
		if (zmq_msg_size(&m) > 0 && d[0] == 1)
			w->topics++;
		else if (zmq_msg_size(&m) > 0 && d[0] == 0 && w->topics > 0)
			w->topics--;
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
	if (!w || w->topics == 0 || !subject)
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
