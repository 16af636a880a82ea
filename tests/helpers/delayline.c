/* delayline.c - a wire of a fixed delay between two network namespaces,
 * for the tests and benchmarks on a kernel without netem.
 *
 *   delayline NETNS_A TUN_A NETNS_B TUN_B DELAY_US [LOSS_PERCENT]
 *
 * Makes the TUN device TUN_A in the namespace NETNS_A and TUN_B in NETNS_B
 * (ip netns names), prints "ready" once both exist (the caller then gives
 * them addresses and routes), and from then on hands every packet one side
 * sends to the other DELAY_US microseconds later, in order, until SIGTERM.
 * It runs under SCHED_FIFO with its memory locked where the system lets
 * it, so the delay is the wire's and does not stretch when the CPUs are
 * busy: a probe's true response time is what a capture on TUN_A sees.
 *
 * With LOSS_PERCENT, SIGUSR1 makes the wire lose that share of the packets
 * from A to B, at random, and SIGUSR2 makes it whole again (it starts
 * whole): the loss netem would give, on a kernel without it. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
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

#define QUEUE 8192
#define PACKET_MAX 2048

typedef struct {
	int64_t due;
	uint16_t len;
	uint8_t data[PACKET_MAX];
} packet;

typedef struct {
	int in, out;            /* read from in, written to out after the delay */
	packet *q;
	size_t head, n;
} direction;

static volatile sig_atomic_t stopping, lossy;
static void on_term(int sig) { (void)sig; stopping = 1; }
static void on_loss(int sig) { lossy = sig == SIGUSR1; }
static unsigned loss_percent;

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
	while (d->n < QUEUE) {
		packet *p = &d->q[(d->head + d->n) % QUEUE];
		ssize_t n = read(d->in, p->data, sizeof(p->data));
		if (n <= 0)
			return;
		if (lose && lossy && (unsigned)(random() % 100) < loss_percent)
			continue;
		p->len = (uint16_t)n;
		p->due = now_ns() + delay;
		d->n++;
	}
	uint8_t drop[PACKET_MAX]; /* full: the wire loses what does not fit */
	while (read(d->in, drop, sizeof(drop)) > 0)
		;
}

/* Hands on what is due; returns when the next one is (INT64_MAX: none). */
static int64_t give(direction *d)
{
	while (d->n) {
		packet *p = &d->q[d->head];
		if (p->due > now_ns())
			return p->due;
		if (write(d->out, p->data, p->len) < 0) {
			/* the other side is not up yet, or full: the packet is lost, as on a wire */
		}
		d->head = (d->head + 1) % QUEUE;
		d->n--;
	}
	return INT64_MAX;
}

int main(int argc, char **argv)
{
	if (argc != 6 && argc != 7) {
		fprintf(stderr, "usage: delayline NETNS_A TUN_A NETNS_B TUN_B DELAY_US [LOSS_PERCENT]\n");
		return 2;
	}
	loss_percent = argc == 7 ? (unsigned)atoi(argv[6]) : 0;
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
	direction ab = { a, b, calloc(QUEUE, sizeof(packet)), 0, 0 };
	direction ba = { b, a, calloc(QUEUE, sizeof(packet)), 0, 0 };
	if (!ab.q || !ba.q)
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
