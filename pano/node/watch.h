/*
 * watch.h - a node's live stream of inference changes (hview-client watch).
 *
 * Beside its request socket a node binds a ZeroMQ XPUB socket (by default
 * on the next port: 127.0.0.1:6688 serves changes on 127.0.0.1:6689).  When
 * a stored report changes a subject's inference (a metric's status or
 * score, or the set of metrics), the node publishes two frames: the
 * subject's name, then its Inference (panorama.proto), so a subscriber
 * filters by subject with ZMQ_SUBSCRIBE (a prefix: compare the name) and
 * prints the Inference as `get inference` does.
 *
 * Nothing is computed while no one subscribes (XPUB tells the node of
 * subscriptions).  Slow subscribers lose messages (PUB's high-water mark)
 * rather than slow the node; a watch is a view, not a log.
 *
 * Bounded whoever connects: a frame over PANO_WATCH_FRAME_MAX bytes drops
 * its connection, a subscriber's unread subscriptions are at most
 * PANO_WATCH_BACKLOG_MAX, and past PANO_WATCH_TOPICS_MAX distinct
 * subscriptions in all, or at one longer than PANO_WATCH_TOPIC_LEN_MAX,
 * the socket is bound afresh, dropping every watcher (they reconnect and
 * subscribe again by themselves): subscriptions cost at most a few MB.
 */
#ifndef PANO_WATCH_H
#define PANO_WATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "pano/common/cert.h"
#include "pano/node/judge.h"
#include "pano/node/store.h"

#define PANO_WATCH_TOPIC_LEN_MAX 256 /* a name (255 bytes) and then some */
#define PANO_WATCH_FRAME_MAX 1024
#define PANO_WATCH_BACKLOG_MAX 10
#define PANO_WATCH_TOPICS_MAX 1000

typedef struct pano_watch pano_watch;


/* Binds at addr (host:port) on the node's zmq context, with CURVE when
 * curve (the node's key pair) is given; NULL with err. */
pano_watch *pano_watch_new(void *zctx, const char *addr, const pano_cert *curve, char *err, size_t errlen);
void pano_watch_free(pano_watch *w);

/* The socket, for the node's poll (POLLIN: subscription messages); NULL
 * for a moment after a reset, until pano_watch_tick binds it again. */
void *pano_watch_socket(pano_watch *w);
/* Takes the subscription messages waiting. */
void pano_watch_read(pano_watch *w);
/* Call once a loop: binds the socket again after a reset. */
void pano_watch_tick(pano_watch *w);
/* How many times the subscriptions' bound reset the socket. */
long pano_watch_resets(const pano_watch *w);

/* After a stored report about subject: publishes its inference if it
 * changed since the last one published.  Costs nothing (not even the
 * subject's lookup) while no one listens; w may be NULL (no stream). */
void pano_watch_subject(pano_watch *w, const pano_store *store, const char *subject);
/* The current blames, when they change: under the topic
 * PANO_WATCH_BLAME_TOPIC (model.h), a GetBlameReply. */
void pano_watch_blames(pano_watch *w, const judge_blame *b, size_t n);

#endif
