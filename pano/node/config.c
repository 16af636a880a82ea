/* config.c - strict JSON configuration; see config.h. */
#include "pano/node/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "pano/common/text.h"
#include "pano/node/judge.h"
#include "pano/node/notify.h"

int pano_config_set(char **field, const char *value)
{
	char *v = strdup(value);
	if (!v)
		return -1;
	free(*field);
	*field = v;
	return 0;
}

void pano_config_defaults(pano_config *c)
{
	memset(c, 0, sizeof(*c));
	c->addr = strdup("127.0.0.1:6688");
	c->id = strdup("pano0");
	c->db_file = strdup("deephealth.db");
	c->log_level = 1;
	c->gc_frequency_s = 300;
	c->stale_after = JUDGE_STALE_AFTER;
	c->gc_threshold_s = 3600;
}

void pano_config_clear(pano_config *c)
{
	free(c->addr);
	free(c->id);
	free(c->db_file);
	free(c->watch_addr);
	free(c->http_addr);
	free(c->http_token);
	free(c->curve_key);
	free(c->curve_allow);
	free(c->user);
	for (size_t i = 0; i < c->nsubjects; i++)
		free(c->subjects[i]);
	free(c->subjects);
	for (size_t i = 0; i < c->npeers; i++) {
		free(c->peers[i].id);
		free(c->peers[i].addr);
	}
	free(c->peers);
	for (size_t i = 0; i < c->nnotify_commands; i++)
		free(c->notify_commands[i]);
	free(c->notify_commands);
	for (size_t i = 0; i < c->nnotify_webhooks; i++)
		free(c->notify_webhooks[i]);
	free(c->notify_webhooks);
	free(c->config_path);
	free(c->flag_command);
	free(c->flag_webhook);
	memset(c, 0, sizeof(*c));
}

int pano_config_add_target(pano_config *c, const char *spec, bool webhook, char *why, size_t whylen)
{
	if (notify_target_valid(spec, webhook, why, whylen) != 0)
		return -1;
	char ***list = webhook ? &c->notify_webhooks : &c->notify_commands;
	size_t *n = webhook ? &c->nnotify_webhooks : &c->nnotify_commands;
	char **grown = realloc(*list, (*n + 1) * sizeof(char *));
	char *copy = grown ? strdup(spec) : NULL;
	if (grown)
		*list = grown;
	if (!copy) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	(*list)[(*n)++] = copy;
	return 0;
}

static int bad(char *err, size_t errlen, const char *path, const char *field, const char *why)
{
	snprintf(err, errlen, "%s: field %s: %s", path, field, why);
	return -1;
}

static int get_string(json_t *v, char **out, const char *path, const char *field, char *err, size_t errlen)
{
	if (!json_is_string(v))
		return bad(err, errlen, path, field, "must be a string");
	if (strlen(json_string_value(v)) != json_string_length(v))
		return bad(err, errlen, path, field, "contains a NUL byte");
	return pano_config_set(out, json_string_value(v)) ? bad(err, errlen, path, field, "out of memory") : 0;
}

static int get_bool(json_t *v, bool *out, const char *path, const char *field, char *err, size_t errlen)
{
	if (!json_is_boolean(v))
		return bad(err, errlen, path, field, "must be true or false");
	*out = json_is_true(v);
	return 0;
}

/* Times and counts are bounded so that adding them to the clock or
 * sizing by them cannot overflow. */
#define CONFIG_SECONDS_MAX (10 * 366 * 86400LL)
#define CONFIG_COUNT_MAX 1000000000LL

static int get_int(json_t *v, int64_t *out, int64_t min, int64_t max, const char *path, const char *field,
                   char *err, size_t errlen)
{
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		char why[96];
		snprintf(why, sizeof(why), "must be an integer in [%lld, %lld]", (long long)min, (long long)max);
		return bad(err, errlen, path, field, why);
	}
	*out = json_integer_value(v);
	return 0;
}

static int load_gc(pano_config *c, json_t *obj, const char *path, char *err, size_t errlen)
{
	if (!json_is_object(obj))
		return bad(err, errlen, path, "GCConfig", "must be an object");
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v) {
		char field[128];
		snprintf(field, sizeof(field), "GCConfig.%.64s", key);
		int rc;
		if (strcmp(key, "Enable") == 0)
			rc = get_bool(v, &c->gc_enable, path, field, err, errlen);
		else if (strcmp(key, "Frequency") == 0)
			rc = get_int(v, &c->gc_frequency_s, 1, CONFIG_SECONDS_MAX, path, field, err, errlen);
		else if (strcmp(key, "Threshold") == 0)
			rc = get_int(v, &c->gc_threshold_s, 1, CONFIG_SECONDS_MAX, path, field, err, errlen);
		else if (strcmp(key, "Relative") == 0)
			rc = get_bool(v, &c->gc_relative, path, field, err, errlen);
		else
			rc = bad(err, errlen, path, field, "unknown field");
		if (rc)
			return -1;
	}
	return 0;
}

static int load_buf(pano_config *c, json_t *obj, const char *path, char *err, size_t errlen)
{
	if (!json_is_object(obj))
		return bad(err, errlen, path, "BufConfig", "must be an object");
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v) {
		char field[128];
		snprintf(field, sizeof(field), "BufConfig.%.64s", key);
		int rc;
		if (strcmp(key, "HoldTime") == 0)
			rc = get_int(v, &c->buf_hold_time, 0, CONFIG_SECONDS_MAX, path, field, err, errlen);
		else if (strcmp(key, "HoldListLen") == 0)
			rc = get_int(v, &c->buf_hold_len, 0, CONFIG_COUNT_MAX, path, field, err, errlen);
		else
			rc = bad(err, errlen, path, field, "unknown field");
		if (rc)
			return -1;
	}
	return 0;
}

static int load_subjects(pano_config *c, json_t *arr, const char *path, char *err, size_t errlen)
{
	if (!json_is_array(arr))
		return bad(err, errlen, path, "Subjects", "must be an array of strings");
	size_t n = json_array_size(arr);
	if (n > PANO_CONFIG_SUBJECTS_MAX) {
		char why[96];
		snprintf(why, sizeof(why), "%zu subjects (at most %d)", n, PANO_CONFIG_SUBJECTS_MAX);
		return bad(err, errlen, path, "Subjects", why);
	}
	c->subjects = calloc(n ? n : 1, sizeof(char *));
	if (!c->subjects)
		return bad(err, errlen, path, "Subjects", "out of memory");
	for (size_t i = 0; i < n; i++) {
		char field[64];
		snprintf(field, sizeof(field), "Subjects[%zu]", i);
		if (get_string(json_array_get(arr, i), &c->subjects[i], path, field, err, errlen))
			return -1;
		c->nsubjects++;
	}
	return 0;
}

/* NotifyCommands, NotifyWebhooks: arrays of strings, each a valid target. */
#define CONFIG_NOTIFY_MAX 16
static int load_targets(char ***out, size_t *nout, bool webhooks, json_t *arr, const char *path, const char *key,
                        char *err, size_t errlen)
{
	if (!json_is_array(arr) || json_array_size(arr) > CONFIG_NOTIFY_MAX)
		return bad(err, errlen, path, key, "must be an array of at most 16 strings");
	size_t n = json_array_size(arr);
	*out = calloc(n ? n : 1, sizeof(char *));
	if (!*out)
		return bad(err, errlen, path, key, "out of memory");
	for (size_t i = 0; i < n; i++) {
		char field[64], why[160];
		snprintf(field, sizeof(field), "%s[%zu]", key, i);
		if (get_string(json_array_get(arr, i), &(*out)[i], path, field, err, errlen))
			return -1;
		(*nout)++;
		if (notify_target_valid((*out)[i], webhooks, why, sizeof(why)) != 0)
			return bad(err, errlen, path, field, why);
	}
	return 0;
}

static int load_peers(pano_config *c, json_t *obj, const char *path, char *err, size_t errlen)
{
	if (!json_is_object(obj))
		return bad(err, errlen, path, "Peers", "must be an object of id: \"host:port\"");
	size_t n = json_object_size(obj);
	c->peers = calloc(n ? n : 1, sizeof(*c->peers));
	if (!c->peers)
		return bad(err, errlen, path, "Peers", "out of memory");
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v) {
		char field[128];
		snprintf(field, sizeof(field), "Peers.%.64s", key);
		pano_peer_conf *p = &c->peers[c->npeers];
		if (!key[0])
			return bad(err, errlen, path, field, "empty peer id");
		if (pano_config_set(&p->id, key) || get_string(v, &p->addr, path, field, err, errlen)) {
			c->npeers++;
			return -1;
		}
		c->npeers++;
		if (!strchr(p->addr, ':'))
			return bad(err, errlen, path, field, "must be \"host:port\"");
	}
	return 0;
}

int pano_config_load(pano_config *c, const char *path, char *err, size_t errlen)
{
	json_t *root = pano_json_object(path, NULL, path, err, errlen);
	if (!root)
		return -1;
	int rc = 0;
	const char *key;
	json_t *v;
	json_object_foreach(root, key, v) {
		if (strcmp(key, "Addr") == 0)
			rc = get_string(v, &c->addr, path, key, err, errlen);
		else if (strcmp(key, "Id") == 0)
			rc = get_string(v, &c->id, path, key, err, errlen);
		else if (strcmp(key, "Subjects") == 0)
			rc = load_subjects(c, v, path, err, errlen);
		else if (strcmp(key, "Peers") == 0)
			rc = load_peers(c, v, path, err, errlen);
		else if (strcmp(key, "FilterSubmission") == 0)
			rc = get_bool(v, &c->filter, path, key, err, errlen);
		else if (strcmp(key, "LogLevel") == 0) {
			char *level = NULL;
			rc = get_string(v, &level, path, key, err, errlen);
			if (rc == 0) {
				static const char *const names[] = { "debug", "info", "warn", "error" };
				int found = level[0] ? -1 : 1;
				for (int i = 0; i < 4 && found < 0; i++)
					if (strcmp(level, names[i]) == 0)
						found = i;
				if (found < 0)
					rc = bad(err, errlen, path, key, "must be \"\", debug, info, warn or error");
				else
					c->log_level = found;
			}
			free(level);
		} else if (strcmp(key, "DumpMemUsage") == 0)
			rc = get_bool(v, &c->dump_mem, path, key, err, errlen);
		else if (strcmp(key, "DBFile") == 0)
			rc = get_string(v, &c->db_file, path, key, err, errlen);
		else if (strcmp(key, "GCConfig") == 0)
			rc = load_gc(c, v, path, err, errlen);
		else if (strcmp(key, "BufConfig") == 0)
			rc = load_buf(c, v, path, err, errlen);
		else if (strcmp(key, "HTTPAddr") == 0)
			rc = get_string(v, &c->http_addr, path, key, err, errlen);
		else if (strcmp(key, "HTTPTokenFile") == 0)
			rc = get_string(v, &c->http_token, path, key, err, errlen);
		else if (strcmp(key, "CurveKey") == 0)
			rc = get_string(v, &c->curve_key, path, key, err, errlen);
		else if (strcmp(key, "CurveAllow") == 0)
			rc = get_string(v, &c->curve_allow, path, key, err, errlen);
		else if (strcmp(key, "MeshOpen") == 0)
			rc = get_bool(v, &c->mesh_open, path, key, err, errlen);
		else if (strcmp(key, "StaleAfter") == 0) {
			int64_t n = 0;
			rc = get_int(v, &n, 0, 1000, path, key, err, errlen);
			c->stale_after = (double)n;
		}
		else if (strcmp(key, "User") == 0)
			rc = get_string(v, &c->user, path, key, err, errlen);
		else if (strcmp(key, "NotifyCommands") == 0)
			rc = load_targets(&c->notify_commands, &c->nnotify_commands, false, v, path, key, err, errlen);
		else if (strcmp(key, "NotifyWebhooks") == 0)
			rc = load_targets(&c->notify_webhooks, &c->nnotify_webhooks, true, v, path, key, err, errlen);
		else
			rc = bad(err, errlen, path, key, "unknown field");
		if (rc)
			break;
	}
	json_decref(root);
	if (rc == 0 && (!c->addr[0] || !c->id[0] || !c->db_file[0]))
		rc = bad(err, errlen, path, "Addr/Id/DBFile", "must not be empty");
	return rc;
}

int pano_config_check_names(const pano_config *c, const char *origin, char *err, size_t errlen)
{
	char why[128];
	if (!pano_text_name_valid(c->id, strlen(c->id), PANO_NAME_LEN_MAX, why, sizeof(why))) {
		snprintf(err, errlen, "%s: the node's id: %s", origin, why);
		return -1;
	}
	for (size_t i = 0; i < c->nsubjects; i++)
		if (!pano_text_name_valid(c->subjects[i], strlen(c->subjects[i]), PANO_NAME_LEN_MAX, why, sizeof(why))) {
			snprintf(err, errlen, "%s: field Subjects[%zu]: %s", origin, i, why);
			return -1;
		}
	for (size_t i = 0; i < c->npeers; i++)
		if (!pano_text_name_valid(c->peers[i].id, strlen(c->peers[i].id), PANO_NAME_LEN_MAX, why, sizeof(why))) {
			snprintf(err, errlen, "%s: field Peers: peer id %zu: %s", origin, i + 1, why);
			return -1;
		}
	return 0;
}
