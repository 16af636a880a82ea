/* requests.c - what each kind of request does; see server_internal.h.
 *
 * A request kind is a row of REQUEST_KINDS: whether it writes, and its
 * handler.  Writes run first, all in the batch's transaction; reads then
 * see what the batch wrote.  Replies are built in the batch's arena. */
#include "pano/node/server_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pano/common/clock.h"
#include "pano/common/log.h"
#include "pano/node/wire.h"

/* --- replies ---------------------------------------------------------- */

static void *anew(pano_server *s, size_t size)
{
	return arena_alloc(s->cur->arena, size);
}


void reply_error(pano_server *s, pending *p, int code, const char *fmt, ...)
{
	Panorama__ErrorReply *e = anew(s, sizeof(*e));
	char *msg = anew(s, 256);
	if (!e || !msg) {
		p->reply.body_case = PANORAMA__REPLY__BODY__NOT_SET;
		return;
	}
	panorama__error_reply__init(e);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, 256, fmt, ap);
	va_end(ap);
	e->code = (Panorama__ErrorReply__Code)code;
	e->message = msg;
	p->reply.body_case = PANORAMA__REPLY__BODY_ERROR;
	p->reply.error = e;
}

static void reply_missing(pano_server *s, pending *p)
{
	reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__BAD_REQUEST, "request without its arguments");
}

static void reply_submit(pano_server *s, pending *p, Panorama__SubmitReportReply__Status st)
{
	Panorama__SubmitReportReply *r = anew(s, sizeof(*r));
	if (!r)
		return;
	panorama__submit_report_reply__init(r);
	r->result = st;
	p->reply.body_case = PANORAMA__REPLY__BODY_SUBMIT_REPORT;
	p->reply.submit_report = r;
}

static void reply_learn(pano_server *s, pending *p, Panorama__LearnReportReply__Status st)
{
	Panorama__LearnReportReply *r = anew(s, sizeof(*r));
	if (!r)
		return;
	panorama__learn_report_reply__init(r);
	r->result = st;
	p->reply.body_case = PANORAMA__REPLY__BODY_LEARN_REPORT;
	p->reply.learn_report = r;
}

static void reply_observe(pano_server *s, pending *p, bool ok)
{
	Panorama__ObserveReply *r = anew(s, sizeof(*r));
	if (!r)
		return;
	panorama__observe_reply__init(r);
	r->success = ok;
	p->reply.body_case = PANORAMA__REPLY__BODY_OBSERVE;
	p->reply.observe = r;
}

/* --- writes ----------------------------------------------------------- */

static bool writes_refused(pano_server *s, pending *p)
{
	if (clock_mono_ns() >= s->degraded_until)
		return false;
	reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__UNAVAILABLE,
	            "the node's database cannot take writes now; retry later");
	return true;
}

/* Validates, stores and persists one report (inside the open transaction).
 * Returns 1 accepted (or a duplicate of a stored one), 0 refused (reply set). */
static int store_report(pano_server *s, pending *p, const Panorama__Report *r, bool learned)
{
	char err[512];
	if (!r || !r->observer || !r->subject) {
		s->refused++;
		reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__BAD_REQUEST, "report without observer or subject");
		return 0;
	}
	if (!pano_name_valid(s->store, r->observer, err, sizeof(err)) ||
	    !pano_name_valid(s->store, r->subject, err, sizeof(err))) {
		s->refused++;
		reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__BAD_REQUEST, "observer or subject: %s", err);
		return 0;
	}
	int64_t now_ns = clock_wall_ns();
	bool mesh = meshgate_is_mesh(r->subject);
	if (mesh) {
		meshgate_verdict v = meshgate_admit(s->meshgate, r->subject, r->observer, p->from, learned,
		                                    now_ns / 1000000000, err, sizeof(err));
		if (v != MESHGATE_ADMIT) {
			s->refused++;
			reply_error(s, p, v == MESHGATE_FORBIDDEN ? PANORAMA__ERROR_REPLY__CODE__FORBIDDEN
			                                          : PANORAMA__ERROR_REPLY__CODE__BAD_REQUEST, "%s", err);
			if (pano_log_due(&s->last_mesh_log))
				pano_log(PANO_LOG_WARN, "refused a mesh report from %s: %s", p->from[0] ? p->from : "?", err);
			return 0;
		}
	}
	pano_obs obs;
	if (pano_obs_from_pb(s->store, r->observation, now_ns / 1000000000, &obs, err, sizeof(err)) != 0) {
		s->refused++;
		reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__BAD_REQUEST, "%s", err);
		return 0;
	}
	if (mesh) { /* a member is as fresh as when this node heard of it (meshgate.h) */
		obs.sec = now_ns / 1000000000;
		obs.nsec = (int32_t)(now_ns % 1000000000);
	}
	uint64_t seq = 0;
	pano_view *v = NULL;
	int64_t obs_sec = obs.sec; /* obs is the store's once added */
	int rc = pano_store_add(s->store, r->observer, r->subject, &obs, &seq, &v, err, sizeof(err));
	if (rc < 0) {
		pano_obs_clear(&obs);
		pano_store_names_rollback(s->store);
		s->refused++;
		reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__BAD_REQUEST, "%s", err);
		return 0;
	}
	judge_note_labels(s->judge, r); /* the newest labels, stored or duplicate */
	if (rc == 1) { /* duplicate: already durable */
		pano_obs_clear(&obs);
		return 1;
	}
	if (pano_db_put(s->db, v, seq, err, sizeof(err)) != 0 ||
	    history_note(s->history, v, r, obs_sec, err, sizeof(err)) != 0) {
		/* The commit will fail too, or be skipped: see apply_writes. */
		reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__UNAVAILABLE, "database: %s", err);
		return -1;
	}
	return 1;
}

static int handle_submit(pano_server *s, pending *p)
{
	const Panorama__SubmitReportRequest *q = p->req->submit_report;
	if (!q) {
		reply_missing(s, p);
		return 0;
	}
	if (writes_refused(s, p))
		return 0;
	if (!q->report || !q->report->observer || q->handle != pano_handle_of(q->report->observer)) {
		reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__BAD_REQUEST,
		            "handle %llu is not the one Register gave observer %.64s",
		            (unsigned long long)q->handle,
		            q->report && q->report->observer ? q->report->observer : "(none)");
		return 0;
	}
	int rc = store_report(s, p, q->report, false);
	if (rc == 1) {
		reply_submit(s, p, PANORAMA__SUBMIT_REPORT_REPLY__STATUS__ACCEPTED);
		p->local_accepted = true;
	}
	return rc;
}

static int handle_learn(pano_server *s, pending *p)
{
	const Panorama__LearnReportRequest *q = p->req->learn_report;
	if (!q) {
		reply_missing(s, p);
		return 0;
	}
	const char *source = q->source && q->source->id ? q->source->id : "";
	const char *subject = q->report && q->report->subject ? q->report->subject : NULL;
	switch (q->kind) {
	case PANORAMA__LEARN_REPORT_REQUEST__KIND__SUBSCRIPTION:
	case PANORAMA__LEARN_REPORT_REQUEST__KIND__UNSUBSCRIPTION:
		if (!subject) {
			reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__BAD_REQUEST, "subscription without a subject");
			return 0;
		}
		peers_set_interest(s->peers, source, subject,
		                   q->kind == PANORAMA__LEARN_REPORT_REQUEST__KIND__SUBSCRIPTION);
		reply_learn(s, p, PANORAMA__LEARN_REPORT_REPLY__STATUS__ACCEPTED);
		return 0;
	case PANORAMA__LEARN_REPORT_REQUEST__KIND__NORMAL:
		break;
	default:
		reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__BAD_REQUEST, "unknown learn kind %d", (int)q->kind);
		return 0;
	}
	if (subject && !pano_store_watching(s->store, subject)) {
		pano_log(PANO_LOG_DEBUG, "learn from %s about %s: ignored (not watched)", source, subject);
		reply_learn(s, p, PANORAMA__LEARN_REPORT_REPLY__STATUS__IGNORED);
		s->ignored++;
		return 0;
	}
	if (writes_refused(s, p))
		return 0;
	int rc = store_report(s, p, q->report, true);
	if (rc == 1)
		reply_learn(s, p, PANORAMA__LEARN_REPORT_REPLY__STATUS__ACCEPTED);
	return rc;
}

static int handle_observe(pano_server *s, pending *p, bool watch)
{
	const Panorama__ObserveRequest *q = watch ? p->req->observe : p->req->stop_observing;
	char err[256];
	if (!q) {
		reply_missing(s, p);
		return 0;
	}
	if (!q->subject || !pano_name_valid(s->store, q->subject, err, sizeof(err))) {
		reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__BAD_REQUEST, "subject: %s",
		            q->subject ? err : "missing");
		return 0;
	}
	if (writes_refused(s, p))
		return 0;
	if (watch ? pano_store_watch(s->store, q->subject) != 0 : (pano_store_unwatch(s->store, q->subject), 0)) {
		reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__BAD_REQUEST, "watch list full");
		return 0;
	}
	if (pano_db_watch(s->db, q->subject, watch, err, sizeof(err)) != 0) {
		reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__UNAVAILABLE, "database: %s", err);
		return -1;
	}
	reply_observe(s, p, true);
	p->subscribe_change = true;
	return 1;
}

/* A peer's report the node stored (not one IGNORED, not a subscription). */
bool request_learned(const pending *p)
{
	return p->req && p->reply.body_case == PANORAMA__REPLY__BODY_LEARN_REPORT &&
	       p->reply.learn_report->result == PANORAMA__LEARN_REPORT_REPLY__STATUS__ACCEPTED &&
	       p->req->learn_report->kind == PANORAMA__LEARN_REPORT_REQUEST__KIND__NORMAL &&
	       p->req->learn_report->report;
}

/* Whether p's reply acknowledges a write: what a failed fsync takes back. */
bool request_acknowledges_write(const pending *p)
{
	return p->local_accepted || p->subscribe_change || request_learned(p);
}

/* --- reads: one function per reply ---------------------------------------- */

/* The subject a request q names, or NULL with the reply set (q itself
 * missing, or no such subject). */
static const pano_subject *find_subject(pano_server *s, pending *p, const void *q, const char *name)
{
	if (!q) {
		reply_missing(s, p);
		return NULL;
	}
	const pano_subject *sub = name ? pano_store_subject(s->store, name) : NULL;
	if (!sub)
		reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__NOT_FOUND, "no such subject: %.200s",
		            name ? name : "(none)");
	return sub;
}

static int read_register(pano_server *s, pending *p)
{
	const Panorama__RegisterRequest *q = p->req->register_;
	char err[128];
	if (!q || !q->observer) {
		reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__BAD_REQUEST, "register without an observer");
	} else if (!pano_name_valid(s->store, q->observer, err, sizeof(err))) {
		reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__BAD_REQUEST, "observer: %s", err);
	} else {
		Panorama__RegisterReply *rr = anew(s, sizeof(*rr));
		if (rr) {
			panorama__register_reply__init(rr);
			rr->handle = pano_handle_of(q->observer);
			p->reply.body_case = PANORAMA__REPLY__BODY_REGISTER;
			p->reply.register_ = rr;
		}
	}
	return 0;
}

static int read_latest_report(pano_server *s, pending *p)
{
	const Panorama__GetReportRequest *q = p->req->get_latest_report;
	const pano_subject *sub = find_subject(s, p, q, q ? q->subject : NULL);
	if (!sub)
		return 0;
	p->reply.report = wire_latest_report(s->cur->arena, sub);
	p->reply.body_case = PANORAMA__REPLY__BODY_REPORT;
	if (!p->reply.report)
		reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__NOT_FOUND, "no report about %.200s", q->subject);
	return 0;
}

static int read_panorama(pano_server *s, pending *p)
{
	const Panorama__GetPanoramaRequest *q = p->req->get_panorama;
	const pano_subject *sub = find_subject(s, p, q, q ? q->subject : NULL);
	if (sub && (p->reply.panorama = wire_panorama(s->cur->arena, sub)))
		p->reply.body_case = PANORAMA__REPLY__BODY_PANORAMA;
	return 0;
}

static int read_view(pano_server *s, pending *p)
{
	const Panorama__GetViewRequest *q = p->req->get_view;
	const pano_subject *sub = find_subject(s, p, q, q ? q->subject : NULL);
	if (!sub)
		return 0;
	const pano_view *v = q->observer ? pano_subject_view(sub, q->observer) : NULL;
	if (!v)
		reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__NOT_FOUND, "no view of %.100s by %.100s", q->subject,
		            q->observer ? q->observer : "(none)");
	else if ((p->reply.view = wire_view(s->cur->arena, v)))
		p->reply.body_case = PANORAMA__REPLY__BODY_VIEW;
	return 0;
}

static int read_inference(pano_server *s, pending *p)
{
	const Panorama__GetInferenceRequest *q = p->req->get_inference;
	const pano_subject *sub = find_subject(s, p, q, q ? q->subject : NULL);
	if (sub && (p->reply.inference = wire_inference(s->cur->arena, sub)))
		p->reply.body_case = PANORAMA__REPLY__BODY_INFERENCE;
	return 0;
}

static int read_subjects(pano_server *s, pending *p)
{
	size_t n = 0;
	const pano_subject **subs = pano_store_subjects(s->store, &n);
	Panorama__GetObservedSubjectsReply *sr = anew(s, sizeof(*sr));
	Panorama__GetObservedSubjectsReply__SubjectsEntry *es = anew(s, (n ? n : 1) * sizeof(*es));
	Panorama__GetObservedSubjectsReply__SubjectsEntry **ptrs = anew(s, (n ? n : 1) * sizeof(*ptrs));
	if (subs && sr && es && ptrs) {
		panorama__get_observed_subjects_reply__init(sr);
		for (size_t i = 0; i < n; i++) {
			panorama__get_observed_subjects_reply__subjects_entry__init(&es[i]);
			es[i].key = (char *)pano_subject_name(subs[i]);
			int64_t sec;
			int32_t nsec;
			pano_subject_last_seen(subs[i], &sec, &nsec);
			es[i].value = wire_ts(s->cur->arena, sec, nsec);
			ptrs[i] = &es[i];
		}
		sr->subjects = ptrs;
		sr->n_subjects = n;
		p->reply.body_case = PANORAMA__REPLY__BODY_SUBJECTS;
		p->reply.subjects = sr;
	}
	free(subs);
	return 0;
}

static int read_observers(pano_server *s, pending *p)
{
	size_t n = 0;
	const char **names = pano_store_observers(s->store, &n);
	Panorama__GetObserversReply *orp = anew(s, sizeof(*orp));
	char **copy = anew(s, (n ? n : 1) * sizeof(char *));
	if (names && orp && copy) {
		panorama__get_observers_reply__init(orp);
		memcpy(copy, names, n * sizeof(char *));
		orp->observers = copy;
		orp->n_observers = n;
		p->reply.body_case = PANORAMA__REPLY__BODY_OBSERVERS;
		p->reply.observers = orp;
	}
	free(names);
	return 0;
}

/* The two dumps: a map entry per subject, key its name. */
static int read_dump_panorama(pano_server *s, pending *p)
{
	size_t n = 0;
	const pano_subject **subs = pano_store_subjects(s->store, &n);
	Panorama__DumpPanoramaReply *d = anew(s, sizeof(*d));
	Panorama__DumpPanoramaReply__PanoramasEntry *es = anew(s, (n ? n : 1) * sizeof(*es));
	Panorama__DumpPanoramaReply__PanoramasEntry **ptrs = anew(s, (n ? n : 1) * sizeof(*ptrs));
	if (subs && d && es && ptrs) {
		panorama__dump_panorama_reply__init(d);
		for (size_t i = 0; i < n; i++) {
			panorama__dump_panorama_reply__panoramas_entry__init(&es[i]);
			es[i].key = (char *)pano_subject_name(subs[i]);
			es[i].value = wire_panorama(s->cur->arena, subs[i]);
			ptrs[i] = &es[i];
		}
		d->panoramas = ptrs;
		d->n_panoramas = n;
		p->reply.body_case = PANORAMA__REPLY__BODY_DUMP_PANORAMA;
		p->reply.dump_panorama = d;
	}
	free(subs);
	return 0;
}

static int read_dump_inference(pano_server *s, pending *p)
{
	size_t n = 0;
	const pano_subject **subs = pano_store_subjects(s->store, &n);
	Panorama__DumpInferenceReply *d = anew(s, sizeof(*d));
	Panorama__DumpInferenceReply__InferencesEntry *es = anew(s, (n ? n : 1) * sizeof(*es));
	Panorama__DumpInferenceReply__InferencesEntry **ptrs = anew(s, (n ? n : 1) * sizeof(*ptrs));
	if (subs && d && es && ptrs) {
		panorama__dump_inference_reply__init(d);
		for (size_t i = 0; i < n; i++) {
			panorama__dump_inference_reply__inferences_entry__init(&es[i]);
			es[i].key = (char *)pano_subject_name(subs[i]);
			es[i].value = wire_inference(s->cur->arena, subs[i]);
			ptrs[i] = &es[i];
		}
		d->inferences = ptrs;
		d->n_inferences = n;
		p->reply.body_case = PANORAMA__REPLY__BODY_DUMP_INFERENCE;
		p->reply.dump_inference = d;
	}
	free(subs);
	return 0;
}

static int read_ping(pano_server *s, pending *p)
{
	Panorama__PingReply *pr = anew(s, sizeof(*pr));
	if (pr) {
		panorama__ping_reply__init(pr);
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		pr->result = PANORAMA__PING_REPLY__STATUS__GOOD;
		pr->time = wire_ts(s->cur->arena, now.tv_sec, (int32_t)now.tv_nsec);
		p->reply.body_case = PANORAMA__REPLY__BODY_PING;
		p->reply.ping = pr;
	}
	return 0;
}

static int read_peers(pano_server *s, pending *p)
{
	if ((p->reply.peers = peers_reply(s->peers, s->cur->arena)))
		p->reply.body_case = PANORAMA__REPLY__BODY_PEERS;
	return 0;
}

static int read_blame(pano_server *s, pending *p)
{
	size_t n;
	const judge_blame *b = judge_blames(s->judge, &n);
	Panorama__GetBlameReply *r = wire_blames(s->cur->arena, b, n);
	if (r) {
		p->reply.body_case = PANORAMA__REPLY__BODY_BLAME;
		p->reply.blame = r;
	}
	return 0;
}

static int read_id(pano_server *s, pending *p)
{
	Panorama__Peer *me = anew(s, sizeof(*me));
	if (me) {
		panorama__peer__init(me);
		me->id = s->cfg.id;
		me->addr = s->cfg.addr;
		p->reply.body_case = PANORAMA__REPLY__BODY_NODE;
		p->reply.node = me;
	}
	return 0;
}

static int handle_observe_request(pano_server *s, pending *p) { return handle_observe(s, p, true); }
static int handle_stop_observing(pano_server *s, pending *p) { return handle_observe(s, p, false); }

/*
 * Every kind of request: whether it writes (it then runs inside the batch's
 * transaction, before the reads, and returns 1 stored, 0 refused with its
 * reply set, -1 when the database failed) and what answers it.  A handler
 * that leaves no reply ran out of the batch's memory.
 */
typedef struct {
	bool writes;
	int (*handle)(pano_server *s, pending *p);
} request_kind;

static const request_kind REQUEST_KINDS[] = {
	[PANORAMA__REQUEST__BODY_REGISTER] = { false, read_register },
	[PANORAMA__REQUEST__BODY_SUBMIT_REPORT] = { true, handle_submit },
	[PANORAMA__REQUEST__BODY_LEARN_REPORT] = { true, handle_learn },
	[PANORAMA__REQUEST__BODY_GET_LATEST_REPORT] = { false, read_latest_report },
	[PANORAMA__REQUEST__BODY_GET_PANORAMA] = { false, read_panorama },
	[PANORAMA__REQUEST__BODY_GET_VIEW] = { false, read_view },
	[PANORAMA__REQUEST__BODY_GET_INFERENCE] = { false, read_inference },
	[PANORAMA__REQUEST__BODY_GET_OBSERVED_SUBJECTS] = { false, read_subjects },
	[PANORAMA__REQUEST__BODY_GET_OBSERVERS] = { false, read_observers },
	[PANORAMA__REQUEST__BODY_DUMP_PANORAMA] = { false, read_dump_panorama },
	[PANORAMA__REQUEST__BODY_DUMP_INFERENCE] = { false, read_dump_inference },
	[PANORAMA__REQUEST__BODY_PING] = { false, read_ping },
	[PANORAMA__REQUEST__BODY_GET_PEERS] = { false, read_peers },
	[PANORAMA__REQUEST__BODY_GET_ID] = { false, read_id },
	[PANORAMA__REQUEST__BODY_GET_BLAME] = { false, read_blame },
	[PANORAMA__REQUEST__BODY_OBSERVE] = { true, handle_observe_request },
	[PANORAMA__REQUEST__BODY_STOP_OBSERVING] = { true, handle_stop_observing },
};

/* The kind of a decoded request; NULL for one without a body or of a kind
 * this node does not know. */
static const request_kind *kind_of(const Panorama__Request *q)
{
	size_t c = (size_t)q->body_case;
	return c < sizeof(REQUEST_KINDS) / sizeof(REQUEST_KINDS[0]) && REQUEST_KINDS[c].handle ? &REQUEST_KINDS[c]
	                                                                                         : NULL;
}

/* Phase one of a batch: every write, in one transaction. */
void requests_apply_writes(pano_server *s)
{
	char err[256];
	bool open = false, failed = false;
	for (size_t i = 0; i < s->cur->n; i++) {
		pending *p = &s->cur->items[i];
		if (!p->req)
			continue;
		const request_kind *k = kind_of(p->req);
		if (!k || !k->writes)
			continue;
		if (!open && !failed && clock_mono_ns() >= s->degraded_until) {
			if (pano_db_begin(s->db, err, sizeof(err)) != 0) {
				pano_log(PANO_LOG_ERROR, "database: %s", err);
				failed = true;
			} else {
				open = true;
				pano_store_begin(s->store);
			}
		}
		if (failed) {
			reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__UNAVAILABLE, "database: %s", err);
			continue;
		}
		if (k->handle(s, p) < 0)
			failed = true;
	}
	int64_t commit_started = clock_mono_ns();
	bool committing = open && !failed;
	if (committing && pano_db_commit(s->db, err, sizeof(err)) != 0) {
		pano_log(PANO_LOG_ERROR, "database commit: %s", err);
		failed = true;
	}
	if (committing)
		server_histogram_add(s->commit_in, (clock_mono_ns() - commit_started) / 1e9, &s->commit_sum_s);

	if (!failed) {
		pano_store_commit(s->store);
		history_commit(s->history);
		s->cur->wrote = open;
		return;
	}
	/* Nothing of this batch is durable: refuse every write in it, and make
	 * the store hold again exactly what was acknowledged before: undone
	 * in memory, or (should the database's map of live rows be lost)
	 * reloaded from the file. */
	history_rollback(s->history);
	if (pano_db_rollback(s->db) == 0) {
		pano_store_undo(s->store);
	} else if (server_load_store(s, err, sizeof(err)) != 0) {
		pano_log(PANO_LOG_ERROR, "reloading after a failed commit: %s", err);
	}
	for (size_t i = 0; i < s->cur->n; i++) {
		pending *p = &s->cur->items[i];
		if (request_acknowledges_write(p)) {
			reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__UNAVAILABLE,
			            "the node could not store this report (%s); retry later", err);
			p->local_accepted = p->subscribe_change = false;
		}
	}
	s->degraded_until = clock_mono_ns() + DEGRADED_NS;
}

/* Phase two of a batch: every request the writes left unanswered. */
void requests_answer_reads(pano_server *s)
{
	for (size_t i = 0; i < s->cur->n; i++) {
		pending *p = &s->cur->items[i];
		if (!p->req || p->reply.body_case != PANORAMA__REPLY__BODY__NOT_SET)
			continue;
		const request_kind *k = kind_of(p->req);
		if (k)
			k->handle(s, p);
		else if (p->req->body_case == PANORAMA__REQUEST__BODY__NOT_SET)
			reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__BAD_REQUEST, "request without a body");
		else
			reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__BAD_REQUEST, "unknown request type %d",
			            (int)p->req->body_case);
		if (p->reply.body_case == PANORAMA__REPLY__BODY__NOT_SET)
			reply_error(s, p, PANORAMA__ERROR_REPLY__CODE__UNAVAILABLE, "the node is short of memory; retry");
	}
}

