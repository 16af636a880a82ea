/*
 * json.h - the one way configs and rule files are read as JSON.
 */
#ifndef PANO_JSON_H
#define PANO_JSON_H

#include <stddef.h>

#include <jansson.h>

/* A strict JSON object from a file (text NULL) or from text: duplicate keys
 * refused.  NULL with one line "ORIGIN: line N: ..." or "ORIGIN: must be
 * a JSON object" in err.  The caller json_decref()s it.  The config
 * loaders of hview-server and hview-logtail share it. */
json_t *pano_json_object(const char *path, const char *text, const char *origin, char *err, size_t errlen);

#endif
