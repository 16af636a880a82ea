/* csv_reader.c - defensive sonar.csv reader; see csv_reader.h. */
#include "tools/csv_reader.h"

#include <stdlib.h>
#include <string.h>

#include "agent/cli.h"
#include "agent/resolver.h"
#include "agent/timefmt.h"
#include "detector/phi.h"

static const char HEADER[] = "timestamp,host,rtt_ns";

struct csv_reader {
	FILE *in;
	char line[CSV_LINE_MAX + 1];
	unsigned long lineno;
};

csv_reader *csv_reader_new(FILE *in)
{
	csv_reader *r = calloc(1, sizeof(*r));
	if (r)
		r->in = in;
	return r;
}

void csv_reader_free(csv_reader *r)
{
	free(r);
}

/* Quotes at most 40 bytes of a field, printable ASCII only, for messages. */
static void quote(char *out, size_t outlen, const char *s, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n && i < 40 && k + 2 < outlen; i++)
		out[k++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (n > 40 && k + 4 < outlen) {
		memcpy(out + k, "...", 3);
		k += 3;
	}
	out[k] = '\0';
}

int sonar_row_parse(const char *line, size_t len, sonar_row *row, char *err, size_t errlen)
{
	const char *c1 = memchr(line, ',', len);
	const char *c2 = c1 ? memchr(c1 + 1, ',', len - (size_t)(c1 + 1 - line)) : NULL;
	if (!c1 || !c2 || memchr(c2 + 1, ',', len - (size_t)(c2 + 1 - line))) {
		size_t fields = 1;
		for (size_t i = 0; i < len; i++)
			fields += line[i] == ',';
		snprintf(err, errlen, "expected 3 fields (timestamp,host,rtt_ns), got %zu", fields);
		return -1;
	}
	char q[64];
	size_t tlen = (size_t)(c1 - line);
	if (timefmt_parse(line, tlen, &row->wall_ms) != 0) {
		quote(q, sizeof(q), line, tlen);
		snprintf(err, errlen, "timestamp '%s' is not like 2026-11-22T16:01:09.345Z", q);
		return -1;
	}
	size_t hlen = (size_t)(c2 - c1 - 1);
	if (hlen >= sizeof(row->host)) {
		snprintf(err, errlen, "host is %zu bytes long", hlen);
		return -1;
	}
	memcpy(row->host, c1 + 1, hlen);
	row->host[hlen] = '\0';
	if (strlen(row->host) != hlen || !host_name_valid(row->host)) {
		quote(q, sizeof(q), c1 + 1, hlen);
		snprintf(err, errlen, "host '%s' is not a host name or address", q);
		return -1;
	}
	const char *rtt = c2 + 1;
	size_t rlen = len - (size_t)(rtt - line);
	row->lost = rlen == 0;
	row->rtt_ns = 0;
	if (row->lost)
		return 0;
	char num[32];
	long v = -1;
	if (rlen < sizeof(num)) {
		memcpy(num, rtt, rlen);
		num[rlen] = '\0';
	}
	if (rlen >= sizeof(num) || num[0] == '+' || num[0] == ' ' ||
	    parse_long(num, 0, PHI_RTT_MAX_NS, &v) != 0) {
		quote(q, sizeof(q), rtt, rlen);
		snprintf(err, errlen, "rtt_ns '%s' is not empty or an integer in [0, %lld]",
		         q, (long long)PHI_RTT_MAX_NS);
		return -1;
	}
	row->rtt_ns = v;
	return 0;
}

/* Reads one line of at most CSV_LINE_MAX bytes into r->line, never more:
 * a longer line is consumed to its end and reported by *len > CSV_LINE_MAX.
 * Returns 0 at end of input. */
static int read_line(csv_reader *r, size_t *len, int *has_nul)
{
	size_t n = 0, total = 0;
	int c, any = 0;
	*has_nul = 0;
	while ((c = getc_unlocked(r->in)) != EOF) {
		any = 1;
		if (c == '\n')
			break;
		if (c == '\0')
			*has_nul = 1;
		if (n < CSV_LINE_MAX)
			r->line[n++] = (char)c;
		total++;
	}
	*len = total > CSV_LINE_MAX ? total : n;
	return any;
}

int csv_reader_next(csv_reader *r, sonar_row *row, char *err, size_t errlen)
{
	for (;;) {
		size_t len;
		int has_nul;
		if (!read_line(r, &len, &has_nul))
			return 0;
		r->lineno++;
		if (len > CSV_LINE_MAX) {
			snprintf(err, errlen, "line %lu: %zu bytes long, longer than %d",
			         r->lineno, len, CSV_LINE_MAX);
			return -1;
		}
		if (len && r->line[len - 1] == '\r')
			len--;
		if (len == 0)
			continue; /* blank lines carry nothing */
		if (len == sizeof(HEADER) - 1 && memcmp(r->line, HEADER, len) == 0)
			continue;
		if (has_nul) {
			snprintf(err, errlen, "line %lu: contains a NUL byte", r->lineno);
			return -1;
		}
		char why[200];
		if (sonar_row_parse(r->line, len, row, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "line %lu: %s", r->lineno, why);
			return -1;
		}
		return 1;
	}
}
