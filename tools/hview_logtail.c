/* hview_logtail.c - Panorama's log monitor: follows a log and reports what
 * its lines say about other components.
 *   hview-logtail [-server ADDR] -log FILE [-stale N] [-observer NAME]
 *                 [-queue FILE] [-once] PLUGIN [PLUGIN OPTIONS]
 *   PLUGIN: rules --rules FILE.json
 *           zookeeper --ensemble zoo.cfg [--filter FILE.json]
 * Reports go through the agent's acknowledged on-disk queue (pano/client/publisher.h). */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pano/common/goflags.h"
#include "pano/client/publisher.h"
#include "tools/logfollow.h"
#include "tools/logrules.h"
#include "tools/logtail_zookeeper.h"
#include "pano/common/clock.h"

#define PROG "hview-logtail"
#define SYNOPSIS                                                                              \
	"[-server ADDR] -log FILE [-stale N] [-observer NAME] [-queue FILE] [-once] [-wait N]\n" \
	"  [-key FILE -serverkey FILE] PLUGIN ...\n"                                               \
	"  plugins: rules --rules FILE.json\n"                                                    \
	"           zookeeper --ensemble zoo.cfg [--filter FILE.json]"
#define POLL_NS (INT64_C(100) * 1000000)

typedef struct {
	const char *rules, *ensemble, *filter;
} plugin_options;


/* --name VALUE, --name=VALUE or -name VALUE after the plugin's name. */
static int plugin_args(const char *plugin, int argc, char **argv, plugin_options *o)
{
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i], *a = arg;
		if (arg[0] != '-') {
			fprintf(stderr, PROG ": plugin %s: unexpected argument '%.64s'\n", plugin, arg);
			return -1;
		}
		while (*a == '-')
			a++;
		const char *eq = strchr(a, '=');
		size_t klen = eq ? (size_t)(eq - a) : strlen(a);
		const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
		const char **slot = NULL;
		if (strcmp(plugin, "rules") == 0 && klen == 5 && strncmp(a, "rules", 5) == 0)
			slot = &o->rules;
		else if (strcmp(plugin, "zookeeper") == 0 && klen == 8 && strncmp(a, "ensemble", 8) == 0)
			slot = &o->ensemble;
		else if (strcmp(plugin, "zookeeper") == 0 && klen == 6 && strncmp(a, "filter", 6) == 0)
			slot = &o->filter;
		if (!slot) {
			fprintf(stderr, PROG ": plugin %s: unknown option '%.64s'\n", plugin, arg);
			return -1;
		}
		if (!value || !value[0]) {
			fprintf(stderr, PROG ": plugin %s: option '%.64s' needs a value\n", plugin, arg);
			return -1;
		}
		*slot = value;
	}
	return 0;
}

typedef struct {
	logrules *rules;
	zk_plugin *zk;
	const char *observer;
} plugin;

static int plugin_load(plugin *p, const char *name, const plugin_options *o)
{
	char err[600];
	p->rules = logrules_new();
	if (!p->rules) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	if (strcmp(name, "rules") == 0) {
		if (!o->rules) {
			fprintf(stderr, PROG ": plugin rules needs --rules FILE.json\n");
			return 2;
		}
		if (logrules_load_file(p->rules, o->rules, err, sizeof(err)) != 0) {
			fprintf(stderr, PROG ": %s\n", err);
			return 2;
		}
		p->observer = logrules_observer(p->rules);
		return 0;
	}
	if (strcmp(name, "zookeeper") == 0) {
		if (!o->ensemble) {
			fprintf(stderr, PROG ": plugin zookeeper needs --ensemble zoo.cfg\n");
			return 2;
		}
		p->zk = zk_plugin_new(p->rules, o->ensemble, o->filter, err, sizeof(err));
		if (!p->zk) {
			fprintf(stderr, PROG ": %s\n", err);
			return 2;
		}
		p->observer = zk_plugin_self(p->zk);
		return 0;
	}
	fprintf(stderr, PROG ": unknown plugin '%.64s' (rules, zookeeper)\n", name);
	return 2;
}

typedef struct {
	uint64_t lines, reports, stale;
	int64_t last_ns; /* report times strictly increase: none is a duplicate */
} counts;

static void handle_line(const char *line, logrules *rules, publisher *pub, long stale_s, counts *c)
{
	logevent ev[16];
	size_t n = logrules_match(rules, line, ev, 16);
	c->lines++;
	int64_t now = clock_wall_ns();
	for (size_t i = 0; i < n; i++) {
		int64_t t = ev[i].time_ns ? ev[i].time_ns : now;
		if (stale_s >= 0 && t < now - (int64_t)stale_s * 1000000000) {
			c->stale++;
			continue;
		}
		/* A node drops a report with the time of one it has from this
		 * observer and subject: two events in one millisecond both count. */
		if (t <= c->last_ns)
			t = c->last_ns + 1;
		c->last_ns = t;
		publisher_report(pub, ev[i].subject, ev[i].metric, ev[i].status, ev[i].score, NULL, t);
		c->reports++;
	}
}

int main(int argc, char **argv)
{
	const char *server = "127.0.0.1:6688", *log_path = NULL, *observer = NULL, *queue = NULL;
	const char *key = NULL, *server_key = NULL;
	long stale_s = 300, wait_s = 10;
	int once = 0;
	const goflag flags[] = {
		{ "server", GF_STRING, &server, "Panorama node to report to (default 127.0.0.1:6688)" },
		{ "log", GF_STRING, &log_path, "the log file to follow (across rotation)" },
		{ "stale", GF_INT, &stale_s, "skip lines whose own time is older than N seconds; -1: none (default 300)" },
		{ "observer", GF_STRING, &observer, "observer name (default: the plugin's, else the host name)" },
		{ "queue", GF_STRING, &queue, "on-disk queue of unacknowledged reports (default FILE.pano-queue)" },
		{ "once", GF_BOOL, &once, "read the log to its end, deliver, and exit" },
		{ "wait", GF_INT, &wait_s, "at exit, wait at most N seconds for acknowledgements (default 10)" },
		{ "key", GF_STRING, &key, "secret CURVE certificate (its name must be the observer's)" },
		{ "serverkey", GF_STRING, &server_key, "the node's public certificate (its ID.pub)" },
	};
	int first;
	int rc = goflags_parse(PROG, SYNOPSIS, flags, sizeof(flags) / sizeof(flags[0]), argc, argv, &first);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	if (!log_path || !log_path[0]) {
		fprintf(stderr, PROG ": -log FILE is required\n");
		return 2;
	}
	if (stale_s < -1) {
		fprintf(stderr, PROG ": -stale: %ld is neither -1 nor a number of seconds\n", stale_s);
		return 2;
	}
	if (wait_s < 0 || wait_s > 3600) {
		fprintf(stderr, PROG ": -wait: %ld is not a number of seconds in [0, 3600]\n", wait_s);
		return 2;
	}
	if (first >= argc) {
		fprintf(stderr, PROG ": no plugin given (rules, zookeeper)\n");
		return 2;
	}
	plugin_options po = { 0 };
	if (plugin_args(argv[first], argc - first - 1, argv + first + 1, &po) != 0)
		return 2;
	plugin pl = { 0 };
	rc = plugin_load(&pl, argv[first], &po);
	char host[256] = "";
	if (rc == 0 && !observer)
		observer = pl.observer;
	if (rc == 0 && !observer) {
		if (gethostname(host, sizeof(host) - 1) != 0 || !host[0])
			snprintf(host, sizeof(host), "hview-logtail");
		observer = host;
	}
	char queue_buf[4200];
	if (!queue) {
		snprintf(queue_buf, sizeof(queue_buf), "%s.pano-queue", log_path);
		queue = queue_buf;
	}
	publisher *pub = NULL;
	logfollow *follow = NULL;
	char err[600];
	pano_curve_client curve_keys;
	const pano_curve_client *curve =
		rc == 0 ? pano_curve_client_flags(&curve_keys, key, server_key, err, sizeof(err)) : NULL;
	if (rc == 0 && !curve && err[0]) {
		fprintf(stderr, PROG ": %s\n", err);
		rc = 2;
	} else if (curve && strcmp(curve->self.name, observer) != 0 && observer == host) {
		observer = curve->self.name; /* no name given: the one the key speaks for */
	} else if (curve && strcmp(curve->self.name, observer) != 0) {
		fprintf(stderr, PROG ": -key %s speaks for '%s', not for observer '%s' (see -observer)\n", key,
		        curve->self.name, observer);
		rc = 2;
	}
	if (rc == 0) {
		char *servers[1] = { (char *)server };
		pano_logger plain = pano_logger_plain(PROG);
		pub = publisher_new(servers, curve, 1, observer, queue, &plain, err, sizeof(err));
		if (!pub) {
			fprintf(stderr, PROG ": %s\n", err);
			rc = strstr(err, "not host:port") ? 2 : 1;
		}
	}
	if (rc == 0 && !(follow = logfollow_new(log_path))) {
		fprintf(stderr, PROG ": out of memory\n");
		rc = 1;
	}
	if (rc != 0) {
		publisher_free(pub);
		zk_plugin_free(pl.zk);
		logrules_free(pl.rules);
		return rc;
	}
	fprintf(stderr, PROG ": following %s with %zu rules (%s), reporting to Panorama %s as observer %s%s\n",
	        log_path, logrules_count(pl.rules), argv[first], server, observer,
	        key ? " (CURVE)" : " without CURVE keys (plain text; see -key)");

	/* Signals are taken synchronously, as the loop's sleep. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &sigs, NULL);

	counts c = { 0 };
	bool said_waiting = false, stop = false, ever_open = false;
	int open_errno = 0;
	uint64_t rotations = 0, truncations = 0;
	while (!stop) {
		bool open_now = logfollow_check(follow);
		ever_open = ever_open || open_now;
		if (!open_now)
			open_errno = errno;
		if (!open_now && !said_waiting && !once) {
			fprintf(stderr, PROG ": %s: %s; waiting for it\n", log_path, strerror(open_errno));
			said_waiting = true;
		}
		uint64_t lineno;
		const char *line;
		int burst = 0;
		while ((line = logfollow_next(follow, &lineno)) != NULL && burst++ < 10000)
			handle_line(line, pl.rules, pub, stale_s, &c);
		if (logfollow_rotations(follow) != rotations || logfollow_truncations(follow) != truncations) {
			fprintf(stderr, PROG ": %s was %s; reading the new one from its start\n", log_path,
			        logfollow_rotations(follow) != rotations ? "rotated" : "truncated");
			rotations = logfollow_rotations(follow);
			truncations = logfollow_truncations(follow);
		}
		publisher_poll(pub, clock_mono_ns());
		if (once && !line) {
			if ((line = logfollow_flush(follow, &lineno)) != NULL)
				handle_line(line, pl.rules, pub, stale_s, &c);
			break;
		}
		if (line)
			continue; /* more waiting: no sleep */
		struct timespec nap = { 0, publisher_pending(pub) ? 20000000 : POLL_NS };
		int sig = sigtimedwait(&sigs, NULL, &nap);
		if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP)
			stop = true;
	}
	/* deliver what is queued; what is not stays on disk for the next run */
	int64_t until = clock_mono_ns() + (int64_t)wait_s * 1000000000;
	while (publisher_pending(pub) && clock_mono_ns() < until) {
		publisher_poll(pub, clock_mono_ns());
		struct timespec nap = { 0, 10000000 };
		if (sigtimedwait(&sigs, NULL, &nap) > 0)
			break;
	}
	size_t left = publisher_pending(pub);
	if (once && !ever_open)
		fprintf(stderr, PROG ": %s: cannot open it: %s\n", log_path, strerror(open_errno));
	if (logfollow_long_lines(follow))
		fprintf(stderr, PROG ": %s: %llu lines longer than %d bytes skipped\n", log_path,
		        (unsigned long long)logfollow_long_lines(follow), LOGFOLLOW_MAX_LINE);
	fprintf(stderr,
	        PROG ": %llu lines read, %llu reports, %llu stale, %llu with bad values, %llu not about a known "
	             "subject%s\n",
	        (unsigned long long)c.lines, (unsigned long long)c.reports, (unsigned long long)c.stale,
	        (unsigned long long)logrules_dropped(pl.rules), (unsigned long long)logrules_unnamed(pl.rules),
	        left ? "" : "; all delivered");
	if (left)
		fprintf(stderr, PROG ": %zu reports not yet acknowledged stay in %s for the next run\n", left, queue);
	publisher_free(pub);
	logfollow_free(follow);
	zk_plugin_free(pl.zk);
	logrules_free(pl.rules);
	return once && (left || !ever_open) ? 1 : 0;
}
