/*
 * statefile.h - a crash-safe file of named binary records.
 *
 * The agent keeps per-host detector state as (host name, blob) records.
 * Layout: the 8-byte magic "CSSTATE" + version 1, then per record a u16
 * name length, the name, a u32 blob length and the blob; last, an FNV-1a
 * 64-bit checksum of everything before it (all integers little endian).
 *
 * Writing goes to PATH.tmp, is fsynced, then renamed over PATH and the
 * directory fsynced, so PATH is always either the old or the new state, even
 * after kill -9 or a power cut.  Reading checks the magic and the checksum
 * before it returns a single record: a truncated, corrupt or foreign file is
 * rejected whole.
 */
#ifndef CLOUDSONAR_STATEFILE_H
#define CLOUDSONAR_STATEFILE_H

#include <stddef.h>
#include <stdint.h>

#include "pano/common/regfile.h"

#define STATEFILE_NAME_MAX 1024
/* The reader takes a file of at most max_size bytes, the caller's bound
 * (the agent's grows with its hosts, from STATEFILE_SIZE_MAX). */
#define STATEFILE_SIZE_MAX ((size_t)1 << 30)

typedef struct statefile_writer statefile_writer;
typedef struct statefile_reader statefile_reader;

/* The file is name in dir (regfile.h: NULL for a path). */
statefile_writer *statefile_begin(const regdir *dir, const char *name, char *err, size_t errlen);
/* 0 on success, -1 on a write error or an over-long name. */
int statefile_put(statefile_writer *w, const char *name, const uint8_t *blob, size_t len);
/* Makes the new file the state; 0 on success, -1 with a reason. */
int statefile_commit(statefile_writer *w, char *err, size_t errlen);
void statefile_abort(statefile_writer *w);

/* 1: *out is ready; 0: no file at path; -1: unreadable, corrupt or foreign. */
int statefile_open(const regdir *dir, const char *name, size_t max_size, statefile_reader **out, char *err,
                   size_t errlen);
/* 1: a record (valid until the next call); 0: no more; -1: malformed. */
int statefile_next(statefile_reader *r, const char **name, const uint8_t **blob,
                   size_t *len, char *err, size_t errlen);
void statefile_close(statefile_reader *r);

/* Moves a rejected state file aside (PATH.corrupt-<unix time>) so that it
 * is kept for inspection but never read again, removing any older one set
 * aside; returns 0 on success. */
int statefile_set_aside(const regdir *dir, const char *name, char *moved_to, size_t moved_len);

#endif
