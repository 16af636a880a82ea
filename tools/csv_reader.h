/*
 * csv_reader.h - reads sonar.csv (timestamp,host,rtt_ns) defensively.
 *
 * Every line is checked whole: the ISO 8601 millisecond timestamp, a host
 * as the agent accepts it, and rtt_ns either empty (a lost probe) or an
 * integer in [0, PHI_RTT_MAX_NS].  CRLF line ends and a missing final
 * newline are accepted; the header line is skipped wherever it appears (files
 * are appended to across runs).  A bad line is returned as an error with its
 * line number and the reader carries on with the next line.
 */
#ifndef CLOUDSONAR_CSV_READER_H
#define CLOUDSONAR_CSV_READER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CSV_LINE_MAX 4096

typedef struct {
	int64_t wall_ms;
	char host[256];
	bool lost;
	int64_t rtt_ns;
} sonar_row;

typedef struct csv_reader csv_reader;

csv_reader *csv_reader_new(FILE *in);
void csv_reader_free(csv_reader *r);

/* 1: *row holds the next row; 0: end of input; -1: the current line is bad
 * (reason in err, e.g. "line 7: rtt_ns '-5' is not an integer in [0, ...]"). */
int csv_reader_next(csv_reader *r, sonar_row *row, char *err, size_t errlen);

/* Parses one line without its line end; 0, or -1 with a reason. */
int sonar_row_parse(const char *line, size_t len, sonar_row *row, char *err, size_t errlen);

#endif
