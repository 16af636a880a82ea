/* notify.c - notifications of subjects' health and blames; see notify.h. */
#include "pano/node/notify.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "detector/bytes.h"
#include "pano/common/clock.h"
#include "pano/common/grow.h"
#include "pano/common/log.h"
#include "pano/common/model.h"
#include "pano/common/strmap.h"
#include "pano/node/inference.h"

typedef struct message {
	int64_t id; /* its row in notify_queue */
	char *body;
	struct message *next;
} message;

typedef struct target {
	struct notifier *owner;
	char *spec;       /* the command, or the URL */
	bool webhook;
	pthread_t thread;
	bool started;
	/* guarded by owner->mu */
	message *head, *tail;
	size_t n;
	bool stop;
	pthread_cond_t cv;
	time_t last_drop_log; /* its drops said at most once a second */
} target;

/* What has fired and not yet resolved: its alert, for the resolution. */
typedef struct {
	int64_t since;
	char *alert; /* the alert object (labels, annotations, startsAt) as JSON */
} fired;

/* A message to write and send, built by the tick. */
typedef struct {
	char *key;   /* of notify_state */
	bool firing; /* the state it puts the key in */
	int64_t since;
	char *alert; /* the alert object, for notify_state */
	char *body;  /* the payload */
} event;

struct notifier {
	sqlite3 *w;
	sqlite3_stmt *enqueue, *dequeue, *set_state, *clear_state;
	char node[256], url[512];
	strmap *fired;    /* key -> fired* */
	strmap *changed;  /* subjects since the last tick */
	event *events;    /* built, not yet written */
	size_t nevents, events_cap;
	target **targets;
	size_t ntargets;
	pthread_mutex_t mu; /* guards the targets' queues, delivered and the counters */
	int64_t *delivered; /* rows to delete */
	size_t ndelivered, delivered_cap;
	unsigned long long sent, dropped;
};

static const char SCHEMA[] =
	"CREATE TABLE IF NOT EXISTS notify_state(key TEXT PRIMARY KEY, since INTEGER NOT NULL,"
	" alert TEXT NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS notify_queue(id INTEGER PRIMARY KEY, target TEXT NOT NULL, body TEXT NOT NULL);";

static int fail(sqlite3 *db, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "notifications: %s: %s", what, sqlite3_errmsg(db));
	return -1;
}

static bool step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE;
}

/* --- what a message says ------------------------------------------------ */

static void rfc3339(int64_t sec, char out[32])
{
	time_t t = (time_t)sec;
	struct tm tm;
	if (sec <= 0 || !gmtime_r(&t, &tm))
		snprintf(out, 32, "0001-01-01T00:00:00Z"); /* Alertmanager's "not ended" */
	else
		strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Alertmanager's fingerprint is a hash of the labels: FNV-1a over the
 * sorted pairs, as hex. */
static void fingerprint(json_t *labels, char out[17])
{
	const char *keys[16];
	size_t n = 0;
	const char *k;
	json_t *v;
	json_object_foreach(labels, k, v)
		if (n < 16)
			keys[n++] = k;
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
			const char *t = keys[j];
			keys[j] = keys[j - 1];
			keys[j - 1] = t;
		}
	uint64_t h = FNV1A_INIT;
	static const unsigned char sep = 0xff; /* no name or value has it: pairs stay apart */
	for (size_t i = 0; i < n; i++) {
		const char *parts[2] = { keys[i], json_string_value(json_object_get(labels, keys[i])) };
		for (int p = 0; p < 2; p++) {
			h = fnv1a(h, parts[p] ? parts[p] : "", parts[p] ? strlen(parts[p]) : 0);
			h = fnv1a(h, &sep, 1);
		}
	}
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* The alert object: labels, annotations, startsAt, generatorURL,
 * fingerprint. */
static json_t *alert_new(const notifier *n, json_t *labels, json_t *annotations, int64_t since)
{
	char ts[32], fp[17];
	rfc3339(since, ts);
	json_object_set_new(labels, "node", json_string(n->node));
	fingerprint(labels, fp);
	return json_pack("{s:o, s:o, s:s, s:s, s:s}", "labels", labels, "annotations", annotations, "startsAt", ts,
	                 "generatorURL", n->url, "fingerprint", fp);
}

/* The payload: Alertmanager's webhook format, one alert. */
static char *payload(const notifier *n, const char *alert_text, bool firing, int64_t ended)
{
	json_t *alert = json_loads(alert_text, 0, NULL);
	if (!alert)
		return NULL;
	char ts[32];
	rfc3339(firing ? 0 : ended, ts);
	json_object_set_new(alert, "status", json_string(firing ? "firing" : "resolved"));
	json_object_set_new(alert, "endsAt", json_string(ts));
	json_t *labels = json_object_get(alert, "labels");
	char *group = NULL;
	const char *name = json_string_value(json_object_get(labels, "alertname"));
	const char *key = json_string_value(json_object_get(labels, "subject"));
	if (!key)
		key = json_string_value(json_object_get(labels, "hosts"));
	if (asprintf(&group, "{}:{alertname=\"%s\", node=\"%s\", id=\"%s\"}", name ? name : "", n->node,
	             key ? key : "") < 0)
		group = NULL;
	json_t *body = json_pack("{s:s, s:s, s:i, s:s, s:s, s:{}, s:O, s:O, s:s, s:[O]}", "version", "4", "groupKey",
	                         group ? group : "", "truncatedAlerts", 0, "status", firing ? "firing" : "resolved",
	                         "receiver", "cloudsonar", "groupLabels", "commonLabels", labels, "commonAnnotations",
	                         json_object_get(alert, "annotations"), "externalURL", n->url, "alerts", alert);
	free(group);
	json_decref(alert);
	char *text = body ? json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(body);
	return text;
}

/* --- the targets' threads ----------------------------------------------- */

static size_t discard(char *ptr, size_t size, size_t nmemb, void *ctx)
{
	(void)ptr;
	(void)ctx;
	return size * nmemb;
}

static bool post(CURL *curl, const char *url, const char *body, char *why, size_t whylen)
{
	struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_reset(curl);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)NOTIFY_HTTP_TIMEOUT_S);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "cloudsonar-hview-server");
	CURLcode rc = curl_easy_perform(curl);
	long status = 0;
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(headers);
	if (rc != CURLE_OK)
		snprintf(why, whylen, "%s", curl_easy_strerror(rc));
	else if (status < 200 || status > 299)
		snprintf(why, whylen, "HTTP %ld", status);
	return rc == CURLE_OK && status >= 200 && status <= 299;
}

/* The command, by /bin/sh, the body on its stdin; true when it exits 0
 * within NOTIFY_COMMAND_TIMEOUT_S. */
static bool run(const char *command, const char *body, char *why, size_t whylen)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0) {
		snprintf(why, whylen, "pipe: %s", strerror(errno));
		return false;
	}
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(why, whylen, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return false;
	}
	if (pid == 0) { /* only what is safe after fork: no allocation */
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL); /* the node blocks some for its signalfd */
		dup2(p[0], 0);
		close_range(3, ~0U, 0);
		execl("/bin/sh", "sh", "-c", command, (char *)NULL);
		_exit(127);
	}
	close(p[0]);
	size_t len = strlen(body), off = 0;
	while (off < len) { /* a command that does not read is its own business: EPIPE ends this */
		ssize_t w = write(p[1], body + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	close(p[1]);
	int64_t deadline = clock_mono_ms() + NOTIFY_COMMAND_TIMEOUT_S * 1000;
	int status = 0;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			snprintf(why, whylen, "waitpid: %s", strerror(errno));
			return false;
		}
		if (clock_mono_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			snprintf(why, whylen, "no exit within %d s: killed", NOTIFY_COMMAND_TIMEOUT_S);
			return false;
		}
		poll(NULL, 0, 20);
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return true;
	if (WIFEXITED(status))
		snprintf(why, whylen, "exit %d", WEXITSTATUS(status));
	else
		snprintf(why, whylen, "killed by signal %d", WTERMSIG(status));
	return false;
}

/* Under n->mu: a row to delete at the next tick (out of memory: it stays,
 * and is sent again after a restart). */
static void delivered_add(notifier *n, int64_t id)
{
	if (grow_array(&n->delivered, &n->delivered_cap, n->ndelivered + 1, sizeof(*n->delivered), 64) == 0)
		n->delivered[n->ndelivered++] = id;
}

static void *target_main(void *arg)
{
	target *t = arg;
	notifier *n = t->owner;
	sigset_t pipe_only;
	sigemptyset(&pipe_only);
	sigaddset(&pipe_only, SIGPIPE); /* a command that does not read: EPIPE, not the node's death */
	pthread_sigmask(SIG_BLOCK, &pipe_only, NULL);
	CURL *curl = t->webhook ? curl_easy_init() : NULL;
	int backoff_s = 1;
	time_t last_log = 0;
	pthread_mutex_lock(&n->mu);
	for (;;) {
		while (!t->stop && !t->head)
			pthread_cond_wait(&t->cv, &n->mu);
		if (t->stop)
			break;
		int64_t id = t->head->id;
		char *body = strdup(t->head->body);
		pthread_mutex_unlock(&n->mu);
		char why[256] = "out of memory";
		bool ok = body && (t->webhook ? curl && post(curl, t->spec, body, why, sizeof(why))
		                              : run(t->spec, body, why, sizeof(why)));
		free(body);
		pthread_mutex_lock(&n->mu);
		if (ok) {
			backoff_s = 1;
			n->sent++;
			if (t->head && t->head->id == id) { /* not dropped meanwhile */
				message *m = t->head;
				t->head = m->next;
				if (!t->head)
					t->tail = NULL;
				t->n--;
				free(m->body);
				free(m);
			}
			delivered_add(n, id);
			continue;
		}
		if (pano_log_due(&last_log))
			pano_log(PANO_LOG_WARN, "notification to %.200s failed (%s); trying again in %d s", t->spec, why,
			         backoff_s);
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += backoff_s;
		while (!t->stop && pthread_cond_timedwait(&t->cv, &n->mu, &until) != ETIMEDOUT)
			;
		backoff_s = backoff_s * 2 > NOTIFY_RETRY_MAX_S ? NOTIFY_RETRY_MAX_S : backoff_s * 2;
	}
	pthread_mutex_unlock(&n->mu);
	if (curl)
		curl_easy_cleanup(curl);
	return NULL;
}

/* Under n->mu: a message at the end of t's queue; the oldest dropped when
 * full (its row deleted as if delivered). */
static void push(notifier *n, target *t, message *m)
{
	if (t->n >= NOTIFY_QUEUE_MAX) {
		message *old = t->head;
		t->head = old->next;
		if (!t->head)
			t->tail = NULL;
		t->n--;
		n->dropped++;
		delivered_add(n, old->id);
		if (pano_log_due(&t->last_drop_log))
			pano_log(PANO_LOG_WARN, "notifications to %.200s: %d waiting, the oldest dropped (%llu so far)",
			         t->spec, NOTIFY_QUEUE_MAX, n->dropped);
		free(old->body);
		free(old);
	}
	m->next = NULL;
	if (t->tail)
		t->tail->next = m;
	else
		t->head = m;
	t->tail = m;
	t->n++;
	pthread_cond_signal(&t->cv);
}

static void target_free(notifier *n, target *t)
{
	if (!t)
		return;
	if (t->started) {
		pthread_mutex_lock(&n->mu);
		t->stop = true;
		pthread_cond_signal(&t->cv);
		pthread_mutex_unlock(&n->mu);
		pthread_join(t->thread, NULL);
	}
	for (message *m = t->head, *next; m; m = next) {
		next = m->next;
		free(m->body);
		free(m);
	}
	pthread_cond_destroy(&t->cv);
	free(t->spec);
	free(t);
}

/* --- the notifier ------------------------------------------------------- */

notifier *notify_new(sqlite3 *w, const char *node_id, const char *console_url, char *err, size_t errlen)
{
	notifier *n = calloc(1, sizeof(*n));
	if (!n) {
		snprintf(err, errlen, "notifications: out of memory");
		return NULL;
	}
	n->w = w;
	snprintf(n->node, sizeof(n->node), "%s", node_id);
	snprintf(n->url, sizeof(n->url), "%s", console_url ? console_url : "");
	pthread_mutex_init(&n->mu, NULL);
	n->fired = strmap_new();
	n->changed = strmap_new();
	if (!n->fired || !n->changed) {
		snprintf(err, errlen, "notifications: out of memory");
		notify_free(n);
		return NULL;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT); /* before any thread: it is not thread-safe */
	sqlite3_stmt *st = NULL;
	if (sqlite3_exec(w, SCHEMA, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(w, "INSERT INTO notify_queue(target, body) VALUES(?1, ?2)", -1, &n->enqueue, NULL) ||
	    sqlite3_prepare_v2(w, "DELETE FROM notify_queue WHERE id = ?1", -1, &n->dequeue, NULL) ||
	    sqlite3_prepare_v2(w, "INSERT OR REPLACE INTO notify_state VALUES(?1, ?2, ?3)", -1, &n->set_state, NULL) ||
	    sqlite3_prepare_v2(w, "DELETE FROM notify_state WHERE key = ?1", -1, &n->clear_state, NULL) ||
	    sqlite3_prepare_v2(w, "SELECT key, since, alert FROM notify_state", -1, &st, NULL)) {
		fail(w, "its tables", err, errlen);
		sqlite3_finalize(st);
		notify_free(n);
		return NULL;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		fired *f = calloc(1, sizeof(*f));
		const char *key = (const char *)sqlite3_column_text(st, 0);
		const char *alert = (const char *)sqlite3_column_text(st, 2);
		if (!f || !key || !alert || !(f->alert = strdup(alert)) || strmap_put(n->fired, key, f) != 0) {
			if (f)
				free(f->alert);
			free(f);
			continue;
		}
		f->since = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	return n;
}

static void events_clear(notifier *n)
{
	for (size_t i = 0; i < n->nevents; i++) {
		free(n->events[i].key);
		free(n->events[i].alert);
		free(n->events[i].body);
	}
	n->nevents = 0;
}

void notify_free(notifier *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->ntargets; i++)
		target_free(n, n->targets[i]);
	free(n->targets);
	events_clear(n);
	free(n->events);
	if (n->fired) {
		size_t i = 0;
		const char *k;
		void *v;
		while (strmap_next(n->fired, &i, &k, &v)) {
			free(((fired *)v)->alert);
			free(v);
		}
		strmap_free(n->fired);
	}
	strmap_free(n->changed);
	sqlite3_stmt *all[] = { n->enqueue, n->dequeue, n->set_state, n->clear_state };
	for (size_t i = 0; i < 4; i++)
		sqlite3_finalize(all[i]);
	free(n->delivered);
	pthread_mutex_destroy(&n->mu);
	free(n);
}

int notify_target_valid(const char *spec, int is_webhook, char *why, size_t whylen)
{
	size_t len = strlen(spec);
	if (len == 0 || len > 2048) {
		snprintf(why, whylen, "empty, or longer than 2048 bytes");
		return -1;
	}
	for (const unsigned char *c = (const unsigned char *)spec; *c; c++)
		if (*c < 0x20 || *c == 0x7f || (is_webhook && (*c > 0x7e || *c == ' '))) {
			snprintf(why, whylen, "a control character%s", is_webhook ? " or a space or non-ASCII byte" : "");
			return -1;
		}
	if (is_webhook && strncmp(spec, "http://", 7) != 0 && strncmp(spec, "https://", 8) != 0) {
		snprintf(why, whylen, "'%.64s' is not an http:// or https:// URL", spec);
		return -1;
	}
	return 0;
}

/* The spec of a target as notify_queue names it. */
static void target_key(const char *spec, bool webhook, char *out, size_t len)
{
	snprintf(out, len, "%s %s", webhook ? "webhook" : "command", spec);
}

static target *find_target(target **list, size_t n, const char *spec, bool webhook)
{
	for (size_t k = 0; k < n; k++)
		if (list[k] && list[k]->webhook == webhook && strcmp(list[k]->spec, spec) == 0)
			return list[k];
	return NULL;
}

int notify_set_targets(notifier *n, char *const *commands, size_t ncommands, char *const *webhooks,
                       size_t nwebhooks, char *err, size_t errlen)
{
	size_t total = ncommands + nwebhooks;
	for (size_t i = 0; i < total; i++) {
		char why[160];
		bool webhook = i >= ncommands;
		if (notify_target_valid(webhook ? webhooks[i - ncommands] : commands[i], webhook, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "notification %s: %s", webhook ? "webhook" : "command", why);
			return -1;
		}
	}
	target **next = calloc(total ? total : 1, sizeof(*next));
	if (!next) {
		snprintf(err, errlen, "notifications: out of memory");
		return -1;
	}
	size_t count = 0;
	for (size_t i = 0; i < total; i++) {
		bool webhook = i >= ncommands;
		const char *spec = webhook ? webhooks[i - ncommands] : commands[i];
		if (find_target(next, count, spec, webhook))
			continue; /* the same target twice: once */
		target *t = find_target(n->targets, n->ntargets, spec, webhook); /* kept, with its queue and thread */
		if (!t && (t = calloc(1, sizeof(*t))) && !(t->spec = strdup(spec))) {
			free(t);
			t = NULL;
		}
		if (!t) {
			for (size_t k = 0; k < count; k++)
				if (!next[k]->started)
					target_free(n, next[k]);
			free(next);
			snprintf(err, errlen, "notifications: out of memory");
			return -1;
		}
		if (!t->started && !t->owner) {
			t->owner = n;
			t->webhook = webhook;
			pthread_cond_init(&t->cv, NULL);
		}
		next[count++] = t;
	}
	/* targets no longer wanted: stopped, their messages deleted */
	sqlite3_stmt *del = NULL;
	sqlite3_prepare_v2(n->w, "DELETE FROM notify_queue WHERE target = ?1", -1, &del, NULL);
	for (size_t k = 0; k < n->ntargets; k++)
		if (!find_target(next, count, n->targets[k]->spec, n->targets[k]->webhook)) {
			char key[2100];
			target_key(n->targets[k]->spec, n->targets[k]->webhook, key, sizeof(key));
			if (del) {
				sqlite3_bind_text(del, 1, key, -1, SQLITE_TRANSIENT);
				step_done(del);
			}
			target_free(n, n->targets[k]);
		}
	sqlite3_finalize(del);
	free(n->targets);
	n->targets = next;
	n->ntargets = count;
	/* new targets: what a previous run left for them, then their thread */
	sqlite3_stmt *left = NULL;
	sqlite3_prepare_v2(n->w, "SELECT id, body FROM notify_queue WHERE target = ?1 ORDER BY id", -1, &left, NULL);
	for (size_t i = 0; i < count; i++) {
		target *t = next[i];
		if (t->started)
			continue;
		char key[2100];
		target_key(t->spec, t->webhook, key, sizeof(key));
		if (left) {
			sqlite3_bind_text(left, 1, key, -1, SQLITE_TRANSIENT);
			while (sqlite3_step(left) == SQLITE_ROW) {
				message *m = calloc(1, sizeof(*m));
				const char *body = (const char *)sqlite3_column_text(left, 1);
				if (!m || !body || !(m->body = strdup(body))) {
					free(m);
					continue; /* stays in the file, for the next start */
				}
				m->id = sqlite3_column_int64(left, 0);
				pthread_mutex_lock(&n->mu);
				push(n, t, m);
				pthread_mutex_unlock(&n->mu);
			}
			sqlite3_reset(left);
		}
		if (pthread_create(&t->thread, NULL, target_main, t) == 0)
			t->started = true;
		else
			pano_log(PANO_LOG_ERROR, "notifications to %.200s: no thread; none will be sent", t->spec);
	}
	sqlite3_finalize(left);
	return 0;
}

void notify_changed(notifier *n, const char *subject)
{
	if (n->ntargets && !strmap_get(n->changed, subject))
		strmap_put(n->changed, subject, (void *)1); /* out of memory: judged at its next report */
}

static void add_event(notifier *n, const char *key, bool firing, int64_t since, char *alert, int64_t now)
{
	if (grow_array(&n->events, &n->events_cap, n->nevents + 1, sizeof(*n->events), 16) != 0) {
		free(alert);
		return;
	}
	char *body = alert ? payload(n, alert, firing, now) : NULL;
	char *k = strdup(key);
	if (!body || !k) {
		free(body);
		free(k);
		free(alert);
		return;
	}
	n->events[n->nevents++] = (event){ k, firing, since, alert, body };
}

/* A key fires (with alert, which this takes) or resolves. */
static void notice_key(notifier *n, const char *key, bool firing, json_t *alert_json, int64_t now)
{
	/* the latest word on key: an event not yet written, else what has fired */
	const event *latest = NULL;
	for (size_t i = n->nevents; i-- > 0 && !latest;)
		if (strcmp(n->events[i].key, key) == 0)
			latest = &n->events[i];
	const fired *f = latest ? NULL : strmap_get(n->fired, key);
	bool was = latest ? latest->firing : f != NULL;
	if (was != firing) {
		char *alert = firing ? (alert_json ? json_dumps(alert_json, JSON_COMPACT | JSON_SORT_KEYS) : NULL)
		            : latest ? (latest->alert ? strdup(latest->alert) : NULL) /* resolved: the alert that fired */
		            : strdup(f->alert);
		add_event(n, key, firing, firing ? now : 0, alert, now);
	}
	json_decref(alert_json);
}

static void notice_subject(notifier *n, pano_store *s, const char *name, int64_t now)
{
	char key[300];
	snprintf(key, sizeof(key), "subject/%s", name);
	const pano_subject *sub = pano_store_subject(s, name);
	const pano_inference *inf = sub ? pano_subject_inference(sub) : NULL;
	int worst = 0;
	for (uint16_t i = 0; inf && inf->has_obs && i < inf->obs.n; i++)
		if (inf->obs.metrics[i].status > worst)
			worst = inf->obs.metrics[i].status;
	bool firing = worst >= PANO_UNHEALTHY;
	json_t *alert = NULL;
	if (firing) {
		char summary[400];
		snprintf(summary, sizeof(summary), "%s is %s, as %zu of its observers' views say%s", name,
		         pano_status_name(worst), inf->nobservers - inf->stale - inf->blamed,
		         inf->all_stale ? " (all of them stale)" : "");
		alert = alert_new(n, json_pack("{s:s, s:s, s:s}", "alertname", "PanoramaSubjectUnhealthy", "subject", name,
		                               "status", pano_status_name(worst)),
		                  json_pack("{s:s}", "summary", summary), now);
	}
	notice_key(n, key, firing, alert, now);
}

static void notice_blames(notifier *n, const judge_blame *b, size_t nb, int64_t now)
{
	strmap *current = strmap_new();
	if (!current)
		return;
	for (size_t i = 0; i < nb; i++) {
		char hosts[1024] = "", key[1400], summary[1400];
		size_t off = 0;
		for (size_t k = 0; k < b[i].nhosts && off < sizeof(hosts); k++) {
			int w = snprintf(hosts + off, sizeof(hosts) - off, "%s%s", k ? "," : "", b[i].hosts[k]);
			off = w < 0 ? sizeof(hosts) : off + (size_t)w; /* cut: a group of many hosts */
		}
		snprintf(key, sizeof(key), "blame/%s/%s/%s", blame_kind_name(b[i].kind), hosts, b[i].group);
		strmap_put(current, key, (void *)1);
		if (strmap_get(n->fired, key))
			continue;
		snprintf(summary, sizeof(summary), "%s %s: %u of %u views bad", blame_kind_name(b[i].kind),
		         b[i].group[0] ? b[i].group : hosts, b[i].bad, b[i].views);
		json_t *alert = alert_new(n, json_pack("{s:s, s:s, s:s, s:s}", "alertname", "PanoramaBlame", "kind",
		                                       blame_kind_name(b[i].kind), "hosts", hosts, "group", b[i].group),
		                          json_pack("{s:s}", "summary", summary), b[i].since_sec);
		notice_key(n, key, true, alert, now);
	}
	size_t i = 0;
	const char *k;
	void *v;
	const char **ended = NULL;
	size_t nended = 0, cap = 0;
	while (strmap_next(n->fired, &i, &k, &v))
		if (strncmp(k, "blame/", 6) == 0 && !strmap_get(current, k)) {
			if (grow_array(&ended, &cap, nended + 1, sizeof(*ended), 16) != 0)
				break; /* the rest end at the next tick */
			ended[nended++] = k;
		}
	for (size_t e = 0; e < nended; e++)
		notice_key(n, ended[e], false, NULL, now);
	free(ended);
	strmap_free(current);
}

void notify_tick(notifier *n, pano_store *s, const judge_blame *blames, size_t nblames, int64_t now_sec)
{
	pthread_mutex_lock(&n->mu);
	int64_t *gone = n->delivered;
	size_t ngone = n->ndelivered;
	n->delivered = NULL;
	n->ndelivered = n->delivered_cap = 0;
	pthread_mutex_unlock(&n->mu);
	if (n->ntargets) {
		size_t i = 0;
		const char *name;
		void *v;
		while (strmap_next(n->changed, &i, &name, &v))
			notice_subject(n, s, name, now_sec);
		strmap_free(n->changed);
		n->changed = strmap_new();
		notice_blames(n, blames, nblames, now_sec);
	}
	if (n->nevents == 0 && ngone == 0) {
		free(gone);
		return;
	}
	/* one transaction: the new messages and states, the delivered gone */
	bool ok = sqlite3_exec(n->w, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
	for (size_t i = 0; ok && i < ngone; i++) {
		sqlite3_bind_int64(n->dequeue, 1, gone[i]);
		ok = step_done(n->dequeue);
	}
	message **made = calloc(n->nevents * (n->ntargets ? n->ntargets : 1) + 1, sizeof(*made));
	size_t nmade = 0;
	ok = ok && made;
	for (size_t e = 0; ok && e < n->nevents; e++) {
		const event *ev = &n->events[e];
		for (size_t t = 0; ok && t < n->ntargets; t++) {
			char key[2100];
			target_key(n->targets[t]->spec, n->targets[t]->webhook, key, sizeof(key));
			sqlite3_bind_text(n->enqueue, 1, key, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(n->enqueue, 2, ev->body, -1, SQLITE_STATIC);
			message *m = calloc(1, sizeof(*m));
			ok = m && (m->body = strdup(ev->body)) && step_done(n->enqueue);
			if (m)
				m->id = sqlite3_last_insert_rowid(n->w);
			if (m && !ok) {
				free(m->body);
				free(m);
			} else if (m) {
				made[nmade++] = m;
			}
		}
		if (ev->firing) {
			sqlite3_bind_text(n->set_state, 1, ev->key, -1, SQLITE_STATIC);
			sqlite3_bind_int64(n->set_state, 2, ev->since);
			sqlite3_bind_text(n->set_state, 3, ev->alert, -1, SQLITE_STATIC);
			ok = ok && step_done(n->set_state);
		} else {
			sqlite3_bind_text(n->clear_state, 1, ev->key, -1, SQLITE_STATIC);
			ok = ok && step_done(n->clear_state);
		}
	}
	if (!ok || sqlite3_exec(n->w, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		pano_log(PANO_LOG_WARN, "notifications: %s; trying again in a second", sqlite3_errmsg(n->w));
		sqlite3_exec(n->w, "ROLLBACK", NULL, NULL, NULL);
		for (size_t i = 0; i < nmade; i++) {
			free(made[i]->body);
			free(made[i]);
		}
		free(made);
		/* the delivered rows are deleted at the next tick, the events written */
		pthread_mutex_lock(&n->mu);
		for (size_t i = 0; i < ngone; i++)
			delivered_add(n, gone[i]);
		pthread_mutex_unlock(&n->mu);
		free(gone);
		return;
	}
	free(gone);
	/* committed: the states in memory, the messages to their targets */
	for (size_t e = 0; e < n->nevents; e++) {
		event *ev = &n->events[e];
		fired *f = strmap_remove(n->fired, ev->key);
		if (f) {
			free(f->alert);
			free(f);
		}
		if (ev->firing && (f = calloc(1, sizeof(*f)))) {
			f->since = ev->since;
			f->alert = ev->alert;
			ev->alert = NULL;
			if (strmap_put(n->fired, ev->key, f) != 0) {
				free(f->alert);
				free(f);
			}
		}
	}
	pthread_mutex_lock(&n->mu);
	for (size_t i = 0; i < nmade; i++)
		push(n, n->targets[i % n->ntargets], made[i]);
	pthread_mutex_unlock(&n->mu);
	free(made);
	events_clear(n);
}

void notify_figures(notifier *n, size_t *queued, unsigned long long *sent, unsigned long long *dropped)
{
	pthread_mutex_lock(&n->mu);
	size_t q = 0;
	for (size_t i = 0; i < n->ntargets; i++)
		q += n->targets[i] ? n->targets[i]->n : 0;
	*queued = q;
	*sent = n->sent;
	*dropped = n->dropped;
	pthread_mutex_unlock(&n->mu);
}
