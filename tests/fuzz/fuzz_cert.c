/* Fuzz target: CURVE certificates (sonar-keygen's files, czmq's format),
 * which a node reads from its allow list. */
#include <stddef.h>
#include <stdint.h>

#include "pano/common/cert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pano_cert c;
	char err[512];
	(void)pano_cert_parse((const char *)data, size, "fuzz", false, &c, err, sizeof(err));
	(void)pano_cert_parse((const char *)data, size, "fuzz", true, &c, err, sizeof(err));
	return 0;
}
