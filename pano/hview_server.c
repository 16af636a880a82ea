/* hview_server.c - a Panorama node (SPEC section 5):
 *   hview-server [-addr HOST:PORT] [-config FILE] [-dbfile FILE] [-daemon] [ID]
 * Flags override the config file; ID overrides both. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "config.h"
#include "goflags.h"
#include "log.h"
#include "server.h"

#define PROG "hview-server"
#define SYNOPSIS "[-addr HOST:PORT] [-config FILE] [-dbfile FILE] [-fsync] [-watch HOST:PORT|off] " \
	"[-key FILE -allow DIR] [-daemon] [ID]"

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

int main(int argc, char **argv)
{
	const char *addr = NULL, *config = NULL, *dbfile = NULL, *watch = NULL, *key = NULL, *allow = NULL;
	int daemonize = 0, fsync_replies = 0;
	const goflag flags[] = {
		{ "addr", GF_STRING, &addr, "address to serve on (default 127.0.0.1:6688)" },
		{ "config", GF_STRING, &config, "JSON config file (as hview-mkrc writes)" },
		{ "dbfile", GF_STRING, &dbfile, "sqlite database file (default deephealth.db)" },
		{ "daemon", GF_BOOL, &daemonize, "detach and run in the background" },
		{ "fsync", GF_BOOL, &fsync_replies, "acknowledge reports only once fsynced (survive power loss)" },
		{ "watch", GF_STRING, &watch, "address of the inference-change stream (default: port + 1; off: none)" },
		{ "key", GF_STRING, &key, "the node's secret CURVE certificate (sonar-keygen -role node ID)" },
		{ "allow", GF_STRING, &allow, "directory of the public certificates (*.pub) let in" },
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
	    (watch && pano_config_set(&cfg.watch_addr, watch)) ||
	    (key && pano_config_set(&cfg.curve_key, key)) || (allow && pano_config_set(&cfg.curve_allow, allow)) ||
	    (first < argc && pano_config_set(&cfg.id, argv[first]))) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
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
	pano_log_level(cfg.log_level);
	raise_fd_limit();
	pano_server *s = pano_server_new(&cfg, err, sizeof(err));
	if (!s) {
		fprintf(stderr, PROG ": %s\n", err);
		pano_config_clear(&cfg);
		return 1;
	}
	/* Detach only once the port is bound and the database loaded, so a
	 * failure is still reported to the terminal that started us. */
	if (daemonize && daemon(1, 1) != 0) {
		perror(PROG ": daemon");
		pano_server_free(s);
		pano_config_clear(&cfg);
		return 1;
	}
	rc = pano_server_run(s);
	pano_server_free(s);
	pano_config_clear(&cfg);
	return rc == 0 ? 0 : 1;
}
