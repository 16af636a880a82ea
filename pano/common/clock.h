/*
 * clock.h - the clocks every program reads: monotonic for intervals and
 * deadlines (it never jumps), the wall clock for timestamps.
 */
#ifndef PANO_CLOCK_H
#define PANO_CLOCK_H

#include <stdint.h>

int64_t clock_mono_ns(void);
int64_t clock_mono_ms(void);
int64_t clock_wall_ns(void);
int64_t clock_wall_ms(void);

#endif
