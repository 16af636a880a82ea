/* Fuzz target: hview-server's JSON config (as hview-mkrc writes it). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pano/node/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the loader takes a path: a memory file behind /proc/self/fd */
	int fd = memfd_create("config", 0);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size) {
		char path[64], err[512];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		pano_config c;
		pano_config_defaults(&c);
		(void)pano_config_load(&c, path, err, sizeof(err));
		pano_config_clear(&c);
	}
	close(fd);
	return 0;
}
