/* logfollow.c - follow a log file across rotation; see logfollow.h. */
#include "tools/logfollow.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Room for the longest line, its newline and the next read. */
#define BUF_CAP (2 * LOGFOLLOW_MAX_LINE + 2)

struct logfollow {
	char *path;
	int fd;
	dev_t dev;
	ino_t ino;
	off_t pos;          /* bytes read from fd */
	char *buf;          /* unprocessed bytes: buf[start, end) */
	size_t start, end;
	bool skipping;      /* inside a line too long to keep */
	uint64_t lineno;
	uint64_t rotations, truncations, long_lines;
};

logfollow *logfollow_new(const char *path)
{
	logfollow *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->path = strdup(path);
	f->buf = malloc(BUF_CAP + 1);
	if (!f->path || !f->buf) {
		logfollow_free(f);
		return NULL;
	}
	f->fd = -1;
	return f;
}

void logfollow_free(logfollow *f)
{
	if (!f)
		return;
	if (f->fd >= 0)
		close(f->fd);
	free(f->path);
	free(f->buf);
	free(f);
}

static void start_file(logfollow *f, int fd, const struct stat *st)
{
	f->fd = fd;
	f->dev = st->st_dev;
	f->ino = st->st_ino;
	f->pos = 0;
	f->lineno = 0;
}

const char *logfollow_next(logfollow *f, uint64_t *lineno)
{
	for (;;) {
		char *nl = f->start < f->end ? memchr(f->buf + f->start, '\n', f->end - f->start) : NULL;
		if (nl) {
			char *line = f->buf + f->start;
			*nl = '\0';
			f->start = (size_t)(nl - f->buf) + 1;
			f->lineno++;
			if (f->skipping) {
				f->skipping = false; /* the end of a long line */
				continue;
			}
			if (nl - line > LOGFOLLOW_MAX_LINE) {
				f->long_lines++; /* came whole in one read: as long */
				continue;
			}
			if (nl > line && nl[-1] == '\r')
				nl[-1] = '\0'; /* CRLF logs */
			*lineno = f->lineno;
			return line;
		}
		if (f->end - f->start > LOGFOLLOW_MAX_LINE) {
			if (!f->skipping)
				f->long_lines++;
			f->skipping = true;
			f->start = f->end = 0;
		}
		if (f->start > 0) {
			memmove(f->buf, f->buf + f->start, f->end - f->start);
			f->end -= f->start;
			f->start = 0;
		}
		if (f->fd < 0)
			return NULL;
		ssize_t n = read(f->fd, f->buf + f->end, BUF_CAP - f->end);
		if (n <= 0)
			return NULL;
		f->pos += n;
		f->end += (size_t)n;
	}
}

const char *logfollow_flush(logfollow *f, uint64_t *lineno)
{
	if (f->start >= f->end || f->skipping)
		return NULL;
	char *line = f->buf + f->start;
	f->buf[f->end] = '\0';
	f->start = f->end = 0;
	*lineno = ++f->lineno;
	return line;
}

bool logfollow_check(logfollow *f)
{
	struct stat st;
	if (f->fd < 0) {
		int fd = open(f->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return false;
		if (fstat(fd, &st) != 0) {
			close(fd);
			return false;
		}
		start_file(f, fd, &st);
		return true;
	}
	if (stat(f->path, &st) != 0)
		return true; /* moved away, not yet recreated: keep the old one */
	if (st.st_dev != f->dev || st.st_ino != f->ino) {
		/* Rotated.  A writer may still have appended to the old file
		 * since the last read: finish it first. */
		struct stat old;
		if (fstat(f->fd, &old) == 0 && old.st_size > f->pos)
			return true;
		if (f->end > f->start && !f->skipping)
			f->buf[f->end++] = '\n'; /* its last line had no newline */
		int fd = open(f->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return true; /* try again on the next check */
		close(f->fd);
		f->rotations++;
		f->skipping = false;
		start_file(f, fd, &st);
		return true;
	}
	if (st.st_size < f->pos) {
		/* copytruncate: the same file starts over */
		lseek(f->fd, 0, SEEK_SET);
		f->pos = 0;
		f->lineno = 0;
		f->start = f->end = 0;
		f->skipping = false;
		f->truncations++;
	}
	return true;
}

uint64_t logfollow_rotations(const logfollow *f) { return f->rotations; }
uint64_t logfollow_truncations(const logfollow *f) { return f->truncations; }
uint64_t logfollow_long_lines(const logfollow *f) { return f->long_lines; }
