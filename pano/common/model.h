/*
 * model.h - Panorama's data model as the node holds it in memory.
 *
 * An observation is a timestamp and a few metrics (name, status, score),
 * kept sorted by name.  A view is the newest PANO_VIEW_DEPTH observations
 * one observer made of one subject, in arrival order.  Metric and observer
 * names point into the store's intern table, so a million observations of
 * metric "rtt" hold one copy of the string.
 */
#ifndef PANO_MODEL_H
#define PANO_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PANO_VIEW_DEPTH 10

/* Status values are Panorama's (proto/panorama.proto). */
enum {
	PANO_INVALID = 0, PANO_NA, PANO_HEALTHY, PANO_PENDING, PANO_MAYBE_UNHEALTHY,
	PANO_UNHEALTHY, PANO_DYING, PANO_DEAD, PANO_STATUS_MAX = PANO_DEAD
};

/* The watch stream's topic for blame changes (no subject's name begins
 * with a control character). */
#define PANO_WATCH_BLAME_TOPIC "\001blame"

/* A metric's reason (panorama.proto's Value.reason) at most this long. */
#define PANO_REASON_MAX 160

typedef struct {
	const char *name; /* interned */
	uint8_t status;
	float score;
	const char *reason; /* why, or NULL; in the same allocation as the metrics */
	float ratio;        /* the evidence (panorama.proto's Value): 0 not said */
	float loss;         /* negative: not said */
} pano_metric;

typedef struct {
	int64_t sec;
	int32_t nsec;
	uint16_t n;
	pano_metric *metrics; /* n of them, sorted by name; owned */
} pano_obs;

typedef struct {
	const char *observer; /* interned */
	const char *subject;  /* the subject's own key */
	pano_obs ring[PANO_VIEW_DEPTH];
	uint8_t head;         /* index of the oldest */
	uint8_t count;
	uint64_t seq;         /* observations ever added: the DB slot is seq % depth */
	pano_obs summary;     /* the view's inference (inference.h), kept current */
	bool has_summary;
	int64_t db_id;        /* its row in the database's views table; 0: none yet */
	uint8_t mute;         /* PANO_VOTES, or why it does not vote (the node's judge sets it) */
	float median_ms;      /* the newest report's Summary median; negative: none (in memory only) */
	int64_t hist_id;      /* its row in the node's hist_views (history.h); 0: not known yet */
	int64_t hist_hour;    /* the hour hist_views last heard of it */
	int64_t db_row[PANO_VIEW_DEPTH]; /* per ring slot, the observation's row; 0: none */
} pano_view;

/* Whether a view votes in its subject's inference: a stale one (its
 * observer has stopped reporting) and one a blame explains (its observer
 * is sick, or the path between them is) do not. */
enum { PANO_VOTES = 0, PANO_STALE = 1, PANO_BLAMED = 2 };

/* The i-th observation of a view, 0 = oldest. */
static inline const pano_obs *pano_view_at(const pano_view *v, size_t i)
{
	return &v->ring[(v->head + i) % PANO_VIEW_DEPTH];
}
static inline const pano_obs *pano_view_newest(const pano_view *v)
{
	return v->count ? pano_view_at(v, v->count - 1u) : NULL;
}

/* -1, 0, 1 as a is older, same time, newer than b. */
static inline int pano_ts_cmp(int64_t asec, int32_t ansec, int64_t bsec, int32_t bnsec)
{
	if (asec != bsec)
		return asec < bsec ? -1 : 1;
	if (ansec != bnsec)
		return ansec < bnsec ? -1 : 1;
	return 0;
}

void pano_obs_clear(pano_obs *o);
/* Same timestamp and metrics (reasons included). */
bool pano_obs_equal(const pano_obs *a, const pano_obs *b);

const char *pano_status_name(int status);
/* The status named by s: a letter of hview-client's (n h p m u d dd) or a
 * name (HEALTHY, unhealthy, ...); -1 for anything else. */
int pano_status_parse(const char *s);
/* Whether s may be a reason: at most PANO_REASON_MAX bytes, none of them a
 * control character (UTF-8 passes). */
bool pano_reason_valid(const char *s);

/* The handle Register hands out for an observer: a hash of its name, so it
 * is stable across restarts and the same on every node; never 0. */
unsigned long long pano_handle_of(const char *observer);

#endif
