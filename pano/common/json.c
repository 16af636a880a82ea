/* json.c - strict JSON objects from files or text; see json.h. */
#include "pano/common/json.h"

#include <stdio.h>

#include "pano/common/regfile.h"

json_t *pano_json_object(const char *path, const char *text, const char *origin, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root = NULL;
	if (text) {
		root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	} else {
		FILE *f = regfile_open(path, "rb", err, errlen);
		if (!f)
			return NULL;
		root = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
		fclose(f);
	}
	if (!root) {
		if (je.line > 0)
			snprintf(err, errlen, "%s: line %d: %s", origin, je.line, je.text);
		else /* not JSON's fault: the file could not be read */
			snprintf(err, errlen, "%s", je.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen, "%s: must be a JSON object", origin);
		json_decref(root);
		return NULL;
	}
	return root;
}
