/*
 * client.h - the client side of a Panorama node, shared by hview-client, the
 * agent and hview-logtail.
 *
 * A DEALER socket to one node.  pano_client_call sends one request and
 * waits, at most the client's timeout (for the send, then for the reply),
 * for the reply carrying its id;
 * replies to earlier, abandoned calls are discarded.  Requests can also be
 * pipelined: pano_client_send / pano_client_recv.
 */
#ifndef PANO_CLIENT_H
#define PANO_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "pano/common/curve.h"
#include "panorama.pb-c.h"

typedef struct pano_client pano_client;

/* addr: "host:port" or "tcp://host:port"; curve: the client's keys and the
 * node's public key, or NULL for a plain connection. */
pano_client *pano_client_new(const char *addr, int timeout_ms, const pano_curve_client *curve,
                             char *err, size_t errlen);
void pano_client_free(pano_client *c);
const char *pano_client_addr(const pano_client *c);

/* With CURVE, why the node may not be answering: its refusal of our key,
 * a failed handshake, or none yet; NULL when the handshake succeeded (or
 * without CURVE).  The text is written to buf. */
const char *pano_client_trouble(pano_client *c, char *buf, size_t len);

/* Sets req->id, sends, waits.  The reply (free with
 * panorama__reply__free_unpacked) or NULL with a reason in err. */
Panorama__Reply *pano_client_call(pano_client *c, Panorama__Request *req, char *err, size_t errlen);

/* Pipelining: send returns the request id (0 on failure); recv returns the
 * next reply within timeout_ms, or NULL. */
uint64_t pano_client_send(pano_client *c, Panorama__Request *req);
/* As pano_client_send, but never blocks: 0 when the node is not connected
 * or its queue is full. */
uint64_t pano_client_send_now(pano_client *c, Panorama__Request *req);
/* Sends then fail (EAGAIN) while the node is not connected, instead of
 * queueing: for a publisher that keeps its own queue.  Never use with the
 * blocking pano_client_send, which would then wait for a connection. */
void pano_client_queue_only_when_connected(pano_client *c);
Panorama__Reply *pano_client_recv(pano_client *c, int timeout_ms);

/* A report of one metric, built in place (no allocation): the pieces
 * point at each other and at the strings given, which must outlive it. */
typedef struct {
	Panorama__Value value;
	Panorama__Summary summary; /* value.summary points here once set */
	Panorama__Metric metric;
	Panorama__Observation__MetricsEntry entry;
	Panorama__Observation__MetricsEntry *entries[1];
	Google__Protobuf__Timestamp ts;
	Panorama__Observation observation;
	Panorama__Report report;
} pano_one_metric_report;

void pano_one_metric_report_init(pano_one_metric_report *x, const char *observer, const char *subject,
                                 const char *metric, int status, float score, int64_t sec, int32_t nsec);

/* Helpers over pano_client_call. */
int pano_client_register(pano_client *c, const char *observer, uint64_t *handle,
                         char *err, size_t errlen);
/* 0 accepted, 1 ignored, -1 failed (reason in err). */
int pano_client_submit(pano_client *c, uint64_t handle, const Panorama__Report *r,
                       char *err, size_t errlen);

#endif
