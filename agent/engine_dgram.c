/* engine_dgram.c - ICMP echo on unprivileged datagram sockets; see engine.h.
 *
 * A reply's arrival is the kernel's timestamp (SO_TIMESTAMPING, receive,
 * software): the moment it entered the stack, so the time the agent waits
 * for a CPU after the reply came is not counted as network time.  The send
 * time is read just before sendto: the kernel's transmit timestamps came
 * through the error queue, one more wake and read per probe, and cost 8 to
 * 15% more CPU at 10,000 hosts for what the sendto's few microseconds can
 * stretch by (benchmarks.md). */
#include <errno.h>
#include <time.h> /* before linux/errqueue.h, which needs struct timespec */
#include <linux/errqueue.h> /* struct scm_timestamping */
#include <linux/net_tstamp.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <stdbool.h>
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

/* What is known of one host's probe in flight. */
typedef struct {
	int64_t sent_mono;  /* just before sendto, monotonic: the guard */
	int64_t sent_real;  /* just before sendto, wall clock, as the kernel stamps replies */
	uint32_t gen;       /* generation in flight */
} dgram_probe;

typedef struct dgram_engine {
	probe_engine base;
	engine_env env;
	dgram_socket v4, v6;
	dgram_probe *probe;                /* per host */
	struct sockaddr_storage *addr;     /* per host: where it went */
	uint8_t *packet;                   /* an echo request, its data --size long */
	size_t packet_len;
	char why[256];                     /* why a socket could not be opened */
} dgram_engine;

static int open_ping_socket(int family, const probe_options *o, char *err, size_t errlen)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	                family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6);
	if (fd < 0) {
		snprintf(err, errlen, "ICMP datagram sockets not allowed (%s; see net.ipv4.ping_group_range)",
		         strerror(errno));
		return -1;
	}
	if (probe_options_apply(o, fd, family, err, errlen) != 0) {
		close(fd);
		return -1;
	}
	/* Room for a second's worth of answers if the loop is briefly busy. */
	int buf = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	/* where the kernel does not timestamp, the times come from user space */
	int ts = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;
	setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &ts, sizeof(ts));
	return fd;
}

/* The software timestamp of a message, in wall-clock ns; 0 when it has none. */
static int64_t kernel_stamp(struct msghdr *m)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPING) {
			struct scm_timestamping t;
			memcpy(&t, CMSG_DATA(c), sizeof(t));
			return (int64_t)t.ts[0].tv_sec * 1000000000 + t.ts[0].tv_nsec;
		}
	return 0;
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
		uint8_t pkt[256], ctl[256];
		struct sockaddr_storage from;
		struct iovec iov = { pkt, sizeof(pkt) };
		struct msghdr m = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov, .msg_iovlen = 1,
		                    .msg_control = ctl, .msg_controllen = sizeof(ctl) };
		ssize_t n = recvmsg(s->fd, &m, MSG_DONTWAIT);
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
		if (host >= e->env.hosts || gen != e->probe[host].gen ||
		    !same_address(&from, &e->addr[host]))
			continue; /* stale, foreign or spoofed */
		const dgram_probe *p = &e->probe[host];
		int64_t rx = kernel_stamp(&m);
		e->env.done(e->env.ctx, host, gen, PROBE_OK,
		            engine_checked_rtt(rx ? rx - p->sent_real : -1, now - p->sent_mono, &e->base.timing,
		                               rx ? ENGINE_CLOCK_KERNEL_RX : ENGINE_CLOCK_USER));
	}
}

static dgram_socket *socket_for(dgram_engine *e, int family)
{
	dgram_socket *s = family == AF_INET ? &e->v4 : &e->v6;
	if (s->fd >= 0)
		return s;
	s->fd = open_ping_socket(family, e->env.opts, e->why, sizeof(e->why));
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
	uint8_t *pkt = e->packet;
	pkt[0] = addr->sa_family == AF_INET ? ICMP_ECHO : ICMP6_ECHO_REQUEST;
	/* Identifier and checksum are filled in by the kernel. */
	pkt[6] = (uint8_t)(gen >> 8);
	pkt[7] = (uint8_t)gen;
	put_u32le(pkt + ECHO_HDR, PAYLOAD_MAGIC);
	put_u32le(pkt + ECHO_HDR + 4, host);
	put_u32le(pkt + ECHO_HDR + 8, gen);
	memcpy(&e->addr[host], addr, len);
	dgram_probe *p = &e->probe[host];
	p->gen = gen;
	p->sent_real = clock_wall_ns();
	p->sent_mono = clock_mono_ns();
	if (sendto(s->fd, pkt, e->packet_len, 0, addr, len) != (ssize_t)e->packet_len)
		return PROBE_ERROR;
	return PROBE_OK;
}

static void dgram_cancel(probe_engine *pe, uint32_t host)
{
	dgram_engine *e = (dgram_engine *)pe;
	e->probe[host].gen++; /* an answer arriving now is stale */
}

static void dgram_flush(probe_engine *pe) { (void)pe; }

static void dgram_destroy(probe_engine *pe)
{
	dgram_engine *e = (dgram_engine *)pe;
	if (e->v4.fd >= 0)
		close(e->v4.fd);
	if (e->v6.fd >= 0)
		close(e->v6.fd);
	free(e->probe);
	free(e->addr);
	free(e->packet);
	free(e);
}

static int dgram_grow(probe_engine *pe, size_t hosts)
{
	dgram_engine *e = (dgram_engine *)pe;
	size_t old = e->env.hosts;
	if (hosts <= old)
		return 0;
	dgram_probe *probe = realloc(e->probe, hosts * sizeof(*probe));
	if (probe)
		e->probe = probe;
	struct sockaddr_storage *addr = realloc(e->addr, hosts * sizeof(*addr));
	if (addr)
		e->addr = addr;
	if (!probe || !addr)
		return -1;
	memset(probe + old, 0, (hosts - old) * sizeof(*probe));
	memset(addr + old, 0, (hosts - old) * sizeof(*addr));
	e->env.hosts = hosts;
	return 0;
}

static const probe_engine_ops dgram_ops = { dgram_send, dgram_cancel, dgram_flush, dgram_destroy, dgram_grow };

probe_engine *engine_dgram_new(const engine_env *env, char *err, size_t errlen)
{
	int probe = open_ping_socket(AF_INET, NULL, err, errlen);
	if (probe < 0)
		return NULL;
	close(probe);
	dgram_engine *e = calloc(1, sizeof(*e));
	size_t n = env->hosts ? env->hosts : 1;
	size_t payload = env->opts && env->opts->payload >= PAYLOAD_LEN ? env->opts->payload : PAYLOAD_LEN;
	if (e) {
		e->probe = calloc(n, sizeof(*e->probe));
		e->addr = calloc(n, sizeof(*e->addr));
		e->packet = calloc(1, ECHO_HDR + payload);
		e->packet_len = ECHO_HDR + payload;
	}
	if (!e || !e->probe || !e->addr || !e->packet) {
		if (e) {
			e->v4.fd = e->v6.fd = -1;
			dgram_destroy(&e->base);
		}
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/* the data after ours, as ping's: bytes counting up */
	for (size_t i = PAYLOAD_LEN; i < payload; i++)
		e->packet[ECHO_HDR + i] = (uint8_t)i;
	e->base.ops = &dgram_ops;
	snprintf(e->base.name, sizeof(e->base.name), "icmp (datagram socket)");
	e->env = *env;
	e->v4 = (dgram_socket){ { dgram_read }, e, -1, AF_INET };
	e->v6 = (dgram_socket){ { dgram_read }, e, -1, AF_INET6 };
	/* both sockets now, while the agent may still be root: the kernel's
	 * check (net.ipv4.ping_group_range) is made when a socket is opened,
	 * and the user it runs as later may not pass it.  An IPv4 one that
	 * cannot be opened is said now (a --source or --interface that is not
	 * there); IPv6 may be absent, and is then tried again at its first
	 * probe. */
	if (!socket_for(e, AF_INET)) {
		snprintf(err, errlen, "%s", e->why);
		dgram_destroy(&e->base);
		return NULL;
	}
	socket_for(e, AF_INET6);
	return &e->base;
}
