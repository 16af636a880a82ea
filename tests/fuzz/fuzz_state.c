/* Fuzz target: the detectors' saved state: an HTM model blob, a phi
 * window blob, and the agent's whole state file. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "agent/pipeline.h"
#include "detector/phi.h"
#include "htm/htm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	htm_free(htm_load(data, size, err, sizeof(err)));
	phi_free(phi_load(data, size, 100, PHI_DIST_EXP, err, sizeof(err)));
	int fd = memfd_create("state", 0);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size) {
		pipeline_params pp = { .phi_window = 100, .phi_dist = PHI_DIST_EXP, .phi_threshold = 1,
		                       .anomaly_threshold = 0.5, .confirm = 3, .accept_after_s = 1800, .dead_after_s = 10,
		                       .timeout_ns = 1000000000,
		                       .htm = true, .htm_aggregate = 1, .htm_resolution = PIPELINE_HTM_RESOLUTION };
		pipeline *p = pipeline_new(&pp, NULL);
		pipeline_add_host(p, "a");
		pipeline_add_host(p, "b");
		char path[64];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		size_t restored;
		(void)pipeline_load_state(p, NULL, path, &restored, err, sizeof(err));
		pipeline_free(p);
	}
	close(fd);
	return 0;
}
