/* pano_poke.c - throws hostile messages at a Panorama node and checks that
 * each gets an error reply (or is dropped) while the node keeps serving.
 *   pano-poke HOST:PORT
 * Prints TAP lines.  Only ever talks to the address it is given (the tests
 * give it a loopback one). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "pano/client/client.h"
#include "pano/common/endpoint.h"
#include "panorama.pb-c.h"

static int failures;

static void check(int ok, const char *what)
{
	printf("%s - %s\n", ok ? "ok" : "not ok", what);
	if (!ok)
		failures++;
}

/* Sends raw bytes on a fresh DEALER; returns the decoded reply or NULL. */
static Panorama__Reply *raw(void *ctx, const char *endpoint, const void *data, size_t len, int wait_ms)
{
	void *s = zmq_socket(ctx, ZMQ_DEALER);
	int linger = 0;
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_connect(s, endpoint);
	zmq_send(s, data, len, 0);
	zmq_pollitem_t it = { s, 0, ZMQ_POLLIN, 0 };
	Panorama__Reply *r = NULL;
	if (zmq_poll(&it, 1, wait_ms) > 0) {
		zmq_msg_t m;
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, s, 0) >= 0)
			r = panorama__reply__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
		zmq_msg_close(&m);
	}
	zmq_close(s);
	return r;
}

static int is_error(Panorama__Reply *r, int code)
{
	int ok = r && r->body_case == PANORAMA__REPLY__BODY_ERROR && r->error &&
	         (code < 0 || (int)r->error->code == code);
	if (r)
		panorama__reply__free_unpacked(r, NULL);
	return ok;
}

static int still_serving(pano_client *c)
{
	Panorama__PingRequest pq = PANORAMA__PING_REQUEST__INIT;
	Panorama__Request req = PANORAMA__REQUEST__INIT;
	req.body_case = PANORAMA__REQUEST__BODY_PING;
	req.ping = &pq;
	char err[256];
	Panorama__Reply *r = pano_client_call(c, &req, err, sizeof(err));
	int ok = r && r->body_case == PANORAMA__REPLY__BODY_PING;
	if (r)
		panorama__reply__free_unpacked(r, NULL);
	return ok;
}

/* The packed request msg with the right handle in: decoded, patched,
 * re-packed (msg is freed). */
static uint8_t *with_handle(uint8_t *msg, size_t *len, uint64_t handle)
{
	Panorama__Request *q = panorama__request__unpack(NULL, *len, msg);
	if (!q)
		return msg;
	q->submit_report->handle = handle;
	size_t l2 = panorama__request__get_packed_size(q);
	uint8_t *m2 = malloc(l2);
	panorama__request__pack(q, m2);
	panorama__request__free_unpacked(q, NULL);
	free(msg);
	*len = l2;
	return m2;
}

/* A SubmitReport of the given metric names, all of one status and score,
 * packed; the caller frees it. */
static uint8_t *submit_with(const char *observer, const char *subject, uint64_t handle, char **names, size_t n,
                            int status, float score, int64_t sec, size_t *len)
{
	Panorama__Value v = PANORAMA__VALUE__INIT;
	v.status = (Panorama__Status)status;
	v.score = score;
	Panorama__Metric *ms = calloc(n, sizeof(*ms));
	Panorama__Observation__MetricsEntry *entries = calloc(n, sizeof(*entries));
	Panorama__Observation__MetricsEntry **ptrs = calloc(n, sizeof(*ptrs));
	for (size_t i = 0; i < n; i++) {
		panorama__metric__init(&ms[i]);
		ms[i].name = names[i];
		ms[i].value = &v;
		panorama__observation__metrics_entry__init(&entries[i]);
		entries[i].key = names[i];
		entries[i].value = &ms[i];
		ptrs[i] = &entries[i];
	}
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	ts.seconds = sec;
	Panorama__Observation o = PANORAMA__OBSERVATION__INIT;
	o.ts = &ts;
	o.n_metrics = n;
	o.metrics = ptrs;
	Panorama__Report rep = PANORAMA__REPORT__INIT;
	rep.observer = (char *)observer;
	rep.subject = (char *)subject;
	rep.observation = &o;
	Panorama__SubmitReportRequest sr = PANORAMA__SUBMIT_REPORT_REQUEST__INIT;
	sr.handle = handle;
	sr.report = &rep;
	Panorama__Request req = PANORAMA__REQUEST__INIT;
	req.id = 78;
	req.body_case = PANORAMA__REQUEST__BODY_SUBMIT_REPORT;
	req.submit_report = &sr;
	*len = panorama__request__get_packed_size(&req);
	uint8_t *buf = malloc(*len);
	panorama__request__pack(&req, buf);
	free(ms);
	free(entries);
	free(ptrs);
	return buf;
}

/* Healthy, score 90, now. */
static uint8_t *submit_names(const char *observer, const char *subject, uint64_t handle,
                             char **names, size_t n, size_t *len)
{
	return submit_with(observer, subject, handle, names, n, PANORAMA__STATUS__HEALTHY, 90, time(NULL), len);
}

/* nmetrics metrics m0, m1, ... (or just metric), handle 0; the caller frees it. */
static uint8_t *submit(const char *observer, const char *subject, const char *metric, int status,
                       float score, int64_t sec, size_t nmetrics, size_t *len)
{
	char **names = calloc(nmetrics, sizeof(*names));
	char (*buf)[16] = calloc(nmetrics, 16);
	for (size_t i = 0; i < nmetrics; i++) {
		snprintf(buf[i], 16, "m%u", (unsigned)(i % 1000000));
		names[i] = nmetrics > 1 ? buf[i] : (char *)metric;
	}
	uint8_t *msg = submit_with(observer, subject, 0, names, nmetrics, status, score, sec, len);
	free(names);
	free(buf);
	return msg;
}

static int is_accepted(Panorama__Reply *r)
{
	int ok = r && r->body_case == PANORAMA__REPLY__BODY_SUBMIT_REPORT && r->submit_report &&
	         r->submit_report->result == PANORAMA__SUBMIT_REPORT_REPLY__STATUS__ACCEPTED;
	if (r)
		panorama__reply__free_unpacked(r, NULL);
	return ok;
}

/* Refused reports must not use up the node's budget of metric names: many
 * reports of new names with one given twice, then one new name. */
static void name_budget(void *ctx, const char *endpoint, uint64_t handle)
{
	enum { REPORTS = 200, NAMES = 64 };
	char *names[NAMES], buf[NAMES][24];
	size_t len;
	int refused = 0;
	for (int k = 0; k < REPORTS; k++) {
		for (int i = 0; i < NAMES - 1; i++) {
			snprintf(buf[i], sizeof(buf[i]), "burn%d.%d", k, i);
			names[i] = buf[i];
		}
		names[NAMES - 1] = buf[0]; /* given twice: the report is refused */
		uint8_t *msg = submit_names("obs", "budget", handle, names, NAMES, &len);
		refused += is_error(raw(ctx, endpoint, msg, len, 2000), PANORAMA__ERROR_REPLY__CODE__BAD_REQUEST);
		free(msg);
	}
	check(refused == REPORTS, "200 reports of 63 new names and a duplicate are refused");
	names[0] = "fresh.metric";
	uint8_t *msg = submit_names("obs", "budget", handle, names, 1, &len);
	check(is_accepted(raw(ctx, endpoint, msg, len, 2000)),
	      "then a report with a new metric name is still accepted (refused ones used no budget)");
	free(msg);
}

/* Names must be text: invalid UTF-8 or a NUL inside is refused, not
 * stored (or cut). */
static void names_as_text(void *ctx, const char *endpoint, uint64_t handle)
{
	struct { const char *what, *subject, *metric; } cases[] = {
		{ "a subject of invalid UTF-8", "bad\xff", "m" },
		{ "a subject with an overlong UTF-8 '/'", "bad\xc0\xaf", "m" },
		{ "a subject with a UTF-16 surrogate", "bad\xed\xa0\x80", "m" },
		{ "a subject with a C1 control (CSI)", "bad\xc2\x9b", "m" },
		{ "a metric name of invalid UTF-8", "good", "m\xfe" },
	};
	size_t len;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *names[1] = { (char *)cases[i].metric };
		uint8_t *msg = submit_names("obs", cases[i].subject, handle, names, 1, &len);
		char what[128];
		snprintf(what, sizeof(what), "%s: refused with BAD_REQUEST", cases[i].what);
		check(is_error(raw(ctx, endpoint, msg, len, 2000), PANORAMA__ERROR_REPLY__CODE__BAD_REQUEST), what);
		free(msg);
	}
	/* A NUL inside: pack "nulQcut", then make the Q a NUL on the wire. */
	char *names[1] = { "m" };
	uint8_t *msg = submit_names("obs", "nulQcut", handle, names, 1, &len);
	uint8_t *q = memmem(msg, len, "nulQcut", 7);
	if (q)
		q[3] = 0;
	check(q && is_error(raw(ctx, endpoint, msg, len, 2000), PANORAMA__ERROR_REPLY__CODE__BAD_REQUEST),
	      "a subject with a NUL inside is refused, not cut at the NUL");
	free(msg);
	names[0] = "m";
	msg = submit_names("obs", "caf\xc3\xa9-\xe6\x97\xa5\xe6\x9c\xac", handle, names, 1, &len);
	check(is_accepted(raw(ctx, endpoint, msg, len, 2000)), "a subject of valid UTF-8 (caf\u00e9-\u65e5\u672c) is accepted");
	free(msg);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: pano-poke HOST:PORT\n");
		return 2;
	}
	char endpoint[512], err[256];
	if (pano_endpoint(argv[1], endpoint, sizeof(endpoint)) != 0)
		return 2;
	void *ctx = zmq_ctx_new();
	pano_client *c = pano_client_new(argv[1], 2000, NULL, err, sizeof(err));
	check(c && still_serving(c), "the node answers a ping");
	srand(42);

	uint8_t junk[4096];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)rand();
	int errors = 0;
	for (int i = 0; i < 50; i++)
		errors += is_error(raw(ctx, endpoint, junk + i * 13, 1 + (size_t)(rand() % 2000), 1000),
		                   PANORAMA__ERROR_REPLY__CODE__BAD_REQUEST);
	check(errors >= 45, "random bytes get BAD_REQUEST error replies");
	check(still_serving(c), "still serving after random bytes");

	size_t len;
	uint8_t *good = submit("obs", "subj", "m", 2, 1.0f, time(NULL), 1, &len);
	errors = 0;
	for (size_t cut = 1; cut < len; cut += 3)
		errors += is_error(raw(ctx, endpoint, good, cut, 1000), -1);
	check(errors > 0, "truncated requests get error replies");
	free(good);
	check(still_serving(c), "still serving after truncated requests");

	size_t big = 2u << 20;
	uint8_t *huge = calloc(1, big);
	Panorama__Reply *r = raw(ctx, endpoint, huge, big, 500);
	check(r == NULL, "an oversized (2 MiB) message is dropped, not answered");
	if (r)
		panorama__reply__free_unpacked(r, NULL);
	free(huge);
	check(still_serving(c), "still serving after an oversized message");

	/* A valid envelope, absurd contents: the handle is wrong as well, so
	 * these are refused whatever the check that catches them first. */
	uint64_t handle = 0;
	check(c && pano_client_register(c, "obs", &handle, err, sizeof(err)) == 0 && handle != 0,
	      "register gives a handle");
	struct { const char *what, *observer, *subject, *metric; int status; float score; int64_t sec; size_t n; } cases[] = {
		{ "empty subject", "obs", "", "m", 2, 1, 0, 1 },
		{ "empty observer", "", "s", "m", 2, 1, 0, 1 },
		{ "NaN score", "obs", "s", "m", 2, NAN, 0, 1 },
		{ "infinite score", "obs", "s", "m", 2, INFINITY, 0, 1 },
		{ "score above 100", "obs", "s", "m", 2, 150, 0, 1 },
		{ "negative score", "obs", "s", "m", 2, -1, 0, 1 },
		{ "status out of range", "obs", "s", "m", 99, 1, 0, 1 },
		{ "status INVALID", "obs", "s", "m", 0, 1, 0, 1 },
		{ "timestamp a century ahead", "obs", "s", "m", 2, 1, 100LL * 365 * 86400, 1 },
		{ "negative timestamp", "obs", "s", "m", 2, 1, -1000000000LL, 1 },
		{ "100,000 metrics", "obs", "s", "m", 2, 1, 0, 100000 },
		{ "subject with a space", "obs", "a b", "m", 2, 1, 0, 1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t sec = cases[i].sec == 0 ? time(NULL) : cases[i].sec < 0 ? cases[i].sec : time(NULL) + cases[i].sec;
		uint8_t *msg = submit(cases[i].observer, cases[i].subject, cases[i].metric, cases[i].status,
		                      cases[i].score, sec, cases[i].n, &len);
		msg = with_handle(msg, &len, handle);
		r = raw(ctx, endpoint, msg, len, 2000);
		char what[128];
		snprintf(what, sizeof(what), "%s (%zu bytes): refused%s", cases[i].what, len,
		         len > (1u << 20) ? " or dropped" : " with BAD_REQUEST");
		check(len > (1u << 20) ? (r == NULL || is_error(r, -1)) : is_error(r, PANORAMA__ERROR_REPLY__CODE__BAD_REQUEST), what);
		free(msg);
	}
	char *longname = malloc(10u << 20);
	memset(longname, 'x', (10u << 20) - 1);
	longname[(10u << 20) - 1] = '\0';
	uint8_t *msg = submit("obs", longname, "m", 2, 1, time(NULL), 1, &len);
	r = raw(ctx, endpoint, msg, len, 500);
	check(r == NULL || is_error(r, -1), "a 10 MB subject name is dropped or refused");
	free(msg);
	msg = submit("obs", "s", "m", 2, 1, time(NULL), 1, &len); /* handle 0 */
	check(is_error(raw(ctx, endpoint, msg, len, 2000), PANORAMA__ERROR_REPLY__CODE__BAD_REQUEST),
	      "a report with a handle Register did not give is refused");
	free(msg);
	free(longname);
	check(still_serving(c), "still serving after absurd contents");
	name_budget(ctx, endpoint, handle);
	names_as_text(ctx, endpoint, handle);

	/* An unknown request type: field 99 of the envelope. */
	uint8_t unknown[] = { 0x08, 0x05, 0x9a, 0x06, 0x00 }; /* id=5, field 99 (len 0) */
	r = raw(ctx, endpoint, unknown, sizeof(unknown), 2000);
	int ok = r && r->id == 5 && r->body_case == PANORAMA__REPLY__BODY_ERROR;
	if (r)
		panorama__reply__free_unpacked(r, NULL);
	check(ok, "an unknown request type gets an error reply with its id");

	/* Clients that vanish mid-request: send and close at once, many times. */
	for (int i = 0; i < 200; i++) {
		void *s = zmq_socket(ctx, ZMQ_DEALER);
		int linger = 0;
		zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
		zmq_connect(s, endpoint);
		Panorama__Empty e = PANORAMA__EMPTY__INIT;
		Panorama__Request q = PANORAMA__REQUEST__INIT;
		q.body_case = PANORAMA__REQUEST__BODY_DUMP_PANORAMA;
		q.dump_panorama = &e;
		uint8_t b[64];
		size_t l = panorama__request__pack(&q, b);
		zmq_send(s, b, l, 0);
		zmq_close(s);
	}
	check(still_serving(c), "still serving after 200 clients vanished mid-request");

	pano_client_free(c);
	zmq_ctx_term(ctx);
	printf("# %d failures\n", failures);
	return failures ? 1 : 0;
}
