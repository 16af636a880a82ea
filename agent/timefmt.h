/*
 * timefmt.h - the log files' UTC timestamps, ISO 8601 with milliseconds:
 * 2026-11-22T16:01:09.345Z.  Times are int64 milliseconds since the epoch.
 */
#ifndef CLOUDSONAR_TIMEFMT_H
#define CLOUDSONAR_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#define TIMEFMT_LEN 25 /* 24 characters and the NUL */

/* Writes the timestamp of ms into buf (at least TIMEFMT_LEN bytes). */
void timefmt_format(int64_t ms, char buf[TIMEFMT_LEN]);

/* Parses exactly the format above (len bytes at s, not NUL terminated);
 * returns 0 and the time in *ms, or -1 when s is not such a timestamp. */
int timefmt_parse(const char *s, size_t len, int64_t *ms);

/* A time as a person types it, UTC: 2026-12-06, 2026-12-06T08:08Z,
 * 2026-12-06T08:08:00Z, 2026-12-06 08:08:00.123, with or without a final Z,
 * "+00:00", "+0000 UTC" or "UTC" (the forms the logs and hview-client
 * print); any other offset is refused rather than guessed.  0, or -1. */
int timefmt_parse_user(const char *s, int64_t *ms);

#endif
