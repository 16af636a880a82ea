/*
 * snapshot.h - a copy of what the node's whole-store answers show, made on
 * the loop in one pass and read by the HTTP threads.
 *
 * /metrics and the API's matrix, inference, subjects and observers show
 * every subject; rendering them (10 MB of text at 10,000 subjects x 10
 * observers) on the loop held reports back for as long.  The loop instead
 * copies the figures those answers need, strings included, into a
 * snapshot; the HTTP thread that asked renders from it.  A snapshot never
 * changes once taken, is shared by reference count (the loop keeps the
 * newest for a second, each answer being sent holds it too), and keeps
 * each rendering it was asked for, which every client of that second is
 * sent from.
 */
#ifndef PANO_NODE_SNAPSHOT_H
#define PANO_NODE_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pano/common/arena.h"
#include "pano/node/judge.h"
#include "pano/node/store.h"

/* The batch-duration histogram's upper bounds, seconds; then +Inf. */
#define PANO_BATCH_BUCKETS 12
extern const double PANO_BATCH_BOUNDS_S[PANO_BATCH_BUCKETS];
/* Request kinds are the Request message's body field numbers; below this. */
#define PANO_REQUEST_KINDS 32

/* The node's own figures.  As the loop hands them over, the arrays are its
 * live counters; in a snapshot they are copies. */
typedef struct {
	unsigned long long requests, accepted, refused, ignored;
	const unsigned long long *by_kind;     /* PANO_REQUEST_KINDS counters */
	const unsigned long long *batch_le;    /* PANO_BATCH_BUCKETS + 1 counts, per bucket */
	double batch_sum_s;
	const unsigned long long *commit_le;   /* the same for the database's commits */
	double commit_sum_s;
	size_t peers, peers_reachable;
	const char *const *peer_ids, *const *peer_addrs;
	const bool *peer_up;                   /* reachable (peers.h), per peer */
	long long wal_bytes;
	long watch_resets;
	const judge_blame *blames;             /* the current ones (judge.h) */
	size_t nblames;
	size_t notify_queued;                  /* notify.h's figures */
	unsigned long long notify_sent, notify_dropped;
} pano_node_figures;

typedef struct {
	const char *name;
	uint8_t status;
	float score;
} snap_metric;

/* A view: its newest observation's time, worst status and that score. */
typedef struct {
	const char *observer;
	int64_t sec;
	int32_t nsec;
	uint8_t worst; /* 0: no metric */
	float worst_score;
	uint8_t mute;  /* PANO_VOTES, PANO_STALE, PANO_BLAMED */
	float median_ms; /* the view's newest response time (negative: not said) */
	float loss;      /* the worst metric's recent loss, 0 to 1 (negative: not said) */
} snap_cell;

typedef struct {
	const char *name;
	int64_t last_sec;
	int32_t last_nsec;
	const char **observers;  /* those whose views the inference counted, natural order */
	size_t nobservers;
	bool all_stale;          /* no view voted: the inference is of stale views */
	bool inferred;           /* the inference has an observation: */
	int64_t sec;             /*   its time */
	int32_t nsec;
	snap_metric *metrics;    /*   and metrics */
	size_t nmetrics;
	snap_cell *cells;        /* views in natural order of observers */
	size_t ncells;
} snap_subject;

typedef struct {
	const snap_subject *subjects; /* natural order */
	size_t nsubjects;
	const char *const *observers; /* natural order */
	size_t nobservers;
	size_t views, values;
	pano_node_figures figures;
	const char *node_id;     /* the caller's, which outlives its HTTP threads */
	unsigned long long seq;  /* events posted when it was taken */
	int64_t taken_ms;        /* monotonic */
	double took_s;           /* what taking it cost the loop */
} pano_snapshot_data;

typedef struct pano_snapshot pano_snapshot;

/* On the loop.  NULL when out of memory.  The caller holds one reference. */
pano_snapshot *pano_snapshot_take(const pano_store *s, const char *node_id, const pano_node_figures *f,
                                  unsigned long long seq);
const pano_snapshot_data *pano_snapshot_get(const pano_snapshot *s);
/* One subject as a snapshot holds it, its strings copied into a: for the
 * answers about one subject, which the loop renders itself. */
bool pano_snapshot_subject(arena *a, const pano_subject *sub, snap_subject *out);
/* From any thread. */
void pano_snapshot_ref(pano_snapshot *s);
void pano_snapshot_unref(pano_snapshot *s);

/* The rendering number kind (below PANO_SNAPSHOT_RENDERINGS) of s: made by
 * make(data, &len) the first time it is asked for, kept after, and shared
 * by every client that reads it (no copy each: slow readers hold no more
 * than the snapshot).  Valid while the caller holds a reference to s; NULL
 * when out of memory. */
#define PANO_SNAPSHOT_RENDERINGS 8
const char *pano_snapshot_render(pano_snapshot *s, unsigned kind,
                                 char *(*make)(const pano_snapshot_data *d, size_t *len), size_t *len);
/* Snapshots alive in the process now (taken, not yet released). */
int pano_snapshots_alive(void);

#endif
