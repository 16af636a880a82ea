/* store.c - the local observation store; see store.h. */
#include "pano/node/store.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pano/common/natural.h"
#include "pano/common/strmap.h"
#include "pano/common/text.h"
#include "pano/common/grow.h"

struct pano_subject {
	const char *name;  /* the key in subjects */
	strmap *views;     /* observer -> pano_view */
	const pano_view **sorted; /* the views in natural order of observers */
	size_t nsorted;
	int64_t last_sec;  /* newest observation any view holds */
	int32_t last_nsec;
	/* Inference is recomputed lazily, at the first read after a change:
	 * being a pure function of the views, it is the same as recomputing
	 * it at every report, for a fraction of the work under load. */
	bool dirty;
	pano_inference inference;
};

/* One change of an open batch (pano_store_begin), enough to undo it: an
 * add (sub set) or a watch-list change (watch_subject set). */
typedef struct {
	pano_subject *sub;
	pano_view *v;
	bool new_view, new_subject;
	uint8_t head, count, slot; /* the view before; the slot the add wrote */
	uint64_t seq;
	int64_t db_id, db_row;    /* the view's row and the slot's row, before */
	int64_t last_sec;         /* the subject's "last seen", before */
	int32_t last_nsec;
	pano_obs out;             /* what the add pushed out, kept until commit */
	char *watch_subject;
	bool was_watched;
} undo_entry;

struct pano_store {
	pano_limits limits;
	strmap *subjects;  /* name -> pano_subject */
	strmap *observers; /* name -> (uintptr_t) number of views */
	strmap *names;     /* interned metric names (value unused) */
	size_t nviews, nvalues; /* views, and metric values their rings hold */
	const char **fresh; /* names interned since pano_store_names_mark */
	size_t nfresh, capfresh;
	strmap *watched;   /* subjects watched (value unused) */
	bool filter;
	bool journaling;   /* between pano_store_begin and commit / undo */
	undo_entry *undo;
	size_t nundo, capundo;
};

pano_limits pano_limits_default(void)
{
	pano_limits l = { 100000, 100000, 1000, 10000, 64, 255, 1000000, 10000000 };
	return l;
}

size_t pano_store_view_count(const pano_store *s) { return s->nviews; }
size_t pano_store_value_count(const pano_store *s) { return s->nvalues; }

static size_t view_values(const pano_view *v)
{
	size_t n = 0;
	for (size_t i = 0; i < v->count; i++)
		n += pano_view_at(v, i)->n;
	return n;
}

pano_store *pano_store_new(const pano_limits *limits)
{
	pano_store *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->limits = limits ? *limits : pano_limits_default();
	s->subjects = strmap_new();
	s->observers = strmap_new();
	s->names = strmap_new();
	s->watched = strmap_new();
	if (!s->subjects || !s->observers || !s->names || !s->watched) {
		pano_store_free(s);
		return NULL;
	}
	return s;
}

static void view_free(pano_view *v)
{
	for (size_t i = 0; i < PANO_VIEW_DEPTH; i++)
		pano_obs_clear(&v->ring[i]);
	pano_obs_clear(&v->summary);
	free(v);
}

/* Recomputes a view's summary after it changed. */
static void summarise(pano_view *v)
{
	pano_obs_clear(&v->summary);
	v->has_summary = pano_infer_view(v, &v->summary);
}

static int cmp_view_ptr(const void *a, const void *b)
{
	const pano_view *x = *(const pano_view *const *)a, *y = *(const pano_view *const *)b;
	return natural_cmp_ptr(&x->observer, &y->observer);
}

/* Rebuilds a subject's sorted view list (a view was added or removed). */
static int resort(pano_subject *sub)
{
	size_t count = strmap_count(sub->views);
	const pano_view **sorted = realloc(sub->sorted, (count ? count : 1) * sizeof(*sorted));
	if (!sorted && count > sub->nsorted)
		return -1;
	if (!sorted) /* fewer views than before: the old array holds them */
		sorted = sub->sorted;
	size_t i = 0, n = 0;
	const char *key;
	void *val;
	while (strmap_next(sub->views, &i, &key, &val))
		sorted[n++] = val;
	qsort(sorted, n, sizeof(*sorted), cmp_view_ptr);
	sub->sorted = sorted;
	sub->nsorted = n;
	return 0;
}

static void subject_free(pano_subject *sub)
{
	size_t i = 0;
	const char *key;
	void *val;
	while (strmap_next(sub->views, &i, &key, &val))
		view_free(val);
	strmap_free(sub->views);
	free(sub->sorted);
	pano_inference_clear(&sub->inference);
	free(sub);
}

void pano_store_free(pano_store *s)
{
	if (!s)
		return;
	if (s->subjects) {
		size_t i = 0;
		const char *key;
		void *val;
		while (strmap_next(s->subjects, &i, &key, &val))
			subject_free(val);
	}
	strmap_free(s->subjects);
	strmap_free(s->observers);
	strmap_free(s->names);
	strmap_free(s->watched);
	free(s->fresh);
	pano_store_commit(s); /* frees what the journal holds */
	free(s->undo);
	free(s);
}

const pano_limits *pano_store_limits(const pano_store *s) { return &s->limits; }

bool pano_name_valid(const pano_store *s, const char *name, char *err, size_t errlen)
{
	return pano_text_name_valid(name, strlen(name), s->limits.max_name_len, err, errlen);
}

const char *pano_store_intern(pano_store *s, const char *name, char *err, size_t errlen)
{
	const char *k = strmap_key(s->names, name);
	if (k)
		return k;
	if (!pano_name_valid(s, name, err, errlen))
		return NULL;
	if (strmap_count(s->names) >= s->limits.max_metric_names) {
		snprintf(err, errlen, "more than %zu distinct metric names", s->limits.max_metric_names);
		return NULL;
	}
	if (grow_array(&s->fresh, &s->capfresh, s->nfresh + 1, sizeof(*s->fresh), 64) != 0) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (strmap_put(s->names, name, NULL) != 0) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	k = strmap_key(s->names, name);
	s->fresh[s->nfresh++] = k;
	return k;
}

void pano_store_names_mark(pano_store *s) { s->nfresh = 0; }

void pano_store_names_rollback(pano_store *s)
{
	while (s->nfresh > 0) {
		const char *k = s->fresh[--s->nfresh];
		strmap_remove(s->names, k);
	}
}

static int reinfer(pano_subject *sub)
{
	pano_inference inf;
	if (pano_infer(sub->sorted, sub->nsorted, &inf) != 0)
		return -1;
	pano_inference_clear(&sub->inference);
	sub->inference = inf;
	sub->dirty = false;
	return 0;
}

/* A view that is going: out of its subject and the observers' counts, its
 * values out of the total.  The caller re-sorts the subject's views. */
static void drop_view(pano_store *s, pano_subject *sub, pano_view *v)
{
	char observer[1024]; /* the key is freed with its entry */
	snprintf(observer, sizeof(observer), "%s", v->observer);
	uintptr_t c = (uintptr_t)strmap_get(s->observers, observer);
	strmap_remove(sub->views, observer);
	if (c <= 1)
		strmap_remove(s->observers, observer);
	else
		strmap_put(s->observers, observer, (void *)(c - 1));
	s->nvalues -= view_values(v);
	s->nviews--;
	view_free(v);
}

/* A subject with no view left. */
static void drop_subject(pano_store *s, pano_subject *sub)
{
	char name[1024];
	snprintf(name, sizeof(name), "%s", sub->name);
	strmap_remove(s->subjects, name);
	subject_free(sub);
}

/* The view of observer about subject, created (with its subject) if need
 * be and the bounds allow; *created says which of the two are new. */
enum { CREATED_VIEW = 1, CREATED_SUBJECT = 2 };
static pano_view *view_for(pano_store *s, const char *observer, const char *subject,
                           pano_subject **subp, unsigned *created, char *err, size_t errlen)
{
	pano_subject *sub = strmap_get(s->subjects, subject);
	bool new_subject = !sub;
	*created = 0;
	if (!sub) {
		if (!pano_name_valid(s, subject, err, errlen))
			return NULL;
		if (strmap_count(s->subjects) >= s->limits.max_subjects) {
			snprintf(err, errlen, "more than %zu subjects", s->limits.max_subjects);
			return NULL;
		}
		sub = calloc(1, sizeof(*sub));
		if (!sub || !(sub->views = strmap_new()) || strmap_put(s->subjects, subject, sub) != 0) {
			if (sub)
				strmap_free(sub->views);
			free(sub);
			snprintf(err, errlen, "out of memory");
			return NULL;
		}
		sub->name = strmap_key(s->subjects, subject);
	}
	*subp = sub;
	pano_view *v = strmap_get(sub->views, observer);
	if (v)
		return v;
	if (!pano_name_valid(s, observer, err, errlen))
		goto refused;
	uintptr_t views_of_observer = (uintptr_t)strmap_get(s->observers, observer);
	if (views_of_observer == 0 && strmap_count(s->observers) >= s->limits.max_observers) {
		snprintf(err, errlen, "more than %zu observers", s->limits.max_observers);
		goto refused;
	}
	if (strmap_count(sub->views) >= s->limits.max_views_per_subject) {
		snprintf(err, errlen, "more than %zu observers of subject %s",
		         s->limits.max_views_per_subject, subject);
		goto refused;
	}
	if (s->nviews >= s->limits.max_views) {
		snprintf(err, errlen, "the node holds %zu views, its bound: no new view", s->nviews);
		goto refused;
	}
	v = calloc(1, sizeof(*v));
	if (v)
		v->median_ms = -1.0f; /* none said yet */
	if (!v || strmap_put(s->observers, observer, (void *)(views_of_observer + 1)) != 0 ||
	    strmap_put(sub->views, observer, v) != 0) {
		free(v);
		snprintf(err, errlen, "out of memory");
		goto refused;
	}
	s->nviews++;
	v->observer = strmap_key(s->observers, observer);
	v->subject = sub->name;
	*created = CREATED_VIEW | (new_subject ? CREATED_SUBJECT : 0);
	if (resort(sub) != 0) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	return v;
refused:
	/* a refused report leaves no empty subject behind */
	if (new_subject) {
		drop_subject(s, sub);
		*subp = NULL;
	}
	return NULL;
}

/* Takes back a view (and subject) view_for just created for an add that
 * was then refused. */
static void take_back(pano_store *s, pano_subject *sub, pano_view *v, unsigned created)
{
	if (!(created & CREATED_VIEW))
		return;
	drop_view(s, sub, v);
	if (created & CREATED_SUBJECT)
		drop_subject(s, sub);
	else
		resort(sub);
}

/* The newest timestamp the subject's views hold: what it was "last seen",
 * a function of what is held, so that a restart (which replays rows that
 * were pushed out since) finds the same. */
static void recompute_last_seen(pano_subject *sub)
{
	sub->last_sec = 0;
	sub->last_nsec = 0;
	for (size_t k = 0; k < sub->nsorted; k++)
		for (size_t i = 0; i < sub->sorted[k]->count; i++) {
			const pano_obs *o = pano_view_at(sub->sorted[k], i);
			if (pano_ts_cmp(o->sec, o->nsec, sub->last_sec, sub->last_nsec) > 0) {
				sub->last_sec = o->sec;
				sub->last_nsec = o->nsec;
			}
		}
}

/* Appends obs to v; the observation it pushes out goes to *out when out is
 * given (an open batch keeps it to undo), else it is freed. */
static void append(pano_store *s, pano_subject *sub, pano_view *v, uint64_t seq, pano_obs *obs, pano_obs *out)
{
	assert(v->count <= PANO_VIEW_DEPTH && v->head < PANO_VIEW_DEPTH);
	s->nvalues += obs->n;
	if (v->count == PANO_VIEW_DEPTH)
		s->nvalues -= v->ring[v->head].n;
	size_t slot = (v->head + v->count) % PANO_VIEW_DEPTH;
	/* Pushing out the subject's newest observation (an observer's clock
	 * went back) can lower its "last seen"; a new one only raises it. */
	bool newest_out = v->count == PANO_VIEW_DEPTH &&
	                  pano_ts_cmp(v->ring[v->head].sec, v->ring[v->head].nsec, sub->last_sec, sub->last_nsec) >= 0;
	if (v->count == PANO_VIEW_DEPTH) {
		if (out) {
			*out = v->ring[v->head];
			memset(&v->ring[v->head], 0, sizeof(v->ring[v->head]));
		} else {
			pano_obs_clear(&v->ring[v->head]);
		}
		slot = v->head;
		v->head = (uint8_t)((v->head + 1) % PANO_VIEW_DEPTH);
	} else {
		v->count++;
	}
	v->ring[slot] = *obs;
	memset(obs, 0, sizeof(*obs));
	v->seq = seq + 1;
	summarise(v);
	sub->dirty = true;
	if (newest_out)
		recompute_last_seen(sub);
	else if (pano_ts_cmp(v->ring[slot].sec, v->ring[slot].nsec, sub->last_sec, sub->last_nsec) > 0) {
		sub->last_sec = v->ring[slot].sec;
		sub->last_nsec = v->ring[slot].nsec;
	}
}

/* A report touches one view of thousands, so the metrics of its
 * observations (an allocation each) are rarely in cache, and the summary
 * reads every one of them.  Asking for them all before the duplicate check
 * lets the misses overlap, with each other and with that check, instead of
 * coming one after another. */
static void prefetch_view(const pano_view *v)
{
	for (size_t i = 0; i < v->count; i++)
		__builtin_prefetch(v->ring[i].metrics);
}

/* Room for one more entry in the open batch's journal. */
static int journal_reserve(pano_store *s)
{
	return grow_array(&s->undo, &s->capundo, s->nundo + 1, sizeof(*s->undo), 256);
}

int pano_store_add(pano_store *s, const char *observer, const char *subject,
                   pano_obs *obs, uint64_t *seq, pano_view **view, char *err, size_t errlen)
{
	if (s->journaling && journal_reserve(s) != 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	pano_subject *sub = NULL;
	unsigned created = 0;
	pano_view *v = view_for(s, observer, subject, &sub, &created, err, errlen);
	if (!v)
		return -1;
	prefetch_view(v);
	for (size_t i = 0; i < v->count; i++)
		if (pano_obs_equal(pano_view_at(v, i), obs))
			return 1; /* a retried or re-propagated report */
	size_t out = v->count == PANO_VIEW_DEPTH ? v->ring[v->head].n : 0;
	if (s->nvalues - out + obs->n > s->limits.max_values) {
		snprintf(err, errlen, "the node holds %zu metric values, its bound: no more", s->nvalues);
		take_back(s, sub, v, created);
		return -1;
	}
	*seq = v->seq;
	if (s->journaling) {
		undo_entry *u = &s->undo[s->nundo++];
		uint8_t slot = (uint8_t)(v->count == PANO_VIEW_DEPTH ? v->head : (v->head + v->count) % PANO_VIEW_DEPTH);
		*u = (undo_entry){ .sub = sub, .v = v, .new_view = created & CREATED_VIEW,
		                   .new_subject = created & CREATED_SUBJECT, .head = v->head, .count = v->count,
		                   .slot = slot, .seq = v->seq, .db_id = v->db_id, .db_row = v->db_row[slot],
		                   .last_sec = sub->last_sec, .last_nsec = sub->last_nsec };
		append(s, sub, v, v->seq, obs, &u->out);
	} else {
		append(s, sub, v, v->seq, obs, NULL);
	}
	if (view)
		*view = v;
	return 0;
}

void pano_store_begin(pano_store *s)
{
	pano_store_commit(s);
	s->journaling = true;
}

void pano_store_commit(pano_store *s)
{
	for (size_t i = 0; i < s->nundo; i++) {
		pano_obs_clear(&s->undo[i].out);
		free(s->undo[i].watch_subject);
	}
	s->nundo = 0;
	s->journaling = false;
}

static void undo_add(pano_store *s, undo_entry *u)
{
	pano_subject *sub = u->sub;
	pano_view *v = u->v;
	if (u->new_view) {
		take_back(s, sub, v, CREATED_VIEW | (u->new_subject ? CREATED_SUBJECT : 0));
		if (!u->new_subject) {
			sub->dirty = true;
			recompute_last_seen(sub);
		}
		return;
	}
	s->nvalues -= v->ring[u->slot].n;
	pano_obs_clear(&v->ring[u->slot]);
	v->ring[u->slot] = u->out;
	memset(&u->out, 0, sizeof(u->out));
	s->nvalues += v->ring[u->slot].n;
	v->head = u->head;
	v->count = u->count;
	v->seq = u->seq;
	v->db_id = u->db_id;
	v->db_row[u->slot] = u->db_row;
	summarise(v);
	sub->dirty = true;
	sub->last_sec = u->last_sec;
	sub->last_nsec = u->last_nsec;
}

void pano_store_undo(pano_store *s)
{
	s->journaling = false;
	while (s->nundo > 0) {
		undo_entry *u = &s->undo[--s->nundo];
		if (u->watch_subject) {
			if (u->was_watched)
				strmap_put(s->watched, u->watch_subject, NULL);
			else
				strmap_remove(s->watched, u->watch_subject);
			free(u->watch_subject);
		} else {
			undo_add(s, u);
		}
	}
}

int pano_store_restore(pano_store *s, const char *observer, const char *subject,
                       uint64_t seq, int64_t db_id, int64_t row, pano_obs *obs,
                       int64_t *evicted, char *err, size_t errlen)
{
	pano_subject *sub = NULL;
	unsigned created;
	pano_view *v = view_for(s, observer, subject, &sub, &created, err, errlen);
	if (!v)
		return -1;
	v->db_id = db_id;
	append(s, sub, v, seq, obs, NULL);
	size_t slot = (v->head + v->count - 1u) % PANO_VIEW_DEPTH;
	*evicted = v->db_row[slot];
	v->db_row[slot] = row;
	return 0;
}

pano_view *pano_store_view(pano_store *s, const char *subject, const char *observer)
{
	pano_subject *sub = strmap_get(s->subjects, subject);
	return sub ? strmap_get(sub->views, observer) : NULL;
}

void pano_store_set_filter(pano_store *s, bool filter) { s->filter = filter; }

/* An open batch remembers a change of the watch list, to undo it. */
static int journal_watch(pano_store *s, const char *subject, bool was_watched)
{
	if (!s->journaling)
		return 0;
	char *copy = strdup(subject);
	if (!copy || journal_reserve(s) != 0) {
		free(copy);
		return -1;
	}
	s->undo[s->nundo++] = (undo_entry){ .watch_subject = copy, .was_watched = was_watched };
	return 0;
}

int pano_store_watch(pano_store *s, const char *subject)
{
	char err[64];
	if (!pano_name_valid(s, subject, err, sizeof(err)))
		return -1;
	if (strmap_key(s->watched, subject))
		return 0;
	if (strmap_count(s->watched) >= s->limits.max_subjects || journal_watch(s, subject, false) != 0)
		return -1;
	return strmap_put(s->watched, subject, NULL);
}

void pano_store_unwatch(pano_store *s, const char *subject)
{
	if (strmap_key(s->watched, subject) && journal_watch(s, subject, true) == 0)
		strmap_remove(s->watched, subject);
}

bool pano_store_watching(const pano_store *s, const char *subject)
{
	return !s->filter || strmap_key(s->watched, subject) != NULL;
}

pano_subject *pano_store_subject(const pano_store *s, const char *name)
{
	return strmap_get(s->subjects, name);
}

const char *pano_subject_name(const pano_subject *sub) { return sub->name; }

void pano_subject_last_seen(const pano_subject *sub, int64_t *sec, int32_t *nsec)
{
	*sec = sub->last_sec;
	*nsec = sub->last_nsec;
}

const pano_inference *pano_subject_inference(const pano_subject *sub)
{
	if (sub->dirty)
		reinfer((pano_subject *)sub); /* the lazy cache; on failure the last one stays */
	return &sub->inference;
}

const pano_view *const *pano_subject_views(const pano_subject *sub, size_t *n)
{
	*n = sub->nsorted;
	return sub->sorted;
}

const pano_view *pano_subject_view(const pano_subject *sub, const char *observer)
{
	return strmap_get(sub->views, observer);
}

static int cmp_subject_ptr(const void *a, const void *b)
{
	const pano_subject *x = *(const pano_subject *const *)a, *y = *(const pano_subject *const *)b;
	return natural_cmp_ptr(&x->name, &y->name);
}

bool pano_subject_mute(pano_subject *sub, const pano_view *v, uint8_t mute)
{
	if (v->mute == mute)
		return false;
	((pano_view *)v)->mute = mute; /* the store's own view, handed out read-only */
	sub->dirty = true;
	return true;
}

const pano_subject **pano_store_subjects(const pano_store *s, size_t *n)
{
	*n = 0;
	size_t count = strmap_count(s->subjects);
	const pano_subject **out = malloc((count ? count : 1) * sizeof(*out));
	if (!out)
		return NULL;
	size_t i = 0;
	const char *key;
	void *val;
	while (strmap_next(s->subjects, &i, &key, &val))
		out[(*n)++] = val;
	qsort(out, *n, sizeof(*out), cmp_subject_ptr);
	return out;
}

const char **pano_store_observers(const pano_store *s, size_t *n)
{
	*n = 0;
	size_t count = strmap_count(s->observers);
	const char **out = malloc((count ? count : 1) * sizeof(*out));
	if (!out)
		return NULL;
	size_t i = 0;
	const char *key;
	void *val;
	while (strmap_next(s->observers, &i, &key, &val))
		out[(*n)++] = key;
	qsort(out, *n, sizeof(*out), natural_cmp_ptr);
	return out;
}

size_t pano_store_subject_count(const pano_store *s) { return strmap_count(s->subjects); }

/* Drops a view's observations older than the cutoff; true if any went. */
static bool trim_view(pano_view *v, int64_t now_sec, int64_t threshold, bool relative, size_t *dropped,
                      const pano_gc_hooks *hooks)
{
	if (v->count == 0)
		return false;
	int64_t base = relative ? pano_view_newest(v)->sec : now_sec;
	int64_t cutoff = base - threshold;
	bool any = false;
	while (v->count && pano_view_at(v, 0)->sec < cutoff) {
		pano_obs_clear(&v->ring[v->head]);
		if (hooks && hooks->dropped && v->db_row[v->head])
			hooks->dropped(hooks->ctx, v->db_row[v->head]);
		v->db_row[v->head] = 0;
		v->head = (uint8_t)((v->head + 1) % PANO_VIEW_DEPTH);
		v->count--;
		(*dropped)++;
		any = true;
	}
	return any;
}

size_t pano_store_gc(pano_store *s, const char *prefix, int64_t now_sec, int64_t threshold_sec,
                     bool relative, const pano_gc_hooks *hooks)
{
	size_t plen = prefix ? strlen(prefix) : 0;
	size_t dropped = 0;
	size_t n = 0;
	const pano_subject **subs = pano_store_subjects(s, &n);
	if (!subs)
		return 0;
	for (size_t i = 0; i < n; i++) {
		pano_subject *sub = (pano_subject *)subs[i];
		if (plen && strncmp(pano_subject_name(sub), prefix, plen) != 0)
			continue;
		size_t nv = sub->nsorted;
		const pano_view **views = malloc((nv ? nv : 1) * sizeof(*views));
		if (!views)
			break;
		memcpy(views, sub->sorted, nv * sizeof(*views));
		bool touched = false, removed = false;
		for (size_t k = 0; k < nv; k++) {
			pano_view *v = (pano_view *)views[k];
			size_t before = view_values(v);
			if (!trim_view(v, now_sec, threshold_sec, relative, &dropped, hooks))
				continue;
			s->nvalues -= before - view_values(v);
			touched = true;
			summarise(v);
			if (v->count && v->db_id && v->db_row[v->head] && hooks && hooks->trimmed)
				hooks->trimmed(hooks->ctx, v->db_id, v->db_row[v->head]);
			if (v->count == 0) {
				if (v->db_id && hooks && hooks->gone)
					hooks->gone(hooks->ctx, v->db_id);
				drop_view(s, sub, v);
				removed = true;
			}
		}
		free(views);
		if (removed)
			resort(sub);
		if (strmap_count(sub->views) == 0) {
			drop_subject(s, sub);
		} else if (touched) {
			sub->dirty = true;
			recompute_last_seen(sub);
		}
	}
	free(subs);
	return dropped;
}
