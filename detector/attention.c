/* attention.c - the decision layer; see attention.h. */
#include "detector/attention.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "detector/baseline.h"
#include "detector/bytes.h"

#define NEVER INT64_MIN
/* A probe weighs the time since the previous one, at most this much (a
 * gap in probing is not time the host was seen). */
#define WEIGHT_MAX_S 600.0
#define LOSS_MASK ((1u << ATTENTION_LOSS_WINDOW) - 1u)
/* Held responses fade over this many acceptance times: a change that lasts
 * is accepted after about one (1.07 of them, slow all along); one that
 * comes and goes, a route that flaps, once it has added up to one within a
 * few; the tail of the jitter never. */
#define HELD_FADE_ACCEPTS 8.0

struct attention_tracker {
	attention_state state;
	bool started;
	bool slow_episode;   /* needs attention for slowness */
	bool loss_episode;   /* needs attention for loss */
	bool htm_agreed;     /* the HTM model found a probe of the slow run unexpected */
	int64_t prev_ms;     /* the previous outcome's time */
	int64_t silent_since_ms; /* the first lost probe of the current run */
	uint32_t lost_in_a_row;
	uint32_t loss_bits;  /* 1 = lost, newest in bit 0 */
	uint32_t loss_filled;
	uint32_t slow_run;   /* slow answers in a row (lost probes do not count) */
	int64_t slow_since_ms; /* the first of them */
	uint32_t normal_run; /* normal answers in a row while needing attention */
	baseline *ref;
};

attention_params attention_params_default(void)
{
	attention_params p = { 1.0, 0.4, 3, ATTENTION_ACCEPT_AFTER_S, ATTENTION_DEAD_AFTER_S, ATTENTION_SLOW_MARGIN_S };
	return p;
}

static void tracker_init(attention_tracker *t)
{
	t->state = ATTENTION_HEALTHY;
	t->started = false;
	t->slow_episode = t->loss_episode = t->htm_agreed = false;
	t->prev_ms = NEVER;
	t->silent_since_ms = NEVER;
	t->lost_in_a_row = 0;
	t->loss_bits = 0;
	t->loss_filled = 0;
	t->slow_run = t->normal_run = 0;
	t->slow_since_ms = NEVER;
}

attention_tracker *attention_new(void)
{
	attention_tracker *t = malloc(sizeof(*t));
	if (!t)
		return NULL;
	tracker_init(t);
	t->ref = baseline_new();
	if (!t->ref) {
		free(t);
		return NULL;
	}
	return t;
}

void attention_free(attention_tracker *t)
{
	if (!t)
		return;
	baseline_free(t->ref);
	free(t);
}

attention_state attention_current(const attention_tracker *t) { return t->state; }

static double weight_of(const attention_tracker *t, int64_t wall_ms)
{
	if (t->prev_ms == NEVER || wall_ms <= t->prev_ms)
		return 0.0;
	double s = (double)(wall_ms - t->prev_ms) / 1000.0;
	return s < WEIGHT_MAX_S ? s : WEIGHT_MAX_S;
}

static unsigned popcount16(uint32_t v)
{
	unsigned n = 0;
	for (v &= LOSS_MASK; v; v &= v - 1)
		n++;
	return n;
}

/* The slow judgement of one answer against the baseline, and what the
 * baseline learns from it.  *normal: within the host's range (under half
 * the slow factor, or under its 99th percentile): only such answers are
 * learned, so that a creeping slowdown is not, and they are what leaving
 * the needs-attention state takes.  Answers above it are held. */
static bool judge_answer(attention_tracker *t, const attention_params *p, int64_t wall_ms,
                         double x, double weight_s, bool *normal)
{
	double held_fade_s = HELD_FADE_ACCEPTS * p->accept_after_s;
	baseline_ref ref = baseline_reference(t->ref, wall_ms);
	*normal = true;
	if (!ref.ready) {
		baseline_learn(t->ref, wall_ms, x, weight_s);
		return false;
	}
	double factor = p->phi_threshold * M_LN10;
	double bad = ref.median + log10(factor > 1.0 ? factor : 1.0);
	double high = ref.high + BASELINE_BIN;
	double limit = bad > high ? bad : high;
	double margin = log10(pow(10.0, ref.median) + p->slow_margin_s * 1e6); /* in log10(us) */
	if (margin > limit)
		limit = margin;
	bool slow = x > limit;
	double back = ref.median + (bad - ref.median) / 2.0;
	*normal = x <= (back > ref.high ? back : ref.high);
	if (!*normal)
		baseline_hold(t->ref, wall_ms, x, weight_s, held_fade_s);
	else if (!t->slow_episode)
		baseline_learn(t->ref, wall_ms, x, weight_s);
	return slow;
}

bool attention_update(attention_tracker *t, const attention_params *p, const attention_input *in)
{
	double weight_s = weight_of(t, in->wall_ms);
	t->prev_ms = in->wall_ms;
	bool was_dead = t->state == ATTENTION_DEAD;

	if (in->lost) {
		if (t->lost_in_a_row == 0)
			t->silent_since_ms = in->wall_ms;
		if (t->lost_in_a_row < UINT32_MAX)
			t->lost_in_a_row++;
	} else {
		t->lost_in_a_row = 0;
		if (was_dead) {
			/* back from the dead: its silence is not loss */
			t->loss_bits = 0;
			t->loss_filled = 0;
		}
	}
	unsigned probes = in->burst > 1 ? in->burst : 1;
	unsigned lost_probes = in->burst > 1 ? in->burst_lost : in->lost;
	for (unsigned k = 0; k < probes && k < ATTENTION_LOSS_WINDOW; k++) {
		t->loss_bits = ((t->loss_bits << 1) | (k < lost_probes ? 1u : 0u)) & LOSS_MASK;
		if (t->loss_filled < ATTENTION_LOSS_WINDOW)
			t->loss_filled++;
	}

	bool slow = false, normal = false;
	if (!in->lost) {
		double us = (double)in->rtt_ns / 1000.0;
		double x = log10(us > 1.0 ? us : 1.0);
		slow = judge_answer(t, p, in->wall_ms, x, weight_s, &normal);
		bool unexpected = !isnan(in->anomaly) && in->anomaly > p->anomaly_threshold;
		if (slow) {
			if (t->slow_run == 0)
				t->slow_since_ms = in->wall_ms;
			if (t->slow_run < UINT32_MAX)
				t->slow_run++;
			t->htm_agreed = t->htm_agreed || unexpected;
		} else {
			t->slow_run = 0;
			t->htm_agreed = false;
		}
	}

	unsigned need = p->confirm ? p->confirm : 1;
	if (t->htm_agreed && need > 1 && t->slow_run > 0 &&
	    (double)(in->wall_ms - t->slow_since_ms) / 1000.0 + weight_s >= ATTENTION_HTM_SPAN_S)
		need--;
	if (!t->slow_episode && t->slow_run >= need) {
		t->slow_episode = true;
		t->normal_run = 0;
	} else if (t->slow_episode && !in->lost) {
		t->normal_run = normal ? t->normal_run + 1 : 0;
		if (t->normal_run >= (p->confirm ? p->confirm : 1))
			t->slow_episode = false;
	}
	if (!in->lost && !normal &&
	    baseline_held_seconds(t->ref, in->wall_ms, HELD_FADE_ACCEPTS * p->accept_after_s) >= p->accept_after_s) {
		/* out of its range for long enough in all: the host's new normal */
		baseline_accept(t->ref, in->wall_ms, HELD_FADE_ACCEPTS * p->accept_after_s);
		t->slow_episode = false;
		t->slow_run = 0;
		t->htm_agreed = false;
	}

	/* Loss with answers in between: a lone run of losses is the host
	 * going silent, which is DEAD's to judge. */
	unsigned lost = popcount16(t->loss_bits);
	uint64_t silent_bits = (uint64_t)t->lost_in_a_row * probes; /* of the run of whole outcomes lost */
	if (!t->loss_episode && lost >= ATTENTION_LOSS_ENTER && lost > silent_bits)
		t->loss_episode = true;
	else if (t->loss_episode && lost <= ATTENTION_LOSS_LEAVE)
		t->loss_episode = false;

	bool dead = t->lost_in_a_row >= ATTENTION_DEAD_MIN_PROBES &&
	            (double)(in->wall_ms - t->silent_since_ms) / 1000.0 + weight_s >= p->dead_after_s;
	bool unexpected = !isnan(in->anomaly) && in->anomaly > p->anomaly_threshold;
	attention_state next;
	if (dead)
		next = ATTENTION_DEAD;
	else if (t->slow_episode || t->loss_episode)
		next = ATTENTION_NEEDS_ATTENTION;
	else if (slow || in->lost || unexpected || in->phi > p->phi_threshold)
		next = ATTENTION_PENDING;
	else
		next = ATTENTION_HEALTHY;
	bool changed = !t->started || next != t->state;
	t->started = true;
	t->state = next;
	return changed;
}

const char *attention_state_name(attention_state s)
{
	switch (s) {
	case ATTENTION_HEALTHY: return "HEALTHY";
	case ATTENTION_PENDING: return "PENDING";
	case ATTENTION_NEEDS_ATTENTION: return "NEEDS_ATTENTION";
	case ATTENTION_DEAD: return "DEAD";
	}
	return "UNKNOWN";
}

/* --- saved state ------------------------------------------------------------ */

#define STATE_VERSION 1
/* version, state, flags (started, slow, loss, htm agreed), prev (8),
 * silent since (8), lost in a row (4), loss bits (4), filled (4), slow run
 * (4), normal run (4), slow since (8); then the baseline */
#define HEADER_BYTES 47

size_t attention_state_size(const attention_tracker *t) { return HEADER_BYTES + baseline_state_size(t->ref); }

/* The header, both ways (detector/bytes.h). */
static void code_header(bytes_cursor *c, attention_tracker *t)
{
	uint8_t version = STATE_VERSION, state = (uint8_t)t->state;
	uint8_t flags = (uint8_t)((t->started ? 1 : 0) | (t->slow_episode ? 2 : 0) | (t->loss_episode ? 4 : 0) |
	                          (t->htm_agreed ? 8 : 0));
	bytes_u8(c, &version);
	bytes_u8(c, &state);
	bytes_u8(c, &flags);
	bytes_i64(c, &t->prev_ms);
	bytes_i64(c, &t->silent_since_ms);
	bytes_u32(c, &t->lost_in_a_row);
	bytes_u32(c, &t->loss_bits);
	bytes_u32(c, &t->loss_filled);
	bytes_u32(c, &t->slow_run);
	bytes_u32(c, &t->normal_run);
	bytes_i64(c, &t->slow_since_ms);
	if (version != STATE_VERSION || state > ATTENTION_DEAD || flags > 15 || t->loss_bits > LOSS_MASK ||
	    t->loss_filled > ATTENTION_LOSS_WINDOW)
		bytes_fail(c);
	t->state = (attention_state)state;
	t->started = flags & 1;
	t->slow_episode = (flags & 2) != 0;
	t->loss_episode = (flags & 4) != 0;
	t->htm_agreed = (flags & 8) != 0;
}

void attention_save(const attention_tracker *t, uint8_t *buf)
{
	attention_tracker copy = *t; /* encoding reads through the pointers only */
	bytes_cursor c = bytes_encoder(buf, HEADER_BYTES);
	code_header(&c, &copy);
	baseline_save(t->ref, buf + HEADER_BYTES);
}

attention_tracker *attention_load(const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	attention_tracker *t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	bytes_cursor c = bytes_decoder(buf, len < HEADER_BYTES ? len : HEADER_BYTES);
	code_header(&c, t);
	if (c.bad || c.pos != HEADER_BYTES) {
		free(t);
		snprintf(err, errlen, "malformed attention state");
		return NULL;
	}
	if (!(t->ref = baseline_load(buf + HEADER_BYTES, len - HEADER_BYTES, err, errlen))) {
		free(t);
		return NULL;
	}
	return t;
}
