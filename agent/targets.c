/* targets.c - the targets file; see targets.h. */
#include "agent/targets.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cli.h"
#include "agent/resolver.h"
#include "pano/common/grow.h"
#include "pano/common/hostaddr.h"
#include "pano/common/regfile.h"

#define LINE_MAX_LEN 4096
#define LABEL_VALUE_MAX 128

void target_clear(target *t)
{
	free(t->name);
	free(t->address);
	free(t->group);
	for (size_t k = 0; k < t->nlabels; k++)
		free(t->labels[k]);
	memset(t, 0, sizeof(*t));
}

int target_copy(target *dst, const target *src)
{
	*dst = *src;
	dst->name = strdup(src->name);
	dst->address = strdup(src->address);
	dst->group = strdup(src->group);
	bool ok = dst->name && dst->address && dst->group;
	for (size_t k = 0; k < src->nlabels; k++)
		ok = (dst->labels[k] = strdup(src->labels[k])) && ok;
	if (!ok)
		target_clear(dst);
	return ok ? 0 : -1;
}

void targets_free(target_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		target_clear(&l->items[i]);
	free(l->items);
	l->items = NULL;
	l->n = l->cap = 0;
}

static target *append(target_list *l)
{
	if (grow_array(&l->items, &l->cap, l->n + 1, sizeof(*l->items), 16) != 0)
		return NULL;
	target *t = &l->items[l->n];
	memset(t, 0, sizeof(*t));
	t->phi_threshold = t->anomaly_threshold = NAN;
	return t;
}

int targets_copy(target_list *dst, const target_list *src)
{
	target_list l = { NULL, 0, 0 };
	for (size_t i = 0; i < src->n; i++) {
		target *t = append(&l);
		if (!t || target_copy(t, &src->items[i]) != 0) {
			targets_free(&l);
			return -1;
		}
		l.n++;
	}
	*dst = l;
	return 0;
}

int targets_add(target_list *l, const char *address)
{
	target *t = append(l);
	if (!t)
		return -1;
	t->address = strdup(address);
	t->name = strdup(address);
	t->group = strdup("");
	if (!t->address || !t->name || !t->group) {
		free(t->address);
		free(t->name);
		free(t->group);
		return -1;
	}
	l->n++;
	return 0;
}

static bool label_key_valid(const char *k, size_t n)
{
	if (n == 0 || n > 64 || (n >= 2 && k[0] == '_' && k[1] == '_'))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = k[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return false;
	}
	return true;
}

static bool label_value_valid(const char *v)
{
	size_t n = strlen(v);
	if (n == 0 || n > LABEL_VALUE_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (v[i] <= ' ' || v[i] > '~' || v[i] == '"' || v[i] == '\\' || v[i] == ',')
			return false;
	return true;
}

/* Labels the agent sets itself on every sample. */
static bool label_key_reserved(const char *k)
{
	static const char *const reserved[] = { "host", "address", "method", "group", "name", "le",
	                                        "instance", "job" };
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (strcmp(k, reserved[i]) == 0)
			return true;
	return false;
}

static int cmp_label(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	size_t nx = strcspn(x, "="), ny = strcspn(y, "=");
	int c = strncmp(x, y, nx < ny ? nx : ny);
	return c ? c : (nx > ny) - (nx < ny);
}

/* The words a target's line gives meaning to; any other KEY is a label. */
static const char *const KNOWN_KEYS[] = { "name", "group", "method", "interval", "timeout", "phi-threshold",
                                          "anomaly-threshold" };

/* Edits (insert, delete, substitute, swap two neighbours) from a to b, up
 * to limit + 1: enough to see a misspelt key. */
static size_t edits(const char *a, const char *b, size_t limit)
{
	size_t n = strlen(a), m = strlen(b);
	if (n > 32 || m > 32)
		return limit + 1;
	size_t d[33][33];
	for (size_t i = 0; i <= n; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= m; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= n; i++)
		for (size_t j = 1; j <= m; j++) {
			size_t cost = a[i - 1] != b[j - 1];
			size_t best = d[i - 1][j - 1] + cost;
			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	return d[n][m] > limit ? limit + 1 : d[n][m];
}

/* The known key k was probably meant as (one edit away, two for keys of
 * more than five letters; '_' for '-' counts as none), or NULL. */
static const char *meant_key(const char *k)
{
	char folded[64];
	snprintf(folded, sizeof(folded), "%s", k);
	for (char *c = folded; *c; c++)
		if (*c == '_')
			*c = '-';
		else if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	for (size_t i = 0; i < sizeof(KNOWN_KEYS) / sizeof(KNOWN_KEYS[0]); i++) {
		size_t limit = strlen(KNOWN_KEYS[i]) > 5 ? 2 : 1;
		if (edits(folded, KNOWN_KEYS[i], limit) <= limit)
			return KNOWN_KEYS[i];
	}
	return NULL;
}

/* One KEY=VALUE word of a target's line. */
static int option(target *t, char *word, char *why, size_t whylen)
{
	char *eq = strchr(word, '=');
	if (!eq || eq == word || !eq[1]) {
		snprintf(why, whylen, "'%.64s' is not KEY=VALUE", word);
		return -1;
	}
	*eq = '\0';
	const char *k = word, *v = eq + 1;
	double x;
	if (strcmp(k, "name") == 0) {
		if (!host_name_valid(v)) {
			snprintf(why, whylen, "name '%.64s' is not letters, digits and . - _ : %%", v);
			return -1;
		}
		free(t->name);
		t->name = strdup(v);
		return t->name ? 0 : -1;
	}
	if (strcmp(k, "group") == 0) {
		if (!label_value_valid(v)) {
			snprintf(why, whylen, "group '%.64s' is not printable without spaces, quotes or commas", v);
			return -1;
		}
		free(t->group);
		t->group = strdup(v);
		return t->group ? 0 : -1;
	}
	if (strcmp(k, "method") == 0) {
		if (method_parse(v, &t->method) != 0) {
			snprintf(why, whylen, "method '%.64s' is not auto, icmp, icmp:liboping, icmp:dgram, tcp or tcp:PORT", v);
			return -1;
		}
		t->method_set = true;
		return 0;
	}
	if (strcmp(k, "interval") == 0 || strcmp(k, "timeout") == 0) {
		if (parse_double(v, k[0] == 'i' ? INTERVAL_MIN_S : 0.001, INTERVAL_MAX_S, &x) != 0) {
			snprintf(why, whylen, "%s '%.64s' is not a number of seconds in [%g, %g]", k, v,
			         k[0] == 'i' ? INTERVAL_MIN_S : 0.001, INTERVAL_MAX_S);
			return -1;
		}
		*(k[0] == 'i' ? &t->interval_s : &t->timeout_s) = x;
		return 0;
	}
	if (strcmp(k, "phi-threshold") == 0 || strcmp(k, "anomaly-threshold") == 0) {
		bool phi = k[0] == 'p';
		if (parse_double(v, 0, phi ? 1e6 : 1, &x) != 0) {
			snprintf(why, whylen, "%s '%.64s' is not a number in [0, %s]", k, v, phi ? "1e6" : "1");
			return -1;
		}
		*(phi ? &t->phi_threshold : &t->anomaly_threshold) = x;
		return 0;
	}
	const char *meant = meant_key(k);
	if (meant) {
		snprintf(why, whylen, "unknown key '%.64s': did you mean %s? (a label's name must not be that close to "
		         "one of the target's own keys)", k, meant);
		return -1;
	}
	if (!label_key_valid(k, strlen(k)) || label_key_reserved(k)) {
		snprintf(why, whylen, "'%.64s' is not a label name (letters, digits, _; not %s)", k,
		         "host, address, method, group, name, le, instance or job");
		return -1;
	}
	if (!label_value_valid(v)) {
		snprintf(why, whylen, "label %.64s: '%.64s' is not printable without spaces, quotes or commas", k, v);
		return -1;
	}
	for (size_t i = 0; i < t->nlabels; i++)
		if (strncmp(t->labels[i], k, strlen(k)) == 0 && t->labels[i][strlen(k)] == '=') {
			snprintf(why, whylen, "label %.64s given twice", k);
			return -1;
		}
	if (t->nlabels == TARGET_LABELS_MAX) {
		snprintf(why, whylen, "more than %d labels", TARGET_LABELS_MAX);
		return -1;
	}
	*eq = '=';
	if (!(t->labels[t->nlabels] = strdup(word)))
		return -1;
	t->nlabels++;
	return 0;
}

/* One non-blank line: a target. */
static int parse_line(target_list *l, char *line, char *why, size_t whylen)
{
	char *save = NULL, *word = strtok_r(line, " \t", &save);
	char problem[200];
	if (!host_name_valid(word)) {
		snprintf(why, whylen, "'%.64s' is not a host name or address", word);
		return -1;
	}
	if (hostaddr_problem(word, problem, sizeof(problem))) { /* never a DNS query for a typo */
		snprintf(why, whylen, "%s", problem);
		return -1;
	}
	if (l->n == TARGETS_MAX) {
		snprintf(why, whylen, "more than %d targets", TARGETS_MAX);
		return -1;
	}
	target *t = append(l);
	if (!t || !(t->address = strdup(word)) || !(t->name = strdup(word)) || !(t->group = strdup(""))) {
		if (t) {
			free(t->address);
			free(t->name);
		}
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	l->n++; /* from here, targets_free frees it */
	while ((word = strtok_r(NULL, " \t", &save)))
		if (option(t, word, why, whylen) != 0) {
			if (!why[0])
				snprintf(why, whylen, "out of memory");
			return -1;
		}
	if (t->timeout_s > 0 && t->timeout_s > (t->interval_s > 0 ? t->interval_s : INTERVAL_MAX_S)) {
		snprintf(why, whylen, "timeout %g is longer than the interval %g", t->timeout_s, t->interval_s);
		return -1;
	}
	qsort(t->labels, t->nlabels, sizeof(t->labels[0]), cmp_label);
	return 0;
}

static int cmp_name_at(const void *a, const void *b, void *list)
{
	const target *items = list;
	return strcmp(items[*(const size_t *)a].name, items[*(const size_t *)b].name);
}

/* Each name once: the logs, the state and Panorama key on it. */
static int check_unique(const target_list *l, const char *file, char *err, size_t errlen)
{
	size_t *order = malloc((l->n ? l->n : 1) * sizeof(*order));
	if (!order) {
		snprintf(err, errlen, "%s: out of memory", file);
		return -1;
	}
	for (size_t i = 0; i < l->n; i++)
		order[i] = i;
	qsort_r(order, l->n, sizeof(*order), cmp_name_at, l->items);
	int rc = 0;
	for (size_t i = 1; i < l->n && rc == 0; i++) {
		size_t a = order[i - 1], b = order[i];
		if (strcmp(l->items[a].name, l->items[b].name) == 0) {
			size_t first = a < b ? a : b, second = a < b ? b : a;
			const target *t1 = &l->items[first], *t2 = &l->items[second];
			if (t2->line)
				snprintf(err, errlen, "%s:%zu: target '%.64s' is already on line %zu", file, t2->line,
				         t2->name, t1->line);
			else
				snprintf(err, errlen, "%s: host '%.64s' given twice", file, t2->name);
			rc = -1;
		}
	}
	free(order);
	return rc;
}

int targets_parse(const char *text, size_t len, const char *file, target_list *out, char *err, size_t errlen)
{
	target_list l = { NULL, 0, 0 };
	char line[LINE_MAX_LEN + 1];
	size_t lineno = 0, at = 0;
	int rc = 0;
	while (at < len && rc == 0) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t n = nl ? (size_t)(nl - (text + at)) : len - at;
		lineno++;
		if (n > LINE_MAX_LEN || memchr(text + at, '\0', n)) {
			snprintf(err, errlen, "%s:%zu: %s", file, lineno,
			         n > LINE_MAX_LEN ? "line longer than 4096 bytes" : "a NUL byte");
			rc = -1;
			break;
		}
		memcpy(line, text + at, n);
		line[n] = '\0';
		at += n + (nl ? 1 : 0);
		line[strcspn(line, "#\r")] = '\0';
		if (line[strspn(line, " \t")] == '\0')
			continue;
		char why[256] = "";
		if (parse_line(&l, line, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "%s:%zu: %s", file, lineno, why);
			rc = -1;
			break;
		}
		l.items[l.n - 1].line = lineno;
	}
	if (rc == 0 && l.n == 0) {
		snprintf(err, errlen, "%s: no target in it", file);
		rc = -1;
	}
	if (rc == 0)
		rc = check_unique(&l, file, err, errlen);
	if (rc != 0) {
		targets_free(&l);
		return -1;
	}
	*out = l;
	return 0;
}

int targets_load(const char *path, target_list *out, char *err, size_t errlen)
{
	return targets_load_in(NULL, path, out, err, errlen);
}

int targets_load_in(const regdir *dir, const char *path, target_list *out, char *err, size_t errlen)
{
	FILE *f = regfile_open_in(dir, path, "r", err, errlen);
	if (!f)
		return -1;
	char *text = NULL;
	size_t len = 0, cap = 0;
	int rc = 0;
	for (;;) {
		if (len == cap) {
			cap = cap ? 2 * cap : 65536;
			char *grown = cap <= TARGETS_FILE_MAX + 1 ? realloc(text, cap) : NULL;
			if (!grown) {
				snprintf(err, errlen, "%s: larger than %zu MB", path, TARGETS_FILE_MAX >> 20);
				rc = -1;
				break;
			}
			text = grown;
		}
		size_t got = fread(text + len, 1, cap - len, f);
		len += got;
		if (got == 0) {
			if (ferror(f)) {
				snprintf(err, errlen, "%s: %s", path, strerror(errno ? errno : EIO));
				rc = -1;
			}
			break;
		}
	}
	fclose(f);
	if (rc == 0)
		rc = targets_parse(text, len, path, out, err, errlen);
	free(text);
	return rc;
}

int targets_from_hosts(char *const *hosts, size_t n, target_list *out, char *err, size_t errlen)
{
	target_list l = { NULL, 0, 0 };
	for (size_t i = 0; i < n; i++) {
		char problem[200];
		if (!host_name_valid(hosts[i])) {
			snprintf(err, errlen, "host '%.64s' is not a host name or address", hosts[i]);
			targets_free(&l);
			return -1;
		}
		if (hostaddr_problem(hosts[i], problem, sizeof(problem))) { /* never a DNS query for a typo */
			snprintf(err, errlen, "host %s", problem);
			targets_free(&l);
			return -1;
		}
		if (targets_add(&l, hosts[i]) != 0) {
			snprintf(err, errlen, "out of memory");
			targets_free(&l);
			return -1;
		}
	}
	if (check_unique(&l, "the command line", err, errlen) != 0) {
		targets_free(&l);
		return -1;
	}
	*out = l;
	return 0;
}

const target *targets_find(const target_list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->items[i].name, name) == 0)
			return &l->items[i];
	return NULL;
}

bool target_probed_alike(const target *a, const target *b)
{
	return strcmp(a->address, b->address) == 0 && a->method_set == b->method_set &&
	       (!a->method_set || (a->method.method == b->method.method && a->method.tcp_port == b->method.tcp_port)) &&
	       a->interval_s == b->interval_s && a->timeout_s == b->timeout_s;
}

const char *target_label(const target *t, const char *key)
{
	size_t n = strlen(key);
	for (size_t i = 0; i < t->nlabels; i++)
		if (strncmp(t->labels[i], key, n) == 0 && t->labels[i][n] == '=')
			return t->labels[i] + n + 1;
	return NULL;
}

void target_timing(const target *t, double interval_s, double timeout_s, unsigned burst, double *t_interval_s,
                   double *t_timeout_s)
{
	double interval = t->interval_s > 0 ? t->interval_s : interval_s;
	double timeout = t->timeout_s > 0 ? t->timeout_s : t->interval_s > 0 ? interval : timeout_s;
	double period = interval / (burst > 1 ? burst : 1);
	*t_interval_s = interval;
	*t_timeout_s = timeout < period ? timeout : period;
}

pipeline_host_options target_host_options(const target *t, double interval_s, double timeout_s, unsigned burst)
{
	double interval, timeout;
	target_timing(t, interval_s, timeout_s, burst, &interval, &timeout);
	return (pipeline_host_options){ t->phi_threshold, t->anomaly_threshold, (int64_t)(timeout * 1e9 + 0.5) };
}

bool target_label_valid(const char *kv, char *why, size_t whylen)
{
	const char *eq = strchr(kv, '=');
	if (!eq || eq == kv) {
		snprintf(why, whylen, "'%.64s' is not KEY=VALUE", kv);
		return false;
	}
	char key[128];
	size_t n = (size_t)(eq - kv);
	if (n >= sizeof(key) || !label_key_valid(kv, n)) {
		snprintf(why, whylen, "'%.64s' is not a label name (letters, digits, _)", kv);
		return false;
	}
	memcpy(key, kv, n);
	key[n] = '\0';
	if (label_key_reserved(key)) {
		snprintf(why, whylen, "'%s' is one of the agent's own words, not a label name", key);
		return false;
	}
	if (!label_value_valid(eq + 1)) {
		snprintf(why, whylen, "label %s: '%.64s' is not printable without spaces, quotes or commas", key, eq + 1);
		return false;
	}
	return true;
}
