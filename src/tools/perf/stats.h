/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rmx-perf: statistics of one size's run (stats.c); output.h prints them.
 */
#ifndef RMX_TOOLS_PERF_STATS_H
#define RMX_TOOLS_PERF_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "perf.h"

struct perf_lat_result {
	size_t bytes;
	uint64_t iters;
	double min, max, median, avg, stdev, p99, p999;	/* microseconds */
};

struct perf_bw_result {
	size_t bytes;
	uint64_t iters;
	double peak_mbps, avg_mbps;	/* MB = 2^20 bytes, as perftest */
	double mpps;
};

/* Sorts the n > 0 samples (microseconds) and summarizes them into r. */
void perf_lat_stats(double *samples, uint64_t n, struct perf_lat_result *r);

/*
 * Peak rate: the best rate over consecutive sub-intervals of a run, each
 * at least min_ops completions and PERF_PEAK_MIN_US long, so that a burst
 * of completions that were queued together does not count as a rate.
 */
#define PERF_PEAK_MIN_US 1000.0

struct perf_peak {
	double t0;		/* start of the current sub-interval */
	uint64_t ops0;		/* completions before it */
	uint64_t min_ops;
	double best;		/* operations per microsecond */
};

void perf_peak_start(struct perf_peak *p, double now, uint64_t min_ops);
void perf_peak_update(struct perf_peak *p, double now, uint64_t ops);

/* ops of bytes each in us microseconds, with p's peak, into r. */
void perf_bw_stats(size_t bytes, uint64_t ops, double us,
		   const struct perf_peak *p, struct perf_bw_result *r);

#endif /* RMX_TOOLS_PERF_STATS_H */
