/*
 * http_guard.h - who may hold one of an HTTP face's connections, and for
 * how long: the defence against slow clients (slowloris) that the HTTP
 * library itself does not give.
 *
 * libmicrohttpd closes a connection only after it has been idle for its
 * timeout, so a client that sends its request a byte every few seconds
 * holds a connection (and, in the thread-per-connection mode the faces
 * use, a thread) for ever, and a few hundred of them lock everyone out.
 * The guard keeps a table of the open connections, each in one of two
 * phases:
 *
 *   waiting  connected, or answered and kept alive, but its request has not
 *            arrived whole yet;
 *   busy     its request arrived and is being answered (an /events stream
 *            stays busy for as long as it is read).
 *
 * A connection waiting longer than the request deadline is closed.  When a
 * new connection would take its address past the per-address bound, or
 * the face past its bound, the connection that has waited longest (of
 * that address first; at least a second, which a legitimate client, whose
 * request is on its way, never does) is closed to make room.  When none
 * can go, the new one is refused at once: it is sent a 503 with
 * Retry-After and hung up, holding nothing.  The bounds are set well above
 * what a slow-client attack needs to hold to lock out a server that waits
 * (a few hundred), so the deadline, not a refusal, is what such an attack
 * meets; they bound the threads and memory a flood can take.  Every
 * closing and refusal is counted and logged at most once a second.
 *
 * A connection is closed by shutdown(2) on the guard's own duplicate of
 * its socket (never by close), so the library sees an ordinary hang-up,
 * cleans up in its own thread, and no descriptor it may reuse is touched.
 */
#ifndef PANO_HTTP_GUARD_H
#define PANO_HTTP_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct {
	size_t max_connections;  /* open at once; more evict or are refused */
	size_t max_per_address;  /* from one client address */
	int64_t request_deadline_ns; /* a request must arrive whole within this */
} http_guard_limits;

typedef struct {
	unsigned long long deadline_closed; /* waited too long for a request */
	unsigned long long evicted;         /* made room for a newer connection */
	unsigned long long refused;         /* answered 503 */
	size_t open;                        /* open now */
} http_guard_counts;

typedef struct http_guard http_guard;
typedef struct http_guard_conn http_guard_conn;

/* what names the face in its log lines ("HTTP 127.0.0.1:6690").  Starts
 * the thread that closes connections past their deadline.  NULL when out
 * of memory or threads. */
http_guard *http_guard_new(const http_guard_limits *limits, const char *what);
/* After the library has closed every connection. */
void http_guard_free(http_guard *g);

/* A connection the library accepted (fd its socket, peer its client's
 * address); NULL when memory is short (the connection is then not
 * guarded, and is served).  May close an older connection. */
http_guard_conn *http_guard_opened(http_guard *g, int fd, const struct sockaddr *peer, socklen_t peerlen);
/* Its request arrived whole: it is being answered. */
void http_guard_request(http_guard *g, http_guard_conn *c);
/* Its answer is done; it waits for the next request (keep-alive). */
void http_guard_answered(http_guard *g, http_guard_conn *c);
/* The library closed it: forget it. */
void http_guard_closed(http_guard *g, http_guard_conn *c);

http_guard_counts http_guard_counts_get(http_guard *g);

#endif
