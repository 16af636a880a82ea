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
	if (word[0] == '-' && word[1] != '-' && word[1] && word[2])
		fprintf(stderr, "%s: unknown option '%.64s': options take two dashes (-%.62s); see --help\n", prog, word,
		        word);
	else
		fprintf(stderr, "%s: unknown option '%.64s' (see --help)\n", prog, word);
}
