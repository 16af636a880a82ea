/*
 * cli.h - command-line pieces shared by sonar-agent and sonar-replay.
 *
 * Both programs accept the same detector options, so a replay can be run
 * with exactly the options the agent ran with.  Errors are printed as the
 * one line "PROGRAM: --option: 'value' problem";
 * callers then exit 2.
 */
#ifndef CLOUDSONAR_CLI_H
#define CLOUDSONAR_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/pipeline.h"

/* Detector options and their defaults. */
typedef struct {
	double interval_s;          /* --interval, default 1 */
	double timeout_s;           /* --timeout, default: the interval */
	bool timeout_set;
	const char *log_dir;        /* --log-dir, default "logs" */
	double phi_threshold;       /* --phi-threshold, default 1 */
	double anomaly_threshold;   /* --anomaly-threshold, default 0.5 */
	long phi_window;            /* --phi-window, default 1000 */
	phi_dist dist;              /* --phi-dist, default exp */
	long htm_aggregate;         /* --htm-aggregate, default 1 */
	long confirm;               /* --confirm, default 3 */
	double accept_after_s;      /* --accept-after, default 1800 */
	double dead_after_s;        /* --dead-after, default 10 */
	double slow_margin_s;       /* --slow-margin (given in ms), default 0.1 ms */
	bool htm;                   /* false with --no-htm: no HTM model */
	long burst;                 /* --burst: probes per interval, default 1 */
	double htm_budget_mb;       /* --htm-budget: HTM models' memory at most, default a
	                             * quarter of what the process may use (0: no bound) */
	double buckets[PIPELINE_RTT_BUCKETS_MAX]; /* --buckets: the histogram's bounds */
	size_t nbuckets;            /* 0: the default */
} detector_options;

#define INTERVAL_MIN_S 0.01
#define INTERVAL_MAX_S 3600.0

/* getopt_long ids of the shared options, above any short option char. */
enum {
	OPT_INTERVAL = 256, OPT_TIMEOUT, OPT_LOG_DIR, OPT_PHI_THRESHOLD,
	OPT_ANOMALY_THRESHOLD, OPT_PHI_WINDOW, OPT_PHI_DIST, OPT_HTM_AGGREGATE, OPT_NO_HTM, OPT_CONFIRM,
	OPT_ACCEPT_AFTER, OPT_DEAD_AFTER, OPT_BURST, OPT_HTM_BUDGET, OPT_BUCKETS, OPT_SLOW_MARGIN,
	OPT_SHARED_END
};

#define DETECTOR_LONG_OPTIONS \
	{ "interval", required_argument, NULL, OPT_INTERVAL }, \
	{ "timeout", required_argument, NULL, OPT_TIMEOUT }, \
	{ "log-dir", required_argument, NULL, OPT_LOG_DIR }, \
	{ "phi-threshold", required_argument, NULL, OPT_PHI_THRESHOLD }, \
	{ "anomaly-threshold", required_argument, NULL, OPT_ANOMALY_THRESHOLD }, \
	{ "phi-window", required_argument, NULL, OPT_PHI_WINDOW }, \
	{ "phi-dist", required_argument, NULL, OPT_PHI_DIST }, \
	{ "htm-aggregate", required_argument, NULL, OPT_HTM_AGGREGATE }, \
	{ "no-htm", no_argument, NULL, OPT_NO_HTM }, \
	{ "confirm", required_argument, NULL, OPT_CONFIRM }, \
	{ "accept-after", required_argument, NULL, OPT_ACCEPT_AFTER }, \
	{ "dead-after", required_argument, NULL, OPT_DEAD_AFTER }, \
	{ "burst", required_argument, NULL, OPT_BURST }, \
	{ "htm-budget", required_argument, NULL, OPT_HTM_BUDGET }, \
	{ "buckets", required_argument, NULL, OPT_BUCKETS }, \
	{ "slow-margin", required_argument, NULL, OPT_SLOW_MARGIN }

/* The usage lines of the shared options. */
extern const char DETECTOR_OPTIONS_HELP[];

void detector_options_defaults(detector_options *o, const char *log_dir);

/* Handles one shared option; returns 1 when handled, 0 when opt is not a
 * shared option, -1 after printing an error. */
int detector_option(detector_options *o, int opt, const char *arg, const char *prog);

/* Checks the options together; a live agent (live = true) also needs
 * timeout <= interval / burst.  0, or -1 after printing an error. */
int detector_options_finish(detector_options *o, const char *prog, bool live);

void detector_options_to_params(const detector_options *o, pipeline_params *p);

/* A quarter of the memory this process may use, in MB: the machine's, or
 * less where its cgroup (memory.max) or address-space limit says so. */
double default_htm_budget_mb(void);

/* Strict number parsing: the whole string, finite, in [min, max]. */
int parse_double(const char *s, double min, double max, double *out);
int parse_long(const char *s, long min, long max, long *out);

#endif
