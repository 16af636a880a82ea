/* pano_hostile.c - what an adversary without a key can send to a node's
 * sockets, for tests/integration/hardening.sh.
 *   pano-hostile subscribe HOST:PORT COUNT BYTES
 *       a raw XSUB peer sends COUNT distinct subscriptions of BYTES bytes
 *       each to the watch socket at HOST:PORT, then stays connected for 2 s
 *   pano-hostile subscribe-raw HOST:PORT BYTES
 *       the same for one subscription of BYTES bytes, spoken in raw ZMTP 3.0
 *       (a libzmq XSUB keeps its own subscriptions in a trie that a huge
 *       one overflows the stack of)
 *   pano-hostile fake-node HOST:PORT
 *       a "node" that answers every request with an error whose message
 *       holds terminal escape sequences and bytes that are not UTF-8, for
 *       10 s or until it has answered 5 requests
 * Only ever talks to the address it is given (the tests give it a loopback
 * one).  Exit 0 when everything was handed to ZeroMQ. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "pano/common/endpoint.h"
#include "panorama.pb-c.h"

static int subscribe_flood(const char *addr, long count, long bytes)
{
	char endpoint[512];
	if (pano_endpoint(addr, endpoint, sizeof(endpoint)) != 0) {
		fprintf(stderr, "pano-hostile: '%s' is not host:port\n", addr);
		return 2;
	}
	void *ctx = zmq_ctx_new();
	void *s = zmq_socket(ctx, ZMQ_XSUB);
	int linger = 0, hwm = 0;
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	if (zmq_connect(s, endpoint) != 0) {
		fprintf(stderr, "pano-hostile: connect: %s\n", zmq_strerror(zmq_errno()));
		return 1;
	}
	char *msg = malloc((size_t)bytes + 1);
	if (!msg)
		return 1;
	msg[0] = 1; /* subscribe */
	for (long i = 0; i < count; i++) {
		memset(msg + 1, 'a' + (int)(i % 26), (size_t)bytes);
		snprintf(msg + 1, (size_t)bytes, "%ld-", i); /* distinct */
		msg[(size_t)bytes] = 'z';
		if (zmq_send(s, msg, (size_t)bytes + 1, 0) < 0) {
			fprintf(stderr, "pano-hostile: send: %s\n", zmq_strerror(zmq_errno()));
			break;
		}
	}
	free(msg);
	struct timespec ts = { 2, 0 };
	nanosleep(&ts, NULL);
	zmq_close(s);
	zmq_ctx_term(ctx);
	return 0;
}

static int send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* ZMTP 3.0, NULL mechanism, as an XSUB: greeting, READY, one long frame. */
static int subscribe_raw(const char *addr, long bytes)
{
	const char *colon = strrchr(addr, ':');
	if (!colon)
		return 2;
	char host[64];
	snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1)) };
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return 2;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		perror("pano-hostile: connect");
		return 1;
	}
	uint8_t greeting[64] = { 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0, 'N', 'U', 'L', 'L' };
	uint8_t peer[64];
	static const char ready[] = "\x05READY\x0bSocket-Type\0\0\0\x04XSUB";
	uint8_t cmd[2 + sizeof(ready) - 1] = { 0x04, (uint8_t)(sizeof(ready) - 1) };
	memcpy(cmd + 2, ready, sizeof(ready) - 1);
	if (send_all(fd, greeting, sizeof(greeting)) != 0 || recv(fd, peer, sizeof(peer), MSG_WAITALL) != 64 ||
	    send_all(fd, cmd, sizeof(cmd)) != 0) {
		fprintf(stderr, "pano-hostile: no ZMTP handshake\n");
		close(fd);
		return 1;
	}
	uint64_t size = (uint64_t)bytes + 1;
	uint8_t hdr[10] = { 0x02 };
	for (int i = 0; i < 8; i++)
		hdr[1 + i] = (uint8_t)(size >> (56 - 8 * i));
	hdr[9] = 1; /* subscribe */
	send_all(fd, hdr, sizeof(hdr));
	char *chunk = malloc(1 << 20);
	memset(chunk, 'q', 1 << 20);
	long sent = 0;
	while (sent < bytes) { /* the node may hang up early: that is the point */
		size_t n = bytes - sent < (1 << 20) ? (size_t)(bytes - sent) : (1 << 20);
		if (send_all(fd, chunk, n) != 0)
			break;
		sent += (long)n;
	}
	printf("# raw subscription: %ld of %ld bytes taken before the node %s\n", sent, bytes,
	       sent < bytes ? "hung up" : "read them all");
	free(chunk);
	struct timespec ts = { 1, 0 };
	nanosleep(&ts, NULL);
	close(fd);
	return 0;
}

static int fake_node(const char *addr)
{
	char endpoint[512];
	if (pano_endpoint(addr, endpoint, sizeof(endpoint)) != 0)
		return 2;
	void *ctx = zmq_ctx_new();
	void *s = zmq_socket(ctx, ZMQ_ROUTER);
	int linger = 0;
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_bind(s, endpoint) != 0) {
		fprintf(stderr, "pano-hostile: bind: %s\n", zmq_strerror(zmq_errno()));
		return 1;
	}
	for (int answered = 0; answered < 5;) {
		zmq_pollitem_t it = { s, 0, ZMQ_POLLIN, 0 };
		if (zmq_poll(&it, 1, 10000) <= 0)
			break;
		zmq_msg_t id, body;
		zmq_msg_init(&id);
		zmq_msg_init(&body);
		zmq_msg_recv(&id, s, 0);
		while (zmq_msg_recv(&body, s, ZMQ_DONTWAIT) >= 0 && zmq_msg_more(&body))
			;
		Panorama__Request *q = panorama__request__unpack(NULL, zmq_msg_size(&body), zmq_msg_data(&body));
		Panorama__ErrorReply e = PANORAMA__ERROR_REPLY__INIT;
		e.code = PANORAMA__ERROR_REPLY__CODE__INTERNAL;
		e.message = "\x1b[2J\x1b]0;owned\x07 cleared your screen \xff\xfe \xc2\x9b" "31m";
		Panorama__Reply r = PANORAMA__REPLY__INIT;
		r.id = q ? q->id : 0;
		r.body_case = PANORAMA__REPLY__BODY_ERROR;
		r.error = &e;
		uint8_t out[512];
		size_t n = panorama__reply__pack(&r, out);
		zmq_msg_send(&id, s, ZMQ_SNDMORE);
		zmq_send(s, out, n, 0);
		if (q)
			panorama__request__free_unpacked(q, NULL);
		zmq_msg_close(&id);
		zmq_msg_close(&body);
		answered++;
	}
	zmq_close(s);
	zmq_ctx_term(ctx);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "fake-node") == 0)
		return fake_node(argv[2]);
	if (argc == 4 && strcmp(argv[1], "subscribe-raw") == 0)
		return subscribe_raw(argv[2], atol(argv[3]));
	if (argc == 5 && strcmp(argv[1], "subscribe") == 0)
		return subscribe_flood(argv[2], atol(argv[3]), atol(argv[4]));
	fprintf(stderr, "usage: pano-hostile subscribe HOST:PORT COUNT BYTES\n"
	                "       pano-hostile subscribe-raw HOST:PORT BYTES\n"
	                "       pano-hostile fake-node HOST:PORT\n");
	return 2;
}
