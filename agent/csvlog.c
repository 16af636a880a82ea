/* csvlog.c - append-only CSV log files with headers; see csvlog.h. */
#include "agent/csvlog.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pano/common/regfile.h"

static const char *const log_names[LOG_KINDS] = {
	"sonar.csv", "fd.csv", "htm.csv", "attention.csv",
};
static const char *const log_headers[LOG_KINDS] = {
	"timestamp,host,rtt_ns\n",
	"timestamp,host,rtt_ns,status,phi\n",
	"timestamp,host,log10_rtt_us,prediction,anomaly_score\n",
	"timestamp,host,state,phi,anomaly_score,reason\n",
};

/*
 * Each file is written through a stdio stream whose bytes go to a buffer of
 * our own (fopencookie), not straight to the file: the buffer is written
 * out a line boundary at a time (regfile_append_lines), so a full disk
 * leaves whole lines in the file and keeps the rest for the next try, where
 * stdio would have left half a line and written the next one after it.
 * Past PENDING_MAX waiting bytes (a disk full for long), new lines are
 * dropped whole and counted.
 */
#define FLUSH_AT (1u << 20)
#define PENDING_MAX (16u << 20)

typedef struct {
	int fd;
	char *buf;               /* written by stdio, not yet in the file */
	size_t len, cap;
	bool skipping;           /* dropping the rest of a line that did not fit */
	unsigned long long dropped; /* lines dropped since it was last said */
	int error;               /* the last write's errno; 0 when it went in */
} pending_file;

struct csvlogs {
	char dir[PATH_MAX];
	pano_logger log;         /* how it says a write failed (its caller's) */
	regdir d;                /* the directory, held open: reopened files go in it */
	unsigned mask;
	FILE *files[LOG_KINDS];
	pending_file *pend[LOG_KINDS];
	int reported[LOG_KINDS]; /* a write error was already reported */
};

/* Writes out what is pending, up to its last whole line. */
static void pending_out(pending_file *p)
{
	size_t whole = p->len;
	while (whole > 0 && p->buf[whole - 1] != '\n')
		whole--;
	if (whole == 0)
		return;
	int error;
	size_t kept = regfile_append_lines(p->fd, p->buf, whole, &error);
	p->error = error;
	memmove(p->buf, p->buf + kept, p->len - kept);
	p->len -= kept;
}

static ssize_t pending_write(void *cookie, const char *data, size_t size)
{
	pending_file *p = cookie;
	for (size_t i = 0; i < size; i++) {
		if (p->skipping) { /* the rest of a dropped line */
			p->skipping = data[i] != '\n';
			continue;
		}
		if (p->len == PENDING_MAX) {
			/* no room: the line being written goes, whole */
			while (p->len > 0 && p->buf[p->len - 1] != '\n')
				p->len--;
			p->dropped++;
			p->skipping = data[i] != '\n';
			continue;
		}
		if (p->len == p->cap) {
			size_t cap = p->cap ? 2 * p->cap : 65536;
			char *grown = realloc(p->buf, cap < PENDING_MAX ? cap : PENDING_MAX);
			if (!grown) { /* short of memory: as if the disk were full */
				p->dropped++;
				p->skipping = data[i] != '\n';
				while (p->len > 0 && p->buf[p->len - 1] != '\n')
					p->len--;
				continue;
			}
			p->buf = grown;
			p->cap = cap < PENDING_MAX ? cap : PENDING_MAX;
		}
		p->buf[p->len++] = data[i];
	}
	if (p->len >= FLUSH_AT)
		pending_out(p); /* a replay writes much between two flushes */
	return (ssize_t)size;
}

static int pending_close(void *cookie)
{
	pending_file *p = cookie;
	pending_out(p);
	close(p->fd);
	free(p->buf);
	free(p);
	return 0;
}

int make_dirs(const char *path)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0755) != 0 && errno != EEXIST)
		return -1;
	struct stat st;
	if (stat(buf, &st) != 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

/* Whether the file's first line is not the header this version writes
 * (a log begun by an older agent, whose columns were different). */
static bool other_header(int fd, log_kind k)
{
	char first[128];
	size_t want = strlen(log_headers[k]);
	ssize_t n = pread(fd, first, want < sizeof(first) ? want : sizeof(first), 0);
	return n > 0 && ((size_t)n != want || memcmp(first, log_headers[k], want) != 0);
}

/* Moves a log with an older header aside, to NAME.old (NAME.old.2, ...
 * when taken): its rows stay whole, and the new file starts with the new
 * header, so that no reader meets two layouts in one file. */
static int set_aside(csvlogs *l, log_kind k, char *err, size_t errlen)
{
	char to[64];
	for (unsigned i = 1; i < 1000; i++) {
		if (i == 1)
			snprintf(to, sizeof(to), "%s.old", log_names[k]);
		else
			snprintf(to, sizeof(to), "%s.old.%u", log_names[k], i);
		struct stat st;
		if (fstatat(l->d.fd, to, &st, AT_SYMLINK_NOFOLLOW) == 0)
			continue;
		if (regfile_rename_in(&l->d, log_names[k], to) != 0)
			break;
		pano_say(&l->log, PANO_LOG_WARN, "%s/%s had an older header; it is now %s/%s", l->dir, log_names[k], l->dir, to);
		return 0;
	}
	snprintf(err, errlen, "%s/%s has an older header and cannot be moved aside: %s", l->dir, log_names[k],
	         strerror(errno));
	return -1;
}

static int open_one(csvlogs *l, log_kind k, char *err, size_t errlen)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/%s", l->dir, log_names[k]);
	pending_file *p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if ((p->fd = regfile_open_fd_in(&l->d, log_names[k], "a", err, errlen)) >= 0 && other_header(p->fd, k)) {
		close(p->fd);
		p->fd = set_aside(l, k, err, errlen) == 0 ? regfile_open_fd_in(&l->d, log_names[k], "a", err, errlen) : -1;
	}
	if (p->fd < 0) {
		free(p);
		return -1;
	}
	cookie_io_functions_t io = { .write = pending_write, .close = pending_close };
	FILE *f = fopencookie(p, "a", io);
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(p->fd);
		free(p);
		return -1;
	}
	/* A large buffer: at 10,000 probes a second rows arrive in bursts. */
	setvbuf(f, NULL, _IOFBF, 1 << 16);
	struct stat st;
	if (fstat(p->fd, &st) == 0 && st.st_size == 0)
		fputs(log_headers[k], f);
	l->files[k] = f;
	l->pend[k] = p;
	l->reported[k] = 0;
	return 0;
}

csvlogs *csvlogs_open(const char *dir, unsigned mask, const pano_logger *log, char *err, size_t errlen)
{
	if (strlen(dir) >= PATH_MAX) {
		snprintf(err, errlen, "log directory name too long");
		return NULL;
	}
	if (make_dirs(dir) != 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return NULL;
	}
	csvlogs *l = calloc(1, sizeof(*l));
	if (!l) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(l->dir, sizeof(l->dir), "%s", dir);
	l->mask = mask;
	l->log = log ? *log : (pano_logger){ NULL, NULL };
	if (regdir_open(&l->d, dir, err, errlen) != 0) {
		free(l);
		return NULL;
	}
	for (int k = 0; k < LOG_KINDS; k++) {
		if ((mask & LOG_MASK(k)) && open_one(l, (log_kind)k, err, errlen) != 0) {
			csvlogs_close(l);
			return NULL;
		}
	}
	return l;
}

FILE *csvlogs_file(csvlogs *l, log_kind kind)
{
	return l->files[kind];
}

const regdir *csvlogs_dir(const csvlogs *l) { return &l->d; }

int csvlogs_flush(csvlogs *l)
{
	int rc = 0;
	for (int k = 0; k < LOG_KINDS; k++) {
		FILE *f = l->files[k];
		pending_file *p = l->pend[k];
		if (!f)
			continue;
		fflush(f); /* into the pending buffer: it cannot fail */
		pending_out(p);
		if (p->error || p->dropped) {
			if (!l->reported[k])
				pano_say(&l->log, PANO_LOG_ERROR, "writing %s/%s: %s; the rows wait (whole lines only)%s", l->dir,
				        log_names[k], strerror(p->error ? p->error : ENOSPC),
				        p->dropped ? ", and some were dropped" : "");
			l->reported[k] = 1;
			rc = -1;
		} else if (l->reported[k]) {
			pano_say(&l->log, PANO_LOG_INFO, "writing %s/%s again", l->dir, log_names[k]);
			l->reported[k] = 0;
		}
		if (!p->error && p->dropped) {
			pano_say(&l->log, PANO_LOG_WARN, "%s/%s: %llu rows were dropped while the disk was full", l->dir,
			        log_names[k], p->dropped);
			p->dropped = 0;
		}
	}
	return rc;
}

int csvlogs_reopen(csvlogs *l, char *err, size_t errlen)
{
	csvlogs_flush(l);
	int rc = 0;
	for (int k = 0; k < LOG_KINDS; k++) {
		if (!l->files[k])
			continue;
		FILE *old = l->files[k];
		pending_file *old_pend = l->pend[k];
		if (open_one(l, (log_kind)k, err, errlen) != 0) {
			l->files[k] = old; /* keep writing to the old file */
			l->pend[k] = old_pend;
			rc = -1;
			continue;
		}
		fclose(old);
	}
	return rc;
}

void csvlogs_close(csvlogs *l)
{
	if (!l)
		return;
	csvlogs_flush(l);
	for (int k = 0; k < LOG_KINDS; k++)
		if (l->files[k])
			fclose(l->files[k]);
	regdir_close(&l->d);
	free(l);
}
