/* fuzz_targets.c - the targets file parser on arbitrary bytes: it never
 * crashes, and what it accepts names each target once. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "agent/targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	target_list l;
	char err[512];
	if (targets_parse((const char *)data, size, "fuzz", &l, err, sizeof(err)) != 0)
		return 0;
	for (size_t i = 1; i < l.n; i++)
		if (strcmp(l.items[i - 1].name, l.items[i].name) == 0)
			__builtin_trap();
	targets_free(&l);
	return 0;
}
