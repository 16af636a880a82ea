/*
 * logtail_zookeeper.h - hview-logtail's ZooKeeper plugin, as Panorama had:
 * a ZooKeeper server's log (zookeeper.out, log4j's default layout) tells
 * what this server sees of its ensemble peers.
 *
 * The ensemble comes from zoo.cfg: server.N=HOST:PORT:PORT[...] lines name
 * the peers, and dataDir/myid says which of them this server is (the
 * observer, "peer@N").  Every peer is the subject "peer@N", as in
 * Panorama's README.  The rules (built in, listed by name in the README):
 *
 *   cannot-open-channel   "Cannot open channel to N at election address"
 *                         election  UNHEALTHY 10
 *   connection-broken     "Connection broken for id N"    quorum UNHEALTHY 20
 *   learner-connect-failed "Unexpected exception, ... connecting to /HOST:P"
 *                         sync      UNHEALTHY 20
 *   notification          an election notification from N   election HEALTHY
 *   connection-request    "Received connection request /HOST:P" quorum HEALTHY
 *   smaller-id            "Have smaller server identifier, so dropping the
 *                         connection: (N, M)"   quorum HEALTHY
 *   follower-info         "Follower sid: N : info"  sync HEALTHY
 *
 * A filter file (--filter) narrows them: {"events": [rule names],
 * "subjects": ["peer@2", ...]}, both optional.  Lines about this server
 * itself, and about addresses outside the ensemble, are not reported.
 */
#ifndef CLOUDSONAR_LOGTAIL_ZOOKEEPER_H
#define CLOUDSONAR_LOGTAIL_ZOOKEEPER_H

#include <stddef.h>

#include "tools/logrules.h"

typedef struct zk_plugin zk_plugin;

/* Reads zoo.cfg and the filter (NULL for none), and puts the rules into r.
 * NULL with one line naming the file and the problem in err. */
zk_plugin *zk_plugin_new(logrules *r, const char *ensemble_path, const char *filter_path, char *err,
                         size_t errlen);
void zk_plugin_free(zk_plugin *z);

/* "peer@N" for this server (from dataDir/myid), or NULL when unknown. */
const char *zk_plugin_self(const zk_plugin *z);
size_t zk_plugin_peers(const zk_plugin *z);

#endif
