/* resolver.c - background name resolution; see resolver.h. */
#include "agent/resolver.h"
#include "pano/common/grow.h"

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
	size_t slot;
	uint32_t tag;
	struct sockaddr_storage addr;
	socklen_t len;
} resolution;

/* A name still to resolve. */
typedef struct {
	size_t slot;
	uint32_t tag;
	char *name;
	bool reported;            /* its failure was said */
} wanted;

struct resolver {
	int64_t retry_ns;
	const char *prog;
	int efd;
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t mu;       /* guards everything below */
	pthread_cond_t cv;
	bool stopping, added;     /* added: new names since the thread's last pass */
	wanted *want;
	size_t nwant, capwant;
	resolution *ready;
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

/* With mu held. */
static void post_locked(resolver *r, size_t slot, uint32_t tag, const struct sockaddr_storage *a, socklen_t len)
{
	if (grow_array(&r->ready, &r->capready, r->nready + 1, sizeof(*r->ready), 16) != 0)
		return; /* the name stays wanted and is retried */
	r->ready[r->nready++] = (resolution){ slot, tag, *a, len };
	uint64_t one = 1;
	if (write(r->efd, &one, sizeof(one)) < 0) {
		/* an eventfd counter does not overflow at one write per name */
	}
}

static wanted *find_wanted(resolver *r, size_t slot)
{
	for (size_t i = 0; i < r->nwant; i++)
		if (r->want[i].slot == slot)
			return &r->want[i];
	return NULL;
}

static void drop_wanted(resolver *r, wanted *w)
{
	free(w->name);
	*w = r->want[--r->nwant];
}

/* One pass over the names wanted when it began: resolved ones are posted
 * and dropped, failures said once. */
static void resolve_pass(resolver *r)
{
	pthread_mutex_lock(&r->mu);
	size_t n = r->nwant;
	wanted *copy = malloc((n ? n : 1) * sizeof(*copy));
	for (size_t i = 0; copy && i < n; i++) {
		copy[i] = r->want[i];
		copy[i].name = strdup(r->want[i].name);
	}
	r->added = false;
	pthread_mutex_unlock(&r->mu);
	for (size_t i = 0; copy && i < n; i++) {
		struct sockaddr_storage a;
		socklen_t len = 0;
		int rc = copy[i].name ? lookup(copy[i].name, AI_ADDRCONFIG, &a, &len) : EAI_MEMORY;
		pthread_mutex_lock(&r->mu);
		wanted *w = find_wanted(r, copy[i].slot);
		if (w && w->tag == copy[i].tag) {
			if (rc == 0) {
				if (w->reported)
					fprintf(stderr, "%s: %s: resolves now\n", r->prog, w->name);
				post_locked(r, w->slot, w->tag, &a, len);
				drop_wanted(r, w);
			} else if (!w->reported) {
				fprintf(stderr, "%s: %s: cannot resolve (%s); retrying every interval\n", r->prog, w->name,
				        gai_strerror(rc));
				w->reported = true;
			}
		}
		pthread_mutex_unlock(&r->mu);
		free(copy[i].name);
	}
	free(copy);
}

static void *resolver_main(void *arg)
{
	resolver *r = arg;
	for (;;) {
		resolve_pass(r);
		pthread_mutex_lock(&r->mu);
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		int64_t ns = until.tv_nsec + r->retry_ns;
		until.tv_sec += ns / 1000000000;
		until.tv_nsec = ns % 1000000000;
		while (!r->stopping && !r->added && pthread_cond_timedwait(&r->cv, &r->mu, &until) == 0)
			;
		bool stop = r->stopping;
		pthread_mutex_unlock(&r->mu);
		if (stop)
			break;
	}
	return NULL;
}

resolver *resolver_new(int64_t retry_ns, const char *prog, char *err, size_t errlen)
{
	resolver *r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->retry_ns = retry_ns;
	r->prog = prog;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (r->efd < 0) {
		snprintf(err, errlen, "resolver: %s", strerror(errno));
		resolver_free(r);
		return NULL;
	}
	return r;
}

/* With mu held: a name to look up. */
static int want_locked(resolver *r, size_t slot, uint32_t tag, const char *name)
{
	if (grow_array(&r->want, &r->capwant, r->nwant + 1, sizeof(*r->want), 16) != 0)
		return -1;
	char *copy = strdup(name);
	if (!copy)
		return -1;
	r->want[r->nwant++] = (wanted){ slot, tag, copy, false };
	r->added = true;
	pthread_cond_signal(&r->cv);
	if (!r->thread_started)
		r->thread_started = pthread_create(&r->thread, NULL, resolver_main, r) == 0;
	return r->thread_started ? 0 : -1;
}

int resolver_add(resolver *r, size_t slot, uint32_t tag, const char *name)
{
	struct sockaddr_storage a;
	socklen_t len;
	bool numeric = lookup(name, AI_NUMERICHOST, &a, &len) == 0;
	int rc = 0;
	pthread_mutex_lock(&r->mu);
	wanted *old = find_wanted(r, slot);
	if (old)
		drop_wanted(r, old);
	if (numeric)
		post_locked(r, slot, tag, &a, len);
	else
		rc = want_locked(r, slot, tag, name);
	pthread_mutex_unlock(&r->mu);
	return rc;
}

void resolver_forget(resolver *r, size_t slot)
{
	pthread_mutex_lock(&r->mu);
	wanted *w = find_wanted(r, slot);
	if (w)
		drop_wanted(r, w);
	pthread_mutex_unlock(&r->mu);
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
		fn(ctx, ready[i].slot, ready[i].tag, (const struct sockaddr *)&ready[i].addr, ready[i].len);
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
	for (size_t i = 0; i < r->nwant; i++)
		free(r->want[i].name);
	free(r->want);
	free(r->ready);
	free(r);
}
