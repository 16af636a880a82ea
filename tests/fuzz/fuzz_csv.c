/* Fuzz target: sonar-replay's reader of sonar.csv. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tools/csv_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	FILE *f = fmemopen((void *)data, size, "rb");
	if (!f)
		return 0;
	csv_reader *r = csv_reader_new(f);
	sonar_row row;
	char err[256];
	for (int i = 0; r && i < 100000 && csv_reader_next(r, &row, err, sizeof(err)) != 0; i++)
		;
	csv_reader_free(r);
	fclose(f);
	return 0;
}
