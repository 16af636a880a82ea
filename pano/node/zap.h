/*
 * zap.h - a node's gatekeeper: ZeroMQ's ZAP handler (RFC 27) for its
 * context, so every CURVE socket the node binds (requests, watch stream)
 * lets in only clients whose public key is in the keyring.
 *
 * It runs in a thread of its own, so a handshake never waits for the
 * node's loop (nor the loop for a flood of handshakes).  An accepted
 * client's messages carry its public key (Z85) as the ZeroMQ property
 * "User-Id", from which the loop learns who speaks (pano_keyring_find).
 * Refusals are logged, at most one line per 10 s with a count.
 */
#ifndef PANO_ZAP_H
#define PANO_ZAP_H

#include <stddef.h>

#include "pano/node/keyring.h"

typedef struct pano_zap pano_zap;

/* Binds the handler in zctx; start it before binding a CURVE server
 * socket.  The keyring must outlive it. */
pano_zap *pano_zap_start(void *zctx, const pano_keyring *k, char *err, size_t errlen);
/* Stops the thread (within 100 ms) and closes its socket. */
void pano_zap_stop(pano_zap *z);

#endif
