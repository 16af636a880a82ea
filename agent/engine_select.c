/* engine_select.c - --method parsing and the auto choice; see engine.h. */
#include <stdio.h>
#include <string.h>

#include "agent/cli.h"
#include "agent/engine.h"

int method_parse(const char *s, method_spec *out)
{
	out->tcp_port = 7; /* echo, as InetAddress.isReachable */
	if (strcmp(s, "auto") == 0)
		out->method = METHOD_AUTO;
	else if (strcmp(s, "icmp") == 0)
		out->method = METHOD_ICMP;
	else if (strcmp(s, "icmp:liboping") == 0)
		out->method = METHOD_ICMP_LIBOPING;
	else if (strcmp(s, "icmp:dgram") == 0)
		out->method = METHOD_ICMP_DGRAM;
	else if (strcmp(s, "tcp") == 0)
		out->method = METHOD_TCP;
	else if (strncmp(s, "tcp:", 4) == 0) {
		long port;
		if (parse_long(s + 4, 1, 65535, &port) != 0)
			return -1;
		out->method = METHOD_TCP;
		out->tcp_port = (int)port;
	} else
		return -1;
	return 0;
}

/* The sysctl that opens ICMP datagram sockets, as the kernel says it. */
static const char *ping_groups(char *range, size_t len)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ping_group_range", "r");
	if (!f || !fgets(range, (int)len, f))
		snprintf(range, len, "unknown");
	if (f)
		fclose(f);
	range[strcspn(range, "\n")] = '\0';
	for (char *c = range; *c; c++)
		if (*c == '\t')
			*c = ' ';
	return range;
}

probe_engine *engine_for_method(const method_spec *m, const engine_env *env,
                                char *err, size_t errlen)
{
	char why_raw[160] = "", why_dgram[160] = "", groups[64];
	probe_engine *e = NULL;
	switch (m->method) {
	case METHOD_ICMP_LIBOPING:
		return engine_liboping_new(env, err, errlen);
	case METHOD_ICMP_DGRAM:
		return engine_dgram_new(env, err, errlen);
	case METHOD_TCP:
		return engine_tcp_new(env, m->tcp_port, err, errlen);
	case METHOD_ICMP:
	case METHOD_AUTO:
		/* The kernel's ping sockets when net.ipv4.ping_group_range lets
		 * us: one non-blocking socket serves every host.  Else liboping
		 * on raw sockets, which needs CAP_NET_RAW and costs about four
		 * times the CPU (a getaddrinfo per host per probe inside
		 * ping_host_add, a raw socket and a worker hand-off per batch:
		 * see the README's benchmark figures). */
		e = engine_dgram_new(env, why_dgram, sizeof(why_dgram));
		if (e)
			return e;
		e = engine_liboping_new(env, why_raw, sizeof(why_raw));
		if (e) {
			snprintf(e->why, sizeof(e->why), "ICMP datagram sockets are closed to this process's group "
			         "(sysctl net.ipv4.ping_group_range = %s), so raw ones (root or CAP_NET_RAW)", ping_groups(groups, sizeof(groups)));
			return e;
		}
		if (m->method == METHOD_ICMP) {
			snprintf(err, errlen, "no ICMP: %s; %s", why_raw, why_dgram);
			return NULL;
		}
		e = engine_tcp_new(env, m->tcp_port, err, errlen);
		if (e)
			snprintf(e->why, sizeof(e->why), "no ICMP here: datagram sockets are closed to this process's group "
			         "(sysctl net.ipv4.ping_group_range = %s) and raw ones need root or CAP_NET_RAW; so TCP "
			         "connections to port %d, where a refusal is an answer too", ping_groups(groups, sizeof(groups)), m->tcp_port);
		return e;
	}
	snprintf(err, errlen, "unknown method");
	return NULL;
}
