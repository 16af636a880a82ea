/*
 * peers.h - report exchange between Panorama nodes.
 *
 * One DEALER socket per peer of the config (the node itself excluded).
 * A locally accepted report goes to every peer as a LearnReport, best
 * effort: a peer that is down or slow has its messages queued by ZeroMQ up
 * to a bound, then dropped (the local node's copy is the durable one).  A
 * peer that answers IGNORED for a subject is skipped for that subject until
 * it subscribes (LearnReport SUBSCRIPTION); a node announces its own Observe
 * and StopObserving to its peers the same way.
 *
 * With CURVE the node connects to each peer with its own node key and
 * expects the peer's node key (from the allow list, by the peer's id), so
 * peers authenticate each other both ways.
 */
#ifndef PANO_PEERS_H
#define PANO_PEERS_H

#include <stdbool.h>
#include <stddef.h>

#include <zmq.h>

#include "pano/common/arena.h"
#include "pano/common/cert.h"
#include "pano/node/config.h"
#include "pano/node/keyring.h"
#include "panorama.pb-c.h"

#define PEERS_MAX 64

typedef struct peers peers;

/* With CURVE: 0 when keys hold the node key of every peer in cfg, else
 * -1 and "peer ID: no node certificate ...".  A node checks this before
 * anything else, so that a refused start touches nothing. */
int peers_check_keys(const pano_config *cfg, const pano_keyring *keys, char *err, size_t errlen);

/* self, keys: the node's certificate and keyring with CURVE, else NULL. */
peers *peers_new(void *zctx, const pano_config *cfg, const pano_cert *self, const pano_keyring *keys,
                 char *err, size_t errlen);
void peers_free(peers *p);
size_t peers_count(const peers *p);
/* The i-th peer's id and address (i below peers_count). */
const char *peers_id(const peers *p, size_t i);
const char *peers_addr(const peers *p, size_t i);

/* Fills one poll item per peer, and handles their replies after zmq_poll. */
void peers_pollitems(peers *p, zmq_pollitem_t *items);
void peers_read_replies(peers *p, const zmq_pollitem_t *items);

void peers_propagate(peers *p, const Panorama__Report *r);
void peers_announce(peers *p, const char *subject, bool subscribe);
/* A peer (by id) subscribed to or unsubscribed from subject. */
void peers_set_interest(peers *p, const char *peer_id, const char *subject, bool interested);

/* Call once a loop: every PEERS_PING_MS it pings each peer, so that a
 * peer's reachability is known without reports to send.  A peer is
 * reachable (peers_reachable, by its index in the config's order less the
 * node itself) when it answered anything within PEERS_REACHABLE_MS. */
#define PEERS_PING_MS 5000
#define PEERS_REACHABLE_MS 15000
void peers_tick(peers *p);
bool peers_reachable(const peers *p, size_t i);

/* Messages propagated and dropped since start (for logs and tests). */
void peers_stats(const peers *p, unsigned long long *sent, unsigned long long *dropped);

Panorama__GetPeerReply *peers_reply(const peers *p, arena *a);

#endif
