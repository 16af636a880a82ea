/* log.c - log lines on stderr; see log.h. */
#include "pano/common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* process-wide, like stderr itself */
static int min_level = PANO_LOG_INFO;
static char log_path[4096];
static char log_prog[64];

void pano_log_level(int level) { min_level = level; }

void pano_log_prog(const char *prog) { snprintf(log_prog, sizeof(log_prog), "%s", prog ? prog : ""); }

static int open_onto_stderr(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NONBLOCK | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	fflush(stderr);
	int rc = dup2(fd, STDERR_FILENO) < 0 ? -1 : 0;
	if (rc != 0)
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	close(fd);
	return rc;
}

int pano_log_to_file(const char *path, char *err, size_t errlen)
{
	if (strlen(path) >= sizeof(log_path)) {
		snprintf(err, errlen, "log file name too long");
		return -1;
	}
	if (open_onto_stderr(path, err, errlen) != 0)
		return -1;
	snprintf(log_path, sizeof(log_path), "%s", path);
	return 0;
}

void pano_log_reopen(void)
{
	char err[4200];
	if (log_path[0] && open_onto_stderr(log_path, err, sizeof(err)) != 0)
		pano_log(PANO_LOG_ERROR, "cannot reopen the log: %s", err);
}

void pano_log(int level, const char *fmt, ...)
{
	static const char *const names[] = { "DEBUG", "INFO", "WARN", "ERROR" };
	if (level < min_level || level < 0 || level > PANO_LOG_ERROR)
		return;
	char ts[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	va_list ap;
	va_start(ap, fmt);
	flockfile(stderr);
	fprintf(stderr, "%s[%s] ", ts, names[level]);
	if (log_prog[0])
		fprintf(stderr, "%s: ", log_prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	funlockfile(stderr);
	va_end(ap);
}

bool pano_log_due(time_t *last)
{
	time_t now = time(NULL);
	if (now == *last)
		return false;
	*last = now;
	return true;
}

bool pano_log_first(bool *said)
{
	if (*said)
		return false;
	*said = true;
	return true;
}

void pano_say(const pano_logger *l, int level, const char *fmt, ...)
{
	if (!l || !l->say)
		return;
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	l->say(l->ctx, level, msg);
}

static void say_to_log(void *ctx, int level, const char *message)
{
	(void)ctx;
	pano_log(level, "%s", message);
}

pano_logger pano_logger_daemon(void) { return (pano_logger){ say_to_log, NULL }; }

static void say_plain(void *ctx, int level, const char *message)
{
	(void)level;
	fprintf(stderr, "%s: %s\n", (const char *)ctx, message);
}

pano_logger pano_logger_plain(const char *prog) { return (pano_logger){ say_plain, (void *)prog }; }
