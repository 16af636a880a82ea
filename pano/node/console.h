/*
 * console.h - what the node's HTTP face shows (http.h renders through it):
 *
 *   /                        the console: the health matrix, live
 *   /events                  (http.h) changes, as server-sent events
 *   /api/v1/subjects         [{subject, last_seen}]          as list subject
 *   /api/v1/observers        [observer]                      as list observer
 *   /api/v1/peers            [{id, addr}]
 *   /api/v1/inference        {subject: inference}            as dump inference
 *   /api/v1/panorama?subject=S   {subject, views: [...]}     as get panorama
 *   /api/v1/matrix           {observers, subjects: [{subject, inferred, cells}]}
 *   /metrics                 Prometheus text exposition format
 *
 * Times are seconds since 1970 (with fractions), statuses Panorama's names.
 * Whole-store answers (matrix, inference, metrics) are rendered at most
 * once a second and served from that copy in between, so clients polling
 * them cost the report loop one rendering a second at most.
 *
 * Runs on the node's loop only (it reads the store).
 */
#ifndef PANO_NODE_CONSOLE_H
#define PANO_NODE_CONSOLE_H

#include <stdint.h>

#include "pano/common/http.h"
#include "pano/node/store.h"

/* The node's own figures, as the loop keeps them. */
/* The batch-duration histogram's upper bounds, seconds; then +Inf. */
#define PANO_BATCH_BUCKETS 12
extern const double PANO_BATCH_BOUNDS_S[PANO_BATCH_BUCKETS];
/* Request kinds are the Request message's body field numbers; below this. */
#define PANO_REQUEST_KINDS 32

typedef struct {
	unsigned long long requests, accepted, refused, ignored;
	const unsigned long long *by_kind;     /* PANO_REQUEST_KINDS counters */
	const unsigned long long *batch_le;    /* PANO_BATCH_BUCKETS + 1 counts, per bucket */
	double batch_sum_s;
	const unsigned long long *commit_le;   /* the same for the database's commits */
	double commit_sum_s;
	size_t peers;
	const char *const *peer_ids, *const *peer_addrs;
	long long wal_bytes;
	long watch_resets;
} pano_node_figures;

typedef struct pano_console pano_console;

/* figures(ctx) is asked for the node's figures at each /metrics. */
pano_console *pano_console_new(const char *node_id, const pano_store *const *store,
                               pano_node_figures (*figures)(void *ctx), void *ctx);
void pano_console_free(pano_console *c);

/* A pano_http_render_fn; ctx is the console. */
pano_http_answer pano_console_render(void *console, const char *path, const char *query);

/* After a report about subject is stored: remembers it changed, while
 * someone listens or loaded the matrix lately (else it costs nothing). */
void pano_console_changed(pano_console *c, const char *subject);
/* Call once a loop: at most every PANO_CONSOLE_EVENT_MS, posts to h the
 * row ({"subject", "inferred", "cells"}) of each subject that changed since,
 * so a page sees every change within that time, and a subject reported
 * a thousand times a second costs four renderings. */
#define PANO_CONSOLE_EVENT_MS 250
/* Changes are rendered while someone listens, or fetched the matrix this
 * recently (the page connects to /events right after). */
#define PANO_CONSOLE_LOADING_MS 10000
void pano_console_flush(pano_console *c, pano_http *h);
/* Milliseconds until the next flush is due, or -1 when nothing waits: the
 * loop's poll must not sleep past it. */
int pano_console_due_ms(const pano_console *c);

#endif
