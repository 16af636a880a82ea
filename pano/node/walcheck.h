/*
 * walcheck.h - does a node's write-ahead log hold committed transactions
 * that sqlite would throw away?
 *
 * sqlite replays a WAL up to its first frame whose checksum fails and
 * silently ignores the rest.  After a crash that is right: the last frame
 * was torn.  After damage in the middle (a bad sector, a stray write) the
 * frames after it were acknowledged and would be lost without a word.  The
 * two differ in what follows the bad frame: frames of the same WAL
 * generation (the header's salts) mean damage; nothing, or frames of an
 * older generation (salts from before the WAL was last restarted), mean a
 * torn tail.  The file format is sqlite's (https://sqlite.org/fileformat.html,
 * "The Write-Ahead Log").
 */
#ifndef PANO_WALCHECK_H
#define PANO_WALCHECK_H

#include <stddef.h>

/* 0 when wal_path is absent, empty or sound up to at most a torn tail; -1
 * with a reason in err when frames would be lost (or the file cannot be
 * read). */
int pano_wal_check(const char *wal_path, char *err, size_t errlen);

#endif
