/*
 * recur.h - what a host's slowdowns have done before: the memory that lets
 * a slowdown that recurs become normal, and tells one that breaks its
 * pattern.
 *
 * The decision layer (attention.h) calls a stretch of slow answers that
 * comes and goes by itself an excursion, and records each one that ended:
 * when it began, how long it lasted, and its level (the mean log10 of its
 * slow answers' response times, in us).  An excursion in progress is then
 * judged against the ones of the same level (within RECUR_LEVEL_TOL, 41%),
 * its family:
 *
 *   - a rhythm: the family's starts are a whole number of periods apart (a
 *     job every 60.6 minutes, a batch every 7, a peak every night, a window
 *     every Monday; missed turns allowed), the period found from the gaps
 *     themselves, so it may drift off any round number.  It takes three
 *     members, or two when the period is a day or a week (two nights show a
 *     nightly peak, as two days of the same hour did before).  A member in
 *     rhythm is expected; one that starts out of it by more than 5% of the
 *     period (and three probe intervals) is not;
 *   - a mode: a family of four or more with no rhythm, the newest recent
 *     (within four of its usual gaps): a level the host keeps returning to
 *     (two routes, a bimodal path) is normal whenever it comes;
 *   - longer: an excursion that has lasted 1.3 times the family's longest
 *     (and two probe intervals) is no longer expected, whatever its rhythm;
 *   - proved: a family without a rhythm one of whose members lasted
 *     proved_s (the decision layer's acceptance time, for which it was an
 *     alarm before it was adopted): a level once proved OK is normal when
 *     it comes back, as long as it is not longer;
 *   - higher: no family at its level, but one below it that would expect
 *     it now.
 *
 * So a slowdown seen for the first time needs attention, and so does one
 * longer, higher or out of rhythm; one that has come and gone several times
 * in a recognisable shape does not.  The memory keeps the newest
 * RECUR_MEMBERS excursions.  No I/O, no clock: times come from the caller.
 */
#ifndef CLOUDSONAR_RECUR_H
#define CLOUDSONAR_RECUR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "detector/bytes.h"

#define RECUR_MEMBERS 64
#define RECUR_LEVEL_TOL 0.15  /* log10: 41% */
#define RECUR_LONGER_BY 1.3
#define RECUR_PHASE_TOL 0.05  /* of the period */
#define RECUR_MODE_MIN 4

typedef struct {
	int64_t start_ms;
	float dur_s;
	float level;             /* mean log10(us) of its slow answers */
} recur_member;

typedef struct {
	recur_member m[RECUR_MEMBERS]; /* a ring, oldest at head */
	uint8_t head, n;
} recur_memory;

typedef enum {
	RECUR_NEW,        /* nothing like it before (or not often enough) */
	RECUR_RHYTHM,     /* in the rhythm of its family: expected */
	RECUR_MODE,       /* a level the host keeps returning to: expected */
	RECUR_OFF_RHYTHM, /* its family has a rhythm, and this is out of it */
	RECUR_LONGER,     /* longer than its family's longest by half */
	RECUR_HIGHER,     /* above every family that would expect it now */
	RECUR_PROVED,     /* a level once held long enough to be proved OK: expected */
} recur_kind;
#define RECUR_KIND_LAST RECUR_PROVED

typedef struct {
	recur_kind kind;
	bool expected;           /* RECUR_RHYTHM, RECUR_MODE or RECUR_PROVED */
	double period_s;         /* the family's rhythm, 0 when none */
	double usual_s;          /* the family's longest excursion */
	double level;            /* the family's mean level (log10 us) */
	unsigned members;        /* in the family */
} recur_verdict;

void recur_init(recur_memory *r);
/* An excursion that ended: it began at start_ms, lasted dur_s, at level. */
void recur_add(recur_memory *r, int64_t start_ms, double dur_s, double level);
/* An excursion in progress: began at start_ms, lasted dur_s so far, at
 * level (its mean so far); interval_s the host's probe interval; proved_s
 * how long a member must have lasted to have been proved OK. */
recur_verdict recur_judge(const recur_memory *r, int64_t start_ms, double dur_s, double level, double interval_s,
                          double proved_s);
const char *recur_kind_name(recur_kind k);

/* Both ways (bytes.h): the count, then the members oldest first, 16 bytes
 * each (decoded with the oldest at head 0). */
void recur_code(bytes_cursor *c, recur_memory *r);

#endif
