/*
 * config.h - a Panorama node's configuration, the
 * JSON file of Panorama's hview-server -config, read strictly: an unknown
 * field or a value of the wrong type is an error naming the field.
 *
 *   Addr              "host:port" the node binds (default 127.0.0.1:6688)
 *   Id                the node's id among its peers
 *   Subjects          subjects watched from the start
 *   Peers             {id: "host:port"}, the node itself may be listed
 *   FilterSubmission  ignore peers' reports about unwatched subjects
 *   LogLevel          "", "debug", "info", "warn" or "error"
 *   DumpMemUsage      log the node's memory use every minute
 *   DBFile            sqlite file (default deephealth.db)
 *   GCConfig          {Enable, Frequency (s between runs), Threshold (age
 *                     in s beyond which observations go), Relative (age
 *                     measured from the view's newest observation)}
 *   BufConfig         {HoldTime, HoldListLen}: accepted for compatibility;
 *                     reports are propagated at once
 *   CurveKey          the node's secret certificate (sonar-keygen -role node)
 *   CurveAllow        directory of the public certificates let in (keyring.h);
 *                     both or neither: with them every socket is CURVE
 *   MeshOpen          without CURVE, let anyone join a mesh (meshgate.h)
 *   User              started as root, the user the node runs as once it
 *                     has bound its ports and opened its files
 */
#ifndef PANO_CONFIG_H
#define PANO_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "pano/common/json.h"

typedef struct {
	char *id;
	char *addr;
} pano_peer_conf;

typedef struct {
	char *addr;
	char *id;
	char **subjects;
	size_t nsubjects;
	pano_peer_conf *peers;
	size_t npeers;
	bool filter;
	int log_level; /* 0 debug, 1 info, 2 warn, 3 error */
	bool dump_mem;
	char *db_file;
	bool gc_enable;
	int64_t gc_frequency_s, gc_threshold_s;
	bool gc_relative;
	int64_t buf_hold_time, buf_hold_len;
	bool fsync;    /* hview-server -fsync: reply only once the WAL is fsynced */
	long max_views, max_values; /* hview-server -max-views, -max-values; 0: the store's defaults */
	char *watch_addr; /* hview-server -watch: NULL for addr's port + 1, "off" for none */
	char *http_addr;  /* hview-server -http, HTTPAddr: the console, API and /metrics; NULL or "off": none */
	char *http_token; /* -http-token, HTTPTokenFile: a bearer token's file; NULL: none */
	char *curve_key;   /* NULL: no CURVE */
	char *curve_allow;
	bool mesh_open;    /* -mesh-open, MeshOpen: keyless mesh membership (meshgate.h) */
	double stale_after; /* -stale-after, StaleAfter: report intervals before a view is stale (0: never) */
	char *user;        /* -user, User: started as root, run as this user (NULL: the default) */
	char **notify_commands, **notify_webhooks; /* NotifyCommands, NotifyWebhooks (notify.h) */
	size_t nnotify_commands, nnotify_webhooks;
	char *config_path;   /* -config: what a reload reads again (NULL: none) */
	char *flag_command, *flag_webhook; /* -notify-command, -notify-webhook: added to the file's at each reading */
} pano_config;

void pano_config_defaults(pano_config *c);
/* Reads FILE over the defaults; 0, or -1 with "FILE: field X: problem". */
int pano_config_load(pano_config *c, const char *path, char *err, size_t errlen);
void pano_config_clear(pano_config *c);
/* Adds a notification target given on the command line (after the file's):
 * 0, or -1 with why. */
int pano_config_add_target(pano_config *c, const char *spec, bool webhook, char *why, size_t whylen);

/* Names the node holds: its id, its Subjects, its peers' ids are names as
 * a report's are (text.h).  The config may list at most
 * PANO_CONFIG_SUBJECTS_MAX subjects (the store's bound). */
#define PANO_NAME_LEN_MAX 255
#define PANO_CONFIG_SUBJECTS_MAX 100000
/* 0, or -1 with "ORIGIN: field X: problem" (checked after the command
 * line has had its say). */
int pano_config_check_names(const pano_config *c, const char *origin, char *err, size_t errlen);

/* Replaces a string field (strdup); -1 when out of memory. */
int pano_config_set(char **field, const char *value);

#endif
