/* publisher.c - acknowledged, ordered reports to Panorama; see publisher.h. */
#include "pano/client/publisher.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "detector/bytes.h"
#include "pano/client/client.h"
#include "pano/common/model.h"
#include "pano/common/regfile.h"

typedef struct {
	uint8_t *bytes; /* a packed Report */
	size_t len;
	uint64_t id;    /* request id while in flight, 0 otherwise */
} queued;

struct publisher {
	pano_logger log;          /* how it says what happened */
	char observer[256];
	pano_client **clients;
	size_t nclients, current;
	queued *q;               /* ring */
	size_t head, count, cap;
	size_t inflight;         /* the first `inflight` of the queue were sent */
	int64_t sent_at;         /* when the oldest in-flight report went out */
	int fd;                  /* the on-disk queue: appended records (-1: none) */
	char path[4096];         /* for messages */
	regdir dir;              /* its folder, held open (regfile.h) */
	const char *name;        /* its name in it */
	size_t file_acked;       /* records at the file's start already acked */
	bool file_empty;         /* the file holds nothing yet, not even the magic */
	bool file_behind;        /* reports queued that the file lacks (an append failed) */
	int64_t rewrite_after;   /* when to try rewriting it whole again (monotonic) */
	bool reported_drop, reported_append, reported_down, reported_forbidden;
	int64_t blocked_since;   /* reports waiting, none could be sent: since */
	uint64_t handle;
};

static queued *at(publisher *p, size_t i) { return &p->q[(p->head + i) % p->cap]; }

/*
 * The queue file: QUEUE_MAGIC, then one record a report: its length (u32
 * LE), the low 32 bits of the FNV-1a of its bytes (u32 LE), its bytes.  A
 * file without the magic is the older format, records without the
 * checksum, and is read as such.
 */
static const uint8_t QUEUE_MAGIC[8] = { 'C', 'S', 'P', 'Q', 'U', 'E', 'U', 2 };
#define RECORD_MAX (1u << 20)

static void record_header(uint8_t hdr[8], const uint8_t *bytes, size_t len)
{
	put_u32le(hdr, (uint32_t)len);
	put_u32le(hdr + 4, (uint32_t)fnv1a(FNV1A_INIT, bytes, len));
}

/* An empty queue is an empty file; the magic comes with the first record.
 * A record goes in whole or not at all (regfile.h): a full disk leaves no
 * torn record for the next start to stop at. */
static int append_record(publisher *p, const uint8_t *bytes, size_t len)
{
	if (p->fd < 0) {
		errno = EBADF;
		return -1;
	}
	size_t magic = p->file_empty ? sizeof(QUEUE_MAGIC) : 0;
	uint8_t *rec = malloc(magic + 8 + len);
	if (!rec)
		return -1;
	memcpy(rec, QUEUE_MAGIC, magic);
	record_header(rec + magic, bytes, len);
	memcpy(rec + magic + 8, bytes, len);
	int rc = regfile_append_whole(p->fd, rec, magic + 8 + len);
	free(rec);
	if (rc == 0)
		p->file_empty = false;
	return rc;
}

/* Rewrites the file with just the unacknowledged reports (atomically);
 * false when it could not (the old file stays). */
static bool compact(publisher *p)
{
	char err[256];
	regfile_replacement r;
	if (regfile_replace_begin_in(&r, &p->dir, p->name, err, sizeof(err)) != 0)
		return false;
	bool ok = p->count == 0 || fwrite(QUEUE_MAGIC, 1, sizeof(QUEUE_MAGIC), r.f) == sizeof(QUEUE_MAGIC);
	for (size_t i = 0; i < p->count && ok; i++) {
		uint8_t hdr[8];
		record_header(hdr, at(p, i)->bytes, at(p, i)->len);
		ok = fwrite(hdr, 1, 8, r.f) == 8 && fwrite(at(p, i)->bytes, 1, at(p, i)->len, r.f) == at(p, i)->len;
	}
	if (!ok) {
		regfile_replace_abort(&r);
		return false;
	}
	if (regfile_replace_commit(&r, true, err, sizeof(err)) != 0)
		return false;
	if (p->fd >= 0)
		close(p->fd);
	p->fd = regfile_open_fd_in(&p->dir, p->name, "ab", err, sizeof(err));
	p->file_acked = 0;
	p->file_empty = p->count == 0;
	p->file_behind = false;
	return p->fd >= 0;
}

static int push(publisher *p, uint8_t *bytes, size_t len)
{
	if (p->count == PUBLISH_QUEUE_MAX) {
		/* a long outage: the oldest unsent report goes */
		if (p->inflight)
			return -1;
		free(at(p, 0)->bytes);
		p->head = (p->head + 1) % p->cap;
		p->count--;
		if (!p->reported_drop)
			pano_say(&p->log, PANO_LOG_WARN, "Panorama queue full (%d reports): dropping the oldest",
			        PUBLISH_QUEUE_MAX);
		p->reported_drop = true;
		p->file_acked++; /* the file's oldest is as good as acknowledged */
	}
	if (p->count == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 256;
		queued *nq = malloc(cap * sizeof(*nq));
		if (!nq)
			return -1;
		for (size_t i = 0; i < p->count; i++)
			nq[i] = *at(p, i);
		free(p->q);
		p->q = nq;
		p->head = 0;
		p->cap = cap;
	}
	*at(p, p->count) = (queued){ bytes, len, 0 };
	p->count++;
	return 0;
}

/* Loads the queue an earlier run left.  A torn last record (kill -9 in
 * the middle of a write) is dropped; a corrupt one stops the reading, and
 * the file is set aside, with a line on stderr, for whatever follows it. */
static void load_queue(publisher *p)
{
	char err[256];
	FILE *f = regfile_open_in(&p->dir, p->name, "rb", err, sizeof(err));
	if (!f) {
		if (errno != ENOENT)
			pano_say(&p->log, PANO_LOG_WARN, "%s: the Panorama queue of an earlier run is not read", err);
		return;
	}
	uint8_t magic[sizeof(QUEUE_MAGIC)];
	size_t got = fread(magic, 1, sizeof(magic), f);
	bool checked = got == sizeof(magic) && memcmp(magic, QUEUE_MAGIC, sizeof(magic)) == 0;
	if (!checked)
		rewind(f); /* the older format */
	size_t hdr_len = checked ? 8 : 4, loaded = 0;
	const char *problem = NULL;
	uint8_t hdr[8];
	size_t n;
	while ((n = fread(hdr, 1, hdr_len, f)) == hdr_len) {
		size_t len = get_u32le(hdr);
		if (len == 0 || len > RECORD_MAX) {
			problem = "a record length out of range";
			break;
		}
		uint8_t *b = malloc(len);
		if (!b) {
			problem = "out of memory";
			break;
		}
		size_t body = fread(b, 1, len, f);
		if (body != len) {
			free(b);
			break; /* torn: the last write did not finish */
		}
		/* only well-formed reports are trusted */
		Panorama__Report *r = NULL;
		if (checked && (uint32_t)fnv1a(FNV1A_INIT, b, len) != get_u32le(hdr + 4))
			problem = "a checksum mismatch";
		else if (!(r = panorama__report__unpack(NULL, len, b)))
			problem = "a record that is not a report";
		if (problem) {
			free(b);
			break;
		}
		panorama__report__free_unpacked(r, NULL);
		if (push(p, b, len) != 0) {
			free(b);
			problem = "out of memory";
			break;
		}
		loaded++;
	}
	fclose(f);
	if (problem) {
		char aside[4300];
		snprintf(aside, sizeof(aside), "%s.corrupt-%lld", p->name, (long long)time(NULL));
		bool moved = regfile_rename_in(&p->dir, p->name, aside) == 0;
		pano_say(&p->log, PANO_LOG_WARN, "%s: %s after %zu reports; the rest %s%s", p->path, problem, loaded,
		        moved ? "is kept in " : "is lost (cannot set the file aside)", moved ? aside : "");
	}
	if (loaded)
		pano_say(&p->log, PANO_LOG_INFO, "%zu Panorama reports queued by an earlier run will be sent first", loaded);
}

publisher *publisher_new(char *const *servers, const pano_curve_client *curves, size_t nservers,
                         const char *observer, const char *queue_path, const pano_logger *log, char *err, size_t errlen)
{
	publisher *p = calloc(1, sizeof(*p));
	if (!p || !(p->clients = calloc(nservers, sizeof(*p->clients)))) {
		free(p);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->dir.fd = -1; /* publisher_free may run before it is opened */
	p->log = log ? *log : (pano_logger){ NULL, NULL };
	snprintf(p->observer, sizeof(p->observer), "%s", observer);
	snprintf(p->path, sizeof(p->path), "%s", queue_path);
	p->handle = pano_handle_of(observer);
	p->fd = -1;
	char folder[4096];
	snprintf(folder, sizeof(folder), "%s", queue_path);
	char *slash = strrchr(folder, '/');
	p->name = slash ? p->path + (slash - folder) + 1 : p->path;
	if (!slash)
		snprintf(folder, sizeof(folder), ".");
	else if (slash == folder)
		folder[1] = '\0';
	else
		*slash = '\0';
	if (regdir_open(&p->dir, folder, err, errlen) != 0) {
		free(p->clients);
		free(p);
		return NULL;
	}
	for (size_t i = 0; i < nservers; i++) {
		p->clients[i] = pano_client_new(servers[i], PUBLISH_TIMEOUT_MS, curves ? &curves[i] : NULL, err, errlen);
		if (!p->clients[i]) {
			publisher_free(p);
			return NULL;
		}
		pano_client_queue_only_when_connected(p->clients[i]);
		p->nclients++;
	}
	load_queue(p);
	compact(p); /* the file now holds exactly the queue */
	if (p->fd < 0) {
		snprintf(err, errlen, "%s: cannot write the Panorama queue: %s", queue_path, strerror(errno));
		publisher_free(p);
		return NULL;
	}
	return p;
}

void publisher_free(publisher *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nclients; i++)
		pano_client_free(p->clients[i]);
	free(p->clients);
	for (size_t i = 0; i < p->count; i++)
		free(at(p, i)->bytes);
	free(p->q);
	if (p->fd >= 0)
		close(p->fd);
	regdir_close(&p->dir);
	free(p);
}

size_t publisher_pending(const publisher *p) { return p->count; }

/* "k=v" labels as a Report's map entries (into e, at most
 * PUBLISH_LABELS_MAX; the strings are cut at '=' in buf). */
static size_t label_entries(const char *const *labels, size_t n, Panorama__Report__ObserverLabelsEntry *e,
                            Panorama__Report__ObserverLabelsEntry **ptr, char buf[][128])
{
	size_t k = 0;
	for (size_t i = 0; i < n && k < PUBLISH_LABELS_MAX; i++) {
		snprintf(buf[k], 128, "%s", labels[i]);
		char *eq = strchr(buf[k], '=');
		if (!eq)
			continue;
		*eq = '\0';
		panorama__report__observer_labels_entry__init(&e[k]);
		e[k].key = buf[k];
		e[k].value = eq + 1;
		ptr[k] = &e[k];
		k++;
	}
	return k;
}

void publisher_report(publisher *p, const char *subject, const char *metric, int status, double score,
                      const publisher_extra *extra, int64_t time_ns)
{
	pano_one_metric_report x;
	pano_one_metric_report_init(&x, p->observer, subject, metric, status, (float)score, time_ns / 1000000000,
	                            (int32_t)(time_ns % 1000000000));
	char why[PANO_REASON_MAX];
	Panorama__Report__ObserverLabelsEntry se[PUBLISH_LABELS_MAX], oe[PUBLISH_LABELS_MAX];
	Panorama__Report__ObserverLabelsEntry *sp[PUBLISH_LABELS_MAX], *op[PUBLISH_LABELS_MAX];
	char sbuf[PUBLISH_LABELS_MAX][128], obuf[PUBLISH_LABELS_MAX][128];
	if (extra) {
		if (extra->reason && extra->reason[0]) {
			snprintf(why, sizeof(why), "%s", extra->reason);
			if (pano_reason_valid(why))
				x.value.reason = why;
		}
		x.value.ratio = extra->ratio > 0 ? extra->ratio : 0.0f;
		x.value.loss = extra->ratio > 0 || extra->loss > 0 ? extra->loss : 0.0f;
		if (extra->summary && extra->summary->probes > 0) {
			const publisher_summary *m = extra->summary;
			x.summary.probes = m->probes;
			x.summary.lost = m->lost <= m->probes ? m->lost : m->probes;
			x.summary.min_ms = m->min_ms;
			x.summary.median_ms = m->median_ms;
			x.summary.p90_ms = m->p90_ms;
			x.summary.max_ms = m->max_ms;
			x.value.summary = &x.summary;
		}
		/* protobuf-c gives the two maps' entries their own types, laid out alike */
		x.report.n_subject_labels = label_entries(extra->subject_labels, extra->nsubject_labels, se, sp, sbuf);
		for (size_t i = 0; i < x.report.n_subject_labels; i++)
			se[i].base.descriptor = &panorama__report__subject_labels_entry__descriptor;
		x.report.subject_labels = (Panorama__Report__SubjectLabelsEntry **)sp;
		x.report.n_observer_labels = label_entries(extra->observer_labels, extra->nobserver_labels, oe, op, obuf);
		x.report.observer_labels = op;
	}
	size_t len = panorama__report__get_packed_size(&x.report);
	uint8_t *b = malloc(len);
	if (!b)
		return;
	panorama__report__pack(&x.report, b);
	if (push(p, b, len) != 0) {
		free(b);
		return;
	}
	/* Once the file lacks a report, appending more would put them out of
	 * order on disk: it is rewritten whole instead, when the disk lets. */
	if (!p->file_behind && append_record(p, b, len) == 0)
		return;
	if (!p->file_behind && !p->reported_append)
		pano_say(&p->log, PANO_LOG_WARN, "%s: cannot append to the Panorama queue (%s): the reports stay queued in memory, "
		        "and the file is rewritten once it can be", p->path, strerror(errno));
	p->reported_append = true;
	p->file_behind = true;
}

/* The file lacks reports the queue holds: rewrite it, at most once a
 * second while the disk refuses. */
static void catch_up_file(publisher *p, int64_t now_ns)
{
	if (!p->file_behind || now_ns < p->rewrite_after)
		return;
	p->rewrite_after = now_ns + INT64_C(1000000000);
	if (compact(p) && p->reported_append) {
		pano_say(&p->log, PANO_LOG_INFO, "%s: the Panorama queue is written again (%zu reports)", p->path,
		        p->count);
		p->reported_append = false;
	}
}

/* Forgets the acknowledged head of the queue, and the file's copy when
 * enough of it is stale. */
static void pop_acked(publisher *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(at(p, 0)->bytes);
		p->head = (p->head + 1) % p->cap;
		p->count--;
		p->inflight--;
		p->file_acked++;
	}
	if ((p->count == 0 || p->file_acked > 4096) && !p->file_behind)
		compact(p);
}

static void take_replies(publisher *p, int64_t now_ns)
{
	pano_client *c = p->clients[p->current];
	Panorama__Reply *r;
	while ((r = pano_client_recv(c, 0)) != NULL) {
		size_t i = 0;
		while (i < p->inflight && at(p, i)->id != r->id)
			i++;
		if (i < p->inflight) {
			/* Only a node's explicit answer acknowledges.  (A client whose
			 * connection met itself, possible when a node's port lies in
			 * the ephemeral range and the node is down, receives its own
			 * request back, which parses as a reply with a garbage
			 * result: that must not count.) */
			bool done = r->body_case == PANORAMA__REPLY__BODY_SUBMIT_REPORT && r->submit_report &&
			            (r->submit_report->result == PANORAMA__SUBMIT_REPORT_REPLY__STATUS__ACCEPTED ||
			             r->submit_report->result == PANORAMA__SUBMIT_REPORT_REPLY__STATUS__IGNORED);
			if (r->body_case == PANORAMA__REPLY__BODY_ERROR && r->error &&
			    r->error->code == PANORAMA__ERROR_REPLY__CODE__BAD_REQUEST) {
				pano_say(&p->log, PANO_LOG_WARN, "Panorama refused a report: %s",
				        r->error->message ? r->error->message : "bad request");
				done = true; /* it will never be accepted */
			}
			if (r->body_case == PANORAMA__REPLY__BODY_ERROR && r->error &&
			    r->error->code == PANORAMA__ERROR_REPLY__CODE__FORBIDDEN && !p->reported_forbidden) {
				/* our key does not match our name: an operator's mistake,
				 * to be fixed; the reports wait for it, queued */
				pano_say(&p->log, PANO_LOG_WARN, "Panorama %s refuses our reports: %s; they stay queued",
				        pano_client_addr(c), r->error->message ? r->error->message : "forbidden");
				p->reported_forbidden = true;
			}
			if (done) {
				at(p, i)->id = UINT64_MAX; /* acknowledged */
				if (p->reported_down)
					pano_say(&p->log, PANO_LOG_INFO, "Panorama %s answers again",
					        pano_client_addr(c));
				p->reported_down = false;
				p->sent_at = now_ns;
			}
		}
		panorama__reply__free_unpacked(r, NULL);
	}
	/* pop the acknowledged prefix, in order */
	size_t n = 0;
	while (n < p->inflight && at(p, n)->id == UINT64_MAX)
		n++;
	if (n)
		pop_acked(p, n);
}

static void say_down(publisher *p, pano_client *c)
{
	char why[512];
	const char *trouble = pano_client_trouble(c, why, sizeof(why));
	pano_say(&p->log, PANO_LOG_WARN, "Panorama %s does not answer%s%s; %zu reports queued", pano_client_addr(c),
	        trouble ? ": " : "", trouble ? trouble : "", p->count);
}

static void send_more(publisher *p, int64_t now_ns)
{
	pano_client *c = p->clients[p->current];
	while (p->inflight < p->count && p->inflight < PUBLISH_WINDOW) {
		queued *q = at(p, p->inflight);
		Panorama__Report *rep = panorama__report__unpack(NULL, q->len, q->bytes);
		if (!rep)
			break;
		Panorama__SubmitReportRequest sr = PANORAMA__SUBMIT_REPORT_REQUEST__INIT;
		sr.handle = p->handle;
		sr.report = rep;
		Panorama__Request req = PANORAMA__REQUEST__INIT;
		req.body_case = PANORAMA__REQUEST__BODY_SUBMIT_REPORT;
		req.submit_report = &sr;
		uint64_t id = pano_client_send_now(c, &req);
		panorama__report__free_unpacked(rep, NULL);
		if (!id) {
			/* not connected, or its queue is full: later; say so once
			 * when it lasts (a node that is down refuses connections) */
			if (p->inflight == 0) {
				if (!p->blocked_since)
					p->blocked_since = now_ns;
				else if (now_ns - p->blocked_since > (int64_t)PUBLISH_TIMEOUT_MS * 1000000) {
					if (!p->reported_down)
						say_down(p, c);
					p->reported_down = true;
					p->blocked_since = now_ns;
					p->current = (p->current + 1) % p->nclients;
				}
			}
			break;
		}
		p->blocked_since = 0;
		if (p->inflight == 0)
			p->sent_at = now_ns;
		q->id = id;
		p->inflight++;
	}
}

void publisher_poll(publisher *p, int64_t now_ns)
{
	catch_up_file(p, now_ns);
	if (p->nclients == 0)
		return;
	take_replies(p, now_ns);
	if (p->inflight && now_ns - p->sent_at > (int64_t)PUBLISH_TIMEOUT_MS * 1000000) {
		/* No answer: send them again, in order, to the next node. */
		if (!p->reported_down)
			say_down(p, p->clients[p->current]);
		p->reported_down = true;
		for (size_t i = 0; i < p->inflight; i++)
			at(p, i)->id = 0;
		p->inflight = 0;
		p->current = (p->current + 1) % p->nclients;
		p->sent_at = now_ns;
	}
	send_more(p, now_ns);
}
