/*
 * meshgate.h - who a node lets into a mesh (the subjects "mesh@GROUP"
 * whose observers are the group's members, sonar-agent --mesh).
 *
 * A mesh's members are the hosts every agent of the group probes, so
 * whoever can add a member points the whole fleet's probes at an address
 * of their choosing.  The node therefore takes a report about a mesh
 * subject only
 *   - from an authenticated observer: with CURVE keys the observer is the
 *     key's name (the node's own check); without keys, not at all, unless
 *     the node runs with -mesh-open, which it logs loudly at start;
 *   - under a name that is a host: an address written the one canonical
 *     way, or a DNS name (hostaddr.h), so one host is one member, never
 *     "127.1" and "0177.0.0.1" beside "127.0.0.1";
 *   - with -mesh-open, at most MESHGATE_PER_ADDRESS members announced from
 *     one client address per group (a member not heard from for
 *     MESHGATE_EXPIRE_S gives its place up), and learned from a peer only
 *     when it comes from one of the configured peers' addresses.
 * The node stamps an admitted report with its own clock: a member's
 * freshness is when the node last heard of it, never what the reporter
 * claims (a report dated a day ahead would keep a member for a day).  The
 * node drops members not heard from for MESHGATE_EXPIRE_S (meshgate_due),
 * so a group filled by departed or fake members frees up.
 */
#ifndef PANO_NODE_MESHGATE_H
#define PANO_NODE_MESHGATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MESHGATE_PREFIX "mesh@"
#define MESHGATE_PER_ADDRESS 4
#define MESHGATE_EXPIRE_S 600

typedef struct {
	bool keys;                 /* CURVE: every observer is authenticated */
	bool open;                 /* -mesh-open: keyless reports may join */
	char *const *peer_addrs;   /* the configured peers' "host:port" */
	size_t npeers;
} meshgate_config;

typedef struct meshgate meshgate;

meshgate *meshgate_new(const meshgate_config *cfg);
void meshgate_free(meshgate *g);

bool meshgate_is_mesh(const char *subject);

typedef enum { MESHGATE_ADMIT, MESHGATE_FORBIDDEN, MESHGATE_BAD } meshgate_verdict;

/* May observer's report about mesh subject go in?  from: the client's
 * address as ZeroMQ gives it ("" unknown); learned: relayed by a peer;
 * now_s: the node's clock.  A refusal comes with a reason in err. */
meshgate_verdict meshgate_admit(meshgate *g, const char *subject, const char *observer, const char *from,
                                bool learned, int64_t now_s, char *err, size_t errlen);

#endif
