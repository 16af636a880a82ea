/*
 * log.h - a node's log lines on stderr, Panorama style:
 *   2017-05-19T08:13:15Z[INFO] message
 * Lines below the configured level are dropped.  With a log file, stderr
 * itself is pointed at it, so that libraries' own messages land there too,
 * and it is reopened on request (SIGHUP, for logrotate).
 */
#ifndef PANO_LOG_H
#define PANO_LOG_H

#include <stddef.h>

enum { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };

void pano_log_level(int level);
/* Appends stderr to path from now on; 0, or -1 with a reason in err. */
int pano_log_to_file(const char *path, char *err, size_t errlen);
/* Opens the log file again (after logrotate moved it); a no-op without
 * one.  On failure the old file stays in use and it is said there. */
void pano_log_reopen(void);
void pano_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
