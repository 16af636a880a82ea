/* test_http.c - the HTTP face's own mechanics (pano/common/http.h): a job
 * the loop takes longer than the wait to finish is waited for without
 * spinning; streamed and shared answers arrive whole and release what they
 * hold; a connection that never sends a whole request is closed at the
 * deadline.  Loopback only. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pano/common/clock.h"
#include "pano/common/http.h"

typedef struct {
	pano_http *h;
	atomic_bool stop;
	int render_ms;          /* what a render takes on the loop */
	atomic_int released;    /* streams and shared bodies given back */
	size_t stream_left;     /* bytes a stream still has to give */
} fixture;

static size_t stream_fill(void *data, char *buf, size_t max)
{
	fixture *f = data;
	size_t n = f->stream_left < max ? f->stream_left : max;
	memset(buf, 'x', n);
	f->stream_left -= n;
	return n;
}

static void release(void *data)
{
	fixture *f = data;
	atomic_fetch_add(&f->released, 1);
}

static const char SHARED[] = "shared body\n";

static pano_http_answer render(void *ctx, const char *path, const pano_http_query *q)
{
	(void)q;
	fixture *f = ctx;
	if (f->render_ms)
		usleep((useconds_t)f->render_ms * 1000);
	if (strcmp(path, "/stream") == 0)
		return (pano_http_answer){ .content_type = "text/plain", .status = 200, .data = f, .stream = stream_fill,
		                           .release = release };
	if (strcmp(path, "/shared") == 0)
		return (pano_http_answer){ .body = (char *)SHARED, .len = sizeof(SHARED) - 1, .content_type = "text/plain",
		                           .status = 200, .data = f, .release = release };
	char *body = strdup("plain\n");
	return (pano_http_answer){ .body = body, .len = strlen(body), .content_type = "text/plain", .status = 200 };
}

/* The program's loop: runs the jobs as they come. */
static void *loop_main(void *arg)
{
	fixture *f = arg;
	struct pollfd p = { pano_http_fd(f->h), POLLIN, 0 };
	while (!atomic_load(&f->stop))
		if (poll(&p, 1, 50) > 0)
			pano_http_run_jobs(f->h);
	return NULL;
}

static int port_of_test(void) { return 20000 + (int)(getpid() % 5000); }

static int connect_to(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* GET path; the whole answer (headers and body) into out, its length. */
static size_t get(int port, const char *path, char *out, size_t cap)
{
	int fd = connect_to(port);
	char req[256];
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	size_t got = 0;
	ssize_t n;
	while (got < cap - 1 && (n = read(fd, out + got, cap - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(fd);
	return got;
}

static fixture *start(int render_ms, int port, pthread_t *loop)
{
	fixture *f = calloc(1, sizeof(*f));
	char addr[64], err[256];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	f->render_ms = render_ms;
	f->h = pano_http_new(addr, NULL, render, f, err, sizeof(err));
	assert_non_null(f->h);
	pthread_create(loop, NULL, loop_main, f);
	return f;
}

static void stop(fixture *f, pthread_t loop)
{
	atomic_store(&f->stop, true);
	pthread_join(loop, NULL);
	pano_http_free(f->h);
	free(f);
}

static double cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

/* A render longer than the job wait (5 s): the thread that asked waits for
 * it without burning a core (it used to spin once the deadline passed). */
static void a_slow_job_is_waited_for_without_spinning(void **state)
{
	(void)state;
	int port = port_of_test();
	pthread_t loop;
	fixture *f = start(PANO_HTTP_JOB_WAIT_MS + 1500, port, &loop);
	char out[4096];
	double cpu = cpu_seconds();
	int64_t t0 = clock_mono_ns();
	size_t n = get(port, "/plain", out, sizeof(out));
	double took = (double)(clock_mono_ns() - t0) / 1e9, burnt = cpu_seconds() - cpu;
	assert_true(n > 0 && strstr(out, "200 OK") && strstr(out, "plain"));
	assert_true(took >= PANO_HTTP_JOB_WAIT_MS / 1000.0);
	print_message("# waited %.1f s for the job, using %.3f s of CPU\n", took, burnt);
	assert_true(burnt < 0.5);
	stop(f, loop);
}

static void streamed_and_shared_answers_arrive_whole_and_are_released(void **state)
{
	(void)state;
	int port = port_of_test() + 1;
	pthread_t loop;
	fixture *f = start(0, port, &loop);
	static char out[1 << 21];
	f->stream_left = 1 << 20;
	size_t n = get(port, "/stream", out, sizeof(out));
	assert_true(strstr(out, "200 OK") != NULL);
	const char *body = strstr(out, "\r\n\r\n");
	assert_non_null(body);
	size_t xs = 0; /* the chunks' sizes are hex digits: no x among them */
	for (size_t i = (size_t)(body - out); i < n; i++)
		xs += out[i] == 'x';
	assert_int_equal(xs, (size_t)1 << 20);
	n = get(port, "/shared", out, sizeof(out));
	assert_true(strstr(out, "shared body") != NULL);
	for (int i = 0; i < 50 && atomic_load(&f->released) < 2; i++)
		usleep(10000);
	assert_int_equal(atomic_load(&f->released), 2);
	stop(f, loop);
}

/* A client that sends half a request and then a byte now and then is hung
 * up at the request deadline, and others are served meanwhile. */
static void a_slow_request_is_closed_at_the_deadline(void **state)
{
	(void)state;
	int port = port_of_test() + 2;
	pthread_t loop;
	fixture *f = start(0, port, &loop);
	int slow = connect_to(port);
	assert_int_equal(write(slow, "GET / HTTP/1.1\r\n", 16), 16);
	int64_t t0 = clock_mono_ns();
	char out[4096], c;
	bool closed = false;
	while (!closed && clock_mono_ns() - t0 < (int64_t)(PANO_HTTP_REQUEST_DEADLINE_S + 3) * 1000000000) {
		if (write(slow, "X", 1) != 1) /* a byte a second: never idle */
			closed = true;
		struct pollfd p = { slow, POLLIN, 0 };
		if (poll(&p, 1, 1000) > 0 && read(slow, &c, 1) <= 0)
			closed = true;
		assert_true(get(port, "/plain", out, sizeof(out)) > 0 && strstr(out, "plain"));
	}
	double took = (double)(clock_mono_ns() - t0) / 1e9;
	print_message("# the slow client was hung up after %.1f s\n", took);
	assert_true(closed);
	assert_true(took >= PANO_HTTP_REQUEST_DEADLINE_S - 0.5);
	close(slow);
	stop(f, loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(streamed_and_shared_answers_arrive_whole_and_are_released),
		cmocka_unit_test(a_slow_request_is_closed_at_the_deadline),
		cmocka_unit_test(a_slow_job_is_waited_for_without_spinning),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
