/* hview_client.c - Panorama's query/report client:
 *   hview-client [-server HOST:PORT] [-timeout MS] [command args...]
 * With no command: on a terminal, a prompt "> " with line editing and
 * history (libedit); from a pipe, one command a line, no prompt, and an
 * exit status of 1 when a command failed. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>
#include <editline/readline.h>

#include "pano/client/client.h"
#include "pano/client/command.h"
#include "pano/client/format.h"
#include "pano/common/model.h"
#include "pano/common/goflags.h"
#include "pano/common/natural.h"
#include "pano/common/endpoint.h"
#include "pano/client/safeout.h"
#include "pano/common/clock.h"

#define PROG "hview-client"
#define SYNOPSIS "[-server HOST:PORT] [-timeout MS] [-key FILE -serverkey FILE] [command args...]"
#define MAX_ARGS PANO_COMMAND_ARGS_MAX

static const char HELP[] =
	"Command list:\n"
	"         me observer\n"
	"         report subject [<metric:status:score...>]\n"
	"         get report subject\n"
	"         get view observer subject\n"
	"         get inference subject\n"
	"         get panorama subject\n"
	"         list [subject|observer]\n"
	"         dump [inference|panorama|blame]\n"
	"         ping\n"
	"         watch [subject]\n"
	"         help\n"
	"         exit\n";

/* Ctrl-C during a watch: the watch ends, not the client. */
static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

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

static int cmd_report(session *s, const pano_command *cmd)
{
	size_t n = cmd->nmetrics;
	Panorama__Observation__MetricsEntry *entries = calloc(n, sizeof(*entries));
	Panorama__Observation__MetricsEntry **eptr = calloc(n, sizeof(*eptr));
	Panorama__Metric *metrics = calloc(n, sizeof(*metrics));
	Panorama__Value *values = calloc(n, sizeof(*values));
	int rc = 0;
	if (!entries || !eptr || !metrics || !values) {
		rc = fail("%s%s", "out of memory", "");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		panorama__value__init(&values[i]);
		values[i].status = (Panorama__Status)cmd->metrics[i].status;
		values[i].score = cmd->metrics[i].score;
		panorama__metric__init(&metrics[i]);
		metrics[i].name = cmd->metrics[i].name;
		metrics[i].value = &values[i];
		panorama__observation__metrics_entry__init(&entries[i]);
		entries[i].key = cmd->metrics[i].name;
		entries[i].value = &metrics[i];
		eptr[i] = &entries[i];
	}
	if (ensure_registered(s) != 0)
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
		rep.subject = (char *)cmd->subject;
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
	free(entries);
	free(eptr);
	free(metrics);
	free(values);
	return rc;
}

static int cmd_get(session *s, const pano_command *cmd)
{
	const char *kind = cmd->what, *subject = cmd->subject;
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
		vr.observer = (char *)cmd->observer;
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

static int cmd_list(session *s, const pano_command *cmd)
{
	const char *what = cmd->what;
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

/* dump blame: a line a current blame (format.h's fmt_blame) */
static int cmd_blame(session *s)
{
	Panorama__Empty empty = PANORAMA__EMPTY__INIT;
	Panorama__Request req = PANORAMA__REQUEST__INIT;
	req.body_case = PANORAMA__REQUEST__BODY_GET_BLAME;
	req.get_blame = &empty;
	Panorama__Reply *r = call(s, &req, PANORAMA__REPLY__BODY_BLAME);
	if (!r)
		return 1;
	for (size_t i = 0; i < r->blame->n_blame; i++)
		fmt_blame(stdout, r->blame->blame[i]);
	panorama__reply__free_unpacked(r, NULL);
	return 0;
}

static int cmd_dump(session *s, const pano_command *cmd)
{
	const char *what = cmd->what;
	if (strcmp(what, "blame") == 0)
		return cmd_blame(s);
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
static int cmd_watch(session *s, const pano_command *cmd)
{
	const char *subject = cmd->subject;
	/* a stream that says nothing cannot tell a dead node from a quiet one:
	 * ask the node first, and say what is known of the subject */
	Panorama__PingRequest pq = PANORAMA__PING_REQUEST__INIT;
	Panorama__Request req = PANORAMA__REQUEST__INIT;
	req.body_case = PANORAMA__REQUEST__BODY_PING;
	req.ping = &pq;
	Panorama__Reply *pr = call(s, &req, PANORAMA__REPLY__BODY_PING);
	if (!pr)
		return fail("watch: no node answers at %s%s", pano_client_addr(s->c), "");
	panorama__reply__free_unpacked(pr, NULL);
	if (subject) {
		Panorama__GetInferenceRequest gq = PANORAMA__GET_INFERENCE_REQUEST__INIT;
		gq.subject = (char *)subject;
		Panorama__Request greq = PANORAMA__REQUEST__INIT;
		greq.body_case = PANORAMA__REQUEST__BODY_GET_INFERENCE;
		greq.get_inference = &gq;
		char err[512];
		Panorama__Reply *gr = pano_client_call(s->c, &greq, err, sizeof(err));
		if (gr && gr->body_case == PANORAMA__REPLY__BODY_ERROR)
			fprintf(stderr, "watch: the node holds nothing about %s yet; waiting for its first report\n",
			        subject);
		if (gr)
			panorama__reply__free_unpacked(gr, NULL);
	}
	char endpoint[512];
	if (pano_endpoint(s->watch_addr, endpoint, sizeof(endpoint)) != 0)
		return fail("watch: '%.200s' is not host:port%s (see -watch)", s->watch_addr, "");
	void *ctx = zmq_ctx_new();
	void *sub = ctx ? zmq_socket(ctx, ZMQ_SUB) : NULL;
	void *mon = NULL; /* the SUB socket's connection events */
	int64_t maxmsg = INT64_C(64) << 20;
	int rc = 0;
	char err[512] = "";
	if (sub && pano_curve_client_apply(sub, s->curve, err, sizeof(err)) != 0) {
		rc = fail("watch %s: %s", s->watch_addr, err);
	} else if (!sub || zmq_setsockopt(sub, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) != 0 ||
	    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, subject ? subject : "", subject ? strlen(subject) : 0) != 0 ||
	    zmq_socket_monitor(sub, "inproc://watch-events", ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED) != 0 ||
	    !(mon = zmq_socket(ctx, ZMQ_PAIR)) || zmq_connect(mon, "inproc://watch-events") != 0 ||
	    pano_endpoint_prepare(sub, endpoint) != 0 || zmq_connect(sub, endpoint) != 0) {
		rc = fail("watch %s: %s", s->watch_addr, zmq_strerror(errno));
	} else {
		fprintf(stderr, "watching %s on %s (Ctrl-C to stop)\n", subject ? subject : "every subject",
		        s->watch_addr);
	}
	struct sigaction on = { .sa_handler = on_interrupt }, before;
	sigemptyset(&on.sa_mask); /* no SA_RESTART: the wait below ends at once */
	interrupted = 0;
	sigaction(SIGINT, &on, &before);
	bool connected = false;
	while (rc == 0 && !interrupted) {
		zmq_pollitem_t items[2] = { { sub, 0, ZMQ_POLLIN, 0 }, { mon, 0, ZMQ_POLLIN, 0 } };
		if (zmq_poll(items, 2, -1) < 0) {
			if (errno != EINTR)
				rc = fail("watch: %s%s", zmq_strerror(errno), "");
			continue;
		}
		if (items[1].revents & ZMQ_POLLIN) {
			zmq_msg_t ev, addr;
			zmq_msg_init(&ev);
			zmq_msg_init(&addr);
			if (zmq_msg_recv(&ev, mon, 0) >= 0 && zmq_msg_recv(&addr, mon, 0) >= 0 && zmq_msg_size(&ev) >= 2) {
				const uint8_t *d = zmq_msg_data(&ev);
				uint16_t event = (uint16_t)(d[0] | d[1] << 8);
				if (event == ZMQ_EVENT_DISCONNECTED)
					fprintf(stderr, "watch: lost the node at %s; waiting for it to come back\n", s->watch_addr);
				else if (event == ZMQ_EVENT_CONNECTED && connected)
					fprintf(stderr, "watch: the node at %s is back\n", s->watch_addr);
				connected = connected || event == ZMQ_EVENT_CONNECTED;
			}
			zmq_msg_close(&ev);
			zmq_msg_close(&addr);
		}
		if (!(items[0].revents & ZMQ_POLLIN))
			continue;
		zmq_msg_t name, body;
		zmq_msg_init(&name);
		zmq_msg_init(&body);
		int more = 0;
		size_t more_len = sizeof(more);
		if (zmq_msg_recv(&name, sub, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&name);
			zmq_msg_close(&body);
			continue;
		}
		zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &more_len);
		/* a subscription is a prefix: "db-1" also brings "db-10" */
		bool wanted = more && zmq_msg_recv(&body, sub, 0) >= 0 &&
		              (!subject || (zmq_msg_size(&name) == strlen(subject) &&
		                            memcmp(zmq_msg_data(&name), subject, strlen(subject)) == 0));
		bool blames = !subject && more && zmq_msg_size(&name) == strlen(PANO_WATCH_BLAME_TOPIC) &&
		              memcmp(zmq_msg_data(&name), PANO_WATCH_BLAME_TOPIC, strlen(PANO_WATCH_BLAME_TOPIC)) == 0;
		Panorama__GetBlameReply *br =
			blames ? panorama__get_blame_reply__unpack(NULL, zmq_msg_size(&body), zmq_msg_data(&body)) : NULL;
		if (br) { /* the blames, whenever they change */
			printf("blame: %zu current\n", br->n_blame);
			for (size_t i = 0; i < br->n_blame; i++)
				fmt_blame(stdout, br->blame[i]);
			fflush(stdout);
			panorama__get_blame_reply__free_unpacked(br, NULL);
		}
		Panorama__Inference *inf = wanted && !blames
			? panorama__inference__unpack(NULL, zmq_msg_size(&body), zmq_msg_data(&body)) : NULL;
		if (inf) {
			fmt_inference(stdout, inf);
			fflush(stdout);
			panorama__inference__free_unpacked(inf, NULL);
		}
		zmq_msg_close(&name);
		zmq_msg_close(&body);
	}
	sigaction(SIGINT, &before, NULL);
	if (interrupted)
		fprintf(stderr, "watch: stopped\n");
	if (sub)
		zmq_socket_monitor(sub, NULL, 0);
	if (mon)
		zmq_close(mon);
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
	int64_t sent = clock_mono_ns();
	Panorama__Reply *r = call(s, &req, PANORAMA__REPLY__BODY_PING);
	if (!r)
		return 1;
	double ms = (double)(clock_mono_ns() - sent) / 1e6;
	printf("ping %s: %s, %.3f ms\n", pano_client_addr(s->c),
	       r->ping->result == PANORAMA__PING_REPLY__STATUS__GOOD ? "GOOD" : "BAD", ms);
	panorama__reply__free_unpacked(r, NULL);
	return 0;
}

/* Parses and runs one command: 0 done, 1 failed, 2 bad usage; -1 exit. */
static int run(session *s, int argc, char **argv)
{
	pano_command cmd;
	char err[512];
	if (pano_command_parse(argc, argv, &cmd, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	int rc = 0;
	switch (cmd.kind) {
	case PANO_CMD_HELP: fputs(HELP, stdout); break;
	case PANO_CMD_EXIT: rc = -1; break;
	case PANO_CMD_ME: {
		uint64_t handle;
		if (pano_client_register(s->c, cmd.observer, &handle, err, sizeof(err)) != 0) {
			rc = fail("me %s: %s", cmd.observer, err);
			break;
		}
		snprintf(s->observer, sizeof(s->observer), "%s", cmd.observer);
		s->handle = handle;
		break;
	}
	case PANO_CMD_REPORT: rc = cmd_report(s, &cmd); break;
	case PANO_CMD_GET: rc = cmd_get(s, &cmd); break;
	case PANO_CMD_LIST: rc = cmd_list(s, &cmd); break;
	case PANO_CMD_DUMP: rc = cmd_dump(s, &cmd); break;
	case PANO_CMD_PING: rc = cmd_ping(s); break;
	case PANO_CMD_WATCH: rc = cmd_watch(s, &cmd); break;
	}
	pano_command_clear(&cmd);
	return rc;
}

/* One line of input as a command: 0 done, 1 failed, 2 bad usage, -1 exit. */
static int run_line(session *s, char *line, size_t len)
{
	if (memchr(line, '\0', len)) {
		fprintf(stderr, "the line holds a NUL byte; skipped\n");
		return 2;
	}
	if (len > 8192) {
		fprintf(stderr, "line of %zu bytes, longer than 8192; skipped\n", len);
		return 2;
	}
	char *args[MAX_ARGS];
	int n = pano_command_split(line, args, MAX_ARGS);
	int rc = n ? run(s, n, args) : 0;
	fflush(stdout);
	return rc;
}

/* Commands from a pipe or a file: no prompt; the exit status says whether
 * every command succeeded. */
static int pipe_loop(session *s)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	int worst = 0;
	while ((got = getline(&line, &cap, stdin)) >= 0) {
		int rc = run_line(s, line, (size_t)got);
		if (rc < 0)
			break;
		if (rc > 0)
			worst = 1;
	}
	free(line);
	pano_client_free(s->c);
	return worst;
}

/* The history of a terminal's sessions, in the home directory. */
static void history_path(char *out, size_t len)
{
	const char *home = getenv("HOME");
	if (home && home[0])
		snprintf(out, len, "%s/.hview_client_history", home);
	else
		out[0] = '\0';
}

/* A terminal: libedit's line editing and history. */
static int prompt_loop(session *s)
{
	char hist[4096];
	history_path(hist, sizeof(hist));
	/* the line editor talks to the terminal itself: stdout is the filter
	 * that keeps what a node sends from driving the terminal */
	FILE *term = fdopen(dup(STDOUT_FILENO), "w");
	rl_instream = stdin;
	if (term)
		rl_outstream = term;
	using_history();
	stifle_history(1000);
	if (hist[0])
		read_history(hist);
	char *line;
	while ((line = readline("> ")) != NULL) {
		if (line[strspn(line, " \t")])
			add_history(line);
		int rc = run_line(s, line, strlen(line));
		free(line);
		if (rc < 0)
			break;
	}
	if (hist[0])
		write_history(hist);
	if (term)
		fclose(term);
	pano_client_free(s->c);
	return 0;
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
	for (int i = 1; i < argc && argv[i][0] == '-'; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "-help") || !strcmp(argv[i], "--help")) {
			goflags_usage(stdout, PROG, SYNOPSIS, flags, sizeof(flags) / sizeof(flags[0]));
			fputs("With no command, reads commands from stdin: on a terminal with a prompt,\n"
			      "line editing and history (~/.hview_client_history); from a pipe without\n"
			      "a prompt, exiting 1 when a command failed.  Ctrl-C ends a watch.\n", stdout);
			fputs(HELP, stdout);
			return 0;
		}
	int rc = goflags_parse(PROG, SYNOPSIS, flags, sizeof(flags) / sizeof(flags[0]), argc, argv, &first);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	if (timeout < 1 || timeout > 600000) {
		fprintf(stderr, PROG ": -timeout: give milliseconds in 1..600000\n");
		return 2;
	}
	/* what the node sends is shown, never obeyed by the terminal */
	FILE *safe_out = pano_safe_stream(STDOUT_FILENO), *safe_err = pano_safe_stream(STDERR_FILENO);
	if (safe_out)
		stdout = safe_out;
	if (safe_err) {
		setvbuf(safe_err, NULL, _IONBF, 0);
		stderr = safe_err;
	}
	char err[512];
	session s = { 0 };
	char watch_buf[512];
	if (!watch && pano_endpoint_watch_addr(server, watch_buf, sizeof(watch_buf)) == 0)
		watch = watch_buf;
	s.watch_addr = watch ? watch : "";
	pano_curve_client curve;
	s.curve = pano_curve_client_flags(&curve, key, server_key, err, sizeof(err));
	if (err[0]) {
		fprintf(stderr, PROG ": %s\n", err);
		return 2;
	}
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
		return rc < 0 ? 0 : rc;
	}
	s.interactive = 1;
	return isatty(STDIN_FILENO) ? prompt_loop(&s) : pipe_loop(&s);
}
