/* csvlog.c - append-only CSV log files with headers; see csvlog.h. */
#include "agent/csvlog.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const log_names[LOG_KINDS] = {
	"sonar.csv", "fd.csv", "htm.csv", "attention.csv",
};
static const char *const log_headers[LOG_KINDS] = {
	"timestamp,host,rtt_ns\n",
	"timestamp,host,rtt_ns,status,phi\n",
	"timestamp,host,log10_rtt_us,prediction,anomaly_score\n",
	"timestamp,host,state,phi,anomaly_score\n",
};

struct csvlogs {
	char dir[PATH_MAX];
	unsigned mask;
	FILE *files[LOG_KINDS];
	int reported[LOG_KINDS]; /* a write error was already reported */
};

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

static int open_one(csvlogs *l, log_kind k, char *err, size_t errlen)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/%s", l->dir, log_names[k]);
	FILE *f = fopen(path, "a");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	/* A large buffer: at 10,000 probes a second rows arrive in bursts. */
	setvbuf(f, NULL, _IOFBF, 1 << 16);
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && st.st_size == 0)
		fputs(log_headers[k], f);
	l->files[k] = f;
	l->reported[k] = 0;
	return 0;
}

csvlogs *csvlogs_open(const char *dir, unsigned mask, char *err, size_t errlen)
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

int csvlogs_flush(csvlogs *l)
{
	int rc = 0;
	for (int k = 0; k < LOG_KINDS; k++) {
		FILE *f = l->files[k];
		if (!f)
			continue;
		if (fflush(f) != 0 || ferror(f)) {
			if (!l->reported[k])
				fprintf(stderr, "sonar: writing %s/%s: %s\n", l->dir,
				        log_names[k], strerror(errno));
			l->reported[k] = 1;
			clearerr(f);
			rc = -1;
		} else {
			l->reported[k] = 0;
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
		if (open_one(l, (log_kind)k, err, errlen) != 0) {
			l->files[k] = old; /* keep writing to the old file */
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
	free(l);
}
