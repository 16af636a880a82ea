/*
 * command.h - hview-client's command language, parsed
 * apart from its execution so that it can be tested and fuzzed alone:
 *
 *   me OBSERVER
 *   report SUBJECT METRIC:STATUS:SCORE...   (status: n h p m u d dd, or a name)
 *   get report|inference|panorama SUBJECT
 *   get view OBSERVER SUBJECT
 *   list [subject|observer]
 *   dump [inference|panorama]
 *   ping | help | exit | quit
 *   watch [SUBJECT]
 *
 * The parsed command points into the argv it came from (keep it alive);
 * only the report's metric names are its own.
 */
#ifndef PANO_COMMAND_H
#define PANO_COMMAND_H

#include <stddef.h>

#define PANO_COMMAND_ARGS_MAX 128

typedef enum {
	PANO_CMD_HELP, PANO_CMD_EXIT, PANO_CMD_ME, PANO_CMD_REPORT, PANO_CMD_GET, PANO_CMD_LIST,
	PANO_CMD_DUMP, PANO_CMD_PING, PANO_CMD_WATCH
} pano_command_kind;

typedef struct {
	char *name;   /* owned */
	int status;   /* Panorama's (model.h) */
	float score;  /* finite */
} pano_command_metric;

typedef struct {
	pano_command_kind kind;
	const char *what;      /* get: report|view|inference|panorama; list: subject|observer;
	                          dump: inference|panorama */
	const char *observer;  /* me; get view */
	const char *subject;   /* report, get; watch (NULL: every subject) */
	pano_command_metric *metrics; /* report */
	size_t nmetrics;
} pano_command;

/* 0, or 2 (bad usage) with one line in err. */
int pano_command_parse(int argc, char *const *argv, pano_command *out, char *err, size_t errlen);
void pano_command_clear(pano_command *c);

/* Splits a line on blanks, in place, into at most max words; the count. */
int pano_command_split(char *line, char **argv, int max);

#endif
