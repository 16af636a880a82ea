/* hview_mkrc.c - writes a Panorama cluster config:
 *   hview-mkrc -fix_port P -nserver N -addressp PATTERN -namep PATTERN -id ID
 *              [-filter -subjects a,b,c] [-dbfile F] [-keys DIR] [-output FILE]
 * PATTERN holds one %d, replaced by 0..N-1.  With -keys the node uses CURVE:
 * its secret certificate DIR/ID.key, and lets in every DIR/ *.pub (its
 * peers' node keys and its observers' keys; sonar-keygen makes them). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "pano/common/goflags.h"

#define PROG "hview-mkrc"
#define SYNOPSIS "-fix_port P -nserver N -addressp PATTERN -namep PATTERN -id ID [-filter -subjects a,b,c] " \
	"[-dbfile F] [-keys DIR] [-output FILE]"
#define NSERVER_MAX 1000

/* PATTERN with its single %d replaced by i; -1 when it has not exactly one
 * %d or any other %: the user's text is never a printf format. */
static int expand(const char *pattern, long i, char *out, size_t outlen)
{
	const char *d = strstr(pattern, "%d");
	if (!d || strchr(d + 2, '%') || memchr(pattern, '%', (size_t)(d - pattern)))
		return -1;
	int n = snprintf(out, outlen, "%.*s%ld%s", (int)(d - pattern), pattern, i, d + 2);
	return n > 0 && (size_t)n < outlen ? 0 : -1;
}

int main(int argc, char **argv)
{
	long port = 0, nserver = 0;
	const char *addressp = NULL, *namep = NULL, *id = NULL, *subjects = NULL;
	const char *dbfile = "deephealth.db", *output = NULL, *keys = NULL;
	int filter = 0;
	const goflag flags[] = {
		{ "fix_port", GF_INT, &port, "port every server listens on" },
		{ "nserver", GF_INT, &nserver, "number of servers" },
		{ "addressp", GF_STRING, &addressp, "host pattern, e.g. razor%d" },
		{ "namep", GF_STRING, &namep, "server id pattern, e.g. pano%d" },
		{ "id", GF_STRING, &id, "id of the server this config is for" },
		{ "filter", GF_BOOL, &filter, "accept peers' reports only about -subjects" },
		{ "subjects", GF_STRING, &subjects, "comma-separated subjects to watch" },
		{ "dbfile", GF_STRING, &dbfile, "database file (default deephealth.db)" },
		{ "output", GF_STRING, &output, "also write the config to this file" },
		{ "keys", GF_STRING, &keys, "CURVE: the node's key is DIR/ID.key, the keys let in DIR/*.pub" },
	};
	int first;
	int rc = goflags_parse(PROG, SYNOPSIS, flags, sizeof(flags) / sizeof(flags[0]), argc, argv, &first);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	if (first != argc) {
		fprintf(stderr, PROG ": unexpected argument '%.64s'\n", argv[first]);
		return 2;
	}
	if (port < 1 || port > 65535) {
		fprintf(stderr, PROG ": -fix_port: give a port in 1..65535\n");
		return 2;
	}
	if (nserver < 1 || nserver > NSERVER_MAX) {
		fprintf(stderr, PROG ": -nserver: give a count in 1..%d\n", NSERVER_MAX);
		return 2;
	}
	char probe[512];
	if (!addressp || expand(addressp, 0, probe, sizeof(probe)) != 0) {
		fprintf(stderr, PROG ": -addressp: give a pattern with exactly one %%d, e.g. razor%%d\n");
		return 2;
	}
	if (!namep || expand(namep, 0, probe, sizeof(probe)) != 0) {
		fprintf(stderr, PROG ": -namep: give a pattern with exactly one %%d, e.g. pano%%d\n");
		return 2;
	}
	if (!id || !id[0]) {
		fprintf(stderr, PROG ": -id: give the id of this server, e.g. pano0\n");
		return 2;
	}
	if (!dbfile[0]) {
		fprintf(stderr, PROG ": -dbfile: empty file name\n");
		return 2;
	}
	json_t *root = json_object(), *peers = json_object(), *subj = json_array();
	const char *my_addr = NULL;
	char name[512], host[512], addr[600];
	for (long i = 0; i < nserver; i++) {
		expand(namep, i, name, sizeof(name));
		expand(addressp, i, host, sizeof(host));
		snprintf(addr, sizeof(addr), "%s:%ld", host, port);
		if (json_object_get(peers, name)) {
			fprintf(stderr, PROG ": -namep: two servers named %s\n", name);
			return 2;
		}
		json_object_set_new(peers, name, json_string(addr));
		if (strcmp(name, id) == 0)
			my_addr = json_string_value(json_object_get(peers, name));
	}
	if (!my_addr) {
		fprintf(stderr, PROG ": -id: %.64s is not one of the %ld servers named by -namep\n", id, nserver);
		return 2;
	}
	if (subjects) {
		char *copy = strdup(subjects), *save = NULL;
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
			json_array_append_new(subj, json_string(t));
		free(copy);
	}
	if (filter && json_array_size(subj) == 0) {
		fprintf(stderr, PROG ": -filter needs -subjects a,b,c\n");
		return 2;
	}
	json_object_set_new(root, "Addr", json_string(my_addr));
	json_object_set_new(root, "Id", json_string(id));
	json_object_set_new(root, "Subjects", subj);
	json_object_set_new(root, "Peers", peers);
	json_object_set_new(root, "FilterSubmission", json_boolean(filter));
	json_object_set_new(root, "LogLevel", json_string(""));
	json_object_set_new(root, "DumpMemUsage", json_false());
	json_object_set_new(root, "DBFile", json_string(dbfile));
	if (keys) {
		char key_path[4096];
		snprintf(key_path, sizeof(key_path), "%s/%s.key", keys, id);
		json_object_set_new(root, "CurveKey", json_string(key_path));
		json_object_set_new(root, "CurveAllow", json_string(keys));
	}
	char *text = json_dumps(root, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!text) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	if (output) {
		FILE *f = fopen(output, "w");
		if (!f || fprintf(f, "%s\n", text) < 0 || fclose(f) != 0) {
			fprintf(stderr, PROG ": -output %s: cannot write\n", output);
			free(text);
			return 1;
		}
	}
	printf("%s\n", text);
	free(text);
	return 0;
}
