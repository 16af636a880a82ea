/* resolver.c - background name resolution; see resolver.h. */
#include "agent/resolver.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

typedef struct {
	size_t host;
	struct sockaddr_storage addr;
	socklen_t len;
} resolution;

struct resolver {
	char *const *names;
	size_t n;
	int64_t retry_ns;
	const char *prog;
	int efd;
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stopping;
	size_t *pending;          /* thread-owned: names still to resolve */
	size_t npending;
	bool *reported;           /* thread-owned: failure already printed */
	resolution *ready;        /* guarded by mu */
	size_t nready, capready;
};

int host_name_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 253)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_' ||
		      c == ':' || c == '%'))
			return 0;
	}
	return 1;
}

/* RFC 6761: names under .invalid never resolve, so no resolver is asked
 * (nothing leaves the machine for them, not even a DNS query). */
static bool never_resolves(const char *name)
{
	size_t n = strlen(name);
	while (n > 0 && name[n - 1] == '.')
		n--;
	return (n == 7 && strncasecmp(name, "invalid", 7) == 0) ||
	       (n > 8 && strncasecmp(name + n - 8, ".invalid", 8) == 0);
}

static int lookup(const char *name, int flags, struct sockaddr_storage *out, socklen_t *len)
{
	if (never_resolves(name))
		return EAI_NONAME;
	struct addrinfo hints = { .ai_flags = flags, .ai_family = AF_UNSPEC,
	                          .ai_socktype = SOCK_DGRAM };
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(name, NULL, &hints, &res);
	if (rc != 0)
		return rc;
	rc = EAI_NONAME;
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		if ((a->ai_family == AF_INET || a->ai_family == AF_INET6) &&
		    a->ai_addrlen <= sizeof(*out)) {
			memcpy(out, a->ai_addr, a->ai_addrlen);
			*len = a->ai_addrlen;
			rc = 0;
			break;
		}
	}
	freeaddrinfo(res);
	return rc;
}

static void post(resolver *r, size_t host, const struct sockaddr_storage *a, socklen_t len)
{
	pthread_mutex_lock(&r->mu);
	if (r->nready == r->capready) {
		size_t cap = r->capready ? r->capready * 2 : 16;
		resolution *nr = realloc(r->ready, cap * sizeof(*nr));
		if (!nr) {
			pthread_mutex_unlock(&r->mu);
			return; /* retried on the next pass */
		}
		r->ready = nr;
		r->capready = cap;
	}
	r->ready[r->nready++] = (resolution){ host, *a, len };
	pthread_mutex_unlock(&r->mu);
	uint64_t one = 1;
	if (write(r->efd, &one, sizeof(one)) < 0) {
		/* cannot overflow at one write per host */
	}
}

static void *resolver_main(void *arg)
{
	resolver *r = arg;
	for (;;) {
		size_t keep = 0;
		for (size_t i = 0; i < r->npending; i++) {
			size_t h = r->pending[i];
			struct sockaddr_storage a;
			socklen_t len = 0;
			int rc = lookup(r->names[h], AI_ADDRCONFIG, &a, &len);
			if (rc == 0) {
				post(r, h, &a, len);
				if (r->reported[h])
					fprintf(stderr, "%s: %s: resolves now\n", r->prog, r->names[h]);
				continue;
			}
			if (!r->reported[h])
				fprintf(stderr, "%s: %s: cannot resolve (%s); retrying every interval\n",
				        r->prog, r->names[h], gai_strerror(rc));
			r->reported[h] = true;
			r->pending[keep++] = h;
		}
		r->npending = keep;
		pthread_mutex_lock(&r->mu);
		if (keep == 0 || r->stopping) {
			pthread_mutex_unlock(&r->mu);
			break;
		}
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		int64_t ns = until.tv_nsec + r->retry_ns;
		until.tv_sec += ns / 1000000000;
		until.tv_nsec = ns % 1000000000;
		while (!r->stopping && pthread_cond_timedwait(&r->cv, &r->mu, &until) == 0)
			;
		bool stop = r->stopping;
		pthread_mutex_unlock(&r->mu);
		if (stop)
			break;
	}
	return NULL;
}

resolver *resolver_new(char *const *names, size_t n, int64_t retry_ns,
                       const char *prog, char *err, size_t errlen)
{
	resolver *r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->names = names;
	r->n = n;
	r->retry_ns = retry_ns;
	r->prog = prog;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	r->pending = calloc(n ? n : 1, sizeof(*r->pending));
	r->reported = calloc(n ? n : 1, sizeof(*r->reported));
	if (r->efd < 0 || !r->pending || !r->reported) {
		snprintf(err, errlen, "resolver: %s", strerror(errno ? errno : ENOMEM));
		resolver_free(r);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		struct sockaddr_storage a;
		socklen_t len;
		if (lookup(names[i], AI_NUMERICHOST, &a, &len) == 0)
			post(r, i, &a, len);
		else
			r->pending[r->npending++] = i;
	}
	if (r->npending) {
		if (pthread_create(&r->thread, NULL, resolver_main, r) != 0) {
			snprintf(err, errlen, "resolver: cannot start its thread");
			resolver_free(r);
			return NULL;
		}
		r->thread_started = true;
	}
	return r;
}

int resolver_fd(const resolver *r) { return r->efd; }

void resolver_collect(resolver *r, resolved_fn fn, void *ctx)
{
	uint64_t count;
	if (read(r->efd, &count, sizeof(count)) < 0) {
		/* EAGAIN: nothing new */
	}
	pthread_mutex_lock(&r->mu);
	resolution *ready = r->ready;
	size_t n = r->nready;
	r->ready = NULL;
	r->nready = r->capready = 0;
	pthread_mutex_unlock(&r->mu);
	for (size_t i = 0; i < n; i++)
		fn(ctx, ready[i].host, (const struct sockaddr *)&ready[i].addr, ready[i].len);
	free(ready);
}

void resolver_free(resolver *r)
{
	if (!r)
		return;
	if (r->thread_started) {
		pthread_mutex_lock(&r->mu);
		r->stopping = true;
		pthread_cond_broadcast(&r->cv);
		pthread_mutex_unlock(&r->mu);
		/* A getaddrinfo in progress finishes first (bounded by the
		 * resolver's own timeouts, resolv.conf). */
		pthread_join(r->thread, NULL);
	}
	if (r->efd >= 0)
		close(r->efd);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
	free(r->pending);
	free(r->reported);
	free(r->ready);
	free(r);
}
