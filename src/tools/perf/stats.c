// SPDX-License-Identifier: BSD-2-Clause
/* rmx-perf: one size's samples and counts, summarized. */
#include <math.h>
#include <stdlib.h>

#include "stats.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest sample with at least permille/1000 at or below. */
static double percentile(const double *s, uint64_t n, unsigned int permille)
{
	/* Integer arithmetic: 0.99 * 200 in floating point is not 198. */
	uint64_t rank = (n * permille + 999) / 1000;

	return s[rank ? rank - 1 : 0];
}

void perf_lat_stats(double *s, uint64_t n, struct perf_lat_result *r)
{
	double sum = 0, var = 0;
	uint64_t i;

	qsort(s, n, sizeof(*s), cmp_double);
	for (i = 0; i < n; i++)
		sum += s[i];
	r->iters = n;
	r->avg = sum / n;
	/* Two passes: summing squares first loses the spread to rounding. */
	for (i = 0; i < n; i++)
		var += (s[i] - r->avg) * (s[i] - r->avg);
	r->stdev = n > 1 ? sqrt(var / (n - 1)) : 0;
	r->min = s[0];
	r->max = s[n - 1];
	r->median = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	r->p99 = percentile(s, n, 990);
	r->p999 = percentile(s, n, 999);
}

void perf_peak_start(struct perf_peak *p, double now, uint64_t min_ops)
{
	p->t0 = now;
	p->ops0 = 0;
	p->min_ops = min_ops ? min_ops : 1;
	p->best = 0;
}

void perf_peak_update(struct perf_peak *p, double now, uint64_t ops)
{
	double dt = now - p->t0;

	if (ops - p->ops0 < p->min_ops || dt < PERF_PEAK_MIN_US)
		return;
	if ((ops - p->ops0) / dt > p->best)
		p->best = (ops - p->ops0) / dt;
	p->t0 = now;
	p->ops0 = ops;
}

void perf_bw_stats(size_t bytes, uint64_t ops, double us,
		   const struct perf_peak *p, struct perf_bw_result *r)
{
	double rate = us > 0 ? ops / us : 0;	/* per microsecond */

	r->bytes = bytes;
	r->iters = ops;
	/* A run shorter than one sub-interval has only its average. */
	r->avg_mbps = rate * 1e6 * bytes / 1048576.0;
	r->peak_mbps = (p->best > rate ? p->best : rate) * 1e6 * bytes /
		       1048576.0;
	r->mpps = rate;
}
