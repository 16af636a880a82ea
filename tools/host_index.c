/* host_index.c - string -> index hash table; see host_index.h. */
#include "host_index.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	char *name; /* NULL: empty slot */
	long value;
} entry;

struct host_index {
	entry *slots;
	size_t cap, used; /* cap is a power of two, kept at most half full */
};

static uint64_t hash(const char *s)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

host_index *host_index_new(void)
{
	host_index *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->cap = 64;
	h->slots = calloc(h->cap, sizeof(*h->slots));
	if (!h->slots) {
		free(h);
		return NULL;
	}
	return h;
}

void host_index_free(host_index *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->cap; i++)
		free(h->slots[i].name);
	free(h->slots);
	free(h);
}

static entry *slot_for(entry *slots, size_t cap, const char *name)
{
	size_t i = (size_t)hash(name) & (cap - 1);
	while (slots[i].name && strcmp(slots[i].name, name) != 0)
		i = (i + 1) & (cap - 1);
	return &slots[i];
}

long host_index_find(const host_index *h, const char *name)
{
	entry *e = slot_for(h->slots, h->cap, name);
	return e->name ? e->value : -1;
}

static int grow(host_index *h)
{
	size_t cap = h->cap * 2;
	entry *slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -1;
	for (size_t i = 0; i < h->cap; i++)
		if (h->slots[i].name)
			*slot_for(slots, cap, h->slots[i].name) = h->slots[i];
	free(h->slots);
	h->slots = slots;
	h->cap = cap;
	return 0;
}

int host_index_put(host_index *h, const char *name, long value)
{
	if (2 * (h->used + 1) > h->cap && grow(h) != 0)
		return -1;
	entry *e = slot_for(h->slots, h->cap, name);
	if (!e->name) {
		e->name = strdup(name);
		if (!e->name)
			return -1;
		h->used++;
	}
	e->value = value;
	return 0;
}
