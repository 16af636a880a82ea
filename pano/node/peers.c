/* peers.c - report exchange between nodes; see peers.h. */
#include "pano/node/peers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pano/common/clock.h"
#include "pano/common/curve.h"
#include "pano/common/endpoint.h"
#include "pano/common/log.h"
#include "pano/common/strmap.h"

#define PENDING_MAX 65536

typedef struct {
	char *id, *addr;
	void *sock;
	strmap *ignored;  /* subjects this peer does not want */
	strmap *pending;  /* request id -> subject (strdup) awaiting a reply */
	int64_t replied_ms; /* its last reply (monotonic); 0: none yet */
} peer;

struct peers {
	peer list[PEERS_MAX];
	size_t n;
	const char *self_id, *self_addr;
	unsigned long long next_id, sent, dropped;
	int64_t pinged_ms;
};

/* The pending map and the subjects it holds. */
static void free_pending(strmap *pending)
{
	size_t i = 0;
	const char *key;
	void *val;
	while (pending && strmap_next(pending, &i, &key, &val))
		free(val);
	strmap_free(pending);
}

static void clear_pending(peer *pr)
{
	free_pending(pr->pending);
	pr->pending = strmap_new();
}

/* With CURVE a node speaks to a peer as itself (its node key) and expects
 * the peer's node key, which the allow list must hold. */
static int no_node_key(const char *id, const char *dir, char *err, size_t errlen)
{
	snprintf(err, errlen, "peer %.64s: no node certificate named '%.64s' in %.200s (its %.64s.pub, "
	         "made by sonar-keygen -role node)", id, id, dir ? dir : "the allow list", id);
	return -1;
}

int peers_check_keys(const pano_config *cfg, const pano_keyring *keys, char *err, size_t errlen)
{
	for (size_t i = 0; i < cfg->npeers; i++) {
		const char *id = cfg->peers[i].id;
		if (strcmp(id, cfg->id) != 0 && !pano_keyring_node(keys, id))
			return no_node_key(id, cfg->curve_allow, err, errlen);
	}
	return 0;
}

static int peer_curve(peer *pr, const pano_cert *self, const pano_keyring *keys, char *err, size_t errlen)
{
	const pano_cert *theirs = pano_keyring_node(keys, pr->id);
	if (!theirs) /* the node checked them all at start (peers_check_keys) */
		return no_node_key(pr->id, NULL, err, errlen);
	pano_curve_client c;
	memset(&c, 0, sizeof(c));
	c.self = *self;
	memcpy(c.server_key, theirs->public_key, sizeof(c.server_key));
	int rc = pano_curve_client_apply(pr->sock, &c, err, errlen);
	memset(&c, 0, sizeof(c));
	return rc;
}

peers *peers_new(void *zctx, const pano_config *cfg, const pano_cert *self, const pano_keyring *keys,
                 char *err, size_t errlen)
{
	peers *p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->self_id = cfg->id;
	p->self_addr = cfg->addr;
	for (size_t i = 0; i < cfg->npeers; i++) {
		if (strcmp(cfg->peers[i].id, cfg->id) == 0)
			continue;
		if (p->n == PEERS_MAX) {
			snprintf(err, errlen, "more than %d peers", PEERS_MAX);
			peers_free(p);
			return NULL;
		}
		char endpoint[512];
		if (pano_endpoint(cfg->peers[i].addr, endpoint, sizeof(endpoint)) != 0) {
			snprintf(err, errlen, "peer %.64s: address '%.200s' is not host:port",
			         cfg->peers[i].id, cfg->peers[i].addr);
			peers_free(p);
			return NULL;
		}
		peer *pr = &p->list[p->n];
		pr->id = cfg->peers[i].id;
		pr->addr = cfg->peers[i].addr;
		pr->ignored = strmap_new();
		pr->pending = strmap_new();
		pr->sock = zmq_socket(zctx, ZMQ_DEALER);
		p->n++;
		if (!pr->ignored || !pr->pending || !pr->sock) {
			snprintf(err, errlen, "peer %.64s: cannot make its socket", pr->id);
			peers_free(p);
			return NULL;
		}
		int hwm = 10000, linger = 500;
		int64_t maxmsg = 1 << 20;
		zmq_setsockopt(pr->sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
		zmq_setsockopt(pr->sock, ZMQ_LINGER, &linger, sizeof(linger));
		zmq_setsockopt(pr->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
		if (keys && peer_curve(pr, self, keys, err, errlen) != 0) {
			peers_free(p);
			return NULL;
		}
		if (pano_endpoint_prepare(pr->sock, endpoint) != 0 || zmq_connect(pr->sock, endpoint) != 0) {
			snprintf(err, errlen, "peer %.64s: %s", pr->id, zmq_strerror(errno));
			peers_free(p);
			return NULL;
		}
	}
	return p;
}

void peers_free(peers *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		peer *pr = &p->list[i];
		if (pr->sock)
			zmq_close(pr->sock);
		strmap_free(pr->ignored);
		free_pending(pr->pending);
	}
	free(p);
}

size_t peers_count(const peers *p) { return p->n; }
const char *peers_id(const peers *p, size_t i) { return p->list[i].id; }
const char *peers_addr(const peers *p, size_t i) { return p->list[i].addr; }

void peers_pollitems(peers *p, zmq_pollitem_t *items)
{
	for (size_t i = 0; i < p->n; i++)
		items[i] = (zmq_pollitem_t){ p->list[i].sock, 0, ZMQ_POLLIN, 0 };
}

static void read_one(peer *pr, zmq_msg_t *m)
{
	Panorama__Reply *r = panorama__reply__unpack(NULL, zmq_msg_size(m), zmq_msg_data(m));
	if (!r)
		return;
	pr->replied_ms = clock_mono_ms();
	char key[32];
	snprintf(key, sizeof(key), "%llu", (unsigned long long)r->id);
	char *subject = strmap_remove(pr->pending, key);
	if (subject && r->body_case == PANORAMA__REPLY__BODY_LEARN_REPORT && r->learn_report &&
	    r->learn_report->result == PANORAMA__LEARN_REPORT_REPLY__STATUS__IGNORED) {
		if (!strmap_key(pr->ignored, subject)) {
			strmap_put(pr->ignored, subject, NULL);
			pano_log(PANO_LOG_DEBUG, "peer %s ignores %s; skipping it for that subject", pr->id, subject);
		}
	}
	free(subject);
	panorama__reply__free_unpacked(r, NULL);
}

void peers_read_replies(peers *p, const zmq_pollitem_t *items)
{
	for (size_t i = 0; i < p->n; i++) {
		if (!(items[i].revents & ZMQ_POLLIN))
			continue;
		for (int k = 0; k < 10000; k++) {
			zmq_msg_t m;
			zmq_msg_init(&m);
			if (zmq_msg_recv(&m, p->list[i].sock, ZMQ_DONTWAIT) < 0) {
				zmq_msg_close(&m);
				break;
			}
			read_one(&p->list[i], &m);
			zmq_msg_close(&m);
		}
	}
}

static void send_learn(peers *p, peer *pr, Panorama__LearnReportRequest *lr, const char *subject)
{
	Panorama__Request req = PANORAMA__REQUEST__INIT;
	req.id = ++p->next_id;
	req.body_case = PANORAMA__REQUEST__BODY_LEARN_REPORT;
	req.learn_report = lr;
	size_t len = panorama__request__get_packed_size(&req);
	zmq_msg_t m;
	if (zmq_msg_init_size(&m, len) != 0)
		return;
	panorama__request__pack(&req, zmq_msg_data(&m));
	if (zmq_msg_send(&m, pr->sock, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&m);
		p->dropped++;
		return;
	}
	p->sent++;
	if (strmap_count(pr->pending) >= PENDING_MAX)
		clear_pending(pr); /* a silent peer: forget what we waited for */
	char key[32];
	snprintf(key, sizeof(key), "%llu", (unsigned long long)req.id);
	char *copy = strdup(subject);
	if (copy && strmap_put(pr->pending, key, copy) != 0)
		free(copy);
}

void peers_propagate(peers *p, const Panorama__Report *r)
{
	Panorama__Peer self = PANORAMA__PEER__INIT;
	self.id = (char *)p->self_id;
	self.addr = (char *)p->self_addr;
	Panorama__LearnReportRequest lr = PANORAMA__LEARN_REPORT_REQUEST__INIT;
	lr.kind = PANORAMA__LEARN_REPORT_REQUEST__KIND__NORMAL;
	lr.source = &self;
	lr.report = (Panorama__Report *)r;
	for (size_t i = 0; i < p->n; i++)
		if (!strmap_key(p->list[i].ignored, r->subject))
			send_learn(p, &p->list[i], &lr, r->subject);
}

void peers_announce(peers *p, const char *subject, bool subscribe)
{
	Panorama__Peer self = PANORAMA__PEER__INIT;
	self.id = (char *)p->self_id;
	self.addr = (char *)p->self_addr;
	Panorama__Report rep = PANORAMA__REPORT__INIT;
	rep.subject = (char *)subject;
	Panorama__LearnReportRequest lr = PANORAMA__LEARN_REPORT_REQUEST__INIT;
	lr.kind = subscribe ? PANORAMA__LEARN_REPORT_REQUEST__KIND__SUBSCRIPTION
	                    : PANORAMA__LEARN_REPORT_REQUEST__KIND__UNSUBSCRIPTION;
	lr.source = &self;
	lr.report = &rep;
	for (size_t i = 0; i < p->n; i++)
		send_learn(p, &p->list[i], &lr, subject);
}

void peers_set_interest(peers *p, const char *peer_id, const char *subject, bool interested)
{
	for (size_t i = 0; i < p->n; i++) {
		if (strcmp(p->list[i].id, peer_id) != 0)
			continue;
		if (interested)
			strmap_remove(p->list[i].ignored, subject);
		else if (strmap_count(p->list[i].ignored) < 1000000)
			strmap_put(p->list[i].ignored, subject, NULL);
	}
}

void peers_tick(peers *p)
{
	int64_t now = clock_mono_ms();
	if (now - p->pinged_ms < PEERS_PING_MS)
		return;
	p->pinged_ms = now;
	Panorama__PingRequest ping = PANORAMA__PING_REQUEST__INIT;
	Panorama__Request req = PANORAMA__REQUEST__INIT;
	req.body_case = PANORAMA__REQUEST__BODY_PING;
	req.ping = &ping;
	for (size_t i = 0; i < p->n; i++) {
		req.id = ++p->next_id;
		size_t len = panorama__request__get_packed_size(&req);
		zmq_msg_t m;
		if (zmq_msg_init_size(&m, len) != 0)
			return;
		panorama__request__pack(&req, zmq_msg_data(&m));
		if (zmq_msg_send(&m, p->list[i].sock, ZMQ_DONTWAIT) < 0)
			zmq_msg_close(&m);
	}
}

bool peers_reachable(const peers *p, size_t i)
{
	return i < p->n && p->list[i].replied_ms && clock_mono_ms() - p->list[i].replied_ms <= PEERS_REACHABLE_MS;
}

void peers_stats(const peers *p, unsigned long long *sent, unsigned long long *dropped)
{
	*sent = p->sent;
	*dropped = p->dropped;
}

Panorama__GetPeerReply *peers_reply(const peers *p, arena *a)
{
	Panorama__GetPeerReply *r = arena_alloc(a, sizeof(*r));
	Panorama__Peer **list = arena_alloc(a, (p->n + 1) * sizeof(*list));
	Panorama__Peer *items = arena_alloc(a, (p->n + 1) * sizeof(*items));
	if (!r || !list || !items)
		return NULL;
	panorama__get_peer_reply__init(r);
	for (size_t i = 0; i < p->n; i++) {
		panorama__peer__init(&items[i]);
		items[i].id = p->list[i].id;
		items[i].addr = p->list[i].addr;
		list[i] = &items[i];
	}
	r->peers = list;
	r->n_peers = p->n;
	return r;
}
