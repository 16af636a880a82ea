/*
 * strmap.h - a string-keyed hash map (open addressing, linear probing).
 *
 * Keys are copied in; values are the caller's pointers.  Used for subjects,
 * observers, views and interned metric names.  Iteration order is the
 * table's, i.e. arbitrary: callers that print sort first.
 */
#ifndef PANO_STRMAP_H
#define PANO_STRMAP_H

#include <stddef.h>

typedef struct strmap strmap;

strmap *strmap_new(void);
/* Frees the map and its keys; values are the caller's. */
void strmap_free(strmap *m);
void *strmap_get(const strmap *m, const char *key);
/* Stored key equal to `key` (stable until removed), or NULL. */
const char *strmap_key(const strmap *m, const char *key);
/* Inserts or replaces; -1 when out of memory. */
int strmap_put(strmap *m, const char *key, void *value);
/* Removes key; returns its value (NULL if absent). */
void *strmap_remove(strmap *m, const char *key);
size_t strmap_count(const strmap *m);

/* Iteration: i from 0 while strmap_next returns 1. */
int strmap_next(const strmap *m, size_t *i, const char **key, void **value);

#endif
