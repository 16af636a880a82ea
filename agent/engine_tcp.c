/* engine_tcp.c - TCP connect-handshake probes; see engine.h.
 *
 * A connected probe's response time is the kernel's own: TCP_INFO's RTT
 * after the handshake is its first sample, from the SYN's transmission to
 * the SYN-ACK's arrival, timed in softirq, whatever the agent's thread
 * waited for before it saw the connection.  A refused connection (the
 * host's RST) gives the kernel no sample and is timed in user space. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "agent/engine.h"
#include "agent/timefmt.h"
#include "pano/common/clock.h"

typedef struct {
	watch w;
	struct tcp_engine *e;
	uint32_t host;
	uint32_t gen;
	int fd;
	int64_t sent_ns;
} tcp_probe;

typedef struct tcp_engine {
	probe_engine base;
	engine_env env;
	int port;
	tcp_probe **probes; /* one per host, made at its first probe: at most one in flight each */
} tcp_engine;

/* Close with an RST rather than a FIN: a probe must not leave thousands of
 * sockets in TIME_WAIT behind it. */
static void close_abortive(int fd)
{
	struct linger lg = { 1, 0 };
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

static void finish(tcp_probe *p, int so_error, int64_t now)
{
	tcp_engine *e = p->e;
	int fd = p->fd;
	p->fd = -1;
	int64_t kernel = -1;
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	if (so_error == 0 && getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 && ti.tcpi_rtt > 0)
		kernel = (int64_t)ti.tcpi_rtt * 1000;
	epoll_ctl(e->env.epfd, EPOLL_CTL_DEL, fd, NULL);
	close_abortive(fd);
	/* Connected or refused: either way the host's kernel answered. */
	probe_status st = (so_error == 0 || so_error == ECONNREFUSED) ? PROBE_OK : PROBE_ERROR;
	/* (TCP_INFO is in whole microseconds: a bound a microsecond wider) */
	int64_t rtt = engine_checked_rtt(kernel, now - p->sent_ns + 1000, &e->base.timing,
	                                 kernel >= 0 ? ENGINE_CLOCK_KERNEL : ENGINE_CLOCK_USER);
	if (rtt > now - p->sent_ns)
		rtt = now - p->sent_ns;
	e->env.done(e->env.ctx, p->host, p->gen, st, rtt);
}

static void tcp_ready(watch *w, uint32_t events)
{
	tcp_probe *p = (tcp_probe *)w;
	(void)events;
	if (p->fd < 0)
		return;
	int64_t now = clock_mono_ns();
	int so_error = 0;
	socklen_t len = sizeof(so_error);
	if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0)
		so_error = errno;
	finish(p, so_error, now);
}

static probe_status tcp_send(probe_engine *pe, uint32_t host, uint32_t gen,
                             const struct sockaddr *addr, socklen_t len)
{
	tcp_engine *e = (tcp_engine *)pe;
	if (host >= e->env.hosts)
		return PROBE_ERROR;
	if (!e->probes[host] && !(e->probes[host] = calloc(1, sizeof(tcp_probe))))
		return PROBE_ERROR;
	tcp_probe *p = e->probes[host];
	if (!p->e) /* new: epoll holds its watch by address, so it never moves */
		*p = (tcp_probe){ { tcp_ready }, e, host, 0, -1, 0 };
	if (p->fd >= 0)
		close_abortive(p->fd); /* the loop should have cancelled it */
	p->fd = -1;
	struct sockaddr_storage to;
	if (len > sizeof(to))
		return PROBE_ERROR;
	memcpy(&to, addr, len);
	if (to.ss_family == AF_INET)
		((struct sockaddr_in *)&to)->sin_port = htons((uint16_t)e->port);
	else
		((struct sockaddr_in6 *)&to)->sin6_port = htons((uint16_t)e->port);

	int fd = socket(to.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	char why[256];
	if (fd < 0)
		return PROBE_ERROR;
	if (probe_options_apply(e->env.opts, fd, to.ss_family, why, sizeof(why)) != 0) {
		close(fd);
		return PROBE_ERROR;
	}
	p->host = host;
	p->gen = gen;
	p->fd = fd;
	p->sent_ns = clock_mono_ns();
	if (connect(fd, (struct sockaddr *)&to, len) == 0 || errno == ECONNREFUSED) {
		finish(p, 0, clock_mono_ns());
		return PROBE_OK;
	}
	if (errno != EINPROGRESS) {
		p->fd = -1;
		close_abortive(fd);
		return PROBE_ERROR;
	}
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = &p->w };
	if (epoll_ctl(e->env.epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
		p->fd = -1;
		close_abortive(fd);
		return PROBE_ERROR;
	}
	return PROBE_OK;
}

static void tcp_cancel(probe_engine *pe, uint32_t host)
{
	tcp_engine *e = (tcp_engine *)pe;
	tcp_probe *p = host < e->env.hosts ? e->probes[host] : NULL;
	if (!p || p->fd < 0)
		return;
	epoll_ctl(e->env.epfd, EPOLL_CTL_DEL, p->fd, NULL);
	close_abortive(p->fd);
	p->fd = -1;
}

static void tcp_flush(probe_engine *pe) { (void)pe; }

static void tcp_destroy(probe_engine *pe)
{
	tcp_engine *e = (tcp_engine *)pe;
	for (size_t i = 0; i < e->env.hosts; i++) {
		if (e->probes[i] && e->probes[i]->fd >= 0)
			close_abortive(e->probes[i]->fd);
		free(e->probes[i]);
	}
	free(e->probes);
	free(e);
}

static int tcp_grow(probe_engine *pe, size_t hosts)
{
	tcp_engine *e = (tcp_engine *)pe;
	if (hosts <= e->env.hosts)
		return 0;
	tcp_probe **grown = realloc(e->probes, hosts * sizeof(*grown));
	if (!grown)
		return -1;
	memset(grown + e->env.hosts, 0, (hosts - e->env.hosts) * sizeof(*grown));
	e->probes = grown;
	e->env.hosts = hosts;
	return 0;
}

static const probe_engine_ops tcp_ops = { tcp_send, tcp_cancel, tcp_flush, tcp_destroy, tcp_grow };

probe_engine *engine_tcp_new(const engine_env *env, int port, char *err, size_t errlen)
{
	/* what each probe's socket will be given, tried once now, so a --source
	 * or --interface that is not there is said at start */
	int test = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (test >= 0 && probe_options_apply(env->opts, test, AF_INET, err, errlen) != 0) {
		close(test);
		return NULL;
	}
	if (test >= 0)
		close(test);
	tcp_engine *e = calloc(1, sizeof(*e));
	if (e)
		e->probes = calloc(env->hosts ? env->hosts : 1, sizeof(*e->probes));
	if (!e || !e->probes) {
		free(e);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	e->base.ops = &tcp_ops;
	snprintf(e->base.name, sizeof(e->base.name), "tcp:%d (connect handshake)", port);
	e->env = *env;
	e->port = port;
	return &e->base;
}
