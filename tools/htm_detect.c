/* htm_detect.c - the HTM anomaly model over a labelled-benchmark series:
 *
 *   htm-detect [options] [INPUT_CSV [OUTPUT_CSV]]
 *   htm-detect [options] --corpus DATA_DIR RESULTS_DIR
 *
 * reads timestamp,value rows (Numenta Anomaly Benchmark format) and writes
 * timestamp,value,anomaly_score.  As NAB's "numenta" detector does, it
 * knows the file's value range (it reads the whole file first): the
 * encoder's resolution is 1.4 x range / 200; the score is the log-scaled
 * anomaly likelihood, with a probation of 15% of the file (at most 750
 * rows); a value more than 5% outside every value seen so far scores 1
 * (a spatial anomaly the temporal model cannot know about).
 *
 * --corpus runs every DATA_DIR/CATEGORY/NAME.csv into
 * RESULTS_DIR/CATEGORY/htm_NAME.csv and prints the time per step.
 * Options: --raw (the raw anomaly score instead), --time-of-day,
 * --seed N, --buckets N (default 200), --param NAME=VALUE (any field of
 * htm_params, for tuning). */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "htm/htm.h"
#include "pano/common/clock.h"

#define PROG "htm-detect"
#define LINE_MAX_LEN 4096

typedef struct {
	char (*ts)[32];
	double *value;
	int64_t *time;
	size_t n;
} series;

typedef struct {
	bool raw, tod;
	uint64_t seed;
	double buckets;        /* the value range is cut into this many buckets */
	htm_params overrides;  /* --param name=value */
	bool overridden;
} options;

/* --param NAME=VALUE over the model's defaults (for tuning). */
static int set_param(htm_params *p, const char *spec)
{
	char name[64];
	double v;
	if (sscanf(spec, "%63[a-z_]=%lf", name, &v) != 2 || v < 0 || v > 65535)
		return -1;
	struct { const char *name; void *field; int kind; } table[] = {
		{ "columns", &p->columns, 16 }, { "active_columns", &p->active_columns, 16 },
		{ "potential", &p->potential, 16 }, { "cells_per_column", &p->cells_per_column, 8 },
		{ "max_segments", &p->max_segments, 16 }, { "max_synapses", &p->max_synapses, 8 },
		{ "new_synapses", &p->new_synapses, 8 }, { "activation_threshold", &p->activation_threshold, 8 },
		{ "min_threshold", &p->min_threshold, 8 }, { "value_bits", &p->value_bits, 16 },
		{ "value_active", &p->value_active, 16 }, { "tod_bits", &p->tod_bits, 16 },
		{ "tod_active", &p->tod_active, 16 }, { "tm_inc", &p->tm_inc, 64 }, { "tm_dec", &p->tm_dec, 64 },
		{ "tm_connected", &p->tm_connected, 64 }, { "tm_initial", &p->tm_initial, 64 },
		{ "sp_inc", &p->sp_inc, 64 }, { "sp_dec", &p->sp_dec, 64 }, { "sp_connected", &p->sp_connected, 64 },
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (strcmp(name, table[i].name) != 0)
			continue;
		if (table[i].kind == 16)
			*(uint16_t *)table[i].field = (uint16_t)v;
		else if (table[i].kind == 8)
			*(uint8_t *)table[i].field = (uint8_t)(v > 255 ? 255 : v);
		else
			*(double *)table[i].field = v;
		return 0;
	}
	return -1;
}

static int parse_time(const char *s, int64_t *out)
{
	int y, mo, d, h = 0, mi = 0;
	double sec = 0;
	if (sscanf(s, "%d-%d-%d %d:%d:%lf", &y, &mo, &d, &h, &mi, &sec) < 3 && 
	    sscanf(s, "%d-%d-%dT%d:%d:%lf", &y, &mo, &d, &h, &mi, &sec) < 3)
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec >= 61)
		return -1;
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi,
	                 .tm_sec = (int)sec };
	*out = (int64_t)timegm(&tm);
	return 0;
}

static void series_free(series *s)
{
	free(s->ts);
	free(s->value);
	free(s->time);
}

/* Reads timestamp,value rows; a bad row is an error naming its line. */
static int read_series(FILE *in, const char *name, series *s)
{
	memset(s, 0, sizeof(*s));
	char line[LINE_MAX_LEN];
	size_t cap = 0;
	unsigned long lineno = 0;
	while (fgets(line, sizeof(line), in)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(in)) {
			fprintf(stderr, PROG ": %s: line %lu: longer than %d bytes\n", name, lineno, LINE_MAX_LEN);
			return -1;
		}
		line[strcspn(line, "\r\n")] = '\0';
		if (!line[0] || (lineno == 1 && strncmp(line, "timestamp", 9) == 0))
			continue;
		char *comma = strchr(line, ',');
		char *end = NULL;
		double v = comma ? strtod(comma + 1, &end) : NAN;
		int64_t t = 0;
		if (!comma || (size_t)(comma - line) >= 32 || !end || end == comma + 1 || (*end && *end != ',') ||
		    !isfinite(v)) {
			fprintf(stderr, PROG ": %s: line %lu: expected timestamp,value\n", name, lineno);
			return -1;
		}
		*comma = '\0';
		if (parse_time(line, &t) != 0) {
			fprintf(stderr, PROG ": %s: line %lu: bad timestamp '%.32s'\n", name, lineno, line);
			return -1;
		}
		if (s->n == cap) {
			cap = cap ? cap * 2 : 4096;
			s->ts = realloc(s->ts, cap * sizeof(*s->ts));
			s->value = realloc(s->value, cap * sizeof(*s->value));
			s->time = realloc(s->time, cap * sizeof(*s->time));
			if (!s->ts || !s->value || !s->time) {
				fprintf(stderr, PROG ": out of memory\n");
				return -1;
			}
		}
		snprintf(s->ts[s->n], 32, "%.31s", line);
		s->value[s->n] = v;
		s->time[s->n] = t;
		s->n++;
	}
	return 0;
}

/* Scores a series; returns the seconds the model steps took. */
static double detect(const series *s, const options *o, double *scores)
{
	if (s->n == 0) {
		fprintf(stderr, PROG ": no values to score (an empty series)\n");
		return -2;
	}
	double lo = INFINITY, hi = -INFINITY;
	for (size_t i = 0; i < s->n; i++) {
		lo = fmin(lo, s->value[i]);
		hi = fmax(hi, s->value[i]);
	}
	if (!isfinite(hi - lo)) {
		fprintf(stderr, PROG ": values span more than a double holds; cannot encode them\n");
		return -2;
	}
	htm_params p = o->overrides;
	p.seed = o->seed;
	p.time_of_day = o->tod;
	p.resolution = fmax(0.001, (hi - lo) * 1.4 / o->buckets);
	size_t probation = (size_t)fmin(floor(0.15 * (double)s->n), 750);
	p.learning_period = (uint32_t)(probation / 2);
	p.estimation_samples = (uint32_t)(probation - probation / 2);
	htm_model *m = htm_new(&p);
	if (!m) {
		fprintf(stderr, PROG ": model parameters out of range\n");
		return -2;
	}
	double seen_lo = NAN, seen_hi = NAN;
	int64_t started = clock_mono_ns();
	for (size_t i = 0; i < s->n; i++) {
		double v = s->value[i];
		htm_result r;
		htm_step(m, v, s->time[i], true, &r);
		bool spatial = false;
		if (!isnan(seen_lo) && seen_hi > seen_lo) {
			double tol = (seen_hi - seen_lo) * 0.05;
			spatial = v > seen_hi + tol || v < seen_lo - tol;
		}
		if (isnan(seen_lo) || v < seen_lo)
			seen_lo = v;
		if (isnan(seen_hi) || v > seen_hi)
			seen_hi = v;
		scores[i] = o->raw ? r.raw_anomaly : (spatial ? 1.0 : r.log_likelihood);
	}
	htm_free(m);
	return (double)(clock_mono_ns() - started) / 1e9;
}

static int write_scores(FILE *out, const series *s, const double *scores)
{
	fputs("timestamp,value,anomaly_score\n", out);
	for (size_t i = 0; i < s->n; i++)
		fprintf(out, "%s,%.17g,%.10f\n", s->ts[i], s->value[i], scores[i]);
	return ferror(out) ? -1 : 0;
}

static int run_file(const char *in_path, const char *out_path, const options *o, double *secs, size_t *steps)
{
	FILE *in = strcmp(in_path, "-") == 0 ? stdin : fopen(in_path, "r");
	if (!in) {
		fprintf(stderr, PROG ": %s: %s\n", in_path, strerror(errno));
		return 1;
	}
	series s;
	int rc = read_series(in, in_path, &s);
	if (in != stdin)
		fclose(in);
	if (rc != 0) {
		series_free(&s);
		return 1;
	}
	double *scores = malloc((s.n ? s.n : 1) * sizeof(*scores));
	double t = scores ? detect(&s, o, scores) : -1;
	if (t < 0) {
		if (t > -2) /* detect says what went wrong itself */
			fprintf(stderr, PROG ": out of memory\n");
		free(scores);
		series_free(&s);
		return 1;
	}
	FILE *out = out_path && strcmp(out_path, "-") != 0 ? fopen(out_path, "w") : stdout;
	if (!out || write_scores(out, &s, scores) != 0 || (out != stdout && fclose(out) != 0)) {
		fprintf(stderr, PROG ": %s: cannot write\n", out_path ? out_path : "stdout");
		free(scores);
		series_free(&s);
		return 1;
	}
	*secs += t;
	*steps += s.n;
	free(scores);
	series_free(&s);
	return 0;
}

static int run_corpus(const char *data, const char *results, const options *o)
{
	DIR *d = opendir(data);
	if (!d) {
		fprintf(stderr, PROG ": %s: %s\n", data, strerror(errno));
		return 1;
	}
	mkdir(results, 0755);
	double secs = 0;
	size_t steps = 0, files = 0;
	struct dirent *cat;
	int rc = 0;
	while (rc == 0 && (cat = readdir(d))) {
		if (cat->d_name[0] == '.')
			continue;
		char catdir[4096], outdir[4096];
		snprintf(catdir, sizeof(catdir), "%s/%s", data, cat->d_name);
		snprintf(outdir, sizeof(outdir), "%s/%s", results, cat->d_name);
		DIR *c = opendir(catdir);
		if (!c)
			continue;
		mkdir(outdir, 0755);
		struct dirent *f;
		while (rc == 0 && (f = readdir(c))) {
			size_t l = strlen(f->d_name);
			if (l < 5 || strcmp(f->d_name + l - 4, ".csv") != 0)
				continue;
			char in[8192], out[8192];
			snprintf(in, sizeof(in), "%s/%s", catdir, f->d_name);
			snprintf(out, sizeof(out), "%s/htm_%s", outdir, f->d_name);
			rc = run_file(in, out, o, &secs, &steps);
			files++;
		}
		closedir(c);
	}
	closedir(d);
	if (rc == 0)
		printf("%zu files, %zu steps, %.2f us per step\n", files, steps, steps ? secs * 1e6 / (double)steps : 0.0);
	return rc;
}

int main(int argc, char **argv)
{
	/* Tuned on NAB (see the README): no time of day, 200 buckets. */
	options o = { false, false, 42, 200.0, htm_params_default(), false };
	const char *args[2] = { NULL, NULL };
	int nargs = 0;
	bool corpus = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			printf("usage: " PROG " [--raw] [--time-of-day] [--buckets N] [--seed N] [--param NAME=VALUE]\n"
			       "                  [INPUT_CSV [OUTPUT_CSV]]\n"
			       "       " PROG " [options] --corpus DATA_DIR RESULTS_DIR\n"
			       "Scores a timestamp,value series with the HTM model; writes\n"
			       "timestamp,value,anomaly_score.  '-' or nothing: stdin / stdout.\n"
			       "  --raw             the raw anomaly score, not the log likelihood\n"
			       "  --time-of-day     also encode the time of day (off: better on NAB)\n"
			       "  --buckets N       the value range in N encoder buckets (default 200)\n"
			       "  --seed N          the model's random seed (default 42; a seed gives the same output every run)\n"
			       "  --param N=V       override a model parameter (htm/htm.h)\n"
			       "  --model-size      print a default model's size and exit\n");
			return 0;
		} else if (!strcmp(a, "--raw"))
			o.raw = true;
		else if (!strcmp(a, "--no-time-of-day"))
			o.tod = false;
		else if (!strcmp(a, "--time-of-day"))
			o.tod = true;
		else if (!strcmp(a, "--model-size")) {
			htm_params p = htm_params_default();
			htm_model *m = htm_new(&p);
			if (!m)
				return 1;
			printf("model: %zu bytes in memory, %zu bytes saved\n", htm_memory(m), htm_state_size(m));
			htm_free(m);
			return 0;
		}
		else if (!strcmp(a, "--corpus"))
			corpus = true;
		else if (!strcmp(a, "--param")) {
			if (i + 1 >= argc || set_param(&o.overrides, argv[++i]) != 0) {
				fprintf(stderr, PROG ": --param: give NAME=VALUE of a model parameter\n");
				return 2;
			}
		} else if (!strcmp(a, "--buckets")) {
			char *end;
			if (i + 1 >= argc || (o.buckets = strtod(argv[++i], &end), *end) || !(o.buckets >= 1 && o.buckets <= 1e6)) {
				fprintf(stderr, PROG ": --buckets needs a number in [1, 1e6]\n");
				return 2;
			}
		}
		else if (!strcmp(a, "--seed")) {
			char *end;
			if (i + 1 >= argc || (o.seed = strtoull(argv[++i], &end, 10), *end) || !argv[i][0]) {
				fprintf(stderr, PROG ": --seed needs a non-negative integer\n");
				return 2;
			}
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, PROG ": unknown option '%.64s' (see --help)\n", a);
			return 2;
		} else if (nargs < 2)
			args[nargs++] = a;
		else {
			fprintf(stderr, PROG ": too many arguments (see --help)\n");
			return 2;
		}
	}
	if (corpus) {
		if (nargs != 2) {
			fprintf(stderr, PROG ": --corpus needs DATA_DIR RESULTS_DIR\n");
			return 2;
		}
		return run_corpus(args[0], args[1], &o);
	}
	double secs = 0;
	size_t steps = 0;
	return run_file(args[0] ? args[0] : "-", args[1], &o, &secs, &steps);
}
