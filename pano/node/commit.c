/* commit.c - a batch made durable and answered, in order; see
 * server_internal.h for who runs what. */
#include "pano/node/server_internal.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "pano/common/clock.h"
#include "pano/common/log.h"

/* The syncer: one fsync after another, each covering every batch queued
 * before it began; batches that wrote nothing need none. */
static void *syncer_main(void *arg)
{
	pano_server *s = arg;
	pthread_mutex_lock(&s->sync_mu);
	for (;;) {
		while (s->synced == s->committed && !s->syncer_stop)
			pthread_cond_wait(&s->sync_cv, &s->sync_mu);
		if (s->synced == s->committed)
			break;
		uint64_t target = s->committed;
		bool need = s->last_write > s->synced;
		pthread_mutex_unlock(&s->sync_mu);
		bool failed = need && pano_db_sync(s->db) != 0;
		pthread_mutex_lock(&s->sync_mu);
		if (failed)
			s->failed_upto = target;
		s->synced = target;
		uint64_t one = 1;
		if (write(s->sync_efd, &one, sizeof(one)) < 0) {
			/* an eventfd counter does not overflow at our rates */
		}
	}
	pthread_mutex_unlock(&s->sync_mu);
	return NULL;
}


int commit_start(pano_server *s, char *err, size_t errlen)
{
	s->sync_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_mutex_init(&s->sync_mu, NULL);
	pthread_cond_init(&s->sync_cv, NULL);
	s->sync_init = true;
	if (s->sync_efd < 0 || pthread_create(&s->syncer, NULL, syncer_main, s) != 0) {
		snprintf(err, errlen, "cannot start the syncer thread");
		return -1;
	}
	s->syncer_running = true;
	return 0;
}

void commit_stop(pano_server *s)
{
	if (s->syncer_running) {
		pthread_mutex_lock(&s->sync_mu);
		s->syncer_stop = true;
		pthread_cond_signal(&s->sync_cv);
		pthread_mutex_unlock(&s->sync_mu);
		pthread_join(s->syncer, NULL);
		s->syncer_running = false;
	}
	if (s->sync_init) {
		pthread_mutex_destroy(&s->sync_mu);
		pthread_cond_destroy(&s->sync_cv);
		s->sync_init = false;
	}
	if (s->sync_efd >= 0)
		close(s->sync_efd);
	s->sync_efd = -1;
}

/* Answers a batch whose writes are on disk, then tells the peers. */
static void finish_batch(pano_server *s, batch *b, bool sync_failed)
{
	if (sync_failed && b->wrote) {
		pano_log(PANO_LOG_ERROR, "fsync of the database's WAL failed; refusing writes for a second");
		s->degraded_until = clock_mono_ns() + DEGRADED_NS;
	}
	batch *saved = s->cur;
	s->cur = b; /* reply builders allocate from the batch being answered */
	for (size_t i = 0; i < b->n; i++) {
		pending *p = &b->items[i];
		if (sync_failed && b->wrote && request_acknowledges_write(p)) {
			reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__UNAVAILABLE,
			            "the node could not make this report durable; retry later");
			p->local_accepted = p->subscribe_change = false;
		}
		server_send_reply(s, p);
	}
	for (size_t i = 0; i < b->n; i++) {
		pending *p = &b->items[i];
		if (p->local_accepted) {
			s->accepted++;
			peers_propagate(s->peers, p->req->submit_report->report);
			pano_watch_subject(s->watch, s->store, p->req->submit_report->report->subject);
			notify_changed(s->notify, p->req->submit_report->report->subject);
			if (s->http)
				pano_console_changed(s->console, p->req->submit_report->report->subject);
		} else if (request_learned(p)) {
			pano_watch_subject(s->watch, s->store, p->req->learn_report->report->subject);
			notify_changed(s->notify, p->req->learn_report->report->subject);
			if (s->http)
				pano_console_changed(s->console, p->req->learn_report->report->subject);
		}
		if (p->subscribe_change) {
			bool watch = p->req->body_case == PANORAMA__REQUEST__BODY_OBSERVE;
			peers_announce(s->peers, watch ? p->req->observe->subject : p->req->stop_observing->subject, watch);
		}
		zmq_msg_close(&p->identity);
	}
	s->cur = saved;
	b->n = 0;
	b->wrote = false;
	arena_reset(b->arena);
}

/* Answers the queued batches the syncer has made durable; with block,
 * first waits until it has made progress (when the queue is full, or at
 * shutdown). */
void commit_collect(pano_server *s, bool block)
{
	if (s->qlen == 0)
		return;
	if (block) {
		struct pollfd pfd = { s->sync_efd, POLLIN, 0 };
		while (poll(&pfd, 1, -1) < 0 && errno == EINTR)
			;
	}
	uint64_t count;
	if (read(s->sync_efd, &count, sizeof(count)) < 0) {
		/* EAGAIN: read the counters anyway */
	}
	pthread_mutex_lock(&s->sync_mu);
	uint64_t synced = s->synced, failed_upto = s->failed_upto;
	pthread_mutex_unlock(&s->sync_mu);
	while (s->qlen && s->batches[s->qhead].seq <= synced) {
		batch *b = &s->batches[s->qhead];
		finish_batch(s, b, b->seq <= failed_upto);
		s->qhead = (s->qhead + 1) % NBATCHES;
		s->qlen--;
	}
}

/* Compaction (db.h), in a transaction of its own once a batch is answered:
 * the batch that happened to make it due does not wait for it.  Should it
 * fail, nothing acknowledged is lost; the store is reloaded, as after a
 * failed batch, because compaction moves views' rows. */
void commit_compact(pano_server *s)
{
	char err[256];
	if (clock_mono_ns() < s->compact_after || !pano_db_compaction_due(s->db))
		return;
	if (pano_db_begin(s->db, err, sizeof(err)) != 0 || pano_db_compact(s->db, s->store, err, sizeof(err)) != 0 ||
	    pano_db_commit(s->db, err, sizeof(err)) != 0) {
		pano_db_rollback(s->db);
		pano_log(PANO_LOG_WARN, "compaction: %s; reloading, and trying again in 10 s", err);
		if (server_load_store(s, err, sizeof(err)) != 0)
			pano_log(PANO_LOG_ERROR, "reloading after a failed compaction: %s", err);
		s->compact_after = clock_mono_ns() + COMPACT_RETRY_NS;
	}
}

static void count_batch(pano_server *s, int64_t started_ns)
{
	server_histogram_add(s->batch_in, (clock_mono_ns() - started_ns) / 1e9, &s->batch_sum_s);
}

void commit_process_batch(pano_server *s)
{
	int64_t started = clock_mono_ns();
	requests_apply_writes(s);
	requests_answer_reads(s);
	if (!s->cfg.fsync) {
		/* Committed means written to the WAL: safe from kill -9, which
		 * is the durability asked for; answer at once. */
		finish_batch(s, s->cur, false);
		commit_compact(s);
		count_batch(s, started);
		return;
	}
	/* Queue it behind the others and let the syncer know. */
	s->cur->seq = ++s->next_seq;
	s->qlen++;
	pthread_mutex_lock(&s->sync_mu);
	s->committed = s->cur->seq;
	if (s->cur->wrote)
		s->last_write = s->cur->seq;
	pthread_cond_signal(&s->sync_cv);
	pthread_mutex_unlock(&s->sync_mu);
	/* The next free batch of the ring; a full ring waits for the disk. */
	while (s->qlen == NBATCHES - 1)
		commit_collect(s, true);
	s->cur = &s->batches[(s->qhead + s->qlen) % NBATCHES];
	commit_compact(s);
	count_batch(s, started);
}

