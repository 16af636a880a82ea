/* badopt.c - see badopt.h. */
#include "agent/badopt.h"

#include <getopt.h>
#include <stdio.h>

void cli_bad_option(const char *prog, int c, char *const *argv, int word_at)
{
	if (c == ':') {
		fprintf(stderr, "%s: %s needs a value\n", prog, argv[optind - 1]);
		return;
	}
	const char *word = argv[word_at] ? argv[word_at] : argv[optind - 1];
	fprintf(stderr, "%s: unknown option '%.64s' (see --help)\n", prog, word);
}
