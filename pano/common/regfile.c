/* regfile.c - see regfile.h. */
#include "pano/common/regfile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void shown_path(const regdir *d, const char *name, char *out, size_t len)
{
	if (d && d->fd >= 0)
		snprintf(out, len, "%s/%s", d->path, name);
	else
		snprintf(out, len, "%s", name);
}

int regdir_open(regdir *d, const char *path, char *err, size_t errlen)
{
	if (strlen(path) >= sizeof(d->path)) {
		snprintf(err, errlen, "%.200s...: name too long", path);
		d->fd = -1;
		return -1;
	}
	snprintf(d->path, sizeof(d->path), "%s", path);
	d->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

void regdir_close(regdir *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}

static int dir_fd(const regdir *d) { return d && d->fd >= 0 ? d->fd : AT_FDCWD; }

int regfile_rename_in(const regdir *d, const char *from, const char *to)
{
	return renameat(dir_fd(d), from, dir_fd(d), to);
}

int regfile_open_fd(const char *path, const char *mode, char *err, size_t errlen)
{
	return regfile_open_fd_in(NULL, path, mode, err, errlen);
}

int regfile_open_fd_in(const regdir *d, const char *name, const char *mode, char *err, size_t errlen)
{
	char path[8200];
	shown_path(d, name, path, sizeof(path));
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
	int fd = openat(dir_fd(d), name, flags | O_NONBLOCK | O_CLOEXEC, 0666);
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

FILE *regfile_open_in(const regdir *d, const char *name, const char *mode, char *err, size_t errlen)
{
	int fd = regfile_open_fd_in(d, name, mode, err, errlen);
	FILE *f = fd < 0 ? NULL : fdopen(fd, mode);
	if (fd >= 0 && !f) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", name, strerror(e));
		close(fd);
		errno = e;
	}
	return f;
}

FILE *regfile_open(const char *path, const char *mode, char *err, size_t errlen)
{
	return regfile_open_in(NULL, path, mode, err, errlen);
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

int regfile_replace_begin_in(regfile_replacement *r, const regdir *d, const char *name, char *err, size_t errlen)
{
	r->f = NULL;
	r->dirfd = dir_fd(d);
	if (strlen(name) >= sizeof(r->name)) {
		snprintf(err, errlen, "%.200s...: name too long", name);
		return -1;
	}
	snprintf(r->name, sizeof(r->name), "%s", name);
	snprintf(r->tmp, sizeof(r->tmp), "%s.tmp", name);
	shown_path(d, name, r->path, sizeof(r->path));
	r->f = regfile_open_in(d, r->tmp, "wb", err, errlen);
	return r->f ? 0 : -1;
}

int regfile_replace_begin(regfile_replacement *r, const char *path, char *err, size_t errlen)
{
	return regfile_replace_begin_in(r, NULL, path, err, errlen);
}

void regfile_replace_abort(regfile_replacement *r)
{
	if (!r->f)
		return;
	fclose(r->f);
	r->f = NULL;
	unlinkat(r->dirfd, r->tmp, 0);
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
	if (ok && renameat(r->dirfd, r->tmp, r->dirfd, r->name) != 0) {
		ok = false;
		saved = errno;
	}
	if (!ok) {
		unlinkat(r->dirfd, r->tmp, 0);
		snprintf(err, errlen, "%s: %s", r->path, strerror(saved));
		return -1;
	}
	if (durable && r->dirfd != AT_FDCWD)
		fsync(r->dirfd); /* best effort: the file itself is whole either way */
	else if (durable)
		fsync_dir_of(r->name);
	return 0;
}
