/*
 * bytes.h - little-endian integer encoding for saved detector state.
 *
 * Saved state must read back the same on any host, so multi-byte fields are
 * always written little endian, byte by byte, never by casting structs.
 * Saved files carry an FNV-1a checksum of their bytes: a cheap, stable
 * guard against torn and flipped bytes (not against an adversary).
 */
#ifndef CLOUDSONAR_BYTES_H
#define CLOUDSONAR_BYTES_H

#include <stddef.h>
#include <stdint.h>

#define FNV1A_INIT UINT64_C(0xcbf29ce484222325)

/* FNV-1a over p[0..n), continuing from h (FNV1A_INIT to start). */
static inline uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

static inline void put_u32le(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t get_u32le(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static inline void put_u64le(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t get_u64le(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

#endif
