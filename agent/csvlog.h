/*
 * csvlog.h - the set of CSV log files in a log directory.
 *
 * Each file is opened for append; its header line is written only when the
 * file is new (empty), so runs accumulate in one file.  Writes are buffered
 * and reach the kernel at csvlogs_flush, which the agent calls at least once
 * a second, and at close.  csvlogs_reopen (SIGHUP) closes and reopens every
 * file by name, so logrotate can move them away; names are looked up in the
 * directory held open since the start (regfile.h), so a reopen works after
 * the agent dropped root.
 *
 * A write error (disk full, I/O error) is reported once per file on stderr
 * and never stops the caller; the next flush tries again.
 */
#ifndef CLOUDSONAR_CSVLOG_H
#define CLOUDSONAR_CSVLOG_H

#include <stdio.h>

#include "pano/common/log.h"

#include "pano/common/regfile.h"

typedef enum { LOG_SONAR = 0, LOG_FD, LOG_HTM, LOG_ATTENTION, LOG_KINDS } log_kind;

#define LOG_MASK(kind) (1u << (kind))
#define LOG_ALL (LOG_MASK(LOG_SONAR) | LOG_MASK(LOG_FD) | LOG_MASK(LOG_HTM) | LOG_MASK(LOG_ATTENTION))

typedef struct csvlogs csvlogs;

/* Creates dir (and its parents) if needed and opens the files in mask;
 * what goes wrong later (a full disk) it says through log (NULL: nothing).
 * NULL with a reason in err on failure. */
csvlogs *csvlogs_open(const char *dir, unsigned mask, const pano_logger *log, char *err, size_t errlen);
/* The open stream of a kind, or NULL when it is not in the mask. */
FILE *csvlogs_file(csvlogs *l, log_kind kind);
/* The log directory, held open (regfile.h): the agent's other files there
 * (targets.csv) go through it too. */
const regdir *csvlogs_dir(const csvlogs *l);
int csvlogs_flush(csvlogs *l);
int csvlogs_reopen(csvlogs *l, char *err, size_t errlen);
void csvlogs_close(csvlogs *l);

/* mkdir -p; 0 on success. */
int make_dirs(const char *path);

#endif
