/*
 * publisher.h - reports to Panorama that must arrive, for
 * the observers that watch something over time: sonar-agent (each probed
 * host a subject with metric "rtt") and hview-logtail (what log lines say).
 *
 * Delivery is acknowledged, in order and exactly once as the node sees it:
 * every report is appended to an on-disk queue first (it survives the
 * agent's kill -9 and restarts), sent to a node with up to PUBLISH_WINDOW in
 * flight, and dropped from the queue only when the node has answered
 * ACCEPTED (or IGNORED).  Unanswered reports are sent again, in order, after
 * PUBLISH_TIMEOUT_MS, to the next --server when several are given; a node
 * stores a resent report it already has only once (same observer, subject
 * and time).  A report a node refuses as malformed is dropped with a line on
 * stderr.  The queue holds at most PUBLISH_QUEUE_MAX reports; beyond that,
 * during a long outage, the oldest go first (reported once).
 *
 * Non-blocking throughout: the caller's loop calls publisher_poll often.
 */
#ifndef PANO_PUBLISHER_H
#define PANO_PUBLISHER_H

#include <stddef.h>
#include <stdint.h>

#include "pano/common/curve.h"
#include "pano/common/log.h"

#define PUBLISH_WINDOW 64
#define PUBLISH_TIMEOUT_MS 2000
#define PUBLISH_QUEUE_MAX 100000

typedef struct publisher publisher;

/* servers: "host:port" each; curves: CURVE keys for each of them, or NULL
 * for plain connections; queue_path: the on-disk queue (its reports from an
 * earlier run are sent first); log: how it says what happens to the
 * reports (NULL: it says nothing).  A node that refuses the reports (FORBIDDEN:
 * the key does not speak for this observer) gets them again, in order,
 * until it takes them; it is said once on stderr. */
publisher *publisher_new(char *const *servers, const pano_curve_client *curves, size_t nservers,
                         const char *observer, const char *queue_path, const pano_logger *log, char *err,
                         size_t errlen);
void publisher_free(publisher *p);

/* What a report may say beyond its status (panorama.proto's CloudSonar
 * additions): why (NULL or "": none; cut to PANO_REASON_MAX bytes), the
 * evidence (ratio 0, loss negative: not said), and the labels of the
 * subject and of the observer ("k=v", at most PUBLISH_LABELS_MAX each). */
#define PUBLISH_LABELS_MAX 16
/* What was measured since the previous report (panorama.proto's Summary):
 * the node keeps it as history.  Times in ms. */
typedef struct {
	uint32_t probes, lost;
	float min_ms, median_ms, p90_ms, max_ms;
} publisher_summary;
typedef struct {
	const char *reason;
	float ratio, loss;
	const char *const *subject_labels;
	size_t nsubject_labels;
	const char *const *observer_labels;
	size_t nobserver_labels;
	const publisher_summary *summary; /* NULL: none */
} publisher_extra;

/* Queues one report of one metric: status is Panorama's (panorama.proto),
 * x what else it says (NULL: nothing), time_ns the observation's time (ns
 * since the epoch). */
void publisher_report(publisher *p, const char *subject, const char *metric, int status, double score,
                      const publisher_extra *x, int64_t time_ns);

/* Sends what it may, takes replies, resends what timed out. */
void publisher_poll(publisher *p, int64_t mono_ns);

/* Reports queued and not yet acknowledged. */
size_t publisher_pending(const publisher *p);

#endif
