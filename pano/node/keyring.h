/*
 * keyring.h - the public keys a node lets in: every NAME.pub certificate
 * (cert.h) in one directory, as czmq's zauth reads a CURVE directory.
 *
 * Each key speaks for its certificate's name: an observer key may submit
 * reports only as that observer; a node key (role "node") is a peer, and
 * may in addition relay reports it learned (LearnReport) under its own id.
 * A node finds its peers' public keys here too, by their ids.
 *
 * Loaded once at start, read-only afterwards: the ZAP thread and the
 * node's loop share it without locks.  Two certificates with one public
 * key, or two node certificates with one name, are an error.
 */
#ifndef PANO_KEYRING_H
#define PANO_KEYRING_H

#include <stddef.h>

#include "pano/common/cert.h"

#define PANO_KEYRING_MAX 100000

typedef struct pano_keyring pano_keyring;

/* NULL with "DIR: ..." or "DIR/FILE: line N: ..." in err. */
pano_keyring *pano_keyring_load(const char *dir, char *err, size_t errlen);
void pano_keyring_free(pano_keyring *k);
size_t pano_keyring_count(const pano_keyring *k);

/* The certificate of a public key (Z85), or NULL. */
const pano_cert *pano_keyring_find(const pano_keyring *k, const char *public_key);
/* The node certificate named id, or NULL. */
const pano_cert *pano_keyring_node(const pano_keyring *k, const char *id);

#endif
