/* mesh.c - a mesh that assembles itself through Panorama; see mesh.h. */
#include "agent/mesh.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "agent/resolver.h"
#include "detector/bytes.h"
#include "pano/client/client.h"
#include "pano/common/clock.h"
#include "pano/common/hostaddr.h"
#include "pano/common/model.h"

#define MESH_CALL_TIMEOUT_MS 2000

struct mesh {
	mesh_config cfg;           /* its strings are the agent's, which outlive the mesh */
	char subject[300];
	int efd;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;        /* guards what follows */
	pthread_cond_t cv;
	bool stopping;
	char **ready;              /* the newest list, not taken yet */
	size_t nready;
	bool has_ready;
};

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
}

static uint64_t ring_key(const char *name) { return fnv1a(FNV1A_INIT, name, strlen(name)); }

static int cmp_ring(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	uint64_t kx = ring_key(x), ky = ring_key(y);
	return kx != ky ? (kx < ky ? -1 : 1) : strcmp(x, y);
}

size_t mesh_sample(const char *self, char *const *members, size_t n, size_t peers, const char **out)
{
	const char **ring = malloc((n + 1) * sizeof(*ring));
	if (!ring)
		return 0;
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(members[i], self) != 0)
			ring[m++] = members[i];
	size_t others = m;
	ring[m++] = self;
	qsort(ring, m, sizeof(*ring), cmp_ring);
	size_t at = 0;
	while (ring[at] != self)
		at++;
	size_t take = others < peers ? others : peers;
	for (size_t k = 0; k < take; k++)
		out[k] = ring[(at + 1 + k) % m];
	free(ring);
	return take;
}

/* The newest observation's time in a view; INT64_MIN when none. */
static int64_t newest_of(const Panorama__View *v)
{
	int64_t newest = INT64_MIN;
	for (size_t k = 0; v && k < v->n_observations; k++)
		if (v->observations[k] && v->observations[k]->ts && v->observations[k]->ts->seconds > newest)
			newest = v->observations[k]->ts->seconds;
	return newest;
}

int mesh_members_of(const Panorama__Panorama *p, const char *self, int64_t now_s, double grace_s, char ***out,
                    size_t *n)
{
	for (size_t i = 0; i < p->n_views; i++) {
		const Panorama__Panorama__ViewsEntry *e = p->views[i];
		if (e && e->key && strcmp(e->key, self) == 0 && newest_of(e->value) != INT64_MIN)
			now_s = newest_of(e->value);
	}
	size_t cap = p->n_views < MESH_MEMBERS_MAX ? p->n_views : MESH_MEMBERS_MAX;
	char **names = calloc(cap + 1, sizeof(*names));
	if (!names)
		return -1;
	size_t m = 0;
	for (size_t i = 0; i < p->n_views && m < cap; i++) {
		const Panorama__Panorama__ViewsEntry *e = p->views[i];
		const Panorama__View *v = e ? e->value : NULL;
		if (!e || !e->key || !v || !host_name_valid(e->key))
			continue;
		hostaddr_kind kind = hostaddr_classify(e->key, NULL, 0);
		if (kind != HOSTADDR_ADDRESS && kind != HOSTADDR_NAME)
			continue;
		int64_t newest = newest_of(v);
		if (newest == INT64_MIN || (double)(now_s - newest) > grace_s || (double)(newest - now_s) > grace_s)
			continue; /* gone quiet, or dated ahead of the node's own clock */
		if (!(names[m] = strdup(e->key))) {
			free_names(names, m);
			return -1;
		}
		m++;
	}
	qsort(names, m, sizeof(*names), cmp_ring);
	*out = names;
	*n = m;
	return 0;
}

/* One refresh against a node: announce, then read the members back.  0 with
 * the list, or -1 with a reason. */
static int refresh(mesh *ms, pano_client *c, uint64_t handle, char ***members, size_t *n, char *err, size_t errlen)
{
	int64_t now = clock_wall_ns();
	pano_one_metric_report rep;
	pano_one_metric_report_init(&rep, ms->cfg.observer, ms->subject, "member", PANO_HEALTHY, 100.0f,
	                            now / 1000000000, (int32_t)(now % 1000000000));
	if (pano_client_submit(c, handle, &rep.report, err, errlen) < 0)
		return -1;
	Panorama__GetPanoramaRequest gp = PANORAMA__GET_PANORAMA_REQUEST__INIT;
	gp.subject = ms->subject;
	Panorama__Request req = PANORAMA__REQUEST__INIT;
	req.body_case = PANORAMA__REQUEST__BODY_GET_PANORAMA;
	req.get_panorama = &gp;
	Panorama__Reply *r = pano_client_call(c, &req, err, errlen);
	if (!r)
		return -1;
	int rc = -1;
	if (r->body_case == PANORAMA__REPLY__BODY_PANORAMA && r->panorama) {
		rc = mesh_members_of(r->panorama, ms->cfg.observer, now / 1000000000, MESH_GRACE_REFRESHES * ms->cfg.refresh_s,
		                members, n);
		if (rc != 0)
			snprintf(err, errlen, "out of memory");
	} else {
		snprintf(err, errlen, "%s", r->body_case == PANORAMA__REPLY__BODY_ERROR && r->error && r->error->message
		                                ? r->error->message : "an unexpected reply to GetPanorama");
	}
	panorama__reply__free_unpacked(r, NULL);
	return rc;
}

/* Hands a member list over to the loop (when it differs from the last). */
static void post(mesh *ms, char **members, size_t n, char ***last, size_t *nlast)
{
	const char **sample = malloc((ms->cfg.peers ? ms->cfg.peers : 1) * sizeof(*sample));
	size_t k = sample ? mesh_sample(ms->cfg.observer, members, n, ms->cfg.peers, sample) : 0;
	char **list = calloc(k + 1, sizeof(*list));
	bool ok = sample && list;
	for (size_t i = 0; ok && i < k; i++)
		ok = (list[i] = strdup(sample[i])) != NULL;
	free(sample);
	bool same = ok && k == *nlast;
	for (size_t i = 0; same && i < k; i++)
		same = strcmp(list[i], (*last)[i]) == 0;
	if (!ok || same) {
		free_names(list, k);
		return;
	}
	free_names(*last, *nlast);
	*last = malloc((k + 1) * sizeof(**last));
	*nlast = 0;
	for (size_t i = 0; *last && i < k; i++)
		if (((*last)[i] = strdup(list[i])))
			(*nlast)++;
	pthread_mutex_lock(&ms->mu);
	free_names(ms->ready, ms->nready);
	ms->ready = list;
	ms->nready = k;
	ms->has_ready = true;
	pthread_mutex_unlock(&ms->mu);
	uint64_t one = 1;
	if (write(ms->efd, &one, sizeof(one)) < 0) {
		/* the counter cannot overflow at one write a refresh */
	}
}

static void *mesh_main(void *arg)
{
	mesh *ms = arg;
	pano_client *c = NULL;
	uint64_t handle = 0;
	size_t server = 0;
	bool complained = false;
	char **last = NULL;
	size_t nlast = 0;
	for (;;) {
		char err[512] = "";
		if (!c) {
			const pano_curve_client *curve = ms->cfg.curves ? &ms->cfg.curves[server] : NULL;
			c = pano_client_new(ms->cfg.servers[server], MESH_CALL_TIMEOUT_MS, curve, err, sizeof(err));
			if (c && pano_client_register(c, ms->cfg.observer, &handle, err, sizeof(err)) != 0) {
				pano_client_free(c);
				c = NULL;
			}
		}
		char **members = NULL;
		size_t n = 0;
		if (c && refresh(ms, c, handle, &members, &n, err, sizeof(err)) == 0) {
			if (complained)
				pano_say(ms->cfg.log, PANO_LOG_INFO, "mesh %s: node %s answers again", ms->cfg.group,
				         ms->cfg.servers[server]);
			complained = false;
			post(ms, members, n, &last, &nlast);
			free_names(members, n);
		} else {
			if (!complained)
				pano_say(ms->cfg.log, PANO_LOG_WARN, "mesh %s: node %s: %s; the members stay as they were, asking again",
				         ms->cfg.group, ms->cfg.servers[server], err);
			complained = true;
			pano_client_free(c);
			c = NULL;
			server = (server + 1) % ms->cfg.nservers; /* the next node, if there are several */
		}
		pthread_mutex_lock(&ms->mu);
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		int64_t ns = until.tv_nsec + (int64_t)(ms->cfg.refresh_s * 1e9);
		until.tv_sec += ns / 1000000000;
		until.tv_nsec = ns % 1000000000;
		while (!ms->stopping && pthread_cond_timedwait(&ms->cv, &ms->mu, &until) == 0)
			;
		bool stop = ms->stopping;
		pthread_mutex_unlock(&ms->mu);
		if (stop)
			break;
	}
	pano_client_free(c);
	free_names(last, nlast);
	return NULL;
}

mesh *mesh_new(const mesh_config *cfg, char *err, size_t errlen)
{
	if (!cfg->nservers) {
		snprintf(err, errlen, "--mesh needs a Panorama node");
		return NULL;
	}
	mesh *ms = calloc(1, sizeof(*ms));
	if (!ms) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ms->cfg = *cfg;
	snprintf(ms->subject, sizeof(ms->subject), MESH_SUBJECT_PREFIX "%s", cfg->group);
	pthread_mutex_init(&ms->mu, NULL);
	pthread_cond_init(&ms->cv, NULL);
	ms->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ms->efd < 0 || pthread_create(&ms->thread, NULL, mesh_main, ms) != 0) {
		snprintf(err, errlen, "--mesh: cannot start its thread: %s", strerror(errno));
		mesh_free(ms);
		return NULL;
	}
	ms->started = true;
	return ms;
}

void mesh_free(mesh *ms)
{
	if (!ms)
		return;
	if (ms->started) {
		pthread_mutex_lock(&ms->mu);
		ms->stopping = true;
		pthread_cond_signal(&ms->cv);
		pthread_mutex_unlock(&ms->mu);
		pthread_join(ms->thread, NULL); /* a call in progress ends within its timeout */
	}
	if (ms->efd >= 0)
		close(ms->efd);
	free_names(ms->ready, ms->nready);
	pthread_mutex_destroy(&ms->mu);
	pthread_cond_destroy(&ms->cv);
	free(ms);
}

int mesh_fd(const mesh *ms) { return ms->efd; }

int mesh_take(mesh *ms, char ***members, size_t *n)
{
	uint64_t count;
	if (read(ms->efd, &count, sizeof(count)) < 0) {
		/* EAGAIN: look anyway */
	}
	pthread_mutex_lock(&ms->mu);
	bool got = ms->has_ready;
	*members = ms->ready;
	*n = ms->nready;
	ms->ready = NULL;
	ms->nready = 0;
	ms->has_ready = false;
	pthread_mutex_unlock(&ms->mu);
	return got ? 1 : 0;
}
