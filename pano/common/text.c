/* text.c - UTF-8 and name checks; see text.h. */
#include "pano/common/text.h"

#include <stdint.h>
#include <stdio.h>

/* Length of the UTF-8 sequence at s (at most n bytes left) and its code
 * point in *cp; 0 when it is not a well-formed one. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t v, min;
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if (c >= 0xc2 && c <= 0xdf) {
		len = 2, v = c & 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3, v = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4, v = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

bool pano_utf8_valid(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t len = utf8_next(u + i, n - i, &cp);
		if (len == 0 || cp == 0)
			return false;
		i += len;
	}
	return true;
}

bool pano_text_name_valid(const char *s, size_t n, size_t max_len, char *err, size_t errlen)
{
	if (n == 0) {
		snprintf(err, errlen, "empty name");
		return false;
	}
	if (n > max_len) {
		snprintf(err, errlen, "name of %zu bytes (at most %zu)", n, max_len);
		return false;
	}
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t len = utf8_next(u + i, n - i, &cp);
		if (len == 0) {
			snprintf(err, errlen, "name is not valid UTF-8 (byte %zu)", i + 1);
			return false;
		}
		if (cp <= ' ' || (cp >= 0x7f && cp <= 0x9f)) {
			snprintf(err, errlen, "name with a space or control character (byte %zu)", i + 1);
			return false;
		}
		i += len;
	}
	return true;
}
