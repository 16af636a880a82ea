/* meshgate.c - who a node lets into a mesh; see meshgate.h. */
#include "pano/node/meshgate.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "pano/common/grow.h"
#include "pano/common/hostaddr.h"
#include "pano/common/strmap.h"

/* (group, client address) pairs remembered with -mesh-open: beyond, new
 * ones are refused rather than let the table grow. */
#define ADDRESS_PAIRS_MAX 100000

/* The members one client address announced in one group. */
typedef struct {
	char *observer[MESHGATE_PER_ADDRESS];
	int64_t seen_s[MESHGATE_PER_ADDRESS];
} announced;

struct meshgate {
	meshgate_config cfg;
	strmap *by_address;      /* "GROUP\nADDRESS" -> announced */
	char **peer_ips;         /* the peers' addresses, numeric */
	size_t npeer_ips, cap_peer_ips;
};

bool meshgate_is_mesh(const char *subject)
{
	return subject && strncmp(subject, MESHGATE_PREFIX, strlen(MESHGATE_PREFIX)) == 0;
}

/* The numeric addresses of a peer's "host:port" (IPv6 in brackets). */
static void add_peer_ips(meshgate *g, const char *addr)
{
	char host[300];
	const char *colon = strrchr(addr, ':');
	size_t n = colon ? (size_t)(colon - addr) : strlen(addr);
	if (n >= sizeof(host))
		return;
	memcpy(host, addr, n);
	host[n] = '\0';
	if (host[0] == '[' && n > 1 && host[n - 1] == ']') {
		memmove(host, host + 1, n - 2);
		host[n - 2] = '\0';
	}
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL;
	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return;
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		char ip[NI_MAXHOST];
		if (getnameinfo(a->ai_addr, a->ai_addrlen, ip, sizeof(ip), NULL, 0, NI_NUMERICHOST) != 0 ||
		    grow_array(&g->peer_ips, &g->cap_peer_ips, g->npeer_ips + 1, sizeof(*g->peer_ips), 8) != 0)
			continue;
		if ((g->peer_ips[g->npeer_ips] = strdup(ip)))
			g->npeer_ips++;
	}
	freeaddrinfo(res);
}

meshgate *meshgate_new(const meshgate_config *cfg)
{
	meshgate *g = calloc(1, sizeof(*g));
	if (!g || !(g->by_address = strmap_new())) {
		free(g);
		return NULL;
	}
	g->cfg = *cfg;
	if (cfg->open && !cfg->keys)
		for (size_t i = 0; i < cfg->npeers; i++)
			add_peer_ips(g, cfg->peer_addrs[i]);
	return g;
}

void meshgate_free(meshgate *g)
{
	if (!g)
		return;
	size_t i = 0;
	const char *key;
	void *v;
	while (strmap_next(g->by_address, &i, &key, &v)) {
		announced *a = v;
		for (size_t k = 0; k < MESHGATE_PER_ADDRESS; k++)
			free(a->observer[k]);
		free(a);
	}
	strmap_free(g->by_address);
	for (size_t k = 0; k < g->npeer_ips; k++)
		free(g->peer_ips[k]);
	free(g->peer_ips);
	free(g);
}

static bool from_peer(const meshgate *g, const char *from)
{
	for (size_t i = 0; i < g->npeer_ips; i++)
		if (strcmp(g->peer_ips[i], from) == 0)
			return true;
	return false;
}

/* -mesh-open: a place for observer among what from announced in subject's
 * group; false when from holds its share of live members already. */
static bool take_place(meshgate *g, const char *subject, const char *observer, const char *from, int64_t now_s)
{
	char key[600];
	snprintf(key, sizeof(key), "%.290s\n%.290s", subject, from);
	announced *a = strmap_get(g->by_address, key);
	if (!a) {
		if (strmap_count(g->by_address) >= ADDRESS_PAIRS_MAX || !(a = calloc(1, sizeof(*a))))
			return false;
		if (strmap_put(g->by_address, key, a) != 0) {
			free(a);
			return false;
		}
	}
	size_t free_at = MESHGATE_PER_ADDRESS;
	for (size_t k = 0; k < MESHGATE_PER_ADDRESS; k++) {
		if (a->observer[k] && strcmp(a->observer[k], observer) == 0) {
			a->seen_s[k] = now_s;
			return true;
		}
		if (free_at == MESHGATE_PER_ADDRESS && (!a->observer[k] || now_s - a->seen_s[k] > MESHGATE_EXPIRE_S))
			free_at = k;
	}
	if (free_at == MESHGATE_PER_ADDRESS)
		return false;
	char *copy = strdup(observer);
	if (!copy)
		return false;
	free(a->observer[free_at]);
	a->observer[free_at] = copy;
	a->seen_s[free_at] = now_s;
	return true;
}

meshgate_verdict meshgate_admit(meshgate *g, const char *subject, const char *observer, const char *from,
                                bool learned, int64_t now_s, char *err, size_t errlen)
{
	if (!g->cfg.keys && !g->cfg.open) {
		snprintf(err, errlen, "mesh membership (%.64s) needs CURVE keys on this node: without them anyone could "
		         "point the group's probes anywhere (start the node with -mesh-open to allow it anyway)", subject);
		return MESHGATE_FORBIDDEN;
	}
	char canon[96], why[200];
	switch (hostaddr_classify(observer, canon, sizeof(canon))) {
	case HOSTADDR_ADDRESS:
	case HOSTADDR_NAME:
		break;
	case HOSTADDR_ALIAS:
		snprintf(err, errlen, "mesh member '%.64s' is an address written another way: announce it as %s", observer,
		         canon);
		return MESHGATE_BAD;
	default:
		snprintf(err, errlen, "mesh member: %s", hostaddr_problem(observer, why, sizeof(why)));
		return MESHGATE_BAD;
	}
	if (g->cfg.keys)
		return MESHGATE_ADMIT; /* the key speaks for its name (the node's check) */
	if (learned) {
		if (from[0] && from_peer(g, from))
			return MESHGATE_ADMIT;
		snprintf(err, errlen, "mesh membership relayed from %.64s, which is not one of this node's peers",
		         from[0] ? from : "an unknown address");
		return MESHGATE_FORBIDDEN;
	}
	if (!take_place(g, subject, observer, from[0] ? from : "?", now_s)) {
		snprintf(err, errlen, "%.64s has announced %d live members of %.64s already, as many as one client "
		         "address may", from[0] ? from : "this address", MESHGATE_PER_ADDRESS, subject);
		return MESHGATE_FORBIDDEN;
	}
	return MESHGATE_ADMIT;
}
