/*
 * pipeline.h - what happens to one probe outcome: the detectors and the rows
 * they log.  The live agent and sonar-replay both feed outcomes through this
 * one path, which is why a replay of sonar.csv reproduces fd.csv and
 * attention.csv byte for byte.
 *
 * For each outcome, in order: phi is scored (a lost probe as the timeout),
 * a successful response time joins the phi window, an fd.csv row is written;
 * every htm_aggregate outcomes the largest response time among them (a lost
 * probe counting as the timeout) goes to the host's HTM model as
 * log10(microseconds), with an htm.csv row; then the host's attention state
 * is updated from phi and the latest HTM anomaly score, with an
 * attention.csv row when it changes.  sonar.csv is the caller's: replay
 * reads it, the agent writes it before calling pipeline_observe.
 *
 * The anomaly score is the HTM model's log-scaled anomaly likelihood (as
 * the Numenta Anomaly Benchmark's HTM detector reports it): the raw score
 * flags every value the model has not seen yet, the likelihood only what is
 * unusual for this host's recent history.
 */
#ifndef CLOUDSONAR_PIPELINE_H
#define CLOUDSONAR_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "detector/attention.h"
#include "detector/phi.h"
#include "agent/csvlog.h"
#include "pano/client/publisher.h"
#include "pano/common/regfile.h"

typedef enum { PROBE_OK = 0, PROBE_TIMEOUT, PROBE_ERROR } probe_status;

const char *probe_status_name(probe_status s);

/* The exporters' response-time histogram: at most this many bounds (see
 * pipeline_default_rtt_bounds). */
#define PIPELINE_RTT_BUCKETS_MAX 32
#define PIPELINE_RTT_BUCKETS_DEFAULT 20

typedef struct {
	size_t phi_window;
	phi_dist phi_dist;
	double phi_threshold;
	double anomaly_threshold;
	unsigned confirm;       /* attention_params.confirm */
	double accept_after_s;  /* attention_params.accept_after_s */
	double dead_after_s;    /* attention_params.dead_after_s */
	double slow_margin_s;   /* attention_params.slow_margin_s */
	bool no_recurrence;     /* attention_params.no_recurrence */
	bool htm_familiar;      /* attention_params.htm_familiar */
	int64_t timeout_ns; /* a lost probe's response time for phi */
	bool htm;           /* run an HTM model per host */
	unsigned htm_aggregate;
	double htm_resolution; /* in log10(us) */
	size_t htm_budget_bytes; /* HTM models' memory at most; 0: no bound */
	double rtt_bounds_s[PIPELINE_RTT_BUCKETS_MAX]; /* the exporters' histogram (ascending) */
	size_t rtt_buckets;      /* 0: the default bounds */
} pipeline_params;

/* The HTM encoder resolution for log10(RTT in us): 2.3x (phi = 1) is 0.36,
 * fourteen buckets. */
#define PIPELINE_HTM_RESOLUTION 0.025
/* What one host's saved state may take in the state file at most (about
 * 200 KB with HTM, 30 KB without): the file's bound grows with the hosts,
 * so that a large fleet's state is not refused as corrupt. */
#define PIPELINE_HOST_STATE_MAX ((size_t)1 << 20)

typedef struct pipeline pipeline;

/* logs may be NULL (nothing written); the pipeline does not own it. */
pipeline *pipeline_new(const pipeline_params *params, csvlogs *logs);
void pipeline_free(pipeline *p);

/*
 * Hosts live in numbered slots (the agent's): a slot is set when a target
 * comes and cleared when it leaves (its detectors go, and its record leaves
 * the state file at the next save).  Each host may have its own thresholds.
 */
typedef struct {
	double phi_threshold;     /* NAN: the pipeline's */
	double anomaly_threshold; /* NAN: the pipeline's */
	int64_t timeout_ns;       /* what a lost probe counts as; 0: the pipeline's */
} pipeline_host_options;

/* Puts host name in slot, which must be free, with fresh detectors (o NULL:
 * no options of its own); 0, or -1 when out of memory. */
int pipeline_set_host(pipeline *p, size_t slot, const char *name, const pipeline_host_options *o);
void pipeline_set_host_options(pipeline *p, size_t slot, const pipeline_host_options *o);
void pipeline_clear_host(pipeline *p, size_t slot);
bool pipeline_has_host(const pipeline *p, size_t slot);
/* Adds a host after every slot; returns its slot, or -1 when out of memory. */
long pipeline_add_host(pipeline *p, const char *name);
/* Slots, free ones included. */
size_t pipeline_host_count(const pipeline *p);
/* NULL for a free slot. */
const char *pipeline_host_name(const pipeline *p, size_t host);

/* One probe outcome of host, sent at wall time wall_ms (rtt_ns is ignored
 * unless status is PROBE_OK). */
void pipeline_observe(pipeline *p, size_t host, int64_t wall_ms,
                      probe_status status, int64_t rtt_ns);

/* A burst of n probes (smokeping's pings of a step) as one outcome of time
 * wall_ms: every probe counts in the exporters' figures and in the loss
 * window, and the detectors see the median response time of the answered
 * ones (the lower middle one of an even count), or a lost outcome when none
 * was answered. */
#define PIPELINE_BURST_MAX 20
typedef struct {
	probe_status status;
	int64_t rtt_ns;
} probe_outcome;
void pipeline_observe_burst(pipeline *p, size_t host, int64_t wall_ms, const probe_outcome *o, size_t n);


/* Called with a host's state at every change and at least every
 * PIPELINE_REPORT_EVERY_MS of probe time otherwise (for Panorama). */
#define PIPELINE_REPORT_EVERY_MS 10000
typedef struct {
	const char *host;
	size_t slot;
	attention_state state;
	double phi, anomaly;
	const char *reason;     /* attention_reason: "" but for NEEDS_ATTENTION and DEAD */
	double ratio, loss;     /* attention_evidence */
	publisher_summary summary; /* the probes since the host's last report */
	int64_t wall_ms;
} pipeline_report;
typedef void (*pipeline_report_fn)(void *ctx, const pipeline_report *r);
void pipeline_set_reporter(pipeline *p, pipeline_report_fn fn, void *ctx);
/* The reporter sonar-replay uses, ctx a publisher (the agent's adds its
 * labels): metric "rtt" of the host, its state as a Panorama status
 * (HEALTHY, PENDING, UNHEALTHY for NEEDS_ATTENTION, DEAD) with a score from
 * 100 (healthy) down, 100 / (1 + phi), 0 when DEAD, timed as the probe, with
 * the reason and the evidence (pipeline_report_extra). */
void pipeline_report_to_publisher(void *pub, const pipeline_report *r);
/* A report's status, score and extra (reason, evidence) for a publisher. */
void pipeline_report_values(const pipeline_report *r, int *status, double *score, publisher_extra *x);

/* The HTM budget: a host's model is sized before it is made, and a host
 * whose model would take the models past htm_budget_bytes runs without one
 * (phi, the baseline and loss decide for it) for as long as it stays;
 * loading the state file obeys the same bound.  What one model takes; how
 * many hosts have one, how many were refused one, and the budget (0: none). */
size_t pipeline_htm_model_bytes(pipeline *p);
void pipeline_htm_usage(const pipeline *p, size_t *models, size_t *denied, size_t *budget_bytes);

/* The host's latest phi, anomaly score (NAN before HTM has one) and
 * attention state. */
double pipeline_last_phi(const pipeline *p, size_t host);
double pipeline_last_anomaly(const pipeline *p, size_t host);
attention_state pipeline_state(const pipeline *p, size_t host);
/* Why the host is NEEDS_ATTENTION or DEAD (attention_reason); "" otherwise. */
const char *pipeline_reason(const pipeline *p, size_t host);

/* What a metrics exporter shows of a host (the counts are since this
 * process started; phi is 0 before the first outcome). */
/* Response-time histogram buckets: their upper bounds (seconds) are the
 * pipeline's rtt_bounds_s (--buckets); by default, as smokeping_prober's,
 * from 50 us doubling, but on to about 26 s, past any timeout a probe of a
 * congested link may live to; then +Inf. */
void pipeline_default_rtt_bounds(double *bounds, size_t *n);
/* The bounds in use. */
const double *pipeline_rtt_bounds(const pipeline *p, size_t *n);

typedef struct {
	uint64_t probes, lost;  /* lost: timeouts and errors */
	uint64_t rtt_le[PIPELINE_RTT_BUCKETS_MAX]; /* answered probes up to each bound (cumulative) */
	double rtt_sum_s;       /* their response times added up */
	int64_t last_rtt_ns;    /* -1 when the latest probe was lost, or none yet */
	double jitter_s;        /* RFC 3550's interarrival jitter of consecutive answers (0 before two) */
	double phi, anomaly;    /* anomaly NAN before HTM has one */
	attention_state state;
	attention_why why;      /* why it is NEEDS_ATTENTION or DEAD */
} pipeline_host_stats;
void pipeline_host_stats_get(const pipeline *p, size_t host, pipeline_host_stats *out);

/*
 * Detector state on disk (path, in dir when it is not NULL: regfile.h;
 * written atomically: temporary file, fsync, rename).  pipeline_load_state restores the hosts it knows by name that
 * have seen no outcome yet (so a target added later, by a reload or a mesh,
 * takes up its saved state too) and ignores the others, and returns 1 with
 * the count in *restored; a missing file returns 0.  A malformed file
 * returns -1 with a reason in err and restores no host at all.
 */
int pipeline_save_state(const pipeline *p, const regdir *dir, const char *path, char *err, size_t errlen);
int pipeline_load_state(pipeline *p, const regdir *dir, const char *path, size_t *restored,
                        char *err, size_t errlen);

#endif
