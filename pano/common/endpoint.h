/*
 * endpoint.h - Panorama addresses ("host:port", as its flags and config
 * take them) to ZeroMQ endpoints ("tcp://host:port").  "tcp://..." passes
 * through; anything else is refused.  IPv6 addresses are bracketed, as
 * in URLs: "[::1]:6688".
 */
#ifndef PANO_ENDPOINT_H
#define PANO_ENDPOINT_H

#include <stddef.h>

int pano_endpoint(const char *addr, char *out, size_t outlen);

/* Readies a ZeroMQ socket for endpoint before zmq_bind or zmq_connect:
 * libzmq reaches or serves an IPv6 address only on a socket with
 * ZMQ_IPV6 set.  0, or -1 with errno. */
int pano_endpoint_prepare(void *sock, const char *endpoint);

/* The default watch address of a node at addr: its port + 1.  0, or -1 when
 * addr is not host:port (or its port is 65535). */
int pano_endpoint_watch_addr(const char *addr, char *out, size_t outlen);

#endif
