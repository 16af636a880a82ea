/* Fuzz target: the watch socket's subscription path (watch.h).  Each input
 * is split at 0xff bytes into frames that a raw XSUB peer sends to a watch
 * socket on loopback; the node's side reads them as it would. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "pano/node/watch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void *ctx, *peer;
static pano_watch *w;

static void setup(void)
{
	ctx = zmq_ctx_new();
	char err[256], addr[64], endpoint[80];
	for (int port = 40000 + (int)(time(NULL) % 1000); !w && port < 45000; port += 7) {
		snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
		w = pano_watch_new(ctx, addr, NULL, err, sizeof(err));
	}
	if (!w)
		abort();
	snprintf(endpoint, sizeof(endpoint), "tcp://%s", addr);
	peer = zmq_socket(ctx, ZMQ_XSUB);
	int linger = 0;
	zmq_setsockopt(peer, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_connect(peer, endpoint);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!w)
		setup();
	size_t start = 0;
	for (size_t i = 0; i <= size; i++)
		if (i == size || data[i] == 0xff) {
			zmq_send(peer, data + start, i - start, ZMQ_DONTWAIT);
			start = i + 1;
		}
	for (int k = 0; k < 3; k++) {
		pano_watch_tick(w);
		void *s = pano_watch_socket(w);
		if (s) {
			zmq_pollitem_t it = { s, 0, ZMQ_POLLIN, 0 };
			if (zmq_poll(&it, 1, 1) > 0)
				pano_watch_read(w);
		}
	}
	return 0;
}
