/* safeout.c - see safeout.h. */
#include "pano/client/safeout.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

typedef struct {
	int fd;
	unsigned char pending[4]; /* an incomplete UTF-8 sequence across writes */
	size_t npending;
} safe;

static int put_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Bytes a sequence starting with c takes, 0 when c cannot start one. */
static size_t seq_len(unsigned char c)
{
	return c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
}

/* Whether s[0..n) is one well-formed, printable UTF-8 character. */
static bool printable(const unsigned char *s, size_t n)
{
	if (n == 1)
		return (s[0] >= 0x20 && s[0] < 0x7f) || s[0] == '\n' || s[0] == '\t';
	uint32_t v = s[0] & (0xff >> (n + 1));
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return false;
		v = v << 6 | (s[i] & 0x3f);
	}
	static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
	return v >= min[n] && v <= 0x10ffff && !(v >= 0xd800 && v <= 0xdfff) && !(v >= 0x80 && v <= 0x9f);
}

static size_t escape(char *out, const unsigned char *p, size_t n)
{
	size_t used = 0;
	for (size_t k = 0; k < n; k++)
		used += (size_t)snprintf(out + used, 5, "\\x%02x", p[k]);
	return used;
}

static ssize_t safe_write(void *cookie, const char *buf, size_t size)
{
	safe *s = cookie;
	char out[4096 + 32];
	size_t used = 0;
	for (size_t i = 0; i < size; i++) {
		unsigned char b = (unsigned char)buf[i];
		if (s->npending > 0 && (b & 0xc0) != 0x80) { /* a sequence cut short */
			used += escape(out + used, s->pending, s->npending);
			s->npending = 0;
		}
		s->pending[s->npending++] = b;
		size_t want = seq_len(s->pending[0]);
		if (want != 0 && s->npending < want)
			continue; /* the rest of the character is still to come */
		if (want != 0 && printable(s->pending, want)) {
			memcpy(out + used, s->pending, want);
			used += want;
		} else {
			used += escape(out + used, s->pending, s->npending);
		}
		s->npending = 0;
		if (used > 4096) {
			if (put_all(s->fd, out, used) != 0)
				return -1;
			used = 0;
		}
	}
	if (used && put_all(s->fd, out, used) != 0)
		return -1;
	return (ssize_t)size;
}

static int safe_close(void *cookie)
{
	safe *s = cookie;
	int rc = 0;
	char out[32];
	size_t n = escape(out, s->pending, s->npending); /* a sequence cut off at the end */
	if (n)
		rc = put_all(s->fd, out, n);
	free(s);
	return rc;
}

FILE *pano_safe_stream(int fd)
{
	safe *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->fd = fd;
	cookie_io_functions_t io = { .read = NULL, .write = safe_write, .seek = NULL, .close = safe_close };
	FILE *f = fopencookie(s, "w", io);
	if (!f) {
		free(s);
		return NULL;
	}
	setvbuf(f, NULL, _IOLBF, 0);
	return f;
}
