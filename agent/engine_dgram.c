/* engine_dgram.c - ICMP echo on unprivileged datagram sockets; see engine.h. */
#include <errno.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "detector/bytes.h"
#include "agent/engine.h"
#include "agent/timefmt.h"
#include "pano/common/clock.h"

/* Our payload: a magic word, then the host and generation it belongs to.
 * The kernel owns the echo identifier of a ping socket, so the payload is
 * what ties an answer to a probe. */
#define PAYLOAD_MAGIC UINT32_C(0x43536f6e) /* "CSon" */
#define ECHO_HDR 8
#define PAYLOAD_LEN 16

typedef struct {
	watch w;
	struct dgram_engine *e;
	int fd;
	int family;
} dgram_socket;

typedef struct dgram_engine {
	probe_engine base;
	engine_env env;
	dgram_socket v4, v6;
	int64_t *sent_ns;                  /* per host: when its probe went out */
	uint32_t *gen;                     /* per host: generation in flight */
	struct sockaddr_storage *addr;     /* per host: where it went */
} dgram_engine;

static int open_ping_socket(int family)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	                family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6);
	if (fd < 0)
		return -1;
	/* Room for a second's worth of answers if the loop is briefly busy. */
	int buf = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	return fd;
}

static int same_address(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
	              &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
}

static void dgram_read(watch *w, uint32_t events)
{
	dgram_socket *s = (dgram_socket *)w;
	dgram_engine *e = s->e;
	(void)events;
	for (;;) {
		uint8_t pkt[256];
		struct sockaddr_storage from;
		socklen_t fromlen = sizeof(from);
		ssize_t n = recvfrom(s->fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&from, &fromlen);
		if (n < 0)
			return; /* EAGAIN: drained; anything else: try at the next wake */
		int64_t now = clock_mono_ns();
		uint8_t reply_type = s->family == AF_INET ? ICMP_ECHOREPLY : ICMP6_ECHO_REPLY;
		if (n < ECHO_HDR + PAYLOAD_LEN || pkt[0] != reply_type)
			continue;
		const uint8_t *pl = pkt + ECHO_HDR;
		if (get_u32le(pl) != PAYLOAD_MAGIC)
			continue;
		uint32_t host = get_u32le(pl + 4), gen = get_u32le(pl + 8);
		if (host >= e->env.hosts || gen != e->gen[host] ||
		    !same_address(&from, &e->addr[host]))
			continue; /* stale, foreign or spoofed */
		e->env.done(e->env.ctx, host, gen, PROBE_OK, now - e->sent_ns[host]);
	}
}

static dgram_socket *socket_for(dgram_engine *e, int family)
{
	dgram_socket *s = family == AF_INET ? &e->v4 : &e->v6;
	if (s->fd >= 0)
		return s;
	s->fd = open_ping_socket(family);
	if (s->fd < 0)
		return NULL;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &s->w };
	if (epoll_ctl(e->env.epfd, EPOLL_CTL_ADD, s->fd, &ev) != 0) {
		close(s->fd);
		s->fd = -1;
		return NULL;
	}
	return s;
}

static probe_status dgram_send(probe_engine *pe, uint32_t host, uint32_t gen,
                               const struct sockaddr *addr, socklen_t len)
{
	dgram_engine *e = (dgram_engine *)pe;
	dgram_socket *s = socket_for(e, addr->sa_family);
	if (!s || len > sizeof(e->addr[host]))
		return PROBE_ERROR;
	uint8_t pkt[ECHO_HDR + PAYLOAD_LEN] = { 0 };
	pkt[0] = addr->sa_family == AF_INET ? ICMP_ECHO : ICMP6_ECHO_REQUEST;
	/* Identifier and checksum are filled in by the kernel. */
	pkt[6] = (uint8_t)(gen >> 8);
	pkt[7] = (uint8_t)gen;
	put_u32le(pkt + ECHO_HDR, PAYLOAD_MAGIC);
	put_u32le(pkt + ECHO_HDR + 4, host);
	put_u32le(pkt + ECHO_HDR + 8, gen);
	memcpy(&e->addr[host], addr, len);
	e->gen[host] = gen;
	e->sent_ns[host] = clock_mono_ns();
	if (sendto(s->fd, pkt, sizeof(pkt), 0, addr, len) != (ssize_t)sizeof(pkt))
		return PROBE_ERROR;
	return PROBE_OK;
}

static void dgram_cancel(probe_engine *pe, uint32_t host)
{
	dgram_engine *e = (dgram_engine *)pe;
	e->gen[host]++; /* an answer arriving now is stale */
}

static void dgram_flush(probe_engine *pe) { (void)pe; }

static void dgram_destroy(probe_engine *pe)
{
	dgram_engine *e = (dgram_engine *)pe;
	if (e->v4.fd >= 0)
		close(e->v4.fd);
	if (e->v6.fd >= 0)
		close(e->v6.fd);
	free(e->sent_ns);
	free(e->gen);
	free(e->addr);
	free(e);
}

static int dgram_grow(probe_engine *pe, size_t hosts)
{
	dgram_engine *e = (dgram_engine *)pe;
	size_t old = e->env.hosts;
	if (hosts <= old)
		return 0;
	int64_t *sent = realloc(e->sent_ns, hosts * sizeof(*sent));
	if (sent)
		e->sent_ns = sent;
	uint32_t *gen = realloc(e->gen, hosts * sizeof(*gen));
	if (gen)
		e->gen = gen;
	struct sockaddr_storage *addr = realloc(e->addr, hosts * sizeof(*addr));
	if (addr)
		e->addr = addr;
	if (!sent || !gen || !addr)
		return -1;
	memset(sent + old, 0, (hosts - old) * sizeof(*sent));
	memset(gen + old, 0, (hosts - old) * sizeof(*gen));
	memset(addr + old, 0, (hosts - old) * sizeof(*addr));
	e->env.hosts = hosts;
	return 0;
}

static const probe_engine_ops dgram_ops = { dgram_send, dgram_cancel, dgram_flush, dgram_destroy, dgram_grow };

probe_engine *engine_dgram_new(const engine_env *env, char *err, size_t errlen)
{
	int probe = open_ping_socket(AF_INET);
	if (probe < 0) {
		snprintf(err, errlen, "ICMP datagram sockets not allowed (%s; see net.ipv4.ping_group_range)",
		         strerror(errno));
		return NULL;
	}
	close(probe);
	dgram_engine *e = calloc(1, sizeof(*e));
	size_t n = env->hosts ? env->hosts : 1;
	if (e) {
		e->sent_ns = calloc(n, sizeof(*e->sent_ns));
		e->gen = calloc(n, sizeof(*e->gen));
		e->addr = calloc(n, sizeof(*e->addr));
	}
	if (!e || !e->sent_ns || !e->gen || !e->addr) {
		if (e) {
			e->v4.fd = e->v6.fd = -1;
			dgram_destroy(&e->base);
		}
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	e->base.ops = &dgram_ops;
	snprintf(e->base.name, sizeof(e->base.name), "icmp (datagram socket)");
	e->env = *env;
	e->v4 = (dgram_socket){ { dgram_read }, e, -1, AF_INET };
	e->v6 = (dgram_socket){ { dgram_read }, e, -1, AF_INET6 };
	return &e->base;
}
