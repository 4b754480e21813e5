/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The tools' one clock: CLOCK_MONOTONIC, for deadlines and for the times
 * they print. (rmx-perf times its samples with the cycle counter, which
 * it calibrates against this one: perf/timer.h.)
 */
#ifndef RMX_TOOLS_COMMON_CLOCK_H
#define RMX_TOOLS_COMMON_CLOCK_H

#include <stdint.h>

#define TOOL_NS_PER_US 1000LL
#define TOOL_NS_PER_MS 1000000LL
#define TOOL_NS_PER_S 1000000000LL

/* Nanoseconds since an arbitrary point, never going back. */
int64_t tool_clock_ns(void);

/* The same in microseconds, for elapsed times printed with decimals. */
static inline double tool_clock_us(void)
{
	return (double)tool_clock_ns() / TOOL_NS_PER_US;
}

#endif /* RMX_TOOLS_COMMON_CLOCK_H */
