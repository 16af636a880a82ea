/*
 * mesh.h - a mesh that assembles itself through Panorama (sonar-agent
 * --mesh GROUP): no agent is told which hosts to probe.
 *
 * Every refresh an agent of the mesh reports to its node, as its observer,
 * about the subject "mesh@GROUP" (one metric, "member", HEALTHY), and reads
 * that subject's panorama back: its observers whose newest report is
 * younger than the grace time are the group's members, and a member's
 * observer name is the name or address the others probe it at.  Ages are
 * on the node's clock, which stamps every member's report as it hears it,
 * and only names that are hosts written one way count (an address as
 * inet_ntop writes it, or a DNS name): the node (pano/node/meshgate.h) lets
 * only authenticated observers in, and this side does not trust a node
 * that does not check.  So a host
 * that joins is probed by the others within one refresh, and one that
 * leaves is dropped once its last report is older than the grace time.
 *
 * With more members than --mesh-peers, an agent probes a sample: the
 * members ordered on a ring by a hash of their names, it probes the
 * --mesh-peers ones that follow it.  Every member is then probed by exactly
 * that many others (its predecessors), whatever the fleet's size, and a
 * member that joins or leaves changes the lists of its neighbours only.
 *
 * The node is asked from a thread of the mesh's own, so a slow or absent
 * node never holds the probe loop; the loop takes each new member list
 * when mesh_fd() is readable.
 */
#ifndef CLOUDSONAR_MESH_H
#define CLOUDSONAR_MESH_H

#include <stddef.h>

#include <stdint.h>

#include "panorama.pb-c.h"
#include "pano/common/curve.h"
#include "pano/common/log.h"

#define MESH_PEERS_DEFAULT 10
#define MESH_REFRESH_DEFAULT_S 30.0
/* A member is dropped once its last report is this many refreshes old. */
#define MESH_GRACE_REFRESHES 3
/* Members read from a group at most (a node's bound on observers a subject). */
#define MESH_MEMBERS_MAX 1000

typedef struct {
	char *const *servers;    /* Panorama nodes: the first that answers */
	size_t nservers;
	const pano_curve_client *curves; /* one per server, or NULL */
	const char *observer;    /* this agent's name (and address) */
	const char *group;
	double refresh_s;
	size_t peers;            /* members probed at most */
	const pano_logger *log;  /* how it says a node stopped answering (from its thread) */
} mesh_config;

typedef struct mesh mesh;

/* Starts the mesh's thread (its first refresh at once); NULL with err. */
mesh *mesh_new(const mesh_config *cfg, char *err, size_t errlen);
void mesh_free(mesh *m);
int mesh_fd(const mesh *m);
/* The newest member list, if a new one came (1), taken over by the caller
 * (free each name and the array); 0 when nothing new. */
int mesh_take(mesh *m, char ***members, size_t *n);

/* The sample of members (self excluded) that self probes: all of them when
 * there are at most peers, else the peers ones that follow self on the ring
 * (see above).  out has room for peers names; returns how many it holds
 * (pointers into members). */
size_t mesh_sample(const char *self, char *const *members, size_t n, size_t peers, const char **out);

/* The members a group's panorama p shows, as this agent (self) reads them
 * at now_s: observers heard from within grace_s, sorted on the ring, at
 * most MESH_MEMBERS_MAX.  Ages are read on the node's clock: the node
 * stamps each member's report when it hears it (meshgate.h), and this
 * agent's own report, just made, says what the node's "now" is (now_s
 * counts only when p holds none of self's), so neither the members' clocks
 * nor this agent's matter.  A name that is not a host written the one
 * canonical way (hostaddr.h) is no member: one host is probed at one name.
 * 0 with the names (the caller frees each and the array), -1 when out of
 * memory. */
int mesh_members_of(const Panorama__Panorama *p, const char *self, int64_t now_s, double grace_s, char ***out,
                    size_t *n);

/* The subject a group's members report about. */
#define MESH_SUBJECT_PREFIX "mesh@"

#endif
