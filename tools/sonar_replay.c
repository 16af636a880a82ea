/* sonar_replay.c - re-runs the detectors over a recorded sonar.csv.
 *
 * Rows go through the agent's own pipeline in file order, so fd.csv and
 * attention.csv come out exactly as the live agent wrote them for the same
 * options (a probe the agent logged as ERROR is indistinguishable from a
 * lost one in sonar.csv and replays as TIMEOUT, with the same phi). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/cli.h"
#include "agent/csvlog.h"
#include "agent/pipeline.h"
#include "tools/csv_reader.h"
#include "pano/common/strmap.h"
#include "agent/badopt.h"
#include "agent/resolver.h"
#include "agent/targets.h"
#include "pano/client/publisher.h"
#include "pano/common/clock.h"
#include "pano/common/endpoint.h"

#define PROG "sonar-replay"
#define REPLAY_HOSTS_MAX 1000000
#define BAD_LINES_SHOWN 20

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: " PROG " [--log-dir DIR] [--targets FILE] [detector options] SONAR_CSV\n"
	        "Re-runs the detectors over a recorded sonar.csv ('-' for stdin) and writes\n"
	        "fd.csv, htm.csv and attention.csv into DIR (default ./replay), replacing\n"
	        "earlier ones, exactly as the live agent would have with these options.\n"
	        "Lost probes count as --timeout (default: the interval).  With --burst,\n"
	        "consecutive rows of a host with the same time are one burst.\n\n"
	        "  --targets FILE          the agent's targets file: each target's own\n"
	        "                          interval, timeout and thresholds\n"
	        "  --server ENDPOINT       also report to this Panorama node what the agent\n"
	        "                          would have reported (with the recording's times)\n"
	        "  --observer NAME         the observer name for it (default sonar-replay)\n%s"
	        "  -h, --help              this help\n\n"
	        "Bad lines are reported with their line number and skipped; the exit\n"
	        "status is then 1.\n",
	        DETECTOR_OPTIONS_HELP);
}

static int remove_outputs(const char *dir)
{
	static const char *const names[] = { "fd.csv", "htm.csv", "attention.csv" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (unlink(path) != 0 && errno != ENOENT) {
			fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* The rows of one burst so far (with --burst): consecutive rows of a host
 * with the same time, as the agent writes them. */
typedef struct {
	long host;
	int64_t wall_ms;
	probe_outcome o[PIPELINE_BURST_MAX];
	size_t n;
} burst_rows;

static void flush_burst(pipeline *pipe, burst_rows *b)
{
	if (b->n)
		pipeline_observe_burst(pipe, (size_t)b->host, b->wall_ms, b->o, b->n);
	b->n = 0;
}

/* A host seen for the first time: into the pipeline, with what the targets
 * file says of it.  Its index, or -1. */
static long add_host(pipeline *pipe, strmap *index, const char *host, const target_list *targets,
                     const detector_options *det)
{
	const target *t = targets ? targets_find(targets, host) : NULL;
	pipeline_host_options o = t ? target_host_options(t, det->interval_s, det->timeout_s, (unsigned)det->burst)
	                            : (pipeline_host_options){ NAN, NAN, 0 };
	long at = (long)pipeline_host_count(pipe);
	if (pipeline_set_host(pipe, (size_t)at, host, &o) != 0 ||
	    strmap_put(index, host, (void *)(intptr_t)(at + 1)) != 0)
		return -1;
	return at;
}

/* The reports still queued, delivered within 30 s or left in the queue file. */
static int deliver(publisher *pub)
{
	int64_t until = clock_mono_ns() + INT64_C(30000000000);
	while (publisher_pending(pub) && clock_mono_ns() < until) {
		publisher_poll(pub, clock_mono_ns());
		usleep(10000);
	}
	size_t left = publisher_pending(pub);
	if (left)
		fprintf(stderr, PROG ": --server: %zu reports not acknowledged after 30 s\n", left);
	return left ? 1 : 0;
}

static int replay(FILE *in, const char *name, const detector_options *det, const target_list *targets,
                  publisher *pub)
{
	char err[512];
	if (remove_outputs(det->log_dir) != 0)
		return 1;
	pano_logger plain = pano_logger_plain(PROG);
	csvlogs *logs = csvlogs_open(det->log_dir,
	                             LOG_MASK(LOG_FD) | LOG_MASK(LOG_HTM) | LOG_MASK(LOG_ATTENTION),
	                             &plain, err, sizeof(err));
	if (!logs) {
		fprintf(stderr, PROG ": %s\n", err);
		return 1;
	}
	pipeline_params pp;
	detector_options_to_params(det, &pp);
	pipeline *pipe = pipeline_new(&pp, logs);
	if (pipe && pub) /* --server: what the agent would have reported, with its times */
		pipeline_set_reporter(pipe, pipeline_report_to_publisher, pub);
	/* host name -> pipeline index + 1 (so that absent reads as NULL) */
	strmap *index = strmap_new();
	csv_reader *reader = csv_reader_new(in);
	int rc = 0;
	if (!pipe || !index || !reader) {
		fprintf(stderr, PROG ": out of memory\n");
		rc = 1;
		goto out;
	}
	unsigned long rows = 0, bad = 0;
	sonar_row row;
	burst_rows b = { -1, 0, { { 0, 0 } }, 0 };
	int r;
	while ((r = csv_reader_next(reader, &row, err, sizeof(err))) != 0) {
		if (r < 0) {
			if (++bad <= BAD_LINES_SHOWN)
				fprintf(stderr, PROG ": %s: %s (skipped)\n", name, err);
			continue;
		}
		long host = (long)(intptr_t)strmap_get(index, row.host) - 1;
		if (host < 0) {
			if (pipeline_host_count(pipe) >= REPLAY_HOSTS_MAX) {
				fprintf(stderr, PROG ": %s: more than %d hosts\n", name, REPLAY_HOSTS_MAX);
				rc = 1;
				break;
			}
			if ((host = add_host(pipe, index, row.host, targets, det)) < 0) {
				fprintf(stderr, PROG ": out of memory\n");
				rc = 1;
				break;
			}
		}
		probe_status st = row.lost ? PROBE_TIMEOUT : PROBE_OK;
		if (++rows % 256 == 0 && pub)
			publisher_poll(pub, clock_mono_ns()); /* deliver as it goes: the queue is bounded */
		if (det->burst <= 1) {
			pipeline_observe(pipe, (size_t)host, row.wall_ms, st, row.rtt_ns);
			continue;
		}
		if (b.n && (b.host != host || b.wall_ms != row.wall_ms || b.n == (size_t)det->burst))
			flush_burst(pipe, &b);
		b.host = host;
		b.wall_ms = row.wall_ms;
		b.o[b.n++] = (probe_outcome){ st, row.rtt_ns };
	}
	flush_burst(pipe, &b);
	if (ferror(in)) {
		fprintf(stderr, PROG ": %s: read error\n", name);
		rc = 1;
	}
	if (bad) {
		fprintf(stderr, PROG ": %s: %lu bad line%s skipped, %lu rows replayed\n",
		        name, bad, bad == 1 ? "" : "s", rows);
		rc = 1;
	}
	if (csvlogs_flush(logs) != 0)
		rc = 1;
	if (pub && deliver(pub) != 0)
		rc = 1;
out:
	csv_reader_free(reader);
	strmap_free(index);
	pipeline_free(pipe);
	csvlogs_close(logs);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		DETECTOR_LONG_OPTIONS,
		{ "targets", required_argument, NULL, OPT_SHARED_END },
		{ "server", required_argument, NULL, OPT_SHARED_END + 1 },
		{ "observer", required_argument, NULL, OPT_SHARED_END + 2 },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	detector_options det;
	detector_options_defaults(&det, "replay");
	const char *targets_file = NULL, *observer = "sonar-replay";
	char *server = NULL;
	int opt;
	opterr = 0;
	for (int at = optind; (opt = getopt_long_only(argc, argv, ":h", longopts, NULL)) != -1; at = optind) {
		int r = detector_option(&det, opt, optarg, PROG);
		if (r < 0)
			return 2;
		if (r > 0)
			continue;
		if (opt == 'h') {
			usage(stdout);
			return 0;
		}
		if (opt == OPT_SHARED_END) {
			targets_file = optarg;
			continue;
		}
		if (opt == OPT_SHARED_END + 1) {
			char endpoint[512];
			if (pano_endpoint(optarg, endpoint, sizeof(endpoint)) != 0) {
				fprintf(stderr, PROG ": --server: '%.64s' is not host:port\n", optarg);
				return 2;
			}
			server = optarg;
			continue;
		}
		if (opt == OPT_SHARED_END + 2) {
			if (!host_name_valid(optarg)) {
				fprintf(stderr, PROG ": --observer: '%.64s' is not a valid name\n", optarg);
				return 2;
			}
			observer = optarg;
			continue;
		}
		cli_bad_option(PROG, opt, argv, at);
		return 2;
	}
	if (detector_options_finish(&det, PROG, false) != 0)
		return 2;
	if (argc - optind != 1) {
		fprintf(stderr, PROG ": expected one SONAR_CSV argument, got %d (see --help)\n",
		        argc - optind);
		return 2;
	}
	target_list targets = { NULL, 0, 0 };
	char err[600];
	if (targets_file && targets_load(targets_file, &targets, err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": --targets: %s\n", err);
		return 2;
	}
	err[0] = '\0';
	const char *path = argv[optind];
	FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (!in) {
		fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
		targets_free(&targets);
		return 1;
	}
	publisher *pub = NULL;
	if (server) {
		/* the queue beside the logs: what is not delivered stays there */
		char queue[PATH_MAX];
		pano_logger plain = pano_logger_plain(PROG);
		snprintf(queue, sizeof(queue), "%.4000s/publish.queue", det.log_dir);
		if (make_dirs(det.log_dir) != 0 ||
		    !(pub = publisher_new(&server, NULL, 1, observer, queue, &plain, err, sizeof(err)))) {
			fprintf(stderr, PROG ": --server: %s\n", err[0] ? err : strerror(errno));
			if (in != stdin)
				fclose(in);
			targets_free(&targets);
			return 1;
		}
	}
	int rc = replay(in, path, &det, targets_file ? &targets : NULL, pub);
	publisher_free(pub);
	if (in != stdin)
		fclose(in);
	targets_free(&targets);
	return rc;
}
