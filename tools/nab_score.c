/* nab_score.c - scores anomaly detector results as the Numenta Anomaly
 * Benchmark does (numenta/NAB, nab/sweeper.py and the runner's
 * normalisation):
 *
 *   nab-score [-labels FILE] [-profiles FILE] [-data DIR] [-v] RESULTS_DIR
 *
 * RESULTS_DIR holds, per data file CATEGORY/NAME.csv, a result file
 * CATEGORY/<detector>_NAME.csv (or CATEGORY/NAME.csv) with the columns
 * timestamp and anomaly_score.  For each profile: every row gets NAB's
 * sweep score (a scaled sigmoid of its position relative to the anomaly
 * windows; the probationary first 15% is left out), the threshold that
 * maximises the corpus-wide score is found by sweeping every distinct
 * anomaly score, each file is scored at that threshold, and the sum is
 * normalised between the null detector (every window missed) and the perfect
 * one (every window caught at its first row): 100 (raw + fn N)/(tp N + fn N).
 * Prints one line per profile: name, normalised score, threshold, raw score.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#define PROG "nab-score"

typedef struct {
	double tp, fp, fn;
	const char *name;
} profile;

typedef struct {
	int64_t *ts;     /* microseconds since the epoch */
	double *score;
	size_t n;
	int64_t (*windows)[2];
	size_t nwindows;
	char *name;
} series;

typedef struct {
	double anomaly;
	double sweep;
	int window;      /* global window id, -1 outside, -2 probationary */
} point;

static int parse_ts(const char *s, int64_t *out)
{
	int y, mo, d, h = 0, mi = 0, n = 0;
	double sec = 0;
	if (sscanf(s, "%d-%d-%d %d:%d:%lf%n", &y, &mo, &d, &h, &mi, &sec, &n) < 3)
		return -1;
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi };
	time_t t = timegm(&tm);
	*out = (int64_t)t * 1000000 + (int64_t)llround(sec * 1e6);
	return 0;
}

static double scaled_sigmoid(double x)
{
	if (x >= 3.0)
		return -1.0;
	return 2.0 / (1.0 + exp(5.0 * x)) - 1.0;
}

/* Reads a result CSV: the timestamp and anomaly_score columns. */
static int read_results(const char *path, series *s)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
		return -1;
	}
	char line[4096];
	int ts_col = -1, score_col = -1;
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		fprintf(stderr, PROG ": %s: empty\n", path);
		return -1;
	}
	line[strcspn(line, "\r\n")] = '\0';
	int col = 0;
	for (char *save = NULL, *t = strtok_r(line, ",", &save); t; t = strtok_r(NULL, ",", &save), col++) {
		if (strcmp(t, "timestamp") == 0)
			ts_col = col;
		else if (strcmp(t, "anomaly_score") == 0)
			score_col = col;
	}
	if (ts_col < 0 || score_col < 0) {
		fclose(f);
		fprintf(stderr, PROG ": %s: no timestamp and anomaly_score columns\n", path);
		return -1;
	}
	size_t cap = 4096;
	s->ts = malloc(cap * sizeof(*s->ts));
	s->score = malloc(cap * sizeof(*s->score));
	s->n = 0;
	unsigned long lineno = 1;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		if (!line[0])
			continue;
		if (s->n == cap) {
			cap *= 2;
			s->ts = realloc(s->ts, cap * sizeof(*s->ts));
			s->score = realloc(s->score, cap * sizeof(*s->score));
		}
		char *fields[64];
		int nf = 0;
		for (char *p = line; nf < 64;) {
			fields[nf++] = p;
			char *c = strchr(p, ',');
			if (!c)
				break;
			*c = '\0';
			p = c + 1;
		}
		char *end;
		if (ts_col >= nf || score_col >= nf || parse_ts(fields[ts_col], &s->ts[s->n]) != 0) {
			fprintf(stderr, PROG ": %s: line %lu: bad row\n", path, lineno);
			fclose(f);
			return -1;
		}
		s->score[s->n] = strtod(fields[score_col], &end);
		if (end == fields[score_col] || !isfinite(s->score[s->n])) {
			fprintf(stderr, PROG ": %s: line %lu: bad anomaly_score\n", path, lineno);
			fclose(f);
			return -1;
		}
		s->n++;
	}
	fclose(f);
	return 0;
}

static long index_of(const series *s, int64_t ts)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->ts[i] == ts)
			return (long)i;
	return -1;
}

/* NAB's calcSweepScore: one point per row. */
static void sweep(const series *s, const profile *p, int window_base, point *out)
{
	double max_tp = scaled_sigmoid(-1.0);
	double probation = fmin(floor(0.15 * (double)s->n), 0.15 * 5000);
	size_t next = 0;
	long cur_right = -1, prev_right = -1;
	double cur_width = 0, prev_width = 0;
	int cur_window = -1;
	for (size_t i = 0; i < s->n; i++) {
		if (next < s->nwindows && s->ts[i] == s->windows[next][0]) {
			long left = (long)i;
			cur_right = index_of(s, s->windows[next][1]);
			cur_width = (double)(cur_right - left + 1);
			cur_window = window_base + (int)next;
			next++;
		}
		double w;
		if (cur_window >= 0) {
			double pos = -(double)(cur_right - (long)i + 1) / cur_width;
			w = scaled_sigmoid(pos) * p->tp / max_tp;
		} else {
			double pos = prev_right < 0 ? 3.0 : fabs((double)(prev_right - (long)i)) / (prev_width - 1.0);
			w = scaled_sigmoid(pos) * p->fp;
		}
		out[i].anomaly = s->score[i];
		out[i].sweep = w;
		out[i].window = (double)i >= probation ? cur_window : -2;
		if (cur_window >= 0 && s->ts[i] == s->windows[next - 1][1]) {
			prev_right = (long)i;
			prev_width = cur_width;
			cur_window = -1;
		}
	}
}

static int cmp_desc(const void *a, const void *b)
{
	double x = ((const point *)a)->anomaly, y = ((const point *)b)->anomaly;
	return x < y ? 1 : x > y ? -1 : 0;
}

/* NAB's calcScoreByThreshold over the whole corpus: the best threshold. */
static double best_threshold(point *pts, size_t n, int nwindows, const profile *p, double *best_score)
{
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (pts[i].window != -2)
			pts[m++] = pts[i];
	qsort(pts, m, sizeof(*pts), cmp_desc);
	double *wbest = malloc((size_t)(nwindows ? nwindows : 1) * sizeof(double));
	bool *seen = calloc((size_t)(nwindows ? nwindows : 1), sizeof(bool));
	/* Windows start at -fn; only those with a scorable row count. */
	double fp = 0, windows_sum = 0;
	for (size_t i = 0; i < m; i++)
		if (pts[i].window >= 0 && !seen[pts[i].window]) {
			seen[pts[i].window] = true;
			wbest[pts[i].window] = -p->fn;
			windows_sum -= p->fn;
		}
	double cur = 1.1, best = -INFINITY, best_t = 1.1;
	for (size_t i = 0; i < m; i++) {
		if (pts[i].anomaly != cur) {
			double score = fp + windows_sum;
			if (score > best) {
				best = score;
				best_t = cur;
			}
			cur = pts[i].anomaly;
		}
		if (pts[i].window < 0)
			fp += pts[i].sweep;
		else if (pts[i].sweep > wbest[pts[i].window]) {
			windows_sum += pts[i].sweep - wbest[pts[i].window];
			wbest[pts[i].window] = pts[i].sweep;
		}
	}
	double score = fp + windows_sum;
	if (score > best) {
		best = score;
		best_t = cur;
	}
	free(wbest);
	free(seen);
	*best_score = best;
	return best_t;
}

/* One file's score at a threshold (NAB's scoreDataSet). */
static double score_file(const point *pts, size_t n, int window_base, size_t nwindows,
                         double threshold, const profile *p)
{
	double fp = 0, total = 0;
	double *wbest = malloc((nwindows ? nwindows : 1) * sizeof(double));
	bool *present = calloc(nwindows ? nwindows : 1, sizeof(bool));
	for (size_t i = 0; i < nwindows; i++)
		wbest[i] = -p->fn;
	for (size_t i = 0; i < n; i++) {
		if (pts[i].window == -2)
			continue;
		if (pts[i].window >= 0)
			present[pts[i].window - window_base] = true;
		if (pts[i].anomaly < threshold)
			continue;
		if (pts[i].window < 0)
			fp += pts[i].sweep;
		else if (pts[i].sweep > wbest[pts[i].window - window_base])
			wbest[pts[i].window - window_base] = pts[i].sweep;
	}
	total = fp;
	for (size_t i = 0; i < nwindows; i++)
		if (present[i])
			total += wbest[i];
	free(wbest);
	free(present);
	return total;
}

/* The result file of data file CATEGORY/NAME.csv in dir. */
static int find_result(const char *dir, const char *relpath, char *out, size_t outlen)
{
	const char *slash = strchr(relpath, '/');
	if (!slash)
		return -1;
	char catdir[4096];
	snprintf(catdir, sizeof(catdir), "%s/%.*s", dir, (int)(slash - relpath), relpath);
	snprintf(out, outlen, "%s/%s", catdir, slash + 1);
	FILE *f = fopen(out, "r");
	if (f) {
		fclose(f);
		return 0;
	}
	DIR *d = opendir(catdir);
	if (!d)
		return -1;
	struct dirent *e;
	size_t nl = strlen(slash + 1);
	int rc = -1;
	while ((e = readdir(d))) {
		size_t el = strlen(e->d_name);
		if (el > nl + 1 && strcmp(e->d_name + el - nl, slash + 1) == 0 && e->d_name[el - nl - 1] == '_') {
			snprintf(out, outlen, "%s/%s", catdir, e->d_name);
			rc = 0;
			break;
		}
	}
	closedir(d);
	return rc;
}

int main(int argc, char **argv)
{
	const char *labels = "../shared/nab/labels/combined_windows.json";
	const char *profiles = "../shared/nab/config/profiles.json";
	const char *dir = NULL;
	int verbose = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("usage: " PROG " [-labels FILE] [-profiles FILE] [-v] RESULTS_DIR\n"
			       "Scores anomaly detection results as the Numenta Anomaly Benchmark does;\n"
			       "prints the normalised score per profile.\n"
			       "  -labels FILE    NAB's labelled windows (default %s)\n"
			       "  -profiles FILE  NAB's cost profiles (default %s)\n"
			       "  -v              the score of every file too\n"
			       "  RESULTS_DIR     a detector's results, as NAB lays them out\n", labels, profiles);
			return 0;
		} else if (!strcmp(argv[i], "-labels") && i + 1 < argc)
			labels = argv[++i];
		else if (!strcmp(argv[i], "-profiles") && i + 1 < argc)
			profiles = argv[++i];
		else if (!strcmp(argv[i], "-v"))
			verbose = 1;
		else if (argv[i][0] == '-') {
			fprintf(stderr, PROG ": unknown option '%.64s' (see --help)\n", argv[i]);
			return 2;
		} else if (!dir)
			dir = argv[i];
		else {
			fprintf(stderr, PROG ": one RESULTS_DIR only (see --help)\n");
			return 2;
		}
	}
	if (!dir) {
		fprintf(stderr, PROG ": no RESULTS_DIR given (see --help)\n");
		return 2;
	}
	json_error_t je;
	json_t *wins = json_load_file(labels, 0, &je), *profs = json_load_file(profiles, 0, &je);
	if (!json_is_object(wins) || !json_is_object(profs)) {
		fprintf(stderr, PROG ": cannot read %s or %s: %s\n", labels, profiles, je.text);
		return 1;
	}
	size_t nfiles = json_object_size(wins), k = 0;
	series *ss = calloc(nfiles, sizeof(*ss));
	int nwindows = 0;
	int *base = calloc(nfiles, sizeof(int));
	const char *rel;
	json_t *wl;
	json_object_foreach(wins, rel, wl) {
		series *s = &ss[k];
		s->name = strdup(rel);
		char path[8192];
		if (find_result(dir, rel, path, sizeof(path)) != 0) {
			fprintf(stderr, PROG ": %s: no result file for %s\n", dir, rel);
			return 1;
		}
		if (read_results(path, s) != 0)
			return 1;
		s->nwindows = json_array_size(wl);
		s->windows = calloc(s->nwindows ? s->nwindows : 1, sizeof(*s->windows));
		for (size_t w = 0; w < s->nwindows; w++) {
			json_t *pair = json_array_get(wl, w);
			if (parse_ts(json_string_value(json_array_get(pair, 0)), &s->windows[w][0]) ||
			    parse_ts(json_string_value(json_array_get(pair, 1)), &s->windows[w][1])) {
				fprintf(stderr, PROG ": %s: bad window %zu of %s\n", labels, w, rel);
				return 1;
			}
		}
		base[k] = nwindows;
		nwindows += (int)s->nwindows;
		k++;
	}
	size_t total = 0;
	for (size_t i = 0; i < nfiles; i++)
		total += ss[i].n;
	point *all = malloc(total * sizeof(*all)), *work = malloc(total * sizeof(*all));
	static const char *const names[] = { "standard", "reward_low_FP_rate", "reward_low_FN_rate" };
	for (int pi = 0; pi < 3; pi++) {
		json_t *cm = json_object_get(json_object_get(profs, names[pi]), "CostMatrix");
		profile p = { json_number_value(json_object_get(cm, "tpWeight")),
		              json_number_value(json_object_get(cm, "fpWeight")),
		              json_number_value(json_object_get(cm, "fnWeight")), names[pi] };
		size_t off = 0;
		for (size_t i = 0; i < nfiles; i++) {
			sweep(&ss[i], &p, base[i], all + off);
			off += ss[i].n;
		}
		memcpy(work, all, total * sizeof(*all));
		double best;
		double t = best_threshold(work, total, nwindows, &p, &best);
		double raw = 0;
		off = 0;
		for (size_t i = 0; i < nfiles; i++) {
			double f = score_file(all + off, ss[i].n, base[i], ss[i].nwindows, t, &p);
			if (verbose)
				printf("  %-20s %-60s %10.4f\n", names[pi], ss[i].name, f);
			raw += f;
			off += ss[i].n;
		}
		double norm = 100.0 * (raw + p.fn * nwindows) / (p.tp * nwindows + p.fn * nwindows);
		printf("%-20s %6.2f  threshold %.10g  raw %.4f\n", names[pi], norm, t, raw);
	}
	for (size_t i = 0; i < nfiles; i++) {
		free(ss[i].ts);
		free(ss[i].score);
		free(ss[i].windows);
		free(ss[i].name);
	}
	free(ss);
	free(base);
	free(all);
	free(work);
	json_decref(wins);
	json_decref(profs);
	return 0;
}
