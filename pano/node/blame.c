/* blame.c - the fewest faults that explain the matrix; see blame.h. */
#include "pano/node/blame.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Views by host: the ones it observes (out) and the ones of it (in), as
 * index lists into the views array. */
typedef struct {
	size_t *out_at, *in_at;   /* offsets into out, in; nhosts + 1 each */
	uint32_t *out, *in;       /* view indices */
} adjacency;

typedef struct {
	const blame_host *hosts;
	size_t nhosts;
	const blame_view *v;
	size_t nviews;
	adjacency adj;
	bool *explained;          /* per view */
	bool *blamed_observer;    /* per host */
	blame_list *out;
} finder;

static bool majority(unsigned bad, unsigned n) { return n > 0 && (double)bad > BLAME_MAJORITY * (double)n; }

static int build_adjacency(finder *f)
{
	adjacency *a = &f->adj;
	a->out_at = calloc(f->nhosts + 1, sizeof(size_t));
	a->in_at = calloc(f->nhosts + 1, sizeof(size_t));
	a->out = malloc((f->nviews ? f->nviews : 1) * sizeof(uint32_t));
	a->in = malloc((f->nviews ? f->nviews : 1) * sizeof(uint32_t));
	if (!a->out_at || !a->in_at || !a->out || !a->in)
		return -1;
	for (size_t i = 0; i < f->nviews; i++) {
		a->out_at[f->v[i].observer + 1]++;
		a->in_at[f->v[i].subject + 1]++;
	}
	for (size_t h = 0; h < f->nhosts; h++) {
		a->out_at[h + 1] += a->out_at[h];
		a->in_at[h + 1] += a->in_at[h];
	}
	size_t *o = calloc(f->nhosts + 1, sizeof(size_t)), *n = calloc(f->nhosts + 1, sizeof(size_t));
	if (!o || !n) {
		free(o);
		free(n);
		return -1;
	}
	for (size_t i = 0; i < f->nviews; i++) {
		uint32_t ob = f->v[i].observer, sb = f->v[i].subject;
		a->out[a->out_at[ob] + o[ob]++] = (uint32_t)i;
		a->in[a->in_at[sb] + n[sb]++] = (uint32_t)i;
	}
	free(o);
	free(n);
	return 0;
}

static void free_adjacency(adjacency *a)
{
	free(a->out_at);
	free(a->in_at);
	free(a->out);
	free(a->in);
}

/* --- the blames found ---------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* A new blame on hosts (copied, sorted); its evidence from the views it
 * explains (marked explained here), judged on `views` of which `bad`. */
static blame *add_blame(finder *f, blame_kind kind, const uint32_t *hosts, size_t nhosts, const char *group,
                        const uint32_t *explains, size_t nexplains, unsigned bad, unsigned views)
{
	blame_list *l = f->out;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		blame *b = realloc(l->b, cap * sizeof(*b));
		if (!b)
			return NULL;
		l->b = b;
		l->cap = cap;
	}
	blame *b = &l->b[l->n];
	memset(b, 0, sizeof(*b));
	b->hosts = malloc((nhosts ? nhosts : 1) * sizeof(uint32_t));
	double *ratios = malloc((nexplains ? nexplains : 1) * sizeof(double));
	if (!b->hosts || !ratios) {
		free(b->hosts);
		free(ratios);
		return NULL;
	}
	memcpy(b->hosts, hosts, nhosts * sizeof(uint32_t));
	qsort(b->hosts, nhosts, sizeof(uint32_t), cmp_u32);
	b->nhosts = nhosts;
	b->kind = kind;
	snprintf(b->group, sizeof(b->group), "%s", group ? group : "");
	b->bad = bad;
	b->views = views;
	b->loss = -1.0;
	size_t nr = 0;
	for (size_t i = 0; i < nexplains; i++) {
		const blame_view *v = &f->v[explains[i]];
		f->explained[explains[i]] = true;
		if (v->ratio > 0.0f)
			ratios[nr++] = v->ratio;
		if (v->loss >= 0.0f && v->loss > b->loss)
			b->loss = v->loss;
	}
	if (nr) {
		qsort(ratios, nr, sizeof(double), cmp_double);
		b->ratio = nr % 2 ? ratios[nr / 2] : (ratios[nr / 2 - 1] + ratios[nr / 2]) / 2.0;
	}
	free(ratios);
	l->n++;
	return b;
}

/* --- groups -------------------------------------------------------------------------- */

typedef struct {
	const char *label;   /* "k=v" */
	uint32_t host;
} membership;

static int cmp_membership(const void *a, const void *b)
{
	const membership *x = a, *y = b;
	int c = strcmp(x->label, y->label);
	return c ? c : cmp_u32(&x->host, &y->host);
}

static bool has_label(const blame_host *h, const char *label)
{
	for (size_t i = 0; i < h->nlabels; i++)
		if (strcmp(h->labels[i], label) == 0)
			return true;
	return false;
}

/* The value of key k (the part of label before '=') on host h; NULL when none. */
static const char *label_with_key(const blame_host *h, const char *label)
{
	size_t klen = strcspn(label, "=");
	for (size_t i = 0; i < h->nlabels; i++)
		if (strncmp(h->labels[i], label, klen) == 0 && h->labels[i][klen] == '=')
			return h->labels[i];
	return NULL;
}

typedef struct {
	const char *label;
	uint32_t *members;
	size_t nmembers;
	unsigned cross, cross_bad, inside, inside_bad, members_bad, members_out;
} group_tally;

static void tally_group(finder *f, bool *in_group, group_tally *g, unsigned total, unsigned total_bad,
                        unsigned *outside, unsigned *outside_bad)
{
	for (size_t k = 0; k < g->nmembers; k++)
		in_group[g->members[k]] = true;
	g->cross = g->cross_bad = g->inside = g->inside_bad = g->members_bad = g->members_out = 0;
	for (size_t k = 0; k < g->nmembers; k++) {
		uint32_t m = g->members[k];
		unsigned mc = 0, mb = 0;
		const adjacency *a = &f->adj;
		for (int dir = 0; dir < 2; dir++) {
			size_t from = dir ? a->in_at[m] : a->out_at[m], to = dir ? a->in_at[m + 1] : a->out_at[m + 1];
			for (size_t j = from; j < to; j++) {
				const blame_view *v = &f->v[dir ? a->in[j] : a->out[j]];
				if (!v->fresh)
					continue;
				uint32_t other = dir ? v->observer : v->subject;
				if (in_group[other]) {
					if (dir == 0) { /* each inside view once: from its observer */
						g->inside++;
						g->inside_bad += v->bad;
					}
				} else {
					mc++;
					mb += v->bad;
				}
			}
		}
		g->cross += mc;
		g->cross_bad += mb;
		if (mc) {
			g->members_out++;
			g->members_bad += majority(mb, mc);
		}
	}
	*outside = total - g->cross - g->inside;
	*outside_bad = total_bad - g->cross_bad - g->inside_bad;
	for (size_t k = 0; k < g->nmembers; k++)
		in_group[g->members[k]] = false;
}

/* The cross views of a group not yet explained, and whether they all lead
 * to one other group of the same key (its name then in *partner). */
static size_t unexplained_cross(finder *f, const group_tally *g, bool *in_group, uint32_t *into,
                                const char **partner)
{
	for (size_t k = 0; k < g->nmembers; k++)
		in_group[g->members[k]] = true;
	size_t n = 0;
	const char *one = NULL;
	bool single = true;
	for (size_t k = 0; k < g->nmembers; k++) {
		uint32_t m = g->members[k];
		const adjacency *a = &f->adj;
		for (int dir = 0; dir < 2; dir++) {
			size_t from = dir ? a->in_at[m] : a->out_at[m], to = dir ? a->in_at[m + 1] : a->out_at[m + 1];
			for (size_t j = from; j < to; j++) {
				uint32_t vi = dir ? a->in[j] : a->out[j];
				const blame_view *v = &f->v[vi];
				uint32_t other = dir ? v->observer : v->subject;
				if (!v->fresh || in_group[other])
					continue;
				const char *theirs = f->hosts ? label_with_key(&f->hosts[other], g->label) : NULL;
				if (!theirs || (one && strcmp(one, theirs) != 0))
					single = false;
				else
					one = theirs;
				if (v->bad && !f->explained[vi])
					into[n++] = vi;
			}
		}
	}
	for (size_t k = 0; k < g->nmembers; k++)
		in_group[g->members[k]] = false;
	*partner = single ? one : NULL;
	return n;
}

static int cmp_tally(const void *a, const void *b)
{
	const group_tally *x = a, *y = b;
	if (x->cross_bad != y->cross_bad)
		return x->cross_bad > y->cross_bad ? -1 : 1;
	return strcmp(x->label, y->label);
}

static int find_groups(finder *f)
{
	if (!f->hosts)
		return 0;
	size_t nm = 0;
	for (size_t h = 0; h < f->nhosts; h++)
		nm += f->hosts[h].nlabels;
	if (nm == 0)
		return 0;
	membership *ms = malloc(nm * sizeof(*ms));
	group_tally *gs = calloc(nm, sizeof(*gs));
	uint32_t *members = malloc(nm * sizeof(uint32_t));
	bool *in_group = calloc(f->nhosts, sizeof(bool));
	uint32_t *cross = malloc((2 * f->nviews + 1) * sizeof(uint32_t));
	int rc = ms && gs && members && in_group && cross ? 0 : -1;
	size_t ng = 0;
	if (rc == 0) {
		size_t k = 0;
		for (size_t h = 0; h < f->nhosts; h++)
			for (size_t i = 0; i < f->hosts[h].nlabels; i++)
				ms[k++] = (membership){ f->hosts[h].labels[i], (uint32_t)h };
		qsort(ms, nm, sizeof(*ms), cmp_membership);
		for (size_t i = 0; i < nm;) {
			size_t j = i;
			while (j < nm && strcmp(ms[j].label, ms[i].label) == 0) {
				members[j] = ms[j].host;
				j++;
			}
			if (j - i >= 2)
				gs[ng++] = (group_tally){ ms[i].label, members + i, j - i, 0, 0, 0, 0, 0, 0 };
			i = j;
		}
		unsigned total = 0, total_bad = 0;
		for (size_t i = 0; i < f->nviews; i++)
			if (f->v[i].fresh) {
				total++;
				total_bad += f->v[i].bad;
			}
		size_t keep = 0;
		for (size_t i = 0; i < ng; i++) {
			unsigned outside, outside_bad;
			tally_group(f, in_group, &gs[i], total, total_bad, &outside, &outside_bad);
			group_tally *g = &gs[i];
			/* most of its paths out bad, from most of its members; inside
			 * it, and away from it, mostly fine */
			if (g->cross >= 2 * BLAME_MIN_VIEWS && majority(g->cross_bad, g->cross) && g->members_bad >= 2 &&
			    majority(g->members_bad, g->members_out) && !majority(g->inside_bad, g->inside) &&
			    !majority(outside_bad, outside))
				gs[keep++] = *g;
		}
		ng = keep;
		qsort(gs, ng, sizeof(*gs), cmp_tally);
		for (size_t i = 0; i < ng && rc == 0; i++) {
			const char *partner = NULL;
			size_t n = unexplained_cross(f, &gs[i], in_group, cross, &partner);
			if (n == 0)
				continue;
			char name[256];
			size_t nhosts = gs[i].nmembers;
			uint32_t *hosts = malloc((f->nhosts ? f->nhosts : 1) * sizeof(uint32_t));
			if (!hosts) {
				rc = -1;
				break;
			}
			memcpy(hosts, gs[i].members, nhosts * sizeof(uint32_t));
			if (partner) {
				/* the only way out is into one other group: either uplink */
				const char *a = strcmp(gs[i].label, partner) < 0 ? gs[i].label : partner;
				const char *b = a == partner ? gs[i].label : partner;
				snprintf(name, sizeof(name), "%s|%s", a, b);
				for (size_t h = 0; h < f->nhosts; h++)
					if (has_label(&f->hosts[h], partner))
						hosts[nhosts++] = (uint32_t)h;
			} else {
				snprintf(name, sizeof(name), "%s", gs[i].label);
			}
			if (!add_blame(f, BLAME_GROUP, hosts, nhosts, name, cross, n, gs[i].cross_bad, gs[i].cross))
				rc = -1;
			free(hosts);
		}
	}
	free(ms);
	free(gs);
	free(members);
	free(in_group);
	free(cross);
	return rc;
}

/* --- observers and hosts -------------------------------------------------------------- */

/* Of subject s's fresh views by observers other than o (and not blamed):
 * how many, and how many bad. */
static void others_of(const finder *f, uint32_t s, uint32_t o, unsigned *n, unsigned *bad)
{
	*n = *bad = 0;
	for (size_t j = f->adj.in_at[s]; j < f->adj.in_at[s + 1]; j++) {
		const blame_view *v = &f->v[f->adj.in[j]];
		if (!v->fresh || v->observer == o || f->blamed_observer[v->observer])
			continue;
		(*n)++;
		*bad += v->bad;
	}
}

typedef struct {
	uint32_t host;
	unsigned bad;
} ranked;

static int cmp_ranked(const void *a, const void *b)
{
	const ranked *x = a, *y = b;
	if (x->bad != y->bad)
		return x->bad > y->bad ? -1 : 1;
	return cmp_u32(&x->host, &y->host);
}

static int find_observers(finder *f, ranked *order, uint32_t *buf)
{
	const adjacency *a = &f->adj;
	for (size_t h = 0; h < f->nhosts; h++) {
		unsigned bad = 0;
		for (size_t j = a->out_at[h]; j < a->out_at[h + 1]; j++)
			bad += f->v[a->out[j]].fresh && f->v[a->out[j]].bad && !f->explained[a->out[j]];
		order[h] = (ranked){ (uint32_t)h, bad };
	}
	qsort(order, f->nhosts, sizeof(*order), cmp_ranked);
	for (size_t r = 0; r < f->nhosts && order[r].bad > 0; r++) {
		uint32_t o = order[r].host;
		unsigned n = 0, bad = 0, in = 0, in_bad = 0, fine_elsewhere = 0;
		size_t nb = 0;
		for (size_t j = a->out_at[o]; j < a->out_at[o + 1]; j++) {
			uint32_t vi = a->out[j];
			const blame_view *v = &f->v[vi];
			if (!v->fresh || f->explained[vi])
				continue;
			n++;
			if (!v->bad)
				continue;
			bad++;
			buf[nb++] = vi;
			unsigned on, ob;
			others_of(f, v->subject, o, &on, &ob);
			fine_elsewhere += on > 0 && !majority(ob, on);
		}
		for (size_t j = a->in_at[o]; j < a->in_at[o + 1]; j++) {
			const blame_view *v = &f->v[a->in[j]];
			if (v->fresh && !f->blamed_observer[v->observer]) {
				in++;
				in_bad += v->bad;
			}
		}
		/* sees most of its subjects bad, which others see fine; is not
		 * itself seen bad */
		if (n < BLAME_MIN_VIEWS || !majority(bad, n) || majority(in_bad, in) || !majority(fine_elsewhere, bad))
			continue;
		f->blamed_observer[o] = true;
		if (!add_blame(f, BLAME_OBSERVER, &o, 1, NULL, buf, nb, bad, n))
			return -1;
	}
	return 0;
}

static int find_hosts(finder *f, ranked *order, uint32_t *buf)
{
	const adjacency *a = &f->adj;
	for (size_t h = 0; h < f->nhosts; h++) {
		unsigned bad = 0;
		for (size_t j = a->in_at[h]; j < a->in_at[h + 1]; j++) {
			const blame_view *v = &f->v[a->in[j]];
			bad += v->fresh && v->bad && !f->explained[a->in[j]] && !f->blamed_observer[v->observer];
		}
		order[h] = (ranked){ (uint32_t)h, bad };
	}
	qsort(order, f->nhosts, sizeof(*order), cmp_ranked);
	for (size_t r = 0; r < f->nhosts && order[r].bad > 0; r++) {
		uint32_t h = order[r].host;
		unsigned n = 0, bad = 0;
		size_t nb = 0;
		for (size_t j = a->in_at[h]; j < a->in_at[h + 1]; j++) {
			uint32_t vi = a->in[j];
			const blame_view *v = &f->v[vi];
			/* what a wider fault explains is not this host's to answer for */
			if (!v->fresh || f->blamed_observer[v->observer] || f->explained[vi])
				continue;
			n++;
			if (v->bad) {
				bad++;
				buf[nb++] = vi;
			}
		}
		if (n < BLAME_MIN_VIEWS || !majority(bad, n))
			continue;
		/* its own bad views of others are the same fault */
		for (size_t j = a->out_at[h]; j < a->out_at[h + 1]; j++)
			if (f->v[a->out[j]].fresh && f->v[a->out[j]].bad && !f->explained[a->out[j]])
				buf[nb++] = a->out[j];
		if (!add_blame(f, BLAME_HOST, &h, 1, NULL, buf, nb, bad, n))
			return -1;
	}
	return 0;
}

/* --- links ------------------------------------------------------------------------------ */

typedef struct {
	uint32_t lo, hi, view;
} pair_view;

static int cmp_pair(const void *a, const void *b)
{
	const pair_view *x = a, *y = b;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	return cmp_u32(&x->view, &y->view);
}

static int find_links(finder *f, uint32_t *buf)
{
	size_t n = 0;
	for (size_t i = 0; i < f->nviews; i++)
		n += f->v[i].fresh && f->v[i].bad && !f->explained[i];
	if (n == 0)
		return 0;
	pair_view *p = malloc(n * sizeof(*p));
	if (!p)
		return -1;
	size_t k = 0;
	for (size_t i = 0; i < f->nviews; i++) {
		const blame_view *v = &f->v[i];
		if (v->fresh && v->bad && !f->explained[i]) {
			uint32_t lo = v->observer < v->subject ? v->observer : v->subject;
			uint32_t hi = v->observer < v->subject ? v->subject : v->observer;
			p[k++] = (pair_view){ lo, hi, (uint32_t)i };
		}
	}
	qsort(p, n, sizeof(*p), cmp_pair);
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0;) {
		size_t j = i, nb = 0;
		while (j < n && p[j].lo == p[i].lo && p[j].hi == p[i].hi)
			buf[nb++] = p[j++].view;
		/* the pair's views, bad or not, one way or both */
		unsigned views = 0;
		for (size_t x = f->adj.out_at[p[i].lo]; x < f->adj.out_at[p[i].lo + 1]; x++)
			views += f->v[f->adj.out[x]].fresh && f->v[f->adj.out[x]].subject == p[i].hi;
		for (size_t x = f->adj.out_at[p[i].hi]; x < f->adj.out_at[p[i].hi + 1]; x++)
			views += f->v[f->adj.out[x]].fresh && f->v[f->adj.out[x]].subject == p[i].lo;
		uint32_t ends[2] = { p[i].lo, p[i].hi };
		if (!add_blame(f, BLAME_LINK, ends, 2, NULL, buf, nb, (unsigned)nb, views))
			rc = -1;
		i = j;
	}
	free(p);
	return rc;
}

/* --- together --------------------------------------------------------------------------- */

static int cmp_blame(const void *a, const void *b)
{
	const blame *x = a, *y = b;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	size_t n = x->nhosts < y->nhosts ? x->nhosts : y->nhosts;
	for (size_t i = 0; i < n; i++)
		if (x->hosts[i] != y->hosts[i])
			return x->hosts[i] < y->hosts[i] ? -1 : 1;
	if (x->nhosts != y->nhosts)
		return x->nhosts < y->nhosts ? -1 : 1;
	return strcmp(x->group, y->group);
}

int blame_find(const blame_host *hosts, size_t nhosts, const blame_view *views, size_t nviews, blame_list *out)
{
	finder f = { hosts, nhosts, views, nviews, { NULL, NULL, NULL, NULL }, NULL, NULL, out };
	for (size_t i = 0; i < nviews; i++)
		assert(views[i].observer < nhosts && views[i].subject < nhosts);
	f.explained = calloc(nviews ? nviews : 1, sizeof(bool));
	f.blamed_observer = calloc(nhosts ? nhosts : 1, sizeof(bool));
	ranked *order = malloc((nhosts ? nhosts : 1) * sizeof(*order));
	uint32_t *buf = malloc((2 * nviews + 1) * sizeof(uint32_t));
	int rc = f.explained && f.blamed_observer && order && buf && build_adjacency(&f) == 0 ? 0 : -1;
	if (rc == 0)
		rc = find_groups(&f);
	if (rc == 0)
		rc = find_observers(&f, order, buf);
	if (rc == 0)
		rc = find_hosts(&f, order, buf);
	if (rc == 0)
		rc = find_links(&f, buf);
	if (out->n)
		qsort(out->b, out->n, sizeof(blame), cmp_blame);
	free_adjacency(&f.adj);
	free(f.explained);
	free(f.blamed_observer);
	free(order);
	free(buf);
	return rc;
}

void blame_list_clear(blame_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->b[i].hosts);
	free(l->b);
	memset(l, 0, sizeof(*l));
}

const char *blame_kind_name(blame_kind k)
{
	switch (k) {
	case BLAME_GROUP: return "group";
	case BLAME_OBSERVER: return "observer";
	case BLAME_HOST: return "host";
	case BLAME_LINK: return "link";
	}
	return "?";
}
