/* panorama.c - the public reporter over the client; see panorama.h. */
#include "pano/client/panorama.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pano/client/client.h"
#include "pano/common/clock.h"
#include "pano/common/curve.h"
#include "pano/common/model.h"
#include "pano/common/text.h"

#define NAME_MAX_LEN 255
/* Status names are at most this long ("MAYBE_UNHEALTHY"), with the NUL. */
#define STATUS_LEN_MIN 16

struct panorama_reporter {
	pano_client *c;
	char observer[NAME_MAX_LEN + 1];
	uint64_t handle;
};

/* Every call takes err and errlen; a caller that wants no reason may pass
 * NULL (whatever errlen says), and then gets none. */
#define ERR_BUFFER(err, errlen)         \
	char no_err_[1];                    \
	if (!(err)) {                       \
		(err) = no_err_;                \
		(errlen) = sizeof(no_err_);     \
	}

/* A name as the node takes it, checked here rather than sent: NULL, too
 * long (without reading past the bound) or not one is refused. */
static bool name_ok(const char *what, const char *name, char *err, size_t errlen)
{
	char why[128];
	if (!name) {
		snprintf(err, errlen, "no %s given", what);
		return false;
	}
	size_t n = strnlen(name, NAME_MAX_LEN + 1);
	if (n > NAME_MAX_LEN) {
		snprintf(err, errlen, "%s: longer than %d bytes", what, NAME_MAX_LEN);
		return false;
	}
	if (!pano_text_name_valid(name, n, NAME_MAX_LEN, why, sizeof(why))) {
		snprintf(err, errlen, "%s: %s", what, why);
		return false;
	}
	return true;
}

panorama_reporter *panorama_reporter_new(const char *node, const char *observer, const char *key_file,
                                         const char *node_key_file, int timeout_ms, char *err, size_t errlen)
{
	ERR_BUFFER(err, errlen);
	if (!node || !node[0] || strnlen(node, 1024) == 1024) {
		snprintf(err, errlen, "a node (host:port) is needed");
		return NULL;
	}
	if (!name_ok("observer", observer, err, errlen))
		return NULL;
	if (!key_file != !node_key_file) {
		snprintf(err, errlen, "CURVE needs both the observer's key and the node's");
		return NULL;
	}
	pano_curve_client curve;
	if (key_file && pano_curve_client_load(&curve, key_file, node_key_file, err, errlen) != 0)
		return NULL;
	panorama_reporter *r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(r->observer, sizeof(r->observer), "%s", observer);
	r->c = pano_client_new(node, timeout_ms > 0 ? timeout_ms : 3000, key_file ? &curve : NULL, err, errlen);
	explicit_bzero(&curve, sizeof(curve)); /* the secret key */
	if (!r->c || pano_client_register(r->c, r->observer, &r->handle, err, errlen) != 0) {
		panorama_reporter_free(r);
		return NULL;
	}
	return r;
}

void panorama_reporter_free(panorama_reporter *r)
{
	if (!r)
		return;
	pano_client_free(r->c);
	free(r);
}

int panorama_report(panorama_reporter *r, const char *subject, const char *metric, const char *status,
                    double score, char *err, size_t errlen)
{
	ERR_BUFFER(err, errlen);
	if (!r) {
		snprintf(err, errlen, "no reporter (panorama_reporter_new failed?)");
		return -1;
	}
	if (!name_ok("subject", subject, err, errlen) || !name_ok("metric", metric, err, errlen))
		return -1;
	int st = status && strnlen(status, 64) < 64 ? pano_status_parse(status) : -1;
	if (st < PANO_NA) {
		snprintf(err, errlen, "status '%.32s' is not one of Panorama's", status ? status : "(none)");
		return -1;
	}
	if (!(score >= 0 && score <= 100)) {
		snprintf(err, errlen, "score %g is not from 0 to 100", score);
		return -1;
	}
	int64_t now = clock_wall_ns();
	pano_one_metric_report rep;
	pano_one_metric_report_init(&rep, r->observer, subject, metric, st, (float)score, now / 1000000000,
	                            (int32_t)(now % 1000000000));
	return pano_client_submit(r->c, r->handle, &rep.report, err, errlen);
}

int panorama_inferred(panorama_reporter *r, const char *subject, const char *metric, char *status,
                      size_t statuslen, double *score, char *err, size_t errlen)
{
	ERR_BUFFER(err, errlen);
	if (!r) {
		snprintf(err, errlen, "no reporter (panorama_reporter_new failed?)");
		return -1;
	}
	if (!name_ok("subject", subject, err, errlen) || !name_ok("metric", metric, err, errlen))
		return -1;
	if (!status || statuslen < STATUS_LEN_MIN || !score) {
		snprintf(err, errlen, "status (at least %d bytes) and score are needed for the answer", STATUS_LEN_MIN);
		return -1;
	}
	Panorama__GetInferenceRequest gi = PANORAMA__GET_INFERENCE_REQUEST__INIT;
	gi.subject = (char *)subject;
	Panorama__Request req = PANORAMA__REQUEST__INIT;
	req.body_case = PANORAMA__REQUEST__BODY_GET_INFERENCE;
	req.get_inference = &gi;
	Panorama__Reply *reply = pano_client_call(r->c, &req, err, errlen);
	if (!reply)
		return -1;
	int rc = -1;
	if (reply->body_case == PANORAMA__REPLY__BODY_INFERENCE && reply->inference) {
		const Panorama__Observation *o = reply->inference->observation;
		snprintf(err, errlen, "no metric %.64s of %.64s", metric, subject);
		for (size_t i = 0; o && i < o->n_metrics; i++) {
			const Panorama__Observation__MetricsEntry *e = o->metrics[i];
			if (!e || !e->key || strcmp(e->key, metric) != 0 || !e->value || !e->value->value)
				continue;
			snprintf(status, statuslen, "%s", pano_status_name((int)e->value->value->status));
			*score = e->value->value->score;
			rc = 0;
		}
	} else {
		snprintf(err, errlen, "%s", reply->body_case == PANORAMA__REPLY__BODY_ERROR && reply->error &&
		                                    reply->error->message ? reply->error->message : "an unexpected reply");
	}
	panorama__reply__free_unpacked(reply, NULL);
	return rc;
}
