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
#include <sys/stat.h>
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

static void sonar_row(agent *a, size_t slot, int64_t wall_ms, probe_status st, int64_t rtt_ns)
{
	char ts[TIMEFMT_LEN];
	timefmt_format(wall_ms, ts);
	FILE *sonar = csvlogs_file(a->logs, LOG_SONAR);
	if (st == PROBE_OK)
		fprintf(sonar, "%s,%s,%lld\n", ts, a->slots[slot].t.name, (long long)rtt_ns);
	else
		fprintf(sonar, "%s,%s,\n", ts, a->slots[slot].t.name);
}

/* A burst's outcome: its probes' rows in sonar.csv, together and all with
 * the burst's time (sonar-replay tells the bursts apart by it), then the
 * detectors. */
static void finish_burst(agent *a, size_t slot)
{
	host_slot *h = &a->slots[slot];
	if (h->got == 0)
		return;
	for (unsigned i = 0; i < h->got; i++)
		sonar_row(a, slot, h->burst_wall_ms, h->outcomes[i].status, h->outcomes[i].rtt_ns);
	pipeline_observe_burst(a->pipe, slot, h->burst_wall_ms, h->outcomes, h->got);
	h->got = 0;
}

static void complete(agent *a, size_t slot, probe_status st, int64_t rtt_ns)
{
	host_slot *h = &a->slots[slot];
	h->inflight = false;
	a->inflight--;
	if (st == PROBE_OK)
		a->counts.answered++;
	else if (st == PROBE_TIMEOUT)
		a->counts.lost++;
	else
		a->counts.errors++;
	if (st == PROBE_OK && rtt_ns < 0)
		rtt_ns = 0;
	if (h->burst <= 1) {
		sonar_row(a, slot, h->send_wall_ms, st, rtt_ns);
		pipeline_observe(a->pipe, slot, h->send_wall_ms, st, rtt_ns);
		return;
	}
	if (h->got < PIPELINE_BURST_MAX)
		h->outcomes[h->got++] = (probe_outcome){ st, rtt_ns };
	if (h->burst_of % h->burst == h->burst - 1) /* its last probe */
		finish_burst(a, slot);
}

void agent_probe_done(void *ctx, uint32_t slot, uint32_t gen, probe_status st, int64_t rtt_ns)
{
	agent *a = ctx;
	if (slot >= a->nslots || !a->slots[slot].live || !a->slots[slot].inflight || a->slots[slot].gen != gen)
		return; /* stale: already timed out, or its target left */
	complete(a, slot, st, rtt_ns);
}

/* What promfile labels a host's series with. */
static void describe_host(void *ctx, size_t slot, promfile_host *out)
{
	agent *a = ctx;
	hosts_address(a, slot, out->address, sizeof(out->address));
	if (slot >= a->nslots || !a->slots[slot].live)
		return;
	const host_slot *h = &a->slots[slot];
	out->method = h->method;
	out->group = h->t.group;
	out->labels = (const char *const *)h->t.labels;
	out->nlabels = h->t.nlabels;
	out->unprobed = h->unresolvable ? h->why : NULL;
}

static promfile_labels labels_of(agent *a)
{
	return (promfile_labels){ describe_host, a };
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
static pano_http_answer render_http(void *ctx, const char *path, const char *query)
{
	(void)query;
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

static void expire_timeouts(agent *a, int64_t now)
{
	due_entry e;
	while (due_peek(&a->deadlines, &e) && e.at <= now) {
		due_pop(&a->deadlines);
		host_slot *h = e.slot < a->nslots ? &a->slots[e.slot] : NULL;
		if (h && h->live && h->inflight && h->gen == e.gen) {
			engine_cancel(h->engine, e.slot);
			complete(a, e.slot, PROBE_TIMEOUT, -1);
		}
	}
}

/* Probe number k of slot, due at due. */
static void send_one(agent *a, uint32_t slot, uint64_t k, int64_t due, int64_t now)
{
	host_slot *h = &a->slots[slot];
	bool last_of_burst = h->burst > 1 && k % h->burst == h->burst - 1;
	if (h->burst > 1 && k % h->burst == 0) {
		finish_burst(a, slot); /* what is left of the previous one (a stall skipped its end) */
		h->burst_wall_ms = clock_wall_ms();
	}
	/* A name that does not resolve is a probe that could not be sent:
	 * its host is seen failing (and then DEAD), not silently absent. */
	if (!h->resolved && h->unresolvable && now - due <= h->interval_ns) {
		a->counts.unresolved++;
		h->inflight = true;
		a->inflight++;
		h->burst_of = k;
		h->send_wall_ms = clock_wall_ms();
		complete(a, slot, PROBE_ERROR, -1);
		return;
	}
	/* After a stall (SIGSTOP, a suspended VM) skip what is more than an
	 * interval overdue instead of sending it all in one burst; and wait
	 * for a name's first answer. */
	if (now - due > h->interval_ns || !h->resolved) {
		if (!h->resolved)
			a->counts.unresolved++;
		else
			a->counts.skipped++;
		if (last_of_burst)
			finish_burst(a, slot);
		return;
	}
	if (h->inflight) { /* only when the timeout is the whole period, to the ns */
		engine_cancel(h->engine, slot);
		complete(a, slot, PROBE_TIMEOUT, -1);
		h = &a->slots[slot];
	}
	h->gen++;
	h->inflight = true;
	a->inflight++;
	h->burst_of = k;
	h->send_wall_ms = clock_wall_ms();
	if (due_push(&a->deadlines, now + h->timeout_ns, slot, h->gen) != 0) {
		complete(a, slot, PROBE_ERROR, -1); /* out of memory: no deadline, no probe */
		return;
	}
	lateness_record(&a->lateness, now - due);
	a->counts.sent++;
	uint32_t gen = h->gen;
	if (engine_send(h->engine, slot, gen, (struct sockaddr *)&h->addr, h->addrlen) != PROBE_OK) {
		h = &a->slots[slot];
		if (h->inflight && h->gen == gen)
			complete(a, slot, PROBE_ERROR, -1);
	}
}

static void send_due(agent *a, int64_t now)
{
	due_entry e;
	while (due_peek(&a->due, &e) && e.at <= now) {
		due_pop(&a->due);
		host_slot *h = e.slot < a->nslots ? &a->slots[e.slot] : NULL;
		if (!h || !h->live || h->epoch != e.gen)
			continue; /* its target left, or is probed another way now */
		uint64_t k = h->next_probe++;
		if (due_push(&a->due, schedule_due(h->phase_ns, h->interval_ns, h->burst, h->next_probe), e.slot,
		             h->epoch) != 0)
			fprintf(stderr, "%s: out of memory: %s is no longer probed\n", a->cfg->prog, h->t.name);
		send_one(a, e.slot, k, e.at, now);
		now = clock_mono_ns();
	}
	for (size_t i = 0; i < a->nengines; i++)
		engine_flush(a->engines[i].engine);
}

static void save_state(agent *a)
{
	char err[512] = "";
	int64_t started = clock_mono_ns();
	if (pipeline_save_state(a->pipe, &a->state_dir, STATE_FILE, err, sizeof(err)) != 0)
		fprintf(stderr, "%s: saving state: %s\n", a->cfg->prog, err);
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
		fprintf(stderr, "%s: HTM for %zu targets needs %.0f MB (%zu kB a model), more than the budget of %.0f MB "
		        "(--htm-budget): %zu get a model, the others run on phi and the baseline (see --no-htm)\n",
		        a->cfg->prog, a->live, (double)a->live * (double)each / (1 << 20), each / 1024, budget / (1 << 20),
		        room);
	else if (!at_start && denied > a->htm_denied_said)
		fprintf(stderr, "%s: HTM budget full (%zu models, %.0f MB): %zu host%s without a model now, on phi and the "
		        "baseline only\n", a->cfg->prog, models, budget / (1 << 20), denied, denied == 1 ? "" : "s");
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
		fprintf(stderr, "%s: --targets: %s; keeping the %zu targets running\n", a->cfg->prog, err, a->live);
		return;
	}
	targets_free(&a->static_targets);
	a->static_targets = fresh;
	if (apply_targets(a, err, sizeof(err)) != 0)
		fprintf(stderr, "%s: --targets: %s\n", a->cfg->prog, err);
	const target_change *c = &a->last_change;
	fprintf(stderr, "%s: targets reloaded: %zu (%zu added, %zu removed, %zu changed, %zu kept)\n", a->cfg->prog,
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
		fprintf(stderr, "%s: --mesh: %s\n", a->cfg->prog, err);
	const target_change *c = &a->last_change;
	if (c->added || c->removed)
		fprintf(stderr, "%s: mesh %s: probing %zu host%s (%zu joined, %zu left)\n", a->cfg->prog,
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
		fprintf(stderr, "%s: --targets: %s cannot be read by %s, the user the agent runs as: changes to it will "
		        "not be seen (open it and its folder to that user, or see --user)\n", a->cfg->prog,
		        a->cfg->targets_file, r.user);
	if (r.dropped)
		fprintf(stderr, "%s: running as %s (uid %u) from now on%s\n", a->cfg->prog, r.user, r.uid,
		        raw ? ", keeping CAP_NET_RAW for raw ICMP sockets (liboping opens them as it probes)" : "");
	else if (geteuid() == 0)
		fprintf(stderr, "%s: running as root (--user root): only raw ICMP needs a privilege, CAP_NET_RAW\n",
		        a->cfg->prog);
	return 0;
}

static int setup(agent *a, const agent_config *cfg, char *err, size_t errlen)
{
	a->cfg = cfg;
	a->interval_ns = (int64_t)(cfg->det.interval_s * 1e9 + 0.5);
	a->timeout_ns = (int64_t)(cfg->det.timeout_s * 1e9 + 0.5);
	a->sigfd = a->epfd = a->lock_fd = -1;
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
	fprintf(stderr, "%s: probing %zu host%s every %g s by %s\n", cfg->prog, n, n == 1 ? "" : "s",
	        cfg->det.interval_s, engine->name);
	if (engine->why[0])
		fprintf(stderr, "%s: %s: %s\n", cfg->prog, cfg->method.method == METHOD_AUTO ? "--method auto" : "--method icmp",
		        engine->why);

	if (cfg->nservers) {
		char queue[PATH_MAX + 32];
		snprintf(queue, sizeof(queue), "%.4000s/publish.queue", state_dir);
		a->pub = publisher_new(cfg->servers, cfg->curves, cfg->nservers, cfg->observer, queue, cfg->prog, err,
		                       errlen);
		if (!a->pub)
			return -1;
		pipeline_set_reporter(a->pipe, pipeline_report_to_publisher, a->pub);
		fprintf(stderr, "%s: reporting to Panorama %s as observer %s%s\n", cfg->prog, cfg->servers[0],
		        cfg->observer, cfg->curves ? " (CURVE)" : " without CURVE keys (plain text; see --key)");
	}
	a->res = resolver_new(a->interval_ns > INT64_C(1000000000) ? a->interval_ns : INT64_C(1000000000),
	                      (int64_t)(cfg->resolve_every_s * 1e9), err, errlen);
	if (!a->res || watch_fd(a, resolver_fd(a->res), &a->resolver_watch, resolver_ready, err, errlen) != 0)
		return -1;
	if (cfg->http_addr) {
		a->http = pano_http_new(cfg->http_addr, cfg->http_token, render_http, a, err, errlen);
		if (!a->http || watch_fd(a, pano_http_fd(a->http), &a->http_watch, http_ready, err, errlen) != 0)
			return -1;
		fprintf(stderr, "%s: metrics on http://%s/metrics\n", cfg->prog, cfg->http_addr);
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
		                   cfg->mesh_refresh_s, cfg->mesh_peers, cfg->prog };
		a->mesh = mesh_new(&mc, err, errlen);
		if (!a->mesh || watch_fd(a, mesh_fd(a->mesh), &a->mesh_watch, mesh_ready, err, errlen) != 0)
			return -1;
		fprintf(stderr, "%s: mesh %s: announcing %s to %s every %g s\n", cfg->prog, cfg->mesh_group,
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
		fprintf(stderr, "%s: --prom-file: %s%s\n", a->cfg->prog, err,
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
	fprintf(stderr,
	        "%s: stats: hosts=%zu seconds=%.1f sent=%llu answered=%llu lost=%llu errors=%llu "
	        "skipped=%llu unresolved=%llu probes_per_s=%.1f lateness_p50_us=%.0f "
	        "lateness_p99_us=%.0f lateness_max_us=%.0f state_bytes=%lld state_save_ms=%.1f\n",
	        a->cfg->prog, a->live, secs, (unsigned long long)a->counts.sent,
	        (unsigned long long)a->counts.answered, (unsigned long long)a->counts.lost,
	        (unsigned long long)a->counts.errors, (unsigned long long)a->counts.skipped,
	        (unsigned long long)a->counts.unresolved,
	        secs > 0 ? (double)a->counts.sent / secs : 0.0,
	        (double)lateness_quantile(&a->lateness, 0.5) / 1e3,
	        (double)lateness_quantile(&a->lateness, 0.99) / 1e3,
	        (double)a->lateness.max_ns / 1e3, state_bytes(a), (double)a->last_save_ns / 1e6);
	fprintf(stderr, "%s: stats: timed_by_kernel=%llu timed_by_kernel_rx=%llu timed_in_user_space=%llu "
	        "kernel_times_overruled=%llu\n", a->cfg->prog, t.by[ENGINE_CLOCK_KERNEL], t.by[ENGINE_CLOCK_KERNEL_RX],
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
		expire_timeouts(&a, now);
		if (a.stopping) {
			if (a.inflight == 0 || now >= drain_until)
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
	for (size_t i = 0; i < a.nslots; i++) /* bursts cut short by the stop */
		if (a.slots[i].live && a.slots[i].burst > 1)
			finish_burst(&a, i);
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
