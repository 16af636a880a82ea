/*
 * log.h - a node's log lines on stderr, Panorama style:
 *   2017-05-19T08:13:15Z[INFO] message
 * Lines below the configured level are dropped.  With a log file, stderr
 * itself is pointed at it, so that libraries' own messages land there too,
 * and it is reopened on request (SIGHUP, for logrotate).
 */
#ifndef PANO_LOG_H
#define PANO_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

enum { PANO_LOG_DEBUG = 0, PANO_LOG_INFO = 1, PANO_LOG_WARN = 2, PANO_LOG_ERROR = 3 };

void pano_log_level(int level);
/* Appends stderr to path from now on; 0, or -1 with a reason in err. */
int pano_log_to_file(const char *path, char *err, size_t errlen);
/* Opens the log file again (after logrotate moved it); a no-op without
 * one.  On failure the old file stays in use and it is said there. */
void pano_log_reopen(void);
/* For what a client can make happen at will: true when a line about it
 * may be logged now, at most once a second; *last (0 at first) is the
 * caller's memory of its last line. */
bool pano_log_due(time_t *last);
void pano_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
