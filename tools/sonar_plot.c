/* sonar_plot.c - charts of the agent's logs, drawn by gnuplot:
 *   sonar-plot [--log-dir DIR] [--host HOST] [--from TIME] [--to TIME]
 *              [--out DIR] [--size WxH]
 * Per host, HOST.png: the response time over time (log scale) with phi and
 * the HTM anomaly score beneath it and needs-attention periods shaded; and
 * distribution.png: the distributions of response times and of phi over
 * the hosts shown, as the CloudSonar README shows them.
 *
 * The CSV files are read strictly (a bad line is reported with its number
 * and skipped); gnuplot (Debian: gnuplot-nox) is run on a script and data
 * files written to a temporary folder, which is removed after. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/resolver.h"
#include "agent/timefmt.h"
#include "agent/badopt.h"

#define PROG "sonar-plot"
#define MAX_LINE 4096
#define MAX_HOSTS 1000
#define BAD_LINES_SHOWN 10

typedef struct {
	char name[256];
	FILE *rtt, *phi, *anomaly, *lost; /* data files in the work folder */
	double tmin, tmax;           /* the host's time span, seconds */
	double *shade;               /* needs-attention periods: start, end pairs (s) */
	size_t nshade, shade_cap;
	size_t nrtt, nanomaly, nlost;
	bool in_attention;
	int64_t attention_since;
	double rtt_min, rtt_max;
} host_data;

typedef struct {
	const char *log_dir, *only_host, *out_dir;
	int64_t from_ms, to_ms;
	int width, height;
	char work[64];
	host_data *hosts;
	size_t nhosts;
	FILE *all_rtt, *all_phi;
	size_t bad_lines;
	int64_t last_ms; /* the newest time seen: open attention periods end there */
} plot;

static void usage(FILE *out)
{
	fputs("usage: " PROG " [--log-dir DIR] [--host HOST] [--from TIME] [--to TIME] [--out DIR] [--size WxH]\n"
	      "Draws PNG charts of the agent's logs (fd.csv, htm.csv, attention.csv) with gnuplot:\n"
	      "HOST.png per host (response time, phi, anomaly score, needs-attention shaded) and\n"
	      "distribution.png (response times and phi).\n\n"
	      "  --log-dir DIR   the agent's log folder (default logs)\n"
	      "  --host HOST     only this host (default: every host in fd.csv)\n"
	      "  --from TIME     from this time on, UTC (2026-11-23T10:00:00Z, 2026-11-23 10:00, 2026-11-23)\n"
	      "  --to TIME       up to this time\n"
	      "  --out DIR       where the PNGs go (default plots)\n"
	      "  --size WxH      pixels per chart (default 1200x800)\n"
	      "  -h, --help      this help\n",
	      out);
}

/* Splits a CSV line in place into exactly n fields; false otherwise. */
static bool split(char *line, char **f, int n)
{
	int k = 0;
	f[k++] = line;
	for (char *p = line; *p; p++) {
		if (*p == ',') {
			if (k == n)
				return false;
			*p = '\0';
			f[k++] = p + 1;
		}
	}
	return k == n;
}

static bool number(const char *s, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (!s[0] || *end || errno || !isfinite(v) || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static void bad(plot *pl, const char *file, unsigned long lineno, const char *why)
{
	if (pl->bad_lines++ < BAD_LINES_SHOWN)
		fprintf(stderr, PROG ": %s: line %lu: %s; skipped\n", file, lineno, why);
}

static host_data *host_for(plot *pl, const char *name, bool create)
{
	for (size_t i = 0; i < pl->nhosts; i++)
		if (strcmp(pl->hosts[i].name, name) == 0)
			return &pl->hosts[i];
	if (!create || pl->nhosts == MAX_HOSTS || (pl->only_host && strcmp(name, pl->only_host) != 0))
		return NULL;
	host_data *h = &pl->hosts[pl->nhosts];
	memset(h, 0, sizeof(*h));
	snprintf(h->name, sizeof(h->name), "%s", name);
	char path[512];
	const char *kinds[] = { "rtt", "phi", "anomaly", "lost" };
	FILE **files[] = { &h->rtt, &h->phi, &h->anomaly, &h->lost };
	h->tmin = INFINITY;
	h->tmax = -INFINITY;
	for (int k = 0; k < 4; k++) {
		snprintf(path, sizeof(path), "%s/%zu.%s", pl->work, pl->nhosts, kinds[k]);
		if (!(*files[k] = fopen(path, "w"))) {
			fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
			return NULL;
		}
	}
	h->rtt_min = INFINITY;
	h->rtt_max = 0;
	pl->nhosts++;
	return h;
}

/* A needs-attention period; past 10,000 a host, the rest are not shaded. */
static void add_shade(host_data *h, double from, double to)
{
	if (h->nshade == h->shade_cap) {
		size_t cap = h->shade_cap ? h->shade_cap * 2 : 16;
		double *grown = cap <= 20000 ? realloc(h->shade, cap * 2 * sizeof(double)) : NULL;
		if (!grown)
			return;
		h->shade = grown;
		h->shade_cap = cap;
	}
	h->shade[2 * h->nshade] = from;
	h->shade[2 * h->nshade + 1] = to;
	h->nshade++;
}

typedef enum { FD_CSV, HTM_CSV, ATTENTION_CSV } log_kind;

/* The columns each log must have, in the order take_row reads them; a
 * file's header says where they are, and any others (attention.csv's
 * reason, columns a later version adds) are skipped. */
#define LOG_COLUMNS 5
#define FILE_COLUMNS_MAX 16
static const struct { const char *file, *columns[LOG_COLUMNS]; } LOGS[] = {
	{ "fd.csv", { "timestamp", "host", "rtt_ns", "status", "phi" } },
	{ "htm.csv", { "timestamp", "host", "log10_rtt_us", "prediction", "anomaly_score" } },
	{ "attention.csv", { "timestamp", "host", "state", "phi", "anomaly_score" } },
};

/* Where each of kind's columns is in a header line (split in place);
 * false, with the missing column's name in *missing, when one is not. */
static bool map_columns(log_kind kind, char *header, int *at, int *ncols, const char **missing)
{
	char *f[FILE_COLUMNS_MAX];
	int n = 0;
	f[n++] = header;
	for (char *p = header; *p && n < FILE_COLUMNS_MAX; p++)
		if (*p == ',') {
			*p = '\0';
			f[n++] = p + 1;
		}
	*ncols = n;
	for (int c = 0; c < LOG_COLUMNS; c++) {
		at[c] = -1;
		for (int k = 0; k < n; k++)
			if (strcmp(f[k], LOGS[kind].columns[c]) == 0)
				at[c] = k;
		if (at[c] < 0) {
			*missing = LOGS[kind].columns[c];
			return false;
		}
	}
	return true;
}

/* One validated row into the host's data files. */
static void take_row(plot *pl, log_kind kind, char **f, const char *file, unsigned long lineno)
{
	int64_t ms;
	if (timefmt_parse(f[0], strlen(f[0]), &ms) != 0) {
		bad(pl, file, lineno, "bad timestamp");
		return;
	}
	if (!host_name_valid(f[1])) {
		bad(pl, file, lineno, "bad host");
		return;
	}
	if (ms < pl->from_ms || ms > pl->to_ms)
		return;
	host_data *h = host_for(pl, f[1], kind == FD_CSV);
	if (!h)
		return;
	double t = (double)ms / 1000.0, v;
	if (ms > pl->last_ms)
		pl->last_ms = ms;
	if (kind == FD_CSV) {
		double phi;
		bool ok_status = strcmp(f[3], "OK") == 0;
		if (!ok_status && strcmp(f[3], "TIMEOUT") != 0 && strcmp(f[3], "ERROR") != 0) {
			bad(pl, file, lineno, "status is not OK, TIMEOUT or ERROR");
			return;
		}
		if (!number(f[4], 0, 1e6, &phi)) {
			bad(pl, file, lineno, "bad phi");
			return;
		}
		if (!ok_status) {
			fprintf(h->lost, "%.3f\n", t);
			h->nlost++;
		}
		if (t < h->tmin)
			h->tmin = t;
		if (t > h->tmax)
			h->tmax = t;
		if (ok_status) {
			if (!number(f[2], 1, 1e13, &v)) {
				bad(pl, file, lineno, "bad rtt_ns");
				return;
			}
			double ms_rtt = v / 1e6;
			fprintf(h->rtt, "%.3f %.6f\n", t, ms_rtt);
			fprintf(pl->all_rtt, "%.6f\n", ms_rtt);
			h->nrtt++;
			if (ms_rtt < h->rtt_min)
				h->rtt_min = ms_rtt;
			if (ms_rtt > h->rtt_max)
				h->rtt_max = ms_rtt;
		}
		fprintf(h->phi, "%.3f %.3f\n", t, phi);
		fprintf(pl->all_phi, "%.3f\n", phi);
	} else if (kind == HTM_CSV) {
		if (!number(f[4], 0, 1, &v)) {
			bad(pl, file, lineno, "bad anomaly_score");
			return;
		}
		fprintf(h->anomaly, "%.3f %.4f\n", t, v);
		h->nanomaly++;
	} else {
		bool na = strcmp(f[2], "NEEDS_ATTENTION") == 0;
		if (!na && strcmp(f[2], "HEALTHY") != 0 && strcmp(f[2], "PENDING") != 0 && strcmp(f[2], "DEAD") != 0) {
			bad(pl, file, lineno, "bad state");
			return;
		}
		if (na && !h->in_attention) {
			h->in_attention = true;
			h->attention_since = ms;
		} else if (!na && h->in_attention) {
			h->in_attention = false;
			add_shade(h, (double)h->attention_since / 1000.0, t);
		}
	}
}

/* Reads one log; a missing htm.csv or attention.csv is fine (--no-htm). */
static int read_log(plot *pl, log_kind kind)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", pl->log_dir, LOGS[kind].file);
	FILE *f = fopen(path, "r");
	if (!f) {
		if (kind == FD_CSV) {
			fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
			return -1;
		}
		return 0;
	}
	char line[MAX_LINE + 2];
	unsigned long lineno = 0;
	/* before any header: the columns in their first version's order */
	int at[LOG_COLUMNS] = { 0, 1, 2, 3, 4 }, ncols = LOG_COLUMNS;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		size_t len = strlen(line);
		if (len && line[len - 1] != '\n' && !feof(f)) {
			bad(pl, path, lineno, "longer than 4096 bytes");
			int c;
			while ((c = fgetc(f)) != EOF && c != '\n')
				;
			continue;
		}
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0)
			continue;
		if (strlen(line) != len) {
			bad(pl, path, lineno, "contains a NUL byte");
			continue;
		}
		if (strncmp(line, "timestamp,", 10) == 0) { /* a header: the columns from here on */
			const char *missing = NULL;
			if (!map_columns(kind, line, at, &ncols, &missing)) {
				fprintf(stderr, PROG ": %s: line %lu: the header has no column %s; skipping the file\n", path,
				        lineno, missing);
				break;
			}
			continue;
		}
		char *all[FILE_COLUMNS_MAX], *fields[LOG_COLUMNS];
		if (!split(line, all, ncols)) {
			char what[64];
			snprintf(what, sizeof(what), "not %d comma-separated fields", ncols);
			bad(pl, path, lineno, what);
			continue;
		}
		for (int c = 0; c < LOG_COLUMNS; c++)
			fields[c] = all[at[c]];
		take_row(pl, kind, fields, path, lineno);
	}
	fclose(f);
	return 0;
}

/* A file name from a host name: [A-Za-z0-9.-] kept, the rest '_'. */
static void file_name(const char *host, char *out, size_t len)
{
	size_t i = 0;
	for (; host[i] && i + 1 < len; i++) {
		char c = host[i];
		out[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-'
		         ? c : '_';
	}
	out[i] = '\0';
}

static void script_host(FILE *g, const plot *pl, size_t i)
{
	const host_data *h = &pl->hosts[i];
	char fname[300];
	file_name(h->name, fname, sizeof(fname));
	fprintf(g, "set output '%s/%s.png'\n", pl->out_dir, fname);
	fprintf(g, "set multiplot layout 2,1 title \"%s\" font ',14'\n", h->name);
	fprintf(g, "set lmargin 12\nset rmargin 12\n"); /* the panels' plot areas line up */
	/* needs-attention periods: shaded in both panels */
	fprintf(g, "unset object\n");
	for (size_t k = 0; k < h->nshade; k++)
		fprintf(g, "set object %zu rect from \"%.3f\", graph 0 to \"%.3f\", graph 1 "
		           "behind fc rgb '#f4a6a6' fs solid 0.5 noborder\n",
		        k + 1, h->shade[2 * k], h->shade[2 * k + 1]);
	/* both panels over the same span, so the shading lines up */
	double span = h->tmax > h->tmin ? h->tmax - h->tmin : 1;
	fprintf(g, "set xrange [\"%.3f\":\"%.3f\"]\n", h->tmin, h->tmin + span);
	fprintf(g, "set ylabel 'response time (ms)'\nset logscale y\nset format x ''\nset xlabel ''\n"
	           "set key top left\nset y2range [0:1]\nunset y2tics\nset ytics nomirror\nset yrange [*:*]\n");
	fprintf(g, "plot '%s/%zu.rtt' using 1:2 with points pt 7 ps 0.3 lc rgb '#1f5fa8' title 'RTT'", pl->work, i);
	if (h->nlost)
		fprintf(g, ", '%s/%zu.lost' using 1:(0.97) axes x1y2 with points pt 2 ps 0.8 lc rgb '#c00000' title 'lost'",
		        pl->work, i);
	fputc('\n', g);
	/* phi is capped at 10 on the chart: a lost probe scores the timeout,
	 * thousands of times the usual response, and would flatten the rest */
	fprintf(g, "unset logscale y\nset yrange [0:10]\nset ylabel 'phi (capped at 10)'\nset y2label 'anomaly score'\n"
	           "set y2tics 0.25\nset format x '%s'\nset xlabel 'time (UTC)'\n",
	        span > 2 * 86400 ? "%m-%d %H:%M" : span > 3600 ? "%H:%M" : "%H:%M:%S");
	fprintf(g, "plot '%s/%zu.phi' using 1:($2 > 10 ? 10 : $2) with lines lw 1 lc rgb '#d95f02' title 'phi', "
	           "1 with lines dt 2 lc rgb '#d95f02' title 'phi threshold'",
	        pl->work, i);
	if (h->nanomaly)
		fprintf(g, ", '%s/%zu.anomaly' using 1:2 axes x1y2 with lines lw 1 lc rgb '#1b9e77' title 'anomaly score'",
		        pl->work, i);
	fprintf(g, "\nunset multiplot\nunset y2label\nunset y2tics\nset y2range [*:*]\nset yrange [*:*]\n");
}

static int write_script(plot *pl, const char *path)
{
	FILE *g = fopen(path, "w");
	if (!g)
		return -1;
	fprintf(g, "set terminal pngcairo size %d,%d font 'sans,10'\n", pl->width, pl->height);
	fprintf(g, "set datafile separator ' '\nset grid\n");
	fprintf(g, "set xdata time\nset timefmt '%%s'\n");
	for (size_t i = 0; i < pl->nhosts; i++)
		if (pl->hosts[i].nrtt > 0)
			script_host(g, pl, i);
	/* the distributions, as the CloudSonar README shows them */
	fprintf(g, "unset object\nunset lmargin\nunset rmargin\nset xdata\nunset logscale\nset xrange [*:*]\nset yrange [*:*]\nunset y2tics\n"
	           "unset key\nset format x '%%g'\nset output '%s/distribution.png'\n",
	        pl->out_dir);
	fprintf(g, "set multiplot layout 2,1 title 'distributions (%zu host%s)' font ',14'\n", pl->nhosts,
	        pl->nhosts == 1 ? "" : "s");
	/* response times: the tail beyond six interquartile ranges above the
	 * upper quartile goes into the last bar, so one outlier does not
	 * squash the shape */
	fprintf(g, "stats '%s/all.rtt' using 1 nooutput\n"
	           "top = STATS_up_quartile + 6 * (STATS_up_quartile - STATS_lo_quartile)\n"
	           "if (top > STATS_max || top <= STATS_min) top = STATS_max\n"
	           "bw = (top - STATS_min) / 60.0\nif (bw <= 0) bw = 0.001\n"
	           "bin(x, w) = w * floor(x / w) + w / 2.0\nset style fill solid 0.6\nset boxwidth bw absolute\n"
	           /* from the first bar's edge, never below 0 ms */
	           "lo = bw * floor(STATS_min / bw)\nset xrange [lo:top + bw]\n",
	        pl->work);
	fprintf(g, "set xlabel 'response time (ms); the last bar holds the tail'\nset ylabel 'responses'\n"
	           "plot '%s/all.rtt' using (bin($1 > top ? top : $1, bw)):(1.0) smooth frequency with boxes "
	           "lc rgb '#1f5fa8' notitle\n",
	        pl->work);
	/* phi: 0 to 10 by 0.2; a lost probe's phi (thousands) into the last bar */
	fprintf(g, "bw = 0.2\nset boxwidth bw absolute\nset xrange [0:10.2]\n"
	           "set xlabel 'phi (10 and above in the last bar)'\nset ylabel 'probes'\n"
	           "plot '%s/all.phi' using (bin($1 > 10 ? 10 : $1, bw)):(1.0) smooth frequency with boxes "
	           "lc rgb '#d95f02' notitle\nunset multiplot\n",
	        pl->work);
	return fclose(g) == 0 ? 0 : -1;
}

static int run_gnuplot(const char *script)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		execlp("gnuplot", "gnuplot", script, (char *)NULL);
		fprintf(stderr, PROG ": cannot run gnuplot (%s): install it with: apt-get install gnuplot-nox\n",
		        strerror(errno));
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void remove_work(plot *pl)
{
	char path[600];
	for (size_t i = 0; i < pl->nhosts; i++) {
		const char *kinds[] = { "rtt", "phi", "anomaly", "lost" };
		free(pl->hosts[i].shade);
		for (int k = 0; k < 4; k++) {
			snprintf(path, sizeof(path), "%s/%zu.%s", pl->work, i, kinds[k]);
			unlink(path);
		}
	}
	const char *rest[] = { "all.rtt", "all.phi", "plot.gp" };
	for (int k = 0; k < 3; k++) {
		snprintf(path, sizeof(path), "%s/%s", pl->work, rest[k]);
		unlink(path);
	}
	rmdir(pl->work);
}

static int parse_time(const char *opt, const char *s, int64_t *ms)
{
	if (timefmt_parse_user(s, ms) == 0)
		return 0;
	fprintf(stderr, PROG ": %s: '%.64s' is not a UTC time like 2026-11-23T10:00:00Z, 2026-11-23 10:00 or 2026-11-23\n",
	        opt, s);
	return -1;
}

int main(int argc, char **argv)
{
	plot pl = { .log_dir = "logs", .out_dir = "plots", .from_ms = INT64_MIN, .to_ms = INT64_MAX,
	            .width = 1200, .height = 800 };
	static const struct option opts[] = {
		{ "log-dir", required_argument, NULL, 'l' }, { "host", required_argument, NULL, 'H' },
		{ "from", required_argument, NULL, 'f' },    { "to", required_argument, NULL, 't' },
		{ "out", required_argument, NULL, 'o' },     { "size", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },          { NULL, 0, NULL, 0 },
	};
	opterr = 0;
	int c;
	for (int at = optind; (c = getopt_long_only(argc, argv, ":h", opts, NULL)) != -1; at = optind) {
		switch (c) {
		case 'l': pl.log_dir = optarg; break;
		case 'H':
			if (!host_name_valid(optarg)) {
				fprintf(stderr, PROG ": --host: '%.64s' is not a host name or address\n", optarg);
				return 2;
			}
			pl.only_host = optarg;
			break;
		case 'f':
			if (parse_time("--from", optarg, &pl.from_ms) != 0)
				return 2;
			break;
		case 't':
			if (parse_time("--to", optarg, &pl.to_ms) != 0)
				return 2;
			break;
		case 'o': pl.out_dir = optarg; break;
		case 's': {
			char *x;
			long w = strtol(optarg, &x, 10), h = *x == 'x' ? strtol(x + 1, &x, 10) : 0;
			if (*x || w < 200 || w > 8000 || h < 200 || h > 8000) {
				fprintf(stderr, PROG ": --size: '%.64s' is not WxH in pixels, 200..8000 each\n", optarg);
				return 2;
			}
			pl.width = (int)w;
			pl.height = (int)h;
			break;
		}
		case 'h': usage(stdout); return 0;
		default: cli_bad_option(PROG, c, argv, at); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument '%.64s' (see --help)\n", argv[optind]);
		return 2;
	}
	if (pl.from_ms > pl.to_ms) {
		fprintf(stderr, PROG ": --from is after --to\n");
		return 2;
	}
	if (strchr(pl.out_dir, '\'') || strchr(pl.out_dir, '\n')) {
		fprintf(stderr, PROG ": --out: a folder name with a quote or newline is not supported\n");
		return 2;
	}
	if (mkdir(pl.out_dir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, PROG ": --out %s: %s\n", pl.out_dir, strerror(errno));
		return 1;
	}
	snprintf(pl.work, sizeof(pl.work), "/tmp/sonar-plot.XXXXXX");
	pl.hosts = calloc(MAX_HOSTS, sizeof(*pl.hosts));
	if (!pl.hosts || !mkdtemp(pl.work)) {
		fprintf(stderr, PROG ": cannot make a work folder in /tmp: %s\n", strerror(errno));
		free(pl.hosts);
		return 1;
	}
	char path[600];
	snprintf(path, sizeof(path), "%s/all.rtt", pl.work);
	pl.all_rtt = fopen(path, "w");
	snprintf(path, sizeof(path), "%s/all.phi", pl.work);
	pl.all_phi = fopen(path, "w");
	int rc = pl.all_rtt && pl.all_phi ? 0 : 1;
	for (int k = FD_CSV; rc == 0 && k <= ATTENTION_CSV; k++)
		if (read_log(&pl, (log_kind)k) != 0)
			rc = 1;
	size_t with_rtt = 0;
	for (size_t i = 0; i < pl.nhosts; i++) {
		host_data *h = &pl.hosts[i];
		if (h->in_attention) /* still needing attention at the end */
			add_shade(h, (double)h->attention_since / 1000.0, (double)pl.last_ms / 1000.0);
		with_rtt += h->nrtt > 0;
	}
	for (size_t i = 0; i < pl.nhosts; i++) {
		host_data *h = &pl.hosts[i];
		FILE *files[] = { h->rtt, h->phi, h->anomaly, h->lost };
		for (int k = 0; k < 4; k++)
			if (files[k])
				fclose(files[k]);
	}
	if (pl.all_rtt)
		fclose(pl.all_rtt);
	if (pl.all_phi)
		fclose(pl.all_phi);
	if (rc == 0 && with_rtt == 0) {
		fprintf(stderr, PROG ": %s/fd.csv: no answered probe%s%s in the time range: nothing to draw\n",
		        pl.log_dir, pl.only_host ? " of " : "", pl.only_host ? pl.only_host : "");
		rc = 1;
	}
	snprintf(path, sizeof(path), "%s/plot.gp", pl.work);
	if (rc == 0 && write_script(&pl, path) != 0) {
		fprintf(stderr, PROG ": cannot write the gnuplot script in %s\n", pl.work);
		rc = 1;
	}
	if (rc == 0) {
		int g = run_gnuplot(path);
		if (g != 0) {
			if (g != 127)
				fprintf(stderr, PROG ": gnuplot failed (exit %d)\n", g);
			rc = 1;
		}
	}
	if (rc == 0)
		fprintf(stderr, PROG ": %zu host charts and distribution.png in %s%s\n", with_rtt, pl.out_dir,
		        pl.bad_lines ? " (some lines were skipped)" : "");
	if (pl.bad_lines > BAD_LINES_SHOWN)
		fprintf(stderr, PROG ": %zu bad lines in all\n", pl.bad_lines);
	remove_work(&pl);
	free(pl.hosts);
	return rc;
}
