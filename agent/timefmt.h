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

#endif
