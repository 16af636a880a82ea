/* pano_history.c - fills a node with history, as agents would have sent it:
 *   pano-history HOST:PORT SUBJECTS OBSERVERS SECONDS STEP [plain]
 * Reports of observers obs-0.. on hosts host-0.., each with a summary
 * (panorama.proto), one every STEP seconds of the last SECONDS, oldest
 * first, pipelined.  Each host has a level of its own (0.2 to 20 ms) with
 * a daily swing; host-0 is 5x slow and UNHEALTHY for 20 minutes every 6
 * hours, and loses a tenth of its probes then (PANO_HISTORY_SICK below).  With "plain", the same
 * reports without summaries (what history costs the node, by
 * difference).  Prints the reports
 * acknowledged and how long they took; exit 1 when any was not. */
#include <math.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pano/client/client.h"
#include "pano/common/model.h"

#define WINDOW 256

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 6 && !(argc == 7 && strcmp(argv[6], "plain") == 0)) {
		fprintf(stderr, "usage: pano-history HOST:PORT SUBJECTS OBSERVERS SECONDS STEP [plain]\n");
		return 2;
	}
	bool plain = argc == 7;
	long subjects = atol(argv[2]), observers = atol(argv[3]), seconds = atol(argv[4]), step = atol(argv[5]);
	if (subjects < 1 || observers < 1 || seconds < 1 || step < 1 || subjects > 100000 || observers > 1000) {
		fprintf(stderr, "pano-history: bad numbers\n");
		return 2;
	}
	char err[512];
	pano_client *c = pano_client_new(argv[1], 5000, NULL, err, sizeof(err));
	if (!c) {
		fprintf(stderr, "pano-history: %s\n", err);
		return 2;
	}
	int64_t end = (int64_t)time(NULL), start = end - seconds;
	/* PANO_HISTORY_SICK=N: observer obs-N sees every host slow in the last
	 * 10 minutes (a sick observer, for the console's pictures) */
	const char *sick_env = getenv("PANO_HISTORY_SICK");
	long sick = sick_env ? atol(sick_env) : -1;
	long inflight = 0;
	unsigned long long acked = 0, failed = 0, sent = 0;
	double began = now_s();
	for (int64_t t = start; t <= end || inflight > 0;) {
		while (t <= end && inflight < WINDOW) {
			for (long s = 0; s < subjects; s++)
				for (long o = 0; o < observers; o++) {
					char observer[32], subject[32];
					snprintf(observer, sizeof(observer), "obs-%ld", o);
					snprintf(subject, sizeof(subject), "host-%ld", s);
					double level = 0.2 * pow(100.0, (double)((s * 37) % 101) / 100.0);
					level *= 1.0 + 0.3 * sin(2 * M_PI * (double)(t % 86400) / 86400.0);
					bool slow = (s == 0 && t % 21600 < 1200) || (o == sick && t > end - 600);
					if (slow)
						level *= 5;
					pano_one_metric_report x;
					pano_one_metric_report_init(&x, observer, subject, "rtt",
					                            slow ? PANORAMA__STATUS__UNHEALTHY : PANORAMA__STATUS__HEALTHY,
					                            slow ? 20.0f : 80.0f, t, (int32_t)o);
					x.summary.probes = (uint32_t)step;
					x.summary.lost = slow ? (uint32_t)(step / 10) : 0;
					x.summary.min_ms = (float)(level * 0.8);
					x.summary.median_ms = (float)level;
					x.summary.p90_ms = (float)(level * 1.3);
					x.summary.max_ms = (float)(level * 2.0);
					if (!plain)
						x.value.summary = &x.summary;
					Panorama__SubmitReportRequest sr = PANORAMA__SUBMIT_REPORT_REQUEST__INIT;
					sr.handle = pano_handle_of(observer);
					sr.report = &x.report;
					Panorama__Request req = PANORAMA__REQUEST__INIT;
					req.body_case = PANORAMA__REQUEST__BODY_SUBMIT_REPORT;
					req.submit_report = &sr;
					if (pano_client_send(c, &req) == 0) {
						fprintf(stderr, "pano-history: cannot send\n");
						return 1;
					}
					inflight++;
					sent++;
				}
			t += step;
		}
		if (inflight == 0)
			break;
		Panorama__Reply *r = pano_client_recv(c, 10000);
		if (!r) {
			fprintf(stderr, "pano-history: no answer for 10 s (%ld in flight)\n", inflight);
			return 1;
		}
		do {
			if (r->body_case == PANORAMA__REPLY__BODY_SUBMIT_REPORT &&
			    r->submit_report->result == PANORAMA__SUBMIT_REPORT_REPLY__STATUS__ACCEPTED)
				acked++;
			else if (failed++ == 0)
				fprintf(stderr, "pano-history: refused: %s\n",
				        r->body_case == PANORAMA__REPLY__BODY_ERROR && r->error->message ? r->error->message : "?");
			panorama__reply__free_unpacked(r, NULL);
			inflight--;
		} while (inflight > 0 && (r = pano_client_recv(c, 0)) != NULL);
	}
	double took = now_s() - began;
	printf("%llu reports acknowledged of %llu in %.1f s (%.0f a second)\n", acked, sent, took,
	       took > 0 ? (double)acked / took : 0.0);
	pano_client_free(c);
	return failed ? 1 : 0;
}
