/* clock.c - the clocks; see clock.h. */
#include "pano/common/clock.h"

#include <time.h>

static int64_t ns_of(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t clock_mono_ns(void) { return ns_of(CLOCK_MONOTONIC); }
int64_t clock_mono_ms(void) { return ns_of(CLOCK_MONOTONIC) / 1000000; }
int64_t clock_wall_ns(void) { return ns_of(CLOCK_REALTIME); }
int64_t clock_wall_ms(void) { return ns_of(CLOCK_REALTIME) / 1000000; }
