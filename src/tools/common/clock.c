// SPDX-License-Identifier: BSD-2-Clause
#include <time.h>

#include "common/clock.h"

int64_t tool_clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * TOOL_NS_PER_S + ts.tv_nsec;
}
