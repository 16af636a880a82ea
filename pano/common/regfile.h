/*
 * regfile.h - opening the files a program owns (state, queues, configs,
 * keys) so that a FIFO or a device planted in their place cannot hang it.
 *
 * open() of a FIFO blocks until the other end opens, ignoring every
 * timeout the program has; a device can hand out endless bytes.  These
 * files are only ever regular files, so anything else is refused at once.
 */
#ifndef PANO_REGFILE_H
#define PANO_REGFILE_H

#include <stddef.h>
#include <stdio.h>

/* fopen(path, mode) for mode "r", "rb", "w", "wb", "a" or "ab", without
 * blocking, on a regular file only (one that "w" or "a" creates is).
 * NULL with errno set and "PATH: cannot open: REASON" in err, or "PATH:
 * not a regular file" (errno EINVAL) for an existing file that is not. */
FILE *regfile_open(const char *path, const char *mode, char *err, size_t errlen);

#endif
