/* agent.c - the probe loop; see agent.h. */
#include "agent/agent.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "agent/csvlog.h"
#include "pano/common/model.h"
#include "agent/pipeline.h"
#include "agent/promfile.h"
#include "pano/client/publisher.h"
#include "agent/resolver.h"
#include "agent/schedule.h"
#include "agent/statefile.h"
#include "agent/timefmt.h"
#include "pano/common/http.h"
#include "pano/common/clock.h"

/* HTM models are ~125 KB each: saved every 5 minutes, and at exit. */
#define STATE_SAVE_EVERY_NS (300 * INT64_C(1000000000))
#define LOG_FLUSH_EVERY_NS (INT64_C(1000000000))
#define DRAIN_GRACE_NS (100 * INT64_C(1000000))
/* Probes due within this much of each other go out in one wake-up: at
 * 10,000 hosts a second that is 10 probes a wake instead of one, a tenth of
 * the context switches, for at most this much lateness. */
#define SEND_COALESCE_NS (INT64_C(1000000))
#define PUBLISH_POLL_NS (INT64_C(20000000))

typedef struct {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	bool resolved;
	bool inflight;
	uint32_t gen;
	int64_t send_wall_ms;
} host_slot;

typedef struct {
	uint32_t host, gen;
	int64_t deadline_ns;
} pending_timeout;

typedef struct {
	uint64_t sent, answered, lost, errors, skipped, unresolved;
} probe_counts;

typedef struct {
	const agent_config *cfg;
	host_slot *hosts;
	size_t n;
	int64_t interval_ns, timeout_ns;
	schedule sched;
	/* In-flight probes in send order.  Every probe has the same timeout,
	 * so send order is deadline order and a FIFO is all the timer needed. */
	pending_timeout *fifo;
	size_t fifo_cap, fifo_head, fifo_len;
	probe_engine *engine;
	pipeline *pipe;
	csvlogs *logs;
	resolver *res;
	publisher *pub;
	int epfd;
	watch signal_watch, resolver_watch, http_watch;
	pano_http *http;          /* --http: /metrics, live */
	char method[64];          /* the engine's name to its first blank: icmp, tcp:7 */
	bool *resolved;           /* per host: its address is known */
	int sigfd;
	bool stopping, reopen;
	bool no_pwait2; /* epoll_pwait2 is not available here */
	char state_path[PATH_MAX];
	probe_counts counts;
	lateness_histogram lateness;
} agent;

static void complete(agent *a, uint32_t host, probe_status st, int64_t rtt_ns)
{
	host_slot *h = &a->hosts[host];
	h->inflight = false;
	if (st == PROBE_OK)
		a->counts.answered++;
	else if (st == PROBE_TIMEOUT)
		a->counts.lost++;
	else
		a->counts.errors++;
	if (st == PROBE_OK && rtt_ns < 0)
		rtt_ns = 0;
	FILE *sonar = csvlogs_file(a->logs, LOG_SONAR);
	char ts[TIMEFMT_LEN];
	timefmt_format(h->send_wall_ms, ts);
	if (st == PROBE_OK)
		fprintf(sonar, "%s,%s,%lld\n", ts, a->cfg->hosts[host], (long long)rtt_ns);
	else
		fprintf(sonar, "%s,%s,\n", ts, a->cfg->hosts[host]);
	pipeline_observe(a->pipe, host, h->send_wall_ms, st, rtt_ns);
}

static void on_probe_done(void *ctx, uint32_t host, uint32_t gen, probe_status st, int64_t rtt_ns)
{
	agent *a = ctx;
	if (host >= a->n || !a->hosts[host].inflight || a->hosts[host].gen != gen)
		return; /* stale: already timed out */
	complete(a, host, st, rtt_ns);
}

/* The address probed for host, as promfile labels it. */
static void address_of(void *ctx, size_t host, char *out, size_t len)
{
	agent *a = ctx;
	out[0] = '\0';
	if (!a->resolved || !a->resolved[host])
		return;
	const struct sockaddr *sa = (const struct sockaddr *)&a->hosts[host].addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)len);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)len);
}

static promfile_labels labels_of(agent *a)
{
	if (!a->method[0] && a->engine) {
		snprintf(a->method, sizeof(a->method), "%s", a->engine->name);
		a->method[strcspn(a->method, " ")] = '\0';
	}
	return (promfile_labels){ a->method, address_of, a };
}

/* --http: only /metrics, rendered on the loop at each scrape. */
static pano_http_answer render_http(void *ctx, const char *path, const char *query)
{
	(void)query;
	agent *a = ctx;
	pano_http_answer no = { .body = strdup("only /metrics here\n"), .content_type = "text/plain; charset=utf-8", .status = 404 };
	if (strcmp(path, "/metrics") != 0) {
		no.len = no.body ? strlen(no.body) : 0;
		return no;
	}
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return (pano_http_answer){ .status = 500 };
	promfile_labels l = labels_of(a);
	promfile_render(f, a->pipe, a->cfg->det.interval_s, &l);
	fclose(f);
	free(no.body);
	return (pano_http_answer){ .body = buf, .len = len, .content_type = "text/plain; version=0.0.4; charset=utf-8", .status = 200 };
}

static void http_ready(watch *w, uint32_t events)
{
	(void)events;
	agent *a = (agent *)((char *)w - offsetof(agent, http_watch));
	pano_http_run_jobs(a->http);
}

static void on_resolved(void *ctx, size_t host, const struct sockaddr *addr, socklen_t len)
{
	agent *a = ctx;
	memcpy(&a->hosts[host].addr, addr, len);
	if (a->resolved)
		a->resolved[host] = true;
	a->hosts[host].addrlen = len;
	a->hosts[host].resolved = true;
}

static void resolver_ready(watch *w, uint32_t events)
{
	agent *a = (agent *)((char *)w - offsetof(agent, resolver_watch));
	(void)events;
	resolver_collect(a->res, on_resolved, a);
}

static void signal_ready(watch *w, uint32_t events)
{
	agent *a = (agent *)((char *)w - offsetof(agent, signal_watch));
	(void)events;
	struct signalfd_siginfo si;
	while (read(a->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP)
			a->reopen = true;
		else
			a->stopping = true;
	}
}

static void expire_timeouts(agent *a, int64_t now)
{
	while (a->fifo_len) {
		pending_timeout *t = &a->fifo[a->fifo_head];
		host_slot *h = &a->hosts[t->host];
		bool live = h->inflight && h->gen == t->gen;
		if (live && t->deadline_ns > now)
			break;
		a->fifo_head = (a->fifo_head + 1) % a->fifo_cap;
		a->fifo_len--;
		if (live) {
			engine_cancel(a->engine, t->host);
			complete(a, t->host, PROBE_TIMEOUT, -1);
		}
	}
}

static void send_due(agent *a, int64_t now)
{
	int64_t due;
	while ((due = schedule_due(&a->sched, a->sched.next)) <= now) {
		uint32_t host = (uint32_t)schedule_host(&a->sched, a->sched.next);
		a->sched.next++;
		/* After a stall (SIGSTOP, a suspended VM) skip what is more than
		 * an interval overdue instead of sending it all in one burst. */
		if (now - due > a->interval_ns) {
			a->counts.skipped++;
			continue;
		}
		host_slot *h = &a->hosts[host];
		if (!h->resolved) {
			a->counts.unresolved++;
			continue;
		}
		if (h->inflight) { /* only when timeout == interval, to the ns */
			engine_cancel(a->engine, host);
			complete(a, host, PROBE_TIMEOUT, -1);
		}
		if (a->fifo_len == a->fifo_cap)
			expire_timeouts(a, INT64_MAX); /* cannot happen: cap > 2 rounds */
		h->gen++;
		h->inflight = true;
		h->send_wall_ms = clock_wall_ms();
		a->fifo[(a->fifo_head + a->fifo_len) % a->fifo_cap] =
			(pending_timeout){ host, h->gen, now + a->timeout_ns };
		a->fifo_len++;
		lateness_record(&a->lateness, now - due);
		a->counts.sent++;
		if (engine_send(a->engine, host, h->gen, (struct sockaddr *)&h->addr,
		                h->addrlen) != PROBE_OK && h->inflight)
			complete(a, host, PROBE_ERROR, -1);
		now = clock_mono_ns();
	}
	engine_flush(a->engine);
}

/* Attention states to Panorama statuses, and a score: 100 is healthy. */
static void report_to_panorama(void *ctx, const char *host, attention_state st, double phi,
                               double anomaly, int64_t wall_ms)
{
	agent *a = ctx;
	(void)anomaly;
	int status = st == ATTENTION_HEALTHY ? PANO_HEALTHY : st == ATTENTION_PENDING ? PANO_PENDING
	             : st == ATTENTION_NEEDS_ATTENTION ? PANO_UNHEALTHY : PANO_DEAD;
	double score = st == ATTENTION_DEAD ? 0.0 : 100.0 / (1.0 + phi);
	publisher_report(a->pub, host, "rtt", status, score, wall_ms * 1000000);
}

static void save_state(agent *a)
{
	char err[512] = "";
	if (pipeline_save_state(a->pipe, a->state_path, err, sizeof(err)) != 0)
		fprintf(stderr, "%s: saving state: %s\n", a->cfg->prog, err);
}

static int load_state(agent *a)
{
	char err[512] = "";
	size_t restored = 0;
	int rc = pipeline_load_state(a->pipe, a->state_path, &restored, err, sizeof(err));
	if (rc >= 0)
		return 0;
	char moved[PATH_MAX + 64];
	if (statefile_set_aside(a->state_path, moved, sizeof(moved)) == 0)
		fprintf(stderr, "%s: state %s; moved to %s, starting fresh\n",
		        a->cfg->prog, err, moved);
	else
		fprintf(stderr, "%s: state %s; cannot move it aside (%s), starting fresh\n",
		        a->cfg->prog, err, strerror(errno));
	return 0;
}

static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int setup(agent *a, const agent_config *cfg, char *err, size_t errlen)
{
	a->cfg = cfg;
	a->n = cfg->nhosts;
	a->interval_ns = (int64_t)(cfg->det.interval_s * 1e9 + 0.5);
	a->timeout_ns = (int64_t)(cfg->det.timeout_s * 1e9 + 0.5);
	a->sigfd = a->epfd = -1;
	a->hosts = calloc(a->n, sizeof(*a->hosts));
	a->resolved = calloc(a->n ? a->n : 1, sizeof(*a->resolved));
	a->fifo_cap = 2 * a->n + 8;
	a->fifo = calloc(a->fifo_cap, sizeof(*a->fifo));
	if (!a->hosts || !a->fifo || !a->resolved) {
		snprintf(err, errlen, "out of memory for %zu hosts", a->n);
		return -1;
	}
	raise_fd_limit();

	const char *state_dir = cfg->state_dir;
	char default_state[PATH_MAX];
	if (!state_dir) {
		if (snprintf(default_state, sizeof(default_state), "%s/state", cfg->det.log_dir) >=
		    (int)sizeof(default_state)) {
			snprintf(err, errlen, "--log-dir: name too long");
			return -1;
		}
		state_dir = default_state;
	}
	if (make_dirs(state_dir) != 0) {
		snprintf(err, errlen, "--state-dir %.200s: %s", state_dir, strerror(errno));
		return -1;
	}
	if (snprintf(a->state_path, sizeof(a->state_path), "%s/phi.state", state_dir) >=
	    (int)sizeof(a->state_path)) {
		snprintf(err, errlen, "--state-dir: name too long");
		return -1;
	}

	a->logs = csvlogs_open(cfg->det.log_dir, LOG_ALL, err, errlen);
	if (!a->logs)
		return -1;
	pipeline_params pp;
	detector_options_to_params(&cfg->det, &pp);
	a->pipe = pipeline_new(&pp, a->logs);
	if (!a->pipe) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < a->n; i++)
		if (pipeline_add_host(a->pipe, cfg->hosts[i]) < 0) {
			snprintf(err, errlen, "out of memory for %zu hosts", a->n);
			return -1;
		}
	load_state(a);

	/* Signals arrive as readable data, never interrupting the loop; they
	 * are blocked before any thread starts so none of those takes them. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	a->epfd = epoll_create1(EPOLL_CLOEXEC);
	a->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (a->epfd < 0 || a->sigfd < 0) {
		snprintf(err, errlen, "epoll/signalfd: %s", strerror(errno));
		return -1;
	}
	a->signal_watch.ready = signal_ready;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &a->signal_watch };
	if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, a->sigfd, &ev) != 0) {
		snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
		return -1;
	}

	engine_env env = { a->epfd, a->n, a->timeout_ns, on_probe_done, a };
	char why[256] = "";
	a->engine = engine_for_method(&cfg->method, &env, why, sizeof(why));
	if (!a->engine) {
		snprintf(err, errlen, "--method: %s", why);
		return -1;
	}
	fprintf(stderr, "%s: probing %zu host%s every %g s by %s\n", cfg->prog, a->n,
	        a->n == 1 ? "" : "s", cfg->det.interval_s, a->engine->name);

	if (cfg->nservers) {
		char queue[PATH_MAX + 32];
		snprintf(queue, sizeof(queue), "%.4000s/publish.queue", state_dir);
		a->pub = publisher_new(cfg->servers, cfg->curves, cfg->nservers, cfg->observer, queue, cfg->prog, err,
		                       errlen);
		if (!a->pub)
			return -1;
		pipeline_set_reporter(a->pipe, report_to_panorama, a);
		fprintf(stderr, "%s: reporting to Panorama %s as observer %s%s\n", cfg->prog, cfg->servers[0],
		        cfg->observer, cfg->curves ? " (CURVE)" : " without CURVE keys (plain text; see --key)");
	}
	a->res = resolver_new(cfg->hosts, a->n, a->interval_ns, cfg->prog, err, errlen);
	if (!a->res)
		return -1;
	a->resolver_watch.ready = resolver_ready;
	ev.data.ptr = &a->resolver_watch;
	if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, resolver_fd(a->res), &ev) != 0) {
		snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
		return -1;
	}
	if (cfg->http_addr) {
		a->http = pano_http_new(cfg->http_addr, cfg->http_token, render_http, a, err, errlen);
		if (!a->http)
			return -1;
		a->http_watch.ready = http_ready;
		ev.data.ptr = &a->http_watch;
		if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, pano_http_fd(a->http), &ev) != 0) {
			snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
			return -1;
		}
		fprintf(stderr, "%s: metrics on http://%s/metrics\n", cfg->prog, cfg->http_addr);
	}
	resolver_collect(a->res, on_resolved, a); /* the numeric addresses */
	return 0;
}

/* Rewrites the metrics file; a failure is said once, until it works again. */
static void write_prom(agent *a, bool *failed)
{
	char err[600];
	promfile_labels l = labels_of(a);
	if (promfile_write(a->cfg->prom_file, a->pipe, a->cfg->det.interval_s, &l, err, sizeof(err)) != 0) {
		if (!*failed)
			fprintf(stderr, "%s: --prom-file: %s\n", a->cfg->prog, err);
		*failed = true;
	} else {
		*failed = false;
	}
}

static void teardown(agent *a)
{
	if (a->pub) {
		/* a last second to deliver what is queued; the rest stays on disk */
		int64_t until = clock_mono_ns() + INT64_C(1000000000);
		while (publisher_pending(a->pub) && clock_mono_ns() < until) {
			publisher_poll(a->pub, clock_mono_ns());
			usleep(10000);
		}
		publisher_free(a->pub);
	}
	pano_http_free(a->http); /* its threads wait on this loop: first */
	resolver_free(a->res);
	engine_free(a->engine);
	if (a->pipe && a->logs)
		save_state(a);
	pipeline_free(a->pipe);
	csvlogs_close(a->logs);
	if (a->sigfd >= 0)
		close(a->sigfd);
	if (a->epfd >= 0)
		close(a->epfd);
	free(a->hosts);
	free(a->resolved);
	free(a->fifo);
}

static void print_stats(const agent *a, int64_t elapsed_ns)
{
	double secs = (double)elapsed_ns / 1e9;
	fprintf(stderr,
	        "%s: stats: hosts=%zu seconds=%.1f sent=%llu answered=%llu lost=%llu errors=%llu "
	        "skipped=%llu unresolved=%llu probes_per_s=%.1f lateness_p50_us=%.0f "
	        "lateness_p99_us=%.0f lateness_max_us=%.0f\n",
	        a->cfg->prog, a->n, secs, (unsigned long long)a->counts.sent,
	        (unsigned long long)a->counts.answered, (unsigned long long)a->counts.lost,
	        (unsigned long long)a->counts.errors, (unsigned long long)a->counts.skipped,
	        (unsigned long long)a->counts.unresolved,
	        secs > 0 ? (double)a->counts.sent / secs : 0.0,
	        (double)lateness_quantile(&a->lateness, 0.5) / 1e3,
	        (double)lateness_quantile(&a->lateness, 0.99) / 1e3,
	        (double)a->lateness.max_ns / 1e3);
}

/* epoll_pwait2 waits to the nanosecond; kernels before 5.11 (and
 * valgrind) lack it, and then epoll_wait, rounded up to the millisecond,
 * does. */
static int wait_events(agent *a, struct epoll_event *evs, int max, int64_t wait_ns)
{
	if (!a->no_pwait2) {
		struct timespec ts = { wait_ns / 1000000000, wait_ns % 1000000000 };
		int n = epoll_pwait2(a->epfd, evs, max, &ts, NULL);
		if (n >= 0 || errno != ENOSYS)
			return n;
		a->no_pwait2 = true;
	}
	int64_t ms = (wait_ns + 999999) / 1000000;
	return epoll_wait(a->epfd, evs, max, ms > INT32_MAX ? INT32_MAX : (int)ms);
}

int agent_run(const agent_config *cfg)
{
	agent a;
	memset(&a, 0, sizeof(a));
	char err[512] = "";
	if (setup(&a, cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s: %s\n", cfg->prog, err);
		teardown(&a);
		return 1;
	}
	int64_t start = clock_mono_ns();
	schedule_init(&a.sched, start, a.interval_ns, a.n);
	int64_t end = cfg->duration_s > 0 ? start + (int64_t)(cfg->duration_s * 1e9) : INT64_MAX;
	int64_t next_flush = start + LOG_FLUSH_EVERY_NS;
	/* the metrics file: every interval, but not more than once a second */
	int64_t prom_every = a.interval_ns > LOG_FLUSH_EVERY_NS ? a.interval_ns : LOG_FLUSH_EVERY_NS;
	int64_t next_prom = cfg->prom_file ? start + prom_every : INT64_MAX;
	bool prom_failed = false;
	/* a file that cannot be written at all is a mistake to say at once, as
	 * an error; one that fails later is said once and probing goes on */
	if (cfg->prom_file) {
		write_prom(&a, &prom_failed);
		if (prom_failed) {
			teardown(&a);
			return 1;
		}
	}
	int64_t next_save = start + STATE_SAVE_EVERY_NS;
	int64_t drain_until = INT64_MAX;

	for (;;) {
		int64_t now = clock_mono_ns();
		if ((a.stopping || now >= end) && drain_until == INT64_MAX) {
			/* Stop sending; let the probes in flight finish. */
			a.stopping = true;
			drain_until = now + a.timeout_ns + DRAIN_GRACE_NS;
		}
		expire_timeouts(&a, now);
		if (a.stopping) {
			if (a.fifo_len == 0 || now >= drain_until)
				break;
		} else {
			send_due(&a, now);
		}
		if (a.reopen) {
			a.reopen = false;
			if (csvlogs_reopen(a.logs, err, sizeof(err)) != 0)
				fprintf(stderr, "%s: reopening logs: %s\n", cfg->prog, err);
		}
		now = clock_mono_ns();
		if (now >= next_flush) {
			csvlogs_flush(a.logs);
			next_flush = now + LOG_FLUSH_EVERY_NS;
		}
		if (now >= next_save) {
			save_state(&a);
			next_save = now + STATE_SAVE_EVERY_NS;
		}

		if (now >= next_prom) {
			write_prom(&a, &prom_failed);
			next_prom = now + prom_every;
		}
		int64_t wake = next_flush < next_prom ? next_flush : next_prom;
		if (!a.stopping) {
			int64_t due = schedule_due(&a.sched, a.sched.next);
			if (due > now && due < now + SEND_COALESCE_NS)
				due = now + SEND_COALESCE_NS;
			if (due < wake)
				wake = due;
			if (end < wake)
				wake = end;
		} else if (drain_until < wake) {
			wake = drain_until;
		}
		if (a.fifo_len && a.fifo[a.fifo_head].deadline_ns < wake)
			wake = a.fifo[a.fifo_head].deadline_ns;
		if (a.pub) {
			publisher_poll(a.pub, now);
			/* replies come on zmq's own sockets: look again soon */
			if (publisher_pending(a.pub) && now + PUBLISH_POLL_NS < wake)
				wake = now + PUBLISH_POLL_NS;
		}
		int64_t wait = wake - now;
		if (wait < 0)
			wait = 0;
		struct epoll_event evs[64];
		int n = wait_events(&a, evs, 64, wait);
		for (int i = 0; i < n; i++) {
			watch *w = evs[i].data.ptr;
			w->ready(w, evs[i].events);
		}
	}
	if (cfg->prom_file)
		write_prom(&a, &prom_failed); /* the final figures */
	if (cfg->stats)
		print_stats(&a, clock_mono_ns() - start);
	teardown(&a);
	return 0;
}
