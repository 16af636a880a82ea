/*
 * http.h - an HTTP face for a program with one loop of its own (hview-server
 * -http, sonar-agent --http), served by libmicrohttpd without ever touching
 * the program's data from its threads.
 *
 * HTTP requests are answered by libmicrohttpd's threads (one a connection,
 * at most PANO_HTTP_CONNECTIONS).  Anything that needs the node's data is
 * a job: the thread queues it, wakes the node's loop through
 * pano_http_fd(), and waits; the loop, between two batches of reports,
 * calls pano_http_run_jobs(), which renders each job's answer with the
 * caller's render function and hands it back.  So the data keeps its one
 * thread, and the loop pays only for the rendering itself; or, for a large
 * answer, only for a copy of what it shows, which the HTTP thread then
 * renders (pano_http_answer.finish; the node's snapshot.h).
 *
 * /events is a server-sent-events stream: the loop posts a line with
 * pano_http_post(); each listener reads from a ring of the newest
 * PANO_HTTP_EVENTS lines and, when it fell behind the ring, gets a
 * "resync" event telling it to fetch the whole state again.
 *
 * Bounded: connections (PANO_HTTP_CONNECTIONS, PANO_HTTP_PER_ADDRESS; slow
 * ones are closed first, see http_guard.h), the time a request may take to
 * arrive (PANO_HTTP_REQUEST_DEADLINE_S), request size (header and body),
 * idle time (PANO_HTTP_TIMEOUT_S); only GET and HEAD; a job waits at most
 * PANO_HTTP_JOB_WAIT_MS for the loop.  The threads that render answers run
 * at a lower priority than the program's loop (nice +10), so a flood of
 * scrapes slows the scrapes, not the loop.
 */
#ifndef PANO_COMMON_HTTP_H
#define PANO_COMMON_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define PANO_HTTP_CONNECTIONS 768
#define PANO_HTTP_PER_ADDRESS 512
#define PANO_HTTP_REQUEST_DEADLINE_S 5
#define PANO_HTTP_TIMEOUT_S 10
#define PANO_HTTP_REQUEST_MAX (16 * 1024)
#define PANO_HTTP_EVENTS 4096
#define PANO_HTTP_JOB_WAIT_MS 5000

/* An answer the loop rendered: body (malloc'd, taken over), its type and
 * HTTP status.  Or, for an answer too large to render on the loop, no body
 * but finish: the HTTP thread then calls finish(data, answer) after the
 * loop's part, to fill the answer from what the loop put in data (a copy
 * of what it needs).  Two more shapes keep the memory an answer holds
 * bounded however many clients read it, however slowly:
 *   a shared body: release is set; body belongs to data (a snapshot's
 *     rendering, say) and release(data) is called once it is sent;
 *   a stream: stream(data, buf, max) renders the next bytes as the client
 *     reads them (0 at the end), and release(data) ends it. */
typedef struct pano_http_answer {
	char *body;
	size_t len;
	const char *content_type;
	int status;
	void (*finish)(void *data, struct pano_http_answer *a);
	void *data;
	size_t (*stream)(void *data, char *buf, size_t max);
	void (*release)(void *data);
} pano_http_answer;

/* The query arguments a face knows (NULL: not given), each already
 * checked to be printable UTF-8 of at most 1,024 bytes; others are
 * ignored. */
typedef struct {
	const char *subject, *observer, *from, *to, *step;
	bool post; /* a POST (only to /-/reload; every other request is a GET or HEAD) */
} pano_http_query;

/* Renders the answer to GET path with its query q (the path checked as
 * the arguments are).  Runs on the node's loop. */
typedef pano_http_answer (*pano_http_render_fn)(void *ctx, const char *path, const pano_http_query *q);

typedef struct pano_http pano_http;

/* Serves on addr (host:port; IPv6 in brackets).  With token_file, every
 * request must carry "Authorization: Bearer TOKEN", TOKEN the file's first
 * line (16 characters at least), or it gets 401.  NULL with err. */
pano_http *pano_http_new(const char *addr, const char *token_file, pano_http_render_fn render, void *ctx,
                         char *err, size_t errlen);
void pano_http_free(pano_http *h);

/* A path or query string the face passes on to its render function:
 * printable UTF-8 (no control characters), at most 1,024 bytes; NULL is
 * fine (no query). */
bool pano_http_request_sane(const char *s);

/* Readable when jobs wait: for the loop's poll. */
int pano_http_fd(const pano_http *h);
/* Renders every waiting job (on the loop). */
void pano_http_run_jobs(pano_http *h);

/* Whether anyone listens to /events (nothing need be posted otherwise). */
bool pano_http_listening(const pano_http *h);
/* Posts one event: a line of JSON, sent as "data: LINE". */
void pano_http_post(pano_http *h, const char *line);
/* Events posted so far: /events?from=N sends from the N-th on, so a page
 * that fetched a state rendered when N had been posted misses nothing. */
unsigned long long pano_http_posted(pano_http *h);

#endif
