/*
 * badopt.h - the one line for an option getopt_long refused, in sonar-agent,
 * sonar-replay and sonar-plot.
 */
#ifndef CLOUDSONAR_BADOPT_H
#define CLOUDSONAR_BADOPT_H

/* c is ':' for a missing value, else '?'; word_at is optind before that
 * getopt_long call, so the message names the word that was parsed (a
 * cluster like -server is one word, and a single dash gets a hint:
 * options take two). */
void cli_bad_option(const char *prog, int c, char *const *argv, int word_at);

#endif
