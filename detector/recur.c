/* recur.c - what a host's slowdowns have done before; see recur.h. */
#include "detector/recur.h"

#include <assert.h>
#include <math.h>

#define DAY_S 86400.0
#define WEEK_S (7.0 * DAY_S)
/* A rhythm holds when this share of its family's gaps is a whole number of
 * periods (missed turns allowed), two gaps at least. */
#define RHYTHM_SHARE 0.6
#define RHYTHM_GAPS_MIN 2
/* More turns than this between two members is not a rhythm but chance. */
#define RHYTHM_TURNS_MAX 8
/* A mode's newest member is recent: within this many of its usual gaps. */
#define MODE_RECENT_GAPS 4.0

void recur_init(recur_memory *r)
{
	r->head = 0;
	r->n = 0;
}

static const recur_member *member_at(const recur_memory *r, unsigned i)
{
	return &r->m[(r->head + i) % RECUR_MEMBERS];
}

void recur_add(recur_memory *r, int64_t start_ms, double dur_s, double level)
{
	assert(r->n <= RECUR_MEMBERS && r->head < RECUR_MEMBERS);
	recur_member m = { start_ms, (float)dur_s, (float)level };
	if (r->n < RECUR_MEMBERS) {
		r->m[(r->head + r->n) % RECUR_MEMBERS] = m;
		r->n++;
	} else {
		r->m[r->head] = m;
		r->head = (uint8_t)((r->head + 1) % RECUR_MEMBERS);
	}
}

/* The family of an excursion at level: the members of that level, oldest
 * first, as start times in seconds and their longest duration and mean level. */
typedef struct {
	double start_s[RECUR_MEMBERS];
	unsigned n;
	double longest_s, level;
} family;

static void family_of(const recur_memory *r, double level, family *f)
{
	f->n = 0;
	f->longest_s = 0.0;
	double sum = 0.0;
	for (unsigned i = 0; i < r->n; i++) {
		const recur_member *m = member_at(r, i);
		if (fabs(m->level - level) > RECUR_LEVEL_TOL)
			continue;
		f->start_s[f->n++] = (double)m->start_ms / 1000.0;
		if (m->dur_s > f->longest_s)
			f->longest_s = m->dur_s;
		sum += m->level;
	}
	f->level = f->n ? sum / f->n : level;
}

/* How far a gap is from a whole number (1 to RHYTHM_TURNS_MAX) of periods;
 * INFINITY when it is no such number. */
static double off_turns(double gap_s, double period_s)
{
	double turns = floor(gap_s / period_s + 0.5);
	if (turns < 1.0 || turns > RHYTHM_TURNS_MAX)
		return INFINITY;
	return fabs(gap_s - turns * period_s);
}

static double phase_tolerance(double period_s, double interval_s)
{
	return RECUR_PHASE_TOL * period_s + 3.0 * interval_s;
}

static bool near(double a, double b, double tol) { return fabs(a - b) <= tol; }

/* The family's rhythm: the largest period, taken from its gaps, that puts
 * RHYTHM_SHARE of them a whole number of periods apart; refined to their
 * mean per turn so that a drifting period is followed.  0 when none.  A
 * period must be wider than its tolerance four times over, or any gaps
 * would fit it. */
static double rhythm_of(const family *f, double interval_s)
{
	if (f->n < 2)
		return 0.0;
	unsigned gaps = f->n - 1;
	double best = 0.0;
	/* the candidates: each gap, and the calendar's day and week */
	for (unsigned c = 0; c < gaps + 2; c++) {
		bool calendar = c >= gaps;
		double p = !calendar ? f->start_s[c + 1] - f->start_s[c] : c == gaps ? DAY_S : WEEK_S;
		double tol = phase_tolerance(p, interval_s);
		if (p <= best || p < 4.0 * tol)
			continue;
		unsigned fit = 0;
		double sum = 0.0, turns = 0.0;
		for (unsigned g = 0; g < gaps; g++) {
			double gap = f->start_s[g + 1] - f->start_s[g];
			if (off_turns(gap, p) <= tol) {
				fit++;
				sum += gap;
				turns += floor(gap / p + 0.5);
			}
		}
		/* two nights show a nightly peak */
		bool once_in_calendar = calendar && gaps == 1 && fit == 1 && turns == 1.0;
		if ((fit >= RHYTHM_GAPS_MIN || once_in_calendar) && fit >= RHYTHM_SHARE * gaps)
			best = calendar ? p : sum / turns;
	}
	/* The calendar's rhythms are exact: a peak that begins a little
	 * earlier one night and later the next is still nightly. */
	if (best > 0.0 && near(best, DAY_S, phase_tolerance(DAY_S, interval_s)))
		best = DAY_S;
	else if (best > 0.0 && near(best, WEEK_S, phase_tolerance(WEEK_S, interval_s)))
		best = WEEK_S;
	return best;
}

/* The median gap between a family's members. */
static double median_gap(const family *f)
{
	double g[RECUR_MEMBERS];
	unsigned n = 0;
	for (unsigned i = 1; i < f->n; i++) {
		double v = f->start_s[i] - f->start_s[i - 1];
		unsigned k = n++;
		while (k > 0 && g[k - 1] > v) { /* insertion: at most 63 */
			g[k] = g[k - 1];
			k--;
		}
		g[k] = v;
	}
	return n ? (n % 2 ? g[n / 2] : (g[n / 2 - 1] + g[n / 2]) / 2.0) : 0.0;
}

/* Whether a family at level would expect an excursion starting at start_s:
 * in its rhythm, or in its mode.  *period_s: its rhythm (0 if none). */
static recur_kind family_expects(const family *f, double start_s, double interval_s, double proved_s,
                                  double *period_s)
{
	*period_s = rhythm_of(f, interval_s);
	if (*period_s > 0.0) {
		/* the newest member in rhythm with the one before it: an
		 * incident out of rhythm does not move the rhythm's phase */
		double tol = phase_tolerance(*period_s, interval_s);
		double last = f->start_s[f->n - 1];
		for (unsigned i = f->n - 1; i > 0; i--)
			if (off_turns(f->start_s[i] - f->start_s[i - 1], *period_s) <= tol) {
				last = f->start_s[i];
				break;
			}
		return off_turns(start_s - last, *period_s) <= phase_tolerance(*period_s, interval_s) ? RECUR_RHYTHM
		                                                                                    : RECUR_OFF_RHYTHM;
	}
	if (f->n >= RECUR_MODE_MIN && start_s - f->start_s[f->n - 1] <= MODE_RECENT_GAPS * median_gap(f))
		return RECUR_MODE;
	if (f->longest_s >= proved_s)
		return RECUR_PROVED;
	return RECUR_NEW;
}

recur_verdict recur_judge(const recur_memory *r, int64_t start_ms, double dur_s, double level, double interval_s,
                          double proved_s)
{
	recur_verdict v = { RECUR_NEW, false, 0.0, 0.0, level, 0 };
	double start_s = (double)start_ms / 1000.0;
	family f;
	family_of(r, level, &f);
	v.members = f.n;
	if (f.n == 0) {
		/* higher than a family that would expect it now */
		for (unsigned i = 0; i < r->n; i++) {
			const recur_member *m = member_at(r, i);
			if (m->level < level - RECUR_LEVEL_TOL) {
				family below;
				double period;
				family_of(r, m->level, &below);
				recur_kind k = family_expects(&below, start_s, interval_s, proved_s, &period);
				if (k == RECUR_RHYTHM || k == RECUR_MODE || k == RECUR_PROVED) {
					v.kind = RECUR_HIGHER;
					v.period_s = period;
					v.usual_s = below.longest_s;
					v.level = below.level;
					v.members = below.n;
					break;
				}
			}
		}
		return v;
	}
	v.usual_s = f.longest_s;
	v.level = f.level;
	v.kind = family_expects(&f, start_s, interval_s, proved_s, &v.period_s);
	bool expected = v.kind == RECUR_RHYTHM || v.kind == RECUR_MODE || v.kind == RECUR_PROVED;
	if (expected && dur_s > RECUR_LONGER_BY * f.longest_s + 2.0 * interval_s)
		v.kind = RECUR_LONGER;
	v.expected = v.kind == RECUR_RHYTHM || v.kind == RECUR_MODE || v.kind == RECUR_PROVED;
	return v;
}

const char *recur_kind_name(recur_kind k)
{
	switch (k) {
	case RECUR_NEW: return "new";
	case RECUR_RHYTHM: return "rhythm";
	case RECUR_MODE: return "mode";
	case RECUR_OFF_RHYTHM: return "off-rhythm";
	case RECUR_LONGER: return "longer";
	case RECUR_HIGHER: return "higher";
	case RECUR_PROVED: return "proved";
	}
	return "?";
}

void recur_code(bytes_cursor *c, recur_memory *r)
{
	uint8_t n = r->n;
	bytes_u8(c, &n);
	if (c->decoding) {
		if (n > RECUR_MEMBERS)
			bytes_fail(c);
		r->head = 0;
		r->n = c->bad ? 0 : n;
	}
	for (unsigned i = 0; i < r->n; i++) {
		recur_member *m = &r->m[(r->head + i) % RECUR_MEMBERS];
		bytes_i64(c, &m->start_ms);
		bytes_f32(c, &m->dur_s);
		bytes_f32(c, &m->level);
		if (c->decoding && (!isfinite(m->dur_s) || m->dur_s < 0.0f || !isfinite(m->level) || m->level < 0.0f ||
		                    m->level > 10.0f))
			bytes_fail(c);
	}
}
