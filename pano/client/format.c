/* format.c - Panorama's output formats; see format.h. */
#include "pano/client/format.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pano/common/model.h"
#include "pano/common/natural.h"

const char *fmt_status(int status)
{
	return pano_status_name(status);
}

static void nanos_suffix(char *buf, size_t len, int32_t nsec)
{
	buf[0] = '\0';
	if (nsec <= 0 || nsec > 999999999)
		return;
	if (len < 11)
		return;
	buf[0] = '.';
	for (int i = 9; i >= 1; i--) {
		buf[i] = (char)('0' + nsec % 10);
		nsec /= 10;
	}
	size_t n = 10;
	while (buf[n - 1] == '0')
		n--;
	buf[n] = '\0';
}

/* False for a time outside years 0..9999, which no format here can show:
 * the caller prints the raw seconds instead of a wrong date. */
static bool utc(int64_t sec, struct tm *tm)
{
	time_t t = (time_t)sec;
	memset(tm, 0, sizeof(*tm));
	return gmtime_r(&t, tm) && tm->tm_year >= -1900 && tm->tm_year <= 9999 - 1900;
}

static bool raw_seconds(char *buf, size_t len, int64_t sec, struct tm *tm)
{
	if (utc(sec, tm))
		return false;
	snprintf(buf, len, "(%lld s since 1970, not a date)", (long long)sec);
	return true;
}

void fmt_rfc3339(char *buf, size_t len, int64_t sec, int32_t nsec)
{
	struct tm tm;
	if (raw_seconds(buf, len, sec, &tm))
		return;
	char frac[16];
	nanos_suffix(frac, sizeof(frac), nsec);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d%sZ", tm.tm_year + 1900, tm.tm_mon + 1,
	         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

void fmt_go_time(char *buf, size_t len, int64_t sec, int32_t nsec)
{
	struct tm tm;
	if (raw_seconds(buf, len, sec, &tm))
		return;
	char frac[16];
	nanos_suffix(frac, sizeof(frac), nsec);
	snprintf(buf, len, "%04d-%02d-%02d %02d:%02d:%02d%s +0000 UTC", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

void fmt_go_float(char *buf, size_t len, float v)
{
	/* The fewest significant digits that read back as the same float. */
	char e[64];
	int p;
	for (p = 1; p <= 9; p++) {
		snprintf(e, sizeof(e), "%.*e", p - 1, (double)v);
		if (strtof(e, NULL) == v)
			break;
	}
	const char *ep = strchr(e, 'e');
	int exp = ep ? atoi(ep + 1) : 0;
	if (exp < -4 || exp >= 6) { /* Go switches to %e at exponent 6 */
		char mant[32];
		size_t m = (size_t)(ep - e);
		memcpy(mant, e, m);
		mant[m] = '\0';
		snprintf(buf, len, "%se%c%02d", mant, exp < 0 ? '-' : '+', abs(exp));
		return;
	}
	int decimals = p - 1 - exp;
	snprintf(buf, len, "%.*f", decimals > 0 ? decimals : 0, (double)v);
}

static int cmp_entry(const void *a, const void *b)
{
	const Panorama__Observation__MetricsEntry *x = *(Panorama__Observation__MetricsEntry *const *)a;
	const Panorama__Observation__MetricsEntry *y = *(Panorama__Observation__MetricsEntry *const *)b;
	return strcmp(x->key ? x->key : "", y->key ? y->key : "");
}

/* The observation's metrics sorted by name (caller frees). */
static Panorama__Observation__MetricsEntry **sorted_metrics(const Panorama__Observation *o)
{
	Panorama__Observation__MetricsEntry **m = malloc((o->n_metrics ? o->n_metrics : 1) * sizeof(*m));
	if (!m)
		return NULL;
	memcpy(m, o->metrics, o->n_metrics * sizeof(*m));
	qsort(m, o->n_metrics, sizeof(*m), cmp_entry);
	return m;
}

void fmt_observation(FILE *out, const Panorama__Observation *o)
{
	if (!o || !o->ts || o->n_metrics == 0) {
		fputs("{}", out);
		return;
	}
	char ts[64];
	fmt_rfc3339(ts, sizeof(ts), o->ts->seconds, o->ts->nanos);
	fprintf(out, "%s { ", ts);
	Panorama__Observation__MetricsEntry **m = sorted_metrics(o);
	for (size_t i = 0; m && i < o->n_metrics; i++) {
		const Panorama__Value *v = m[i]->value ? m[i]->value->value : NULL;
		fprintf(out, "%s: %s, %.1f; ", m[i]->key ? m[i]->key : "", fmt_status(v ? (int)v->status : 0),
		        v ? (double)v->score : 0.0);
	}
	free(m);
	fputc('}', out);
}

static void text_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", out);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(out, "\\%03o", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

/* Go's compact text format: every field followed by a space, messages as
 * name:<...>, zero values left out. */
static void text_observation(FILE *out, const Panorama__Observation *o)
{
	if (o->ts) {
		fputs("ts:<", out);
		if (o->ts->seconds)
			fprintf(out, "seconds:%lld ", (long long)o->ts->seconds);
		if (o->ts->nanos)
			fprintf(out, "nanos:%d ", o->ts->nanos);
		fputs("> ", out);
	}
	Panorama__Observation__MetricsEntry **m = sorted_metrics(o);
	for (size_t i = 0; m && i < o->n_metrics; i++) {
		fputs("metrics:<key:", out);
		text_string(out, m[i]->key);
		fputs(" ", out);
		const Panorama__Metric *met = m[i]->value;
		if (met) {
			fputs("value:<", out);
			if (met->name && met->name[0]) {
				fputs("name:", out);
				text_string(out, met->name);
				fputs(" ", out);
			}
			if (met->value) {
				fputs("value:<", out);
				if (met->value->status)
					fprintf(out, "status:%s ", fmt_status((int)met->value->status));
				if (met->value->score != 0.0f) {
					char f[64];
					fmt_go_float(f, sizeof(f), met->value->score);
					fprintf(out, "score:%s ", f);
				}
				if (met->value->reason && met->value->reason[0]) {
					fputs("reason:", out);
					text_string(out, met->value->reason);
					fputs(" ", out);
				}
				fputs("> ", out);
			}
			fputs("> ", out);
		}
		fputs("> ", out);
	}
	free(m);
}

void fmt_report_text(FILE *out, const Panorama__Report *r)
{
	/* Built in memory so the top level's trailing space can be dropped. */
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	if (!mem)
		return;
	if (r->observer && r->observer[0]) {
		fputs("observer:", mem);
		text_string(mem, r->observer);
		fputs(" ", mem);
	}
	if (r->subject && r->subject[0]) {
		fputs("subject:", mem);
		text_string(mem, r->subject);
		fputs(" ", mem);
	}
	if (r->observation) {
		fputs("observation:<", mem);
		text_observation(mem, r->observation);
		fputs("> ", mem);
	}
	fclose(mem);
	while (len && buf[len - 1] == ' ')
		len--;
	fwrite(buf, 1, len, out);
	fputc('\n', out);
	free(buf);
}

void fmt_view(FILE *out, const Panorama__View *v)
{
	fprintf(out, "[[... %s->%s (%zu observations) ...]]\n", v->observer ? v->observer : "",
	        v->subject ? v->subject : "", v->n_observations);
	for (size_t i = 0; i < v->n_observations; i++) {
		fprintf(out, "  |%s| ", v->observer ? v->observer : "");
		fmt_observation(out, v->observations[i]);
		fputc('\n', out);
	}
}

static int cmp_view_entry(const void *a, const void *b)
{
	const Panorama__Panorama__ViewsEntry *x = *(Panorama__Panorama__ViewsEntry *const *)a;
	const Panorama__Panorama__ViewsEntry *y = *(Panorama__Panorama__ViewsEntry *const *)b;
	const char *kx = x->key ? x->key : "", *ky = y->key ? y->key : "";
	return natural_cmp_ptr(&kx, &ky);
}

void fmt_panorama(FILE *out, const Panorama__Panorama *p)
{
	Panorama__Panorama__ViewsEntry **v = malloc((p->n_views ? p->n_views : 1) * sizeof(*v));
	if (!v)
		return;
	memcpy(v, p->views, p->n_views * sizeof(*v));
	qsort(v, p->n_views, sizeof(*v), cmp_view_entry);
	for (size_t i = 0; i < p->n_views; i++) {
		if (!v[i]->value)
			continue;
		Panorama__View view = *v[i]->value;
		if (!view.subject || !view.subject[0])
			view.subject = p->subject;
		if (!view.observer || !view.observer[0])
			view.observer = v[i]->key;
		fmt_view(out, &view);
	}
	free(v);
}

void fmt_inference(FILE *out, const Panorama__Inference *inf)
{
	fputc('[', out);
	for (size_t i = 0; i < inf->n_observers; i++)
		fprintf(out, "%s%s", i ? " " : "", inf->observers[i]);
	fprintf(out, "] ==> %s: ", inf->subject ? inf->subject : "");
	fmt_observation(out, inf->observation);
	fputc('\n', out);
}

/* A name as it is, its bytes outside printable ASCII escaped (\ooo). */
static void bare(FILE *out, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++)
		if (*p <= 0x20 || *p >= 0x7f || *p == '\\')
			fprintf(out, "\\%03o", *p);
		else
			fputc(*p, out);
}

void fmt_blame(FILE *out, const Panorama__Blame *b)
{
	char ts[64] = "?";
	if (b->since) {
		time_t t = (time_t)b->since->seconds;
		struct tm tm;
		if (gmtime_r(&t, &tm))
			strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	double bad = 0, views = 0, ratio = 0, loss = -1;
	for (size_t i = 0; i < b->n_evidence; i++) {
		const char *k = b->evidence[i]->key ? b->evidence[i]->key : "";
		double v = b->evidence[i]->value;
		if (strcmp(k, "bad") == 0)
			bad = v;
		else if (strcmp(k, "views") == 0)
			views = v;
		else if (strcmp(k, "ratio") == 0)
			ratio = v;
		else if (strcmp(k, "loss") == 0)
			loss = v;
	}
	bare(out, b->kind);
	fputc(' ', out);
	for (size_t i = 0; i < b->n_hosts; i++) {
		if (i)
			fputc(',', out);
		bare(out, b->hosts[i]);
	}
	if (b->group && b->group[0]) {
		fputc(' ', out);
		bare(out, b->group);
	}
	fprintf(out, " since %s: %.0f of %.0f views bad", ts, bad, views);
	if (ratio > 0)
		fprintf(out, ", %.1fx baseline", ratio);
	if (loss >= 0)
		fprintf(out, ", loss %.0f%%", 100 * loss);
	fputc('\n', out);
}
