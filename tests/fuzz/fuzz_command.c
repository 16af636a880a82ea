/* Fuzz target: hview-client's command parser, fed lines as its prompt
 * reads them (split on blanks, then parsed). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pano/client/command.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = malloc(size + 1);
	if (!line)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	char *argv[PANO_COMMAND_ARGS_MAX + 1];
	int argc = pano_command_split(line, argv, PANO_COMMAND_ARGS_MAX + 1);
	if (argc > 0) {
		pano_command c;
		char err[512];
		if (pano_command_parse(argc, argv, &c, err, sizeof(err)) == 0) {
			/* what the client will use must be there */
			if (c.kind == PANO_CMD_REPORT && (!c.subject || c.nmetrics == 0 || !c.metrics[0].name))
				abort();
			if (c.kind == PANO_CMD_GET && (!c.subject || !c.what))
				abort();
			pano_command_clear(&c);
		}
	}
	free(line);
	return 0;
}
