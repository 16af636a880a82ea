/* command.c - hview-client's command parser; see command.h. */
#include "pano/client/command.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pano/common/model.h"

void pano_command_clear(pano_command *c)
{
	for (size_t i = 0; i < c->nmetrics; i++)
		free(c->metrics[i].name);
	free(c->metrics);
	memset(c, 0, sizeof(*c));
}

static int usage(char *err, size_t errlen, const char *text)
{
	snprintf(err, errlen, "%s", text);
	return 2;
}

static int one_of(const char *s, const char *a, const char *b)
{
	return strcmp(s, a) == 0 || strcmp(s, b) == 0;
}

/* METRIC:STATUS:SCORE into m. */
static int parse_metric(const char *spec, pano_command_metric *m, char *err, size_t errlen)
{
	const char *c1 = strchr(spec, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	char *end = NULL;
	float score = c2 ? strtof(c2 + 1, &end) : NAN;
	if (!c1 || !c2 || c1 == spec || strchr(c2 + 1, ':') || !end || *end || end == c2 + 1 || !isfinite(score) ||
	    score < 0 || score > 100) {
		snprintf(err, errlen, "report: '%.200s' is not metric:status:score (a score from 0 to 100)", spec);
		return 2;
	}
	char status_text[32];
	snprintf(status_text, sizeof(status_text), "%.*s", (int)(c2 - c1 - 1), c1 + 1);
	int status = (size_t)(c2 - c1 - 1) < sizeof(status_text) ? pano_status_parse(status_text) : -1;
	if (status < 0) {
		snprintf(err, errlen, "report: status '%s' is not one of n h p m u d dd", status_text);
		return 2;
	}
	if (!(m->name = strndup(spec, (size_t)(c1 - spec)))) {
		snprintf(err, errlen, "out of memory");
		return 2;
	}
	m->status = status;
	m->score = score;
	return 0;
}

static int parse_report(int argc, char *const *argv, pano_command *c, char *err, size_t errlen)
{
	if (argc < 3)
		return usage(err, errlen, "usage: report subject metric:status:score ... (status: n h p m u d dd)");
	c->subject = argv[1];
	c->metrics = calloc((size_t)(argc - 2), sizeof(*c->metrics));
	if (!c->metrics)
		return usage(err, errlen, "out of memory");
	for (int i = 2; i < argc; i++) {
		if (parse_metric(argv[i], &c->metrics[c->nmetrics], err, errlen) != 0)
			return 2;
		c->nmetrics++;
	}
	return 0;
}

static int parse_get(int argc, char *const *argv, pano_command *c, char *err, size_t errlen)
{
	int i = 1;
	c->what = "report";
	if (argc > 1 && (one_of(argv[1], "report", "view") || one_of(argv[1], "inference", "panorama")))
		c->what = argv[i++];
	int want = strcmp(c->what, "view") == 0 ? 2 : 1;
	if (argc - i != want)
		return usage(err, errlen, "usage: get report|inference|panorama SUBJECT, or get view OBSERVER SUBJECT");
	if (want == 2)
		c->observer = argv[i];
	c->subject = argv[argc - 1];
	return 0;
}

static int parse(int argc, char *const *argv, pano_command *c, char *err, size_t errlen)
{
	const char *cmd = argv[0];
	if (strcmp(cmd, "help") == 0) {
		c->kind = PANO_CMD_HELP;
	} else if (one_of(cmd, "exit", "quit")) {
		c->kind = PANO_CMD_EXIT;
	} else if (strcmp(cmd, "me") == 0) {
		c->kind = PANO_CMD_ME;
		if (argc != 2)
			return usage(err, errlen, "usage: me observer");
		c->observer = argv[1];
	} else if (strcmp(cmd, "report") == 0) {
		c->kind = PANO_CMD_REPORT;
		return parse_report(argc, argv, c, err, errlen);
	} else if (strcmp(cmd, "get") == 0) {
		c->kind = PANO_CMD_GET;
		return parse_get(argc, argv, c, err, errlen);
	} else if (strcmp(cmd, "list") == 0) {
		c->kind = PANO_CMD_LIST;
		c->what = argc > 1 ? argv[1] : "subject";
		if (argc > 2 || !one_of(c->what, "subject", "observer"))
			return usage(err, errlen, "usage: list [subject|observer]");
	} else if (strcmp(cmd, "dump") == 0) {
		c->kind = PANO_CMD_DUMP;
		c->what = argc > 1 ? argv[1] : "inference";
		if (argc > 2 || (!one_of(c->what, "inference", "panorama") && strcmp(c->what, "blame") != 0))
			return usage(err, errlen, "usage: dump [inference|panorama|blame]");
	} else if (strcmp(cmd, "ping") == 0) {
		c->kind = PANO_CMD_PING;
	} else if (strcmp(cmd, "watch") == 0) {
		c->kind = PANO_CMD_WATCH;
		if (argc > 2)
			return usage(err, errlen, "usage: watch [subject]");
		c->subject = argc == 2 ? argv[1] : NULL;
	} else {
		snprintf(err, errlen, "unknown command '%.64s' (try help)", cmd);
		return 2;
	}
	return 0;
}

int pano_command_parse(int argc, char *const *argv, pano_command *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (argc < 1)
		return usage(err, errlen, "no command (try help)");
	if (argc > PANO_COMMAND_ARGS_MAX)
		return usage(err, errlen, "too many arguments");
	int rc = parse(argc, argv, out, err, errlen);
	if (rc != 0)
		pano_command_clear(out);
	return rc;
}

int pano_command_split(char *line, char **argv, int max)
{
	int n = 0;
	for (char *save = NULL, *t = strtok_r(line, " \t\r\n", &save); t && n < max;
	     t = strtok_r(NULL, " \t\r\n", &save))
		argv[n++] = t;
	return n;
}
