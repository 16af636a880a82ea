/* engine_liboping.c - ICMP echo through liboping; see engine.h.
 *
 * liboping's ping_send sends to every host of a pingobj and returns only
 * when all have answered or its timeout has passed.  The main loop must never
 * wait on it, so each burst of sends becomes a batch handed to a pool of
 * worker threads; a worker builds a pingobj for the batch, runs ping_send,
 * and posts the outcomes back through an eventfd.  A batch with a lost probe
 * holds its worker for the timeout, so the pool is sized for that; when all
 * workers are busy, queued batches are merged and go out together (late,
 * which the lateness histogram shows) rather than piling up. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <net/if.h>
#include <netinet/in.h>
#include <oping.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "agent/engine.h"
#include "agent/timefmt.h"
#include "pano/common/clock.h"

/* Enough to ride out a few batches stuck on lost probes; more only adds
 * lock contention on the queue. */
#define LIBOPING_WORKERS 4

typedef struct {
	uint32_t host, gen;
	probe_status status;
	int64_t rtt_ns;
	int64_t bound_ns;   /* the monotonic time the call took: no reply took longer */
	char addr[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
} lo_item;

typedef struct lo_batch {
	lo_item *items;
	size_t n, cap;
	struct lo_batch *next;
} lo_batch;

typedef struct {
	watch w;
	probe_engine base;
	engine_env env;
	double ping_timeout_s;
	int efd;
	lo_batch *building;          /* main thread only */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	lo_batch *queue_head, *queue_tail;
	size_t queued;
	lo_batch *done_head;         /* finished batches for the main thread */
	int stopping;
	char *data;                  /* the echo's data, --size long (NULL: liboping's own) */
	char error[256];             /* the last liboping error, reported once */
	int error_new;
	pthread_t workers[LIBOPING_WORKERS];
	int nworkers;
} lo_engine;

#define ENGINE_OF(pe) ((lo_engine *)((char *)(pe) - offsetof(lo_engine, base)))

static void batch_free(lo_batch *b)
{
	while (b) {
		lo_batch *next = b->next;
		free(b->items);
		free(b);
		b = next;
	}
}

static void run_batch(lo_engine *e, lo_batch *b)
{
	pingobj_t *obj = ping_construct();
	if (!obj) {
		for (size_t i = 0; i < b->n; i++)
			b->items[i].status = PROBE_ERROR;
		return;
	}
	double to = e->ping_timeout_s;
	ping_setopt(obj, PING_OPT_TIMEOUT, &to);
	const probe_options *o = e->env.opts;
	if (o) {
		char source[INET6_ADDRSTRLEN];
		if (o->source4.ss_family &&
		    inet_ntop(AF_INET, &((const struct sockaddr_in *)&o->source4)->sin_addr, source, sizeof(source)))
			ping_setopt(obj, PING_OPT_SOURCE, source);
		if (o->interface[0])
			ping_setopt(obj, PING_OPT_DEVICE, (void *)o->interface);
		if (o->tos >= 0) {
			uint8_t tos = (uint8_t)o->tos;
			ping_setopt(obj, PING_OPT_QOS, &tos);
		}
		if (e->data)
			ping_setopt(obj, PING_OPT_DATA, e->data);
	}
	size_t added = 0;
	for (size_t i = 0; i < b->n; i++) {
		b->items[i].status = PROBE_TIMEOUT;
		if (ping_host_add(obj, b->items[i].addr) != 0) {
			b->items[i].status = PROBE_ERROR;
			continue;
		}
		added++;
	}
	/* liboping keeps hosts in the order added: tag each with its item. */
	size_t i = 0;
	for (pingobj_iter_t *it = ping_iterator_get(obj); it; it = ping_iterator_next(it)) {
		while (i < b->n && b->items[i].status == PROBE_ERROR)
			i++;
		if (i < b->n)
			ping_iterator_set_context(it, &b->items[i++]);
	}
	int64_t started = clock_mono_ns();
	if (added && ping_send(obj) < 0) {
		pthread_mutex_lock(&e->mu);
		snprintf(e->error, sizeof(e->error), "%s", ping_get_error(obj));
		e->error_new = 1;
		pthread_mutex_unlock(&e->mu);
		for (size_t k = 0; k < b->n; k++)
			b->items[k].status = PROBE_ERROR;
	} else {
		/* no reply took longer than the call (checked on delivery) */
		int64_t elapsed = clock_mono_ns() - started;
		for (pingobj_iter_t *it = ping_iterator_get(obj); it; it = ping_iterator_next(it)) {
			lo_item *item = ping_iterator_get_context(it);
			double latency_ms = -1.0;
			size_t len = sizeof(latency_ms);
			if (!item || ping_iterator_get_info(it, PING_INFO_LATENCY, &latency_ms, &len) != 0)
				continue;
			if (latency_ms >= 0.0) {
				item->status = PROBE_OK;
				item->rtt_ns = llround(latency_ms * 1e6);
				item->bound_ns = elapsed;
			}
		}
	}
	ping_destroy(obj);
}

/* Takes the next batch, merging a backlog into one when every worker is
 * busy.  Called with e->mu held; NULL when stopping. */
static lo_batch *take_batch(lo_engine *e)
{
	while (!e->queue_head && !e->stopping)
		pthread_cond_wait(&e->cv, &e->mu);
	if (e->stopping)
		return NULL;
	lo_batch *b = e->queue_head;
	e->queue_head = b->next;
	b->next = NULL;
	e->queued--;
	while (e->queued > 0 && e->queued >= (size_t)e->nworkers) {
		lo_batch *more = e->queue_head;
		e->queue_head = more->next;
		e->queued--;
		if (b->n + more->n > b->cap) {
			size_t cap = b->n + more->n;
			lo_item *items = realloc(b->items, cap * sizeof(*items));
			if (!items) { /* keep it queued for another worker */
				more->next = e->queue_head;
				e->queue_head = more;
				e->queued++;
				break;
			}
			b->items = items;
			b->cap = cap;
		}
		memcpy(b->items + b->n, more->items, more->n * sizeof(*more->items));
		b->n += more->n;
		more->next = NULL;
		batch_free(more);
	}
	if (!e->queue_head)
		e->queue_tail = NULL;
	return b;
}

static void *worker_main(void *arg)
{
	lo_engine *e = arg;
	pthread_mutex_lock(&e->mu);
	for (;;) {
		lo_batch *b = take_batch(e);
		if (!b)
			break;
		pthread_mutex_unlock(&e->mu);
		run_batch(e, b);
		pthread_mutex_lock(&e->mu);
		b->next = e->done_head;
		e->done_head = b;
		uint64_t one = 1;
		if (write(e->efd, &one, sizeof(one)) < 0) {
			/* the counter cannot overflow at our rates; nothing to do */
		}
	}
	pthread_mutex_unlock(&e->mu);
	return NULL;
}

static void deliver(watch *w, uint32_t events)
{
	lo_engine *e = (lo_engine *)w;
	(void)events;
	uint64_t count;
	if (read(e->efd, &count, sizeof(count)) < 0) {
		/* EAGAIN: another wake already drained it */
	}
	pthread_mutex_lock(&e->mu);
	lo_batch *done = e->done_head;
	e->done_head = NULL;
	char error[sizeof(e->error)] = "";
	if (e->error_new) {
		memcpy(error, e->error, sizeof(error));
		e->error_new = 0;
	}
	pthread_mutex_unlock(&e->mu);
	if (error[0])
		pano_say(e->env.log, PANO_LOG_WARN, "liboping: %s", error);
	for (lo_batch *b = done; b; b = b->next)
		for (size_t i = 0; i < b->n; i++) {
			lo_item *it = &b->items[i];
			/* liboping times a reply with the wall clock (the kernel's
			 * receive stamp): a clock step during the probe must not make
			 * an hour-long response time, which would then sit in the phi
			 * window */
			if (it->status == PROBE_OK)
				it->rtt_ns = engine_checked_rtt(it->rtt_ns, it->bound_ns, &e->base.timing,
				                                ENGINE_CLOCK_KERNEL_RX);
			e->env.done(e->env.ctx, it->host, it->gen, it->status, it->rtt_ns);
		}
	batch_free(done);
}

static probe_status lo_send(probe_engine *pe, uint32_t host, uint32_t gen,
                            const struct sockaddr *addr, socklen_t len)
{
	lo_engine *e = ENGINE_OF(pe);
	(void)len;
	lo_batch *b = e->building;
	if (!b) {
		b = e->building = calloc(1, sizeof(*b));
		if (!b)
			return PROBE_ERROR;
	}
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;
		lo_item *items = realloc(b->items, cap * sizeof(*items));
		if (!items)
			return PROBE_ERROR;
		b->items = items;
		b->cap = cap;
	}
	lo_item *it = &b->items[b->n];
	memset(it, 0, sizeof(*it));
	it->host = host;
	it->gen = gen;
	/* Numeric only: liboping must never do a DNS lookup on our behalf. */
	const void *src = addr->sa_family == AF_INET
		? (const void *)&((const struct sockaddr_in *)addr)->sin_addr
		: (const void *)&((const struct sockaddr_in6 *)addr)->sin6_addr;
	if (!inet_ntop(addr->sa_family, src, it->addr, sizeof(it->addr)))
		return PROBE_ERROR;
	if (addr->sa_family == AF_INET6) {
		uint32_t scope = ((const struct sockaddr_in6 *)addr)->sin6_scope_id;
		if (scope) {
			size_t n = strlen(it->addr);
			snprintf(it->addr + n, sizeof(it->addr) - n, "%%%u", scope);
		}
	}
	b->n++;
	return PROBE_OK;
}

static void lo_cancel(probe_engine *pe, uint32_t host)
{
	(void)pe; /* a worker's late outcome carries a stale generation */
	(void)host;
}

/* The workers start with the first batch, not with the engine: an agent
 * started as root makes its engines, then drops root keeping CAP_NET_RAW
 * in its own thread (privdrop.h), and a thread has only the capabilities
 * of the one that made it. */
static bool start_workers(lo_engine *e)
{
	for (int i = e->nworkers; i < LIBOPING_WORKERS; i++) {
		if (pthread_create(&e->workers[i], NULL, worker_main, e) != 0)
			break;
		e->nworkers++;
	}
	return e->nworkers > 0;
}

static void lo_flush(probe_engine *pe)
{
	lo_engine *e = ENGINE_OF(pe);
	lo_batch *b = e->building;
	if (!b || b->n == 0)
		return;
	if (!e->nworkers && !start_workers(e)) {
		e->building = NULL; /* no thread: each probe is an error the loop's deadline reports */
		batch_free(b);
		return;
	}
	e->building = NULL;
	pthread_mutex_lock(&e->mu);
	if (e->queue_tail)
		e->queue_tail->next = b;
	else
		e->queue_head = b;
	e->queue_tail = b;
	e->queued++;
	pthread_cond_signal(&e->cv);
	pthread_mutex_unlock(&e->mu);
}

static void lo_destroy(probe_engine *pe)
{
	lo_engine *e = ENGINE_OF(pe);
	pthread_mutex_lock(&e->mu);
	e->stopping = 1;
	pthread_cond_broadcast(&e->cv);
	pthread_mutex_unlock(&e->mu);
	for (int i = 0; i < e->nworkers; i++)
		pthread_join(e->workers[i], NULL);
	batch_free(e->building);
	batch_free(e->queue_head);
	batch_free(e->done_head);
	if (e->efd >= 0)
		close(e->efd);
	free(e->data);
	pthread_mutex_destroy(&e->mu);
	pthread_cond_destroy(&e->cv);
	free(e);
}

/* Nothing kept per host: hosts travel with each batch. */
static int lo_grow(probe_engine *pe, size_t hosts)
{
	(void)pe;
	(void)hosts;
	return 0;
}

static const probe_engine_ops lo_ops = { lo_send, lo_cancel, lo_flush, lo_destroy, lo_grow };

probe_engine *engine_liboping_new(const engine_env *env, char *err, size_t errlen)
{
	int probe = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
	if (probe < 0) {
		snprintf(err, errlen, "raw ICMP sockets not allowed (%s; liboping needs CAP_NET_RAW)",
		         strerror(errno));
		return NULL;
	}
	/* what liboping will be asked to use, tried once now, so that a
	 * --source or --interface that is not there is said at start */
	if (probe_options_apply(env->opts, probe, AF_INET, err, errlen) != 0) {
		close(probe);
		return NULL;
	}
	close(probe);
	lo_engine *e = calloc(1, sizeof(*e));
	if (!e) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	e->w.ready = deliver;
	e->base.ops = &lo_ops;
	/* liboping sends a string: --size printable bytes */
	if (env->opts && env->opts->payload != PROBE_PAYLOAD_DEFAULT && (e->data = malloc(env->opts->payload + 1))) {
		for (size_t i = 0; i < env->opts->payload; i++)
			e->data[i] = (char)('a' + i % 26);
		e->data[env->opts->payload] = '\0';
	}
	snprintf(e->base.name, sizeof(e->base.name), "icmp (liboping, raw socket)");
	e->env = *env;
	/* Leave the loop a margin to take the outcome before its own deadline. */
	double t = (double)env->timeout_ns / 1e9;
	e->ping_timeout_s = t > 0.1 ? t - 0.02 : t * 0.8;
	pthread_mutex_init(&e->mu, NULL);
	pthread_cond_init(&e->cv, NULL);
	e->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &e->w };
	if (e->efd < 0 || epoll_ctl(env->epfd, EPOLL_CTL_ADD, e->efd, &ev) != 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		lo_destroy(&e->base);
		return NULL;
	}
	e->base.needs_raw = true;
	return &e->base;
}
