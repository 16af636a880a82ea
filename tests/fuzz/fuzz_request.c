/* Fuzz target: what a node does with a request's bytes before any socket
 * or database: unpack the envelope, check its strings as text, validate
 * names and the observation,
 * add it to a store (with small limits, so the bounds are hit), infer. */
#include <stddef.h>
#include <stdint.h>

#include "pano/node/store.h"
#include "pano/node/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static pano_store *store;
	if (!store) {
		pano_limits l = pano_limits_default();
		l.max_subjects = 64;
		l.max_observers = 64;
		l.max_views_per_subject = 8;
		l.max_metric_names = 64;
		store = pano_store_new(&l);
	}
	Panorama__Request *req = panorama__request__unpack(NULL, size, data);
	if (!req)
		return 0;
	char why[160];
	if (wire_strings_valid(&panorama__request__descriptor, data, size, why, sizeof(why)) != 0) {
		panorama__request__free_unpacked(req, NULL);
		return 0;
	}
	const Panorama__Report *r = NULL;
	if (req->body_case == PANORAMA__REQUEST__BODY_SUBMIT_REPORT && req->submit_report)
		r = req->submit_report->report;
	else if (req->body_case == PANORAMA__REQUEST__BODY_LEARN_REPORT && req->learn_report)
		r = req->learn_report->report;
	char err[256];
	if (r && r->observer && r->subject && pano_name_valid(store, r->observer, err, sizeof(err)) &&
	    pano_name_valid(store, r->subject, err, sizeof(err))) {
		pano_obs obs;
		if (pano_obs_from_pb(store, r->observation, 1795428000, &obs, err, sizeof(err)) == 0) {
			uint64_t seq;
			if (pano_store_add(store, r->observer, r->subject, &obs, &seq, NULL, err, sizeof(err)) != 0) {
				pano_obs_clear(&obs);
				pano_store_names_rollback(store);
			}
			pano_subject *sub = pano_store_subject(store, r->subject);
			if (sub)
				(void)pano_subject_inference(sub);
		}
	}
	panorama__request__free_unpacked(req, NULL);
	return 0;
}
