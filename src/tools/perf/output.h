/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rmx-perf: the results as perftest's tables (so its scripts read them)
 * or as JSON lines.
 */
#ifndef RMX_TOOLS_PERF_OUTPUT_H
#define RMX_TOOLS_PERF_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "perf.h"
#include "stats.h"

struct perf_banner {
	const char *peer;	/* "host:port" */
	size_t min_size, max_size;
	int nsizes;
	uint64_t iters;		/* 0 in duration mode */
	int warmup;		/* latency: iterations; BW: one window */
	int window;
	size_t eager;		/* rmx_ep_max_msg() */
};

/* Banner and table header; nothing with --json. */
void perf_print_banner(const struct perf_opts *o, const struct perf_banner *b);
void perf_print_lat(const struct perf_opts *o, const struct perf_lat_result *r);
void perf_print_bw(const struct perf_opts *o, const struct perf_bw_result *r);
void perf_print_footer(const struct perf_opts *o);

#endif /* RMX_TOOLS_PERF_OUTPUT_H */
