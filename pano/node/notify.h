/*
 * notify.h - telling the operator when a subject's health or a blame
 * changes: a command that reads the news as JSON on its stdin (as smokeping
 * pipes an alert to a program), and HTTP webhooks that receive the same
 * JSON, Alertmanager's webhook payload (version 4), so one receiver serves
 * both and Alertmanager's own receivers (and their users' scripts) apply.
 *
 * One notification per episode: a subject fires when the worst status of
 * its inference becomes UNHEALTHY or worse (the agent's NEEDS_ATTENTION or
 * DEAD) and resolves when it is better again; a blame fires when it becomes
 * current and resolves when it ends.  An unchanged state sends nothing,
 * however many reports come.  What has fired is kept in the node's file
 * (notify_state): a restart neither repeats a firing nor loses a
 * resolution.
 *
 * Delivery: each target has a thread and a queue, oldest first, of at most
 * NOTIFY_QUEUE_MAX messages (beyond that, while a target stays down, the
 * oldest is dropped, and the drops logged); a message that fails (a
 * command that does not exit 0 within NOTIFY_COMMAND_TIMEOUT_S, an HTTP
 * answer that is not 2xx within NOTIFY_HTTP_TIMEOUT_S) is tried again
 * after 1, 2, 4 ... NOTIFY_RETRY_MAX_S seconds.  Messages wait in the
 * node's file (notify_queue) until delivered or dropped: a restart loses
 * none.
 *
 * The loop calls notify_changed after each stored report and notify_tick
 * once a second, which judges what changed and, in a transaction of its
 * own, writes the new messages and deletes the delivered ones.  Commands
 * run as the node's user, in the node's directory, with no descriptor of
 * the node's but stdin (the message), stdout and stderr (the node's log).
 */
#ifndef PANO_NOTIFY_H
#define PANO_NOTIFY_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "pano/node/judge.h"
#include "pano/node/store.h"

#define NOTIFY_QUEUE_MAX 1000
#define NOTIFY_COMMAND_TIMEOUT_S 10
#define NOTIFY_HTTP_TIMEOUT_S 5
#define NOTIFY_RETRY_MAX_S 60

typedef struct notifier notifier;

/* On the node's connection w (its tables made if missing), as node_id;
 * console_url (or "") goes into each message as where to look.  No
 * target yet.  NULL with err. */
notifier *notify_new(sqlite3 *w, const char *node_id, const char *console_url, char *err, size_t errlen);
/* Stops the targets' threads (a delivery in progress is waited for, up to
 * its timeout); what they had not delivered stays in the file. */
void notify_free(notifier *n);

/* A target's text is valid: a webhook "http://..." or "https://..." of
 * printable ASCII, a command of printable text; 0, or -1 with why. */
int notify_target_valid(const char *target, int is_webhook, char *why, size_t whylen);

/* The targets (replacing any before, as a reload does: a target kept keeps
 * its queue and thread; a target removed stops and its messages are
 * deleted).  Then the messages a previous run left for the targets are
 * queued again.  0, or -1 with err (nothing changed). */
int notify_set_targets(notifier *n, char *const *commands, size_t ncommands, char *const *webhooks,
                       size_t nwebhooks, char *err, size_t errlen);

/* A report about subject was stored (cheap: remembered for the tick). */
void notify_changed(notifier *n, const char *subject);
/* Once a second, on the loop, between batches: judges the subjects that
 * changed (their inference in s) and the current blames, sends what began
 * or ended, and deletes what was delivered.  Errors are logged; what could
 * not be written is tried again at the next tick. */
void notify_tick(notifier *n, pano_store *s, const judge_blame *blames, size_t nblames, int64_t now_sec);

/* Messages waiting in the targets' queues, and dropped (queue full) since
 * start, for /metrics. */
void notify_figures(notifier *n, size_t *queued, unsigned long long *sent, unsigned long long *dropped);

#endif
