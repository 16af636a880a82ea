/* wire.c - model <-> protobuf; see wire.h. */
#include "pano/node/wire.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pano/common/text.h"

static int cmp_metric(const void *a, const void *b)
{
	return strcmp(((const pano_metric *)a)->name, ((const pano_metric *)b)->name);
}

int pano_obs_from_pb(pano_store *s, const Panorama__Observation *in, int64_t now_sec,
                     pano_obs *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (!in) {
		snprintf(err, errlen, "report without an observation");
		return -1;
	}
	if (!in->ts) {
		snprintf(err, errlen, "observation without a timestamp");
		return -1;
	}
	if (in->ts->seconds < 0 || in->ts->seconds > now_sec + PANO_MAX_FUTURE_SEC) {
		snprintf(err, errlen, "observation time %lld s is before 1970 or over a day ahead",
		         (long long)in->ts->seconds);
		return -1;
	}
	if (in->ts->nanos < 0 || in->ts->nanos > 999999999) {
		snprintf(err, errlen, "observation nanos %d out of range", in->ts->nanos);
		return -1;
	}
	const pano_limits *lim = pano_store_limits(s);
	if (in->n_metrics == 0 || in->n_metrics > lim->max_metrics) {
		snprintf(err, errlen, "%zu metrics (1 to %zu allowed)", in->n_metrics, lim->max_metrics);
		return -1;
	}
	/* the reasons go after the metrics, in the same allocation */
	size_t reasons = 0;
	for (size_t i = 0; i < in->n_metrics; i++) {
		const Panorama__Observation__MetricsEntry *e = in->metrics[i];
		const Panorama__Value *v = e && e->value ? e->value->value : NULL;
		if (v && v->reason && v->reason[0]) {
			if (!pano_reason_valid(v->reason)) {
				snprintf(err, errlen, "a metric's reason is longer than %d bytes or has control characters",
				         PANO_REASON_MAX - 1);
				return -1;
			}
			reasons += strlen(v->reason) + 1;
		}
	}
	pano_metric *m = malloc(in->n_metrics * sizeof(*m) + reasons);
	char *tail = (char *)(m + in->n_metrics);
	if (!m) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	pano_store_names_mark(s);
	for (size_t i = 0; i < in->n_metrics; i++) {
		const Panorama__Observation__MetricsEntry *e = in->metrics[i];
		const char *key = e && e->key && e->key[0] ? e->key
		                  : (e && e->value && e->value->name ? e->value->name : "");
		char why[128];
		const char *name = pano_store_intern(s, key, why, sizeof(why));
		if (!name) {
			snprintf(err, errlen, "metric: %s", why);
			free(m);
			pano_store_names_rollback(s);
			return -1;
		}
		const Panorama__Value *v = e->value ? e->value->value : NULL;
		if (!v || (int)v->status < PANO_NA || (int)v->status > PANO_STATUS_MAX) {
			snprintf(err, errlen, "metric %.64s: status missing or invalid", name);
			free(m);
			pano_store_names_rollback(s);
			return -1;
		}
		if (!isfinite(v->score) || v->score < 0 || v->score > 100) {
			snprintf(err, errlen, "metric %.64s: score %g is not a number from 0 to 100", name,
			         (double)v->score);
			free(m);
			pano_store_names_rollback(s);
			return -1;
		}
		m[i] = (pano_metric){ name, (uint8_t)v->status, v->score, NULL, isfinite(v->ratio) && v->ratio > 0 ? v->ratio : 0.0f, isfinite(v->loss) && v->loss >= 0 && v->loss <= 1 && (v->loss > 0 || v->ratio > 0) ? v->loss : -1.0f };
		if (v->reason && v->reason[0]) {
			size_t n = strlen(v->reason) + 1;
			memcpy(tail, v->reason, n);
			m[i].reason = tail;
			tail += n;
		}
	}
	qsort(m, in->n_metrics, sizeof(*m), cmp_metric);
	for (size_t i = 1; i < in->n_metrics; i++)
		if (m[i].name == m[i - 1].name) {
			snprintf(err, errlen, "metric %.64s given twice", m[i].name);
			free(m);
			pano_store_names_rollback(s);
			return -1;
		}
	out->sec = in->ts->seconds;
	out->nsec = in->ts->nanos;
	out->n = (uint16_t)in->n_metrics;
	out->metrics = m;
	return 0;
}

static void *arena_dup(arena *a, const void *init, size_t size)
{
	void *p = arena_alloc(a, size);
	if (p)
		memcpy(p, init, size);
	return p;
}
/* A protobuf-c message in the arena, initialised with its INIT macro. */
#define NEW(a, type, init) ((type *)arena_dup((a), &(type)init, sizeof(type)))

Google__Protobuf__Timestamp *wire_ts(arena *a, int64_t sec, int32_t nsec)
{
	Google__Protobuf__Timestamp *t = NEW(a, Google__Protobuf__Timestamp, GOOGLE__PROTOBUF__TIMESTAMP__INIT);
	if (t) {
		t->seconds = sec;
		t->nanos = nsec;
	}
	return t;
}

Panorama__Observation *wire_obs(arena *a, const pano_obs *o)
{
	Panorama__Observation *ob = NEW(a, Panorama__Observation, PANORAMA__OBSERVATION__INIT);
	if (!ob)
		return NULL;
	ob->ts = wire_ts(a, o->sec, o->nsec);
	ob->metrics = arena_alloc(a, (o->n ? o->n : 1) * sizeof(*ob->metrics));
	if (!ob->ts || !ob->metrics)
		return NULL;
	for (uint16_t i = 0; i < o->n; i++) {
		Panorama__Observation__MetricsEntry *e = NEW(a, Panorama__Observation__MetricsEntry,
		                                             PANORAMA__OBSERVATION__METRICS_ENTRY__INIT);
		Panorama__Metric *m = NEW(a, Panorama__Metric, PANORAMA__METRIC__INIT);
		Panorama__Value *v = NEW(a, Panorama__Value, PANORAMA__VALUE__INIT);
		if (!e || !m || !v)
			return NULL;
		v->status = (Panorama__Status)o->metrics[i].status;
		v->score = o->metrics[i].score;
		if (o->metrics[i].reason)
			v->reason = (char *)o->metrics[i].reason;
		v->ratio = o->metrics[i].ratio;
		v->loss = o->metrics[i].loss;
		m->name = (char *)o->metrics[i].name;
		m->value = v;
		e->key = (char *)o->metrics[i].name;
		e->value = m;
		ob->metrics[i] = e;
	}
	ob->n_metrics = o->n;
	return ob;
}

Panorama__View *wire_view(arena *a, const pano_view *v)
{
	Panorama__View *pv = NEW(a, Panorama__View, PANORAMA__VIEW__INIT);
	if (!pv)
		return NULL;
	pv->observer = (char *)v->observer;
	pv->subject = (char *)v->subject;
	pv->observations = arena_alloc(a, (v->count ? v->count : 1) * sizeof(*pv->observations));
	if (!pv->observations)
		return NULL;
	for (size_t i = 0; i < v->count; i++)
		if (!(pv->observations[i] = wire_obs(a, pano_view_at(v, i))))
			return NULL;
	pv->n_observations = v->count;
	return pv;
}

Panorama__Panorama *wire_panorama(arena *a, const pano_subject *sub)
{
	Panorama__Panorama *p = NEW(a, Panorama__Panorama, PANORAMA__PANORAMA__INIT);
	if (!p)
		return NULL;
	p->subject = (char *)pano_subject_name(sub);
	size_t n = 0;
	const pano_view *const *views = pano_subject_views(sub, &n);
	p->views = arena_alloc(a, (n ? n : 1) * sizeof(*p->views));
	if (!p->views)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		Panorama__Panorama__ViewsEntry *e = NEW(a, Panorama__Panorama__ViewsEntry,
		                                        PANORAMA__PANORAMA__VIEWS_ENTRY__INIT);
		if (!e || !(e->value = wire_view(a, views[i])))
			return NULL;
		e->key = (char *)views[i]->observer;
		p->views[i] = e;
	}
	p->n_views = n;
	return p;
}

Panorama__Inference *wire_inference(arena *a, const pano_subject *sub)
{
	const pano_inference *inf = pano_subject_inference(sub);
	Panorama__Inference *pi = NEW(a, Panorama__Inference, PANORAMA__INFERENCE__INIT);
	if (!pi)
		return NULL;
	pi->subject = (char *)pano_subject_name(sub);
	pi->observers = arena_alloc(a, (inf->nobservers ? inf->nobservers : 1) * sizeof(char *));
	if (!pi->observers)
		return NULL;
	for (size_t i = 0; i < inf->nobservers; i++)
		if (pano_inference_voted(inf, i))
			pi->observers[pi->n_observers++] = (char *)inf->observers[i];
	pi->stale = arena_alloc(a, (inf->stale ? inf->stale : 1) * sizeof(char *));
	pi->blamed = arena_alloc(a, (inf->blamed ? inf->blamed : 1) * sizeof(char *));
	if (!pi->stale || !pi->blamed)
		return NULL;
	for (size_t i = 0; i < inf->nobservers; i++) {
		if (inf->mute[i] == PANO_STALE)
			pi->stale[pi->n_stale++] = (char *)inf->observers[i];
		else if (inf->mute[i] == PANO_BLAMED)
			pi->blamed[pi->n_blamed++] = (char *)inf->observers[i];
	}
	if (inf->has_obs && !(pi->observation = wire_obs(a, &inf->obs)))
		return NULL;
	return pi;
}

Panorama__Report *wire_latest_report(arena *a, const pano_subject *sub)
{
	size_t n = 0;
	const pano_view *const *views = pano_subject_views(sub, &n);
	const pano_view *best = NULL;
	for (size_t i = 0; i < n; i++) {
		const pano_obs *o = pano_view_newest(views[i]);
		const pano_obs *b = best ? pano_view_newest(best) : NULL;
		if (o && (!b || pano_ts_cmp(o->sec, o->nsec, b->sec, b->nsec) > 0))
			best = views[i];
	}
	if (!best)
		return NULL;
	Panorama__Report *r = NEW(a, Panorama__Report, PANORAMA__REPORT__INIT);
	if (!r)
		return NULL;
	r->observer = (char *)best->observer;
	r->subject = (char *)best->subject;
	r->observation = wire_obs(a, pano_view_newest(best));
	return r->observation ? r : NULL;
}

/* --- strings on the wire ------------------------------------------------------- */

#define WIRE_DEPTH_MAX 32

static bool read_varint(const uint8_t *buf, size_t len, size_t *pos, uint64_t *out)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 64 && *pos < len; shift += 7) {
		uint8_t b = buf[(*pos)++];
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = v;
			return true;
		}
	}
	return false;
}

static int strings_valid(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len,
                         unsigned depth, char *err, size_t errlen)
{
	if (depth > WIRE_DEPTH_MAX) {
		snprintf(err, errlen, "message nested too deep");
		return -1;
	}
	size_t pos = 0;
	while (pos < len) {
		uint64_t tag, n;
		if (!read_varint(buf, len, &pos, &tag))
			goto malformed;
		switch (tag & 7) {
		case 0:
			if (!read_varint(buf, len, &pos, &n))
				goto malformed;
			break;
		case 1:
			if (len - pos < 8)
				goto malformed;
			pos += 8;
			break;
		case 5:
			if (len - pos < 4)
				goto malformed;
			pos += 4;
			break;
		case 2: {
			if (!read_varint(buf, len, &pos, &n) || n > len - pos)
				goto malformed;
			const ProtobufCFieldDescriptor *f =
				tag >> 3 <= UINT32_MAX ? protobuf_c_message_descriptor_get_field(desc, (unsigned)(tag >> 3)) : NULL;
			if (f && f->type == PROTOBUF_C_TYPE_STRING && !pano_utf8_valid((const char *)buf + pos, (size_t)n)) {
				snprintf(err, errlen, "%s.%s is not valid UTF-8 or holds a NUL", desc->short_name, f->name);
				return -1;
			}
			if (f && f->type == PROTOBUF_C_TYPE_MESSAGE &&
			    strings_valid(f->descriptor, buf + pos, (size_t)n, depth + 1, err, errlen) != 0)
				return -1;
			pos += (size_t)n;
			break;
		}
		default: /* groups are not proto3 */
			goto malformed;
		}
	}
	return 0;
malformed:
	snprintf(err, errlen, "%s is malformed", desc->short_name);
	return -1;
}

int wire_strings_valid(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len,
                       char *err, size_t errlen)
{
	return strings_valid(desc, buf, len, 0, err, errlen);
}

static Panorama__Blame__EvidenceEntry *evidence(arena *a, const char *key, double value)
{
	Panorama__Blame__EvidenceEntry *e = NEW(a, Panorama__Blame__EvidenceEntry, PANORAMA__BLAME__EVIDENCE_ENTRY__INIT);
	if (e) {
		e->key = (char *)key;
		e->value = value;
	}
	return e;
}

Panorama__GetBlameReply *wire_blames(arena *a, const judge_blame *b, size_t n)
{
	Panorama__GetBlameReply *r = NEW(a, Panorama__GetBlameReply, PANORAMA__GET_BLAME_REPLY__INIT);
	if (!r)
		return NULL;
	r->blame = arena_alloc(a, (n ? n : 1) * sizeof(*r->blame));
	if (!r->blame)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		Panorama__Blame *x = NEW(a, Panorama__Blame, PANORAMA__BLAME__INIT);
		if (!x)
			return NULL;
		x->kind = (char *)blame_kind_name(b[i].kind);
		x->hosts = arena_alloc(a, (b[i].nhosts ? b[i].nhosts : 1) * sizeof(char *));
		x->evidence = arena_alloc(a, 4 * sizeof(*x->evidence));
		x->since = wire_ts(a, b[i].since_sec, 0);
		if (!x->hosts || !x->evidence || !x->since)
			return NULL;
		for (size_t k = 0; k < b[i].nhosts; k++)
			x->hosts[k] = (char *)b[i].hosts[k];
		x->n_hosts = b[i].nhosts;
		x->group = (char *)b[i].group;
		size_t ne = 0;
		x->evidence[ne++] = evidence(a, "bad", b[i].bad);
		x->evidence[ne++] = evidence(a, "views", b[i].views);
		if (b[i].ratio > 0)
			x->evidence[ne++] = evidence(a, "ratio", b[i].ratio);
		if (b[i].loss >= 0)
			x->evidence[ne++] = evidence(a, "loss", b[i].loss);
		for (size_t k = 0; k < ne; k++)
			if (!x->evidence[k])
				return NULL;
		x->n_evidence = ne;
		r->blame[r->n_blame++] = x;
	}
	return r;
}
