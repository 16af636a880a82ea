/* hosts.c - the agent's host table: the targets it probes, as slots; see hosts.h. */
#include "agent/agent_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/timefmt.h"
#include "pano/common/clock.h"
#include "pano/common/hostaddr.h"
#include "pano/common/regfile.h"

/* One target being probed: a slot, numbered for the engines, the pipeline
 * and the resolver alike.  A slot of a target that left is free for the
 * next one. */
struct host_slot {
	bool live;
	uint32_t epoch;          /* bumped when the slot changes hands or how it is probed:
	                          * older schedule and resolver entries are stale */
	target t;                /* its own copy */
	probe_engine *engine;
	char method[64];         /* the engine's short name: icmp, tcp:7 */
	int64_t interval_ns, timeout_ns, phase_ns;
	unsigned burst;
	uint64_t next_probe;     /* the number of its next probe (schedule.h) */
	uint32_t addr_epoch;     /* bumped when the address to resolve changes */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	bool resolved;
	bool unresolvable;       /* its name's last lookup failed: why */
	char why[96];
	bool inflight;
	uint32_t gen;            /* of the probe in flight: answers and timeouts carry it */
	int64_t send_wall_ms;
	uint64_t burst_of;       /* the in-flight probe's burst number */
	probe_outcome *outcomes; /* with --burst: the current burst's, so far */
	unsigned got;
	int64_t burst_wall_ms;   /* when the current burst began */
};

/* Engines start with room for this many hosts, and double. */
#define ENGINE_CAP_MIN 1024

static void timing_of(const agent *a, const target *t, int64_t *interval_ns, int64_t *timeout_ns)
{
	double interval, timeout;
	target_timing(t, a->cfg->det.interval_s, a->cfg->det.timeout_s, a->cfg->burst, &interval, &timeout);
	*interval_ns = (int64_t)(interval * 1e9 + 0.5);
	*timeout_ns = (int64_t)(timeout * 1e9 + 0.5);
}

static pipeline_host_options options_of(const agent *a, const target *t)
{
	return target_host_options(t, a->cfg->det.interval_s, a->cfg->det.timeout_s, a->cfg->burst);
}

/* The engine for a way of probing, made the first time it is needed.  An
 * engine waits up to its timeout (liboping's calls block that long), rounded
 * up to a power of two milliseconds: a file of many timeouts makes a few
 * engines, not one each, and the agent's own deadlines end each probe on
 * time. */
static probe_engine *engine_for(agent *a, const method_spec *m, int64_t timeout_ns, char *err, size_t errlen)
{
	int64_t rounded = 1000000;
	while (rounded < timeout_ns)
		rounded *= 2;
	timeout_ns = rounded;
	for (size_t i = 0; i < a->nengines; i++) {
		const engine_entry *e = &a->engines[i];
		if (e->method.method == m->method && e->method.tcp_port == m->tcp_port && e->timeout_ns == timeout_ns)
			return e->engine;
	}
	engine_entry *grown = realloc(a->engines, (a->nengines + 1) * sizeof(*grown));
	if (!grown) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	a->engines = grown;
	if (a->engine_cap < ENGINE_CAP_MIN)
		a->engine_cap = ENGINE_CAP_MIN;
	engine_env env = { a->epfd, a->engine_cap, timeout_ns, hosts_probe_done, a, &a->cfg->probe, &a->log };
	char why[256] = "";
	probe_engine *e = engine_for_method(m, &env, why, sizeof(why));
	if (!e) {
		snprintf(err, errlen, "--method: %s", why);
		return NULL;
	}
	a->engines[a->nengines++] = (engine_entry){ *m, timeout_ns, e };
	return e;
}

probe_engine *hosts_default_engine(agent *a, char *err, size_t errlen)
{
	return engine_for(a, &a->cfg->method, a->timeout_ns, err, errlen);
}

/* A slot for a new target: a free one, or one more (engines grown to fit). */
static long alloc_slot(agent *a)
{
	if (a->nfree)
		return (long)a->free_slots[--a->nfree];
	if (a->nslots == a->capslots) {
		size_t cap = a->capslots ? 2 * a->capslots : 64;
		host_slot *slots = realloc(a->slots, cap * sizeof(*slots));
		if (!slots)
			return -1;
		memset(slots + a->capslots, 0, (cap - a->capslots) * sizeof(*slots));
		a->slots = slots;
		size_t *free_slots = realloc(a->free_slots, cap * sizeof(*free_slots));
		if (!free_slots)
			return -1;
		a->free_slots = free_slots;
		a->capslots = cap;
	}
	if (a->nslots + 1 > a->engine_cap) {
		size_t cap = a->engine_cap ? 2 * a->engine_cap : ENGINE_CAP_MIN;
		for (size_t i = 0; i < a->nengines; i++)
			if (engine_grow(a->engines[i].engine, cap) != 0)
				return -1;
		a->engine_cap = cap;
	}
	return (long)a->nslots++;
}

/* Stops what a slot has in flight, without an outcome: its target left or
 * is probed another way from now on. */
static void stop_probing(agent *a, host_slot *h, size_t slot)
{
	if (h->inflight) {
		engine_cancel(h->engine, (uint32_t)slot);
		h->inflight = false;
		a->inflight--;
	}
	h->got = 0;
	h->epoch++;
}

/* Sets how a slot probes its target, and schedules its first probe. */
static int start_probing(agent *a, size_t slot, int64_t first_ns, char *err, size_t errlen)
{
	host_slot *h = &a->slots[slot];
	timing_of(a, &h->t, &h->interval_ns, &h->timeout_ns);
	const method_spec *m = h->t.method_set ? &h->t.method : &a->cfg->method;
	if (!(h->engine = engine_for(a, m, h->timeout_ns, err, errlen)))
		return -1;
	h = &a->slots[slot];
	snprintf(h->method, sizeof(h->method), "%s", h->engine->name);
	h->method[strcspn(h->method, " ")] = '\0';
	h->burst = a->cfg->burst > 1 ? a->cfg->burst : 1;
	if (h->burst > 1 && !h->outcomes && !(h->outcomes = calloc(PIPELINE_BURST_MAX, sizeof(*h->outcomes)))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	h->phase_ns = first_ns;
	h->next_probe = 0;
	h->got = 0;
	if (due_push(&a->due, first_ns, (uint32_t)slot, h->epoch) != 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static void remove_slot(agent *a, size_t slot)
{
	host_slot *h = &a->slots[slot];
	stop_probing(a, h, slot);
	resolver_forget(a->res, slot);
	pipeline_clear_host(a->pipe, slot);
	strmap_remove(a->by_name, h->t.name);
	target_clear(&h->t);
	h->live = false;
	h->resolved = h->unresolvable = false;
	a->free_slots[a->nfree++] = slot;
	a->live--;
}

static int add_slot(agent *a, const target *t, int64_t first_ns, char *err, size_t errlen)
{
	long s = alloc_slot(a);
	if (s < 0) {
		snprintf(err, errlen, "out of memory for %zu targets", a->live + 1);
		return -1;
	}
	size_t slot = (size_t)s;
	host_slot *h = &a->slots[slot];
	h->epoch++;
	h->addr_epoch++;
	h->resolved = h->unresolvable = false;
	pipeline_host_options o = options_of(a, t);
	if (target_copy(&h->t, t) != 0 || pipeline_set_host(a->pipe, slot, t->name, &o) != 0) {
		target_clear(&h->t);
		a->free_slots[a->nfree++] = slot;
		snprintf(err, errlen, "out of memory for %zu targets", a->live + 1);
		return -1;
	}
	h->live = true;
	a->live++;
	if (strmap_put(a->by_name, t->name, (void *)(slot + 1)) != 0 || resolver_add(a->res, slot, h->addr_epoch, t->address) != 0 ||
	    start_probing(a, slot, first_ns, err, errlen) != 0) {
		if (!err[0])
			snprintf(err, errlen, "out of memory for %zu targets", a->live);
		remove_slot(a, slot);
		return -1;
	}
	return 0;
}

/* The side file that says what each host of the logs is: rewritten at every
 * change of the targets, so the CSV logs keep the contract's columns. */
static void write_targets_csv(agent *a)
{
	char err[512];
	regfile_replacement r;
	if (regfile_replace_begin_in(&r, csvlogs_dir(a->logs), "targets.csv", err, sizeof(err)) != 0) {
		pano_log(PANO_LOG_WARN, "targets.csv: %s", err);
		return;
	}
	fputs("host,address,group,method,interval_s,labels\n", r.f);
	for (size_t i = 0; i < a->nslots; i++) {
		const host_slot *h = &a->slots[i];
		if (!h->live)
			continue;
		fprintf(r.f, "%s,%s,%s,%s,%g,", h->t.name, h->t.address, h->t.group, h->method, h->interval_ns / 1e9);
		for (size_t k = 0; k < h->t.nlabels; k++)
			fprintf(r.f, "%s%s", k ? ";" : "", h->t.labels[k]);
		fputc('\n', r.f);
	}
	if (regfile_replace_commit(&r, false, err, sizeof(err)) != 0)
		pano_log(PANO_LOG_WARN, "targets.csv: %s", err);
}

int hosts_apply(agent *a, const target_list *want, int64_t now_ns, char *err, size_t errlen)
{
	err[0] = '\0';
	strmap *wanted = strmap_new();
	if (!wanted) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t j = 0; j < want->n; j++)
		if (strmap_put(wanted, want->items[j].name, (void *)1) != 0) {
			strmap_free(wanted);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	size_t removed = 0, added = 0, restarted = 0, starting = 0;
	for (size_t i = 0; i < a->nslots; i++)
		if (a->slots[i].live && !strmap_key(wanted, a->slots[i].t.name)) {
			remove_slot(a, i);
			removed++;
		}
	strmap_free(wanted);
	/* the ones starting (new, or probed another way) are spread over their
	 * interval, in the order given */
	for (size_t j = 0; j < want->n; j++) {
		uintptr_t at = (uintptr_t)strmap_get(a->by_name, want->items[j].name);
		starting += !at || !target_probed_alike(&a->slots[at - 1].t, &want->items[j]);
	}
	size_t k = 0;
	int rc = 0;
	char why[512] = "";
	for (size_t j = 0; j < want->n; j++) {
		const target *t = &want->items[j];
		uintptr_t at = (uintptr_t)strmap_get(a->by_name, t->name);
		int64_t interval, timeout;
		timing_of(a, t, &interval, &timeout);
		int64_t first = now_ns + schedule_spread(interval, k, starting);
		if (!at) { /* one that cannot start is said; the others start */
			why[0] = '\0';
			if (add_slot(a, t, first, why, sizeof(why)) == 0)
				added++;
			else if (rc++ == 0)
				snprintf(err, errlen, "%s: %s", t->name, why);
			k++;
			continue;
		}
		size_t slot = at - 1;
		host_slot *h = &a->slots[slot];
		bool alike = target_probed_alike(&h->t, t), moved = strcmp(h->t.address, t->address) != 0;
		target copy;
		if (target_copy(&copy, t) != 0) {
			if (rc++ == 0)
				snprintf(err, errlen, "out of memory");
			continue;
		}
		target_clear(&h->t);
		h->t = copy;
		pipeline_host_options o = options_of(a, t);
		pipeline_set_host_options(a->pipe, slot, &o);
		if (alike)
			continue;
		stop_probing(a, h, slot);
		why[0] = '\0';
		if (moved) {
			h->resolved = h->unresolvable = false;
			h->addr_epoch++;
			if (resolver_add(a->res, slot, h->addr_epoch, t->address) != 0)
				snprintf(why, sizeof(why), "out of memory");
		}
		if (why[0] || start_probing(a, slot, first, why, sizeof(why)) != 0) {
			if (rc++ == 0)
				snprintf(err, errlen, "%s: %s", t->name, why);
			remove_slot(a, slot); /* not probed: not shown as if it were */
		} else {
			restarted++;
		}
		k++;
	}
	write_targets_csv(a);
	a->last_change = (target_change){ added, removed, restarted, a->live - added - restarted };
	if (rc > 1) {
		size_t n = strlen(err);
		snprintf(err + n, errlen - n, " (and %d more targets that could not start)", rc - 1);
	}
	return rc ? -1 : 0;
}

int hosts_wanted(const agent *a, target_list *out)
{
	target_list l;
	if (targets_copy(&l, &a->static_targets) != 0)
		return -1;
	for (size_t i = 0; i < a->nmembers; i++) {
		if (targets_find(&l, a->members[i]))
			continue; /* named by the static targets: theirs */
		if (targets_add(&l, a->members[i]) != 0)
			goto oom;
		target *c = &l.items[l.n - 1];
		free(c->group);
		if (!(c->group = strdup(a->cfg->mesh_group ? a->cfg->mesh_group : "")))
			goto oom;
	}
	*out = l;
	return 0;
oom:
	targets_free(&l);
	return -1;
}

void hosts_free(agent *a)
{
	for (size_t i = 0; i < a->nslots; i++) {
		target_clear(&a->slots[i].t);
		free(a->slots[i].outcomes);
	}
	free(a->slots);
	free(a->free_slots);
	strmap_free(a->by_name);
	for (size_t i = 0; i < a->nengines; i++)
		engine_free(a->engines[i].engine);
	free(a->engines);
	due_free(&a->due);
	due_free(&a->deadlines);
}

void hosts_address(const agent *a, size_t slot, char *out, size_t len)
{
	out[0] = '\0';
	if (slot >= a->nslots || !a->slots[slot].live || !a->slots[slot].resolved)
		return;
	const struct sockaddr *sa = (const struct sockaddr *)&a->slots[slot].addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)len);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)len);
}

void hosts_resolved(agent *a, size_t slot, uint32_t tag, const resolution_result *r)
{
	if (slot >= a->nslots || !a->slots[slot].live || a->slots[slot].addr_epoch != tag ||
	    (r->ok && r->len > sizeof(a->slots[slot].addr)))
		return;
	host_slot *h = &a->slots[slot];
	bool numeric = hostaddr_classify(h->t.address, NULL, 0) != HOSTADDR_NAME;
	if (!r->ok) {
		h->resolved = false;
		h->unresolvable = true;
		snprintf(h->why, sizeof(h->why), "%s", r->why ? r->why : "does not resolve");
		pano_log(PANO_LOG_WARN, "%s: %s %s; its probes count as failed%s", h->t.name,
		        numeric ? "cannot probe" : "cannot resolve", h->why,
		        numeric ? "" : " until it resolves (looked up again from time to time)");
		return;
	}
	char before[64] = "", after[64];
	if (h->resolved)
		hosts_address(a, slot, before, sizeof(before));
	else if (h->unresolvable)
		pano_log(PANO_LOG_INFO, "%s: resolves now", h->t.name);
	memcpy(&h->addr, r->addr, r->len);
	h->addrlen = r->len;
	h->resolved = true;
	h->unresolvable = false;
	h->why[0] = '\0';
	hosts_address(a, slot, after, sizeof(after));
	if (before[0] && strcmp(before, after) != 0)
		pano_log(PANO_LOG_INFO, "%s: now at %s (was %s)", h->t.name, after, before);
}

/* --- probing ------------------------------------------------------------------ */

static void log_sonar_row(agent *a, size_t slot, int64_t wall_ms, probe_status st, int64_t rtt_ns)
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
		log_sonar_row(a, slot, h->burst_wall_ms, h->outcomes[i].status, h->outcomes[i].rtt_ns);
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
		log_sonar_row(a, slot, h->send_wall_ms, st, rtt_ns);
		pipeline_observe(a->pipe, slot, h->send_wall_ms, st, rtt_ns);
		return;
	}
	if (h->got < PIPELINE_BURST_MAX)
		h->outcomes[h->got++] = (probe_outcome){ st, rtt_ns };
	if (h->burst_of % h->burst == h->burst - 1) /* its last probe */
		finish_burst(a, slot);
}

void hosts_probe_done(void *ctx, uint32_t slot, uint32_t gen, probe_status st, int64_t rtt_ns)
{
	agent *a = ctx;
	if (slot >= a->nslots || !a->slots[slot].live || !a->slots[slot].inflight || a->slots[slot].gen != gen)
		return; /* stale: already timed out, or its target left */
	complete(a, slot, st, rtt_ns);
}

/* What promfile labels a host's series with. */
void hosts_describe(void *ctx, size_t slot, promfile_host *out)
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

void hosts_expire(agent *a, int64_t now)
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

void hosts_send_due(agent *a, int64_t now)
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
			pano_log(PANO_LOG_ERROR, "out of memory: %s is no longer probed", h->t.name);
		send_one(a, e.slot, k, e.at, now);
		now = clock_mono_ns();
	}
	for (size_t i = 0; i < a->nengines; i++)
		engine_flush(a->engines[i].engine);
}

void hosts_finish_bursts(agent *a)
{
	for (size_t i = 0; i < a->nslots; i++)
		if (a->slots[i].live && a->slots[i].burst > 1)
			finish_burst(a, i);
}

const char *const *hosts_labels(const agent *a, size_t slot, size_t *n)
{
	*n = 0;
	if (slot >= a->nslots || !a->slots[slot].live)
		return NULL;
	*n = a->slots[slot].t.nlabels;
	return (const char *const *)a->slots[slot].t.labels;
}
