/*
 * blame.h - where a gray failure is: the fewest faults that explain what the
 * observers see.
 *
 * The input is the matrix the mesh gives a node: for each (observer,
 * subject) view, whether its newest status is bad (UNHEALTHY, DYING or
 * DEAD), whether it is fresh, and, where the observer sent them, the
 * evidence (the response time as a multiple of that subject's baseline,
 * the recent loss) and each host's labels.  A host is the same host as an
 * observer and as a subject when the names match.
 *
 * The method is 007's (Arzani et al., NSDI '18) in spirit: every bad view
 * is a path whose failure one of its parts explains (the observer's side,
 * the subject's side, the pair's own path, or the uplink of a group either
 * end is in), and each part is judged by the votes of every path through
 * it, bad against good, so that a part is blamed only when most of what
 * crosses it is bad and what crosses its neighbours is not.  Like
 * NetBouncer, it looks for the fewest faults: the parts are tried from the
 * widest to the narrowest, each accepted part explains the bad views
 * through it, and a narrower part is considered only for what is left:
 *
 *   group     a label group (k=v, two members at least) most of whose
 *             members see most of their paths out of the group bad, while
 *             paths inside it and paths that avoid it are mostly fine: its
 *             uplink, a rack switch.  When the only paths out of it go to
 *             one other group of the same key, the two cannot be told
 *             apart: the blame names both ("rack=a|rack=b").
 *   observer  a host that sees most of its subjects bad while their other
 *             observers see them fine, and is not itself seen bad: the
 *             fault is on its side (its CPU, its NIC, its uplink).
 *   host      a host most of its (unblamed) observers see bad; its own bad
 *             views of others are part of the same fault (its NIC makes it
 *             both slow and seeing slow: one blame, not one per pair).
 *   link      one pair's bad views, one way or both, that nothing wider
 *             explains.
 *
 * "Most" is BLAME_MAJORITY of the fresh views, and a part needs
 * BLAME_MIN_VIEWS of them to be judged at all.  Limits: a host seen by one
 * observer cannot be told from that pair's path (it is a link); two faults
 * that share most of their paths merge into the wider one; more faults
 * at once than a mesh has observers per host blur into each other.  No I/O:
 * the node builds the matrix and keeps the blames' history (since when).
 */
#ifndef PANO_BLAME_H
#define PANO_BLAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BLAME_MAJORITY 0.5
#define BLAME_MIN_VIEWS 2

typedef enum { BLAME_GROUP, BLAME_OBSERVER, BLAME_HOST, BLAME_LINK } blame_kind;

typedef struct {
	uint32_t observer, subject; /* host indices */
	bool bad;                   /* its newest status is UNHEALTHY, DYING or DEAD */
	bool fresh;                 /* stale views do not vote */
	float ratio;                /* response time over the subject's baseline; 0: not said */
	float loss;                 /* recent loss, 0 to 1; negative: not said */
} blame_view;

typedef struct {
	const char *const *labels;  /* "k=v" */
	size_t nlabels;
} blame_host;

typedef struct {
	blame_kind kind;
	uint32_t *hosts;            /* sorted by index: a link's two ends, a group's members */
	size_t nhosts;
	char group[256];            /* "k=v", or "k=v1|k=v2"; "" but for a group */
	/* the evidence */
	unsigned bad, views;        /* bad views among those it was judged on */
	double ratio;               /* median ratio of its bad views (0: none said) */
	double loss;                /* highest loss of its bad views (negative: none said) */
} blame;

typedef struct {
	blame *b;
	size_t n, cap;
} blame_list;

/* Blames for nhosts hosts and nviews views; hosts may be NULL (no labels).
 * The list is in a fixed order (kind, then hosts).  0, or -1 when memory is
 * short (out then holds what was found so far). */
int blame_find(const blame_host *hosts, size_t nhosts, const blame_view *views, size_t nviews, blame_list *out);
void blame_list_clear(blame_list *l);
const char *blame_kind_name(blame_kind k);

#endif
