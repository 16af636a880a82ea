/*
 * panorama.h - report to a Panorama node from any C program (libcloudsonar).
 *
 * The library CloudSonar's own programs report with, behind four calls:
 *
 *	char err[256];
 *	panorama_reporter *r = panorama_reporter_new("127.0.0.1:6688", "billing-app",
 *	                                             NULL, NULL, 3000, err, sizeof(err));
 *	if (!r || panorama_report(r, "db-1", "latency", "UNHEALTHY", 20, err, sizeof(err)) < 0)
 *		fprintf(stderr, "%s\n", err);
 *	panorama_reporter_free(r);
 *
 * Build with: cc app.c $(pkg-config --cflags --libs cloudsonar)
 *
 * A report is sent and waited for: when panorama_report returns 0 the node
 * has it in its database (it acknowledges only then).  Calls block at most
 * timeout_ms for the send and as much for the reply.  A reporter is for one
 * thread at a time.  Every string is copied; names are UTF-8 without spaces
 * or control characters, at most 255 bytes, as the node requires.
 *
 * Every argument is checked before anything is sent: a NULL reporter, name,
 * status or score pointer, a name that is too long (it is not read past 255
 * bytes) or not a name, a score outside 0..100, are refused with -1 (or
 * NULL) and a reason.  err may be NULL (then errlen is ignored and no
 * reason is given); errlen 0 gives none either.
 */
#ifndef CLOUDSONAR_PANORAMA_H
#define CLOUDSONAR_PANORAMA_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct panorama_reporter panorama_reporter;

/* A reporter for observer, to the node at node ("host:port", IPv6 in
 * brackets).  With CURVE, key_file is the observer's secret certificate
 * (its name must be observer) and node_key_file the node's public one
 * (both made by sonar-keygen); NULL for both without CURVE.  NULL with a
 * reason in err when a file is bad or the node refuses the observer. */
panorama_reporter *panorama_reporter_new(const char *node, const char *observer, const char *key_file,
                                         const char *node_key_file, int timeout_ms, char *err, size_t errlen);
void panorama_reporter_free(panorama_reporter *r);

/* Reports that metric of subject now has status (a name: HEALTHY,
 * UNHEALTHY, PENDING, DEAD, ... or one of hview-client's letters) with a
 * score from 0 to 100.  0: the node stored it; 1: it ignored it (a node
 * that watches only some subjects); -1: it failed, the reason in err. */
int panorama_report(panorama_reporter *r, const char *subject, const char *metric, const char *status,
                    double score, char *err, size_t errlen);

/* What the node infers of metric of subject, from every observer: its
 * status name in status (at least 16 bytes) and its score.  0, or -1 with
 * a reason (no such subject, or no such metric; statuslen below 16). */
int panorama_inferred(panorama_reporter *r, const char *subject, const char *metric, char *status,
                      size_t statuslen, double *score, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
