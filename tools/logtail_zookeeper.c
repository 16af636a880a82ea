/* logtail_zookeeper.c - the ZooKeeper plugin; see logtail_zookeeper.h. */
#include "tools/logtail_zookeeper.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "pano/common/json.h"
#include "pano/common/regfile.h"

#define MAX_PEERS 255

/* The rules are data, in the generic rules format: the plugin only adds
 * the ensemble's names.  Subjects come out as "sid:N" or "addr:HOST" and
 * the namer turns them into "peer@N". */
static const char ZK_RULES[] =
	"{\"time\": {\"match\": \"^([0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2})\","
	"            \"format\": \"%Y-%m-%d %H:%M:%S\"},"
	" \"rules\": ["
	"  {\"name\": \"cannot-open-channel\", \"match\": \"Cannot open channel to ([0-9]+) at election address\","
	"   \"subject\": \"sid:$1\", \"metric\": \"election\", \"status\": \"UNHEALTHY\", \"score\": 10, \"stop\": true},"
	"  {\"name\": \"connection-broken\", \"match\": \"Connection broken for id ([0-9]+)\","
	"   \"subject\": \"sid:$1\", \"metric\": \"quorum\", \"status\": \"UNHEALTHY\", \"score\": 20, \"stop\": true},"
	"  {\"name\": \"learner-connect-failed\","
	"   \"match\": \"Unexpected exception, tries=[0-9]+, .*connecting to /([^ :]+):[0-9]+\","
	"   \"subject\": \"addr:$1\", \"metric\": \"sync\", \"status\": \"UNHEALTHY\", \"score\": 20, \"stop\": true},"
	"  {\"name\": \"notification\", \"match\": \"Notification: .*[ (]([0-9]+) \\\\(n\\\\.sid\\\\)\","
	"   \"subject\": \"sid:$1\", \"metric\": \"election\", \"status\": \"HEALTHY\", \"stop\": true},"
	"  {\"name\": \"connection-request\", \"match\": \"Received connection request /([^ :]+):[0-9]+\","
	"   \"subject\": \"addr:$1\", \"metric\": \"quorum\", \"status\": \"HEALTHY\", \"stop\": true},"
	"  {\"name\": \"smaller-id\","
	"   \"match\": \"Have smaller server identifier, so dropping the connection: \\\\(([0-9]+), [0-9]+\\\\)\","
	"   \"subject\": \"sid:$1\", \"metric\": \"quorum\", \"status\": \"HEALTHY\", \"stop\": true},"
	"  {\"name\": \"follower-info\", \"match\": \"Follower sid: ([0-9]+) : info\","
	"   \"subject\": \"sid:$1\", \"metric\": \"sync\", \"status\": \"HEALTHY\", \"stop\": true}"
	" ]}";

typedef struct {
	long sid;
	char host[256];
} peer;

struct zk_plugin {
	peer peers[MAX_PEERS];
	size_t npeers;
	long self;               /* -1: unknown */
	char self_name[32];
	char **subjects;         /* the filter's, or NULL for all */
	size_t nsubjects;
};

static bool parse_sid(const char *s, size_t len, long *out)
{
	if (len == 0 || len > 9)
		return false;
	long v = 0;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* server.N=HOST:PORT:PORT[:role][;client] */
static int add_server(zk_plugin *z, const char *key, char *value, const char *path, int lineno, char *err,
                      size_t errlen)
{
	long sid;
	if (!parse_sid(key + 7, strlen(key + 7), &sid)) {
		snprintf(err, errlen, "%s: line %d: '%.64s' is not server.N", path, lineno, key);
		return -1;
	}
	char *host = value;
	char *end;
	if (host[0] == '[') { /* [IPv6]:port */
		end = strchr(host, ']');
		if (end)
			*end++ = '\0';
		host++;
	} else {
		end = strchr(host, ':');
	}
	if (!end || *end != ':' || !host[0] || strlen(host) >= sizeof(z->peers[0].host)) {
		snprintf(err, errlen, "%s: line %d: server.%ld wants HOST:PORT:PORT", path, lineno, sid);
		return -1;
	}
	*end = '\0';
	for (size_t i = 0; i < z->npeers; i++)
		if (z->peers[i].sid == sid) {
			snprintf(err, errlen, "%s: line %d: server.%ld given twice", path, lineno, sid);
			return -1;
		}
	if (z->npeers == MAX_PEERS) {
		snprintf(err, errlen, "%s: line %d: more than %d servers", path, lineno, MAX_PEERS);
		return -1;
	}
	z->peers[z->npeers].sid = sid;
	snprintf(z->peers[z->npeers].host, sizeof(z->peers[0].host), "%s", host);
	z->npeers++;
	return 0;
}

static void read_myid(zk_plugin *z, const char *data_dir)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/myid", data_dir);
	char err[256];
	FILE *f = regfile_open(path, "r", err, sizeof(err));
	if (!f)
		return;
	char line[64] = "";
	if (fgets(line, sizeof(line), f)) {
		char *t = trim(line);
		long sid;
		if (parse_sid(t, strlen(t), &sid))
			z->self = sid;
	}
	fclose(f);
}

static int load_ensemble(zk_plugin *z, const char *path, char *err, size_t errlen)
{
	FILE *f = regfile_open(path, "r", err, errlen);
	if (!f)
		return -1;
	char line[1024], data_dir[4096] = "";
	int lineno = 0, rc = 0;
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, errlen, "%s: line %d: longer than %zu bytes", path, lineno, sizeof(line) - 2);
			rc = -1;
			break;
		}
		char *t = trim(line);
		if (!t[0] || t[0] == '#')
			continue;
		char *eq = strchr(t, '=');
		if (!eq)
			continue; /* zoo.cfg is a Java properties file; other lines are not ours */
		*eq = '\0';
		char *key = trim(t), *value = trim(eq + 1);
		if (strncmp(key, "server.", 7) == 0)
			rc = add_server(z, key, value, path, lineno, err, errlen);
		else if (strcmp(key, "dataDir") == 0)
			snprintf(data_dir, sizeof(data_dir), "%s", value);
	}
	fclose(f);
	if (rc == 0 && z->npeers == 0) {
		snprintf(err, errlen, "%s: no server.N lines: not a ZooKeeper ensemble", path);
		rc = -1;
	}
	if (rc == 0 && data_dir[0] == '/') {
		read_myid(z, data_dir);
	} else if (rc == 0 && data_dir[0]) {
		/* a relative dataDir: next to zoo.cfg, not the caller's cwd */
		char rel[8300];
		const char *slash = strrchr(path, '/');
		snprintf(rel, sizeof(rel), "%.*s%s", slash ? (int)(slash - path + 1) : 0, path, data_dir);
		read_myid(z, rel);
	}
	return rc;
}

static bool in_filter(const zk_plugin *z, const char *subject)
{
	if (!z->subjects)
		return true;
	for (size_t i = 0; i < z->nsubjects; i++)
		if (strcmp(z->subjects[i], subject) == 0)
			return true;
	return false;
}

/* sid:N and addr:HOST to peer@N; others, and this server, dropped. */
static bool name_peer(void *ctx, char *subject)
{
	zk_plugin *z = ctx;
	long sid = -1;
	if (strncmp(subject, "sid:", 4) == 0) {
		if (!parse_sid(subject + 4, strlen(subject + 4), &sid))
			return false;
	} else if (strncmp(subject, "addr:", 5) == 0) {
		for (size_t i = 0; i < z->npeers && sid < 0; i++)
			if (strcmp(z->peers[i].host, subject + 5) == 0)
				sid = z->peers[i].sid;
	}
	if (sid < 0 || sid == z->self)
		return false;
	snprintf(subject, LOGRULES_MAX_NAME + 1, "peer@%ld", sid);
	return in_filter(z, subject);
}

static int string_list(json_t *v, char ***out, size_t *n, const char *path, const char *field, char *err,
                       size_t errlen)
{
	if (!json_is_array(v) || json_array_size(v) > 10000) {
		snprintf(err, errlen, "%s: field %s: must be an array of strings", path, field);
		return -1;
	}
	*n = json_array_size(v);
	*out = calloc(*n + 1, sizeof(char *));
	if (!*out) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	for (size_t i = 0; i < *n; i++) {
		json_t *s = json_array_get(v, i);
		if (!json_is_string(s) || !json_string_length(s) || json_string_length(s) > LOGRULES_MAX_NAME ||
		    strlen(json_string_value(s)) != json_string_length(s)) {
			snprintf(err, errlen, "%s: field %s[%zu]: must be a non-empty string", path, field, i);
			return -1;
		}
		if (!((*out)[i] = strdup(json_string_value(s)))) {
			snprintf(err, errlen, "%s: out of memory", path);
			return -1;
		}
	}
	return 0;
}

static void free_list(char **list, size_t n)
{
	if (!list)
		return;
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

static int load_filter(zk_plugin *z, logrules *r, const char *path, char *err, size_t errlen)
{
	json_t *root = pano_json_object(path, NULL, path, err, errlen);
	if (!root)
		return -1;
	int rc = 0;
	char **events = NULL;
	size_t nevents = 0;
	bool has_events = false;
	const char *key;
	json_t *v;
	json_object_foreach(root, key, v) {
		if (rc != 0)
			break;
		if (strcmp(key, "events") == 0) {
			has_events = true;
			rc = string_list(v, &events, &nevents, path, "events", err, errlen);
		} else if (strcmp(key, "subjects") == 0) {
			rc = string_list(v, &z->subjects, &z->nsubjects, path, "subjects", err, errlen);
		} else {
			snprintf(err, errlen, "%s: field %.64s: unknown field (events, subjects)", path, key);
			rc = -1;
		}
	}
	if (rc == 0 && has_events) {
		char why[300];
		if (logrules_keep_only(r, events, nevents, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "%s: events: %s", path, why);
			rc = -1;
		}
	}
	free_list(events, nevents);
	json_decref(root);
	return rc;
}

zk_plugin *zk_plugin_new(logrules *r, const char *ensemble_path, const char *filter_path, char *err,
                         size_t errlen)
{
	zk_plugin *z = calloc(1, sizeof(*z));
	if (!z) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	z->self = -1;
	if (load_ensemble(z, ensemble_path, err, errlen) != 0 ||
	    logrules_load_json(r, ZK_RULES, "zookeeper rules", err, errlen) != 0 ||
	    (filter_path && load_filter(z, r, filter_path, err, errlen) != 0)) {
		zk_plugin_free(z);
		return NULL;
	}
	if (z->self >= 0)
		snprintf(z->self_name, sizeof(z->self_name), "peer@%ld", z->self);
	logrules_set_namer(r, name_peer, z);
	return z;
}

void zk_plugin_free(zk_plugin *z)
{
	if (!z)
		return;
	free_list(z->subjects, z->nsubjects);
	free(z);
}

const char *zk_plugin_self(const zk_plugin *z) { return z->self_name[0] ? z->self_name : NULL; }
size_t zk_plugin_peers(const zk_plugin *z) { return z->npeers; }
