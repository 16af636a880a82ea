/* http_guard.c - bounds on an HTTP face's connections; see http_guard.h. */
#include "pano/common/http_guard.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pano/common/clock.h"
#include "pano/common/grow.h"
#include "pano/common/log.h"

/* How often the deadline is looked at: a slow connection lives at most the
 * deadline and this. */
#define SWEEP_EVERY_NS (INT64_C(200000000))
/* A connection this young is never closed to make room: a legitimate
 * client's request is on its way (the library reads it on a thread of its
 * own, which a busy machine may start late). */
#define EVICT_GRACE_NS (INT64_C(1000000000))
/* What a connection refused at once is told before it is hung up. */
static const char BUSY_ANSWER[] = "HTTP/1.1 503 Service Unavailable\r\n"
                                  "Content-Type: text/plain; charset=utf-8\r\n"
                                  "Retry-After: 1\r\nConnection: close\r\nContent-Length: 40\r\n\r\n"
                                  "too many connections; retry in a second\n";

typedef enum { WAITING, BUSY } phase;

struct http_guard_conn {
	int fd;                 /* the guard's duplicate of the socket; -1 once shut down */
	struct sockaddr_storage peer;
	phase ph;
	int64_t since_ns;       /* when it entered its phase */
	size_t at;              /* its index in the table */
};

struct http_guard {
	http_guard_limits limits;
	char what[128];
	pthread_mutex_t mu;      /* guards everything below */
	pthread_cond_t cv;
	bool stopping;
	pthread_t sweeper;
	bool sweeper_started;
	http_guard_conn **conns;
	size_t n, cap;
	http_guard_counts counts;
	unsigned long long logged_closed, logged_evicted, logged_refused;
	time_t last_log;
};

static bool same_address(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr == ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &((const struct sockaddr_in6 *)b)->sin6_addr,
		              16) == 0;
	return true; /* anything else (a UNIX socket): one address */
}

static void address_text(const struct sockaddr_storage *a, char *out, size_t len)
{
	const void *src = a->ss_family == AF_INET6 ? (const void *)&((const struct sockaddr_in6 *)a)->sin6_addr
	                                           : (const void *)&((const struct sockaddr_in *)a)->sin_addr;
	if (a->ss_family != AF_INET && a->ss_family != AF_INET6)
		snprintf(out, len, "(local)");
	else if (!inet_ntop(a->ss_family, src, out, (socklen_t)len))
		snprintf(out, len, "(?)");
}

/* With mu held: hangs c up (the library then closes it in its thread). */
static void hang_up(http_guard_conn *c)
{
	if (c->fd < 0)
		return;
	shutdown(c->fd, SHUT_RDWR);
	close(c->fd);
	c->fd = -1;
}

/* With mu held: connections open and not hung up. */
static size_t live_count(const http_guard *g)
{
	size_t live = 0;
	for (size_t i = 0; i < g->n; i++)
		live += g->conns[i]->fd >= 0;
	return live;
}

/* With mu held: what was closed or refused since the last line, said at
 * most once a second. */
static void log_due(http_guard *g, const struct sockaddr_storage *last_peer)
{
	http_guard_counts *k = &g->counts;
	if (k->deadline_closed == g->logged_closed && k->evicted == g->logged_evicted && k->refused == g->logged_refused)
		return;
	if (!pano_log_due(&g->last_log))
		return;
	char who[INET6_ADDRSTRLEN] = "";
	if (last_peer)
		address_text(last_peer, who, sizeof(who));
	pano_log(PANO_LOG_WARN,
	         "%s: slow or too many clients%s%s: closed %llu that sent no whole request within %.0f s and %llu "
	         "to make room for newer ones, refused %llu (503); %zu open",
	         g->what, who[0] ? ", latest from " : "", who, k->deadline_closed - g->logged_closed,
	         (double)g->limits.request_deadline_ns / 1e9, k->evicted - g->logged_evicted,
	         k->refused - g->logged_refused, live_count(g));
	g->logged_closed = k->deadline_closed;
	g->logged_evicted = k->evicted;
	g->logged_refused = k->refused;
}

static void *sweeper_main(void *arg)
{
	http_guard *g = arg;
	pthread_mutex_lock(&g->mu);
	while (!g->stopping) {
		int64_t now = clock_mono_ns();
		const struct sockaddr_storage *last = NULL;
		for (size_t i = 0; i < g->n; i++) {
			http_guard_conn *c = g->conns[i];
			if (c->ph == WAITING && c->fd >= 0 && now - c->since_ns > g->limits.request_deadline_ns) {
				hang_up(c);
				g->counts.deadline_closed++;
				last = &c->peer;
			}
		}
		log_due(g, last);
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		int64_t ns = until.tv_nsec + SWEEP_EVERY_NS;
		until.tv_sec += ns / 1000000000;
		until.tv_nsec = ns % 1000000000;
		while (!g->stopping && pthread_cond_timedwait(&g->cv, &g->mu, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&g->mu);
	return NULL;
}

http_guard *http_guard_new(const http_guard_limits *limits, const char *what)
{
	assert(limits->max_connections > 0 && limits->max_per_address > 0 && limits->request_deadline_ns > 0);
	http_guard *g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->limits = *limits;
	snprintf(g->what, sizeof(g->what), "%s", what);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&g->sweeper, NULL, sweeper_main, g) != 0) {
		http_guard_free(g);
		return NULL;
	}
	g->sweeper_started = true;
	return g;
}

void http_guard_free(http_guard *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->mu);
	g->stopping = true;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
	if (g->sweeper_started)
		pthread_join(g->sweeper, NULL);
	for (size_t i = 0; i < g->n; i++) { /* the library is gone: whatever it left */
		if (g->conns[i]->fd >= 0)
			close(g->conns[i]->fd);
		free(g->conns[i]);
	}
	free(g->conns);
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
	free(g);
}

/* With mu held: the connection waiting the longest, from peer's address
 * only when same_peer; NULL when none waits. */
static http_guard_conn *oldest_waiting(http_guard *g, const struct sockaddr_storage *peer, bool same_peer,
                                       const http_guard_conn *except, int64_t now)
{
	http_guard_conn *best = NULL;
	for (size_t i = 0; i < g->n; i++) {
		http_guard_conn *c = g->conns[i];
		if (c == except || c->ph != WAITING || c->fd < 0 || now - c->since_ns < EVICT_GRACE_NS ||
		    (same_peer && !same_address(&c->peer, peer)))
			continue;
		if (!best || c->since_ns < best->since_ns)
			best = c;
	}
	return best;
}

http_guard_conn *http_guard_opened(http_guard *g, int fd, const struct sockaddr *peer, socklen_t peerlen)
{
	http_guard_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	if (peer && peerlen <= sizeof(c->peer))
		memcpy(&c->peer, peer, peerlen);
	c->ph = WAITING;
	c->since_ns = clock_mono_ns();
	c->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (c->fd < 0) {
		free(c);
		return NULL;
	}
	pthread_mutex_lock(&g->mu);
	if (grow_array(&g->conns, &g->cap, g->n + 1, sizeof(*g->conns), 64) != 0) {
		pthread_mutex_unlock(&g->mu);
		close(c->fd);
		free(c);
		return NULL;
	}
	c->at = g->n;
	g->conns[g->n++] = c;
	size_t from_peer = 0, live = 0;
	for (size_t i = 0; i < g->n; i++) {
		if (g->conns[i]->fd < 0)
			continue; /* hung up, the library has yet to close it */
		live++;
		from_peer += same_address(&g->conns[i]->peer, &c->peer);
	}
	bool over_peer = from_peer > g->limits.max_per_address, over_all = live > g->limits.max_connections;
	if (over_peer || over_all) {
		http_guard_conn *victim = oldest_waiting(g, &c->peer, over_peer, c, c->since_ns);
		if (victim) {
			hang_up(victim);
			g->counts.evicted++;
		} else { /* answered at once, and no room held for it */
			ssize_t sent = send(c->fd, BUSY_ANSWER, sizeof(BUSY_ANSWER) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
			(void)sent; /* a client that cannot take 150 bytes learns it from the hang-up */
			hang_up(c);
			g->counts.refused++;
		}
	}
	log_due(g, &c->peer);
	pthread_mutex_unlock(&g->mu);
	return c;
}

void http_guard_request(http_guard *g, http_guard_conn *c)
{
	pthread_mutex_lock(&g->mu);
	c->ph = BUSY;
	c->since_ns = clock_mono_ns();
	log_due(g, &c->peer);
	pthread_mutex_unlock(&g->mu);
}

void http_guard_answered(http_guard *g, http_guard_conn *c)
{
	pthread_mutex_lock(&g->mu);
	c->ph = WAITING;
	c->since_ns = clock_mono_ns();
	pthread_mutex_unlock(&g->mu);
}

void http_guard_closed(http_guard *g, http_guard_conn *c)
{
	pthread_mutex_lock(&g->mu);
	assert(c->at < g->n && g->conns[c->at] == c);
	g->conns[c->at] = g->conns[--g->n];
	g->conns[c->at]->at = c->at;
	if (c->fd >= 0)
		close(c->fd);
	pthread_mutex_unlock(&g->mu);
	free(c);
}

http_guard_counts http_guard_counts_get(http_guard *g)
{
	pthread_mutex_lock(&g->mu);
	http_guard_counts k = g->counts;
	k.open = live_count(g);
	pthread_mutex_unlock(&g->mu);
	return k;
}
