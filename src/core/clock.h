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

#endif
