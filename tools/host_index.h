/*
 * host_index.h - host name -> dense index (0, 1, 2, ... in order of first
 * appearance), an open-addressing hash table for sonar-replay, which meets
 * its hosts as it reads them.
 */
#ifndef CLOUDSONAR_HOST_INDEX_H
#define CLOUDSONAR_HOST_INDEX_H

#include <stddef.h>

typedef struct host_index host_index;

host_index *host_index_new(void);
void host_index_free(host_index *h);
/* The index of name; -1 when absent. */
long host_index_find(const host_index *h, const char *name);
/* Records name under index `value`; -1 when out of memory. */
int host_index_put(host_index *h, const char *name, long value);

#endif
