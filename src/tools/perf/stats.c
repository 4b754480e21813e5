// SPDX-License-Identifier: BSD-2-Clause
/*
 * rmx-perf: statistics and output. The table headers are perftest's,
 * character for character, and data lines hold only numbers, so that
 * scripts written for ib_write_lat and friends parse ours.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "stats.h"

#define LAT_HEADER " #bytes #iterations    t_min[usec]    t_max[usec]  t_typical[usec]    t_avg[usec]    t_stdev[usec]   99% percentile[usec]   99.9% percentile[usec] \n"
#define BW_HEADER " #bytes     #iterations    BW peak[MB/sec]    BW average[MB/sec]   MsgRate[Mpps]\n"

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

void perf_print_banner(const struct perf_opts *o, const struct perf_banner *b)
{
	const struct perf_test_info *t = &perf_tests[o->test];
	const char *dev = getenv("RMX_DEVICE");

	if (o->json)
		return;
	printf(PERF_RULE);
	printf("                    rmx-perf %s: %s\n", t->name, t->title);
	printf(" Device         : %s\n", dev && *dev ? dev : "first active (RMX_DEVICE unset)");
	printf(" Server         : %s\n", b->peer);
	if (b->nsizes > 1)
		printf(" Sizes          : %zu..%zu bytes, %d sizes\n",
		       b->min_size, b->max_size, b->nsizes);
	else
		printf(" Size           : %zu bytes\n", b->min_size);
	if (b->iters)
		printf(" Iterations     : %" PRIu64 " per size\n", b->iters);
	else
		printf(" Duration       : %g s per size\n", o->duration);
	if (t->bw && !o->window_set && b->nsizes > 1)
		printf(" Outstanding    : %d operations, at most %lu MiB in flight; one window of warm-up\n",
		       b->window, PERF_MAX_INFLIGHT >> 20);
	else if (t->bw)
		printf(" Outstanding    : %d operations, after one window of warm-up\n",
		       b->window);
	else
		printf(" Warm-up        : %d iterations, busy polling\n",
		       b->warmup);
	printf(" Eager limit    : %zu bytes, larger messages by rendezvous\n",
	       b->eager);
	printf(PERF_RULE);
	printf("%s", t->bw ? BW_HEADER : LAT_HEADER);
	fflush(stdout);
}

void perf_print_lat(const struct perf_opts *o, const struct perf_lat_result *r)
{
	if (o->json)
		printf("{\"test\":\"%s\",\"bytes\":%zu,\"iterations\":%" PRIu64
		       ",\"t_min_us\":%.3f,\"t_max_us\":%.3f,\"t_typical_us\":%.3f"
		       ",\"t_avg_us\":%.3f,\"t_stdev_us\":%.3f,\"t_p99_us\":%.3f"
		       ",\"t_p999_us\":%.3f}\n",
		       perf_tests[o->test].name, r->bytes, r->iters, r->min,
		       r->max, r->median, r->avg, r->stdev, r->p99, r->p999);
	else
		/* Each figure ends under the end of its column's title. */
		printf(" %-7zu %-11" PRIu64 " %13.2f %14.2f %16.2f %14.2f %16.2f %22.2f %24.2f\n",
		       r->bytes, r->iters, r->min, r->max, r->median, r->avg,
		       r->stdev, r->p99, r->p999);
	fflush(stdout);
}

void perf_print_bw(const struct perf_opts *o, const struct perf_bw_result *r)
{
	if (o->json)
		printf("{\"test\":\"%s\",\"bytes\":%zu,\"iterations\":%" PRIu64
		       ",\"bw_peak_mbps\":%.2f,\"bw_avg_mbps\":%.2f"
		       ",\"msg_rate_mpps\":%.6f}\n",
		       perf_tests[o->test].name, r->bytes, r->iters,
		       r->peak_mbps, r->avg_mbps, r->mpps);
	else
		printf(" %-7zu    %-11" PRIu64 " %18.2f %21.2f %15.6f\n",
		       r->bytes, r->iters, r->peak_mbps, r->avg_mbps, r->mpps);
	fflush(stdout);
}

void perf_print_footer(const struct perf_opts *o)
{
	if (!o->json)
		printf(PERF_RULE);
	fflush(stdout);
}
