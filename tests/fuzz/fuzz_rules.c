/* Fuzz target: hview-logtail's rules: the JSON up to the first NUL byte,
 * then log lines matched against the rules that loaded. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tools/logrules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t json_len = nul ? (size_t)(nul - data) : size;
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[json_len] = '\0';
	text[size] = '\0';
	logrules *r = logrules_new();
	char err[512];
	if (logrules_load_json(r, text, "fuzz", err, sizeof(err)) == 0 && nul) {
		logevent ev[8];
		for (char *line = text + json_len + 1, *end; line < text + size; line = end + 1) {
			end = strchr(line, '\n');
			if (!end)
				end = text + size;
			*end = '\0';
			(void)logrules_match(r, line, ev, 8);
		}
	}
	logrules_free(r);
	free(text);
	return 0;
}
