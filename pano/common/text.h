/*
 * text.h - what counts as text in names and in what a node is sent.
 *
 * Names (subjects, observers, metrics, node ids) travel as protobuf
 * strings, which every other protobuf implementation parses only when they
 * are valid UTF-8: one invalid name stored by a node would break `dump` and
 * `list` for every client in another language, and stay in the database.
 */
#ifndef PANO_TEXT_H
#define PANO_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* True when s[0..n) is well-formed UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF) with no NUL. */
bool pano_utf8_valid(const char *s, size_t n);

/* True when s[0..n) is a name: 1..max_len bytes of valid UTF-8 with no
 * space and no control character (C0, DEL or C1); otherwise false with a
 * reason in err. */
bool pano_text_name_valid(const char *s, size_t n, size_t max_len, char *err, size_t errlen);

#endif
