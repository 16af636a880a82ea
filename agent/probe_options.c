/* probe_options.c - how probes go out: source, interface, size, TOS; see engine.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "agent/engine.h"

void probe_options_defaults(probe_options *o)
{
	memset(o, 0, sizeof(*o));
	o->payload = PROBE_PAYLOAD_DEFAULT;
	o->tos = -1;
}

int probe_options_source(probe_options *o, const char *addr)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)&o->source4;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&o->source6;
	struct in_addr a4;
	struct in6_addr a6;
	if (inet_pton(AF_INET, addr, &a4) == 1 && o->source4.ss_family == 0) {
		s4->sin_family = AF_INET;
		s4->sin_addr = a4;
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &a6) == 1 && o->source6.ss_family == 0) {
		s6->sin6_family = AF_INET6;
		s6->sin6_addr = a6;
		return 0;
	}
	return -1;
}

int probe_options_apply(const probe_options *o, int fd, int family, char *err, size_t errlen)
{
	if (!o)
		return 0;
	if (o->interface[0] && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, o->interface, strlen(o->interface)) != 0) {
		snprintf(err, errlen, "--interface %s: %s", o->interface, strerror(errno));
		return -1;
	}
	const struct sockaddr_storage *src = family == AF_INET ? &o->source4 : &o->source6;
	if (src->ss_family) {
		char text[INET6_ADDRSTRLEN] = "";
		socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
		if (bind(fd, (const struct sockaddr *)src, len) != 0) {
			inet_ntop(family, family == AF_INET ? (const void *)&((const struct sockaddr_in *)src)->sin_addr
			                                    : (const void *)&((const struct sockaddr_in6 *)src)->sin6_addr,
			          text, sizeof(text));
			snprintf(err, errlen, "--source %s: %s", text, strerror(errno));
			return -1;
		}
	}
	if (o->tos >= 0) {
		int tos = o->tos;
		int rc = family == AF_INET ? setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos))
		                           : setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof(tos));
		if (rc != 0) {
			snprintf(err, errlen, "--tos %d: %s", tos, strerror(errno));
			return -1;
		}
	}
	return 0;
}
