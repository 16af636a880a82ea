/* pipeline.c - detectors and their log rows per probe; see pipeline.h. */
#include "agent/pipeline.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detector/bytes.h"
#include "htm/htm.h"
#include "agent/statefile.h"
#include "agent/timefmt.h"
#include "pano/client/publisher.h"
#include "pano/common/model.h"

/* The probes since a host's last report, for its summary: counts, least
 * and greatest exact, the response times a sample of at most
 * SUMMARY_SAMPLES in µs (when full, every other one is dropped and from
 * then on every other one kept: deterministic, and even across the
 * stretch).  Small, as every host has one: 100,000 targets take 18 MB. */
#define SUMMARY_SAMPLES 32
typedef struct {
	uint32_t probes, lost;
	int64_t min_ns, max_ns;
	uint32_t rtt_us[SUMMARY_SAMPLES];
	uint32_t n, stride, seen;
} since_report;

typedef struct {
	char *name;          /* NULL: a free slot */
	bool fresh;          /* no outcome yet: the state file may restore it */
	attention_params att; /* the pipeline's, with the host's own thresholds */
	int64_t timeout_ns;   /* what a lost outcome counts as */
	phi_detector *phi;
	attention_tracker *attention;
	double last_phi;
	htm_model *htm;      /* NULL until the host's first HTM step */
	bool htm_denied;     /* the HTM budget had no room for its model */
	uint32_t agg_count;  /* outcomes gathered towards the next HTM step */
	int64_t agg_max_ns;
	double anomaly;      /* the latest HTM anomaly score, NAN before one */
	int64_t last_report_ms;
	uint64_t probes, lost; /* outcomes since start (lost: timeouts, errors) */
	uint64_t rtt_in[PIPELINE_RTT_BUCKETS_MAX + 1]; /* answered, per bucket (the last: above every bound) */
	double rtt_sum_s;
	int64_t last_rtt_ns;   /* -1: the latest probe was lost (or none yet) */
	int64_t prev_answer_ns; /* the answer before the latest (-1: none), for the jitter */
	double jitter_s;
	since_report since; /* what the next report's summary says */
} host_detectors;

struct pipeline {
	pipeline_report_fn report;
	void *report_ctx;
	pipeline_params params;
	attention_params attention;
	csvlogs *logs;
	host_detectors *hosts;
	size_t count, cap;
	size_t htm_models, htm_denied; /* hosts with a model, and without one for want of budget */
	size_t htm_model_bytes;        /* what one model takes (measured once) */
};

void pipeline_report_values(const pipeline_report *r, int *status, double *score, publisher_extra *x)
{
	attention_state st = r->state;
	*status = st == ATTENTION_HEALTHY ? PANO_HEALTHY : st == ATTENTION_PENDING ? PANO_PENDING
	        : st == ATTENTION_NEEDS_ATTENTION ? PANO_UNHEALTHY : PANO_DEAD;
	*score = st == ATTENTION_DEAD ? 0.0 : 100.0 / (1.0 + r->phi);
	memset(x, 0, sizeof(*x));
	x->reason = r->reason;
	x->ratio = (float)r->ratio;
	x->loss = (float)r->loss;
	x->summary = r->summary.probes ? &r->summary : NULL;
}

void pipeline_report_to_publisher(void *pub, const pipeline_report *r)
{
	int status;
	double score;
	publisher_extra x;
	pipeline_report_values(r, &status, &score, &x);
	publisher_report(pub, r->host, "rtt", status, score, &x, r->wall_ms * 1000000);
}

const char *probe_status_name(probe_status s)
{
	switch (s) {
	case PROBE_OK: return "OK";
	case PROBE_TIMEOUT: return "TIMEOUT";
	case PROBE_ERROR: return "ERROR";
	}
	return "ERROR";
}

pipeline *pipeline_new(const pipeline_params *params, csvlogs *logs)
{
	pipeline *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->params = *params;
	if (!p->params.rtt_buckets)
		pipeline_default_rtt_bounds(p->params.rtt_bounds_s, &p->params.rtt_buckets);
	p->attention = attention_params_default();
	p->attention.phi_threshold = params->phi_threshold;
	p->attention.anomaly_threshold = params->anomaly_threshold;
	p->attention.confirm = params->confirm;
	p->attention.accept_after_s = params->accept_after_s;
	p->attention.dead_after_s = params->dead_after_s;
	p->attention.slow_margin_s = params->slow_margin_s;
	p->attention.no_recurrence = params->no_recurrence;
	p->attention.htm_familiar = params->htm_familiar;
	p->logs = logs;
	return p;
}

static void clear_slot(pipeline *p, host_detectors *h)
{
	p->htm_models -= h->htm != NULL;
	p->htm_denied -= h->htm_denied;
	free(h->name);
	phi_free(h->phi);
	attention_free(h->attention);
	htm_free(h->htm);
	memset(h, 0, sizeof(*h));
}

void pipeline_free(pipeline *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->count; i++)
		clear_slot(p, &p->hosts[i]);
	free(p->hosts);
	free(p);
}

static attention_params host_attention(const pipeline *p, const pipeline_host_options *o)
{
	attention_params a = p->attention;
	if (o && !isnan(o->phi_threshold))
		a.phi_threshold = o->phi_threshold;
	if (o && !isnan(o->anomaly_threshold))
		a.anomaly_threshold = o->anomaly_threshold;
	return a;
}

int pipeline_set_host(pipeline *p, size_t slot, const char *name, const pipeline_host_options *o)
{
	if (slot >= p->cap) {
		size_t cap = p->cap ? p->cap : 16;
		while (cap <= slot)
			cap *= 2;
		host_detectors *grown = realloc(p->hosts, cap * sizeof(*grown));
		if (!grown)
			return -1;
		memset(grown + p->cap, 0, (cap - p->cap) * sizeof(*grown));
		p->hosts = grown;
		p->cap = cap;
	}
	host_detectors *h = &p->hosts[slot];
	if (h->name)
		return -1;
	h->name = strdup(name);
	h->phi = phi_new(p->params.phi_window, p->params.phi_dist);
	h->attention = attention_new();
	if (!h->name || !h->phi || !h->attention) {
		clear_slot(p, h);
		return -1;
	}
	h->fresh = true;
	h->att = host_attention(p, o);
	h->timeout_ns = o && o->timeout_ns > 0 ? o->timeout_ns : p->params.timeout_ns;
	h->anomaly = NAN;
	h->last_report_ms = INT64_MIN;
	h->last_rtt_ns = -1;
	h->prev_answer_ns = -1;
	if (slot >= p->count)
		p->count = slot + 1;
	return 0;
}

void pipeline_set_host_options(pipeline *p, size_t slot, const pipeline_host_options *o)
{
	if (!pipeline_has_host(p, slot))
		return;
	p->hosts[slot].att = host_attention(p, o);
	p->hosts[slot].timeout_ns = o && o->timeout_ns > 0 ? o->timeout_ns : p->params.timeout_ns;
}

void pipeline_clear_host(pipeline *p, size_t slot)
{
	if (slot < p->count)
		clear_slot(p, &p->hosts[slot]);
}

bool pipeline_has_host(const pipeline *p, size_t slot) { return slot < p->count && p->hosts[slot].name; }

long pipeline_add_host(pipeline *p, const char *name)
{
	size_t slot = p->count;
	return pipeline_set_host(p, slot, name, NULL) == 0 ? (long)slot : -1;
}

size_t pipeline_host_count(const pipeline *p) { return p->count; }
const char *pipeline_host_name(const pipeline *p, size_t host) { return p->hosts[host].name; }
double pipeline_last_phi(const pipeline *p, size_t host) { return p->hosts[host].last_phi; }

void pipeline_set_reporter(pipeline *p, pipeline_report_fn fn, void *ctx)
{
	p->report = fn;
	p->report_ctx = ctx;
}
double pipeline_last_anomaly(const pipeline *p, size_t host) { return p->hosts[host].anomaly; }

static htm_params rtt_htm_params(const pipeline *p)
{
	htm_params hp = htm_params_default();
	hp.resolution = p->params.htm_resolution;
	return hp;
}

size_t pipeline_htm_model_bytes(pipeline *p)
{
	if (!p->htm_model_bytes) { /* every model of these parameters is this size: it is all made at once */
		htm_params hp = rtt_htm_params(p);
		htm_model *m = htm_new(&hp);
		p->htm_model_bytes = m ? htm_memory(m) : 0;
		htm_free(m);
	}
	return p->htm_model_bytes;
}

/* Whether one more model (beyond extra being loaded) fits the budget. */
static bool htm_fits(pipeline *p, size_t extra)
{
	if (!p->params.htm_budget_bytes)
		return true;
	size_t each = pipeline_htm_model_bytes(p);
	return each && (p->htm_models + extra + 1) <= p->params.htm_budget_bytes / each;
}

void pipeline_htm_usage(const pipeline *p, size_t *models, size_t *denied, size_t *budget_bytes)
{
	*models = p->htm_models;
	*denied = p->htm_denied;
	*budget_bytes = p->params.htm ? p->params.htm_budget_bytes : 0;
}

/* Gathers one outcome; every htm_aggregate of them, one HTM step (and its
 * htm.csv row).  Returns true when a step was taken. */
static bool feed_htm(pipeline *p, host_detectors *h, int64_t wall_ms, int64_t t_ns)
{
	if (!p->params.htm || h->htm_denied)
		return false;
	if (h->agg_count == 0 || t_ns > h->agg_max_ns)
		h->agg_max_ns = t_ns;
	if (++h->agg_count < p->params.htm_aggregate)
		return false;
	h->agg_count = 0;
	if (!h->htm) {
		/* sized before it is made: past the budget the host runs on phi and
		 * the baseline, for good (the same hosts in a replay) */
		if (!htm_fits(p, 0)) {
			h->htm_denied = true;
			p->htm_denied++;
			return false;
		}
		htm_params hp = rtt_htm_params(p);
		h->htm = htm_new(&hp);
		if (!h->htm)
			return false; /* out of memory: phi goes on alone */
		p->htm_models++;
	}
	double us = (double)h->agg_max_ns / 1000.0;
	double value = log10(us < 1.0 ? 1.0 : us);
	htm_result r;
	htm_step(h->htm, value, wall_ms / 1000, true, &r);
	h->anomaly = r.log_likelihood;
	FILE *f = p->logs ? csvlogs_file(p->logs, LOG_HTM) : NULL;
	if (f) {
		char ts[TIMEFMT_LEN];
		timefmt_format(wall_ms, ts);
		if (r.has_prediction)
			fprintf(f, "%s,%s,%.4f,%.4f,%.4f\n", ts, h->name, value, r.prediction, h->anomaly);
		else
			fprintf(f, "%s,%s,%.4f,,%.4f\n", ts, h->name, value, h->anomaly);
	}
	return true;
}
attention_state pipeline_state(const pipeline *p, size_t host) { return attention_current(p->hosts[host].attention); }

const char *pipeline_reason(const pipeline *p, size_t host) { return attention_reason(p->hosts[host].attention); }

void pipeline_default_rtt_bounds(double *bounds, size_t *n)
{
	for (size_t b = 0; b < PIPELINE_RTT_BUCKETS_DEFAULT; b++)
		bounds[b] = 0.00005 * (double)(1u << b);
	*n = PIPELINE_RTT_BUCKETS_DEFAULT;
}

const double *pipeline_rtt_bounds(const pipeline *p, size_t *n)
{
	*n = p->params.rtt_buckets;
	return p->params.rtt_bounds_s;
}

void pipeline_host_stats_get(const pipeline *p, size_t host, pipeline_host_stats *out)
{
	const host_detectors *h = &p->hosts[host];
	out->probes = h->probes;
	out->lost = h->lost;
	uint64_t sum = 0;
	for (size_t b = 0; b < p->params.rtt_buckets; b++)
		out->rtt_le[b] = sum += h->rtt_in[b];
	out->rtt_sum_s = h->rtt_sum_s;
	out->last_rtt_ns = h->last_rtt_ns;
	out->jitter_s = h->jitter_s;
	out->phi = h->last_phi;
	out->anomaly = h->anomaly;
	out->state = attention_current(h->attention);
	out->why = attention_explain(h->attention);
}

/* One probe's figures for the exporters.  The jitter is RFC 3550's: each
 * answer moves it a sixteenth of the way towards how much this response
 * time differs from the previous one (lost probes in between do not
 * count), as smokeping and RTP monitors report it. */
static void since_add(since_report *s, bool lost, int64_t rtt_ns)
{
	s->probes++;
	s->lost += lost;
	if (lost)
		return;
	if (s->probes - s->lost == 1 || rtt_ns < s->min_ns)
		s->min_ns = rtt_ns;
	if (s->probes - s->lost == 1 || rtt_ns > s->max_ns)
		s->max_ns = rtt_ns;
	if (s->stride == 0)
		s->stride = 1;
	if (s->seen++ % s->stride != 0)
		return;
	if (s->n == SUMMARY_SAMPLES) {
		for (uint32_t i = 0; i < SUMMARY_SAMPLES / 2; i++)
			s->rtt_us[i] = s->rtt_us[2 * i];
		s->n = SUMMARY_SAMPLES / 2;
		s->stride *= 2;
		if ((s->seen - 1) % s->stride != 0)
			return;
	}
	int64_t us = rtt_ns / 1000;
	s->rtt_us[s->n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/* The summary of what since holds, which then starts again. */
static void since_take(since_report *s, publisher_summary *out)
{
	memset(out, 0, sizeof(*out));
	out->probes = s->probes;
	out->lost = s->lost;
	if (s->n > 0) {
		qsort(s->rtt_us, s->n, sizeof(s->rtt_us[0]), cmp_u32);
		out->min_ms = (float)(s->min_ns / 1e6);
		out->max_ms = (float)(s->max_ns / 1e6);
		out->median_ms = (float)(s->rtt_us[(s->n - 1) / 2] / 1e3);
		out->p90_ms = (float)(s->rtt_us[(s->n * 9 + 9) / 10 - 1] / 1e3);
	}
	s->probes = s->lost = s->n = s->seen = 0;
	s->stride = 1;
}

static void count_probe(const pipeline *p, host_detectors *h, probe_status status, int64_t rtt_ns)
{
	bool lost = status != PROBE_OK;
	h->probes++;
	h->lost += lost;
	since_add(&h->since, lost, rtt_ns);
	h->last_rtt_ns = lost ? -1 : rtt_ns;
	if (!lost) {
		double s = rtt_ns / 1e9;
		size_t b = 0;
		while (b < p->params.rtt_buckets && s > p->params.rtt_bounds_s[b])
			b++;
		h->rtt_in[b]++;
		h->rtt_sum_s += s;
		if (h->prev_answer_ns >= 0)
			h->jitter_s += (fabs((double)(rtt_ns - h->prev_answer_ns)) / 1e9 - h->jitter_s) / 16.0;
		h->prev_answer_ns = rtt_ns;
	}
}

/* One outcome (a probe, or a burst: burst probes, burst_lost of them lost)
 * through the detectors and into fd.csv, htm.csv and attention.csv. */
static void observe(pipeline *p, host_detectors *h, int64_t wall_ms, probe_status status, int64_t rtt_ns,
                    uint16_t burst, uint16_t burst_lost)
{
	bool lost = status != PROBE_OK;
	h->fresh = false;
	double phi = phi_score(h->phi, lost ? h->timeout_ns : rtt_ns);
	if (!lost)
		phi_add(h->phi, rtt_ns);
	h->last_phi = phi;

	char ts[TIMEFMT_LEN];
	timefmt_format(wall_ms, ts);
	FILE *fd = p->logs ? csvlogs_file(p->logs, LOG_FD) : NULL;
	if (fd) {
		if (lost)
			fprintf(fd, "%s,%s,,%s,%.3f\n", ts, h->name, probe_status_name(status), phi);
		else
			fprintf(fd, "%s,%s,%lld,OK,%.3f\n", ts, h->name, (long long)rtt_ns, phi);
	}
	feed_htm(p, h, wall_ms, lost ? h->timeout_ns : rtt_ns);
	double anomaly = h->anomaly;
	attention_input in = { wall_ms, lost, rtt_ns, phi, anomaly, burst, burst_lost };
	bool changed = attention_update(h->attention, &h->att, &in);
	attention_state state = attention_current(h->attention);
	if (p->report && (changed || h->last_report_ms == INT64_MIN ||
	                  wall_ms - h->last_report_ms >= PIPELINE_REPORT_EVERY_MS || wall_ms < h->last_report_ms)) {
		h->last_report_ms = wall_ms;
		pipeline_report r = { .host = h->name, .slot = (size_t)(h - p->hosts), .state = state, .phi = phi,
		                      .anomaly = anomaly, .reason = attention_reason(h->attention),
		                      .wall_ms = wall_ms };
		attention_evidence(h->attention, &r.ratio, &r.loss);
		since_take(&h->since, &r.summary);
		p->report(p->report_ctx, &r);
	}
	FILE *att = p->logs ? csvlogs_file(p->logs, LOG_ATTENTION) : NULL;
	if (att && changed) {
		fprintf(att, "%s,%s,%s,%.3f,", ts, h->name,
		        attention_state_name(state), phi);
		if (!isnan(anomaly))
			fprintf(att, "%.4f", anomaly);
		/* the reason has no commas (attention.h): one field as it is */
		fprintf(att, ",%s\n", attention_reason(h->attention));
	}
}

void pipeline_observe(pipeline *p, size_t host, int64_t wall_ms, probe_status status, int64_t rtt_ns)
{
	host_detectors *h = &p->hosts[host];
	count_probe(p, h, status, rtt_ns);
	observe(p, h, wall_ms, status, rtt_ns, 1, status != PROBE_OK);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

void pipeline_observe_burst(pipeline *p, size_t host, int64_t wall_ms, const probe_outcome *o, size_t n)
{
	host_detectors *h = &p->hosts[host];
	int64_t rtt[PIPELINE_BURST_MAX];
	size_t answered = 0, errors = 0;
	if (n > PIPELINE_BURST_MAX)
		n = PIPELINE_BURST_MAX;
	for (size_t i = 0; i < n; i++) {
		count_probe(p, h, o[i].status, o[i].rtt_ns);
		if (o[i].status == PROBE_OK)
			rtt[answered++] = o[i].rtt_ns;
		else
			errors += o[i].status == PROBE_ERROR;
	}
	if (answered == 0) {
		observe(p, h, wall_ms, errors == n && n ? PROBE_ERROR : PROBE_TIMEOUT, -1, (uint16_t)n, (uint16_t)n);
		return;
	}
	/* the median: of an even count, the lower middle one, an answer that
	 * was really seen */
	qsort(rtt, answered, sizeof(rtt[0]), cmp_i64);
	observe(p, h, wall_ms, PROBE_OK, rtt[(answered - 1) / 2], (uint16_t)n, (uint16_t)(n - answered));
}

/* A host's saved record: the HTM aggregation, the latest anomaly, then the
 * phi window's blob, the decision's (attention.h, its baseline included)
 * and the HTM model's (if any: the rest of the record).  The decision is
 * kept so that a restarted agent judges and logs exactly as one long run
 * would.  Version 2 records (no decision blob) still load: the decision
 * starts afresh. */
#define HOST_RECORD_VERSION 3

/* The record's header, both ways (detector/bytes.h): version, aggregation
 * count, its max, the latest anomaly, phi blob length, decision blob
 * length.  Version 2 had the decision's state, whether it had started and
 * its lost run after the version byte, and no decision blob. */
static void code_record_header(bytes_cursor *c, host_detectors *h, uint32_t *phi_len, uint32_t *att_len)
{
	uint8_t version = HOST_RECORD_VERSION;
	bytes_u8(c, &version);
	if (c->decoding && version == 2) {
		uint8_t state = 0, started = 0;
		uint32_t lost_run = 0;
		bytes_u8(c, &state);
		bytes_u8(c, &started);
		bytes_u32(c, &lost_run);
		if (state > ATTENTION_DEAD || started > 1)
			bytes_fail(c);
	} else if (version != HOST_RECORD_VERSION) {
		bytes_fail(c);
	}
	bytes_u32(c, &h->agg_count);
	bytes_i64(c, &h->agg_max_ns);
	bytes_f64(c, &h->anomaly);
	bytes_u32(c, phi_len);
	if (version != 2)
		bytes_u32(c, att_len);
}

static size_t host_record_size(const host_detectors *h)
{
	uint32_t phi_len = 0, att_len = 0;
	bytes_cursor c = bytes_encoder(NULL, 0);
	code_record_header(&c, (host_detectors *)h, &phi_len, &att_len);
	return c.pos + phi_state_size(h->phi) + attention_state_size(h->attention) +
	       (h->htm ? htm_state_size(h->htm) : 0);
}

static int host_record_write(const host_detectors *h, uint8_t *buf, size_t cap, size_t *len)
{
	uint32_t phi_len = (uint32_t)phi_state_size(h->phi), att_len = (uint32_t)attention_state_size(h->attention);
	host_detectors copy = *h; /* encoding reads through the pointers only */
	bytes_cursor c = bytes_encoder(buf, cap);
	code_record_header(&c, &copy, &phi_len, &att_len);
	size_t at = c.pos, phi_written = 0, htm_len = 0;
	if (c.bad || phi_save(h->phi, buf + at, cap - at, &phi_written) != 0 || phi_written != phi_len ||
	    cap - at - phi_len < att_len)
		return -1;
	at += phi_len;
	attention_save(h->attention, buf + at);
	at += att_len;
	if (h->htm && htm_save(h->htm, buf + at, cap - at, &htm_len) != 0)
		return -1;
	*len = at + htm_len;
	return 0;
}

static int host_record_read(const pipeline *p, const uint8_t *buf, size_t len,
                            host_detectors *out, char *err, size_t errlen)
{
	uint32_t phi_len = 0, att_len = 0;
	memset(out, 0, sizeof(*out));
	bytes_cursor c = bytes_decoder(buf, len);
	code_record_header(&c, out, &phi_len, &att_len);
	size_t header = c.pos;
	if (out->agg_count >= p->params.htm_aggregate)
		out->agg_count = 0; /* saved under another --htm-aggregate */
	if (c.bad || phi_len > len - header || att_len > len - header - phi_len || out->agg_max_ns < 0 ||
	    !(isnan(out->anomaly) || (out->anomaly >= 0 && out->anomaly <= 1))) {
		snprintf(err, errlen, "malformed host record");
		return -1;
	}
	bool v2 = buf[0] == 2;
	out->phi = phi_load(buf + header, phi_len, p->params.phi_window,
	                    p->params.phi_dist, err, errlen);
	if (!out->phi)
		return -1;
	out->attention = v2 ? attention_new() : attention_load(buf + header + phi_len, att_len, err, errlen);
	if (!out->attention) {
		if (v2)
			snprintf(err, errlen, "out of memory");
		phi_free(out->phi);
		return -1;
	}
	out->htm = NULL;
	size_t htm_len = len - header - phi_len - att_len;
	if (htm_len) {
		out->htm = htm_load(buf + header + phi_len + att_len, htm_len, err, errlen);
		if (!out->htm) {
			phi_free(out->phi);
			attention_free(out->attention);
			return -1;
		}
	}
	return 0;
}

int pipeline_save_state(const pipeline *p, const regdir *dir, const char *path, char *err, size_t errlen)
{
	statefile_writer *w = statefile_begin(dir, path, err, errlen);
	if (!w)
		return -1;
	uint8_t *buf = NULL;
	size_t bufcap = 0;
	int rc = 0;
	for (size_t i = 0; i < p->count && rc == 0; i++) {
		if (!p->hosts[i].name)
			continue;
		size_t need = host_record_size(&p->hosts[i]), len = 0;
		if (need > bufcap) {
			uint8_t *nb = realloc(buf, need);
			if (!nb) {
				snprintf(err, errlen, "out of memory");
				rc = -1;
				break;
			}
			buf = nb;
			bufcap = need;
		}
		rc = host_record_write(&p->hosts[i], buf, bufcap, &len);
		if (rc == 0)
			rc = statefile_put(w, p->hosts[i].name, buf, len);
	}
	free(buf);
	if (rc != 0) {
		statefile_abort(w);
		if (!err[0])
			snprintf(err, errlen, "%s: write failed", path);
		return -1;
	}
	return statefile_commit(w, err, errlen);
}

static int cmp_name_ptr(const void *a, const void *b)
{
	const host_detectors *x = *(host_detectors *const *)a;
	const host_detectors *y = *(host_detectors *const *)b;
	return strcmp(x->name, y->name);
}

static int cmp_key_name(const void *key, const void *elem)
{
	const host_detectors *y = *(host_detectors *const *)elem;
	return strcmp((const char *)key, y->name);
}

int pipeline_load_state(pipeline *p, const regdir *dir, const char *path, size_t *restored,
                        char *err, size_t errlen)
{
	*restored = 0;
	statefile_reader *r = NULL;
	size_t max_size = p->count * PIPELINE_HOST_STATE_MAX;
	int rc = statefile_open(dir, path, max_size > STATEFILE_SIZE_MAX ? max_size : STATEFILE_SIZE_MAX, &r, err, errlen);
	if (rc <= 0)
		return rc; /* 0: no file; -1: unreadable or corrupt */

	host_detectors **index = malloc((p->count ? p->count : 1) * sizeof(*index));
	if (!index) {
		statefile_close(r);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	size_t nindex = 0;
	for (size_t i = 0; i < p->count; i++)
		if (p->hosts[i].name && p->hosts[i].fresh)
			index[nindex++] = &p->hosts[i];
	qsort(index, nindex, sizeof(*index), cmp_name_ptr);

	const char *name;
	const uint8_t *blob;
	size_t len;
	host_detectors *loaded = calloc(p->count ? p->count : 1, sizeof(*loaded));
	size_t loaded_models = 0;
	rc = loaded ? 0 : -1;
	while (rc == 0 && (rc = statefile_next(r, &name, &blob, &len, err, errlen)) == 1) {
		rc = 0;
		host_detectors **hit = nindex ? bsearch(name, index, nindex, sizeof(*index), cmp_key_name) : NULL;
		if (!hit)
			continue;
		size_t at = (size_t)(*hit - p->hosts);
		char why[128];
		host_detectors d;
		if (host_record_read(p, blob, len, &d, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "host %s: %s", name, why);
			rc = -1;
			break;
		}
		loaded_models -= loaded[at].htm != NULL;
		phi_free(loaded[at].phi);
		attention_free(loaded[at].attention);
		htm_free(loaded[at].htm);
		if (d.htm && !htm_fits(p, loaded_models)) { /* the budget decides, as for a new model */
			htm_free(d.htm);
			d.htm = NULL;
			d.htm_denied = true;
		}
		loaded_models += d.htm != NULL;
		loaded[at] = d;
	}
	statefile_close(r);
	free(index);
	if (!loaded) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* All or nothing: a file that fails half way restores no host. */
	for (size_t i = 0; i < p->count; i++) {
		host_detectors *h = &p->hosts[i];
		if (rc == 0 && loaded[i].phi) {
			h->fresh = false; /* restored once */
			phi_free(h->phi);
			attention_free(h->attention);
			p->htm_models -= h->htm != NULL;
			p->htm_denied -= h->htm_denied;
			htm_free(h->htm);
			h->phi = loaded[i].phi;
			h->htm = loaded[i].htm;
			h->htm_denied = loaded[i].htm_denied;
			p->htm_models += h->htm != NULL;
			p->htm_denied += h->htm_denied;
			h->attention = loaded[i].attention;
			h->agg_count = loaded[i].agg_count;
			h->agg_max_ns = loaded[i].agg_max_ns;
			h->anomaly = loaded[i].anomaly;
			(*restored)++;
		} else {
			phi_free(loaded[i].phi);
			attention_free(loaded[i].attention);
			htm_free(loaded[i].htm);
		}
	}
	free(loaded);
	return rc == 0 ? 1 : -1;
}
