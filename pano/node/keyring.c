/* keyring.c - a directory of public certificates; see keyring.h. */
#include "pano/node/keyring.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pano/common/strmap.h"

struct pano_keyring {
	pano_cert *certs;
	size_t n, cap;
	strmap *by_key;   /* public key -> cert */
	strmap *nodes;    /* node id -> cert */
};

void pano_keyring_free(pano_keyring *k)
{
	if (!k)
		return;
	strmap_free(k->by_key);
	strmap_free(k->nodes);
	free(k->certs);
	free(k);
}

size_t pano_keyring_count(const pano_keyring *k) { return k->n; }

const pano_cert *pano_keyring_find(const pano_keyring *k, const char *public_key)
{
	return strmap_get(k->by_key, public_key);
}

const pano_cert *pano_keyring_node(const pano_keyring *k, const char *id)
{
	return strmap_get(k->nodes, id);
}

static int has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n > m && strcmp(s + n - m, suffix) == 0;
}

/* Reads every *.pub; 0 or -1. */
static int read_certs(pano_keyring *k, const char *dir, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	if (!d) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	int rc = 0;
	struct dirent *e;
	while (rc == 0 && (e = readdir(d)) != NULL) {
		if (!has_suffix(e->d_name, ".pub") || e->d_name[0] == '.')
			continue;
		if (k->n == PANO_KEYRING_MAX) {
			snprintf(err, errlen, "%s: more than %d certificates", dir, PANO_KEYRING_MAX);
			rc = -1;
			break;
		}
		if (k->n == k->cap) {
			size_t cap = k->cap ? k->cap * 2 : 16;
			pano_cert *c = realloc(k->certs, cap * sizeof(*c));
			if (!c) {
				snprintf(err, errlen, "out of memory");
				rc = -1;
				break;
			}
			k->certs = c;
			k->cap = cap;
		}
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (pano_cert_load(path, false, &k->certs[k->n], err, errlen) != 0)
			rc = -1;
		else
			k->n++;
	}
	closedir(d);
	if (rc == 0 && k->n == 0) {
		snprintf(err, errlen, "%s: no public certificates (*.pub): nobody could connect", dir);
		rc = -1;
	}
	return rc;
}

pano_keyring *pano_keyring_load(const char *dir, char *err, size_t errlen)
{
	pano_keyring *k = calloc(1, sizeof(*k));
	if (!k || !(k->by_key = strmap_new()) || !(k->nodes = strmap_new())) {
		snprintf(err, errlen, "out of memory");
		pano_keyring_free(k);
		return NULL;
	}
	if (read_certs(k, dir, err, errlen) != 0) {
		pano_keyring_free(k);
		return NULL;
	}
	/* Indexed only now: the array no longer moves. */
	for (size_t i = 0; i < k->n; i++) {
		pano_cert *c = &k->certs[i];
		const pano_cert *other = strmap_get(k->by_key, c->public_key);
		if (!other && c->role == PANO_ROLE_NODE)
			other = strmap_get(k->nodes, c->name);
		if (other) {
			snprintf(err, errlen, "%s: '%s' and '%s' share a %s", dir, other->name, c->name,
			         strcmp(other->public_key, c->public_key) == 0 ? "public key" : "node id");
			pano_keyring_free(k);
			return NULL;
		}
		if (strmap_put(k->by_key, c->public_key, c) != 0 ||
		    (c->role == PANO_ROLE_NODE && strmap_put(k->nodes, c->name, c) != 0)) {
			snprintf(err, errlen, "out of memory");
			pano_keyring_free(k);
			return NULL;
		}
	}
	return k;
}
