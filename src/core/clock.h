/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RMX_CORE_CLOCK_H
#define RMX_CORE_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Monotonic milliseconds: deadlines must not move with the wall clock. */
static inline int64_t rmx__now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The same, to a tick (1-4 ms), for the progress path: it never touches
 * the clock hardware, which some hosts (emulated HPET) make cost
 * microseconds per read. Deadlines checked with it fire up to a tick late.
 */
static inline int64_t rmx__now_ms_coarse(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
