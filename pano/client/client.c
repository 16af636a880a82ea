/* client.c - request/reply over a DEALER socket; see client.h. */
#include "pano/client/client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "pano/common/endpoint.h"
#include "pano/common/clock.h"

struct pano_client {
	void *ctx, *sock;
	void *monitor;     /* the socket's handshake events */
	int handshake;     /* the last handshake event seen (0: none) */
	int handshake_value;
	bool curve;
	int timeout_ms;
	uint64_t next_id;
	char addr[256];
};

/* A handshake that fails (a CURVE key refused, or CURVE on one side only)
 * looks, to a DEALER, like a node that never answers; the socket's monitor
 * tells which it was, for the error line. */
static int watch_handshakes(pano_client *c)
{
	char endpoint[64];
	snprintf(endpoint, sizeof(endpoint), "inproc://pano-client-monitor-%p", (void *)c);
	int linger = 0;
	if (zmq_socket_monitor(c->sock, endpoint, ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
	                                          ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
	                                          ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) != 0 ||
	    !(c->monitor = zmq_socket(c->ctx, ZMQ_PAIR)) ||
	    zmq_setsockopt(c->monitor, ZMQ_LINGER, &linger, sizeof(linger)) != 0)
		return -1;
	return zmq_connect(c->monitor, endpoint);
}

static void read_handshakes(pano_client *c)
{
	zmq_msg_t m;
	while (c->monitor) {
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, c->monitor, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&m);
			return;
		}
		/* frame 1: event (u16) and value (u32); then the endpoint */
		if (zmq_msg_size(&m) == 6) {
			uint16_t event;
			uint32_t value;
			memcpy(&event, zmq_msg_data(&m), 2);
			memcpy(&value, (const char *)zmq_msg_data(&m) + 2, 4);
			c->handshake = event;
			c->handshake_value = (int)value;
		}
		while (zmq_msg_more(&m) && zmq_msg_recv(&m, c->monitor, 0) >= 0)
			; /* the event's other frames */
		zmq_msg_close(&m);
	}
}

const char *pano_client_trouble(pano_client *c, char *buf, size_t len)
{
	read_handshakes(c);
	if (!c->curve) {
		if (c->handshake == 0 || c->handshake == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
			return NULL;
		/* libzmq reports a CURVE node and a peer that just hangs up alike */
		if (c->handshake == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL &&
		    c->handshake_value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
			snprintf(buf, len, "%s wants CURVE keys (-key, -serverkey)", c->addr);
		else
			snprintf(buf, len, "the handshake with %s failed: if it uses CURVE, give -key and -serverkey; "
			         "if not, it may not be a Panorama node", c->addr);
		return buf;
	}
	switch (c->handshake) {
	case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
		return NULL;
	case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
		snprintf(buf, len, "%s refused our CURVE key (status %d): is our .pub in its allow list?", c->addr,
		         c->handshake_value);
		break;
	case 0:
		snprintf(buf, len, "no CURVE handshake with %s yet: is it up, with CURVE on, and is the server "
		         "key its own?", c->addr);
		break;
	default:
		snprintf(buf, len, "the CURVE handshake with %s failed: is the server key its own, and is CURVE on there?",
		         c->addr);
		break;
	}
	return buf;
}

pano_client *pano_client_new(const char *addr, int timeout_ms, const pano_curve_client *curve,
                             char *err, size_t errlen)
{
	char endpoint[512];
	if (pano_endpoint(addr, endpoint, sizeof(endpoint)) != 0) {
		snprintf(err, errlen, "server address '%.200s' is not host:port", addr);
		return NULL;
	}
	pano_client *c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(c->addr, sizeof(c->addr), "%s", addr);
	c->timeout_ms = timeout_ms;
	/* Ids start from the clock so a restarted client never matches a late
	 * reply meant for its previous life. */
	c->next_id = (uint64_t)time(NULL) << 20;
	c->ctx = zmq_ctx_new();
	c->sock = c->ctx ? zmq_socket(c->ctx, ZMQ_DEALER) : NULL;
	if (!c->sock) {
		snprintf(err, errlen, "zmq: %s", zmq_strerror(errno));
		pano_client_free(c);
		return NULL;
	}
	int linger = 0;
	int64_t maxmsg = INT64_C(256) << 20;
	zmq_setsockopt(c->sock, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(c->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
	/* A blocking send waits for a connection that may never come (a node
	 * down, a refused handshake): never longer than a call may take. */
	zmq_setsockopt(c->sock, ZMQ_SNDTIMEO, &timeout_ms, sizeof(timeout_ms));

	if (pano_curve_client_apply(c->sock, curve, err, errlen) != 0) {
		pano_client_free(c);
		return NULL;
	}
	c->curve = curve != NULL;
	if (watch_handshakes(c) != 0) {
		snprintf(err, errlen, "zmq monitor: %s", zmq_strerror(errno));
		pano_client_free(c);
		return NULL;
	}
	if (pano_endpoint_prepare(c->sock, endpoint) != 0 || zmq_connect(c->sock, endpoint) != 0) {
		snprintf(err, errlen, "%s: %s", addr, zmq_strerror(errno));
		pano_client_free(c);
		return NULL;
	}
	return c;
}

void pano_client_free(pano_client *c)
{
	if (!c)
		return;
	if (c->monitor) {
		zmq_socket_monitor(c->sock, NULL, 0);
		zmq_close(c->monitor);
	}
	if (c->sock)
		zmq_close(c->sock);
	if (c->ctx)
		zmq_ctx_term(c->ctx);
	free(c);
}

const char *pano_client_addr(const pano_client *c) { return c->addr; }

static uint64_t send_flags(pano_client *c, Panorama__Request *req, int flags)
{
	req->id = ++c->next_id;
	size_t len = panorama__request__get_packed_size(req);
	zmq_msg_t m;
	if (zmq_msg_init_size(&m, len) != 0)
		return 0;
	panorama__request__pack(req, zmq_msg_data(&m));
	if (zmq_msg_send(&m, c->sock, flags) < 0) {
		zmq_msg_close(&m);
		return 0;
	}
	return req->id;
}

uint64_t pano_client_send(pano_client *c, Panorama__Request *req)
{
	return send_flags(c, req, 0);
}

uint64_t pano_client_send_now(pano_client *c, Panorama__Request *req)
{
	return send_flags(c, req, ZMQ_DONTWAIT);
}

void pano_client_queue_only_when_connected(pano_client *c)
{
	int immediate = 1;
	zmq_setsockopt(c->sock, ZMQ_IMMEDIATE, &immediate, sizeof(immediate));
}

Panorama__Reply *pano_client_recv(pano_client *c, int timeout_ms)
{
	zmq_msg_t m;
	zmq_msg_init(&m);
	/* A reply already queued is taken without a poll system call. */
	if (zmq_msg_recv(&m, c->sock, ZMQ_DONTWAIT) < 0) {
		zmq_pollitem_t item = { c->sock, 0, ZMQ_POLLIN, 0 };
		if (zmq_poll(&item, 1, timeout_ms) <= 0 || zmq_msg_recv(&m, c->sock, 0) < 0) {
			zmq_msg_close(&m);
			return NULL;
		}
	}
	Panorama__Reply *r = panorama__reply__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
	zmq_msg_close(&m);
	return r;
}


Panorama__Reply *pano_client_call(pano_client *c, Panorama__Request *req, char *err, size_t errlen)
{
	uint64_t id = pano_client_send(c, req);
	char why[512];
	if (!id) {
		if (pano_client_trouble(c, why, sizeof(why)))
			snprintf(err, errlen, "cannot send within %d ms: %s", c->timeout_ms, why);
		else
			snprintf(err, errlen, "cannot send to %s within %d ms", c->addr, c->timeout_ms);
		return NULL;
	}
	int64_t deadline = clock_mono_ms() + c->timeout_ms;
	for (;;) {
		int64_t left = deadline - clock_mono_ms();
		if (left <= 0)
			break;
		Panorama__Reply *r = pano_client_recv(c, (int)left);
		if (!r)
			continue;
		if (r->id == id)
			return r;
		panorama__reply__free_unpacked(r, NULL); /* a reply to an abandoned call */
	}
	if (pano_client_trouble(c, why, sizeof(why)))
		snprintf(err, errlen, "no answer within %d ms: %s", c->timeout_ms, why);
	else
		snprintf(err, errlen, "no answer from %s within %d ms", c->addr, c->timeout_ms);
	return NULL;
}

void pano_one_metric_report_init(pano_one_metric_report *x, const char *observer, const char *subject,
                                 const char *metric, int status, float score, int64_t sec, int32_t nsec)
{
	panorama__value__init(&x->value);
	panorama__summary__init(&x->summary);
	x->value.status = (Panorama__Status)status;
	x->value.score = score;
	panorama__metric__init(&x->metric);
	x->metric.name = (char *)metric;
	x->metric.value = &x->value;
	panorama__observation__metrics_entry__init(&x->entry);
	x->entry.key = (char *)metric;
	x->entry.value = &x->metric;
	x->entries[0] = &x->entry;
	google__protobuf__timestamp__init(&x->ts);
	x->ts.seconds = sec;
	x->ts.nanos = nsec;
	panorama__observation__init(&x->observation);
	x->observation.ts = &x->ts;
	x->observation.n_metrics = 1;
	x->observation.metrics = x->entries;
	panorama__report__init(&x->report);
	x->report.observer = (char *)observer;
	x->report.subject = (char *)subject;
	x->report.observation = &x->observation;
}

static int error_of(Panorama__Reply *r, char *err, size_t errlen)
{
	if (r->body_case == PANORAMA__REPLY__BODY_ERROR && r->error)
		snprintf(err, errlen, "%s", r->error->message ? r->error->message : "error");
	else
		snprintf(err, errlen, "unexpected reply");
	return -1;
}

int pano_client_register(pano_client *c, const char *observer, uint64_t *handle,
                         char *err, size_t errlen)
{
	Panorama__RegisterRequest rr = PANORAMA__REGISTER_REQUEST__INIT;
	rr.module = (char *)"cloudsonar";
	rr.observer = (char *)observer;
	Panorama__Request req = PANORAMA__REQUEST__INIT;
	req.body_case = PANORAMA__REQUEST__BODY_REGISTER;
	req.register_ = &rr;
	Panorama__Reply *r = pano_client_call(c, &req, err, errlen);
	if (!r)
		return -1;
	int rc = 0;
	if (r->body_case == PANORAMA__REPLY__BODY_REGISTER && r->register_)
		*handle = r->register_->handle;
	else
		rc = error_of(r, err, errlen);
	panorama__reply__free_unpacked(r, NULL);
	return rc;
}

int pano_client_submit(pano_client *c, uint64_t handle, const Panorama__Report *report,
                       char *err, size_t errlen)
{
	Panorama__SubmitReportRequest sr = PANORAMA__SUBMIT_REPORT_REQUEST__INIT;
	sr.handle = handle;
	sr.report = (Panorama__Report *)report;
	Panorama__Request req = PANORAMA__REQUEST__INIT;
	req.body_case = PANORAMA__REQUEST__BODY_SUBMIT_REPORT;
	req.submit_report = &sr;
	Panorama__Reply *r = pano_client_call(c, &req, err, errlen);
	if (!r)
		return -1;
	int rc;
	if (r->body_case == PANORAMA__REPLY__BODY_SUBMIT_REPORT && r->submit_report) {
		switch (r->submit_report->result) {
		case PANORAMA__SUBMIT_REPORT_REPLY__STATUS__ACCEPTED: rc = 0; break;
		case PANORAMA__SUBMIT_REPORT_REPLY__STATUS__IGNORED: rc = 1; break;
		default: rc = -1; snprintf(err, errlen, "the node failed to store the report"); break;
		}
	} else {
		rc = error_of(r, err, errlen);
	}
	panorama__reply__free_unpacked(r, NULL);
	return rc;
}
