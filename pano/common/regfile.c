/* regfile.c - see regfile.h. */
#include "pano/common/regfile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int regfile_open_fd(const char *path, const char *mode, char *err, size_t errlen)
{
	int flags;
	switch (mode[0]) {
	case 'r': flags = O_RDONLY; break;
	case 'w': flags = O_WRONLY | O_CREAT | O_TRUNC; break;
	case 'a': flags = O_WRONLY | O_CREAT | O_APPEND; break;
	default:
		errno = EINVAL;
		snprintf(err, errlen, "%s: bad open mode '%s'", path, mode);
		return -1;
	}
	/* O_NONBLOCK: a FIFO opens (or fails) at once instead of waiting for
	 * a writer or a reader; it is cleared below for the regular file. */
	int fd = open(path, flags | O_NONBLOCK | O_CLOEXEC, 0666);
	if (fd < 0) {
		int e = errno;
		if (e == ENXIO)
			snprintf(err, errlen, "%s: not a regular file", path);
		else
			snprintf(err, errlen, "%s: cannot open: %s", path, strerror(e));
		errno = e == ENXIO ? EINVAL : e;
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		errno = EINVAL;
		return -1;
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

FILE *regfile_open(const char *path, const char *mode, char *err, size_t errlen)
{
	int fd = regfile_open_fd(path, mode, err, errlen);
	FILE *f = fd < 0 ? NULL : fdopen(fd, mode);
	if (fd >= 0 && !f) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		close(fd);
		errno = e;
	}
	return f;
}

/* Writes all of buf at the end of fd; the bytes written before a failure
 * in *done.  0, or -1 with errno. */
static int write_all(int fd, const char *buf, size_t len, size_t *done)
{
	*done = 0;
	while (*done < len) {
		ssize_t n = write(fd, buf + *done, len - *done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = ENOSPC;
			return -1;
		}
		*done += (size_t)n;
	}
	return 0;
}

int regfile_append_whole(int fd, const void *buf, size_t len)
{
	off_t before = lseek(fd, 0, SEEK_END);
	size_t done;
	if (before < 0)
		return -1;
	if (write_all(fd, buf, len, &done) == 0)
		return 0;
	int e = errno;
	if (done && ftruncate(fd, before) != 0) {
		/* the file keeps a torn record; its reader stops there */
	}
	errno = e;
	return -1;
}

size_t regfile_append_lines(int fd, const char *buf, size_t len, int *error)
{
	*error = 0;
	off_t before = lseek(fd, 0, SEEK_END);
	size_t done = 0;
	if (before >= 0 && write_all(fd, buf, len, &done) == 0)
		return len;
	*error = errno ? errno : EIO;
	size_t keep = done;
	while (keep > 0 && buf[keep - 1] != '\n')
		keep--;
	if (before >= 0 && keep != done && ftruncate(fd, before + (off_t)keep) != 0) {
		/* cannot cut the torn line away: say nothing was kept after it */
	}
	return keep;
}

int regfile_replace_begin(regfile_replacement *r, const char *path, char *err, size_t errlen)
{
	if (strlen(path) >= sizeof(r->path)) {
		snprintf(err, errlen, "%.200s...: name too long", path);
		r->f = NULL;
		return -1;
	}
	snprintf(r->path, sizeof(r->path), "%s", path);
	snprintf(r->tmp, sizeof(r->tmp), "%s.tmp", path);
	r->f = regfile_open(r->tmp, "wb", err, errlen);
	return r->f ? 0 : -1;
}

void regfile_replace_abort(regfile_replacement *r)
{
	if (!r->f)
		return;
	fclose(r->f);
	r->f = NULL;
	unlink(r->tmp);
}

static void fsync_dir_of(const char *path)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", path);
	int fd = open(dirname(buf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd); /* best effort: the file itself is whole either way */
		close(fd);
	}
}

int regfile_replace_commit(regfile_replacement *r, bool durable, char *err, size_t errlen)
{
	bool ok = fflush(r->f) == 0 && !ferror(r->f) && (!durable || fsync(fileno(r->f)) == 0);
	int saved = errno ? errno : EIO;
	if (fclose(r->f) != 0 && ok) {
		ok = false;
		saved = errno;
	}
	r->f = NULL;
	if (ok && rename(r->tmp, r->path) != 0) {
		ok = false;
		saved = errno;
	}
	if (!ok) {
		unlink(r->tmp);
		snprintf(err, errlen, "%s: %s", r->path, strerror(saved));
		return -1;
	}
	if (durable)
		fsync_dir_of(r->path);
	return 0;
}
