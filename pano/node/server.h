/*
 * server.h - a Panorama node: a ZeroMQ ROUTER service over the store.
 *
 * One thread, one loop.  Each iteration takes up to PANO_BATCH_MAX waiting
 * requests, applies their writes (reports, watch-list changes) to the store
 * and to sqlite in one transaction, commits, and only then answers every
 * request of the batch: an ACCEPTED report is already in sqlite's WAL, so it
 * survives kill -9 of the node.  With cfg->fsync the replies wait, in
 * addition, until a syncer thread has fsynced the WAL (power loss too); the
 * loop goes on with the next batches meanwhile, and one fsync covers all
 * the batches committed before it began.  ZeroMQ's own I/O thread runs
 * under SCHED_BATCH where the process may set it, so that waking it with a
 * batch's replies does not preempt the loop.
 * Accepted local reports are then sent to the peers (LearnReport), except to
 * a peer that answered IGNORED for that subject and has not subscribed
 * since.  Learned reports are not forwarded again.
 *
 * Every request gets a reply or an error reply with its id; a message that
 * does not decode gets an error reply with id 0; one over PANO_MSG_MAX bytes
 * is refused by ZeroMQ itself and its connection dropped.  Replies to a
 * client that stopped reading are dropped rather than queued without bound.
 *
 * If a commit fails (a full disk), the batch's writes are answered with
 * UNAVAILABLE, the store is reloaded from the database so it holds exactly
 * what was acknowledged, and for a second writes are refused at once while
 * queries go on being served.
 */
#ifndef PANO_SERVER_H
#define PANO_SERVER_H

#include <stddef.h>

#include "pano/node/config.h"

#define PANO_BATCH_MAX 1024
#define PANO_MSG_MAX (1 << 20)

typedef struct pano_server pano_server;

/* Binds cfg->addr, opens and loads cfg->db_file, connects to the peers. */
pano_server *pano_server_new(const pano_config *cfg, char *err, size_t errlen);
/* Serves until SIGINT or SIGTERM; 0 on a clean stop. */
int pano_server_run(pano_server *s);
void pano_server_free(pano_server *s);


#endif
