/* fuzz_http.c - what a node's HTTP face does with a request's path and
 * query string (the part after the library has parsed the request): the
 * input is "PATH\nQUERY", checked as the face checks them, then rendered
 * by the console over a small store.  Nothing may crash, every answer has
 * a status, and what it holds is given back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pano/common/http.h"
#include "pano/node/console.h"
#include "pano/node/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static pano_node_figures figures(void *ctx)
{
	(void)ctx;
	static unsigned long long zeros[64];
	pano_node_figures f = { 0 };
	f.by_kind = zeros;
	f.batch_le = zeros;
	f.commit_le = zeros;
	return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static pano_store *store;
	static pano_console *console;
	if (!store) {
		pano_limits l = pano_limits_default();
		store = pano_store_new(&l);
		const char *subjects[] = { "db-1", "mesh@web", "constructor" };
		for (size_t i = 0; i < 3; i++) {
			char err[128];
			pano_metric m = { pano_store_intern(store, "rtt", err, sizeof(err)), 2, 90, NULL, 0.0f, -1.0f };
			pano_obs o = { 1795428000 + (int64_t)i, 0, 1, malloc(sizeof(pano_metric)) };
			o.metrics[0] = m;
			uint64_t seq;
			if (pano_store_add(store, "o1", subjects[i], &o, &seq, NULL, err, sizeof(err)) != 0)
				pano_obs_clear(&o);
		}
		console = pano_console_new("fuzz", (const pano_store *const *)&store, figures, NULL);
	}
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	/* the path, then the query's arguments a line each: subject, observer,
	 * from, to, step */
	const char *args[5] = { NULL };
	char *nl = strchr(s, '\n');
	if (nl)
		*nl = '\0';
	bool sane = pano_http_request_sane(s);
	for (int i = 0; i < 5 && nl; i++) {
		args[i] = nl + 1;
		nl = strchr(nl + 1, '\n');
		if (nl)
			*nl = '\0';
		sane = sane && pano_http_request_sane(args[i]);
	}
	pano_http_query q = { args[0], args[1], args[2], args[3], args[4], size & 1 };
	if (sane) {
		pano_http_answer a = pano_console_render(console, s, &q);
		if (a.status < 100 || a.status > 599)
			__builtin_trap();
		if (a.finish)
			a.finish(a.data, &a);
		if (a.release)
			a.release(a.data);
		else
			free(a.body);
	}
	free(s);
	return 0;
}
