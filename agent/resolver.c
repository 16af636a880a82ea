/* resolver.c - background name resolution; see resolver.h. */
#include "agent/resolver.h"
#include "pano/common/clock.h"
#include "pano/common/grow.h"
#include "pano/common/hostaddr.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

/* An answer for the loop. */
typedef struct {
	size_t slot;
	uint32_t tag;
	bool ok;
	struct sockaddr_storage addr;
	socklen_t len;
	char why[96];
} resolution;

/* A name followed. */
typedef struct {
	size_t slot;
	uint32_t tag;
	char *name;
	int64_t due_ns;           /* its next lookup (monotonic) */
	int64_t wait_ns;          /* the wait after its next failure */
	bool have;                /* addr holds its current address */
	bool failing;             /* its last answer posted was a failure */
	struct sockaddr_storage addr;
	socklen_t len;
} followed;

struct resolver {
	int64_t retry_ns, refresh_ns;
	int efd;
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t mu;       /* guards everything below */
	pthread_cond_t cv;
	bool stopping, added;     /* added: new names since the thread's last pass */
	followed *names;
	size_t nnames, capnames;
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

static bool same_sockaddr(const struct sockaddr_storage *a, socklen_t alen, const struct sockaddr *b, socklen_t blen)
{
	return alen == blen && memcmp(a, b, alen) == 0;
}

/* Looks name up: 0 with the address (the one kept, when keep is among the
 * answers, else the first preferred), or an EAI_ code. */
static int lookup(const char *name, int flags, const followed *keep, struct sockaddr_storage *out, socklen_t *len)
{
	if (never_resolves(name))
		return EAI_NONAME;
	struct addrinfo hints = { .ai_flags = flags, .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM };
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(name, NULL, &hints, &res);
	if (rc != 0)
		return rc;
	rc = EAI_NONAME;
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) || a->ai_addrlen > sizeof(*out))
			continue;
		if (rc != 0 || (keep && keep->have && same_sockaddr(&keep->addr, keep->len, a->ai_addr, a->ai_addrlen))) {
			memcpy(out, a->ai_addr, a->ai_addrlen);
			*len = a->ai_addrlen;
			rc = 0;
		}
	}
	freeaddrinfo(res);
	return rc;
}

/* With mu held. */
static void post_locked(resolver *r, const resolution *x)
{
	if (grow_array(&r->ready, &r->capready, r->nready + 1, sizeof(*r->ready), 16) != 0)
		return; /* the name is looked up again at its next turn */
	r->ready[r->nready++] = *x;
	uint64_t one = 1;
	if (write(r->efd, &one, sizeof(one)) < 0) {
		/* an eventfd counter does not overflow at these rates */
	}
}

static followed *find_name(resolver *r, size_t slot)
{
	for (size_t i = 0; i < r->nnames; i++)
		if (r->names[i].slot == slot)
			return &r->names[i];
	return NULL;
}

static void drop_name(resolver *r, followed *f)
{
	free(f->name);
	*f = r->names[--r->nnames];
}

/* With mu held: what one lookup of f found, posted when it changes what
 * the loop knows, and f's next turn. */
static void settle_locked(resolver *r, followed *f, int rc, const struct sockaddr_storage *a, socklen_t len,
                          int64_t now)
{
	resolution x = { .slot = f->slot, .tag = f->tag, .ok = rc == 0 };
	if (rc == 0) {
		bool changed = !f->have || !same_sockaddr(&f->addr, f->len, (const struct sockaddr *)a, len);
		f->due_ns = now + r->refresh_ns;
		f->wait_ns = r->retry_ns;
		if (!changed && !f->failing)
			return;
		f->addr = *a;
		f->len = len;
		f->have = true;
		f->failing = false;
		x.addr = *a;
		x.len = len;
		post_locked(r, &x);
		return;
	}
	f->due_ns = now + f->wait_ns;
	f->wait_ns = f->wait_ns * 2 < r->refresh_ns ? f->wait_ns * 2 : r->refresh_ns;
	if (f->have && rc == EAI_AGAIN)
		return; /* the resolver is down: keep probing the address we had */
	if (f->failing)
		return;
	f->failing = true;
	f->have = false;
	snprintf(x.why, sizeof(x.why), "%s", gai_strerror(rc));
	post_locked(r, &x);
}

/* One pass over the names due when it began. */
static void resolve_pass(resolver *r)
{
	int64_t now = clock_mono_ns();
	pthread_mutex_lock(&r->mu);
	r->added = false;
	size_t n = 0;
	followed *due = malloc((r->nnames ? r->nnames : 1) * sizeof(*due));
	for (size_t i = 0; due && i < r->nnames; i++) {
		if (r->names[i].due_ns > now)
			continue;
		due[n] = r->names[i];
		due[n].name = strdup(r->names[i].name);
		if (due[n].name)
			n++;
	}
	pthread_mutex_unlock(&r->mu);
	for (size_t i = 0; i < n; i++) {
		struct sockaddr_storage a;
		socklen_t len = 0;
		int rc = lookup(due[i].name, AI_ADDRCONFIG, &due[i], &a, &len);
		pthread_mutex_lock(&r->mu);
		followed *f = find_name(r, due[i].slot);
		if (f && f->tag == due[i].tag)
			settle_locked(r, f, rc, &a, len, clock_mono_ns());
		pthread_mutex_unlock(&r->mu);
		free(due[i].name);
	}
	free(due);
}

/* With mu held: when the next name is due (INT64_MAX: none). */
static int64_t next_due_locked(const resolver *r)
{
	int64_t next = INT64_MAX;
	for (size_t i = 0; i < r->nnames; i++)
		if (r->names[i].due_ns < next)
			next = r->names[i].due_ns;
	return next;
}

static void *resolver_main(void *arg)
{
	resolver *r = arg;
	for (;;) {
		resolve_pass(r);
		pthread_mutex_lock(&r->mu);
		while (!r->stopping && !r->added) {
			int64_t next = next_due_locked(r), now = clock_mono_ns();
			if (next <= now)
				break;
			int64_t wait = next - now < INT64_C(60000000000) ? next - now : INT64_C(60000000000);
			struct timespec until;
			clock_gettime(CLOCK_MONOTONIC, &until);
			int64_t ns = until.tv_nsec + wait;
			until.tv_sec += ns / 1000000000;
			until.tv_nsec = ns % 1000000000;
			pthread_cond_timedwait(&r->cv, &r->mu, &until);
		}
		bool stop = r->stopping;
		pthread_mutex_unlock(&r->mu);
		if (stop)
			break;
	}
	return NULL;
}

resolver *resolver_new(int64_t retry_ns, int64_t refresh_ns, char *err, size_t errlen)
{
	resolver *r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->retry_ns = retry_ns > 0 ? retry_ns : INT64_C(1000000000);
	r->refresh_ns = refresh_ns > r->retry_ns ? refresh_ns : r->retry_ns;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, &ca);
	pthread_condattr_destroy(&ca);
	r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (r->efd < 0) {
		snprintf(err, errlen, "resolver: %s", strerror(errno));
		resolver_free(r);
		return NULL;
	}
	return r;
}

/* With mu held: a name to follow. */
static int follow_locked(resolver *r, size_t slot, uint32_t tag, const char *name)
{
	if (grow_array(&r->names, &r->capnames, r->nnames + 1, sizeof(*r->names), 16) != 0)
		return -1;
	char *copy = strdup(name);
	if (!copy)
		return -1;
	r->names[r->nnames++] = (followed){ .slot = slot, .tag = tag, .name = copy, .due_ns = clock_mono_ns(),
	                                    .wait_ns = r->retry_ns };
	r->added = true;
	pthread_cond_signal(&r->cv);
	if (!r->thread_started)
		r->thread_started = pthread_create(&r->thread, NULL, resolver_main, r) == 0;
	return r->thread_started ? 0 : -1;
}

int resolver_add(resolver *r, size_t slot, uint32_t tag, const char *name)
{
	resolution x = { .slot = slot, .tag = tag };
	hostaddr_kind kind = hostaddr_classify(name, NULL, 0);
	bool now = true;
	if (kind == HOSTADDR_ADDRESS || kind == HOSTADDR_ALIAS)
		x.ok = lookup(name, AI_NUMERICHOST, NULL, &x.addr, &x.len) == 0;
	else if (kind == HOSTADDR_NAME && !never_resolves(name))
		now = false;
	if (now && !x.ok && !hostaddr_problem(name, x.why, sizeof(x.why)))
		snprintf(x.why, sizeof(x.why), "a name under .invalid, which never resolves (RFC 6761)");
	int rc = 0;
	pthread_mutex_lock(&r->mu);
	followed *old = find_name(r, slot);
	if (old)
		drop_name(r, old);
	if (now)
		post_locked(r, &x);
	else
		rc = follow_locked(r, slot, tag, name);
	pthread_mutex_unlock(&r->mu);
	return rc;
}

void resolver_forget(resolver *r, size_t slot)
{
	pthread_mutex_lock(&r->mu);
	followed *f = find_name(r, slot);
	if (f)
		drop_name(r, f);
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
	for (size_t i = 0; i < n; i++) {
		resolution_result res = { ready[i].ok, (const struct sockaddr *)&ready[i].addr, ready[i].len, ready[i].why };
		fn(ctx, ready[i].slot, ready[i].tag, &res);
	}
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
	for (size_t i = 0; i < r->nnames; i++)
		free(r->names[i].name);
	free(r->names);
	free(r->ready);
	free(r);
}
