/* arena.c - bump allocator; see arena.h. */
#include "pano/common/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK (64 * 1024)

typedef struct chunk {
	struct chunk *next;
	size_t size, used;
	max_align_t data[];
} chunk;

struct arena {
	chunk *head;
	size_t used;
};

static chunk *chunk_new(size_t size)
{
	chunk *c = malloc(sizeof(chunk) + size);
	if (!c)
		return NULL;
	c->next = NULL;
	c->size = size;
	c->used = 0;
	return c;
}

arena *arena_new(void)
{
	arena *a = calloc(1, sizeof(*a));
	if (a && !(a->head = chunk_new(CHUNK))) {
		free(a);
		return NULL;
	}
	return a;
}

void *arena_alloc(arena *a, size_t size)
{
	size_t align = sizeof(max_align_t);
	size = (size + align - 1) / align * align;
	if (size == 0)
		size = align;
	chunk *c = a->head;
	if (c->size - c->used < size) {
		c = chunk_new(size > CHUNK ? size : CHUNK);
		if (!c)
			return NULL;
		c->next = a->head;
		a->head = c;
	}
	void *p = (char *)c->data + c->used;
	c->used += size;
	a->used += size;
	memset(p, 0, size);
	return p;
}

void arena_reset(arena *a)
{
	chunk *c = a->head;
	while (c->next) {
		chunk *next = c->next;
		free(c);
		c = next;
	}
	c->used = 0;
	a->head = c;
	a->used = 0;
}

size_t arena_used(const arena *a) { return a->used; }

void arena_free(arena *a)
{
	if (!a)
		return;
	arena_reset(a);
	free(a->head);
	free(a);
}
