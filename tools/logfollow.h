/*
 * logfollow.h - reads a growing log file line by line, as `tail -F` does,
 * and keeps reading it across rotation.
 *
 *   rename rotation (logrotate's default, log4j's RollingFileAppender):
 *       the old file is read to its end, then the new file at PATH from its
 *       start;
 *   copytruncate: the file shrinks below what was read; reading starts
 *       again at its start;
 *   a missing file: waited for (said once on stderr by the caller).
 *
 * The file is read from its start: lines written before the follower
 * started are not lost (hview-logtail's -stale drops old news).  Lines
 * longer than LOGFOLLOW_MAX_LINE are skipped and counted, never split; a
 * last line without its newline is held back until the newline comes (or
 * returned as it is by logfollow_flush, at the end of a -once run).
 *
 * Non-blocking: logfollow_next returns at once; the caller polls.
 */
#ifndef CLOUDSONAR_LOGFOLLOW_H
#define CLOUDSONAR_LOGFOLLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOGFOLLOW_MAX_LINE 65536

typedef struct logfollow logfollow;

logfollow *logfollow_new(const char *path);
void logfollow_free(logfollow *f);

/* The next complete line (without its newline, NUL-terminated, valid until
 * the next call), or NULL when there is none yet.  *lineno is its number
 * in the file it came from (from 1, restarting after rotation). */
const char *logfollow_next(logfollow *f, uint64_t *lineno);

/* A held-back last line without its newline, or NULL. */
const char *logfollow_flush(logfollow *f, uint64_t *lineno);

/* Looks for rotation, truncation and a file that appeared; true when the
 * file is open.  Call it when logfollow_next has returned NULL. */
bool logfollow_check(logfollow *f);

/* Counters for the caller's messages. */
uint64_t logfollow_rotations(const logfollow *f);
uint64_t logfollow_truncations(const logfollow *f);
uint64_t logfollow_long_lines(const logfollow *f);

#endif
