/* strmap.c - string-keyed hash map; see strmap.h. */
#include "pano/common/strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	char *key; /* NULL: empty */
	void *value;
} slot;

struct strmap {
	slot *slots;
	size_t cap, used; /* cap: power of two, at most half full */
};

static uint64_t hash(const char *s)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= UINT64_C(0x100000001b3);
	}
	return h ^ (h >> 29);
}

strmap *strmap_new(void)
{
	strmap *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->cap = 16;
	m->slots = calloc(m->cap, sizeof(*m->slots));
	if (!m->slots) {
		free(m);
		return NULL;
	}
	return m;
}

void strmap_free(strmap *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->cap; i++)
		free(m->slots[i].key);
	free(m->slots);
	free(m);
}

static slot *find(slot *slots, size_t cap, const char *key)
{
	size_t i = (size_t)hash(key) & (cap - 1);
	while (slots[i].key && strcmp(slots[i].key, key) != 0)
		i = (i + 1) & (cap - 1);
	return &slots[i];
}

void *strmap_get(const strmap *m, const char *key)
{
	slot *s = find(m->slots, m->cap, key);
	return s->key ? s->value : NULL;
}

const char *strmap_key(const strmap *m, const char *key)
{
	return find(m->slots, m->cap, key)->key;
}

static int grow(strmap *m)
{
	size_t cap = m->cap * 2;
	slot *slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -1;
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key)
			*find(slots, cap, m->slots[i].key) = m->slots[i];
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	return 0;
}

int strmap_put(strmap *m, const char *key, void *value)
{
	if (2 * (m->used + 1) > m->cap && grow(m) != 0)
		return -1;
	slot *s = find(m->slots, m->cap, key);
	if (!s->key) {
		s->key = strdup(key);
		if (!s->key)
			return -1;
		m->used++;
	}
	s->value = value;
	return 0;
}

void *strmap_remove(strmap *m, const char *key)
{
	slot *s = find(m->slots, m->cap, key);
	if (!s->key)
		return NULL;
	void *value = s->value;
	free(s->key);
	s->key = NULL;
	m->used--;
	/* Re-seat the rest of the probe run so lookups still find them. */
	size_t i = (size_t)(s - m->slots);
	for (size_t j = (i + 1) & (m->cap - 1); m->slots[j].key; j = (j + 1) & (m->cap - 1)) {
		slot moved = m->slots[j];
		m->slots[j].key = NULL;
		*find(m->slots, m->cap, moved.key) = moved;
	}
	return value;
}

size_t strmap_count(const strmap *m) { return m->used; }

int strmap_next(const strmap *m, size_t *i, const char **key, void **value)
{
	while (*i < m->cap) {
		slot *s = &m->slots[(*i)++];
		if (s->key) {
			*key = s->key;
			*value = s->value;
			return 1;
		}
	}
	return 0;
}
