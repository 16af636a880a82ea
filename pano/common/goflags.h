/*
 * goflags.h - command lines in the style of Go's flag package, which
 * Panorama's tools use: -name value, -name=value, --name, and bare -name for
 * booleans; flags end at the first non-flag argument or "--".
 */
#ifndef PANO_GOFLAGS_H
#define PANO_GOFLAGS_H

#include <stddef.h>
#include <stdio.h>

typedef enum { GF_STRING, GF_INT, GF_BOOL } goflag_kind;

typedef struct {
	const char *name;
	goflag_kind kind;
	void *target;     /* const char **, long *, or int * (bool) */
	const char *help;
} goflag;

/* 0: parsed, *first_arg is the first operand; 1: -h/-help/--help (usage
 * printed to stdout); -1: an error line "PROG: ..." printed to stderr. */
int goflags_parse(const char *prog, const char *synopsis, const goflag *flags, size_t n,
                  int argc, char **argv, int *first_arg);
void goflags_usage(FILE *out, const char *prog, const char *synopsis, const goflag *flags, size_t n);

#endif
