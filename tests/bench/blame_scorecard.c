/* blame-scorecard: the blame engine (pano/node/blame.h) on synthetic
 * meshes, per fault kind and per number of observers a host, with its
 * precision and recall (make bench).
 *
 * A mesh of 10 to 200 hosts in racks of 5 to 20 (three racks at least),
 * each host observed by k others at random (k from 2 to 10); every host
 * labelled rack=rN.  One fault a trial (or two at once): a host (slow to
 * answer, or its NIC: slow both ways), an observer (it sees everything
 * slow, others see it fine), a link (one pair, one way or both), a rack's
 * uplink (every view out of the rack).  Noise: each healthy view is bad on
 * a snapshot with probability NOISE, each view of a fault is missed with
 * MISSED.  Three snapshots; a blame counts when it is found on two of them
 * (as the node confirms one: on two of its last three passes).  A blame is right
 * when its kind and hosts (a rack's: its label) are the fault's.  20 seeds
 * a setting. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pano/node/blame.h"
#include "tests/bench/splitmix.h"

#define PROG "blame-scorecard"
#define HOSTS_MAX 200
/* A healthy view bad on a pass: three times the share of time a pair's
 * false NEEDS_ATTENTION takes in the detection scorecard (0.04 alarms a
 * host-hour, held some 30 s), and independent from pass to pass, which
 * real ones are not. */
#define NOISE 0.001
/* A view of a fault not bad on a pass: an alarm, once raised, holds while
 * the slowness does (attention.h), so a pass misses it only around its
 * start and end. */
#define MISSED 0.02

static double uniform(rng *r) { return (double)(rng_next(r) >> 11) / 9007199254740992.0; }
static unsigned below(rng *r, unsigned n) { return (unsigned)(uniform(r) * n) % n; }

typedef enum { F_HOST, F_HOST_NIC, F_OBSERVER, F_LINK, F_GROUP, F_KINDS } fault_kind;
static const char *const FAULT_NAMES[] = { "host (slow to answer)", "host (its NIC, both ways)", "observer",
                                           "link", "rack uplink" };

typedef struct {
	fault_kind kind;
	uint32_t a, b;      /* host / observer: a; link: a, b */
	unsigned rack;      /* group */
	bool both_ways;     /* link */
} fault;

typedef struct {
	size_t n;
	unsigned rack_of[HOSTS_MAX], nracks;
	char labels[HOSTS_MAX][16];
	const char *label_ptr[HOSTS_MAX];
	blame_host hosts[HOSTS_MAX];
	blame_view *views;
	size_t nviews;
} mesh;

static void make_mesh(rng *r, size_t n, unsigned k, mesh *m)
{
	m->n = n;
	if (k > n - 1)
		k = (unsigned)n - 1; /* no host observes itself */
	unsigned size = 5 + below(r, 16);
	if (size > n / 3)
		size = (unsigned)(n / 3);
	m->nracks = (unsigned)((n + size - 1) / size);
	for (size_t h = 0; h < n; h++) {
		m->rack_of[h] = (unsigned)(h / size);
		snprintf(m->labels[h], sizeof(m->labels[h]), "rack=r%u", m->rack_of[h]);
		m->label_ptr[h] = m->labels[h];
		m->hosts[h] = (blame_host){ &m->label_ptr[h], 1 };
	}
	/* as the agent's mesh samples it: after a random order, each host is
	 * observed by the k after it, so each observes k too */
	uint32_t order[HOSTS_MAX];
	for (size_t h = 0; h < n; h++)
		order[h] = (uint32_t)h;
	for (size_t h = n - 1; h > 0; h--) {
		size_t j = below(r, (unsigned)h + 1);
		uint32_t x = order[h];
		order[h] = order[j];
		order[j] = x;
	}
	m->views = malloc(n * k * sizeof(blame_view));
	m->nviews = 0;
	for (size_t i = 0; i < n; i++)
		for (unsigned d = 1; d <= k; d++)
			m->views[m->nviews++] = (blame_view){ order[(i + d) % n], order[i], false, true, 1.0f, 0.0f };
}

static bool in_fault(const mesh *m, const fault *f, const blame_view *v)
{
	switch (f->kind) {
	case F_HOST: return v->subject == f->a;
	case F_HOST_NIC: return v->subject == f->a || v->observer == f->a;
	case F_OBSERVER: return v->observer == f->a;
	case F_LINK:
		return (v->observer == f->a && v->subject == f->b) || (f->both_ways && v->observer == f->b && v->subject == f->a);
	case F_GROUP: return (m->rack_of[v->observer] == f->rack) != (m->rack_of[v->subject] == f->rack);
	default: return false;
	}
}

static fault draw_fault(rng *r, const mesh *m, fault_kind kind)
{
	fault f = { kind, 0, 0, 0, false };
	if (kind == F_LINK) {
		const blame_view *v = &m->views[below(r, (unsigned)m->nviews)];
		f.a = v->observer;
		f.b = v->subject;
		f.both_ways = uniform(r) < 0.5;
	} else if (kind == F_GROUP) {
		f.rack = below(r, m->nracks);
	} else {
		f.a = below(r, (unsigned)m->n);
	}
	return f;
}

/* The blame a fault should give. */
static bool matches(const mesh *m, const fault *f, const blame *b)
{
	switch (f->kind) {
	case F_HOST:
	case F_HOST_NIC: return b->kind == BLAME_HOST && b->nhosts == 1 && b->hosts[0] == f->a;
	case F_OBSERVER: return b->kind == BLAME_OBSERVER && b->nhosts == 1 && b->hosts[0] == f->a;
	case F_LINK: {
		uint32_t lo = f->a < f->b ? f->a : f->b, hi = f->a < f->b ? f->b : f->a;
		return b->kind == BLAME_LINK && b->nhosts == 2 && b->hosts[0] == lo && b->hosts[1] == hi;
	}
	case F_GROUP: {
		char want[32];
		snprintf(want, sizeof(want), "rack=r%u", f->rack);
		return b->kind == BLAME_GROUP && strcmp(b->group, want) == 0;
	}
	default: (void)m; return false;
	}
}

static blame_kind kind_of_fault(fault_kind k)
{
	return k == F_OBSERVER ? BLAME_OBSERVER : k == F_LINK ? BLAME_LINK : k == F_GROUP ? BLAME_GROUP : BLAME_HOST;
}

static bool same_blame(const blame *x, const blame *y)
{
	if (x->kind != y->kind || x->nhosts != y->nhosts || strcmp(x->group, y->group) != 0)
		return false;
	return memcmp(x->hosts, y->hosts, x->nhosts * sizeof(uint32_t)) == 0;
}

/* One snapshot: the views' statuses with noise, and its blames. */
static void snapshot(rng *outer, mesh *m, const fault *faults, size_t nf, blame_list *out)
{
	/* each pass its own stream, seeded from the trial's */
	rng pass = { rng_next(outer) * UINT64_C(0xd1342543de82ef95) + 1 };
	rng *r = &pass;
	for (size_t i = 0; i < m->nviews; i++) {
		blame_view *v = &m->views[i];
		bool faulty = false;
		for (size_t k = 0; k < nf; k++)
			faulty = faulty || in_fault(m, &faults[k], v);
		double u = uniform(r);
		v->bad = faulty ? u >= MISSED : u < NOISE;
		v->ratio = v->bad ? (float)(3.0 + 5.0 * uniform(r)) : (float)(0.8 + 0.5 * uniform(r));
	}
	memset(out, 0, sizeof(*out));
	if (blame_find(m->hosts, m->n, m->views, m->nviews, out) != 0) {
		fprintf(stderr, PROG ": out of memory\n");
		exit(1);
	}
}

typedef struct {
	unsigned injected[F_KINDS], found[F_KINDS];
	unsigned right[4], blamed[4]; /* by blame kind */
} tally;

static void trial(rng *r, size_t n, unsigned k, const fault_kind *kinds, size_t nk, tally *t)
{
	mesh m;
	make_mesh(r, n, k, &m);
	fault f[2];
	for (size_t i = 0; i < nk; i++) {
		f[i] = draw_fault(r, &m, kinds[i]);
		/* two faults at once: on different hosts */
		for (int tries = 0; i == 1 && tries < 1000; tries++) {
			bool meets = f[1].a == f[0].a || (f[0].kind == F_LINK && f[1].a == f[0].b) ||
			             (f[1].kind == F_LINK && (f[1].b == f[0].a || (f[0].kind == F_LINK && f[1].b == f[0].b)));
			if (!meets)
				break;
			f[1] = draw_fault(r, &m, kinds[1]);
		}
	}
	blame_list s[3];
	for (int i = 0; i < 3; i++)
		snapshot(r, &m, f, nk, &s[i]);
	/* confirmed: on two of the three passes (the node's rule); counted once */
	blame_list all = { NULL, 0, 0 };
	for (int p = 0; p < 3; p++)
		for (size_t i = 0; i < s[p].n; i++) {
			unsigned seen = 0;
			for (int q = 0; q < 3; q++)
				for (size_t j = 0; j < s[q].n; j++)
					seen += same_blame(&s[p].b[i], &s[q].b[j]);
			bool counted = false;
			for (size_t j = 0; j < all.n && !counted; j++)
				counted = same_blame(&all.b[j], &s[p].b[i]);
			if (seen >= 2 && !counted) {
				if (all.n == all.cap) {
					all.cap = all.cap ? 2 * all.cap : 8;
					all.b = realloc(all.b, all.cap * sizeof(blame));
				}
				all.b[all.n++] = s[p].b[i]; /* borrowed: its hosts stay the snapshot's */
			}
		}
	for (size_t i = 0; i < all.n; i++) {
		const blame *b = &all.b[i];
		t->blamed[b->kind]++;
		bool right = false;
		for (size_t x = 0; x < nk; x++)
			right = right || matches(&m, &f[x], b);
		t->right[b->kind] += right;
	}
	for (size_t x = 0; x < nk; x++) {
		t->injected[f[x].kind]++;
		bool found = false;
		for (size_t i = 0; i < all.n && !found; i++)
			found = matches(&m, &f[x], &all.b[i]);
		t->found[f[x].kind] += found;
		if (!found && getenv("BLAME_DEBUG")) {
			fprintf(stderr, "missed %s (%zu of %zu) a=%u b=%u rack=%u n=%zu k=%u views=%zu:", FAULT_NAMES[f[x].kind], x, nk, f[x].a, f[x].b, f[x].rack, n, k, m.nviews);
			for (int p = 0; p < 3; p++) {
				fprintf(stderr, " |");
				for (size_t i = 0; i < s[p].n; i++)
					fprintf(stderr, " %s:%u%s%u", blame_kind_name(s[p].b[i].kind), s[p].b[i].hosts[0],
					        s[p].b[i].nhosts > 1 ? "-" : "", s[p].b[i].nhosts > 1 ? s[p].b[i].hosts[1] : 0);
			}
			fprintf(stderr, "\n");
		}
	}
	free(all.b);
	for (int i = 0; i < 3; i++)
		blame_list_clear(&s[i]);
	free(m.views);
}

static void print_tally(const char *label, const tally *t)
{
	printf("%-22s", label);
	for (int k = 0; k < F_KINDS; k++)
		if (t->injected[k])
			printf(" %5.1f%%", 100.0 * t->found[k] / t->injected[k]);
		else
			printf("     - ");
	printf("  |");
	for (int b = 0; b < 4; b++) {
		if (t->blamed[b])
			printf(" %5.1f%%", 100.0 * t->right[b] / t->blamed[b]);
		else
			printf("     - ");
	}
	printf("\n");
}

int main(int argc, char **argv)
{
	long seeds = 20;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--seeds") == 0 && i + 1 < argc) {
			seeds = strtol(argv[++i], NULL, 10);
			if (seeds < 1 || seeds > 10000) {
				fprintf(stderr, PROG ": --seeds: an integer in [1, 10000]\n");
				return 2;
			}
		} else {
			fprintf(stderr, "usage: " PROG " [--seeds N]\n");
			return strcmp(argv[i], "--help") == 0 ? 0 : 2;
		}
	}
	printf("blame scorecard: %ld seeds a setting, meshes of 10 to 200 hosts in racks of 5 to 20\n", seeds);
	printf("%-22s %s  | %s\n", "observers a host", "recall: host  NIC    obs.   link   rack", "precision: group  obs.  host  link");
	static const struct { unsigned lo, hi; const char *label; } BANDS[] = {
		{ 2, 2, "2" }, { 3, 5, "3 to 5" }, { 6, 10, "6 to 10" },
	};
	for (size_t band = 0; band < 3; band++) {
		tally single, both;
		memset(&single, 0, sizeof(single));
		memset(&both, 0, sizeof(both));
		for (long seed = 1; seed <= seeds; seed++) {
			rng r = { (uint64_t)seed * 1000003 + band };
			for (int kind = 0; kind < F_KINDS; kind++) {
				size_t n = 10 + below(&r, 191);
				unsigned k = BANDS[band].lo + below(&r, BANDS[band].hi - BANDS[band].lo + 1);
				fault_kind one[1] = { (fault_kind)kind };
				trial(&r, n, k, one, 1, &single);
				/* and two at once: this kind and another, not a rack (which
				 * would hide a fault inside it) */
				fault_kind two[2] = { (fault_kind)kind, (fault_kind)((kind + 2) % F_GROUP) };
				if (kind != F_GROUP)
					trial(&r, n, k, two, 2, &both);
			}
		}
		char label[64];
		snprintf(label, sizeof(label), "%s, one fault", BANDS[band].label);
		print_tally(label, &single);
		snprintf(label, sizeof(label), "%s, two at once", BANDS[band].label);
		print_tally(label, &both);
	}
	(void)kind_of_fault;
	(void)FAULT_NAMES;
	return 0;
}
