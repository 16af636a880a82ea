/*
 * targets.h - what the agent probes: a list of targets, from the command
 * line or from a targets file that people can read and diff.
 *
 * A targets file has one target a line, its address first; '#' starts a
 * comment, blank lines are skipped, and a file of bare addresses, one a
 * line, is valid.  After the address, words of KEY=VALUE:
 *
 *   10.0.0.7   name=db-1 group=db method=tcp:5432 interval=5 env=prod rack=r12
 *
 *   name=NAME            the target's name in the logs, /metrics, the state
 *                        file and Panorama (default: the address)
 *   group=GROUP          a group, for /metrics and the targets side file
 *   method=M             its own probe method (auto, icmp, tcp:PORT, ...)
 *   interval=SEC         its own probe period
 *   timeout=SEC          its own probe timeout (default: its interval)
 *   phi-threshold=X      its own thresholds
 *   anomaly-threshold=X
 *   OTHER=VALUE          a label, for /metrics and the targets side file
 *
 * Names are host-name characters (letters, digits, . - _ : %), as on the
 * command line; label keys are Prometheus label names; values are printable
 * ASCII without space, quote, backslash or comma.  A name given twice is an
 * error.  Every error is one line naming the file and line.
 */
#ifndef CLOUDSONAR_TARGETS_H
#define CLOUDSONAR_TARGETS_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/engine.h"
#include "pano/common/regfile.h"

#define TARGETS_MAX 100000
#define TARGET_LABELS_MAX 16
#define TARGETS_FILE_MAX ((size_t)64 << 20)

typedef struct {
	char *name;              /* the target's identity; the address when not given */
	char *address;           /* what is resolved and probed */
	char *group;             /* "" when none */
	char *labels[TARGET_LABELS_MAX]; /* "key=value", sorted by key */
	size_t nlabels;
	bool method_set;         /* else the agent's --method */
	method_spec method;
	double interval_s;       /* 0: the agent's --interval */
	double timeout_s;        /* 0: the interval (the agent's --timeout when neither is set) */
	double phi_threshold;    /* NAN: the agent's */
	double anomaly_threshold;
	size_t line;             /* in its file (0: not from a file) */
} target;

typedef struct {
	target *items;
	size_t n, cap;
} target_list;

/* Parses a targets file's text; file names it in errors ("FILE:LINE: ..."). */
int targets_parse(const char *text, size_t len, const char *file, target_list *out, char *err, size_t errlen);
/* Reads and parses path (a regular file, at most TARGETS_FILE_MAX bytes). */
int targets_load(const char *path, target_list *out, char *err, size_t errlen);
/* The same, for name in dir (regfile.h): the agent rereads its targets
 * file through its folder, held open, once it runs as an ordinary user. */
int targets_load_in(const regdir *dir, const char *name, target_list *out, char *err, size_t errlen);
/* The command line's hosts as bare targets. */
int targets_from_hosts(char *const *hosts, size_t n, target_list *out, char *err, size_t errlen);
/* Appends a bare target (the mesh's members); -1 when out of memory. */
int targets_add(target_list *l, const char *address);
int targets_copy(target_list *dst, const target_list *src);
void targets_free(target_list *l);
/* One target: a deep copy (-1 when out of memory, dst then empty), and
 * freeing what it holds. */
int target_copy(target *dst, const target *src);
void target_clear(target *t);

/* The target named name, or NULL. */
const target *targets_find(const target_list *l, const char *name);
/* Whether two targets are probed the same way (address, method, interval,
 * timeout): a target that stays so keeps its schedule across a reload. */
bool target_probed_alike(const target *a, const target *b);
/* Whether "k=v" is a label as a targets file's (a Prometheus label name
 * that is not one of the target's own words, a printable value without
 * spaces, quotes or commas); false with a reason. */
bool target_label_valid(const char *kv, char *why, size_t whylen);
/* A target's interval and timeout, given the agent's (--interval,
 * --timeout) and --burst: its own when it has them; a timeout never longer
 * than the time between two of its probes. */
void target_timing(const target *t, double interval_s, double timeout_s, unsigned burst, double *t_interval_s,
                   double *t_timeout_s);
/* What the detectors take of a target (pipeline.h): its own thresholds,
 * and its timeout (target_timing) as what a lost probe counts as. */
pipeline_host_options target_host_options(const target *t, double interval_s, double timeout_s, unsigned burst);
/* A label's value, or NULL. */
const char *target_label(const target *t, const char *key);

#endif
