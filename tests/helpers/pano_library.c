/* pano_library.c - libcloudsonar's public calls, made the wrong way on
 * purpose, against a live node: each must be refused with a reason (or
 * quietly, without one, when err is NULL), never crash, and never send
 * what the node would refuse.  Prints TAP.
 *   pano-library HOST:PORT */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pano/client/panorama.h"

static int failed;

static void ok(int cond, const char *what)
{
	printf("%s - %s\n", cond ? "ok" : "not ok", what);
	failed |= !cond;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: pano-library HOST:PORT\n");
		return 2;
	}
	const char *node = argv[1];
	char err[256], status[32];
	double score = -1;

	/* no reporter */
	err[0] = '\0';
	ok(panorama_report(NULL, "s", "m", "HEALTHY", 50, err, sizeof(err)) == -1 && err[0],
	   "panorama_report without a reporter: -1 with a reason");
	err[0] = '\0';
	ok(panorama_inferred(NULL, "s", "m", status, sizeof(status), &score, err, sizeof(err)) == -1 && err[0],
	   "panorama_inferred without a reporter: -1 with a reason");
	ok(panorama_report(NULL, "s", "m", "HEALTHY", 50, NULL, 100) == -1,
	   "err NULL with errlen 100: -1, no crash");
	ok(panorama_reporter_new(NULL, "o", NULL, NULL, 1000, NULL, 50) == NULL, "no node, err NULL: NULL");
	ok(panorama_reporter_new(node, NULL, NULL, NULL, 1000, err, sizeof(err)) == NULL, "no observer: NULL");
	ok(panorama_reporter_new(node, "a b", NULL, NULL, 1000, err, sizeof(err)) == NULL && strstr(err, "observer"),
	   "an observer with a space: NULL, naming it");
	panorama_reporter_free(NULL);
	ok(1, "panorama_reporter_free(NULL) is a no-op");

	panorama_reporter *r = panorama_reporter_new(node, "library-test", NULL, NULL, 2000, err, sizeof(err));
	ok(r != NULL, "a reporter for a node that runs");
	if (!r) {
		printf("# %s\n", err);
		return 1;
	}
	ok(panorama_report(r, NULL, "m", "HEALTHY", 50, err, sizeof(err)) == -1, "NULL subject: -1");
	ok(panorama_report(r, "s", NULL, "HEALTHY", 50, err, sizeof(err)) == -1, "NULL metric: -1");
	ok(panorama_report(r, "s", "m", NULL, 50, err, sizeof(err)) == -1, "NULL status: -1");
	ok(panorama_report(r, "s", "m", "HEALTHY", 101, err, sizeof(err)) == -1, "score 101: -1");
	ok(panorama_report(r, "s", "m", "HEALTHY", NAN, err, sizeof(err)) == -1, "score NaN: -1");
	size_t big = (size_t)300 << 20;
	char *huge = malloc(big + 1);
	if (huge) {
		memset(huge, 'a', big);
		huge[big] = '\0';
		err[0] = '\0';
		ok(panorama_report(r, huge, "m", "HEALTHY", 50, err, sizeof(err)) == -1 && strstr(err, "longer than 255"),
		   "a 300 MB subject is refused here, not packed and sent");
		ok(panorama_report(r, "s", huge, "HEALTHY", 50, err, sizeof(err)) == -1, "a 300 MB metric too");
		ok(panorama_report(r, "s", "m", huge, 50, err, sizeof(err)) == -1, "a 300 MB status too");
		free(huge);
	}
	ok(panorama_report(r, "s\x01", "m", "HEALTHY", 50, err, sizeof(err)) == -1, "a control character: -1");
	ok(panorama_inferred(r, "s", NULL, status, sizeof(status), &score, err, sizeof(err)) == -1,
	   "panorama_inferred, NULL metric: -1");
	ok(panorama_inferred(r, "s", "m", NULL, 32, &score, err, sizeof(err)) == -1,
	   "panorama_inferred, NULL status: -1");
	ok(panorama_inferred(r, "s", "m", status, 4, &score, err, sizeof(err)) == -1,
	   "panorama_inferred, a status buffer of 4 bytes: -1");
	ok(panorama_inferred(r, "s", "m", status, sizeof(status), NULL, err, sizeof(err)) == -1,
	   "panorama_inferred, NULL score: -1");
	ok(panorama_report(r, "s", "m", "HEALTHY", 50, err, 0) == 0, "errlen 0 with a good report: 0");
	ok(panorama_report(r, "lib-s", "m", "UNHEALTHY", 20, NULL, 0) == 0, "a good report with err NULL: 0");
	ok(panorama_inferred(r, "lib-s", "m", status, sizeof(status), &score, err, sizeof(err)) == 0 &&
	       strcmp(status, "UNHEALTHY") == 0 && score > 19.9 && score < 20.1,
	   "and what the node infers of it");
	panorama_reporter_free(r);
	return failed;
}
