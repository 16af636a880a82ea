/* promfile.c - the node-exporter textfile; see promfile.h. */
#include "agent/promfile.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "pano/common/regfile.h"

/* A label value as the exposition format wants it: \ " and newline escaped. */
static void put_label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n') {
			fputs("\\n", f);
			continue;
		}
		fputc(*s, f);
	}
}

static void header(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Every label of one host's series, rendered once per file:
 * host="..",address="..",method=".."[,group=".."][,key=".."...] */
static char *labels_text(const char *host, const promfile_labels *labels, size_t i)
{
	promfile_host d = { "", "", "", NULL, 0 };
	if (labels && labels->describe)
		labels->describe(labels->ctx, i, &d);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return NULL;
	fputs("host=\"", f);
	put_label(f, host);
	fputs("\",address=\"", f);
	put_label(f, d.address);
	fputs("\",method=\"", f);
	put_label(f, d.method ? d.method : "");
	fputc('"', f);
	if (d.group && d.group[0]) {
		fputs(",group=\"", f);
		put_label(f, d.group);
		fputc('"', f);
	}
	for (size_t k = 0; k < d.nlabels; k++) {
		const char *eq = strchr(d.labels[k], '=');
		if (!eq)
			continue;
		fprintf(f, ",%.*s=\"", (int)(eq - d.labels[k]), d.labels[k]);
		put_label(f, eq + 1);
		fputc('"', f);
	}
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* name{LABELS[,extra]} value */
static void sample(FILE *f, const char *name, const char *labels, const char *extra, const char *value)
{
	fprintf(f, "%s{%s%s%s} %s\n", name, labels, extra ? "," : "", extra ? extra : "", value);
}

enum { M_RTT, M_SUCCESS, M_TOTAL, M_LOST, M_PHI, M_ANOMALY, M_STATE, M_HISTOGRAM, M_COUNT };

static const struct { const char *name, *type, *help; } METRICS[M_COUNT] = {
	{ "sonar_rtt_seconds", "gauge", "Response time of the latest answered probe." },
	{ "sonar_probe_success", "gauge", "Whether the latest probe was answered (1) or lost (0)." },
	{ "sonar_probes_total", "counter", "Probes sent since the agent started." },
	{ "sonar_probes_lost_total", "counter", "Probes lost (timeouts and errors) since the agent started." },
	{ "sonar_phi", "gauge", "Phi accrual suspicion of the latest probe." },
	{ "sonar_anomaly_score", "gauge", "HTM anomaly score (log likelihood) of the latest step." },
	{ "sonar_state", "gauge", "Attention state of the host (1 for the current one)." },
	{ "sonar_response_seconds", "histogram", "Response times of the answered probes." },
};

static void write_metric(FILE *f, int m, const pipeline *p, char *const *labels)
{
	header(f, METRICS[m].name, METRICS[m].type, METRICS[m].help);
	for (size_t i = 0; i < pipeline_host_count(p); i++) {
		if (!labels[i])
			continue; /* a free slot (or no memory for its labels) */
		pipeline_host_stats st;
		pipeline_host_stats_get(p, i, &st);
		const char *l = labels[i];
		if (st.probes == 0 && m != M_TOTAL && m != M_LOST)
			continue; /* not probed yet (unresolved): no state to show */
		char v[64];
		switch (m) {
		case M_RTT:
			if (st.last_rtt_ns < 0)
				continue;
			snprintf(v, sizeof(v), "%.9f", st.last_rtt_ns / 1e9);
			break;
		case M_SUCCESS:
			if (st.probes == 0)
				continue;
			snprintf(v, sizeof(v), "%d", st.last_rtt_ns >= 0);
			break;
		case M_TOTAL:
			snprintf(v, sizeof(v), "%llu", (unsigned long long)st.probes);
			break;
		case M_LOST:
			snprintf(v, sizeof(v), "%llu", (unsigned long long)st.lost);
			break;
		case M_PHI:
			snprintf(v, sizeof(v), "%.6g", isfinite(st.phi) ? st.phi : 0.0);
			break;
		case M_ANOMALY:
			if (isnan(st.anomaly))
				continue;
			snprintf(v, sizeof(v), "%.4f", st.anomaly);
			break;
		case M_STATE:
			for (int s = ATTENTION_HEALTHY; s <= ATTENTION_DEAD; s++) {
				char extra[64];
				snprintf(extra, sizeof(extra), "state=\"%s\"", attention_state_name((attention_state)s));
				sample(f, METRICS[m].name, l, extra, (int)st.state == s ? "1" : "0");
			}
			continue;
		case M_HISTOGRAM: {
			uint64_t answered = st.probes - st.lost;
			for (size_t b = 0; b < PIPELINE_RTT_BUCKETS; b++) {
				char extra[64];
				snprintf(extra, sizeof(extra), "le=\"%g\"", PIPELINE_RTT_BOUNDS_S[b]);
				snprintf(v, sizeof(v), "%llu", (unsigned long long)st.rtt_le[b]);
				sample(f, "sonar_response_seconds_bucket", l, extra, v);
			}
			snprintf(v, sizeof(v), "%llu", (unsigned long long)answered);
			sample(f, "sonar_response_seconds_bucket", l, "le=\"+Inf\"", v);
			snprintf(v, sizeof(v), "%.9f", st.rtt_sum_s);
			sample(f, "sonar_response_seconds_sum", l, NULL, v);
			snprintf(v, sizeof(v), "%llu", (unsigned long long)answered);
			sample(f, "sonar_response_seconds_count", l, NULL, v);
			continue;
		}
		}
		sample(f, METRICS[m].name, l, NULL, v);
	}
}

void promfile_render(FILE *f, const pipeline *p, double interval_s, const promfile_labels *labels)
{
	header(f, "sonar_interval_seconds", "gauge", "Probe interval per host.");
	fprintf(f, "sonar_interval_seconds %.6g\n", interval_s);
	/* a file left behind by an agent that stopped says so by its age */
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	header(f, "sonar_last_update_timestamp_seconds", "gauge", "When these figures were written.");
	fprintf(f, "sonar_last_update_timestamp_seconds %lld.%03ld\n", (long long)now.tv_sec, now.tv_nsec / 1000000);
	size_t n = pipeline_host_count(p);
	char **text = calloc(n ? n : 1, sizeof(*text));
	for (size_t i = 0; text && i < n; i++)
		if (pipeline_has_host(p, i))
			text[i] = labels_text(pipeline_host_name(p, i), labels, i);
	for (int m = 0; text && m < M_COUNT; m++)
		write_metric(f, m, p, text);
	for (size_t i = 0; text && i < n; i++)
		free(text[i]);
	free(text);
}

int promfile_write(const char *path, const pipeline *p, double interval_s, const promfile_labels *labels,
                   char *err, size_t errlen)
{
	/* not durable: the file is rewritten every interval, and one lost
	 * to a power cut is written again at the next */
	regfile_replacement r;
	if (regfile_replace_begin(&r, path, err, errlen) != 0)
		return -1;
	promfile_render(r.f, p, interval_s, labels);
	return regfile_replace_commit(&r, false, err, errlen);
}
