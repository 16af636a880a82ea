/* judge.c - staleness, blame and votes, once a second; see judge.h. */
#include "pano/node/judge.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pano/common/strmap.h"
#include "pano/node/meshgate.h"

#define LABEL_PART_MAX 64
/* A view whose observer has sent one observation: its interval is taken
 * as the agent's report interval. */
#define DEFAULT_INTERVAL_S 10

typedef struct {
	char *kv[JUDGE_LABELS_MAX];
	size_t n;
} label_set;

/* A blame found by some of the last three passes. */
typedef struct {
	char *id;               /* kind, hosts and group: who it is, across passes */
	blame_kind kind;
	char **hosts;
	size_t nhosts;
	char *group;
	bool seen[3];           /* by pass number modulo 3 */
	int64_t first_sec;
	unsigned bad, views;
	double ratio, loss;
} tracked;

struct judge {
	double stale_after;
	strmap *labels;         /* host -> label_set */
	tracked *t;
	size_t nt, capt;
	judge_blame *cur;       /* the current ones, published */
	size_t ncur;
	unsigned pass;
	const char **touched;   /* subjects whose votes the last pass changed */
	size_t ntouched, captouched;
};

judge *judge_new(double stale_after)
{
	judge *j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->stale_after = stale_after;
	if (!(j->labels = strmap_new())) {
		free(j);
		return NULL;
	}
	return j;
}

static void free_labels(label_set *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->kv[i]);
	free(l);
}

static void free_tracked(tracked *t)
{
	free(t->id);
	for (size_t i = 0; i < t->nhosts; i++)
		free(t->hosts[i]);
	free(t->hosts);
	free(t->group);
}

void judge_free(judge *j)
{
	if (!j)
		return;
	size_t i = 0;
	const char *key;
	void *val;
	while (strmap_next(j->labels, &i, &key, &val))
		free_labels(val);
	strmap_free(j->labels);
	for (size_t k = 0; k < j->nt; k++)
		free_tracked(&j->t[k]);
	free(j->t);
	free(j->cur);
	free(j->touched);
	free(j);
}

/* --- labels ------------------------------------------------------------------------- */

static bool label_part_ok(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++)
		if ((unsigned char)s[n] <= ' ' || s[n] == 0x7f || s[n] == '=' || s[n] == '|' || s[n] == ',' ||
		    n >= LABEL_PART_MAX)
			return false;
	return n > 0;
}

static void note(judge *j, const char *host, Panorama__Report__ObserverLabelsEntry *const *e, size_t n)
{
	if (!host || !host[0] || n == 0)
		return;
	label_set *l = calloc(1, sizeof(*l));
	if (!l)
		return; /* memory short: the labels it had stay */
	for (size_t i = 0; i < n && l->n < JUDGE_LABELS_MAX; i++) {
		if (!e[i] || !e[i]->key || !e[i]->value || !label_part_ok(e[i]->key) || !label_part_ok(e[i]->value))
			continue;
		size_t len = strlen(e[i]->key) + strlen(e[i]->value) + 2;
		if ((l->kv[l->n] = malloc(len)))
			snprintf(l->kv[l->n++], len, "%s=%s", e[i]->key, e[i]->value);
	}
	label_set *old = strmap_get(j->labels, host);
	if (strmap_put(j->labels, host, l) != 0) {
		free_labels(l);
		return;
	}
	if (old)
		free_labels(old);
}

void judge_note_labels(judge *j, const Panorama__Report *r)
{
	/* protobuf-c makes each map's entries its own type; they are laid out
	 * alike (key, value) */
	note(j, r->observer, r->observer_labels, r->n_observer_labels);
	note(j, r->subject, (Panorama__Report__ObserverLabelsEntry *const *)r->subject_labels, r->n_subject_labels);
}

/* --- a pass ------------------------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* How long a view may go without an observation before it is stale. */
static int64_t window_of(const judge *j, const pano_view *v)
{
	int64_t gaps[PANO_VIEW_DEPTH];
	size_t n = 0;
	for (size_t i = 1; i < v->count; i++) {
		int64_t g = pano_view_at(v, i)->sec - pano_view_at(v, i - 1)->sec;
		gaps[n++] = g < 0 ? -g : g;
	}
	int64_t interval = DEFAULT_INTERVAL_S;
	if (n) {
		qsort(gaps, n, sizeof(int64_t), cmp_i64);
		interval = gaps[n / 2] > 1 ? gaps[n / 2] : 1;
	}
	int64_t w = (int64_t)(j->stale_after * (double)interval);
	return w > JUDGE_STALE_MIN_S ? w : JUDGE_STALE_MIN_S;
}

typedef struct {
	pano_subject *sub;
	const pano_view *v;
} placed;

typedef struct {
	strmap *index;          /* name -> 1 + index */
	const char **names;
	size_t n, cap;
} host_index;

static long index_of(host_index *h, const char *name)
{
	void *v = strmap_get(h->index, name);
	if (v)
		return (long)(intptr_t)v - 1;
	if (h->n == h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 64;
		const char **names = realloc(h->names, cap * sizeof(*names));
		if (!names)
			return -1;
		h->names = names;
		h->cap = cap;
	}
	if (strmap_put(h->index, name, (void *)(intptr_t)(h->n + 1)) != 0)
		return -1;
	h->names[h->n] = name;
	return (long)h->n++;
}

static void describe(const pano_obs *o, blame_view *bv)
{
	uint8_t worst = PANO_HEALTHY;
	bv->ratio = 0.0f;
	bv->loss = -1.0f;
	for (uint16_t i = 0; i < o->n; i++) {
		const pano_metric *m = &o->metrics[i];
		if (m->status > worst && m->status <= PANO_STATUS_MAX)
			worst = m->status;
		if (m->ratio > bv->ratio)
			bv->ratio = m->ratio;
		if (m->loss > bv->loss)
			bv->loss = m->loss;
	}
	bv->bad = worst >= PANO_UNHEALTHY;
}

static char *id_of(const blame *b, const host_index *h)
{
	size_t len = 32 + strlen(b->group);
	for (size_t i = 0; i < b->nhosts; i++)
		len += strlen(h->names[b->hosts[i]]) + 1;
	char *id = malloc(len);
	if (!id)
		return NULL;
	size_t at = (size_t)snprintf(id, len, "%s|", blame_kind_name(b->kind));
	for (size_t i = 0; i < b->nhosts; i++)
		at += (size_t)snprintf(id + at, len - at, "%s%s", i ? "," : "", h->names[b->hosts[i]]);
	snprintf(id + at, len - at, "|%s", b->group);
	return id;
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Takes one found blame into the tracked ones. */
static int track(judge *j, const blame *b, const host_index *h, int64_t now_sec)
{
	char *id = id_of(b, h);
	if (!id)
		return -1;
	tracked *t = NULL;
	for (size_t i = 0; i < j->nt && !t; i++)
		if (strcmp(j->t[i].id, id) == 0)
			t = &j->t[i];
	if (t) {
		free(id);
	} else {
		if (j->nt == j->capt) {
			size_t cap = j->capt ? 2 * j->capt : 8;
			tracked *grown = realloc(j->t, cap * sizeof(*grown));
			if (!grown) {
				free(id);
				return -1;
			}
			j->t = grown;
			j->capt = cap;
		}
		t = &j->t[j->nt];
		memset(t, 0, sizeof(*t));
		t->id = id;
		t->kind = b->kind;
		t->first_sec = now_sec;
		t->hosts = calloc(b->nhosts ? b->nhosts : 1, sizeof(char *));
		t->group = strdup(b->group);
		bool ok = t->hosts && t->group;
		for (size_t i = 0; ok && i < b->nhosts; i++)
			ok = (t->hosts[t->nhosts++] = strdup(h->names[b->hosts[i]])) != NULL;
		if (!ok) {
			free_tracked(t);
			return -1;
		}
		qsort(t->hosts, t->nhosts, sizeof(char *), cmp_name);
		j->nt++;
	}
	t->seen[j->pass % 3] = true;
	t->bad = b->bad;
	t->views = b->views;
	t->ratio = b->ratio;
	t->loss = b->loss;
	return 0;
}

/* Two of the last three passes; and a blame that rests on one bad view
 * alone (one observer's word about one host) held JUDGE_ONE_VIEW_HOLD_S
 * too, so that one agent's brief false alarm does not name a link. */
static bool is_current(const tracked *t, int64_t now_sec)
{
	return t->seen[0] + t->seen[1] + t->seen[2] >= 2 && (t->bad > 1 || now_sec - t->first_sec >= JUDGE_ONE_VIEW_HOLD_S);
}

static int cmp_current(const void *a, const void *b)
{
	const judge_blame *x = a, *y = b;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	for (size_t i = 0; i < x->nhosts && i < y->nhosts; i++) {
		int c = strcmp(x->hosts[i], y->hosts[i]);
		if (c)
			return c;
	}
	if (x->nhosts != y->nhosts)
		return x->nhosts < y->nhosts ? -1 : 1;
	return strcmp(x->group, y->group);
}

/* Rebuilds the published list; true when it is not the same set as before. */
static int publish(judge *j, int64_t now_sec)
{
	size_t n = 0;
	for (size_t i = 0; i < j->nt; i++)
		n += is_current(&j->t[i], now_sec);
	judge_blame *cur = malloc((n ? n : 1) * sizeof(*cur));
	if (!cur)
		return -1;
	size_t k = 0;
	for (size_t i = 0; i < j->nt; i++) {
		const tracked *t = &j->t[i];
		if (is_current(t, now_sec))
			cur[k++] = (judge_blame){ t->kind, (const char *const *)t->hosts, t->nhosts, t->group, t->first_sec,
			                          t->bad, t->views, t->ratio, t->loss };
	}
	qsort(cur, n, sizeof(*cur), cmp_current);
	bool changed = n != j->ncur;
	for (size_t i = 0; !changed && i < n; i++)
		changed = cmp_current(&cur[i], &j->cur[i]) != 0 || cur[i].since_sec != j->cur[i].since_sec;
	free(j->cur);
	j->cur = cur;
	j->ncur = n;
	return changed;
}

bool judge_explains(const judge *j, const char *observer, const char *subject)
{
	for (size_t i = 0; i < j->ncur; i++) {
		const judge_blame *b = &j->cur[i];
		bool has_o = false, has_s = false;
		for (size_t k = 0; k < b->nhosts; k++) {
			has_o = has_o || strcmp(b->hosts[k], observer) == 0;
			has_s = has_s || strcmp(b->hosts[k], subject) == 0;
		}
		switch (b->kind) {
		case BLAME_OBSERVER:
		case BLAME_HOST: /* its own views of others: the subject is not at fault */
			if (has_o)
				return true;
			break;
		case BLAME_LINK:
			if (has_o && has_s)
				return true;
			break;
		case BLAME_GROUP:
			if (has_o != has_s)
				return true;
			break;
		}
	}
	return false;
}

int judge_pass(judge *j, pano_store *s, int64_t now_sec)
{
	size_t ns = 0;
	const pano_subject **subjects = pano_store_subjects(s, &ns);
	host_index h = { strmap_new(), NULL, 0, 0 };
	blame_view *views = NULL;
	placed *where = NULL;
	blame_host *hosts = NULL;
	size_t nv = 0, capv = 0;
	int rc = subjects && h.index ? 0 : -1;
	for (size_t i = 0; rc == 0 && i < ns; i++) {
		pano_subject *sub = (pano_subject *)subjects[i];
		const char *name = pano_subject_name(sub);
		if (meshgate_is_mesh(name))
			continue;
		size_t n;
		const pano_view *const *vs = pano_subject_views(sub, &n);
		long si = index_of(&h, name);
		for (size_t k = 0; rc == 0 && k < n; k++) {
			const pano_obs *newest = pano_view_newest(vs[k]);
			long oi = newest ? index_of(&h, vs[k]->observer) : 0;
			if (si < 0 || oi < 0) {
				rc = -1;
				break;
			}
			if (!newest || oi == si)
				continue;
			if (nv == capv) {
				capv = capv ? 2 * capv : 256;
				blame_view *gv = realloc(views, capv * sizeof(*gv));
				placed *gw = realloc(where, capv * sizeof(*gw));
				if (gv)
					views = gv;
				if (gw)
					where = gw;
				if (!gv || !gw) {
					rc = -1;
					break;
				}
			}
			blame_view *bv = &views[nv];
			bv->observer = (uint32_t)oi;
			bv->subject = (uint32_t)si;
			describe(newest, bv);
			bv->fresh = j->stale_after <= 0 || now_sec - newest->sec <= window_of(j, vs[k]);
			where[nv++] = (placed){ sub, vs[k] };
		}
	}
	if (rc == 0 && !(hosts = calloc(h.n ? h.n : 1, sizeof(*hosts))))
		rc = -1;
	for (size_t i = 0; rc == 0 && i < h.n; i++) {
		const label_set *l = strmap_get(j->labels, h.names[i]);
		if (l)
			hosts[i] = (blame_host){ (const char *const *)l->kv, l->n };
	}
	blame_list found = { NULL, 0, 0 };
	if (rc == 0)
		rc = blame_find(hosts, h.n, views, nv, &found);
	int changed = 0;
	if (rc == 0) {
		j->pass++;
		for (size_t i = 0; i < j->nt; i++)
			j->t[i].seen[j->pass % 3] = false;
		for (size_t i = 0; rc == 0 && i < found.n; i++)
			rc = track(j, &found.b[i], &h, now_sec);
		/* what no pass of the last three found is forgotten */
		size_t keep = 0;
		for (size_t i = 0; i < j->nt; i++) {
			if (j->t[i].seen[0] || j->t[i].seen[1] || j->t[i].seen[2])
				j->t[keep++] = j->t[i];
			else
				free_tracked(&j->t[i]);
		}
		j->nt = keep;
		changed = publish(j, now_sec);
		if (changed < 0)
			rc = -1;
	}
	/* who votes */
	j->ntouched = 0;
	for (size_t i = 0; rc == 0 && i < nv; i++) {
		uint8_t mute = !views[i].fresh ? PANO_STALE
		             : judge_explains(j, h.names[views[i].observer], h.names[views[i].subject]) ? PANO_BLAMED
		                                                                                      : PANO_VOTES;
		if (!pano_subject_mute(where[i].sub, where[i].v, mute))
			continue;
		const char *name = h.names[views[i].subject]; /* the store's: valid while it is */
		if (j->ntouched && j->touched[j->ntouched - 1] == name)
			continue;
		if (j->ntouched == j->captouched) {
			size_t cap = j->captouched ? 2 * j->captouched : 64;
			const char **t = realloc(j->touched, cap * sizeof(*t));
			if (!t)
				continue; /* memory short: the watch misses this one */
			j->touched = t;
			j->captouched = cap;
		}
		j->touched[j->ntouched++] = name;
	}
	blame_list_clear(&found);
	free(hosts);
	free(views);
	free(where);
	free(h.names);
	strmap_free(h.index);
	free(subjects);
	return rc < 0 ? -1 : changed;
}

const char *const *judge_touched(const judge *j, size_t *n)
{
	*n = j->ntouched;
	return j->touched;
}

const judge_blame *judge_blames(const judge *j, size_t *n)
{
	*n = j->ncur;
	return j->cur;
}
