/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rmx-perf's timer, in microseconds. Like perftest, it reads the CPU's
 * cycle counter where there is one: a clock read can cost microseconds
 * where the clock source is emulated (an HPET under QEMU), and would be
 * measured too. Elsewhere, or until calibrated, it is the tools' clock.
 */
#ifndef RMX_TOOLS_PERF_TIMER_H
#define RMX_TOOLS_PERF_TIMER_H

#include <stdint.h>

#include "common/clock.h"

extern double perf_us_per_cycle;	/* 0 until perf_timer_init() */
extern uint64_t perf_cycle0;
extern double perf_us0;

/* Calibrates the cycle counter against tool_clock_us() (~20 ms). */
void perf_timer_init(void);

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
static inline double perf_now_us(void)
{
	if (!perf_us_per_cycle)
		return tool_clock_us();
	return perf_us0 + (double)(__rdtsc() - perf_cycle0) * perf_us_per_cycle;
}
#else
static inline double perf_now_us(void)
{
	return tool_clock_us();
}
#endif

#endif /* RMX_TOOLS_PERF_TIMER_H */
