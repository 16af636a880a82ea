/* zap.c - the ZAP handler thread; see zap.h. */
#include "pano/node/zap.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "pano/common/log.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_FRAMES_MAX 8
#define REFUSAL_LOG_EVERY_S 10

struct pano_zap {
	void *sock;
	const pano_keyring *keys;
	pthread_t thread;
	atomic_bool stop;
	time_t last_log;
	unsigned long refused_unlogged;
};

static void send_reply(pano_zap *z, const zmq_msg_t *request_id, const char *status, const char *text,
                       const char *user)
{
	zmq_send(z->sock, "1.0", 3, ZMQ_SNDMORE);
	zmq_send(z->sock, zmq_msg_data((zmq_msg_t *)request_id), zmq_msg_size((zmq_msg_t *)request_id),
	         ZMQ_SNDMORE);
	zmq_send(z->sock, status, strlen(status), ZMQ_SNDMORE);
	zmq_send(z->sock, text, strlen(text), ZMQ_SNDMORE);
	zmq_send(z->sock, user, strlen(user), ZMQ_SNDMORE);
	zmq_send(z->sock, "", 0, 0); /* no metadata */
}

static void log_refusal(pano_zap *z, const zmq_msg_t *address, const char *why)
{
	time_t now = time(NULL);
	z->refused_unlogged++;
	if (now - z->last_log < REFUSAL_LOG_EVERY_S)
		return;
	pano_log(PANO_LOG_WARN, "refused a connection from %.*s: %s (%lu refused since the last such line)",
	         (int)zmq_msg_size((zmq_msg_t *)address), (const char *)zmq_msg_data((zmq_msg_t *)address),
	         why, z->refused_unlogged);
	z->last_log = now;
	z->refused_unlogged = 0;
}

/* Answers one request: frames are version, request id, domain, address,
 * routing id, mechanism, credentials. */
static void answer(pano_zap *z, zmq_msg_t *f, int n)
{
	if (n < 6) { /* only libzmq itself can reach this socket; answer anyway, REP must */
		zmq_msg_t empty;
		zmq_msg_init(&empty);
		send_reply(z, n >= 2 ? &f[1] : &empty, "500", "malformed ZAP request", "");
		zmq_msg_close(&empty);
		return;
	}
	bool v1 = zmq_msg_size(&f[0]) == 3 && memcmp(zmq_msg_data(&f[0]), "1.0", 3) == 0;
	bool curve = zmq_msg_size(&f[5]) == 5 && memcmp(zmq_msg_data(&f[5]), "CURVE", 5) == 0;
	if (!v1 || !curve || n != 7 || zmq_msg_size(&f[6]) != 32) {
		log_refusal(z, &f[3], "not a CURVE client");
		send_reply(z, &f[1], "400", "CURVE only", "");
		return;
	}
	char key[PANO_KEY_LEN + 1];
	zmq_z85_encode(key, zmq_msg_data(&f[6]), 32);
	const pano_cert *c = pano_keyring_find(z->keys, key);
	if (!c) {
		char why[96];
		snprintf(why, sizeof(why), "public key %s is not in the allow list", key);
		log_refusal(z, &f[3], why);
		send_reply(z, &f[1], "400", "unknown key", "");
		return;
	}
	send_reply(z, &f[1], "200", "OK", key);
}

static void *zap_main(void *arg)
{
	pano_zap *z = arg;
	while (!atomic_load(&z->stop)) {
		zmq_pollitem_t item = { z->sock, 0, ZMQ_POLLIN, 0 };
		if (zmq_poll(&item, 1, 100) <= 0)
			continue;
		zmq_msg_t f[ZAP_FRAMES_MAX];
		int n = 0, more = 1;
		while (more) {
			zmq_msg_t m;
			zmq_msg_init(&m);
			if (zmq_msg_recv(&m, z->sock, 0) < 0) {
				zmq_msg_close(&m);
				break;
			}
			more = zmq_msg_more(&m);
			if (n < ZAP_FRAMES_MAX)
				f[n++] = m;
			else
				zmq_msg_close(&m);
		}
		answer(z, f, n);
		for (int i = 0; i < n; i++)
			zmq_msg_close(&f[i]);
	}
	return NULL;
}

pano_zap *pano_zap_start(void *zctx, const pano_keyring *k, char *err, size_t errlen)
{
	pano_zap *z = calloc(1, sizeof(*z));
	if (!z) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	z->keys = k;
	atomic_init(&z->stop, false);
	int linger = 0;
	z->sock = zmq_socket(zctx, ZMQ_REP);
	if (!z->sock || zmq_setsockopt(z->sock, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
	    zmq_bind(z->sock, ZAP_ENDPOINT) != 0) {
		snprintf(err, errlen, "cannot start the CURVE gatekeeper (ZAP): %s", zmq_strerror(errno));
		if (z->sock)
			zmq_close(z->sock);
		free(z);
		return NULL;
	}
	if (pthread_create(&z->thread, NULL, zap_main, z) != 0) {
		snprintf(err, errlen, "cannot start the CURVE gatekeeper thread");
		zmq_close(z->sock);
		free(z);
		return NULL;
	}
	return z;
}

void pano_zap_stop(pano_zap *z)
{
	if (!z)
		return;
	atomic_store(&z->stop, true);
	pthread_join(z->thread, NULL);
	zmq_close(z->sock);
	free(z);
}
