/* Fuzz target: the publish queue an earlier run left on disk (publisher.h),
 * read by a publisher with no node to send to. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pano/client/publisher.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char dir[64];
	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/fuzz-queue.XXXXXX");
		if (!mkdtemp(dir))
			abort();
	}
	char path[128];
	snprintf(path, sizeof(path), "%s/publish.queue", dir);
	FILE *f = fopen(path, "wb");
	if (!f)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	/* stderr would fill the fuzzer's log with "kept in ..." lines */
	FILE *saved = stderr;
	stderr = fopen("/dev/null", "w");
	char err[256];
	publisher *p = publisher_new(NULL, NULL, 0, "fuzz", path, NULL, err, sizeof(err));
	publisher_free(p);
	fclose(stderr);
	stderr = saved;
	/* the corrupt queues set aside pile up otherwise */
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -f %s/publish.queue.corrupt-*", dir);
	if (system(cmd) != 0)
		return 0;
	return 0;
}
