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

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/*
 * A directory held open (regdir), so that the files in it are reached
 * through it (openat, renameat) rather than by their paths: a program that
 * has dropped root (privdrop.h) keeps working in its folders even where it
 * may not walk the directories above them (an agent's logs under /root).
 * Every function below that takes a regdir takes NULL too: the name is
 * then a path from the working directory.  Messages show "DIR/NAME".
 */
typedef struct {
	int fd;              /* -1: none */
	char path[4096];     /* as given, for messages */
} regdir;

/* 0, or -1 with "PATH: reason" (not there, not a directory). */
int regdir_open(regdir *d, const char *path, char *err, size_t errlen);
void regdir_close(regdir *d);
/* renameat within d: 0, or -1 with errno. */
int regfile_rename_in(const regdir *d, const char *from, const char *to);

/* fopen(path, mode) for mode "r", "rb", "w", "wb", "a" or "ab", without
 * blocking, on a regular file only (one that "w" or "a" creates is).
 * NULL with errno set and "PATH: cannot open: REASON" in err, or "PATH:
 * not a regular file" (errno EINVAL) for an existing file that is not. */
FILE *regfile_open(const char *path, const char *mode, char *err, size_t errlen);
FILE *regfile_open_in(const regdir *d, const char *name, const char *mode, char *err, size_t errlen);
/* The same, as a file descriptor (-1 on failure). */
int regfile_open_fd(const char *path, const char *mode, char *err, size_t errlen);
int regfile_open_fd_in(const regdir *d, const char *name, const char *mode, char *err, size_t errlen);

/*
 * Appending to a file whose readers must never meet half a record (a queue
 * of reports, a CSV log), on a disk that may fill up: a write cut short is
 * truncated back, so what the file holds is whole.  fd is open for append
 * (O_APPEND), by one writer.
 *
 * regfile_append_whole: all of buf, or nothing (0, or -1 with errno).
 * regfile_append_lines: buf is lines; returns how many bytes of it the
 * file keeps, always a prefix ending at a newline (len when all went in),
 * with errno in *error when not all did.
 */
int regfile_append_whole(int fd, const void *buf, size_t len);
size_t regfile_append_lines(int fd, const char *buf, size_t len, int *error);

/*
 * Replacing a file whole, so that a crash leaves the old one or the new one,
 * never a mix: the new content goes to PATH.tmp (through r->f), which
 * regfile_replace_commit flushes, fsyncs (when durable), renames over PATH,
 * and then fsyncs the directory, so that the rename survives a power cut
 * too.  A failed or aborted replacement removes PATH.tmp and leaves PATH as
 * it was.
 */
typedef struct {
	FILE *f;
	int dirfd;           /* AT_FDCWD: name is a path */
	char name[4096];
	char tmp[4100];
	char path[8200];     /* for messages */
} regfile_replacement;

int regfile_replace_begin(regfile_replacement *r, const char *path, char *err, size_t errlen);
int regfile_replace_begin_in(regfile_replacement *r, const regdir *d, const char *name, char *err, size_t errlen);
/* 0, or -1 with "PATH: REASON" in err. */
int regfile_replace_commit(regfile_replacement *r, bool durable, char *err, size_t errlen);
void regfile_replace_abort(regfile_replacement *r);

#endif
