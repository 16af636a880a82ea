/* realdata.c - recordings as traces; see realdata.h. */
#include "tests/bench/realdata.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/timefmt.h"
#include "tools/csv_reader.h"

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static int add_probe(recording *r, size_t *cap, const sonar_row *row)
{
	trace *t = &r->tr;
	trace_probe *last = t->count ? &t->probes[t->count - 1] : NULL;
	if (last && row->wall_ms - last->wall_ms >= 0 && row->wall_ms - last->wall_ms < BURST_GAP_MS) {
		/* the same burst: its fastest answer (lost only if all are) */
		if (!row->lost && (last->lost || row->rtt_ns < last->rtt_ns)) {
			last->lost = false;
			last->rtt_ns = row->rtt_ns;
		}
		return 0;
	}
	if (t->count == *cap) {
		size_t n = *cap ? *cap * 2 : 4096;
		trace_probe *p = realloc(t->probes, n * sizeof(*p));
		if (!p)
			return -1;
		t->probes = p;
		*cap = n;
	}
	t->probes[t->count++] = (trace_probe){ row->wall_ms, row->lost, row->lost ? 0 : row->rtt_ns };
	return 0;
}

static int load_labels(const char *path, recording *r, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: cannot open", path);
		return -1;
	}
	char line[1024];
	size_t cap = 0;
	while (fgets(line, sizeof(line), f)) {
		char *host = strchr(line, ',');
		if (!host)
			continue;
		char *label = strchr(host + 1, ',');
		int64_t ms;
		if (!label || timefmt_parse(line, (size_t)(host - line), &ms) != 0)
			continue; /* the header, or a line that is not a label */
		*label = '\0';
		if (strcmp(host + 1, r->host) != 0)
			continue;
		if (r->nlabels == cap) {
			cap = cap ? cap * 2 : 64;
			int64_t *p = realloc(r->labels, cap * sizeof(*p));
			if (!p) {
				fclose(f);
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			r->labels = p;
		}
		r->labels[r->nlabels++] = ms;
	}
	fclose(f);
	qsort(r->labels, r->nlabels, sizeof(int64_t), cmp_i64);
	return 0;
}

int recording_load(const char *csv, const char *labels, recording *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	FILE *f = fopen(csv, "r");
	if (!f) {
		snprintf(err, errlen, "%s: cannot open", csv);
		return -1;
	}
	csv_reader *rd = csv_reader_new(f);
	size_t cap = 0;
	sonar_row row;
	int rc = rd ? 0 : -1, got;
	char why[256];
	while (rc == 0 && (got = csv_reader_next(rd, &row, why, sizeof(why))) != 0) {
		if (got < 0)
			continue; /* a bad line: skipped, as sonar-replay does */
		if (!out->host[0])
			snprintf(out->host, sizeof(out->host), "%s", row.host);
		if (strcmp(row.host, out->host) != 0)
			continue; /* one host a series */
		rc = add_probe(out, &cap, &row);
	}
	csv_reader_free(rd);
	fclose(f);
	if (rc != 0 || out->tr.count < 2) {
		snprintf(err, errlen, "%s: %s", csv, rc ? "out of memory" : "fewer than 2 probes");
		recording_free(out);
		return -1;
	}
	out->tr.start_ms = out->tr.probes[0].wall_ms;
	int64_t *gaps = malloc((out->tr.count - 1) * sizeof(*gaps));
	if (!gaps) {
		snprintf(err, errlen, "out of memory");
		recording_free(out);
		return -1;
	}
	for (size_t i = 1; i < out->tr.count; i++)
		gaps[i - 1] = out->tr.probes[i].wall_ms - out->tr.probes[i - 1].wall_ms;
	qsort(gaps, out->tr.count - 1, sizeof(int64_t), cmp_i64);
	out->interval_s = (double)gaps[(out->tr.count - 1) / 2] / 1000.0;
	free(gaps);
	if (labels && load_labels(labels, out, err, errlen) != 0) {
		recording_free(out);
		return -1;
	}
	return 0;
}

void recording_free(recording *r)
{
	free(r->tr.probes);
	free(r->labels);
	memset(r, 0, sizeof(*r));
}
