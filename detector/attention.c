/* attention.c - the decision layer; see attention.h. */
#include "detector/attention.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detector/baseline.h"
#include "detector/bytes.h"
#include "detector/recur.h"

#define NEVER INT64_MIN
/* A probe weighs the time since the previous one, at most this much (a
 * gap in probing is not time the host was seen). */
#define WEIGHT_MAX_S 600.0
#define LOSS_ENTER_MASK ((UINT64_C(1) << ATTENTION_LOSS_WINDOW) - 1u)
/* Held responses fade over this many acceptance times; what an excursion
 * held is forgotten when it ends, so only an excursion that lasts is ever
 * committed to the baseline. */
#define HELD_FADE_ACCEPTS 8.0
/* An adopted excursion becomes the baseline once it has lasted this many
 * acceptance times (12 h by default): a change, not a stretch that ends. */
#define COMMIT_ACCEPTS 24.0
/* Warm-up: the first YOUTH_ANSWERS answers are provisional.  The level of
 * the answers before the baseline was ready is compared with the median of
 * the newest YOUTH_RING; when the host has since become faster by
 * YOUTH_FASTER (log10: 2x), its start was a slow stretch, not its normal. */
#define YOUTH_ANSWERS 600
#define YOUTH_RING 32
#define YOUTH_FASTER 0.30103
/* An alarm is adopted once its level has held still, within STEADY_BAND
 * (log10: 26%), for the acceptance time; the level of late is an average
 * over a tenth of it.  A creep moves out of the band every few minutes and
 * is never adopted while it creeps. */
#define STEADY_BAND 0.1
#define STEADY_AVERAGE 0.1
/* An excursion back in range ends after this many probe intervals in
 * range, and this long at least. */
#define QUIET_INTERVALS 10.0
#define QUIET_MIN_S 30.0
/* The probe interval as the recurrence memory needs it: an average of the
 * gaps between outcomes, this much weight to the newest. */
#define INTERVAL_GAIN 0.05

typedef struct {
	float x, weight_s;
	int64_t wall_ms;
} young_answer;

/* A stretch of answers out of the host's range, from its first slow one
 * until `confirm` normal answers in a row. */
typedef struct {
	bool on;
	bool confirmed;   /* it reached the slow answers in a row that count */
	bool alarm;       /* it needs attention */
	bool settled;     /* its level is accepted for now: expected, or adopted */
	bool adopted;     /* proved OK by lasting accept_after_s as an alarm */
	bool quiet;       /* back in range, not yet for long enough to end */
	bool rearm;       /* its alarm ended in a quiet: a new one takes `need` slow answers */
	bool surprised;   /* the HTM model found one of its slow answers unexpected */
	bool modelled;    /* the HTM model has scored its slow answers (it runs) */
	uint8_t kind;     /* recur_kind of its latest verdict */
	int64_t start_ms, last_ms, alarm_ms, adopted_ms;
	double sum;       /* log10 us of its slow answers */
	uint32_t count;
	double settled_level; /* the level its answers may reach unremarked */
	uint32_t beyond_run;  /* answers in a row above that */
	float period_s, usual_s, family_level; /* the verdict's family */
	double recent;        /* its answers' level of late (log10 us, averaged) */
	double band;          /* the level it has held since band_ms, within STEADY_BAND */
	int64_t band_ms;
} excursion;

struct attention_tracker {
	attention_state state;
	bool started;
	bool loss_episode;   /* needs attention for loss */
	bool htm_agreed;     /* the HTM model found a probe of the slow run unexpected */
	int64_t prev_ms;     /* the previous outcome's time */
	int64_t silent_since_ms; /* the first lost probe of the current run */
	uint32_t lost_in_a_row;
	uint64_t loss_bits;  /* 1 = lost, newest in bit 0 */
	uint32_t loss_filled;
	uint32_t slow_run;   /* slow answers in a row (lost probes do not count) */
	int64_t slow_since_ms; /* the first of them */
	uint32_t normal_run; /* normal answers in a row in an excursion */
	double interval_s;   /* the probe interval, averaged */
	excursion exc;
	/* warm-up */
	uint32_t answers;    /* answers so far, up to YOUTH_ANSWERS */
	double early_sum;    /* log10 us of the answers before the baseline was ready */
	uint32_t early_n;
	int64_t first_ms;
	young_answer *young; /* YOUTH_RING of them while young and ready, else NULL */
	uint8_t young_n, young_head;
	recur_memory *memory; /* NULL until the first excursion ends: most hosts have none */
	char reason[ATTENTION_REASON_MAX];
	float why_ratio;     /* the slow level over the median when the reason was said */
	float last_ratio;    /* the newest answer over the median (0: none) */
	baseline *ref;
};

attention_params attention_params_default(void)
{
	attention_params p = { 1.0, 0.4, 3, ATTENTION_ACCEPT_AFTER_S, ATTENTION_DEAD_AFTER_S, ATTENTION_SLOW_MARGIN_S, false, false };
	return p;
}

static void tracker_init(attention_tracker *t)
{
	baseline *ref = t->ref;
	memset(t, 0, sizeof(*t));
	t->ref = ref;
	t->state = ATTENTION_HEALTHY;
	t->prev_ms = NEVER;
	t->silent_since_ms = NEVER;
	t->slow_since_ms = NEVER;
	t->first_ms = NEVER;
}

/* The memory of what recurs, made at the first excursion to remember. */
static void remember(attention_tracker *t, int64_t start_ms, double dur_s, double level)
{
	if (!t->memory && (t->memory = malloc(sizeof(*t->memory))))
		recur_init(t->memory);
	if (t->memory) /* else memory short: this one is forgotten */
		recur_add(t->memory, start_ms, dur_s, level);
}

attention_tracker *attention_new(void)
{
	attention_tracker *t = calloc(1, sizeof(*t));
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
	free(t->memory);
	free(t->young);
	free(t);
}

attention_state attention_current(const attention_tracker *t) { return t->state; }

const char *attention_reason(const attention_tracker *t)
{
	return t->state == ATTENTION_NEEDS_ATTENTION || t->state == ATTENTION_DEAD ? t->reason : "";
}

static unsigned popcount64(uint64_t v)
{
	unsigned n = 0;
	for (; v; v &= v - 1)
		n++;
	return n;
}

attention_why attention_explain(const attention_tracker *t)
{
	attention_why w = { ATTENTION_CAUSE_NONE, 0.0, popcount64(t->loss_bits),
	                    t->loss_filled < ATTENTION_LOSS_HOLD_WINDOW ? t->loss_filled : ATTENTION_LOSS_HOLD_WINDOW };
	if (t->state == ATTENTION_DEAD) {
		w.cause = ATTENTION_CAUSE_DEAD;
	} else if (t->state == ATTENTION_NEEDS_ATTENTION && t->exc.alarm) {
		switch ((recur_kind)t->exc.kind) {
		case RECUR_LONGER: w.cause = ATTENTION_CAUSE_LONGER; break;
		case RECUR_OFF_RHYTHM: w.cause = ATTENTION_CAUSE_OFF_RHYTHM; break;
		case RECUR_HIGHER: w.cause = ATTENTION_CAUSE_HIGHER; break;
		default: w.cause = ATTENTION_CAUSE_SLOW; break;
		}
		w.times_baseline = t->why_ratio;
	} else if (t->state == ATTENTION_NEEDS_ATTENTION) {
		w.cause = ATTENTION_CAUSE_LOSSY;
	}
	return w;
}

void attention_evidence(const attention_tracker *t, double *ratio, double *loss)
{
	unsigned window = t->loss_filled < ATTENTION_LOSS_HOLD_WINDOW ? t->loss_filled : ATTENTION_LOSS_HOLD_WINDOW;
	*ratio = t->last_ratio;
	*loss = window ? (double)popcount64(t->loss_bits) / window : 0.0;
}

const char *attention_cause_name(attention_cause c)
{
	switch (c) {
	case ATTENTION_CAUSE_NONE: return "";
	case ATTENTION_CAUSE_SLOW: return "slow";
	case ATTENTION_CAUSE_LONGER: return "longer";
	case ATTENTION_CAUSE_OFF_RHYTHM: return "off_rhythm";
	case ATTENTION_CAUSE_HIGHER: return "higher";
	case ATTENTION_CAUSE_LOSSY: return "lossy";
	case ATTENTION_CAUSE_DEAD: return "dead";
	}
	return "";
}

static double weight_of(const attention_tracker *t, int64_t wall_ms)
{
	if (t->prev_ms == NEVER || wall_ms <= t->prev_ms)
		return 0.0;
	double s = (double)(wall_ms - t->prev_ms) / 1000.0;
	return s < WEIGHT_MAX_S ? s : WEIGHT_MAX_S;
}

/* The levels that decide an answer, in log10(us), against the reference. */
typedef struct {
	bool ready;
	double median;
	double slow;     /* above: slow */
	double normal;   /* at or below: normal (what leaving an excursion takes) */
} limits;

static limits limits_of(const attention_tracker *t, const attention_params *p, int64_t wall_ms)
{
	baseline_ref ref = baseline_reference(t->ref, wall_ms);
	limits l = { ref.ready, ref.median, 0.0, 0.0 };
	if (!ref.ready)
		return l;
	double factor = p->phi_threshold * M_LN10;
	double bad = ref.median + log10(factor > 1.0 ? factor : 1.0);
	double high = ref.high + BASELINE_BIN;
	l.slow = bad > high ? bad : high;
	double margin = log10(pow(10.0, ref.median) + p->slow_margin_s * 1e6);
	if (margin > l.slow)
		l.slow = margin;
	double back = ref.median + (bad - ref.median) / 2.0;
	l.normal = back > ref.high ? back : ref.high;
	return l;
}

/* --- reasons ----------------------------------------------------------------- */

static void put_duration(char *buf, size_t n, double s)
{
	if (s < 120.0)
		snprintf(buf, n, "%.0f s", s);
	else if (s < 7200.0)
		snprintf(buf, n, "%.1f min", s / 60.0);
	else if (s < 2 * 86400.0)
		snprintf(buf, n, "%.1f h", s / 3600.0);
	else
		snprintf(buf, n, "%.1f days", s / 86400.0);
}

/* Why the host needs attention or is dead, in words; commas never appear,
 * so the reason is one CSV field as it is. */
static void say_why(attention_tracker *t, const attention_params *p, int64_t wall_ms, double median)
{
	char *r = t->reason;
	size_t n = sizeof(t->reason), at = 0;
	r[0] = '\0';
	if (t->state == ATTENTION_DEAD) {
		char d[32];
		put_duration(d, sizeof(d), (double)(wall_ms - t->silent_since_ms) / 1000.0 + t->interval_s);
		snprintf(r, n, "dead: no answer for %s", d);
		return;
	}
	(void)p;
	const excursion *e = &t->exc;
	if (e->alarm && e->count) {
		double ratio = pow(10.0, e->sum / e->count - median);
		t->why_ratio = (float)ratio;
		char a[32], b[32];
		put_duration(a, sizeof(a), (double)(wall_ms - e->start_ms) / 1000.0);
		switch ((recur_kind)e->kind) {
		case RECUR_LONGER:
			put_duration(b, sizeof(b), e->usual_s);
			at = (size_t)snprintf(r, n, "slow %.1fx baseline for %s: longer than its usual %s", ratio, a, b);
			break;
		case RECUR_OFF_RHYTHM:
			put_duration(b, sizeof(b), e->period_s);
			at = (size_t)snprintf(r, n, "slow %.1fx baseline: out of its rhythm of every %s", ratio, b);
			break;
		case RECUR_HIGHER:
			at = (size_t)snprintf(r, n, "slow %.1fx baseline: higher than its usual %.1fx", ratio,
			                      pow(10.0, e->family_level - median));
			break;
		default:
			at = (size_t)snprintf(r, n, "slow %.1fx baseline for %s", ratio, a);
			break;
		}
	}
	if (t->loss_episode && at < n) {
		unsigned window = t->loss_filled < ATTENTION_LOSS_HOLD_WINDOW ? t->loss_filled : ATTENTION_LOSS_HOLD_WINDOW;
		snprintf(r + at, n - at, "%slossy: %u of the last %u probes lost", at ? "; " : "",
		         popcount64(t->loss_bits), window);
	}
}

/* --- excursions ----------------------------------------------------------------- */

static void excursion_reset(attention_tracker *t)
{
	memset(&t->exc, 0, sizeof(t->exc));
	t->normal_run = 0;
}

static double excursion_level(const excursion *e) { return e->count ? e->sum / e->count : 0.0; }

/* The excursion ended by itself: remembered, and what it held forgotten. */
static void excursion_end(attention_tracker *t)
{
	excursion *e = &t->exc;
	if (e->confirmed)
		remember(t, e->start_ms, (double)(e->last_ms - e->start_ms) / 1000.0 + t->interval_s, excursion_level(e));
	baseline_forget_held(t->ref);
	excursion_reset(t);
}

static void excursion_alarm(excursion *e, int64_t wall_ms)
{
	e->alarm = true;
	e->settled = e->adopted = false;
	if (e->alarm_ms == 0) /* proved OK counts from its first alarm */
		e->alarm_ms = wall_ms;
	e->beyond_run = 0;
}

/* One answer in (or starting) an excursion.  slow, normal: the answer's
 * judgement; need: slow answers in a row that confirm one. */
static void excursion_step(attention_tracker *t, const attention_params *p, int64_t wall_ms, double x, bool slow,
                           bool normal, unsigned need, const limits *l, double anomaly, double weight_s)
{
	excursion *e = &t->exc;
	if (e->on && e->quiet && slow) {
		e->quiet = false; /* it goes on */
		e->beyond_run = 0;
	}
	if (!e->on) {
		if (!slow)
			return;
		excursion_reset(t);
		e->on = true;
		e->start_ms = wall_ms;
	}
	if (slow) {
		e->sum += x;
		e->count++;
		if (!isnan(anomaly)) {
			e->modelled = true;
			e->surprised = e->surprised || anomaly > p->anomaly_threshold;
		}
	}
	if (!normal) {
		e->last_ms = wall_ms;
		t->normal_run = 0;
		double k = weight_s / (STEADY_AVERAGE * p->accept_after_s);
		e->recent = e->band_ms == 0 ? x : e->recent + (k < 1.0 ? k : 1.0) * (x - e->recent);
		if (e->band_ms == 0 || fabs(e->recent - e->band) > STEADY_BAND) {
			e->band = e->recent;
			e->band_ms = wall_ms;
		}
	} else if (++t->normal_run >= (p->confirm ? p->confirm : 1)) {
		/* Back in range: the alarm ends, the excursion only once it
		 * has stayed so for QUIET_INTERVALS (and QUIET_MIN_S), so that
		 * a stretch that wavers about the slow line is one, not many. */
		e->rearm = e->rearm || e->alarm;
		e->alarm = false;
		e->quiet = true;
		double quiet_s = QUIET_INTERVALS * t->interval_s > QUIET_MIN_S ? QUIET_INTERVALS * t->interval_s : QUIET_MIN_S;
		if ((double)(wall_ms - e->last_ms) / 1000.0 >= quiet_s || !e->confirmed)
			excursion_end(t);
		return;
	}
	if (e->quiet)
		return; /* an answer between normal and slow in a quiet excursion */
	if (!e->confirmed) {
		if (t->slow_run < need)
			return;
		e->confirmed = true;
	}
	if (e->rearm) {
		/* its alarm ended when it came back in range: a new one takes
		 * as many slow answers as the first */
		if (t->slow_run < need)
			return;
		e->rearm = false;
	}
	double level = excursion_level(e);
	if (e->settled) {
		/* as far above its accepted level as slow is above the baseline */
		if (x > e->settled_level + (l->slow - l->median)) {
			if (++e->beyond_run >= need) {
				excursion_alarm(e, wall_ms);
				e->alarm_ms = wall_ms; /* a new level: proved anew */
				e->kind = RECUR_HIGHER;
				e->family_level = (float)e->settled_level;
				e->sum = x * e->count; /* its level from here on */
			}
		} else {
			e->beyond_run = 0;
		}
	}
	if (!e->alarm && !e->adopted) {
		recur_memory none;
		if (!t->memory)
			recur_init(&none);
		recur_verdict v = recur_judge(t->memory ? t->memory : &none, e->start_ms, (double)(wall_ms - e->start_ms) / 1000.0, level,
		                              t->interval_s, p->accept_after_s);
		e->kind = (uint8_t)v.kind;
		e->period_s = (float)v.period_s;
		e->usual_s = (float)v.usual_s;
		e->family_level = (float)v.level;
		/* The HTM model as a memory of its own: a slowdown none of whose
		 * answers surprised it is one it has learned (attention.h). */
		if (p->no_recurrence)
			v.expected = false;
		if (p->htm_familiar && !v.expected && e->modelled && !e->surprised)
			v = (recur_verdict){ RECUR_MODE, true, 0.0, 0.0, level, 0 };
		if (v.expected) {
			e->settled = true;
			e->settled_level = v.level > level ? v.level : level;
		} else {
			excursion_alarm(e, wall_ms);
		}
	}
	int64_t steady_since = e->alarm_ms > e->band_ms ? e->alarm_ms : e->band_ms;
	if (e->alarm && (double)(wall_ms - steady_since) / 1000.0 >= p->accept_after_s) {
		/* an alarm this long at one level: proved OK, for now */
		e->alarm = false;
		e->adopted = e->settled = true;
		e->settled_level = level;
		e->adopted_ms = wall_ms;
		e->beyond_run = 0;
	}
	if (e->adopted && (double)(wall_ms - e->adopted_ms) / 1000.0 >= COMMIT_ACCEPTS * p->accept_after_s) {
		/* a change, not a stretch: the host's normal from now on */
		baseline_accept(t->ref, wall_ms, HELD_FADE_ACCEPTS * p->accept_after_s);
		excursion_reset(t);
		t->slow_run = 0;
		t->htm_agreed = false;
	}
}

/* --- warm-up ------------------------------------------------------------------ */

/* While young: a host that answered slowly before its baseline was ready
 * and has since been twice as fast had a slow start, not a slow normal: the
 * baseline starts again from its newest answers, and the start is
 * remembered as an excursion (so its level, when it comes back, is a
 * slowdown seen once, not the host's normal). */
static void youth_step(attention_tracker *t, int64_t wall_ms, double x, double weight_s, bool ready)
{
	if (t->answers >= YOUTH_ANSWERS)
		return;
	if (++t->answers == YOUTH_ANSWERS) { /* grown up */
		free(t->young);
		t->young = NULL;
		t->young_n = t->young_head = 0;
		return;
	}
	if (t->first_ms == NEVER)
		t->first_ms = wall_ms;
	if (!ready) {
		t->early_sum += x;
		t->early_n++;
		return;
	}
	if (!t->young && !(t->young = calloc(YOUTH_RING, sizeof(*t->young))))
		return; /* memory short: no second look at the start */
	t->young[(t->young_head + t->young_n) % YOUTH_RING] = (young_answer){ (float)x, (float)weight_s, wall_ms };
	if (t->young_n < YOUTH_RING)
		t->young_n++;
	else
		t->young_head = (uint8_t)((t->young_head + 1) % YOUTH_RING);
	if (t->young_n < YOUTH_RING || t->early_n < BASELINE_READY_PROBES || t->exc.confirmed)
		return;
	/* the newest answers' median is below the line when most of them are */
	double early = t->early_sum / t->early_n;
	unsigned faster = 0;
	for (unsigned i = 0; i < YOUTH_RING; i++)
		faster += t->young[i].x < early - YOUTH_FASTER;
	if (faster <= YOUTH_RING / 2)
		return;
	baseline *fresh = baseline_new();
	if (!fresh)
		return; /* memory short: the slow start stays learned */
	const young_answer *oldest = &t->young[t->young_head];
	remember(t, t->first_ms, (double)(oldest->wall_ms - t->first_ms) / 1000.0, early);
	for (unsigned i = 0; i < YOUTH_RING; i++) {
		const young_answer *a = &t->young[(t->young_head + i) % YOUTH_RING];
		if (a->x < early - YOUTH_FASTER) /* the fast ones: the host as it is now */
			baseline_learn(fresh, a->wall_ms, a->x, a->weight_s);
	}
	baseline_free(t->ref);
	t->ref = fresh;
	/* what the fresh baseline learns until it is ready is the new early level */
	t->early_sum = 0.0;
	t->early_n = 0;
	t->young_n = t->young_head = 0;
	excursion_reset(t);
}

bool attention_update(attention_tracker *t, const attention_params *p, const attention_input *in)
{
	double weight_s = weight_of(t, in->wall_ms);
	if (weight_s > 0.0)
		t->interval_s = t->interval_s > 0.0 ? t->interval_s + INTERVAL_GAIN * (weight_s - t->interval_s) : weight_s;
	t->prev_ms = in->wall_ms;
	bool was_dead = t->state == ATTENTION_DEAD;

	unsigned probes = in->burst > 1 ? in->burst : 1;
	if (in->lost) {
		t->last_ratio = 0.0f;
		if (t->lost_in_a_row == 0)
			t->silent_since_ms = in->wall_ms;
		if (t->lost_in_a_row < UINT32_MAX)
			t->lost_in_a_row++;
	} else {
		if (was_dead) {
			/* back from the dead: its silence is not loss (the loss
			 * before it still is) */
			uint64_t silent = (uint64_t)t->lost_in_a_row * probes;
			t->loss_bits &= silent >= 64 ? 0 : ~((UINT64_C(1) << silent) - 1);
		}
		t->lost_in_a_row = 0;
	}
	unsigned lost_probes = in->burst > 1 ? in->burst_lost : in->lost;
	for (unsigned k = 0; k < probes && k < ATTENTION_LOSS_HOLD_WINDOW; k++) {
		t->loss_bits = (t->loss_bits << 1) | (k < lost_probes ? 1u : 0u);
		if (t->loss_filled < ATTENTION_LOSS_HOLD_WINDOW)
			t->loss_filled++;
	}

	bool slow = false;
	limits l = { false, 0.0, 0.0, 0.0 };
	bool unexpected = !isnan(in->anomaly) && in->anomaly > p->anomaly_threshold;
	if (!in->lost) {
		double us = (double)in->rtt_ns / 1000.0;
		double x = log10(us > 1.0 ? us : 1.0);
		l = limits_of(t, p, in->wall_ms);
		bool normal = true;
		t->last_ratio = l.ready ? (float)pow(10.0, x - l.median) : 0.0f;
		if (l.ready) {
			slow = x > l.slow;
			normal = x <= l.normal;
		}
		/* Only answers in the host's range are learned, and none while an
		 * excursion is confirmed (so that a creep is not); the others are
		 * held, for the day an adopted change is committed. */
		double held_fade_s = HELD_FADE_ACCEPTS * p->accept_after_s;
		if (!l.ready || (normal && !t->exc.confirmed))
			baseline_learn(t->ref, in->wall_ms, x, weight_s);
		else if (!normal)
			baseline_hold(t->ref, in->wall_ms, x, weight_s, held_fade_s);
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
		unsigned need = p->confirm ? p->confirm : 1;
		if (t->htm_agreed && need > 1 && t->slow_run > 0 &&
		    (double)(in->wall_ms - t->slow_since_ms) / 1000.0 + weight_s >= ATTENTION_HTM_SPAN_S)
			need--;
		excursion_step(t, p, in->wall_ms, x, slow, normal, need, &l, in->anomaly, weight_s);
		youth_step(t, in->wall_ms, x, weight_s, l.ready);
		/* an answer within the level of an expected or adopted
		 * excursion is no sign of anything */
		if (slow && t->exc.settled && x <= t->exc.settled_level + (l.slow - l.median))
			slow = false;
	}

	/* Loss with answers in between (a lone run of losses is the host going
	 * silent, which is DEAD's to judge): 4 of the last 16 begin an episode,
	 * which lasts until at most 1 of the last 64 is lost. */
	unsigned lost_recently = popcount64(t->loss_bits & LOSS_ENTER_MASK);
	uint64_t silent_bits = (uint64_t)t->lost_in_a_row * probes; /* of the run of whole outcomes lost */
	if (!t->loss_episode && lost_recently >= ATTENTION_LOSS_ENTER && lost_recently > silent_bits)
		t->loss_episode = true;
	else if (t->loss_episode && popcount64(t->loss_bits) <= ATTENTION_LOSS_LEAVE)
		t->loss_episode = false;

	/* In an episode of loss, a run of losses is loss until it is longer
	 * than the loss window: at a loss of 50%, 16 in a row happen once in
	 * 65,000 runs. */
	uint32_t dead_probes = t->loss_episode ? ATTENTION_LOSS_WINDOW : ATTENTION_DEAD_MIN_PROBES;
	bool dead = t->lost_in_a_row >= dead_probes &&
	            (double)(in->wall_ms - t->silent_since_ms) / 1000.0 + weight_s >= p->dead_after_s;
	attention_state next;
	if (dead)
		next = ATTENTION_DEAD;
	else if (t->exc.alarm || t->loss_episode)
		next = ATTENTION_NEEDS_ATTENTION;
	else if (slow || in->lost || unexpected || in->phi > p->phi_threshold)
		next = ATTENTION_PENDING;
	else
		next = ATTENTION_HEALTHY;
	/* an alarm belongs to a confirmed excursion; a settled one has none */
	assert(!t->exc.alarm || (t->exc.on && t->exc.confirmed));
	assert(!(t->exc.alarm && t->exc.settled));
	assert(t->loss_filled <= ATTENTION_LOSS_HOLD_WINDOW && t->young_n <= YOUTH_RING);
	bool changed = !t->started || next != t->state;
	t->started = true;
	t->state = next;
	if (next == ATTENTION_NEEDS_ATTENTION || next == ATTENTION_DEAD) {
		if (!l.ready)
			l = limits_of(t, p, in->wall_ms);
		say_why(t, p, in->wall_ms, l.median);
	}
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

/*
 * Version 2: the header (version, state, flags, the previous outcome's time,
 * the silent run, the loss window of 64 bits, the slow and normal runs), the
 * probe interval, the excursion, the warm-up, the recurrence memory and the
 * reason; then the baseline.  Version 1 (a 16-probe loss window, no
 * excursion, memory or warm-up) still loads: its host is past its warm-up,
 * and an episode of slowness it was in goes on as an alarm.
 */
#define STATE_VERSION 2
#define V1_HEADER_BYTES 47

static void code_excursion(bytes_cursor *c, excursion *e)
{
	uint8_t flags = (uint8_t)((e->on ? 1 : 0) | (e->confirmed ? 2 : 0) | (e->alarm ? 4 : 0) | (e->settled ? 8 : 0) |
	                          (e->adopted ? 16 : 0) | (e->quiet ? 32 : 0) | (e->rearm ? 64 : 0) |
	                          (e->surprised ? 128 : 0));
	uint8_t more = e->modelled ? 1 : 0;
	bytes_u8(c, &flags);
	bytes_u8(c, &more);
	bytes_u8(c, &e->kind);
	bytes_i64(c, &e->start_ms);
	bytes_i64(c, &e->last_ms);
	bytes_i64(c, &e->alarm_ms);
	bytes_i64(c, &e->adopted_ms);
	bytes_f64(c, &e->sum);
	bytes_u32(c, &e->count);
	bytes_f64(c, &e->settled_level);
	bytes_u32(c, &e->beyond_run);
	bytes_f32(c, &e->period_s);
	bytes_f32(c, &e->usual_s);
	bytes_f32(c, &e->family_level);
	bytes_f64(c, &e->recent);
	bytes_f64(c, &e->band);
	bytes_i64(c, &e->band_ms);
	if (c->decoding && (!isfinite(e->recent) || !isfinite(e->band)))
		bytes_fail(c);
	if (c->decoding && (more > 1 || e->kind > RECUR_KIND_LAST || !isfinite(e->sum) || !isfinite(e->settled_level)))
		bytes_fail(c);
	e->on = flags & 1;
	e->confirmed = (flags & 2) != 0;
	e->alarm = (flags & 4) != 0;
	e->settled = (flags & 8) != 0;
	e->adopted = (flags & 16) != 0;
	e->quiet = (flags & 32) != 0;
	e->rearm = (flags & 64) != 0;
	e->surprised = (flags & 128) != 0;
	e->modelled = more & 1;
}

static void code_youth(bytes_cursor *c, attention_tracker *t)
{
	bytes_u32(c, &t->answers);
	bytes_f64(c, &t->early_sum);
	bytes_u32(c, &t->early_n);
	bytes_i64(c, &t->first_ms);
	bytes_u8(c, &t->young_n);
	bytes_u8(c, &t->young_head);
	if (c->decoding && (t->young_n > YOUTH_RING || t->young_head >= YOUTH_RING || !isfinite(t->early_sum)))
		bytes_fail(c);
	/* the ring only while it is in use */
	uint8_t ring = t->young != NULL;
	bytes_u8(c, &ring);
	if (c->decoding && ring && !c->bad && !(t->young = calloc(YOUTH_RING, sizeof(*t->young))))
		bytes_fail(c);
	for (unsigned i = 0; ring && t->young && i < YOUTH_RING; i++) {
		bytes_f32(c, &t->young[i].x);
		bytes_f32(c, &t->young[i].weight_s);
		bytes_i64(c, &t->young[i].wall_ms);
	}
}

/* Everything but the baseline, both ways; version 1 only decodes. */
static void code_tracker(bytes_cursor *c, attention_tracker *t, uint8_t version)
{
	uint8_t state = (uint8_t)t->state;
	uint8_t flags = (uint8_t)((t->started ? 1 : 0) | (t->exc.alarm ? 2 : 0) | (t->loss_episode ? 4 : 0) |
	                          (t->htm_agreed ? 8 : 0));
	bytes_u8(c, &version);
	bytes_u8(c, &state);
	bytes_u8(c, &flags);
	bytes_i64(c, &t->prev_ms);
	bytes_i64(c, &t->silent_since_ms);
	bytes_u32(c, &t->lost_in_a_row);
	if (version == 1) {
		uint32_t bits = 0;
		bytes_u32(c, &bits);
		t->loss_bits = bits & LOSS_ENTER_MASK;
	} else {
		bytes_u64(c, &t->loss_bits);
	}
	bytes_u32(c, &t->loss_filled);
	bytes_u32(c, &t->slow_run);
	bytes_u32(c, &t->normal_run);
	bytes_i64(c, &t->slow_since_ms);
	if (version == 2) {
		bytes_f64(c, &t->interval_s);
		code_excursion(c, &t->exc);
		code_youth(c, t);
		uint8_t remembers = t->memory != NULL;
		bytes_u8(c, &remembers);
		if (c->decoding && remembers && !c->bad && !(t->memory = calloc(1, sizeof(*t->memory))))
			bytes_fail(c);
		if (remembers && t->memory)
			recur_code(c, t->memory);
		bytes_u8s(c, (uint8_t *)t->reason, sizeof(t->reason));
		t->reason[sizeof(t->reason) - 1] = '\0';
		bytes_f32(c, &t->why_ratio);
		bytes_f32(c, &t->last_ratio);
		if (c->decoding && (!isfinite(t->interval_s) || t->interval_s < 0.0 || !isfinite(t->why_ratio) || !isfinite(t->last_ratio)))
			bytes_fail(c);
	}
	if (state > ATTENTION_DEAD || flags > 15 || t->loss_filled > ATTENTION_LOSS_HOLD_WINDOW)
		bytes_fail(c);
	t->state = (attention_state)state;
	t->started = flags & 1;
	t->loss_episode = (flags & 4) != 0;
	t->htm_agreed = (flags & 8) != 0;
	if (version == 1) {
		/* an episode of slowness goes on as an unexplained excursion */
		if (flags & 2) {
			t->exc.on = t->exc.confirmed = t->exc.alarm = true;
			t->exc.start_ms = t->exc.last_ms = t->exc.alarm_ms = t->slow_since_ms;
		}
		t->answers = YOUTH_ANSWERS;
		if (t->loss_filled > ATTENTION_LOSS_WINDOW)
			bytes_fail(c);
	}
}

static size_t tracker_bytes(const attention_tracker *t)
{
	bytes_cursor c = bytes_encoder(NULL, 0);
	code_tracker(&c, (attention_tracker *)t, STATE_VERSION); /* an encoder only reads */
	return c.pos;
}

size_t attention_state_size(const attention_tracker *t) { return tracker_bytes(t) + baseline_state_size(t->ref); }

void attention_save(const attention_tracker *t, uint8_t *buf)
{
	size_t head = tracker_bytes(t);
	bytes_cursor c = bytes_encoder(buf, head);
	code_tracker(&c, (attention_tracker *)t, STATE_VERSION);
	baseline_save(t->ref, buf + head);
}

attention_tracker *attention_load(const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	attention_tracker *t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	tracker_init(t);
	uint8_t version = len ? buf[0] : 0;
	/* the tracker's part is as long as what it holds; the baseline follows */
	bytes_cursor c = bytes_decoder(buf, len);
	if (version == 1 || version == STATE_VERSION)
		code_tracker(&c, t, version);
	if (c.bad || (version != 1 && version != STATE_VERSION) || (version == 1 && c.pos != V1_HEADER_BYTES)) {
		attention_free(t);
		snprintf(err, errlen, "malformed attention state (version %u)", version);
		return NULL;
	}
	if (!(t->ref = baseline_load(buf + c.pos, len - c.pos, err, errlen))) {
		attention_free(t);
		return NULL;
	}
	return t;
}
