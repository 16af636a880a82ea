/* hview_client.c - Panorama's query/report client (SPEC section 5):
 *   hview-client [-server HOST:PORT] [-timeout MS] [command args...]
 * With no command, an interactive prompt "> ". */
#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "client.h"
#include "format.h"
#include "model.h"
#include "goflags.h"
#include "natural.h"
#include "watch.h"
#include "endpoint.h"

#define PROG "hview-client"
#define SYNOPSIS "[-server HOST:PORT] [-timeout MS] [-key FILE -serverkey FILE] [command args...]"
#define MAX_ARGS 128

static const char HELP[] =
	"Command list:\n"
	"         me observer\n"
	"         report subject [<metric:status:score...>]\n"
	"         get [report|view|inference|panorama] [observer] subject \n"
	"         list [subject|observer]\n"
	"         dump [inference|panorama]\n"
	"         ping\n"
	"         watch [subject]\n"
	"         help\n"
	"         exit\n";

typedef struct {
	pano_client *c;
	char observer[256];
	uint64_t handle;
	int interactive;
	const char *watch_addr; /* the node's inference-change stream */
	const pano_curve_client *curve; /* NULL: plain */
} session;

/* Command outcomes: 0 done, 1 failed at run time, 2 bad usage. */
static int fail(const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, fmt, a, b);
	fputc('\n', stderr);
	return 1;
}

static Panorama__Reply *call(session *s, Panorama__Request *req, int expect)
{
	char err[512];
	Panorama__Reply *r = pano_client_call(s->c, req, err, sizeof(err));
	if (!r) {
		fprintf(stderr, "%s\n", err);
		return NULL;
	}
	if ((int)r->body_case == expect)
		return r;
	if (r->body_case == PANORAMA__REPLY__BODY_ERROR && r->error)
		fprintf(stderr, "%s\n", r->error->message ? r->error->message : "error");
	else
		fprintf(stderr, "unexpected reply from %s\n", pano_client_addr(s->c));
	panorama__reply__free_unpacked(r, NULL);
	return NULL;
}

static int ensure_registered(session *s)
{
	if (s->handle)
		return 0;
	if (!s->observer[0] && s->curve) /* the one name our key speaks for */
		snprintf(s->observer, sizeof(s->observer), "%s", s->curve->self.name);
	if (!s->observer[0] && gethostname(s->observer, sizeof(s->observer) - 1) != 0)
		snprintf(s->observer, sizeof(s->observer), "hview-client");
	char err[512];
	if (pano_client_register(s->c, s->observer, &s->handle, err, sizeof(err)) != 0)
		return fail("register %s: %s", s->observer, err);
	return 0;
}

static int cmd_report(session *s, int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: report subject metric:status:score ... (status: n h p m u d dd)\n");
		return 2;
	}
	size_t n = (size_t)(argc - 2);
	Panorama__Observation__MetricsEntry *entries = calloc(n, sizeof(*entries));
	Panorama__Observation__MetricsEntry **eptr = calloc(n, sizeof(*eptr));
	Panorama__Metric *metrics = calloc(n, sizeof(*metrics));
	Panorama__Value *values = calloc(n, sizeof(*values));
	char **names = calloc(n, sizeof(*names));
	int rc = 0;
	if (!entries || !eptr || !metrics || !values || !names) {
		rc = fail("%s%s", "out of memory", "");
		goto out;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		char *spec = argv[2 + i];
		char *c1 = strchr(spec, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		char *end = NULL;
		float score = c2 ? strtof(c2 + 1, &end) : NAN;
		if (!c1 || !c2 || c1 == spec || strchr(c2 + 1, ':') || !end || *end || end == c2 + 1 ||
		    !isfinite(score)) {
			fprintf(stderr, "report: '%s' is not metric:status:score\n", spec);
			rc = 2;
			break;
		}
		names[i] = strndup(spec, (size_t)(c1 - spec));
		char status_text[32];
		snprintf(status_text, sizeof(status_text), "%.*s", (int)(c2 - c1 - 1), c1 + 1);
		int status = pano_status_parse(status_text);
		if (status < 0 || !names[i]) {
			fprintf(stderr, "report: status '%s' is not one of n h p m u d dd\n", status_text);
			rc = 2;
			break;
		}
		panorama__value__init(&values[i]);
		values[i].status = (Panorama__Status)status;
		values[i].score = score;
		panorama__metric__init(&metrics[i]);
		metrics[i].name = names[i];
		metrics[i].value = &values[i];
		panorama__observation__metrics_entry__init(&entries[i]);
		entries[i].key = names[i];
		entries[i].value = &metrics[i];
		eptr[i] = &entries[i];
	}
	if (rc == 0 && ensure_registered(s) != 0)
		rc = 1;
	if (rc == 0) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
		ts.seconds = now.tv_sec;
		ts.nanos = (int32_t)now.tv_nsec;
		Panorama__Observation obs = PANORAMA__OBSERVATION__INIT;
		obs.ts = &ts;
		obs.n_metrics = n;
		obs.metrics = eptr;
		Panorama__Report rep = PANORAMA__REPORT__INIT;
		rep.observer = s->observer;
		rep.subject = argv[1];
		rep.observation = &obs;
		char err[512];
		int r = pano_client_submit(s->c, s->handle, &rep, err, sizeof(err));
		if (r == 0)
			puts("Accepted");
		else if (r == 1)
			puts("Ignored");
		else {
			puts("Failed");
			fprintf(stderr, "%s\n", err);
			rc = 1;
		}
	}
out:
	for (size_t i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
	free(entries);
	free(eptr);
	free(metrics);
	free(values);
	return rc;
}

static int cmd_get(session *s, int argc, char **argv)
{
	const char *kind = "report";
	int i = 1;
	if (argc > 1 && (strcmp(argv[1], "report") == 0 || strcmp(argv[1], "view") == 0 ||
	                 strcmp(argv[1], "inference") == 0 || strcmp(argv[1], "panorama") == 0))
		kind = argv[i++];
	int want = strcmp(kind, "view") == 0 ? 2 : 1;
	if (argc - i != want) {
		fprintf(stderr, "usage: get [report|view|inference|panorama] [observer] subject\n");
		return 2;
	}
	const char *subject = argv[argc - 1];
	Panorama__Request req = PANORAMA__REQUEST__INIT;
	Panorama__GetReportRequest rr = PANORAMA__GET_REPORT_REQUEST__INIT;
	Panorama__GetViewRequest vr = PANORAMA__GET_VIEW_REQUEST__INIT;
	Panorama__GetInferenceRequest ir = PANORAMA__GET_INFERENCE_REQUEST__INIT;
	Panorama__GetPanoramaRequest pr = PANORAMA__GET_PANORAMA_REQUEST__INIT;
	int expect;
	if (strcmp(kind, "report") == 0) {
		rr.subject = (char *)subject;
		req.body_case = PANORAMA__REQUEST__BODY_GET_LATEST_REPORT;
		req.get_latest_report = &rr;
		expect = PANORAMA__REPLY__BODY_REPORT;
	} else if (strcmp(kind, "view") == 0) {
		vr.subject = (char *)subject;
		vr.observer = argv[i];
		req.body_case = PANORAMA__REQUEST__BODY_GET_VIEW;
		req.get_view = &vr;
		expect = PANORAMA__REPLY__BODY_VIEW;
	} else if (strcmp(kind, "inference") == 0) {
		ir.subject = (char *)subject;
		req.body_case = PANORAMA__REQUEST__BODY_GET_INFERENCE;
		req.get_inference = &ir;
		expect = PANORAMA__REPLY__BODY_INFERENCE;
	} else {
		pr.subject = (char *)subject;
		req.body_case = PANORAMA__REQUEST__BODY_GET_PANORAMA;
		req.get_panorama = &pr;
		expect = PANORAMA__REPLY__BODY_PANORAMA;
	}
	Panorama__Reply *r = call(s, &req, expect);
	if (!r)
		return 1;
	switch (r->body_case) {
	case PANORAMA__REPLY__BODY_REPORT: fmt_report_text(stdout, r->report); break;
	case PANORAMA__REPLY__BODY_VIEW: fmt_view(stdout, r->view); break;
	case PANORAMA__REPLY__BODY_INFERENCE: fmt_inference(stdout, r->inference); break;
	default: putchar('\n'); fmt_panorama(stdout, r->panorama); break;
	}
	panorama__reply__free_unpacked(r, NULL);
	return 0;
}

static int cmp_subject_entry(const void *a, const void *b)
{
	const char *x = (*(Panorama__GetObservedSubjectsReply__SubjectsEntry *const *)a)->key;
	const char *y = (*(Panorama__GetObservedSubjectsReply__SubjectsEntry *const *)b)->key;
	return natural_cmp_ptr(&x, &y);
}

static int cmd_list(session *s, int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "subject";
	if (argc > 2 || (strcmp(what, "subject") != 0 && strcmp(what, "observer") != 0)) {
		fprintf(stderr, "usage: list [subject|observer]\n");
		return 2;
	}
	Panorama__Empty empty = PANORAMA__EMPTY__INIT;
	Panorama__Request req = PANORAMA__REQUEST__INIT;
	bool subjects = strcmp(what, "subject") == 0;
	if (subjects) {
		req.body_case = PANORAMA__REQUEST__BODY_GET_OBSERVED_SUBJECTS;
		req.get_observed_subjects = &empty;
	} else {
		req.body_case = PANORAMA__REQUEST__BODY_GET_OBSERVERS;
		req.get_observers = &empty;
	}
	Panorama__Reply *r = call(s, &req, subjects ? PANORAMA__REPLY__BODY_SUBJECTS : PANORAMA__REPLY__BODY_OBSERVERS);
	if (!r)
		return 1;
	if (subjects) {
		Panorama__GetObservedSubjectsReply *sr = r->subjects;
		qsort(sr->subjects, sr->n_subjects, sizeof(*sr->subjects), cmp_subject_entry);
		for (size_t i = 0; i < sr->n_subjects; i++) {
			char t[96] = "";
			if (sr->subjects[i]->value)
				fmt_go_time(t, sizeof(t), sr->subjects[i]->value->seconds, sr->subjects[i]->value->nanos);
			printf("%s\t%s\n", sr->subjects[i]->key, t);
		}
	} else {
		qsort(r->observers->observers, r->observers->n_observers, sizeof(char *), natural_cmp_ptr);
		for (size_t i = 0; i < r->observers->n_observers; i++)
			printf("%s\n", r->observers->observers[i]);
	}
	panorama__reply__free_unpacked(r, NULL);
	return 0;
}

static int cmp_inference_entry(const void *a, const void *b)
{
	const char *x = (*(Panorama__DumpInferenceReply__InferencesEntry *const *)a)->key;
	const char *y = (*(Panorama__DumpInferenceReply__InferencesEntry *const *)b)->key;
	return natural_cmp_ptr(&x, &y);
}

static int cmp_panorama_entry(const void *a, const void *b)
{
	const char *x = (*(Panorama__DumpPanoramaReply__PanoramasEntry *const *)a)->key;
	const char *y = (*(Panorama__DumpPanoramaReply__PanoramasEntry *const *)b)->key;
	return natural_cmp_ptr(&x, &y);
}

static int cmd_dump(session *s, int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "inference";
	if (argc > 2 || (strcmp(what, "inference") != 0 && strcmp(what, "panorama") != 0)) {
		fprintf(stderr, "usage: dump [inference|panorama]\n");
		return 2;
	}
	bool inference = strcmp(what, "inference") == 0;
	Panorama__Empty empty = PANORAMA__EMPTY__INIT;
	Panorama__Request req = PANORAMA__REQUEST__INIT;
	if (inference) {
		req.body_case = PANORAMA__REQUEST__BODY_DUMP_INFERENCE;
		req.dump_inference = &empty;
	} else {
		req.body_case = PANORAMA__REQUEST__BODY_DUMP_PANORAMA;
		req.dump_panorama = &empty;
	}
	Panorama__Reply *r = call(s, &req, inference ? PANORAMA__REPLY__BODY_DUMP_INFERENCE
	                                             : PANORAMA__REPLY__BODY_DUMP_PANORAMA);
	if (!r)
		return 1;
	putchar('\n');
	if (inference) {
		Panorama__DumpInferenceReply *d = r->dump_inference;
		qsort(d->inferences, d->n_inferences, sizeof(*d->inferences), cmp_inference_entry);
		for (size_t i = 0; i < d->n_inferences; i++) {
			printf("=============%s=============\n", d->inferences[i]->key);
			if (d->inferences[i]->value)
				fmt_inference(stdout, d->inferences[i]->value);
		}
	} else {
		Panorama__DumpPanoramaReply *d = r->dump_panorama;
		qsort(d->panoramas, d->n_panoramas, sizeof(*d->panoramas), cmp_panorama_entry);
		for (size_t i = 0; i < d->n_panoramas; i++) {
			printf("=============%s=============\n", d->panoramas[i]->key);
			if (d->panoramas[i]->value)
				fmt_panorama(stdout, d->panoramas[i]->value);
		}
	}
	panorama__reply__free_unpacked(r, NULL);
	return 0;
}

/* Prints every inference change the node publishes (of one subject, or
 * all), one line each as `get inference` prints it, until interrupted. */
static int cmd_watch(session *s, int argc, char **argv)
{
	if (argc > 2) {
		fprintf(stderr, "usage: watch [subject]\n");
		return 2;
	}
	const char *subject = argc == 2 ? argv[1] : NULL;
	char endpoint[512];
	if (pano_endpoint(s->watch_addr, endpoint, sizeof(endpoint)) != 0)
		return fail("watch: '%.200s' is not host:port%s (see -watch)", s->watch_addr, "");
	void *ctx = zmq_ctx_new();
	void *sub = ctx ? zmq_socket(ctx, ZMQ_SUB) : NULL;
	int64_t maxmsg = INT64_C(64) << 20;
	int rc = 0;
	char err[512] = "";
	if (sub && pano_curve_client_apply(sub, s->curve, err, sizeof(err)) != 0) {
		rc = fail("watch %s: %s", s->watch_addr, err);
	} else if (!sub || zmq_setsockopt(sub, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) != 0 ||
	    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, subject ? subject : "", subject ? strlen(subject) : 0) != 0 ||
	    zmq_connect(sub, endpoint) != 0) {
		rc = fail("watch %s: %s", s->watch_addr, zmq_strerror(errno));
	} else {
		fprintf(stderr, "watching %s on %s (interrupt to stop)\n", subject ? subject : "every subject",
		        s->watch_addr);
	}
	while (rc == 0) {
		zmq_msg_t name, body;
		zmq_msg_init(&name);
		zmq_msg_init(&body);
		int more = 0;
		size_t more_len = sizeof(more);
		if (zmq_msg_recv(&name, sub, 0) < 0) {
			rc = errno == EINTR ? 0 : fail("watch: %s%s", zmq_strerror(errno), "");
			zmq_msg_close(&name);
			zmq_msg_close(&body);
			break;
		}
		zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &more_len);
		/* a subscription is a prefix: "db-1" also brings "db-10" */
		bool wanted = more && zmq_msg_recv(&body, sub, 0) >= 0 &&
		              (!subject || (zmq_msg_size(&name) == strlen(subject) &&
		                            memcmp(zmq_msg_data(&name), subject, strlen(subject)) == 0));
		Panorama__Inference *inf =
			wanted ? panorama__inference__unpack(NULL, zmq_msg_size(&body), zmq_msg_data(&body)) : NULL;
		if (inf) {
			fmt_inference(stdout, inf);
			fflush(stdout);
			panorama__inference__free_unpacked(inf, NULL);
		}
		zmq_msg_close(&name);
		zmq_msg_close(&body);
	}
	if (sub)
		zmq_close(sub);
	if (ctx)
		zmq_ctx_term(ctx);
	return rc;
}

static int cmd_ping(session *s)
{
	Panorama__PingRequest pq = PANORAMA__PING_REQUEST__INIT;
	Panorama__Request req = PANORAMA__REQUEST__INIT;
	req.body_case = PANORAMA__REQUEST__BODY_PING;
	req.ping = &pq;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	Panorama__Reply *r = call(s, &req, PANORAMA__REPLY__BODY_PING);
	if (!r)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &b);
	double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	printf("ping %s: %s, %.3f ms\n", pano_client_addr(s->c),
	       r->ping->result == PANORAMA__PING_REPLY__STATUS__GOOD ? "GOOD" : "BAD", ms);
	panorama__reply__free_unpacked(r, NULL);
	return 0;
}

static int run(session *s, int argc, char **argv)
{
	const char *cmd = argv[0];
	if (strcmp(cmd, "help") == 0) {
		fputs(HELP, stdout);
		return 0;
	}
	if (strcmp(cmd, "me") == 0) {
		if (argc != 2) {
			fprintf(stderr, "usage: me observer\n");
			return 2;
		}
		char err[512];
		uint64_t handle;
		if (pano_client_register(s->c, argv[1], &handle, err, sizeof(err)) != 0)
			return fail("me %s: %s", argv[1], err);
		snprintf(s->observer, sizeof(s->observer), "%s", argv[1]);
		s->handle = handle;
		return 0;
	}
	if (strcmp(cmd, "report") == 0)
		return cmd_report(s, argc, argv);
	if (strcmp(cmd, "get") == 0)
		return cmd_get(s, argc, argv);
	if (strcmp(cmd, "list") == 0)
		return cmd_list(s, argc, argv);
	if (strcmp(cmd, "dump") == 0)
		return cmd_dump(s, argc, argv);
	if (strcmp(cmd, "ping") == 0)
		return cmd_ping(s);
	if (strcmp(cmd, "watch") == 0)
		return cmd_watch(s, argc, argv);
	fprintf(stderr, "unknown command '%.64s' (try help)\n", cmd);
	return 2;
}

static int split(char *line, char **argv)
{
	int n = 0;
	for (char *save = NULL, *t = strtok_r(line, " \t\r\n", &save); t && n < MAX_ARGS;
	     t = strtok_r(NULL, " \t\r\n", &save))
		argv[n++] = t;
	return n;
}

int main(int argc, char **argv)
{
	const char *server = "127.0.0.1:6688", *watch = NULL, *key = NULL, *server_key = NULL;
	long timeout = 3000;
	const goflag flags[] = {
		{ "server", GF_STRING, &server, "Panorama node (default 127.0.0.1:6688)" },
		{ "watch", GF_STRING, &watch, "the node's change stream, for watch (default: its port + 1)" },
		{ "timeout", GF_INT, &timeout, "milliseconds to wait for an answer (default 3000)" },
		{ "key", GF_STRING, &key, "your secret CURVE certificate (for a node with CURVE)" },
		{ "serverkey", GF_STRING, &server_key, "the node's public certificate (its ID.pub)" },
	};
	int first;
	int rc = goflags_parse(PROG, SYNOPSIS, flags, sizeof(flags) / sizeof(flags[0]), argc, argv, &first);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	if (timeout < 1 || timeout > 600000) {
		fprintf(stderr, PROG ": -timeout: give milliseconds in 1..600000\n");
		return 2;
	}
	char err[512];
	session s = { 0 };
	char watch_buf[512];
	if (!watch && pano_watch_default_addr(server, watch_buf, sizeof(watch_buf)) == 0)
		watch = watch_buf;
	s.watch_addr = watch ? watch : "";
	pano_curve_client curve;
	if (!key != !server_key) {
		fprintf(stderr, PROG ": CURVE needs both -key (yours) and -serverkey (the node's)\n");
		return 2;
	}
	if (key && pano_curve_client_load(&curve, key, server_key, err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return 2;
	}
	s.curve = key ? &curve : NULL;
	s.c = pano_client_new(server, (int)timeout, s.curve, err, sizeof(err));
	if (!s.c) {
		fprintf(stderr, PROG ": %s\n", err);
		return 2;
	}
	if (first < argc) {
		if (argc - first > MAX_ARGS) {
			fprintf(stderr, PROG ": too many arguments\n");
			pano_client_free(s.c);
			return 2;
		}
		rc = run(&s, argc - first, argv + first);
		pano_client_free(s.c);
		return rc;
	}
	s.interactive = 1;
	char line[8192];
	for (;;) {
		fputs("> ", stdout);
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			break;
		if (!strchr(line, '\n') && !feof(stdin)) {
			int ch;
			while ((ch = getchar()) != EOF && ch != '\n')
				;
			fprintf(stderr, "line too long\n");
			continue;
		}
		char *args[MAX_ARGS];
		int n = split(line, args);
		if (n == 0)
			continue;
		if (strcmp(args[0], "exit") == 0 || strcmp(args[0], "quit") == 0)
			break;
		run(&s, n, args);
		fflush(stdout);
	}
	pano_client_free(s.c);
	return 0;
}
