/* curve.c - CURVE socket options; see curve.h. */
#include "pano/common/curve.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <zmq.h>

int pano_curve_client_load(pano_curve_client *c, const char *key_file, const char *server_key_file,
                           char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	pano_cert server;
	if (pano_cert_load(key_file, true, &c->self, err, errlen) != 0 ||
	    pano_cert_load(server_key_file, false, &server, err, errlen) != 0)
		return -1;
	memcpy(c->server_key, server.public_key, sizeof(c->server_key));
	return 0;
}

const pano_curve_client *pano_curve_client_flags(pano_curve_client *c, const char *key, const char *server_key,
                                                 char *err, size_t errlen)
{
	err[0] = '\0';
	if (!key && !server_key)
		return NULL;
	if (!key || !server_key) {
		snprintf(err, errlen, "CURVE needs both -key (yours) and -serverkey (the node's)");
		return NULL;
	}
	return pano_curve_client_load(c, key, server_key, err, errlen) == 0 ? c : NULL;
}

static int setopt(void *sock, int opt, const char *value, char *err, size_t errlen)
{
	if (zmq_setsockopt(sock, opt, value, strlen(value)) == 0)
		return 0;
	snprintf(err, errlen, "CURVE: %s (is libzmq built with libsodium?)", zmq_strerror(errno));
	return -1;
}

int pano_curve_client_apply(void *sock, const pano_curve_client *c, char *err, size_t errlen)
{
	if (!c)
		return 0;
	return setopt(sock, ZMQ_CURVE_SERVERKEY, c->server_key, err, errlen) ||
	               setopt(sock, ZMQ_CURVE_PUBLICKEY, c->self.public_key, err, errlen) ||
	               setopt(sock, ZMQ_CURVE_SECRETKEY, c->self.secret_key, err, errlen)
	           ? -1
	           : 0;
}

int pano_curve_server_apply(void *sock, const pano_cert *self, char *err, size_t errlen)
{
	int one = 1;
	if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof(one)) != 0) {
		snprintf(err, errlen, "CURVE: %s (is libzmq built with libsodium?)", zmq_strerror(errno));
		return -1;
	}
	/* ZAP is asked about every handshake; a domain makes that explicit. */
	return setopt(sock, ZMQ_CURVE_SECRETKEY, self->secret_key, err, errlen) ||
	               setopt(sock, ZMQ_ZAP_DOMAIN, "panorama", err, errlen)
	           ? -1
	           : 0;
}
