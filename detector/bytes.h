/*
 * bytes.h - little-endian encoding of saved state, and a cursor that codes
 * a record in both directions.
 *
 * Saved state must read back the same on any host, so multi-byte fields are
 * always written little endian, byte by byte, never by casting structs.
 * Saved files carry an FNV-1a checksum of their bytes: a cheap, stable
 * guard against torn and flipped bytes (not against an adversary).
 *
 * A cursor (bytes_cursor) either encodes (takes each field from the
 * pointer it is given and appends its bytes) or decodes (reads the bytes
 * and stores the field through the pointer).  A record's layout is then
 * written once, as one function of (cursor, record) that saving and
 * loading both run, so the two cannot drift apart.  The error is sticky:
 * running past the buffer (or a caller's bytes_fail) marks the cursor bad,
 * later fields are skipped (decoded as 0), and the caller checks once at
 * the end.  An encoder without a buffer only counts the bytes.
 */
#ifndef CLOUDSONAR_BYTES_H
#define CLOUDSONAR_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

typedef struct {
	uint8_t *out;       /* encoding: where the bytes go (NULL: only count) */
	const uint8_t *in;  /* decoding: where they come from */
	size_t len, pos;    /* the buffer's size, and the bytes coded so far */
	bool decoding, bad;
} bytes_cursor;

static inline bytes_cursor bytes_encoder(uint8_t *out, size_t cap)
{
	return (bytes_cursor){ out, NULL, cap, 0, false, false };
}

static inline bytes_cursor bytes_decoder(const uint8_t *in, size_t len)
{
	return (bytes_cursor){ NULL, in, len, 0, true, false };
}

static inline void bytes_fail(bytes_cursor *c) { c->bad = true; }

/* n raw bytes at p. */
static inline void bytes_raw(bytes_cursor *c, void *p, size_t n)
{
	if (!c->bad && (c->out || c->decoding) && c->len - c->pos < n)
		c->bad = true;
	if (c->bad) {
		if (c->decoding)
			memset(p, 0, n);
		return;
	}
	if (c->decoding)
		memcpy(p, c->in + c->pos, n);
	else if (c->out)
		memcpy(c->out + c->pos, p, n);
	c->pos += n;
}

static inline void bytes_u8(bytes_cursor *c, uint8_t *v) { bytes_raw(c, v, 1); }
static inline void bytes_u8s(bytes_cursor *c, uint8_t *a, size_t n) { bytes_raw(c, a, n); }

static inline void bytes_u16(bytes_cursor *c, uint16_t *v)
{
	uint8_t b[2] = { 0, 0 };
	if (!c->decoding) {
		b[0] = (uint8_t)*v;
		b[1] = (uint8_t)(*v >> 8);
	}
	bytes_raw(c, b, 2);
	if (c->decoding)
		*v = (uint16_t)(b[0] | b[1] << 8);
}

static inline void bytes_u32(bytes_cursor *c, uint32_t *v)
{
	uint8_t b[4] = { 0 };
	if (!c->decoding)
		put_u32le(b, *v);
	bytes_raw(c, b, 4);
	if (c->decoding)
		*v = get_u32le(b);
}

static inline void bytes_u64(bytes_cursor *c, uint64_t *v)
{
	uint8_t b[8] = { 0 };
	if (!c->decoding)
		put_u64le(b, *v);
	bytes_raw(c, b, 8);
	if (c->decoding)
		*v = get_u64le(b);
}

static inline void bytes_i64(bytes_cursor *c, int64_t *v)
{
	uint64_t u = c->decoding ? 0 : (uint64_t)*v;
	bytes_u64(c, &u);
	*v = (int64_t)u;
}

static inline void bytes_f64(bytes_cursor *c, double *v)
{
	uint64_t u = 0;
	if (!c->decoding)
		memcpy(&u, v, 8);
	bytes_u64(c, &u);
	memcpy(v, &u, 8);
}

static inline void bytes_f32(bytes_cursor *c, float *v)
{
	uint32_t u = 0;
	if (!c->decoding)
		memcpy(&u, v, 4);
	bytes_u32(c, &u);
	memcpy(v, &u, 4);
}

/* A narrower field kept in a wider one on disk (a uint8_t or bool saved as
 * 16 or 32 bits): decoding refuses a value that does not fit. */
static inline void bytes_u8_as_u16(bytes_cursor *c, uint8_t *v)
{
	uint16_t w = c->decoding ? 0 : *v;
	bytes_u16(c, &w);
	if (w > UINT8_MAX)
		c->bad = true;
	*v = (uint8_t)w;
}

static inline void bytes_bool_as_u16(bytes_cursor *c, bool *v)
{
	uint16_t w = c->decoding ? 0 : *v;
	bytes_u16(c, &w);
	*v = w != 0;
}

static inline void bytes_bool_as_u32(bytes_cursor *c, bool *v)
{
	uint32_t w = c->decoding ? 0 : *v;
	bytes_u32(c, &w);
	*v = w != 0;
}

static inline void bytes_u16s(bytes_cursor *c, uint16_t *a, size_t n)
{
	for (size_t i = 0; i < n && !c->bad; i++)
		bytes_u16(c, &a[i]);
}

static inline void bytes_u32s(bytes_cursor *c, uint32_t *a, size_t n)
{
	for (size_t i = 0; i < n && !c->bad; i++)
		bytes_u32(c, &a[i]);
}

static inline void bytes_f32s(bytes_cursor *c, float *a, size_t n)
{
	for (size_t i = 0; i < n && !c->bad; i++)
		bytes_f32(c, &a[i]);
}

static inline void bytes_f64s(bytes_cursor *c, double *a, size_t n)
{
	for (size_t i = 0; i < n && !c->bad; i++)
		bytes_f64(c, &a[i]);
}

#endif
