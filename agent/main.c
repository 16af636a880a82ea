/* main.c - sonar-agent's command line. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "pano/common/log.h"
#include "pano/common/curve.h"
#include "pano/common/endpoint.h"
#include "agent/agent.h"
#include "agent/resolver.h"
#include "agent/badopt.h"
#include "agent/mesh.h"
#include "agent/targets.h"

#define PROG "sonar-agent"

enum { OPT_METHOD = OPT_SHARED_END, OPT_STATE_DIR, OPT_SERVER, OPT_OBSERVER,
       OPT_DURATION, OPT_LOCK, OPT_STATS, OPT_PROM_FILE, OPT_KEY, OPT_SERVER_KEY, OPT_HTTP, OPT_HTTP_TOKEN,
       OPT_TARGETS, OPT_MESH, OPT_MESH_REFRESH, OPT_MESH_PEERS, OPT_RESOLVE_EVERY, OPT_USER, OPT_SOURCE,
       OPT_INTERFACE, OPT_SIZE, OPT_TOS, OPT_LABEL };

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: " PROG " [options] HOST...\n"
	        "       " PROG " [options] --targets FILE\n"
	        "       " PROG " [options] --mesh GROUP --server ENDPOINT [HOST...]\n"
	        "Probes each HOST (name, IPv4 or IPv6 address) every interval and logs\n"
	        "response times, phi and health states as CSV (sonar.csv, fd.csv,\n"
	        "htm.csv, attention.csv) in the log directory.\n\n"
	        "  --targets FILE          the targets from FILE: one a line, the address\n"
	        "                          first, then name= group= method= interval=\n"
	        "                          timeout= phi-threshold= anomaly-threshold= and\n"
	        "                          labels KEY=VALUE; reread on SIGHUP and when it\n"
	        "                          changes (a bad file keeps the old list running)\n"
	        "  --mesh GROUP            announce this agent to its Panorama node as a\n"
	        "                          member of GROUP and probe the other members\n"
	        "                          (at --observer, a name or address they can reach)\n"
	        "  --mesh-refresh SEC      ask the node for the members this often (default 30);\n"
	        "                          one silent for 3 refreshes is dropped\n"
	        "  --mesh-peers N          probe at most N members (default 10): each member\n"
	        "                          is then probed by N others\n"
	        "  --method auto|icmp|tcp[:PORT]  probe method (default auto: ICMP when\n"
	        "                          permitted, else TCP connect to port 7);\n"
	        "                          icmp:liboping or icmp:dgram force one ICMP path\n"
	        "  --source ADDR           send probes from this address (one per family)\n"
	        "  --interface IF          send probes out of this interface\n"
	        "  --size BYTES            ICMP echo data size (default 56, as ping's; 16-8192)\n"
	        "  --tos N                 the TOS byte, 0-255 (DSCP << 2: 184 is EF)\n"
	        "  --state-dir DIR         detector state (default LOGDIR/state)\n"
	        "  --server ENDPOINT       Panorama node (repeatable; env PANO_SERVER)\n"
	        "  --observer NAME         observer name for Panorama (default: the --key's\n"
	        "                          name, else the host name)\n"
	        "  --label KEY=VALUE       what the agent says of its own host to Panorama\n"
	        "                          (rack=r12; up to 16): a node then tells a rack's\n"
	        "                          fault from its hosts'\n"
	        "  --key FILE              the agent's secret CURVE certificate (for nodes\n"
	        "                          with CURVE; its name must be the observer's)\n"
	        "  --server-key FILE       a node's public certificate: one per --server,\n"
	        "                          in the same order\n"
	        "  --resolve-every SEC     look names up again this often, to follow a host\n"
	        "                          that moves (default 300); one that does not\n"
	        "                          resolve is tried again sooner, backing off\n"
	        "  --user NAME             started as root: run as NAME once the sockets\n"
	        "                          are open (default cloudsonar, else nobody)\n"
	        "  --duration SEC          exit 0 after this long\n"
	        "  --lock FILE             exit 0 at once if another agent holds FILE\n"
	        "  --stats                 print probe statistics on stderr at exit\n"
	        "  --prom-file FILE        Prometheus metrics (node-exporter textfile),\n"
	        "                          rewritten every interval (min 1 s)\n"
	        "  --http IP:PORT          serve the same metrics live on http://IP:PORT/metrics\n"
	        "  --http-token FILE       with --http: requests must bear FILE's token\n"
	        "%s"
	        "  -h, --help              this help\n\n"
	        "Signals: INT/TERM finish the probes in flight, save state and exit 0;\n"
	        "HUP reopens the log files and rereads the targets file.\n",
	        DETECTOR_OPTIONS_HELP);
}

/* CURVE: the agent's key must speak for its observer name (else every
 * report would be refused), and each node needs its public key. */
static int load_curve(const char *key, const char *const *server_keys, size_t nserver_keys, size_t nservers,
                      const char **observer, bool observer_given, pano_curve_client *curves)
{
	if (!key && nserver_keys == 0)
		return 0;
	if (!key || nserver_keys != nservers) {
		fprintf(stderr, PROG ": CURVE needs --key and one --server-key per --server (%zu given for %zu)\n",
		        nserver_keys, nservers);
		return -1;
	}
	char err[512];
	for (size_t i = 0; i < nservers; i++) {
		if (pano_curve_client_load(&curves[i], key, server_keys[i], err, sizeof(err)) != 0) {
			fprintf(stderr, PROG ": %s\n", err);
			return -1;
		}
	}
	if (nservers && !observer_given)
		*observer = curves[0].self.name; /* the one name the key speaks for */
	if (nservers && strcmp(curves[0].self.name, *observer) != 0) {
		fprintf(stderr, PROG ": --key %s speaks for '%s', not for observer '%s' (see --observer)\n", key,
		        curves[0].self.name, *observer);
		return -1;
	}
	return 0;
}

/* Holds an exclusive lock for the process's life; 1 if another holds it. */
static int take_lock(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, PROG ": --lock %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int busy = errno == EWOULDBLOCK;
		if (!busy)
			fprintf(stderr, PROG ": --lock %s: %s\n", path, strerror(errno));
		close(fd);
		return busy ? 1 : -1;
	}
	return 0; /* fd stays open: the lock lasts until exit */
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		DETECTOR_LONG_OPTIONS,
		{ "method", required_argument, NULL, OPT_METHOD },
		{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
		{ "server", required_argument, NULL, OPT_SERVER },
		{ "observer", required_argument, NULL, OPT_OBSERVER },
		{ "label", required_argument, NULL, OPT_LABEL },
		{ "key", required_argument, NULL, OPT_KEY },
		{ "server-key", required_argument, NULL, OPT_SERVER_KEY },
		{ "duration", required_argument, NULL, OPT_DURATION },
		{ "lock", required_argument, NULL, OPT_LOCK },
		{ "stats", no_argument, NULL, OPT_STATS },
		{ "prom-file", required_argument, NULL, OPT_PROM_FILE },
		{ "http", required_argument, NULL, OPT_HTTP },
		{ "http-token", required_argument, NULL, OPT_HTTP_TOKEN },
		{ "targets", required_argument, NULL, OPT_TARGETS },
		{ "mesh", required_argument, NULL, OPT_MESH },
		{ "mesh-refresh", required_argument, NULL, OPT_MESH_REFRESH },
		{ "mesh-peers", required_argument, NULL, OPT_MESH_PEERS },
		{ "resolve-every", required_argument, NULL, OPT_RESOLVE_EVERY },
		{ "user", required_argument, NULL, OPT_USER },
		{ "source", required_argument, NULL, OPT_SOURCE },
		{ "interface", required_argument, NULL, OPT_INTERFACE },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "tos", required_argument, NULL, OPT_TOS },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	agent_config cfg = { .prog = PROG };
	detector_options_defaults(&cfg.det, "logs");
	method_parse("auto", &cfg.method);
	probe_options_defaults(&cfg.probe);
	const char *lock = NULL;
	cfg.mesh_refresh_s = MESH_REFRESH_DEFAULT_S;
	cfg.mesh_peers = MESH_PEERS_DEFAULT;
	cfg.resolve_every_s = RESOLVER_REFRESH_DEFAULT_S;
	char *servers[16];
	size_t nservers = 0;
	const char *key = NULL, *server_keys[16];
	size_t nserver_keys = 0;
	const char *labels[16];
	size_t nlabels = 0;
	char host[256] = "";
	if (gethostname(host, sizeof(host) - 1) != 0 || !host_name_valid(host))
		snprintf(host, sizeof(host), "sonar-agent");
	cfg.observer = host;
	bool observer_given = false;
	int opt;
	opterr = 0;
	for (int at = optind; (opt = getopt_long_only(argc, argv, ":h", longopts, NULL)) != -1; at = optind) {
		int r = detector_option(&cfg.det, opt, optarg, PROG);
		if (r < 0)
			return 2;
		if (r > 0)
			continue;
		switch (opt) {
		case 'h':
			usage(stdout);
			return 0;
		case OPT_METHOD:
			if (method_parse(optarg, &cfg.method) != 0) {
				fprintf(stderr, PROG ": --method: '%s' is not auto, icmp, icmp:liboping, "
				        "icmp:dgram, tcp or tcp:PORT (1-65535)\n", optarg);
				return 2;
			}
			break;
		case OPT_STATE_DIR:
			if (!optarg[0]) {
				fprintf(stderr, PROG ": --state-dir: empty directory name\n");
				return 2;
			}
			cfg.state_dir = optarg;
			break;
		case OPT_SERVER:
			if (nservers == 16) {
				fprintf(stderr, PROG ": --server: at most 16\n");
				return 2;
			}
			servers[nservers++] = optarg;
			break;
		case OPT_KEY:
			key = optarg;
			break;
		case OPT_SERVER_KEY:
			if (nserver_keys == 16) {
				fprintf(stderr, PROG ": --server-key: at most 16\n");
				return 2;
			}
			server_keys[nserver_keys++] = optarg;
			break;
		case OPT_LABEL: {
			char why[256];
			if (nlabels == 16 || !target_label_valid(optarg, why, sizeof(why))) {
				fprintf(stderr, PROG ": --label: %s\n", nlabels == 16 ? "at most 16" : why);
				return 2;
			}
			labels[nlabels++] = optarg;
			break;
		}
		case OPT_OBSERVER:
			if (!host_name_valid(optarg)) {
				fprintf(stderr, PROG ": --observer: '%s' is not a valid name\n", optarg);
				return 2;
			}
			cfg.observer = optarg;
			observer_given = true;
			break;
		case OPT_DURATION:
			if (parse_double(optarg, 0.001, 1e9, &cfg.duration_s) != 0) {
				fprintf(stderr, PROG ": --duration: '%s' is not a positive number of seconds\n", optarg);
				return 2;
			}
			break;
		case OPT_LOCK:
			lock = optarg;
			break;
		case OPT_STATS:
			cfg.stats = true;
			break;
		case OPT_PROM_FILE:
			if (!optarg[0]) {
				fprintf(stderr, PROG ": --prom-file: the file name is empty\n");
				return 2;
			}
			cfg.prom_file = optarg;
			break;
		case OPT_HTTP:
			cfg.http_addr = optarg;
			break;
		case OPT_HTTP_TOKEN:
			cfg.http_token = optarg;
			break;
		case OPT_TARGETS:
			if (!optarg[0]) {
				fprintf(stderr, PROG ": --targets: the file name is empty\n");
				return 2;
			}
			cfg.targets_file = optarg;
			break;
		case OPT_MESH:
			if (!host_name_valid(optarg)) {
				fprintf(stderr, PROG ": --mesh: '%s' is not a group name (letters, digits, . - _ : %%)\n",
				        optarg);
				return 2;
			}
			cfg.mesh_group = optarg;
			break;
		case OPT_MESH_REFRESH:
			if (parse_double(optarg, 0.1, 86400, &cfg.mesh_refresh_s) != 0) {
				fprintf(stderr, PROG ": --mesh-refresh: '%s' is not a number of seconds in [0.1, 86400]\n",
				        optarg);
				return 2;
			}
			break;
		case OPT_MESH_PEERS: {
			long peers;
			if (parse_long(optarg, 1, 1000, &peers) != 0) {
				fprintf(stderr, PROG ": --mesh-peers: '%s' is not an integer in [1, 1000]\n", optarg);
				return 2;
			}
			cfg.mesh_peers = (size_t)peers;
			break;
		}
		case OPT_RESOLVE_EVERY:
			if (parse_double(optarg, 1, 86400, &cfg.resolve_every_s) != 0) {
				fprintf(stderr, PROG ": --resolve-every: '%s' is not a number of seconds in [1, 86400]\n",
				        optarg);
				return 2;
			}
			break;
		case OPT_SOURCE:
			if (probe_options_source(&cfg.probe, optarg) != 0) {
				fprintf(stderr, PROG ": --source: '%s' is not a numeric address (or its family has one "
				        "already)\n", optarg);
				return 2;
			}
			break;
		case OPT_INTERFACE:
			if (!optarg[0] || strlen(optarg) >= sizeof(cfg.probe.interface) || strchr(optarg, '/')) {
				fprintf(stderr, PROG ": --interface: '%s' is not an interface name\n", optarg);
				return 2;
			}
			snprintf(cfg.probe.interface, sizeof(cfg.probe.interface), "%s", optarg);
			break;
		case OPT_SIZE: {
			long size;
			if (parse_long(optarg, PROBE_PAYLOAD_MIN, PROBE_PAYLOAD_MAX, &size) != 0) {
				fprintf(stderr, PROG ": --size: '%s' is not a number of bytes in [%d, %d]\n", optarg,
				        PROBE_PAYLOAD_MIN, PROBE_PAYLOAD_MAX);
				return 2;
			}
			cfg.probe.payload = (size_t)size;
			break;
		}
		case OPT_TOS: {
			long tos;
			if (parse_long(optarg, 0, 255, &tos) != 0) {
				fprintf(stderr, PROG ": --tos: '%s' is not a number in [0, 255]\n", optarg);
				return 2;
			}
			cfg.probe.tos = (int)tos;
			break;
		}
		case OPT_USER:
			if (!optarg[0]) {
				fprintf(stderr, PROG ": --user: the user name is empty\n");
				return 2;
			}
			cfg.user = optarg;
			break;
		default:
			cli_bad_option(PROG, opt, argv, at);
			return 2;
		}
	}
	if (detector_options_finish(&cfg.det, PROG, true) != 0)
		return 2;
	size_t nhosts = (size_t)(argc - optind);
	if (nhosts && cfg.targets_file) {
		fprintf(stderr, PROG ": HOST arguments and --targets do not go together: put the hosts in the file\n");
		return 2;
	}
	if (nhosts == 0 && !cfg.targets_file && !cfg.mesh_group) {
		fprintf(stderr, PROG ": no HOST given (see --help)\n");
		return 2;
	}
	if (nhosts > TARGETS_MAX) {
		fprintf(stderr, PROG ": %zu hosts given; at most %d\n", nhosts, TARGETS_MAX);
		return 2;
	}
	target_list targets = { NULL, 0, 0 };
	char err[600];
	if ((cfg.targets_file ? targets_load(cfg.targets_file, &targets, err, sizeof(err))
	                      : targets_from_hosts(argv + optind, nhosts, &targets, err, sizeof(err))) != 0) {
		fprintf(stderr, PROG ": %s%s\n", cfg.targets_file ? "--targets: " : "", err);
		return 2;
	}
	for (size_t i = 0; i < targets.n; i++) {
		const target *t = &targets.items[i];
		double interval = t->interval_s > 0 ? t->interval_s : cfg.det.interval_s;
		double timeout = t->timeout_s > 0 ? t->timeout_s : 0;
		if (timeout > interval / (double)cfg.det.burst) {
			fprintf(stderr, PROG ": --targets: %s:%zu: timeout %g s is longer than the time between two probes "
			        "(%g s)\n", cfg.targets_file, t->line, timeout, interval / (double)cfg.det.burst);
			targets_free(&targets);
			return 2;
		}
	}
	cfg.targets = &targets;
	cfg.burst = (unsigned)cfg.det.burst;
	if (lock) {
		int r = take_lock(lock);
		if (r != 0) {
			targets_free(&targets);
			return r > 0 ? 0 : 1;
		}
	}
	/* PANO_SERVER: one node or several, comma-separated, when no --server */
	char *env = getenv("PANO_SERVER"), *envcopy = NULL;
	if (nservers == 0 && env && env[0]) {
		envcopy = strdup(env);
		for (char *save = NULL, *t = envcopy ? strtok_r(envcopy, ",", &save) : NULL; t && nservers < 16;
		     t = strtok_r(NULL, ",", &save))
			servers[nservers++] = t;
	}
	for (size_t i = 0; i < nservers; i++) {
		char endpoint[512];
		if (pano_endpoint(servers[i], endpoint, sizeof(endpoint)) != 0) {
			fprintf(stderr, PROG ": --server: '%.64s' is not host:port\n", servers[i]);
			free(envcopy);
			targets_free(&targets);
			return 2;
		}
	}
	cfg.servers = servers;
	cfg.nservers = nservers;
	cfg.labels = labels;
	cfg.nlabels = nlabels;
	pano_curve_client curves[16];
	int rc = 2;
	if (cfg.mesh_group && nservers == 0)
		fprintf(stderr, PROG ": --mesh needs a Panorama node (--server or PANO_SERVER)\n");
	else if (load_curve(key, server_keys, nserver_keys, nservers, &cfg.observer, observer_given, curves) == 0) {
		cfg.curves = key ? curves : NULL;
		/* from here on the agent is a daemon: its lines carry the time and a level */
		pano_log_prog(PROG);
		rc = agent_run(&cfg);
	}
	explicit_bzero(curves, sizeof(curves)); /* secret keys */
	free(envcopy);
	targets_free(&targets);
	return rc;
}
