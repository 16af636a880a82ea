/* endpoint.c - host:port -> tcp://host:port; see endpoint.h. */
#include "pano/common/endpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

int pano_endpoint(const char *addr, char *out, size_t outlen)
{
	const char *hostport = strncmp(addr, "tcp://", 6) == 0 ? addr + 6 : addr;
	const char *colon = strrchr(hostport, ':');
	if (!colon || colon == hostport || !colon[1])
		return -1;
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535)
		return -1;
	for (const char *p = hostport; p < colon; p++)
		if (*p <= ' ' || *p == '/' || *p == '\\')
			return -1;
	int n = snprintf(out, outlen, "tcp://%s", hostport);
	return n > 0 && (size_t)n < outlen ? 0 : -1;
}

int pano_endpoint_prepare(void *sock, const char *endpoint)
{
	const char *host = strncmp(endpoint, "tcp://", 6) == 0 ? endpoint + 6 : endpoint;
	int ipv6 = host[0] == '[';
	return ipv6 ? zmq_setsockopt(sock, ZMQ_IPV6, &ipv6, sizeof(ipv6)) : 0;
}

int pano_endpoint_watch_addr(const char *addr, char *out, size_t outlen)
{
	const char *colon = strrchr(addr, ':');
	char *end;
	long port = colon ? strtol(colon + 1, &end, 10) : 0;
	if (!colon || colon == addr || *end || port < 1 || port >= 65535)
		return -1;
	int n = snprintf(out, outlen, "%.*s:%ld", (int)(colon - addr), addr, port + 1);
	return n > 0 && (size_t)n < outlen ? 0 : -1;
}
