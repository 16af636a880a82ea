/* delayline.c - a wire of a fixed delay between two network namespaces,
 * for the tests and benchmarks on a kernel without netem.
 *
 *   delayline NETNS_A TUN_A NETNS_B TUN_B DELAY_US [LOSS_PERCENT [EXTRA_US [ONLY_ADDR]]]
 *
 * Makes the TUN device TUN_A in the namespace NETNS_A and TUN_B in NETNS_B
 * (ip netns names), prints "ready" once both exist (the caller then gives
 * them addresses and routes), and from then on hands every packet one side
 * sends to the other DELAY_US microseconds later, in order, until SIGTERM.
 * It runs under SCHED_FIFO with its memory locked where the system lets
 * it, so the delay is the wire's and does not stretch when the CPUs are
 * busy: a probe's true response time is what a capture on TUN_A sees.
 *
 * A fault, turned on by SIGUSR1 and off by SIGUSR2 (it starts off): the
 * wire loses LOSS_PERCENT of the packets from A to B, at random, and
 * delays packets both ways by EXTRA_US more; with ONLY_ADDR (an IPv4
 * address), only those to or from it.  The loss and delay netem would
 * give, on a kernel without it. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <arpa/inet.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define QUEUE 2048
#define PACKET_MAX 2048

typedef struct {
	int64_t due;
	uint16_t len;
	uint8_t data[PACKET_MAX];
} packet;

typedef struct {
	packet *q;
	size_t head, n;
} ring;

/* Each direction keeps two queues, in order each: the packets the fault
 * delays wait in their own, so that they hold back no other. */
typedef struct {
	int in, out;            /* read from in, written to out after the delay */
	ring normal, slow;
} direction;

static volatile sig_atomic_t stopping, lossy;
static void on_term(int sig) { (void)sig; stopping = 1; }
static void on_loss(int sig) { lossy = sig == SIGUSR1; }
static unsigned loss_percent;
static int64_t extra_ns;
static uint32_t only_addr; /* network order; 0: every packet */

/* Whether the fault touches this IPv4 packet. */
static bool touched(const uint8_t *p, size_t n)
{
	if (!only_addr)
		return true;
	if (n < 20 || (p[0] >> 4) != 4)
		return false;
	uint32_t src, dst;
	memcpy(&src, p + 12, 4);
	memcpy(&dst, p + 16, 4);
	return src == only_addr || dst == only_addr;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int enter(const char *ns)
{
	char path[512];
	snprintf(path, sizeof(path), "/var/run/netns/%s", ns);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
		fprintf(stderr, "delayline: %s: %s\n", ns, strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

static int make_tun(const char *name)
{
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) != 0) {
		fprintf(stderr, "delayline: %s: %s\n", name, strerror(errno));
		return -1;
	}
	return fd;
}

/* Takes what waits on d->in; lose: this direction loses packets while lossy. */
static void take(direction *d, int64_t delay, bool lose)
{
	uint8_t buf[PACKET_MAX];
	for (;;) {
		ssize_t n = read(d->in, buf, sizeof(buf));
		if (n <= 0)
			return;
		bool faulty = lossy && touched(buf, (size_t)n);
		if (lose && faulty && (unsigned)(random() % 100) < loss_percent)
			continue;
		ring *r = faulty && extra_ns ? &d->slow : &d->normal;
		if (r->n == QUEUE)
			continue; /* full: the wire loses what does not fit */
		packet *p = &r->q[(r->head + r->n) % QUEUE];
		memcpy(p->data, buf, (size_t)n);
		p->len = (uint16_t)n;
		p->due = now_ns() + delay + (r == &d->slow ? extra_ns : 0);
		r->n++;
	}
}

/* Hands on what is due of r; returns when the next one is (INT64_MAX: none). */
static int64_t give_ring(ring *r, int out)
{
	while (r->n) {
		packet *p = &r->q[r->head];
		if (p->due > now_ns())
			return p->due;
		if (write(out, p->data, p->len) < 0) {
			/* the other side is not up yet, or full: the packet is lost, as on a wire */
		}
		r->head = (r->head + 1) % QUEUE;
		r->n--;
	}
	return INT64_MAX;
}

static int64_t give(direction *d)
{
	int64_t a = give_ring(&d->normal, d->out), b = give_ring(&d->slow, d->out);
	return a < b ? a : b;
}

int main(int argc, char **argv)
{
	if (argc < 6 || argc > 9) {
		fprintf(stderr, "usage: delayline NETNS_A TUN_A NETNS_B TUN_B DELAY_US [LOSS_PERCENT [EXTRA_US [ONLY_ADDR]]]\n");
		return 2;
	}
	loss_percent = argc >= 7 ? (unsigned)atoi(argv[6]) : 0;
	extra_ns = argc >= 8 ? (int64_t)atol(argv[7]) * 1000 : 0;
	if (argc == 9 && inet_pton(AF_INET, argv[8], &only_addr) != 1) {
		fprintf(stderr, "delayline: '%s' is not an IPv4 address\n", argv[8]);
		return 2;
	}
	srandom((unsigned)now_ns());
	int64_t delay = (int64_t)atol(argv[5]) * 1000;
	int a = enter(argv[1]) == 0 ? make_tun(argv[2]) : -1;
	int b = a >= 0 && enter(argv[3]) == 0 ? make_tun(argv[4]) : -1;
	if (b < 0)
		return 1;
	struct sched_param sp = { .sched_priority = 50 };
	if (sched_setscheduler(0, SCHED_FIFO, &sp) != 0)
		fprintf(stderr, "delayline: no real-time priority (%s): the delay may stretch under load\n",
		        strerror(errno));
	mlockall(MCL_CURRENT | MCL_FUTURE);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	signal(SIGUSR1, on_loss);
	signal(SIGUSR2, on_loss);
	direction ab = { a, b, { calloc(QUEUE, sizeof(packet)), 0, 0 }, { calloc(QUEUE, sizeof(packet)), 0, 0 } };
	direction ba = { b, a, { calloc(QUEUE, sizeof(packet)), 0, 0 }, { calloc(QUEUE, sizeof(packet)), 0, 0 } };
	if (!ab.normal.q || !ab.slow.q || !ba.normal.q || !ba.slow.q)
		return 1;
	printf("ready\n");
	fflush(stdout);
	while (!stopping) {
		int64_t next = give(&ab), other = give(&ba);
		if (other < next)
			next = other;
		struct pollfd p[2] = { { a, POLLIN, 0 }, { b, POLLIN, 0 } };
		int64_t wait = next == INT64_MAX ? 100000000 : next - now_ns();
		if (wait < 0)
			wait = 0;
		struct timespec ts = { wait / 1000000000, wait % 1000000000 };
		if (ppoll(p, 2, &ts, NULL) > 0) {
			if (p[0].revents & POLLIN)
				take(&ab, delay, true);
			if (p[1].revents & POLLIN)
				take(&ba, delay, false);
		}
	}
	return 0;
}
