/* agent.c - the probe loop; see agent.h. */
#include "agent/agent_internal.h"

#include <errno.h>
#include <stddef.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "pano/common/model.h"
#include "agent/promfile.h"
#include "agent/statefile.h"
#include "agent/timefmt.h"
#include "pano/common/clock.h"
#include "pano/common/privdrop.h"

/* HTM models are ~200 KB each: saved every 5 minutes, and at exit. */
#define STATE_SAVE_EVERY_NS (300 * INT64_C(1000000000))
#define LOG_FLUSH_EVERY_NS (INT64_C(1000000000))
#define DRAIN_GRACE_NS (100 * INT64_C(1000000))
/* Probes due within this much of each other go out in one wake-up: at
 * 10,000 hosts a second that is 10 probes a wake instead of one, a tenth of
 * the context switches, for at most this much lateness. */
#define SEND_COALESCE_NS (INT64_C(1000000))
#define PUBLISH_POLL_NS (INT64_C(20000000))
/* The detector state's file, in the state directory. */
#define STATE_FILE "phi.state"

static promfile_labels labels_of(agent *a)
{
	return (promfile_labels){ hosts_describe, a };
}

/* The metrics' snapshot: a new one at most once a second, and none while
 * MAX_SNAPSHOTS are still being read (slow scrapers each hold theirs), so
 * what scrapes cost the loop and the memory is bounded whoever scrapes. */
#define SNAPSHOT_EVERY_NS (INT64_C(1000000000))
#define MAX_SNAPSHOTS 4

static promfile_snapshot *current_snapshot(agent *a, bool fresh)
{
	int64_t now = clock_mono_ns();
	if (a->prom_snap && !fresh && (now - promfile_snapshot_taken_ns(a->prom_snap) < SNAPSHOT_EVERY_NS ||
	                     promfile_snapshots_alive() >= MAX_SNAPSHOTS))
		return a->prom_snap;
	promfile_labels l = labels_of(a);
	promfile_snapshot *taken = promfile_snapshot_take(a->pipe, a->cfg->det.interval_s, &l);
	if (taken) {
		promfile_snapshot_unref(a->prom_snap);
		a->prom_snap = taken;
	}
	return a->prom_snap;
}

static size_t read_metrics(void *data, char *buf, size_t max) { return promfile_reader_read(data, buf, max); }
static void end_metrics(void *data) { promfile_reader_free(data); }

static pano_http_answer text_answer(int status, const char *text)
{
	char *body = strdup(text);
	return (pano_http_answer){ .body = body, .len = body ? strlen(body) : 0,
	                           .content_type = "text/plain; charset=utf-8", .status = status };
}

/* --http: only /metrics.  The loop only hands over the snapshot; the
 * connection's thread renders it as the scraper reads. */
static pano_http_answer render_http(void *ctx, const char *path, const pano_http_query *q)
{
	(void)q;
	agent *a = ctx;
	if (strcmp(path, "/metrics") != 0)
		return text_answer(404, "only /metrics here\n");
	promfile_snapshot *snap = current_snapshot(a, false);
	promfile_reader *r = snap ? promfile_reader_new(snap) : NULL;
	if (!r)
		return text_answer(503, "out of memory; retry\n");
	return (pano_http_answer){ .content_type = "text/plain; version=0.0.4; charset=utf-8", .status = 200,
	                           .data = r, .stream = read_metrics, .release = end_metrics };
}

static void http_ready(watch *w, uint32_t events)
{
	(void)events;
	agent *a = (agent *)((char *)w - offsetof(agent, http_watch));
	pano_http_run_jobs(a->http);
}

static void on_resolved(void *ctx, size_t slot, uint32_t tag, const resolution_result *r)
{
	hosts_resolved(ctx, slot, tag, r);
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
			a->reopen = a->reload = true; /* the logs (logrotate), and the targets file */
		else
			a->stopping = true;
	}
}

static void save_state(agent *a)
{
	char err[512] = "";
	int64_t started = clock_mono_ns();
	if (pipeline_save_state(a->pipe, &a->state_dir, STATE_FILE, err, sizeof(err)) != 0)
		pano_log(PANO_LOG_WARN, "saving state: %s", err);
	a->last_save_ns = clock_mono_ns() - started;
}

static int load_state(agent *a)
{
	char err[512] = "";
	size_t restored = 0;
	int rc = pipeline_load_state(a->pipe, &a->state_dir, STATE_FILE, &restored, err, sizeof(err));
	if (rc >= 0)
		return 0;
	char moved[PATH_MAX + 64];
	if (statefile_set_aside(&a->state_dir, STATE_FILE, moved, sizeof(moved)) == 0)
		pano_log(PANO_LOG_WARN, "state %s; moved to %s, starting fresh", err, moved);
	else
		pano_log(PANO_LOG_ERROR, "state %s; cannot move it aside (%s), starting fresh", err, strerror(errno));
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

static int watch_fd(agent *a, int fd, watch *w, void (*ready)(watch *, uint32_t), char *err, size_t errlen)
{
	w->ready = ready;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = w };
	if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
		snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Probes the static targets and the mesh's members from now on. */
static int apply_targets(agent *a, char *err, size_t errlen)
{
	target_list want;
	if (hosts_wanted(a, &want) != 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int rc = hosts_apply(a, &want, clock_mono_ns(), err, errlen);
	targets_free(&want);
	if (a->last_change.added)
		load_state(a); /* a target that comes back takes up its saved state */
	return rc;
}

/* The targets file's identity, to see that it changed. */
static bool targets_file_changed(agent *a, struct stat *st)
{
	if (fstatat(a->targets_dir.fd, a->targets_name, st, 0) != 0)
		return false; /* gone for now (an editor's rename): keep what runs */
	return st->st_mtim.tv_sec != a->targets_mtime.tv_sec || st->st_mtim.tv_nsec != a->targets_mtime.tv_nsec ||
	       st->st_ctim.tv_sec != a->targets_ctime.tv_sec || st->st_ctim.tv_nsec != a->targets_ctime.tv_nsec ||
	       st->st_size != a->targets_size || st->st_ino != a->targets_ino;
}

static void remember_targets_file(agent *a, const struct stat *st)
{
	a->targets_mtime = st->st_mtim;
	a->targets_ctime = st->st_ctim;
	a->targets_size = st->st_size;
	a->targets_ino = st->st_ino;
}

/* The HTM budget (pipeline.h): what the targets would need, said at start
 * when it is more than the budget, and every host refused a model since,
 * said as it happens (at most once a second, from the loop's flush). */
static void say_htm_budget(agent *a, bool at_start)
{
	if (!a->cfg->det.htm || a->cfg->det.htm_budget_mb <= 0)
		return;
	size_t each = pipeline_htm_model_bytes(a->pipe), models, denied, budget_bytes;
	pipeline_htm_usage(a->pipe, &models, &denied, &budget_bytes);
	double budget = a->cfg->det.htm_budget_mb * (1 << 20);
	size_t room = each ? (size_t)(budget / (double)each) : 0;
	if (at_start && each && (double)a->live * (double)each > budget)
		pano_log(PANO_LOG_WARN, "HTM for %zu targets needs %.0f MB (%zu kB a model), more than the budget of %.0f MB "
		        "(--htm-budget): %zu get a model, the others run on phi and the baseline (see --no-htm)", a->live, (double)a->live * (double)each / (1 << 20), each / 1024, budget / (1 << 20),
		        room);
	else if (!at_start && denied > a->htm_denied_said)
		pano_log(PANO_LOG_WARN, "HTM budget full (%zu models, %.0f MB): %zu host%s without a model now, on phi and the "
		        "baseline only", models, budget / (1 << 20), denied, denied == 1 ? "" : "s");
	if (!at_start)
		a->htm_denied_said = denied;
}

/* Reads the targets file again (SIGHUP, or it changed): a bad one is said
 * once and the targets running keep running. */
static void reload_targets(agent *a, bool forced)
{
	struct stat st;
	if (!a->cfg->targets_file || (!targets_file_changed(a, &st) && !forced))
		return;
	if (forced && fstatat(a->targets_dir.fd, a->targets_name, &st, 0) != 0)
		memset(&st, 0, sizeof(st));
	remember_targets_file(a, &st); /* a bad version is not read again until it changes */
	char err[600];
	target_list fresh;
	if (targets_load_in(&a->targets_dir, a->targets_name, &fresh, err, sizeof(err)) != 0) {
		pano_log(PANO_LOG_WARN, "--targets: %s; keeping the %zu targets running", err, a->live);
		return;
	}
	targets_free(&a->static_targets);
	a->static_targets = fresh;
	if (apply_targets(a, err, sizeof(err)) != 0)
		pano_log(PANO_LOG_WARN, "--targets: %s", err);
	const target_change *c = &a->last_change;
	pano_log(PANO_LOG_INFO, "targets reloaded: %zu (%zu added, %zu removed, %zu changed, %zu kept)",
	        a->live, c->added, c->removed, c->restarted, c->kept);
}

static void mesh_ready(watch *w, uint32_t events)
{
	agent *a = (agent *)((char *)w - offsetof(agent, mesh_watch));
	(void)events;
	char **members;
	size_t n;
	if (mesh_take(a->mesh, &members, &n) != 1)
		return;
	for (size_t i = 0; i < a->nmembers; i++)
		free(a->members[i]);
	free(a->members);
	a->members = members;
	a->nmembers = n;
	char err[600];
	if (apply_targets(a, err, sizeof(err)) != 0)
		pano_log(PANO_LOG_WARN, "--mesh: %s", err);
	const target_change *c = &a->last_change;
	if (c->added || c->removed)
		pano_log(PANO_LOG_INFO, "mesh %s: probing %zu host%s (%zu joined, %zu left)",
		        a->cfg->mesh_group, a->live, a->live == 1 ? "" : "s", c->added, c->removed);
}

/* The folder of path, held open in *d, and path's last part in *name
 * (pointing into path). */
static int open_folder_of(const char *path, regdir *d, const char **name, char *err, size_t errlen)
{
	char folder[PATH_MAX];
	snprintf(folder, sizeof(folder), "%s", path);
	char *slash = strrchr(folder, '/');
	*name = slash ? path + (slash - folder) + 1 : path;
	if (!slash)
		snprintf(folder, sizeof(folder), ".");
	else if (slash == folder)
		folder[1] = '\0';
	else
		*slash = '\0';
	return regdir_open(d, folder, err, errlen);
}

/* A directory the agent may hand to the user it runs as: one it makes now,
 * or one that already holds its files (marker), not just any directory
 * that --log-dir names (".", say). */
static bool agents_own(const char *dir, const char *marker)
{
	char path[PATH_MAX];
	struct stat st;
	snprintf(path, sizeof(path), "%.4000s/%s", dir, marker);
	return stat(dir, &st) != 0 || stat(path, &st) == 0;
}

/* Started as root: everything that needs root is open (raw and ping
 * sockets, ports, files), so the rest of the agent's life runs as an
 * ordinary user, keeping CAP_NET_RAW only where an engine sends on raw
 * sockets it opens as it goes (liboping).  Its folders and files go to
 * that user; they are reached through the directories held open. */
static int drop_root(agent *a, const char *state_dir, bool log_ours, bool state_ours, char *err, size_t errlen)
{
	bool raw = false;
	for (size_t i = 0; i < a->nengines; i++)
		raw = raw || a->engines[i].engine->needs_raw;
	const char *log = a->cfg->det.log_dir;
	static const char *const log_files[] = { "sonar.csv", "fd.csv", "htm.csv", "attention.csv", "targets.csv" };
	static const char *const state_files[] = { STATE_FILE, "publish.queue", "agent.lock" };
	char paths[8][PATH_MAX];
	const char *own[10];
	size_t n = 0;
	own[n++] = log_ours ? log : NULL;
	own[n++] = state_ours ? state_dir : NULL;
	for (size_t i = 0; i < 5; i++) {
		snprintf(paths[i], sizeof(paths[i]), "%.4000s/%s", log, log_files[i]);
		own[n++] = paths[i];
	}
	for (size_t i = 0; i < 3; i++) {
		snprintf(paths[5 + i], sizeof(paths[5 + i]), "%.4000s/%s", state_dir, state_files[i]);
		own[n++] = paths[5 + i];
	}
	privdrop_request req = { a->cfg->user, raw ? PRIVDROP_CAP(CAP_NET_RAW) : 0, own, n };
	privdrop_result r;
	char why[600];
	if (privdrop(&req, &r, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "--user: %.400s", why);
		return -1;
	}
	a->dropped = r.dropped;
	if (r.dropped && a->cfg->targets_file && faccessat(a->targets_dir.fd, a->targets_name, R_OK, 0) != 0)
		pano_log(PANO_LOG_ERROR, "--targets: %s cannot be read by %s, the user the agent runs as: changes to it will "
		        "not be seen (open it and its folder to that user, or see --user)",
		        a->cfg->targets_file, r.user);
	if (r.dropped)
		pano_log(PANO_LOG_INFO, "running as %s (uid %u) from now on%s", r.user, r.uid,
		        raw ? ", keeping CAP_NET_RAW for raw ICMP sockets (liboping opens them as it probes)" : "");
	else if (geteuid() == 0)
		pano_log(PANO_LOG_INFO, "running as root (--user root): only raw ICMP needs a privilege, CAP_NET_RAW");
	return 0;
}


/* A host's state to Panorama, with its labels and the agent's own. */
static void report(void *ctx, const pipeline_report *r)
{
	agent *a = ctx;
	int status;
	double score;
	publisher_extra x;
	pipeline_report_values(r, &status, &score, &x);
	x.subject_labels = hosts_labels(a, r->slot, &x.nsubject_labels);
	x.observer_labels = a->cfg->labels;
	x.nobserver_labels = a->cfg->nlabels;
	publisher_report(a->pub, r->host, "rtt", status, score, &x, r->wall_ms * 1000000);
}

/* Holds the observer's name on this host for as long as the agent runs: an
 * abstract Unix socket named after it, which the kernel releases with the
 * process (kill -9 included) and which needs no file or privilege.  A
 * second agent reporting under the same name finds it taken (-1 with
 * errno EADDRINUSE): two agents' observations of one host would otherwise
 * mix in one view.  Per network namespace, as agents are. */
static int claim_observer(const char *observer)
{
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	int n = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "cloudsonar-observer/%s", observer);
	if (n < 0)
		return -1;
	size_t len = (size_t)n < sizeof(sa.sun_path) - 1 ? (size_t)n : sizeof(sa.sun_path) - 1;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len)) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int setup(agent *a, const agent_config *cfg, char *err, size_t errlen)
{
	a->cfg = cfg;
	a->interval_ns = (int64_t)(cfg->det.interval_s * 1e9 + 0.5);
	a->timeout_ns = (int64_t)(cfg->det.timeout_s * 1e9 + 0.5);
	a->sigfd = a->epfd = a->lock_fd = a->observer_fd = -1;
	a->log = pano_logger_daemon();
	if (!(a->by_name = strmap_new())) {
		snprintf(err, errlen, "out of memory");
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
	bool log_ours = agents_own(cfg->det.log_dir, "sonar.csv"), state_ours = agents_own(state_dir, "agent.lock");
	if (make_dirs(state_dir) != 0) {
		snprintf(err, errlen, "--state-dir %.200s: %s", state_dir, strerror(errno));
		return -1;
	}
	if (regdir_open(&a->state_dir, state_dir, err, errlen) != 0)
		return -1;
	/* One agent a state directory: a second would probe every host twice
	 * into the same logs and overwrite the first one's state. */
	a->lock_fd = openat(a->state_dir.fd, "agent.lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (a->lock_fd < 0) {
		snprintf(err, errlen, "%.200s/agent.lock: %s", state_dir, strerror(errno));
		return -1;
	}
	if (flock(a->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		snprintf(err, errlen, "another sonar-agent is using the state in %.200s; stop it first, or give this one "
		         "its own --state-dir", state_dir);
		return -1;
	}
	if (cfg->prom_file && open_folder_of(cfg->prom_file, &a->prom_dir, &a->prom_name, err, errlen) != 0) {
		snprintf(err, errlen, "--prom-file: %.300s.tmp: %.100s", cfg->prom_file, strerror(errno));
		return -1;
	}

	a->logs = csvlogs_open(cfg->det.log_dir, LOG_ALL, &a->log, err, errlen);
	if (!a->logs)
		return -1;
	pipeline_params pp;
	detector_options_to_params(&cfg->det, &pp);
	a->pipe = pipeline_new(&pp, a->logs);
	if (!a->pipe) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}

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
	if (watch_fd(a, a->sigfd, &a->signal_watch, signal_ready, err, errlen) != 0)
		return -1;

	probe_engine *engine = hosts_default_engine(a, err, errlen);
	if (!engine)
		return -1;
	size_t n = cfg->targets ? cfg->targets->n : 0;
	pano_log(PANO_LOG_INFO, "probing %zu host%s every %g s by %s", n, n == 1 ? "" : "s",
	        cfg->det.interval_s, engine->name);
	if (engine->why[0])
		pano_log(PANO_LOG_INFO, "%s: %s", cfg->method.method == METHOD_AUTO ? "--method auto" : "--method icmp",
		        engine->why);

	if (cfg->nservers) {
		char queue[PATH_MAX + 32];
		snprintf(queue, sizeof(queue), "%.4000s/publish.queue", state_dir);
		a->pub = publisher_new(cfg->servers, cfg->curves, cfg->nservers, cfg->observer, queue, &a->log, err,
		                       errlen);
		if (!a->pub)
			return -1;
		pipeline_set_reporter(a->pipe, report, a);
		pano_log(PANO_LOG_INFO, "reporting to Panorama %s as observer %s%s", cfg->servers[0],
		        cfg->observer, cfg->curves ? " (CURVE)" : " without CURVE keys (plain text; see --key)");
		a->observer_fd = claim_observer(cfg->observer);
		if (a->observer_fd < 0 && errno == EADDRINUSE)
			pano_log(PANO_LOG_WARN, "another sonar-agent on this host already reports as observer %s: the two "
			        "agents' views of a host will mix in Panorama; give one of them its own --observer NAME", cfg->observer);
	}
	a->res = resolver_new(a->interval_ns > INT64_C(1000000000) ? a->interval_ns : INT64_C(1000000000),
	                      (int64_t)(cfg->resolve_every_s * 1e9), err, errlen);
	if (!a->res || watch_fd(a, resolver_fd(a->res), &a->resolver_watch, resolver_ready, err, errlen) != 0)
		return -1;
	if (cfg->http_addr) {
		a->http = pano_http_new(cfg->http_addr, cfg->http_token, render_http, a, err, errlen);
		if (!a->http || watch_fd(a, pano_http_fd(a->http), &a->http_watch, http_ready, err, errlen) != 0)
			return -1;
		pano_log(PANO_LOG_INFO, "metrics on http://%s/metrics", cfg->http_addr);
	}
	if (cfg->targets_file) { /* reread through its folder, held open (regfile.h) */
		if (open_folder_of(cfg->targets_file, &a->targets_dir, &a->targets_name, err, errlen) != 0)
			return -1;
		struct stat st;
		if (fstatat(a->targets_dir.fd, a->targets_name, &st, 0) == 0)
			remember_targets_file(a, &st);
	}
	if (cfg->targets && targets_copy(&a->static_targets, cfg->targets) != 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (apply_targets(a, err, errlen) != 0)
		return -1;
	say_htm_budget(a, true);
	resolver_collect(a->res, on_resolved, a); /* the numeric addresses */
	if (cfg->mesh_group) {
		mesh_config mc = { cfg->servers, cfg->nservers, cfg->curves, cfg->observer, cfg->mesh_group,
		                   cfg->mesh_refresh_s, cfg->mesh_peers, &a->log };
		a->mesh = mesh_new(&mc, err, errlen);
		if (!a->mesh || watch_fd(a, mesh_fd(a->mesh), &a->mesh_watch, mesh_ready, err, errlen) != 0)
			return -1;
		pano_log(PANO_LOG_INFO, "mesh %s: announcing %s to %s every %g s", cfg->mesh_group,
		        cfg->observer, cfg->servers[0], cfg->mesh_refresh_s);
	}
	return drop_root(a, state_dir, log_ours, state_ours, err, errlen);
}

/* Rewrites the metrics file; a failure is said once, until it works again. */
static void write_prom(agent *a, bool final, bool *failed)
{
	char err[600];
	promfile_snapshot *snap = current_snapshot(a, final);
	if (snap && promfile_write(&a->prom_dir, a->prom_name, snap, err, sizeof(err)) == 0) {
		*failed = false;
		return;
	}
	bool denied = snap && errno == EACCES;
	if (!snap)
		snprintf(err, sizeof(err), "out of memory");
	if (!*failed)
		pano_log(PANO_LOG_WARN, "--prom-file: %s%s", err,
		        denied && a->dropped ? " (the agent runs as an ordinary user, see --user: give it that folder)" : "");
	*failed = true;
}

static void teardown(agent *a)
{
	mesh_free(a->mesh);
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
	promfile_snapshot_unref(a->prom_snap);
	resolver_free(a->res);
	if (a->pipe && a->logs && !a->saved)
		save_state(a);
	hosts_free(a); /* the engines, after the last probe's outcome */
	pipeline_free(a->pipe);
	csvlogs_close(a->logs);
	if (a->sigfd >= 0)
		close(a->sigfd);
	if (a->epfd >= 0)
		close(a->epfd);
	if (a->lock_fd >= 0)
		close(a->lock_fd); /* the lock goes with it */
	if (a->observer_fd >= 0)
		close(a->observer_fd);
	regdir_close(&a->state_dir);
	regdir_close(&a->prom_dir);
	regdir_close(&a->targets_dir);
	targets_free(&a->static_targets);
	for (size_t i = 0; i < a->nmembers; i++)
		free(a->members[i]);
	free(a->members);
}

static long long state_bytes(const agent *a)
{
	struct stat st;
	return fstatat(a->state_dir.fd, STATE_FILE, &st, 0) == 0 ? (long long)st.st_size : 0;
}

static void print_stats(const agent *a, int64_t elapsed_ns)
{
	double secs = (double)elapsed_ns / 1e9;
	engine_timing t = { { 0 }, 0 };
	for (size_t i = 0; i < a->nengines; i++) {
		for (int k = 0; k < ENGINE_CLOCKS; k++)
			t.by[k] += a->engines[i].engine->timing.by[k];
		t.overruled += a->engines[i].engine->timing.overruled;
	}
	pano_log(PANO_LOG_INFO, "stats: hosts=%zu seconds=%.1f sent=%llu answered=%llu lost=%llu errors=%llu "
	        "skipped=%llu unresolved=%llu probes_per_s=%.1f lateness_p50_us=%.0f "
	        "lateness_p99_us=%.0f lateness_max_us=%.0f state_bytes=%lld state_save_ms=%.1f", a->live, secs, (unsigned long long)a->counts.sent,
	        (unsigned long long)a->counts.answered, (unsigned long long)a->counts.lost,
	        (unsigned long long)a->counts.errors, (unsigned long long)a->counts.skipped,
	        (unsigned long long)a->counts.unresolved,
	        secs > 0 ? (double)a->counts.sent / secs : 0.0,
	        (double)lateness_quantile(&a->lateness, 0.5) / 1e3,
	        (double)lateness_quantile(&a->lateness, 0.99) / 1e3,
	        (double)a->lateness.max_ns / 1e3, state_bytes(a), (double)a->last_save_ns / 1e6);
	pano_log(PANO_LOG_INFO, "stats: timed_by_kernel=%llu timed_by_kernel_rx=%llu timed_in_user_space=%llu "
	        "kernel_times_overruled=%llu", t.by[ENGINE_CLOCK_KERNEL], t.by[ENGINE_CLOCK_KERNEL_RX],
	        t.by[ENGINE_CLOCK_USER], t.overruled);
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
	a.state_dir.fd = a.prom_dir.fd = a.targets_dir.fd = -1;
	char err[512] = "";
	if (setup(&a, cfg, err, sizeof(err)) != 0) {
		/* a start that fails is the command line's: one plain line */
		fprintf(stderr, "%s: %s\n", cfg->prog, err);
		teardown(&a);
		return 1;
	}
	int64_t start = clock_mono_ns();
	int64_t end = cfg->duration_s > 0 ? start + (int64_t)(cfg->duration_s * 1e9) : INT64_MAX;
	int64_t next_flush = start + LOG_FLUSH_EVERY_NS;
	/* the metrics file: every interval, but not more than once a second */
	int64_t prom_every = a.interval_ns > LOG_FLUSH_EVERY_NS ? a.interval_ns : LOG_FLUSH_EVERY_NS;
	int64_t next_prom = cfg->prom_file ? start + prom_every : INT64_MAX;
	bool prom_failed = false;
	/* a file that cannot be written at all is a mistake to say at once, as
	 * an error; one that fails later is said once and probing goes on */
	if (cfg->prom_file) {
		write_prom(&a, true, &prom_failed);
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
		hosts_expire(&a, now);
		if (a.stopping) {
			if (a.inflight == 0 || now >= drain_until)
				break;
		} else {
			hosts_send_due(&a, now);
		}
		if (a.reopen) {
			a.reopen = false;
			if (csvlogs_reopen(a.logs, err, sizeof(err)) != 0)
				pano_log(PANO_LOG_WARN, "reopening logs: %s", err);
		}
		now = clock_mono_ns();
		if (now >= next_flush) {
			csvlogs_flush(a.logs);
			next_flush = now + LOG_FLUSH_EVERY_NS;
			reload_targets(&a, a.reload); /* and once a second, whether it changed */
			a.reload = false;
			say_htm_budget(&a, false);
		} else if (a.reload) {
			reload_targets(&a, true);
			a.reload = false;
		}
		if (now >= next_save) {
			save_state(&a);
			next_save = now + STATE_SAVE_EVERY_NS;
		}

		if (now >= next_prom) {
			write_prom(&a, false, &prom_failed);
			next_prom = now + prom_every;
		}
		int64_t wake = next_flush < next_prom ? next_flush : next_prom;
		due_entry next;
		if (!a.stopping) {
			if (due_peek(&a.due, &next)) {
				int64_t due = next.at;
				if (due > now && due < now + SEND_COALESCE_NS)
					due = now + SEND_COALESCE_NS;
				if (due < wake)
					wake = due;
			}
			if (end < wake)
				wake = end;
		} else if (drain_until < wake) {
			wake = drain_until;
		}
		if (due_peek(&a.deadlines, &next) && next.at < wake)
			wake = next.at;
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
	hosts_finish_bursts(&a); /* bursts cut short by the stop */
	if (cfg->prom_file)
		write_prom(&a, true, &prom_failed); /* the final figures */
	int64_t ran = clock_mono_ns() - start;
	save_state(&a);
	a.saved = true;
	if (cfg->stats)
		print_stats(&a, ran);
	teardown(&a);
	return 0;
}
