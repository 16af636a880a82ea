/*
 * console.h - what the node's HTTP face shows (http.h renders through it):
 *
 *   /                        the console: the health matrix, live
 *   /events                  (http.h) changes, as server-sent events
 *   /api/v1/subjects         [{subject, last_seen}]          as list subject
 *   /api/v1/observers        [observer]                      as list observer
 *   /api/v1/peers            [{id, addr, reachable}]
 *   /api/v1/inference        {subject: inference}            as dump inference
 *   /api/v1/panorama?subject=S   {subject, views: [...]}     as get panorama
 *   /api/v1/matrix           {observers, subjects: [{subject, inferred, cells}]}
 *   /api/v1/blame            {blame: [...]}                  as dump blame
 *   /api/v1/history?subject=S[&observer=O][&from=T][&to=T][&step=SEC]
 *                            a view's measurements over time (history.h),
 *                            queried on the HTTP thread
 *   POST /-/reload           the node's configuration read again
 *   /metrics                 Prometheus text exposition format
 *
 * Times are seconds since 1970 (with fractions), statuses Panorama's names.
 * The whole-store answers (metrics, matrix, inference, subjects, observers,
 * peers) come from a snapshot (snapshot.h) taken at most once a second:
 * clients polling them cost the report loop one copy of the store's
 * figures a second at most, and the rendering runs on the HTTP threads.
 *
 * Runs on the node's loop (it reads the store), but for the renderings.
 */
#ifndef PANO_NODE_CONSOLE_H
#define PANO_NODE_CONSOLE_H

#include <stdint.h>

#include "pano/common/http.h"
#include "pano/node/history.h"
#include "pano/node/snapshot.h"
#include "pano/node/store.h"

/* Where the console's charting library is (Debian's libjs-dygraphs),
 * served as /static/dygraph.js and /static/dygraph.css. */
#ifndef PANO_DYGRAPHS_DIR
#define PANO_DYGRAPHS_DIR "/usr/share/javascript/dygraphs"
#endif

typedef struct pano_console pano_console;

/* figures(ctx) is asked for the node's figures at each /metrics. */
pano_console *pano_console_new(const char *node_id, const pano_store *const *store,
                               pano_node_figures (*figures)(void *ctx), void *ctx);
void pano_console_free(pano_console *c);

/* Where /api/v1/history reads (NULL: it answers 404). */
void pano_console_set_history(pano_console *c, history *h);

/* What POST /-/reload calls (the server's reload: 0, or -1 with why). */
void pano_console_set_reload(pano_console *c, int (*reload)(void *ctx, char *err, size_t errlen), void *ctx);

/* A pano_http_render_fn; ctx is the console. */
pano_http_answer pano_console_render(void *console, const char *path, const pano_http_query *q);

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
