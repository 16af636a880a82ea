/*
 * engine.h - probe engines: how a probe is sent and its answer recognised.
 *
 *   icmp:liboping  ICMP echo through liboping's raw sockets (CAP_NET_RAW).
 *                  liboping's ping_send blocks until every host of a call has
 *                  answered or timed out, so the engine runs it on a pool of
 *                  worker threads, one call per send burst of the main loop.
 *   icmp:dgram     ICMP echo on the kernel's unprivileged "ping" datagram
 *                  sockets (net.ipv4.ping_group_range); the kernel matches
 *                  replies to our socket, so one non-blocking socket per
 *                  address family serves every host.
 *   tcp:PORT       a TCP connect handshake; a refused connection is an
 *                  answer too (the host's kernel replied), as Java's
 *                  InetAddress.isReachable counts it.
 *
 * The agent's event loop owns the schedule, the timeouts and the hosts; an
 * engine only sends and recognises answers, reporting each through the
 * probe_done_fn with the generation number it was sent with, so a late
 * answer to an earlier probe is never taken for the current one.
 *
 * Response times are the wire's, not the scheduler's: each engine takes
 * them from the kernel wherever it can, so that the time the agent waits
 * for a CPU is not counted as network time.
 *   icmp:dgram     the reply's kernel receive timestamp (SO_TIMESTAMPING,
 *                  software: when it entered the stack), the request's read
 *                  just before sendto (both wall clock; the kernel's
 *                  transmit stamps cost a wake and a read a probe);
 *   icmp:liboping  the reply's kernel receive timestamp (SO_TIMESTAMP), the
 *                  request's read by liboping just before sendto;
 *   tcp:PORT       the kernel's own measure of the handshake (TCP_INFO's
 *                  RTT, from the SYN's transmission to the SYN-ACK's
 *                  arrival, in microseconds); a refused connection has
 *                  none, and is timed in user space.
 * Each is checked against the monotonic clock (engine_checked_rtt), so a
 * wall-clock step during a probe cannot make an absurd response time.
 */
#ifndef CLOUDSONAR_ENGINE_H
#define CLOUDSONAR_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "agent/pipeline.h"
#include "pano/common/log.h"

typedef void (*probe_done_fn)(void *ctx, uint32_t host, uint32_t gen,
                              probe_status status, int64_t rtt_ns);

/* An fd registered with the loop's epoll carries a watch in data.ptr. */
typedef struct watch watch;
struct watch {
	void (*ready)(watch *w, uint32_t events);
};

/* How probes go out, the same for every engine (the options smokeping and
 * the blackbox exporter have): a source address (one per family), an
 * interface, the ICMP echo's data size, and the TOS byte (DSCP << 2). */
typedef struct {
	struct sockaddr_storage source4, source6; /* ss_family 0: the system chooses */
	char interface[16];                        /* "": any */
	size_t payload;                            /* ICMP echo data bytes */
	int tos;                                   /* -1: the system's */
} probe_options;

#define PROBE_PAYLOAD_DEFAULT 56  /* as ping's */
#define PROBE_PAYLOAD_MIN 16      /* what ties an answer to its probe */
#define PROBE_PAYLOAD_MAX 8192

void probe_options_defaults(probe_options *o);
/* Parses --source ADDR (numeric, either family; repeatable once a
 * family): 0, or -1. */
int probe_options_source(probe_options *o, const char *addr);
/* Applies the interface, source and TOS to a socket of family before it
 * sends: 0, or -1 with a reason ("--source 10.0.0.9: Cannot assign ..."). */
int probe_options_apply(const probe_options *o, int fd, int family, char *err, size_t errlen);

typedef struct {
	int epfd;             /* the loop's epoll instance */
	size_t hosts;         /* hosts are numbered 0..hosts-1 */
	int64_t timeout_ns;   /* the probe timeout */
	probe_done_fn done;
	void *ctx;
	const probe_options *opts;
	const pano_logger *log; /* what an engine has to say (liboping's errors) */
} engine_env;

/* Where a response time came from, for the statistics. */
typedef enum { ENGINE_CLOCK_KERNEL, ENGINE_CLOCK_KERNEL_RX, ENGINE_CLOCK_USER, ENGINE_CLOCKS } engine_clock;

typedef struct {
	unsigned long long by[ENGINE_CLOCKS]; /* answers timed each way */
	unsigned long long overruled;         /* kernel times the monotonic clock refused */
} engine_timing;

/* A response time from kernel timestamps (kernel_ns; < 0: none), kept when
 * the monotonic time the probe took (mono_ns, from just before the send to
 * just after the answer was read) says it is possible: not negative, not
 * longer.  Else the monotonic time, which holds the scheduler's delays but
 * never a clock step. */
static inline int64_t engine_checked_rtt(int64_t kernel_ns, int64_t mono_ns, engine_timing *t, engine_clock how)
{
	if (kernel_ns >= 0 && kernel_ns <= mono_ns) {
		t->by[how]++;
		return kernel_ns;
	}
	t->overruled += kernel_ns >= 0;
	t->by[ENGINE_CLOCK_USER]++;
	return mono_ns;
}

typedef struct probe_engine probe_engine;
typedef struct {
	/* Sends one probe; PROBE_OK when it went out (the answer comes through
	 * done, possibly before send returns), PROBE_ERROR when it could not
	 * be sent (the caller records the error). */
	probe_status (*send)(probe_engine *e, uint32_t host, uint32_t gen,
	                     const struct sockaddr *addr, socklen_t len);
	/* The loop gave up on host's probe (timeout): release what it holds. */
	void (*cancel)(probe_engine *e, uint32_t host);
	/* The end of one burst of sends (liboping hands the batch over here). */
	void (*flush)(probe_engine *e);
	void (*destroy)(probe_engine *e);
	/* Room for hosts numbered up to hosts - 1 (targets came); 0 or -1. */
	int (*grow)(probe_engine *e, size_t hosts);
} probe_engine_ops;

struct probe_engine {
	const probe_engine_ops *ops;
	char name[64]; /* for the "method ..." line on stderr */
	char why[256]; /* auto and icmp: why not the first choice ("" when it was) */
	bool needs_raw; /* sends through raw sockets it opens as it goes: keeps CAP_NET_RAW */
	engine_timing timing;
};

typedef enum { METHOD_AUTO, METHOD_ICMP, METHOD_ICMP_LIBOPING, METHOD_ICMP_DGRAM, METHOD_TCP } probe_method;

typedef struct {
	probe_method method;
	int tcp_port;
} method_spec;

/* Parses auto | icmp | icmp:liboping | icmp:dgram | tcp | tcp:PORT. */
int method_parse(const char *s, method_spec *out);

/* The engine for a method.  auto and icmp pick what this process may use:
 * ICMP datagram sockets, else liboping; auto then falls back to tcp:7. */
probe_engine *engine_for_method(const method_spec *m, const engine_env *env,
                                char *err, size_t errlen);

probe_engine *engine_dgram_new(const engine_env *env, char *err, size_t errlen);
probe_engine *engine_tcp_new(const engine_env *env, int port, char *err, size_t errlen);
probe_engine *engine_liboping_new(const engine_env *env, char *err, size_t errlen);

static inline probe_status engine_send(probe_engine *e, uint32_t host, uint32_t gen,
                                       const struct sockaddr *a, socklen_t l)
{
	return e->ops->send(e, host, gen, a, l);
}
static inline void engine_cancel(probe_engine *e, uint32_t host) { e->ops->cancel(e, host); }
static inline void engine_flush(probe_engine *e) { e->ops->flush(e); }
static inline void engine_free(probe_engine *e) { if (e) e->ops->destroy(e); }
static inline int engine_grow(probe_engine *e, size_t hosts) { return e->ops->grow(e, hosts); }

#endif
