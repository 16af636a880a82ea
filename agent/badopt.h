/*
 * badopt.h - the one line for an option getopt_long refused, in sonar-agent,
 * sonar-replay and sonar-plot.
 */
#ifndef CLOUDSONAR_BADOPT_H
#define CLOUDSONAR_BADOPT_H

/* c is ':' for a missing value, else '?'; word_at is optind before that
 * getopt_long_only call, so the message names the word that was parsed
 * (every program takes -option and --option alike, as the hview ones do). */
void cli_bad_option(const char *prog, int c, char *const *argv, int word_at);

#endif
