/* snapshot.c - the whole-store answers' copy of the store; see snapshot.h. */
#include "pano/node/snapshot.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "pano/common/arena.h"
#include "pano/common/clock.h"

struct pano_snapshot {
	pano_snapshot_data d;
	arena *arena;
	atomic_int refs;
	pthread_mutex_t mu;  /* guards the renderings */
	char *rendered[PANO_SNAPSHOT_RENDERINGS];
	size_t rendered_len[PANO_SNAPSHOT_RENDERINGS];
	unsigned long long counters[PANO_REQUEST_KINDS + 2 * (PANO_BATCH_BUCKETS + 1)];
};

static const char *copy_str(arena *a, const char *s)
{
	size_t n = strlen(s) + 1;
	char *c = arena_alloc(a, n);
	if (c)
		memcpy(c, s, n);
	return c;
}

/* Each observer's name is copied once: a table from the store's interned
 * pointer to the copy, sorted by address, looked up by bsearch. */
typedef struct {
	const char *from, *to;
} name_pair;

typedef struct {
	name_pair *pairs;
	size_t n;
} name_table;

static int cmp_from(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)((const name_pair *)a)->from, y = (uintptr_t)((const name_pair *)b)->from;
	return x < y ? -1 : x > y;
}

/* The copy of an interned name: from the table, or (no table, or not in
 * it) a copy of its own. */
static const char *copied_name(arena *a, const name_table *t, const char *interned)
{
	name_pair key = { interned, NULL };
	const name_pair *p = t && t->n ? bsearch(&key, t->pairs, t->n, sizeof(key), cmp_from) : NULL;
	return p ? p->to : copy_str(a, interned);
}

static bool take_subject(arena *a, const name_table *names, const pano_subject *sub, snap_subject *out)
{
	out->name = copy_str(a, pano_subject_name(sub));
	pano_subject_last_seen(sub, &out->last_sec, &out->last_nsec);
	const pano_inference *inf = pano_subject_inference(sub);
	out->nobservers = 0;
	out->observers = arena_alloc(a, (inf->nobservers ? inf->nobservers : 1) * sizeof(*out->observers));
	if (!out->name || !out->observers)
		return false;
	for (size_t i = 0; i < inf->nobservers; i++)
		if (pano_inference_voted(inf, i) &&
		    !(out->observers[out->nobservers++] = copied_name(a, names, inf->observers[i])))
			return false;
	out->inferred = inf->has_obs;
	out->all_stale = inf->all_stale;
	if (inf->has_obs) {
		out->sec = inf->obs.sec;
		out->nsec = inf->obs.nsec;
		out->nmetrics = inf->obs.n;
		out->metrics = arena_alloc(a, (inf->obs.n ? inf->obs.n : 1) * sizeof(*out->metrics));
		if (!out->metrics)
			return false;
		for (size_t i = 0; i < inf->obs.n; i++) {
			const pano_metric *m = &inf->obs.metrics[i];
			out->metrics[i] = (snap_metric){ copy_str(a, m->name), m->status, m->score };
			if (!out->metrics[i].name)
				return false;
		}
	}
	size_t nv = 0;
	const pano_view *const *views = pano_subject_views(sub, &nv);
	out->cells = arena_alloc(a, (nv ? nv : 1) * sizeof(*out->cells));
	if (!out->cells)
		return false;
	for (size_t k = 0; k < nv; k++) {
		const pano_obs *o = pano_view_newest(views[k]);
		if (!o)
			continue;
		snap_cell *cell = &out->cells[out->ncells++];
		cell->observer = copied_name(a, names, views[k]->observer);
		cell->sec = o->sec;
		cell->nsec = o->nsec;
		cell->mute = views[k]->mute;
		cell->median_ms = views[k]->median_ms;
		cell->loss = -1.0f;
		for (size_t i = 0; i < o->n; i++)
			if (o->metrics[i].status > cell->worst) {
				cell->worst = o->metrics[i].status;
				cell->worst_score = o->metrics[i].score;
				cell->loss = o->metrics[i].loss;
			}
		if (!cell->observer)
			return false;
	}
	return true;
}

bool pano_snapshot_subject(arena *a, const pano_subject *sub, snap_subject *out)
{
	memset(out, 0, sizeof(*out));
	return take_subject(a, NULL, sub, out);
}

/* The figures' arrays into the snapshot's own counters. */
static void take_figures(pano_snapshot *s, const pano_node_figures *f, arena *a)
{
	s->d.figures = *f;
	unsigned long long *by_kind = s->counters, *batch = by_kind + PANO_REQUEST_KINDS,
	                   *commit = batch + PANO_BATCH_BUCKETS + 1;
	size_t hist = (PANO_BATCH_BUCKETS + 1) * sizeof(*batch);
	if (f->by_kind)
		memcpy(by_kind, f->by_kind, PANO_REQUEST_KINDS * sizeof(*by_kind));
	if (f->batch_le)
		memcpy(batch, f->batch_le, hist);
	if (f->commit_le)
		memcpy(commit, f->commit_le, hist);
	s->d.figures.by_kind = by_kind;
	s->d.figures.batch_le = batch;
	s->d.figures.commit_le = commit;
	const char **ids = arena_alloc(a, (f->peers + 1) * sizeof(*ids));
	const char **addrs = arena_alloc(a, (f->peers + 1) * sizeof(*addrs));
	bool *up = arena_alloc(a, (f->peers + 1) * sizeof(*up));
	for (size_t i = 0; ids && addrs && up && i < f->peers; i++) {
		ids[i] = copy_str(a, f->peer_ids[i]);
		addrs[i] = copy_str(a, f->peer_addrs[i]);
		up[i] = f->peer_up && f->peer_up[i];
	}
	s->d.figures.peer_ids = ids;
	s->d.figures.peer_addrs = addrs;
	s->d.figures.peer_up = up;
	if (!ids || !addrs || !up)
		s->d.figures.peers = 0;
	/* the blames, their strings copied */
	judge_blame *b = arena_alloc(a, (f->nblames + 1) * sizeof(*b));
	size_t nb = 0;
	for (size_t i = 0; b && i < f->nblames; i++) {
		const judge_blame *x = &f->blames[i];
		const char **hosts = arena_alloc(a, (x->nhosts + 1) * sizeof(*hosts));
		bool ok = hosts != NULL;
		for (size_t k = 0; ok && k < x->nhosts; k++)
			ok = (hosts[k] = copy_str(a, x->hosts[k])) != NULL;
		const char *group = ok ? copy_str(a, x->group) : NULL;
		if (!ok || !group)
			break;
		b[nb] = *x;
		b[nb].hosts = hosts;
		b[nb].group = group;
		nb++;
	}
	s->d.figures.blames = b;
	s->d.figures.nblames = b ? nb : 0;
}

/* Process-wide, as the snapshots are: how many are alive. */
static atomic_int alive;

pano_snapshot *pano_snapshot_take(const pano_store *st, const char *node_id, const pano_node_figures *f,
                                  unsigned long long seq)
{
	int64_t started = clock_mono_ns();
	pano_snapshot *s = calloc(1, sizeof(*s));
	if (!s || !(s->arena = arena_new())) {
		free(s);
		return NULL;
	}
	atomic_init(&s->refs, 1);
	atomic_fetch_add(&alive, 1);
	pthread_mutex_init(&s->mu, NULL);
	arena *a = s->arena;
	size_t n = 0, no = 0;
	const pano_subject **subs = pano_store_subjects(st, &n);
	const char **observers = pano_store_observers(st, &no);
	name_table names = { malloc((no ? no : 1) * sizeof(name_pair)), no };
	const char **copies = arena_alloc(a, (no ? no : 1) * sizeof(*copies));
	snap_subject *out = arena_alloc(a, (n ? n : 1) * sizeof(*out));
	bool ok = subs && observers && names.pairs && copies && out;
	for (size_t i = 0; ok && i < no; i++) {
		ok = (copies[i] = copy_str(a, observers[i])) != NULL;
		names.pairs[i] = (name_pair){ observers[i], copies[i] };
	}
	if (ok)
		qsort(names.pairs, no, sizeof(name_pair), cmp_from);
	for (size_t i = 0; ok && i < n; i++) {
		ok = take_subject(a, &names, subs[i], &out[i]);
		s->d.views += out[i].ncells;
	}
	free(names.pairs);
	free(subs);
	free(observers);
	if (!ok) {
		pano_snapshot_unref(s);
		return NULL;
	}
	s->d.subjects = out;
	s->d.nsubjects = n;
	s->d.observers = copies;
	s->d.nobservers = no;
	s->d.values = pano_store_value_count(st);
	s->d.node_id = node_id;
	s->d.seq = seq;
	s->d.taken_ms = clock_mono_ms();
	take_figures(s, f, a);
	s->d.took_s = (double)(clock_mono_ns() - started) / 1e9;
	return s;
}

const pano_snapshot_data *pano_snapshot_get(const pano_snapshot *s) { return &s->d; }

void pano_snapshot_ref(pano_snapshot *s) { atomic_fetch_add(&s->refs, 1); }

void pano_snapshot_unref(pano_snapshot *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	atomic_fetch_sub(&alive, 1);
	for (size_t i = 0; i < PANO_SNAPSHOT_RENDERINGS; i++)
		free(s->rendered[i]);
	pthread_mutex_destroy(&s->mu);
	arena_free(s->arena);
	free(s);
}

const char *pano_snapshot_render(pano_snapshot *s, unsigned kind,
                                 char *(*make)(const pano_snapshot_data *d, size_t *len), size_t *len)
{
	if (kind >= PANO_SNAPSHOT_RENDERINGS)
		return NULL;
	pthread_mutex_lock(&s->mu);
	if (!s->rendered[kind])
		s->rendered[kind] = make(&s->d, &s->rendered_len[kind]);
	*len = s->rendered_len[kind];
	const char *text = s->rendered[kind];
	pthread_mutex_unlock(&s->mu);
	return text;
}

int pano_snapshots_alive(void) { return atomic_load(&alive); }
