/* cli.c - shared option parsing; see cli.h. */
#include "agent/cli.h"

#include <errno.h>
#include <math.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

const char DETECTOR_OPTIONS_HELP[] =
	"  --interval SEC          probe period per host (default 1)\n"
	"  --timeout SEC           a probe unanswered after this is lost (default: the interval)\n"
	"  --log-dir DIR           where the CSV logs go\n"
	"  --phi-threshold X       phi above X is bad (default 1)\n"
	"  --anomaly-threshold X   HTM anomaly score above X, in [0,1], is unexpected (default 0.4)\n"
	"  --no-htm                no HTM model (htm.csv stays empty); the baseline\n"
	"                          and the loss rate still decide\n"
	"  --phi-window N          successful response times phi remembers (default 1000)\n"
	"  --phi-dist exp|normal   distribution of response times (default exp)\n"
	"  --htm-aggregate N       feed HTM the max of every N probes (default 1)\n"
	"  --htm-budget MB         HTM models take at most this much memory (a model\n"
	"                          is about 250 kB); hosts beyond it run on phi and the\n"
	"                          baseline (default: a quarter of the memory the\n"
	"                          agent may use; 0: no bound)\n"
	"  --confirm N             needs-attention after N slow probes in a row, one\n"
	"                          fewer when HTM finds one unexpected (default 3)\n"
	"  --accept-after SEC      slow responses this long in all become the host's\n"
	"                          normal (default 1800)\n"
	"  --slow-margin MS        a slow answer is this much above the host's normal at\n"
	"                          least (default 0.1: below, it is the CPUs, not the network)\n"
	"  --dead-after SEC        DEAD after no answer this long, 3 probes at least\n"
	"                          (default 10)\n"
	"  --buckets S,S,...       the response-time histogram's bounds in seconds,\n"
	"                          ascending, at most 32 (default 50 us doubling to\n"
	"                          26 s, as smokeping_prober's but longer)\n"
	"  --burst N               N probes per interval, spread over it (as smokeping's\n"
	"                          pings); the detectors see each burst's median and\n"
	"                          its loss (default 1, at most 20)\n";

void detector_options_defaults(detector_options *o, const char *log_dir)
{
	o->interval_s = 1.0;
	o->timeout_s = 1.0;
	o->timeout_set = false;
	o->log_dir = log_dir;
	o->phi_threshold = 1.0;
	attention_params ap = attention_params_default();
	o->anomaly_threshold = ap.anomaly_threshold;
	o->phi_window = 1000;
	o->dist = PHI_DIST_EXP;
	o->htm_aggregate = 1;
	o->confirm = (long)ap.confirm;
	o->accept_after_s = ap.accept_after_s;
	o->dead_after_s = ap.dead_after_s;
	o->slow_margin_s = ap.slow_margin_s;
	o->htm = true;
	o->burst = 1;
	o->htm_budget_mb = default_htm_budget_mb();
	o->nbuckets = 0;
}

double default_htm_budget_mb(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	double bytes = pages > 0 && page > 0 ? (double)pages * (double)page : 4e9;
	struct rlimit rl;
	if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (double)rl.rlim_cur < bytes)
		bytes = (double)rl.rlim_cur;
	FILE *f = fopen("/sys/fs/cgroup/memory.max", "r"); /* cgroup v2; "max" when unbounded */
	char line[64];
	if (f && fgets(line, sizeof(line), f)) {
		double limit = strtod(line, NULL);
		if (limit > 0 && limit < bytes)
			bytes = limit;
	}
	if (f)
		fclose(f);
	return floor(bytes / 4.0 / (1 << 20));
}

int parse_double(const char *s, double min, double max, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || *end != '\0' || errno != 0 || !isfinite(v) || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0 || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int detector_option(detector_options *o, int opt, const char *arg, const char *prog)
{
	switch (opt) {
	case OPT_INTERVAL:
		if (parse_double(arg, INTERVAL_MIN_S, INTERVAL_MAX_S, &o->interval_s) == 0)
			return 1;
		fprintf(stderr, "%s: --interval: '%s' is not a number of seconds in [%g, %g]\n",
		        prog, arg, INTERVAL_MIN_S, INTERVAL_MAX_S);
		return -1;
	case OPT_TIMEOUT:
		if (parse_double(arg, 0.001, INTERVAL_MAX_S, &o->timeout_s) == 0) {
			o->timeout_set = true;
			return 1;
		}
		fprintf(stderr, "%s: --timeout: '%s' is not a number of seconds in [0.001, %g]\n",
		        prog, arg, INTERVAL_MAX_S);
		return -1;
	case OPT_LOG_DIR:
		if (arg[0] != '\0') {
			o->log_dir = arg;
			return 1;
		}
		fprintf(stderr, "%s: --log-dir: empty directory name\n", prog);
		return -1;
	case OPT_PHI_THRESHOLD:
		if (parse_double(arg, 0.0, PHI_MAX, &o->phi_threshold) == 0)
			return 1;
		fprintf(stderr, "%s: --phi-threshold: '%s' is not a number in [0, %g]\n", prog, arg, PHI_MAX);
		return -1;
	case OPT_ANOMALY_THRESHOLD:
		if (parse_double(arg, 0.0, 1.0, &o->anomaly_threshold) == 0)
			return 1;
		fprintf(stderr, "%s: --anomaly-threshold: '%s' is not a number in [0, 1]\n", prog, arg);
		return -1;
	case OPT_PHI_WINDOW:
		if (parse_long(arg, PHI_MIN_SAMPLES, PHI_WINDOW_MAX, &o->phi_window) == 0)
			return 1;
		fprintf(stderr, "%s: --phi-window: '%s' is not an integer in [%d, %u]\n",
		        prog, arg, PHI_MIN_SAMPLES, PHI_WINDOW_MAX);
		return -1;
	case OPT_PHI_DIST:
		if (phi_dist_parse(arg, &o->dist) == 0)
			return 1;
		fprintf(stderr, "%s: --phi-dist: '%s' is not exp or normal\n", prog, arg);
		return -1;
	case OPT_HTM_AGGREGATE:
		if (parse_long(arg, 1, 3600, &o->htm_aggregate) == 0)
			return 1;
		fprintf(stderr, "%s: --htm-aggregate: '%s' is not an integer in [1, 3600]\n", prog, arg);
		return -1;
	case OPT_NO_HTM:
		o->htm = false;
		return 1;
	case OPT_CONFIRM:
		if (parse_long(arg, 1, 1000, &o->confirm) == 0)
			return 1;
		fprintf(stderr, "%s: --confirm: '%s' is not an integer in [1, 1000]\n", prog, arg);
		return -1;
	case OPT_ACCEPT_AFTER:
		if (parse_double(arg, 1.0, 30.0 * 86400.0, &o->accept_after_s) == 0)
			return 1;
		fprintf(stderr, "%s: --accept-after: '%s' is not a number of seconds in [1, 2592000]\n", prog, arg);
		return -1;
	case OPT_DEAD_AFTER:
		if (parse_double(arg, 0.0, 86400.0, &o->dead_after_s) == 0)
			return 1;
		fprintf(stderr, "%s: --dead-after: '%s' is not a number of seconds in [0, 86400]\n", prog, arg);
		return -1;
	case OPT_BUCKETS: {
		char copy[1024], *save = NULL;
		snprintf(copy, sizeof(copy), "%s", arg);
		o->nbuckets = 0;
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			double x;
			if (o->nbuckets == PIPELINE_RTT_BUCKETS_MAX || parse_double(t, 1e-6, 3600, &x) != 0 ||
			    (o->nbuckets && x <= o->buckets[o->nbuckets - 1])) {
				fprintf(stderr, "%s: --buckets: '%s' is not up to %d ascending numbers of seconds in "
				        "[1e-6, 3600], comma-separated\n", prog, arg, PIPELINE_RTT_BUCKETS_MAX);
				o->nbuckets = 0;
				return -1;
			}
			o->buckets[o->nbuckets++] = x;
		}
		if (o->nbuckets && strlen(arg) < sizeof(copy))
			return 1;
		fprintf(stderr, "%s: --buckets: '%.64s' holds no bound\n", prog, arg);
		o->nbuckets = 0;
		return -1;
	}
	case OPT_SLOW_MARGIN: {
		double ms;
		if (parse_double(arg, 0.0, 60000.0, &ms) == 0) {
			o->slow_margin_s = ms / 1000.0;
			return 1;
		}
		fprintf(stderr, "%s: --slow-margin: '%s' is not a number of milliseconds in [0, 60000]\n", prog, arg);
		return -1;
	}
	case OPT_HTM_BUDGET:
		if (parse_double(arg, 0, 1e9, &o->htm_budget_mb) == 0)
			return 1;
		fprintf(stderr, "%s: --htm-budget: '%s' is not a number of MB (0: no bound)\n", prog, arg);
		return -1;
	case OPT_BURST:
		if (parse_long(arg, 1, PIPELINE_BURST_MAX, &o->burst) == 0)
			return 1;
		fprintf(stderr, "%s: --burst: '%s' is not an integer in [1, %d]\n", prog, arg, PIPELINE_BURST_MAX);
		return -1;
	default:
		return 0;
	}
}

int detector_options_finish(detector_options *o, const char *prog, bool live)
{
	double period = o->interval_s / (double)o->burst; /* between two probes of a host */
	if (!o->timeout_set)
		o->timeout_s = period;
	if (live && o->timeout_s > period) {
		fprintf(stderr, "%s: --timeout: %g s is longer than the time between two probes of a host (%g s); "
		        "a host has at most one probe in flight\n", prog, o->timeout_s, period);
		return -1;
	}
	return 0;
}

void detector_options_to_params(const detector_options *o, pipeline_params *p)
{
	memset(p, 0, sizeof(*p));
	p->phi_window = (size_t)o->phi_window;
	p->phi_dist = o->dist;
	p->phi_threshold = o->phi_threshold;
	p->anomaly_threshold = o->anomaly_threshold;
	p->timeout_ns = (int64_t)llround(o->timeout_s * 1e9);
	p->htm = o->htm;
	p->htm_aggregate = (unsigned)o->htm_aggregate;
	p->confirm = (unsigned)o->confirm;
	p->accept_after_s = o->accept_after_s;
	p->dead_after_s = o->dead_after_s;
	p->slow_margin_s = o->slow_margin_s;
	p->htm_resolution = PIPELINE_HTM_RESOLUTION;
	p->htm_budget_bytes = (size_t)(o->htm_budget_mb * (1 << 20));
	p->rtt_buckets = o->nbuckets;
	memcpy(p->rtt_bounds_s, o->buckets, o->nbuckets * sizeof(o->buckets[0]));
}

