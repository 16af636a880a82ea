/* http.c - the node's HTTP face; see http.h. */
#include "pano/common/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "pano/common/http_guard.h"
#include "pano/common/regfile.h"
#include "pano/common/text.h"

#define PATH_MAX_LEN 1024
/* A quiet /events stream says it is alive this often: well inside the
 * idle timeout, so a console that sees no change keeps its stream. */
#define KEEPALIVE_S 5
/* What the library itself will hold at most; the guard (http_guard.h)
 * keeps the connections well below it, closing slow ones first. */
#define HARD_CONNECTION_LIMIT (PANO_HTTP_CONNECTIONS + 64)
/* A connection's thread renders from a snapshot at most: no deep stacks. */
#define THREAD_STACK_BYTES ((size_t)512 << 10)

typedef struct job {
	const char *path;
	const pano_http_query *query;
	pano_http_answer answer;
	bool taken, done;
	struct job *next;
} job;

#define TOKEN_MIN 16
#define TOKEN_MAX 256

struct pano_http {
	struct MHD_Daemon *daemon;
	http_guard *guard;
	char token[TOKEN_MAX + 1]; /* "" when none is asked for */
	pano_http_render_fn render;
	void *ctx;
	int efd;
	pthread_mutex_t mu;
	pthread_cond_t cv;      /* a job done, an event posted, or stopping */
	job *jobs;              /* waiting, newest first */
	char *ring[PANO_HTTP_EVENTS];
	uint64_t posted;        /* events ever posted: the next one's number */
	atomic_int listeners;   /* read on the loop for every report: no lock */
	bool stopping;
};

typedef struct {
	pano_http *h;
	uint64_t next; /* the next event this listener sends */
	char *pending;
	size_t len, off;
} listener;

static void deadline_in(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static enum MHD_Result respond(struct MHD_Connection *c, int status, const char *type, char *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	enum MHD_Result rc = MHD_queue_response(c, (unsigned)status, r);
	MHD_destroy_response(r);
	return rc;
}

/* A body the answer does not own, or one rendered as it is sent. */
typedef struct {
	pano_http_answer a;
} borrowed;

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	borrowed *b = cls;
	size_t n = b->a.stream(b->a.data, buf, max);
	return n ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
}

static void borrowed_free(void *cls)
{
	borrowed *b = cls;
	if (b->a.release)
		b->a.release(b->a.data);
	free(b);
}

static enum MHD_Result respond_borrowed(struct MHD_Connection *c, const pano_http_answer *a)
{
	borrowed *b = malloc(sizeof(*b));
	if (!b) {
		if (a->release)
			a->release(a->data);
		return MHD_NO;
	}
	b->a = *a;
	struct MHD_Response *r = a->stream
		? MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, stream_read, b, borrowed_free)
		: MHD_create_response_from_buffer_with_free_callback_cls(a->len, a->body, borrowed_free, b);
	if (!r) {
		borrowed_free(b);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", a->content_type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	enum MHD_Result rc = MHD_queue_response(c, (unsigned)a->status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result respond_text(struct MHD_Connection *c, int status, const char *text)
{
	char *body = strdup(text);
	return body ? respond(c, status, "text/plain; charset=utf-8", body, strlen(body)) : MHD_NO;
}

/* Queues j for the loop and waits for its answer; false when the loop did
 * not take it in time (j is then no longer queued). */
static bool run_on_loop(pano_http *h, job *j)
{
	pthread_mutex_lock(&h->mu);
	j->next = h->jobs;
	h->jobs = j;
	pthread_mutex_unlock(&h->mu);
	uint64_t one = 1;
	ssize_t w = write(h->efd, &one, sizeof(one));
	(void)w;
	struct timespec until;
	deadline_in(&until, PANO_HTTP_JOB_WAIT_MS);
	pthread_mutex_lock(&h->mu);
	/* Past the deadline a timed wait returns at once: wait on without one
	 * once the loop has taken the job (it finishes it), else give up. */
	bool timed_out = false;
	while (!j->done && !h->stopping && !(timed_out && !j->taken)) {
		if (timed_out)
			pthread_cond_wait(&h->cv, &h->mu);
		else if (pthread_cond_timedwait(&h->cv, &h->mu, &until) == ETIMEDOUT)
			timed_out = true;
	}
	bool ok = j->done;
	if (!ok && !j->taken) { /* still queued: take it back */
		for (job **p = &h->jobs; *p; p = &(*p)->next)
			if (*p == j) {
				*p = j->next;
				break;
			}
	}
	while (!ok && j->taken && !j->done) /* being rendered: wait for it */
		pthread_cond_wait(&h->cv, &h->mu);
	ok = j->done;
	pthread_mutex_unlock(&h->mu);
	return ok;
}

void pano_http_run_jobs(pano_http *h)
{
	uint64_t n;
	ssize_t r = read(h->efd, &n, sizeof(n));
	(void)r;
	pthread_mutex_lock(&h->mu);
	job *list = h->jobs;
	h->jobs = NULL;
	for (job *j = list; j; j = j->next)
		j->taken = true;
	pthread_mutex_unlock(&h->mu);
	for (job *j = list; j;) {
		job *next = j->next; /* j belongs to a waiting thread: read next first */
		pano_http_answer a = h->render(h->ctx, j->path, j->query);
		pthread_mutex_lock(&h->mu);
		j->answer = a;
		j->done = true;
		pthread_cond_broadcast(&h->cv);
		pthread_mutex_unlock(&h->mu);
		j = next;
	}
}

/* --- /events ----------------------------------------------------------------- */

static bool listener_fill(listener *l)
{
	pano_http *h = l->h;
	free(l->pending);
	l->pending = NULL;
	l->len = l->off = 0;
	pthread_mutex_lock(&h->mu);
	if (l->next == h->posted && !h->stopping) {
		struct timespec until;
		deadline_in(&until, KEEPALIVE_S * 1000);
		while (l->next == h->posted && !h->stopping)
			if (pthread_cond_timedwait(&h->cv, &h->mu, &until) == ETIMEDOUT)
				break;
	}
	bool stop = h->stopping;
	char *text = NULL;
	if (!stop && h->posted - l->next > PANO_HTTP_EVENTS) {
		text = strdup("event: resync\ndata: {}\n\n");
		l->next = h->posted;
	} else if (!stop && l->next < h->posted) {
		const char *line = h->ring[l->next % PANO_HTTP_EVENTS];
		size_t n = strlen(line) + 16;
		text = malloc(n);
		if (text)
			snprintf(text, n, "data: %s\n\n", line);
		l->next++;
	} else if (!stop) {
		text = strdup(": keepalive\n\n");
	}
	pthread_mutex_unlock(&h->mu);
	if (!text)
		return false;
	l->pending = text;
	l->len = strlen(text);
	return true;
}

static ssize_t listener_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	listener *l = cls;
	if (l->off == l->len && !listener_fill(l))
		return MHD_CONTENT_READER_END_OF_STREAM;
	size_t n = l->len - l->off < max ? l->len - l->off : max;
	memcpy(buf, l->pending + l->off, n);
	l->off += n;
	return (ssize_t)n;
}

static void listener_free(void *cls)
{
	listener *l = cls;
	pthread_mutex_lock(&l->h->mu);
	l->h->listeners--;
	pthread_mutex_unlock(&l->h->mu);
	free(l->pending);
	free(l);
}

static enum MHD_Result serve_events(pano_http *h, struct MHD_Connection *c)
{
	listener *l = calloc(1, sizeof(*l));
	if (!l)
		return MHD_NO;
	l->h = h;
	const char *from = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "from");
	char *end = NULL;
	unsigned long long n = from ? strtoull(from, &end, 10) : 0;
	pthread_mutex_lock(&h->mu);
	/* from the state the page fetched (a number ahead of us, or none:
	 * from now; one the ring has forgotten: a resync, at the first read) */
	l->next = from && end && !*end && n <= h->posted ? n : h->posted;
	h->listeners++;
	pthread_mutex_unlock(&h->mu);
	/* the first thing sent says the stream is open */
	l->pending = strdup(": open\n\n");
	l->len = l->pending ? strlen(l->pending) : 0;
	struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, listener_read, l,
	                                                           listener_free);
	if (!r) {
		listener_free(l);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "text/event-stream");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return rc;
}

unsigned long long pano_http_posted(pano_http *h)
{
	pthread_mutex_lock(&h->mu);
	unsigned long long n = h->posted;
	pthread_mutex_unlock(&h->mu);
	return n;
}

bool pano_http_listening(const pano_http *h)
{
	return atomic_load(&((pano_http *)h)->listeners) > 0;
}

void pano_http_post(pano_http *h, const char *line)
{
	char *copy = strdup(line);
	if (!copy)
		return;
	pthread_mutex_lock(&h->mu);
	size_t slot = h->posted % PANO_HTTP_EVENTS;
	free(h->ring[slot]);
	h->ring[slot] = copy;
	h->posted++;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

/* --- requests ------------------------------------------------------------------ */

bool pano_http_request_sane(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n > PATH_MAX_LEN || !pano_utf8_valid(s ? s : "", n))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/* "Authorization: Bearer TOKEN", compared in constant time. */
static bool authorized(const pano_http *h, struct MHD_Connection *c)
{
	const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!v || strncmp(v, "Bearer ", 7) != 0)
		return false;
	v += 7;
	size_t n = strlen(h->token);
	if (strlen(v) != n)
		return false;
	unsigned char diff = 0;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(v[i] ^ h->token[i]);
	return diff == 0;
}

static int read_token(const char *path, char *out, char *err, size_t errlen)
{
	FILE *f = regfile_open(path, "r", err, errlen);
	if (!f)
		return -1;
	char line[TOKEN_MAX + 2] = "";
	bool got = fgets(line, sizeof(line), f) != NULL;
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	size_t n = strlen(line);
	bool printable = true;
	for (size_t i = 0; i < n; i++)
		printable = printable && line[i] > ' ' && line[i] < 0x7f;
	if (!got || n < TOKEN_MIN || n > TOKEN_MAX || !printable) {
		snprintf(err, errlen, "%s: the token must be one line of %d to %d printable characters", path,
		         TOKEN_MIN, TOKEN_MAX);
		return -1;
	}
	memcpy(out, line, n + 1);
	return 0;
}

/* A connection's thread (one a connection) renders answers, which may be
 * large: it yields to the program's loop, whose timing matters. */
static void lower_priority(void)
{
	static _Thread_local bool lowered;
	if (lowered)
		return;
	lowered = true;
	if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10) != 0) {
		/* not allowed here: the answers compete as before */
	}
}

/* The guard's record of c (NULL when it could not keep one). */
static http_guard_conn *guarded(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *i = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return i ? i->socket_context : NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
	pano_http *h = cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *fd = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		const union MHD_ConnectionInfo *peer = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		const struct sockaddr *sa = peer ? peer->client_addr : NULL;
		socklen_t len = !sa ? 0 : sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
		*socket_context = fd ? http_guard_opened(h->guard, fd->connect_fd, sa, len) : NULL;
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
		http_guard_closed(h->guard, *socket_context);
		*socket_context = NULL;
	}
}

static void on_completed(void *cls, struct MHD_Connection *c, void **state, enum MHD_RequestTerminationCode why)
{
	(void)state;
	(void)why;
	pano_http *h = cls;
	http_guard_conn *g = guarded(c);
	if (g)
		http_guard_answered(h->guard, g);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **state)
{
	(void)version;
	(void)upload;
	pano_http *h = cls;
	static int seen;
	if (!*state) { /* the headers have arrived; the body, if any, comes next */
		*state = &seen;
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0; /* a GET with a body: read on, refuse at the end */
		return MHD_YES;
	}
	lower_priority();
	http_guard_conn *g = guarded(c);
	if (g)
		http_guard_request(h->guard, g);
	if (h->token[0] && !authorized(h, c)) {
		char *body = strdup("a bearer token is needed\n");
		struct MHD_Response *r = body ? MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE)
		                              : NULL;
		if (!r)
			return MHD_NO;
		MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
		enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_UNAUTHORIZED, r);
		MHD_destroy_response(r);
		return rc;
	}
	/* One path takes a POST: what it does is not to be done by a link or a
	 * prefetch. */
	bool post = strcmp(method, MHD_HTTP_METHOD_POST) == 0 && strcmp(url, "/-/reload") == 0;
	if (!post && strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return respond_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD (and POST to /-/reload)\n");
	pano_http_query q = {
		MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "subject"),
		MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "observer"),
		MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "from"),
		MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "to"),
		MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "step"),
		post,
	};
	if (!pano_http_request_sane(url) || !pano_http_request_sane(q.subject) || !pano_http_request_sane(q.observer) ||
	    !pano_http_request_sane(q.from) || !pano_http_request_sane(q.to) || !pano_http_request_sane(q.step))
		return respond_text(c, MHD_HTTP_BAD_REQUEST, "a path or query that is not printable UTF-8\n");
	if (strcmp(url, "/events") == 0)
		return serve_events(h, c);
	job j = { url, &q, { 0 }, false, false, NULL };
	if (!run_on_loop(h, &j))
		return respond_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "the node is busy; retry\n");
	if (j.answer.finish) /* the rendering the loop left to this thread */
		j.answer.finish(j.answer.data, &j.answer);
	if (j.answer.release) /* shared, or rendered as it is sent */
		return respond_borrowed(c, &j.answer);
	if (!j.answer.body)
		return respond_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	return respond(c, j.answer.status, j.answer.content_type, j.answer.body, j.answer.len);
}

/* host:port, IPv6 in brackets, numeric only (no DNS from a config). */
static int parse_addr(const char *addr, struct sockaddr_storage *ss, bool *v6)
{
	const char *colon = strrchr(addr, ':');
	if (!colon || colon == addr)
		return -1;
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535)
		return -1;
	char host[128];
	size_t n = (size_t)(colon - addr);
	if (n >= sizeof(host))
		return -1;
	memcpy(host, addr, n);
	host[n] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[' && n > 2 && host[n - 1] == ']') {
		host[n - 1] = '\0';
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*v6 = true;
		return inet_pton(AF_INET6, host + 1, &s6->sin6_addr) == 1 ? 0 : -1;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	*v6 = false;
	return inet_pton(AF_INET, host, &s4->sin_addr) == 1 ? 0 : -1;
}

pano_http *pano_http_new(const char *addr, const char *token_file, pano_http_render_fn render, void *ctx,
                         char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	bool v6;
	if (parse_addr(addr, &ss, &v6) != 0) {
		snprintf(err, errlen, "HTTP address '%.200s' is not IP:port (numeric; IPv6 in brackets)", addr);
		return NULL;
	}
	pano_http *h = calloc(1, sizeof(*h));
	if (!h) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->render = render;
	h->ctx = ctx;
	if (token_file && read_token(token_file, h->token, err, errlen) != 0) {
		free(h);
		return NULL;
	}
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	h->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	char what[300];
	snprintf(what, sizeof(what), "HTTP %.200s", addr);
	http_guard_limits gl = { PANO_HTTP_CONNECTIONS, PANO_HTTP_PER_ADDRESS,
	                         (int64_t)PANO_HTTP_REQUEST_DEADLINE_S * 1000000000 };
	h->guard = http_guard_new(&gl, what);
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
	                 (v6 ? MHD_USE_IPv6 : 0);
	if (h->efd >= 0 && h->guard)
		h->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
		                             MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		                             MHD_OPTION_CONNECTION_LIMIT, (unsigned)HARD_CONNECTION_LIMIT,
		                             MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
		                             MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
		                             MHD_OPTION_THREAD_STACK_SIZE, THREAD_STACK_BYTES,
		                             MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)PANO_HTTP_TIMEOUT_S,
		                             MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)PANO_HTTP_REQUEST_MAX,
		                             MHD_OPTION_END);
	if (!h->daemon) {
		snprintf(err, errlen, "cannot serve HTTP on %.200s: %s", addr, strerror(errno ? errno : EADDRINUSE));
		pano_http_free(h);
		return NULL;
	}
	return h;
}

void pano_http_free(pano_http *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->mu);
	h->stopping = true;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
	if (h->daemon)
		MHD_stop_daemon(h->daemon);
	http_guard_free(h->guard);
	for (size_t i = 0; i < PANO_HTTP_EVENTS; i++)
		free(h->ring[i]);
	if (h->efd >= 0)
		close(h->efd);
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

int pano_http_fd(const pano_http *h) { return h->efd; }
