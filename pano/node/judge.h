/*
 * judge.h - the node's judgement of its matrix, once a second: which views
 * are stale, where the faults are (blame.h), and which views vote.
 *
 * A view is stale once its newest observation is older than stale_after
 * times its observer's report interval (the median gap between the view's
 * observations, at least a second), and JUDGE_STALE_MIN_S at least; 0
 * turns staleness off.  A blame is current once two of the last three
 * passes found it (and, when it rests on a single bad view, once it has
 * been found for JUDGE_ONE_VIEW_HOLD_S), and ends when two of the last
 * three did not; it is dated
 * from the first pass that found it.  A view does not vote in its
 * subject's inference (pano_subject_mute) when it is stale, or when a
 * current blame explains it without blaming its subject: the views of a
 * blamed observer, those a blamed host has of others, a blamed link's, and
 * those crossing a blamed group's edge.
 *
 * The labels the matrix is judged with are what reports say of their
 * observer and subject (panorama.proto's Report labels), the newest for
 * each host, in memory only: after a restart they come back with the next
 * reports.  Subjects of the mesh (mesh@GROUP) are not hosts and are left
 * out.  Runs on the node's loop.
 */
#ifndef PANO_JUDGE_H
#define PANO_JUDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "panorama.pb-c.h"
#include "pano/node/blame.h"
#include "pano/node/store.h"

#define JUDGE_STALE_AFTER 6.0   /* report intervals */
#define JUDGE_STALE_MIN_S 10
#define JUDGE_ONE_VIEW_HOLD_S 10
#define JUDGE_LABELS_MAX 16     /* a host's, at most */

typedef struct judge judge;

judge *judge_new(double stale_after);
void judge_free(judge *j);

/* Takes the labels a report says of its observer and subject (invalid ones
 * skipped: k and v printable, no space, '=' or '|', 64 bytes each). */
void judge_note_labels(judge *j, const Panorama__Report *r);

/* One pass over the store at now_sec; true when the current blames
 * changed.  -1 when memory is short (nothing changed). */
int judge_pass(judge *j, pano_store *s, int64_t now_sec);

/* A current blame, by name. */
typedef struct {
	blame_kind kind;
	const char *const *hosts; /* sorted by name */
	size_t nhosts;
	const char *group;        /* "" but for a group */
	int64_t since_sec;
	unsigned bad, views;
	double ratio, loss;       /* 0 / negative: not said */
} judge_blame;

/* The current blames, in a fixed order (kind, then hosts), valid until the
 * next pass. */
const judge_blame *judge_blames(const judge *j, size_t *n);
/* The subjects whose views' votes the last pass changed (valid until the
 * store changes). */
const char *const *judge_touched(const judge *j, size_t *n);
/* Whether view (observer, subject) is explained by a current blame. */
bool judge_explains(const judge *j, const char *observer, const char *subject);

#endif
