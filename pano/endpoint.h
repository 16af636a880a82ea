/*
 * endpoint.h - Panorama addresses ("host:port", as its flags and config
 * take them) to ZeroMQ endpoints ("tcp://host:port").  "tcp://..." passes
 * through; anything else is refused.
 */
#ifndef PANO_ENDPOINT_H
#define PANO_ENDPOINT_H

#include <stddef.h>

int pano_endpoint(const char *addr, char *out, size_t outlen);

#endif
