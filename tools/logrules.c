/* logrules.c - log lines to observations by rules; see logrules.h. */
#include "tools/logrules.h"

#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "pano/common/json.h"
#include "pano/common/model.h"
#include "pano/common/regfile.h"

#define MAX_GROUPS 10
#define MAX_TEMPLATE 1024

typedef struct {
	char *name;
	regex_t re;
	char *subject, *metric, *status_tpl, *score_tpl;
	int status;       /* when status_tpl is NULL */
	double score;     /* when score_tpl is NULL */
	bool score_given; /* a number in the file, kept whatever the status */
	bool compiled;    /* re holds a compiled expression */
	bool stop;
} rule;

struct logrules {
	rule *rules;
	size_t n;
	char *observer;
	bool has_time, time_utc;
	regex_t time_re;
	char *time_format;
	logrules_namer namer;
	void *namer_ctx;
	uint64_t dropped, unnamed;
};

logrules *logrules_new(void) { return calloc(1, sizeof(logrules)); }

static void rule_clear(rule *x)
{
	free(x->name);
	if (x->compiled)
		regfree(&x->re);
	free(x->subject);
	free(x->metric);
	free(x->status_tpl);
	free(x->score_tpl);
}

void logrules_free(logrules *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		rule_clear(&r->rules[i]);
	free(r->rules);
	free(r->observer);
	if (r->has_time)
		regfree(&r->time_re);
	free(r->time_format);
	free(r);
}

void logrules_set_namer(logrules *r, logrules_namer namer, void *ctx)
{
	r->namer = namer;
	r->namer_ctx = ctx;
}

const char *logrules_observer(const logrules *r) { return r->observer; }
size_t logrules_count(const logrules *r) { return r->n; }
uint64_t logrules_dropped(const logrules *r) { return r->dropped; }
uint64_t logrules_unnamed(const logrules *r) { return r->unnamed; }

/* --- loading ---------------------------------------------------------------- */

static int fail(char *err, size_t errlen, const char *origin, const char *where, const char *why)
{
	snprintf(err, errlen, "%s: %s: %s", origin, where, why);
	return -1;
}

/* A string field: present, a string, no NUL, not empty, not too long. */
static int get_text(json_t *v, size_t max, char **out, const char *origin, const char *where, char *err,
                    size_t errlen)
{
	if (!json_is_string(v))
		return fail(err, errlen, origin, where, "must be a string");
	size_t len = json_string_length(v);
	if (strlen(json_string_value(v)) != len)
		return fail(err, errlen, origin, where, "contains a NUL byte");
	if (len == 0)
		return fail(err, errlen, origin, where, "is empty");
	if (len > max)
		return fail(err, errlen, origin, where, "is too long");
	*out = strdup(json_string_value(v));
	return *out ? 0 : fail(err, errlen, origin, where, "out of memory");
}

/* How many nodes glibc's regcomp builds for pattern, roughly: it copies
 * a repeated atom once per repetition ("x{1000}", and "x+" is "xx*"), so
 * nested or stacked repetitions multiply ("x++++..." doubles per '+'), and
 * so do stacked or nested '*' and '?' in the time regcomp takes.  A rules
 * file is the operator's, but a typo there must not take gigabytes or
 * minutes (the fuzzer found "S+++...+" and "S*****..." did).  Saturates at
 * SIZE_MAX / 4. */
#define REGEX_WEIGHT_MAX 100000
#define REGEX_DEPTH_MAX 32

static size_t weight_add(size_t a, size_t b) { return a > SIZE_MAX / 4 - b ? SIZE_MAX / 4 : a + b; }
static size_t weight_mul(size_t a, size_t b) { return b && a > SIZE_MAX / 4 / b ? SIZE_MAX / 4 : a * b; }

static size_t regex_weight(const char *p)
{
	size_t outer[REGEX_DEPTH_MAX];
	int depth = 0;
	size_t cur = 0, last = 0; /* the weight so far in this group; of the last atom */
	while (*p) {
		char c = *p++;
		size_t times = 1;
		if (c == '(') {
			if (depth == REGEX_DEPTH_MAX)
				return SIZE_MAX / 4;
			outer[depth++] = cur;
			cur = last = 0;
			continue;
		}
		if (c == ')' && depth > 0) {
			last = cur + 1;
			cur = weight_add(outer[--depth], last);
			continue;
		}
		if (c == '+') {
			times = 4; /* a copy, and regcomp's time grows fourfold per stacked '+' */
		} else if (c == '{' && *p >= '0' && *p <= '9') {
			char *end;
			unsigned long lo = strtoul(p, &end, 10), hi = lo;
			if (*end == ',')
				hi = end[1] >= '0' && end[1] <= '9' ? strtoul(end + 1, &end, 10) : (end++, lo);
			p = strchr(end, '}') ? strchr(end, '}') + 1 : end;
			times = (hi > lo ? hi : lo) + 1;
		} else if (c == '*' || c == '?') {
			times = 2; /* no copy, but stacked or nested ones multiply the
			              empty transitions regcomp closes over ("S*****...") */
		} else {
			if (c == '\\' && *p)
				p++;
			else if (c == '[') { /* a bracket expression is one atom: []] and [^]] included */
				p += *p == '^';
				p += *p == ']';
				while (*p && *p != ']')
					p += p[0] == '[' && (p[1] == ':' || p[1] == '=' || p[1] == '.') && strchr(p + 2, ']')
					         ? strchr(p + 2, ']') - p + 1 : 1;
				p += *p == ']';
			}
			last = 1;
			cur = weight_add(cur, 1);
			continue;
		}
		/* a repetition of the last atom: its copies join the group */
		size_t grown = weight_mul(last, times);
		cur = weight_add(cur, grown - (grown < last ? grown : last));
		last = grown;
	}
	while (depth > 0) /* unbalanced: regcomp will say so */
		cur = weight_add(outer[--depth], cur);
	return cur;
}

static int compile(regex_t *re, const char *pattern, const char *origin, const char *where, char *err,
                   size_t errlen)
{
	if (regex_weight(pattern) > REGEX_WEIGHT_MAX)
		return fail(err, errlen, origin, where,
		            "regular expression too large once its repetitions are expanded (nested or stacked + and {n})");
	int rc = regcomp(re, pattern, REG_EXTENDED);
	if (rc != 0) {
		char why[200], msg[256];
		regerror(rc, re, why, sizeof(why));
		snprintf(msg, sizeof(msg), "bad regular expression: %s", why);
		return fail(err, errlen, origin, where, msg);
	}
	if (re->re_nsub >= MAX_GROUPS) {
		regfree(re);
		return fail(err, errlen, origin, where, "more than 9 groups");
	}
	return 0;
}

/* A template's $N must name a group the expression has. */
static int check_template(const char *t, size_t ngroups, const char *origin, const char *where, char *err,
                          size_t errlen)
{
	for (const char *p = t; *p; p++) {
		if (*p != '$')
			continue;
		p++;
		if (*p == '$')
			continue;
		if (*p < '0' || *p > '9')
			return fail(err, errlen, origin, where, "'$' must be followed by a digit or '$'");
		if ((size_t)(*p - '0') > ngroups)
			return fail(err, errlen, origin, where, "names a group the expression does not have");
	}
	return 0;
}

static double default_score(int status)
{
	/* Panorama's scores: higher is healthier */
	return status == PANO_HEALTHY ? 100 : status == PANO_NA ? 50 : status == PANO_PENDING ? 50 : 0;
}

static int load_rule(logrules *r, json_t *obj, size_t index, const char *origin, char *err, size_t errlen)
{
	char where[128];
	snprintf(where, sizeof(where), "rules[%zu]", index);
	if (!json_is_object(obj))
		return fail(err, errlen, origin, where, "must be an object");
	rule x = { 0 };
	int rc = 0;
	const char *key;
	json_t *v;
	json_t *match = json_object_get(obj, "match");
	if (!match)
		rc = fail(err, errlen, origin, where, "\"match\" is missing");
	json_object_foreach(obj, key, v) {
		if (rc != 0)
			break;
		char field[200];
		snprintf(field, sizeof(field), "%s.%.64s", where, key);
		if (strcmp(key, "name") == 0)
			rc = get_text(v, LOGRULES_MAX_NAME, &x.name, origin, field, err, errlen);
		else if (strcmp(key, "match") == 0) {
			char *pattern = NULL;
			rc = get_text(v, 4096, &pattern, origin, field, err, errlen);
			if (rc == 0)
				rc = compile(&x.re, pattern, origin, field, err, errlen);
			x.compiled = rc == 0;
			free(pattern);
		} else if (strcmp(key, "subject") == 0)
			rc = get_text(v, MAX_TEMPLATE, &x.subject, origin, field, err, errlen);
		else if (strcmp(key, "metric") == 0)
			rc = get_text(v, MAX_TEMPLATE, &x.metric, origin, field, err, errlen);
		else if (strcmp(key, "status") == 0)
			rc = get_text(v, MAX_TEMPLATE, &x.status_tpl, origin, field, err, errlen);
		else if (strcmp(key, "score") == 0) {
			if (json_is_number(v)) {
				x.score = json_number_value(v);
				if (!isfinite(x.score) || x.score < 0 || x.score > 100)
					rc = fail(err, errlen, origin, field, "must be a number from 0 to 100");
			} else
				rc = get_text(v, MAX_TEMPLATE, &x.score_tpl, origin, field, err, errlen);
		} else if (strcmp(key, "stop") == 0) {
			if (!json_is_boolean(v))
				rc = fail(err, errlen, origin, field, "must be true or false");
			x.stop = json_is_true(v);
		} else
			rc = fail(err, errlen, origin, field, "unknown field");
	}
	x.score_given = json_object_get(obj, "score") != NULL;
	if (rc == 0 && (!x.subject || !x.metric || !x.status_tpl))
		rc = fail(err, errlen, origin, where, "needs \"subject\", \"metric\" and \"status\"");
	size_t ngroups = x.compiled ? x.re.re_nsub : 0;
	if (rc == 0)
		rc = check_template(x.subject, ngroups, origin, where, err, errlen);
	if (rc == 0)
		rc = check_template(x.metric, ngroups, origin, where, err, errlen);
	if (rc == 0)
		rc = check_template(x.status_tpl, ngroups, origin, where, err, errlen);
	if (rc == 0 && x.score_tpl)
		rc = check_template(x.score_tpl, ngroups, origin, where, err, errlen);
	if (rc == 0 && !strchr(x.status_tpl, '$')) {
		/* a fixed status is checked now, not on the first matching line */
		x.status = pano_status_parse(x.status_tpl);
		if (x.status < 0)
			rc = fail(err, errlen, origin, where, "\"status\" is not a Panorama status (h p u d, HEALTHY, ...)");
		free(x.status_tpl);
		x.status_tpl = NULL;
		if (!x.score_given)
			x.score = default_score(x.status);
	}
	if (rc == 0 && !x.name) {
		snprintf(where, sizeof(where), "rule %zu", index + 1);
		x.name = strdup(where);
		if (!x.name)
			rc = fail(err, errlen, origin, where, "out of memory");
	}
	if (rc != 0) {
		rule_clear(&x);
		return -1;
	}
	r->rules[r->n++] = x;
	return 0;
}

static int load_time(logrules *r, json_t *obj, const char *origin, char *err, size_t errlen)
{
	if (!json_is_object(obj))
		return fail(err, errlen, origin, "time", "must be an object");
	const char *key;
	json_t *v;
	char *pattern = NULL;
	int rc = 0;
	r->time_utc = false;
	json_object_foreach(obj, key, v) {
		if (rc != 0)
			break;
		if (strcmp(key, "match") == 0)
			rc = get_text(v, 4096, &pattern, origin, "time.match", err, errlen);
		else if (strcmp(key, "format") == 0)
			rc = get_text(v, 256, &r->time_format, origin, "time.format", err, errlen);
		else if (strcmp(key, "zone") == 0) {
			const char *z = json_is_string(v) ? json_string_value(v) : "";
			if (strcmp(z, "utc") == 0 || strcmp(z, "local") == 0)
				r->time_utc = strcmp(z, "utc") == 0;
			else
				rc = fail(err, errlen, origin, "time.zone", "must be \"utc\" or \"local\"");
		} else {
			char field[100];
			snprintf(field, sizeof(field), "time.%.64s", key);
			rc = fail(err, errlen, origin, field, "unknown field");
		}
	}
	if (rc == 0 && (!pattern || !r->time_format))
		rc = fail(err, errlen, origin, "time", "needs \"match\" and \"format\"");
	if (rc == 0)
		rc = compile(&r->time_re, pattern, origin, "time.match", err, errlen);
	if (rc == 0 && r->time_re.re_nsub < 1) {
		regfree(&r->time_re);
		rc = fail(err, errlen, origin, "time.match", "needs a group around the time");
	}
	free(pattern);
	r->has_time = rc == 0;
	return rc;
}

int logrules_load_json(logrules *r, const char *text, const char *origin, char *err, size_t errlen)
{
	json_t *root = pano_json_object(NULL, text, origin, err, errlen);
	if (!root)
		return -1;
	int rc = 0;
	json_t *rules = json_object_get(root, "rules");
	if (rc == 0 && (!json_is_array(rules) || json_array_size(rules) == 0))
		rc = fail(err, errlen, origin, "rules", "must be a non-empty array");
	if (rc == 0 && r->n + json_array_size(rules) > LOGRULES_MAX_RULES)
		rc = fail(err, errlen, origin, "rules", "more than 1000 rules");
	const char *key;
	json_t *v;
	if (rc == 0) {
		json_object_foreach(root, key, v) {
			if (rc != 0)
				break;
			if (strcmp(key, "rules") == 0)
				continue;
			if (strcmp(key, "observer") == 0) {
				free(r->observer);
				r->observer = NULL;
				rc = get_text(v, LOGRULES_MAX_NAME, &r->observer, origin, "observer", err, errlen);
			} else if (strcmp(key, "time") == 0) {
				if (r->has_time) {
					regfree(&r->time_re);
					r->has_time = false;
				}
				free(r->time_format);
				r->time_format = NULL;
				rc = load_time(r, v, origin, err, errlen);
			} else {
				char field[100];
				snprintf(field, sizeof(field), "%.64s", key);
				rc = fail(err, errlen, origin, field, "unknown field");
			}
		}
	}
	if (rc == 0) {
		rule *grown = realloc(r->rules, (r->n + json_array_size(rules)) * sizeof(*grown));
		if (!grown)
			rc = fail(err, errlen, origin, "rules", "out of memory");
		else
			r->rules = grown;
	}
	for (size_t i = 0; rc == 0 && i < json_array_size(rules); i++)
		rc = load_rule(r, json_array_get(rules, i), i, origin, err, errlen);
	json_decref(root);
	return rc;
}

int logrules_load_file(logrules *r, const char *path, char *err, size_t errlen)
{
	FILE *f = regfile_open(path, "rb", err, errlen);
	if (!f)
		return -1;
	/* a rules file is small; a huge one is a mistake */
	char *text = malloc((1u << 20) + 1);
	size_t n = text ? fread(text, 1, 1u << 20, f) : 0;
	bool too_big = text && n == (1u << 20) && fgetc(f) != EOF;
	fclose(f);
	if (!text || too_big) {
		free(text);
		snprintf(err, errlen, "%s: %s", path, text ? "larger than 1 MiB" : "out of memory");
		return -1;
	}
	text[n] = '\0';
	if (strlen(text) != n) {
		free(text);
		snprintf(err, errlen, "%s: contains a NUL byte", path);
		return -1;
	}
	int rc = logrules_load_json(r, text, path, err, errlen);
	free(text);
	return rc;
}

int logrules_keep_only(logrules *r, char *const *names, size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		size_t j = 0;
		while (j < r->n && strcmp(r->rules[j].name, names[i]) != 0)
			j++;
		if (j == r->n) {
			snprintf(err, errlen, "no rule named '%.64s'", names[i]);
			return -1;
		}
	}
	size_t kept = 0;
	for (size_t j = 0; j < r->n; j++) {
		bool keep = false;
		for (size_t i = 0; i < n && !keep; i++)
			keep = strcmp(r->rules[j].name, names[i]) == 0;
		if (keep)
			r->rules[kept++] = r->rules[j];
		else
			rule_clear(&r->rules[j]);
	}
	r->n = kept;
	return 0;
}

/* --- matching ----------------------------------------------------------------- */

/* Expands a template; false when the result does not fit (or is empty). */
static bool expand(const char *tpl, const char *line, const regmatch_t *m, size_t ngroups, char *out,
                   size_t outlen)
{
	size_t o = 0;
	for (const char *p = tpl; *p; p++) {
		const char *piece = p;
		size_t len = 1;
		if (*p == '$') {
			p++;
			if (*p == '$') {
				piece = p;
			} else {
				size_t g = (size_t)(*p - '0');
				if (g > ngroups || m[g].rm_so < 0)
					continue; /* a group that did not take part: empty */
				piece = line + m[g].rm_so;
				len = (size_t)(m[g].rm_eo - m[g].rm_so);
			}
		}
		if (o + len >= outlen)
			return false;
		memcpy(out + o, piece, len);
		o += len;
	}
	out[o] = '\0';
	return o > 0;
}

/* The line's own time, or 0. */
static int64_t line_time(const logrules *r, const char *line)
{
	regmatch_t m[MAX_GROUPS];
	if (!r->has_time || regexec(&r->time_re, line, MAX_GROUPS, m, 0) != 0 || m[1].rm_so < 0)
		return 0;
	char text[128];
	size_t len = (size_t)(m[1].rm_eo - m[1].rm_so);
	if (len >= sizeof(text))
		return 0;
	memcpy(text, line + m[1].rm_so, len);
	text[len] = '\0';
	struct tm tm = { 0 };
	tm.tm_isdst = -1;
	const char *rest = strptime(text, r->time_format, &tm);
	if (!rest)
		return 0;
	time_t sec = r->time_utc ? timegm(&tm) : mktime(&tm);
	/* what nanoseconds since 1970 in 64 bits can hold (to 2262): a line
	 * claiming year 4000 has no time */
	if (sec <= 0 || (int64_t)sec >= INT64_MAX / 1000000000)
		return 0;
	/* milliseconds (or finer) right after the time: log4j's ",123" */
	const char *frac = *rest ? rest : line + m[1].rm_eo;
	int64_t ns = 0;
	if (frac[0] == '.' || frac[0] == ',') {
		int64_t scale = 100000000;
		for (const char *d = frac + 1; *d >= '0' && *d <= '9' && scale > 0; d++, scale /= 10)
			ns += (*d - '0') * scale;
	}
	return (int64_t)sec * 1000000000 + ns;
}

size_t logrules_match(logrules *r, const char *line, logevent *out, size_t max)
{
	size_t n = 0;
	int64_t t = -1; /* parsed once, when a rule matches */
	for (size_t i = 0; i < r->n && n < max; i++) {
		rule *x = &r->rules[i];
		regmatch_t m[MAX_GROUPS];
		if (regexec(&x->re, line, MAX_GROUPS, m, 0) != 0)
			continue;
		size_t g = x->re.re_nsub;
		logevent *e = &out[n];
		e->rule = x->name;
		e->status = x->status;
		e->score = (float)x->score;
		bool ok = expand(x->subject, line, m, g, e->subject, sizeof(e->subject)) &&
		          expand(x->metric, line, m, g, e->metric, sizeof(e->metric));
		char text[64];
		if (ok && x->status_tpl) {
			ok = expand(x->status_tpl, line, m, g, text, sizeof(text));
			e->status = ok ? pano_status_parse(text) : -1;
			ok = e->status >= 0;
			if (ok && !x->score_given)
				e->score = (float)default_score(e->status);
		}
		if (ok && x->score_tpl) {
			char *end;
			ok = expand(x->score_tpl, line, m, g, text, sizeof(text));
			double s = ok ? strtod(text, &end) : NAN;
			ok = ok && *end == '\0' && s >= 0 && s <= 100; /* Panorama's scores */
			e->score = (float)s;
		}
		bool named = true;
		if (ok && r->namer)
			named = r->namer(r->namer_ctx, e->subject) && e->subject[0];
		if (!ok) {
			r->dropped++;
		} else if (!named) {
			r->unnamed++;
		} else {
			if (t < 0)
				t = line_time(r, line);
			e->time_ns = t;
			n++;
		}
		if (x->stop)
			break;
	}
	return n;
}
