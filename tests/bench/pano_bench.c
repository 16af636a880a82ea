/* pano_bench.c - loads a Panorama node with concurrent clients over
 * loopback and prints acknowledged reports/s and latency percentiles.
 *   pano-bench ADDR CLIENTS WINDOW SECONDS SUBJECTS OBSERVERS [DEPTH [KEYDIR|plain]]
 * Each client keeps WINDOW SubmitReports in flight, one metric each, over
 * SUBJECTS x OBSERVERS views, refilling the window once it has taken every
 * reply that has arrived.  With DEPTH > 0 it instead fills every view
 * with DEPTH observations as fast as it can (for the memory figure) and
 * stops.  With KEYDIR, client i speaks as one observer, obs@(i mod
 * OBSERVERS), over CURVE with KEYDIR/obs@N.key to the node of
 * KEYDIR/bench.pub (a CURVE key speaks for one observer only); "plain" is
 * the same without CURVE, for the comparison.  (DEPTH 0 with KEYDIR: the
 * timed load.)  Prints one line: reports=N seconds=S rate=R p50_us=A p99_us=B
 * errors=E. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pano/client/client.h"
#include "pano/common/model.h"

#define LAT_BUCKETS 100000 /* 1 us each, up to 100 ms */

typedef struct {
	const char *addr, *keydir;
	int id, nclients, window, seconds, subjects, observers, depth;
	unsigned long long acked, errors;
	unsigned *lat; /* histogram */
	unsigned long long lat_over;
} worker;

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *run(void *arg)
{
	worker *w = arg;
	char err[256];
	pano_curve_client curve;
	int own = w->keydir ? w->id % w->observers : -1; /* the one observer this client speaks as */
	bool keyed = w->keydir && strcmp(w->keydir, "plain") != 0;
	if (keyed) {
		char key[4096], server_key[4096];
		snprintf(key, sizeof(key), "%s/obs@%d.key", w->keydir, own);
		snprintf(server_key, sizeof(server_key), "%s/bench.pub", w->keydir);
		if (pano_curve_client_load(&curve, key, server_key, err, sizeof(err)) != 0) {
			fprintf(stderr, "pano-bench: %s\n", err);
			return NULL;
		}
	}
	pano_client *c = pano_client_new(w->addr, 5000, keyed ? &curve : NULL, err, sizeof(err));
	if (!c) {
		fprintf(stderr, "pano-bench: %s\n", err);
		return NULL;
	}
	char observer[64], subject[64];
	uint64_t *handles = calloc((size_t)w->observers, sizeof(*handles));
	for (int o = 0; o < w->observers; o++) {
		snprintf(observer, sizeof(observer), "obs@%d", o);
		handles[o] = pano_handle_of(observer);
	}
	size_t total_views = (size_t)w->subjects * (size_t)w->observers;
	/* Fill mode: this client's share of views, depth observations each. */
	unsigned long long fill_total = w->depth ? (total_views / (size_t)w->nclients + 1) * (size_t)w->depth : 0;
	int64_t *sent_at = calloc(1 << 20, sizeof(int64_t));
	int64_t start = now_ns(), end = start + (int64_t)w->seconds * 1000000000;
	uint64_t first_id = 0;
	int inflight = 0;
	unsigned long long n = 0;
	struct timespec wall;
	clock_gettime(CLOCK_REALTIME, &wall);
	for (;;) {
		bool more = w->depth ? n < fill_total : now_ns() < end;
		while (more && inflight < w->window) {
			size_t view = w->depth ? ((size_t)w->id + (size_t)w->nclients * (n / (size_t)w->depth)) % total_views
			                       : (size_t)(n * (size_t)w->nclients + (size_t)w->id) % total_views;
			int o = (int)(view % (size_t)w->observers);
			size_t subject_no = view / (size_t)w->observers;
			if (own >= 0) {
				o = own;
				subject_no = (size_t)(n * (size_t)w->nclients + (size_t)w->id) % (size_t)w->subjects;
			}
			snprintf(observer, sizeof(observer), "obs@%d", o);
			snprintf(subject, sizeof(subject), "host@%zu", subject_no);
			/* distinct times, so no report is a duplicate of another */
			pano_one_metric_report x;
			pano_one_metric_report_init(&x, observer, subject, "rtt", PANORAMA__STATUS__HEALTHY,
			                            (float)(n % 100), wall.tv_sec,
			                            (int32_t)((n * (unsigned long long)w->nclients +
			                                       (unsigned long long)w->id) % 1000000000ULL));
			Panorama__SubmitReportRequest sr = PANORAMA__SUBMIT_REPORT_REQUEST__INIT;
			sr.handle = handles[o];
			sr.report = &x.report;
			Panorama__Request req = PANORAMA__REQUEST__INIT;
			req.body_case = PANORAMA__REQUEST__BODY_SUBMIT_REPORT;
			req.submit_report = &sr;
			uint64_t id = pano_client_send(c, &req);
			if (!first_id)
				first_id = id;
			sent_at[(id - first_id) & ((1 << 20) - 1)] = now_ns();
			inflight++;
			n++;
			more = w->depth ? n < fill_total : now_ns() < end;
		}
		if (inflight == 0)
			break;
		Panorama__Reply *r = pano_client_recv(c, 5000);
		if (!r) {
			w->errors += (unsigned long long)inflight;
			break;
		}
		/* Every reply already here is taken before the window is refilled:
		 * the requests then leave in one burst, and the client wakes its
		 * I/O thread once per burst rather than once per report, which on
		 * two shared vCPUs leaves that much more CPU to the node. */
		do {
			int64_t lat = (now_ns() - sent_at[(r->id - first_id) & ((1 << 20) - 1)]) / 1000;
			if (r->body_case == PANORAMA__REPLY__BODY_SUBMIT_REPORT &&
			    r->submit_report->result == PANORAMA__SUBMIT_REPORT_REPLY__STATUS__ACCEPTED)
				w->acked++;
			else
				w->errors++;
			if (lat >= 0 && lat < LAT_BUCKETS)
				w->lat[lat]++;
			else
				w->lat_over++;
			panorama__reply__free_unpacked(r, NULL);
			inflight--;
		} while (inflight > 0 && (r = pano_client_recv(c, 0)) != NULL);
	}
	free(sent_at);
	free(handles);
	pano_client_free(c);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 7) {
		fprintf(stderr, "usage: pano-bench ADDR CLIENTS WINDOW SECONDS SUBJECTS OBSERVERS [DEPTH [KEYDIR|plain]]\n");
		return 2;
	}
	int nclients = atoi(argv[2]);
	if (nclients < 1 || nclients > 64)
		return 2;
	worker *ws = calloc((size_t)nclients, sizeof(*ws));
	pthread_t *th = calloc((size_t)nclients, sizeof(*th));
	int64_t start = now_ns();
	for (int i = 0; i < nclients; i++) {
		ws[i] = (worker){ argv[1], argc > 8 ? argv[8] : NULL, i, nclients, atoi(argv[3]), atoi(argv[4]), atoi(argv[5]),
		                  atoi(argv[6]), argc > 7 ? atoi(argv[7]) : 0, 0, 0,
		                  calloc(LAT_BUCKETS, sizeof(unsigned)), 0 };
		pthread_create(&th[i], NULL, run, &ws[i]);
	}
	unsigned long long acked = 0, errors = 0, over = 0, count = 0;
	static unsigned long long lat[LAT_BUCKETS];
	for (int i = 0; i < nclients; i++) {
		pthread_join(th[i], NULL);
		acked += ws[i].acked;
		errors += ws[i].errors;
		over += ws[i].lat_over;
		for (int b = 0; b < LAT_BUCKETS; b++)
			lat[b] += ws[i].lat[b];
		free(ws[i].lat);
	}
	double secs = (double)(now_ns() - start) / 1e9;
	for (int b = 0; b < LAT_BUCKETS; b++)
		count += lat[b];
	count += over;
	long p50 = -1, p99 = -1;
	unsigned long long seen = 0;
	for (int b = 0; b < LAT_BUCKETS; b++) {
		seen += lat[b];
		if (p50 < 0 && seen * 2 >= count)
			p50 = b;
		if (p99 < 0 && seen * 100 >= count * 99)
			p99 = b;
	}
	printf("reports=%llu seconds=%.2f rate=%.0f p50_us=%ld p99_us=%ld errors=%llu\n", acked, secs,
	       (double)acked / secs, p50, p99 < 0 ? 100000 : p99, errors);
	free(ws);
	free(th);
	return errors ? 1 : 0;
}
