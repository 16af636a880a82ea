/*
 * logrules.h - turns log lines into Panorama observations by rules: a
 * regular expression, and templates for what a match says.
 *
 * A rules file is JSON (unknown keys are errors, so a typo is not silently
 * ignored):
 *
 *   {
 *     "observer": "web-1",                         optional: who observes
 *     "time": { "match": "^([0-9-]+ [0-9:]+)",     optional: the line's own
 *               "format": "%Y-%m-%d %H:%M:%S",     time (strptime; a ".123"
 *               "zone": "local" },                 or ",123" after it is
 *                                                  milliseconds; zone local
 *                                                  (default) or utc)
 *     "rules": [
 *       { "name": "upstream-down",                 optional, for messages
 *         "match": "connect\\(\\) to ([0-9.]+):([0-9]+) failed",
 *         "subject": "$1:$2",                      templates: $0 is the whole
 *         "metric": "http",                        match, $1..$9 its groups,
 *         "status": "UNHEALTHY",                   $$ a dollar sign
 *         "score": 10,                             a number or a template;
 *         "stop": true }                           default by status; stop:
 *     ]                                            no later rule is tried
 *   }
 *
 * Regular expressions are POSIX extended (regcomp): [0-9] for digits, no \d.
 * status is a Panorama status name or hview-client letter (h p u d ...), or
 * a template that yields one.  Every rule that matches gives an event, in
 * file order, until one with "stop".  An event whose templates yield an
 * empty or oversized subject or metric, a bad status or a score that is not
 * a finite number is dropped and counted (logrules_dropped).
 *
 * A namer, when set (the ZooKeeper plugin's ensemble), maps every subject;
 * it may drop an event by returning false.
 */
#ifndef CLOUDSONAR_LOGRULES_H
#define CLOUDSONAR_LOGRULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOGRULES_MAX_RULES 1000
#define LOGRULES_MAX_NAME 255 /* subject, metric and observer */

typedef struct logrules logrules;

typedef struct {
	const char *rule; /* the rule's name */
	char subject[LOGRULES_MAX_NAME + 1];
	char metric[LOGRULES_MAX_NAME + 1];
	int status;       /* Panorama's */
	float score;
	int64_t time_ns;  /* the line's own time, or 0 when it has none */
} logevent;

/* Maps a subject in place (size LOGRULES_MAX_NAME + 1); false drops it. */
typedef bool (*logrules_namer)(void *ctx, char *subject);

logrules *logrules_new(void);
void logrules_free(logrules *r);

/* Loads rules from a JSON file or text (origin names it in errors).
 * 0, or -1 with one line "ORIGIN: ..." in err. */
int logrules_load_file(logrules *r, const char *path, char *err, size_t errlen);
int logrules_load_json(logrules *r, const char *text, const char *origin, char *err, size_t errlen);

/* Keeps only the named rules (a plugin's filter); -1 naming an unknown one. */
int logrules_keep_only(logrules *r, char *const *names, size_t n, char *err, size_t errlen);

void logrules_set_namer(logrules *r, logrules_namer namer, void *ctx);

/* The file's "observer", or NULL. */
const char *logrules_observer(const logrules *r);
size_t logrules_count(const logrules *r);

/* The events of one line into out (at most max); their number. */
size_t logrules_match(logrules *r, const char *line, logevent *out, size_t max);

/* Events dropped for bad template results, and by the namer, over all
 * lines so far. */
uint64_t logrules_dropped(const logrules *r);
uint64_t logrules_unnamed(const logrules *r);

#endif
