/*
 * arena.h - a bump allocator for building one reply.
 *
 * A reply (a dump of 10,000 panoramas, say) is a tree of thousands of small
 * protobuf-c structs that live until it is packed; allocating them from an
 * arena and dropping the arena afterwards is simpler and faster than freeing
 * each, and lets them point at interned names without copying.
 */
#ifndef PANO_ARENA_H
#define PANO_ARENA_H

#include <stddef.h>

typedef struct arena arena;

arena *arena_new(void);
void arena_free(arena *a);
/* Zeroed memory, or NULL when out of memory (the arena stays usable). */
void *arena_alloc(arena *a, size_t size);
/* Releases everything allocated, keeping the first chunk for reuse. */
void arena_reset(arena *a);
/* Bytes handed out since the last reset. */
size_t arena_used(const arena *a);

#endif
