/* pano_learn.c - sends one LearnReport (what a peer node sends) over CURVE
 * and prints the answer, for the tests of who may relay reports:
 *   pano-learn HOST:PORT KEY SERVERKEY SOURCE OBSERVER SUBJECT
 * Prints "ACCEPTED", "IGNORED" or "error CODE: message"; exit 0 when the
 * node answered, 1 otherwise. */
#include <stdio.h>
#include <time.h>

#include "pano/client/client.h"

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: pano-learn HOST:PORT KEY SERVERKEY SOURCE OBSERVER SUBJECT\n");
		return 2;
	}
	char err[512];
	pano_curve_client curve;
	if (pano_curve_client_load(&curve, argv[2], argv[3], err, sizeof(err)) != 0) {
		fprintf(stderr, "pano-learn: %s\n", err);
		return 2;
	}
	pano_client *c = pano_client_new(argv[1], 2000, &curve, err, sizeof(err));
	if (!c) {
		fprintf(stderr, "pano-learn: %s\n", err);
		return 2;
	}
	pano_one_metric_report x;
	pano_one_metric_report_init(&x, argv[5], argv[6], "rtt", PANORAMA__STATUS__UNHEALTHY, 10.0f,
	                            (int64_t)time(NULL), 0);
	Panorama__Peer source = PANORAMA__PEER__INIT;
	source.id = argv[4];
	Panorama__LearnReportRequest lr = PANORAMA__LEARN_REPORT_REQUEST__INIT;
	lr.kind = PANORAMA__LEARN_REPORT_REQUEST__KIND__NORMAL;
	lr.source = &source;
	lr.report = &x.report;
	Panorama__Request req = PANORAMA__REQUEST__INIT;
	req.body_case = PANORAMA__REQUEST__BODY_LEARN_REPORT;
	req.learn_report = &lr;
	Panorama__Reply *r = pano_client_call(c, &req, err, sizeof(err));
	int rc = 0;
	if (!r) {
		fprintf(stderr, "pano-learn: %s\n", err);
		rc = 1;
	} else if (r->body_case == PANORAMA__REPLY__BODY_LEARN_REPORT && r->learn_report) {
		puts(r->learn_report->result == PANORAMA__LEARN_REPORT_REPLY__STATUS__ACCEPTED ? "ACCEPTED" : "IGNORED");
	} else if (r->body_case == PANORAMA__REPLY__BODY_ERROR && r->error) {
		printf("error %d: %s\n", (int)r->error->code, r->error->message ? r->error->message : "");
	} else {
		puts("unexpected reply");
	}
	if (r)
		panorama__reply__free_unpacked(r, NULL);
	pano_client_free(c);
	return rc;
}
