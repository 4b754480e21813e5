// SPDX-License-Identifier: BSD-2-Clause
/*
 * rmx-perf: the results as perftest prints them or as JSON lines. The
 * table headers are perftest's, character for character, and data lines
 * hold only numbers, so that scripts written for ib_write_lat and friends
 * parse ours.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "output.h"

#define LAT_HEADER " #bytes #iterations    t_min[usec]    t_max[usec]  t_typical[usec]    t_avg[usec]    t_stdev[usec]   99% percentile[usec]   99.9% percentile[usec] \n"
#define BW_HEADER " #bytes     #iterations    BW peak[MB/sec]    BW average[MB/sec]   MsgRate[Mpps]\n"

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
