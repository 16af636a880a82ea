/* goflags.c - Go-style flag parsing; see goflags.h. */
#include "pano/common/goflags.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

void goflags_usage(FILE *out, const char *prog, const char *synopsis, const goflag *flags, size_t n)
{
	fprintf(out, "usage: %s %s\n", prog, synopsis);
	for (size_t i = 0; i < n; i++)
		fprintf(out, "  -%s%s\n    \t%s\n", flags[i].name,
		        flags[i].kind == GF_STRING ? " string" : flags[i].kind == GF_INT ? " int" : "",
		        flags[i].help);
}

static int set(const char *prog, const goflag *f, const char *value)
{
	if (f->kind == GF_STRING) {
		*(const char **)f->target = value;
		return 0;
	}
	if (f->kind == GF_BOOL) {
		if (!value || strcmp(value, "true") == 0 || strcmp(value, "1") == 0)
			*(int *)f->target = 1;
		else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0)
			*(int *)f->target = 0;
		else {
			fprintf(stderr, "%s: -%s: '%.64s' is not true or false\n", prog, f->name, value);
			return -1;
		}
		return 0;
	}
	char *end;
	errno = 0;
	long v = strtol(value, &end, 10);
	if (end == value || *end || errno) {
		fprintf(stderr, "%s: -%s: '%.64s' is not an integer\n", prog, f->name, value);
		return -1;
	}
	*(long *)f->target = v;
	return 0;
}

int goflags_parse(const char *prog, const char *synopsis, const goflag *flags, size_t n,
                  int argc, char **argv, int *first_arg)
{
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-' || a[1] == '\0')
			break;
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		const char *name = a + (a[1] == '-' ? 2 : 1);
		const char *eq = strchr(name, '=');
		size_t len = eq ? (size_t)(eq - name) : strlen(name);
		if ((len == 1 && name[0] == 'h') || (len == 4 && strncmp(name, "help", 4) == 0)) {
			goflags_usage(stdout, prog, synopsis, flags, n);
			return 1;
		}
		const goflag *f = NULL;
		for (size_t k = 0; k < n; k++)
			if (strlen(flags[k].name) == len && strncmp(flags[k].name, name, len) == 0)
				f = &flags[k];
		if (!f) {
			fprintf(stderr, "%s: unknown flag '%.64s' (see -help)\n", prog, a);
			return -1;
		}
		const char *value = eq ? eq + 1 : NULL;
		if (!value && f->kind != GF_BOOL) {
			if (i + 1 >= argc) {
				fprintf(stderr, "%s: flag -%s needs a value\n", prog, f->name);
				return -1;
			}
			value = argv[++i];
		}
		if (set(prog, f, value) != 0)
			return -1;
	}
	*first_arg = i;
	return 0;
}
