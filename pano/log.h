/*
 * log.h - a node's log lines on stderr, Panorama style:
 *   2017-05-19T08:13:15Z[INFO] message
 * Lines below the configured level are dropped.
 */
#ifndef PANO_LOG_H
#define PANO_LOG_H

enum { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };

void pano_log_level(int level);
void pano_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
