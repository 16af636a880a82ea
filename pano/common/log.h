/*
 * log.h - the daemons' log: hview-server's and sonar-agent's lines on
 * stderr, Panorama style, the agent's with its name:
 *   2017-05-19T08:13:15Z[INFO] message
 *   2026-12-06T12:02:50Z[WARN] sonar-agent: message
 * Lines below the configured level are dropped.  With a log file, stderr
 * itself is pointed at it, so that libraries' own messages land there too,
 * and it is reopened on request (SIGHUP, for logrotate).
 *
 * Library objects (the publisher, the CSV logs, the mesh, the probe
 * engines) never print: they say what happened through the pano_logger
 * their caller gives them, which a daemon points at this log and a
 * command-line program at a plain "PROGRAM: message" line.
 */
#ifndef PANO_LOG_H
#define PANO_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

enum { PANO_LOG_DEBUG = 0, PANO_LOG_INFO = 1, PANO_LOG_WARN = 2, PANO_LOG_ERROR = 3 };

void pano_log_level(int level);
/* The name put before every message ("" or NULL: none, the node's way). */
void pano_log_prog(const char *prog);
/* Appends stderr to path from now on; 0, or -1 with a reason in err. */
int pano_log_to_file(const char *path, char *err, size_t errlen);
/* Opens the log file again (after logrotate moved it); a no-op without
 * one.  On failure the old file stays in use and it is said there. */
void pano_log_reopen(void);
/* For what a client can make happen at will: true when a line about it
 * may be logged now, at most once a second; *last (0 at first) is the
 * caller's memory of its last line. */
bool pano_log_due(time_t *last);
/* For what is said once until it changes: true the first time, while
 * *said (false at first) is the caller's memory of having said it. */
bool pano_log_first(bool *said);
void pano_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* How a library object says something: through its caller. */
typedef struct {
	void (*say)(void *ctx, int level, const char *message);
	void *ctx;
} pano_logger;
/* Says it through l; nothing when l or its say is NULL. */
void pano_say(const pano_logger *l, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A daemon's logger: pano_log. */
pano_logger pano_logger_daemon(void);
/* A command-line program's: "PROGRAM: message" on stderr, whatever the
 * level (prog must outlive the logger). */
pano_logger pano_logger_plain(const char *prog);

#endif
