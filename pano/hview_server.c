/* hview_server.c - a Panorama node:
 *   hview-server [-addr HOST:PORT] [-config FILE] [-dbfile FILE] [-daemon] [ID]
 * Flags override the config file; ID overrides both. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pano/node/config.h"
#include "pano/common/goflags.h"
#include "pano/common/log.h"
#include "pano/common/privdrop.h"
#include "pano/node/server.h"

#define PROG "hview-server"
#define SYNOPSIS "[-addr HOST:PORT] [-config FILE] [-dbfile FILE] [-fsync] [-watch HOST:PORT|off] " \
	"[-key FILE -allow DIR] [-http IP:PORT] [-log FILE] [-daemon [-pidfile FILE]] [-max-views N] [-max-values N] " \
	"[-user NAME] [-mesh-open] [-stale-after N] [-notify-command CMD] [-notify-webhook URL] [ID]"

/* Many clients and peers each hold a connection: take the file
 * descriptors the hard limit allows, so a crowd does not lock others out. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/*
 * -daemon: the node is set up in a child (ZeroMQ's and sqlite's threads do
 * not survive a fork, so it must not fork after), which tells the parent
 * over a pipe whether it serves; the parent exits 0 only then, or prints
 * the child's error and exits 1, so a script or systemd's Type=forking
 * learns of a failure as it would without -daemon.
 */
static int wait_for_child(int rd, pid_t child)
{
	char msg[600];
	size_t got = 0;
	ssize_t n;
	while (got < sizeof(msg) - 1 && (n = read(rd, msg + got, sizeof(msg) - 1 - got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		got += (size_t)n;
	}
	msg[got] = '\0';
	close(rd);
	if (strcmp(msg, "ok") == 0)
		return 0;
	int status;
	waitpid(child, &status, 0);
	fprintf(stderr, PROG ": %s\n", got ? msg : "the detached node died while starting");
	return 1;
}

/* In the child: a session of its own, stdin and stdout on /dev/null, and
 * stderr on the log file or /dev/null. */
static void detach_stdio(bool has_log)
{
	setsid();
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		if (!has_log)
			dup2(null, STDERR_FILENO);
		close(null);
	}
}

static int write_pidfile(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "w");
	if (!f || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) != 0) {
		snprintf(err, errlen, "-pidfile %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Bound, opened and loaded: the rest of the node's life needs no
 * privilege.  What it goes on writing by name is handed to the user. */
static int drop_root(const pano_config *cfg, const char *log_file, char *err, size_t errlen)
{
	char wal[4200], shm[4200], dir[4200];
	snprintf(wal, sizeof(wal), "%s-wal", cfg->db_file);
	snprintf(shm, sizeof(shm), "%s-shm", cfg->db_file);
	/* the database's directory: sqlite creates and removes its WAL there */
	snprintf(dir, sizeof(dir), "%s", cfg->db_file);
	char *slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	const char *own[] = { cfg->db_file, wal, shm, dir, log_file };
	privdrop_request req = { cfg->user, 0, own, log_file ? 5 : 4 };
	privdrop_result r;
	char why[600];
	if (privdrop(&req, &r, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "-user: %.400s", why);
		return -1;
	}
	if (r.dropped)
		pano_log(PANO_LOG_INFO, "running as %s (uid %u, gid %u) from now on", r.user, r.uid, r.gid);
	else if (geteuid() == 0)
		pano_log(PANO_LOG_WARN, "running as root (-user root): nothing the node does needs it");
	return 0;
}

int main(int argc, char **argv)
{
	const char *addr = NULL, *config = NULL, *dbfile = NULL, *watch = NULL, *key = NULL, *allow = NULL;
	const char *log_file = NULL, *pidfile = NULL, *http = NULL, *http_token = NULL, *user = NULL;
	const char *notify_command = NULL, *notify_webhook = NULL;
	int daemonize = 0, fsync_replies = 0, mesh_open = 0;
	long max_views = 0, max_values = 0, stale_after = -1;
	const goflag flags[] = {
		{ "addr", GF_STRING, &addr, "address to serve on (default 127.0.0.1:6688)" },
		{ "config", GF_STRING, &config, "JSON config file (as hview-mkrc writes)" },
		{ "dbfile", GF_STRING, &dbfile, "sqlite database file (default deephealth.db)" },
		{ "daemon", GF_BOOL, &daemonize, "detach and run in the background, once serving" },
		{ "pidfile", GF_STRING, &pidfile, "with -daemon: write the node's pid here (removed at exit)" },
		{ "http", GF_STRING, &http, "serve the console, JSON API and /metrics on IP:PORT (default off)" },
		{ "http-token", GF_STRING, &http_token, "with -http: a file whose token every request must bear" },
		{ "log", GF_STRING, &log_file, "append the log here instead of stderr (reopened on SIGHUP)" },
		{ "max-views", GF_INT, &max_views, "views the node holds at most (default 1000000)" },
		{ "max-values", GF_INT, &max_values, "metric values the node holds at most (default 10000000)" },
		{ "fsync", GF_BOOL, &fsync_replies, "acknowledge reports only once fsynced (survive power loss)" },
		{ "watch", GF_STRING, &watch, "address of the inference-change stream (default: port + 1; off: none)" },
		{ "key", GF_STRING, &key, "the node's secret CURVE certificate (sonar-keygen -role node ID)" },
		{ "allow", GF_STRING, &allow, "directory of the public certificates (*.pub) let in" },
		{ "user", GF_STRING, &user, "started as root: the user to run as once serving (default cloudsonar, "
		  "else nobody; root to stay root)" },
		{ "mesh-open", GF_BOOL, &mesh_open, "without CURVE keys, let anyone join a mesh (not advised)" },
		{ "notify-command", GF_STRING, &notify_command, "run this (by /bin/sh) with each notification as JSON "
		  "on its stdin" },
		{ "notify-webhook", GF_STRING, &notify_webhook, "POST each notification to this http(s):// URL "
		  "(Alertmanager's webhook format)" },
		{ "stale-after", GF_INT, &stale_after, "a view is stale after this many of its observer's report intervals "
		                                       "(default 6; 0: never)" },
	};
	int first;
	int rc = goflags_parse(PROG, SYNOPSIS, flags, sizeof(flags) / sizeof(flags[0]), argc, argv, &first);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	if (argc - first > 1) {
		fprintf(stderr, PROG ": at most one ID argument, got %d\n", argc - first);
		return 2;
	}
	pano_config cfg;
	pano_config_defaults(&cfg);
	char err[512];
	if (config && pano_config_load(&cfg, config, err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": %s\n", err);
		pano_config_clear(&cfg);
		return 2;
	}
	if ((addr && pano_config_set(&cfg.addr, addr)) || (dbfile && pano_config_set(&cfg.db_file, dbfile)) ||
	    (watch && pano_config_set(&cfg.watch_addr, watch)) || (http && pano_config_set(&cfg.http_addr, http)) ||
	    (http_token && pano_config_set(&cfg.http_token, http_token)) ||
	    (key && pano_config_set(&cfg.curve_key, key)) || (allow && pano_config_set(&cfg.curve_allow, allow)) ||
	    (user && pano_config_set(&cfg.user, user)) ||
	    (first < argc && pano_config_set(&cfg.id, argv[first]))) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	char why[256];
	const char *bad_flag = notify_command && pano_config_add_target(&cfg, notify_command, false, why, sizeof(why))
	                       ? "-notify-command"
	                       : notify_webhook && pano_config_add_target(&cfg, notify_webhook, true, why, sizeof(why))
	                       ? "-notify-webhook" : NULL;
	if (!bad_flag && ((config && pano_config_set(&cfg.config_path, config)) ||
	                  (notify_command && pano_config_set(&cfg.flag_command, notify_command)) ||
	                  (notify_webhook && pano_config_set(&cfg.flag_webhook, notify_webhook)))) {
		fprintf(stderr, PROG ": out of memory\n");
		pano_config_clear(&cfg);
		return 1;
	}
	if (bad_flag) {
		fprintf(stderr, PROG ": %s: %s\n", bad_flag, why);
		pano_config_clear(&cfg);
		return 2;
	}
	if (!cfg.curve_key != !cfg.curve_allow) {
		fprintf(stderr, PROG ": CURVE needs both the node's key (-key, CurveKey) and the allow list "
		        "(-allow, CurveAllow)\n");
		pano_config_clear(&cfg);
		return 2;
	}
	if (!cfg.id[0] || !cfg.addr[0] || !cfg.db_file[0]) {
		fprintf(stderr, PROG ": ID, -addr and -dbfile must not be empty\n");
		pano_config_clear(&cfg);
		return 2;
	}
	if (pano_config_check_names(&cfg, config ? config : "the command line", err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": %s\n", err);
		pano_config_clear(&cfg);
		return 2;
	}
	cfg.fsync = fsync_replies;
	cfg.mesh_open = cfg.mesh_open || mesh_open;
	if (stale_after > 1000) {
		fprintf(stderr, PROG ": -stale-after: %ld is more than 1000 report intervals\n", stale_after);
		pano_config_clear(&cfg);
		return 2;
	}
	if (stale_after >= 0)
		cfg.stale_after = (double)stale_after;
	if (max_views < 0 || max_values < 0) {
		fprintf(stderr, PROG ": -max-views and -max-values must be positive\n");
		pano_config_clear(&cfg);
		return 2;
	}
	cfg.max_views = max_views;
	cfg.max_values = max_values;
	if (pidfile && !daemonize) {
		fprintf(stderr, PROG ": -pidfile goes with -daemon\n");
		pano_config_clear(&cfg);
		return 2;
	}
	pano_log_level(cfg.log_level);
	if (log_file && pano_log_to_file(log_file, err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": -log %s\n", err);
		pano_config_clear(&cfg);
		return 1;
	}
	raise_fd_limit();
	int ready[2] = { -1, -1 };
	if (daemonize) {
		if (pipe2(ready, O_CLOEXEC) != 0) {
			perror(PROG ": pipe");
			return 1;
		}
		fflush(stderr);
		pid_t child = fork();
		if (child < 0) {
			perror(PROG ": fork");
			return 1;
		}
		if (child > 0) {
			close(ready[1]);
			pano_config_clear(&cfg);
			return wait_for_child(ready[0], child);
		}
		close(ready[0]);
	}
	pano_server *s = pano_server_new(&cfg, err, sizeof(err));
	if (s && pidfile && write_pidfile(pidfile, err, sizeof(err)) != 0) {
		pano_server_free(s);
		s = NULL;
	}
	if (s && drop_root(&cfg, log_file, err, sizeof(err)) != 0) {
		pano_server_free(s);
		s = NULL;
	}
	if (!s) {
		if (daemonize) {
			ssize_t w = write(ready[1], err, strlen(err));
			(void)w;
		} else {
			fprintf(stderr, PROG ": %s\n", err);
		}
		pano_config_clear(&cfg);
		return 1;
	}
	if (daemonize) {
		detach_stdio(log_file != NULL);
		ssize_t w = write(ready[1], "ok", 2);
		(void)w;
		close(ready[1]);
	}
	rc = pano_server_run(s);
	pano_server_free(s);
	if (pidfile)
		unlink(pidfile);
	pano_config_clear(&cfg);
	return rc == 0 ? 0 : 1;
}
