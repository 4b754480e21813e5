// SPDX-License-Identifier: BSD-2-Clause
#include <time.h>

#include "timer.h"

double perf_us_per_cycle;
uint64_t perf_cycle0;
double perf_us0;

void perf_timer_init(void)
{
#if defined(__x86_64__) || defined(__i386__)
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	double t0 = tool_clock_us(), t1;
	uint64_t c0 = __rdtsc(), c1;

	nanosleep(&pause, NULL);
	t1 = tool_clock_us();
	c1 = __rdtsc();
	if (c1 <= c0 || t1 <= t0)
		return;		/* no usable counter: the clock it is */
	perf_us_per_cycle = (t1 - t0) / (double)(c1 - c0);
	perf_cycle0 = c1;
	perf_us0 = t1;
#endif
}
