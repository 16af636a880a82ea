/*
 * curve.h - ZeroMQ CURVE on Panorama's sockets.
 *
 * A client (hview-client, sonar-agent, hview-logtail, a node towards its
 * peers) holds its own key pair and the node's public key: it is
 * encrypted, and it knows it talks to that node and no other.  A node's
 * server sockets hold the node's key pair; whom they let in is the ZAP
 * handler's business (zap.h).
 *
 * Without keys every socket is plain, as Panorama's always were.
 */
#ifndef PANO_CURVE_H
#define PANO_CURVE_H

#include <stddef.h>

#include "pano/common/cert.h"

typedef struct {
	pano_cert self;                          /* with its secret key */
	char server_key[PANO_KEY_LEN + 1];       /* the node's public key */
} pano_curve_client;

/* Reads the client's secret certificate and the node's certificate
 * (its .pub, or any file with its public key).  0, or -1 with err. */
int pano_curve_client_load(pano_curve_client *c, const char *key_file, const char *server_key_file,
                           char *err, size_t errlen);

/* The Go-style flags of hview-client and hview-logtail, -key and
 * -serverkey: NULL and err "" when neither is given (plain); c when both
 * load; NULL with one line in err when one comes without the other or a
 * file is bad. */
const pano_curve_client *pano_curve_client_flags(pano_curve_client *c, const char *key, const char *server_key,
                                                 char *err, size_t errlen);

/* Before zmq_connect: makes sock a CURVE client (c NULL: leaves it plain). */
int pano_curve_client_apply(void *sock, const pano_curve_client *c, char *err, size_t errlen);
/* Before zmq_bind: makes sock a CURVE server with the node's key pair. */
int pano_curve_server_apply(void *sock, const pano_cert *self, char *err, size_t errlen);

#endif
