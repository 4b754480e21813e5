// SPDX-License-Identifier: BSD-2-Clause
/*
 * rmx-bench-reg: what a registration costs on a real device, per size:
 * raw ibv_reg_mr, a pin-down cache miss (the same registration made
 * through the cache) and a cache hit (get + put, no system call). Run it in the lab:
 *   ci/rxe-lab -- build/bench/rmx-bench-reg [--json] [--iters N]
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <infiniband/verbs.h>

#include "mem/rcache.h"

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	return v[n / 2];
}

static int be_reg(void *ctx, void *addr, size_t len, unsigned int access,
		  void **handle)
{
	struct ibv_mr *mr = ibv_reg_mr(ctx, addr, len,
				       access ? IBV_ACCESS_LOCAL_WRITE : 0);

	if (!mr)
		return -errno;
	*handle = mr;
	return 0;
}

static int be_dereg(void *ctx, void *handle)
{
	(void)ctx;
	return -ibv_dereg_mr(handle);
}

static struct ibv_pd *open_pd(void)
{
	struct ibv_device **list = ibv_get_device_list(NULL);
	struct ibv_context *verbs = list && list[0] ?
					    ibv_open_device(list[0]) : NULL;

	if (list)
		ibv_free_device_list(list);
	return verbs ? ibv_alloc_pd(verbs) : NULL;
}

int main(int argc, char **argv)
{
	struct rmx__rcache_config cfg = { .enabled = true };
	struct rmx__rcache_backend be = { .reg = be_reg, .dereg = be_dereg };
	struct rmx__region *r;
	struct rmx__rcache *rc;
	struct ibv_pd *pd;
	int iters = 20, json = 0, opt, i;
	size_t len;
	double *raw, *miss, *hit;

	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "iters", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	while ((opt = getopt_long(argc, argv, "jn:", opts, NULL)) != -1) {
		if (opt == 'j')
			json = 1;
		else if (opt == 'n')
			iters = atoi(optarg);
		else
			return 2;
	}
	if (iters < 1)
		return 2;
	pd = open_pd();
	if (!pd) {
		fprintf(stderr, "rmx-bench-reg: no RDMA device (run it in ci/rxe-lab)\n");
		return 1;
	}
	be.ctx = pd;
	rmx__rcache_default_limits(&cfg.max_regions, &cfg.max_bytes);
	if (rmx__rcache_create(&cfg, &be, NULL, &rc))
		return 1;
	raw = calloc((size_t)iters, sizeof(double));
	miss = calloc((size_t)iters, sizeof(double));
	hit = calloc((size_t)iters, sizeof(double));
	if (!json)
		printf("%10s %14s %14s %14s %10s\n", "bytes", "ibv_reg_mr[us]",
		       "rcache_miss[us]", "rcache_hit[ns]", "miss/raw");
	for (len = 4096; len <= (64u << 20); len *= 4) {
		char *buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1,
				 0);
		struct ibv_mr *mr;
		double t;

		if (buf == MAP_FAILED)
			return 1;
		for (i = 0; i < iters; i++) {
			t = now_ns();
			mr = ibv_reg_mr(pd, buf, len, IBV_ACCESS_LOCAL_WRITE);
			raw[i] = now_ns() - t;
			if (!mr || ibv_dereg_mr(mr))
				return 1;

			t = now_ns();
			if (rmx__rcache_get(rc, buf, len, 1, &r))
				return 1;
			miss[i] = now_ns() - t;
			t = now_ns();
			rmx__rcache_put(rc, r);
			if (rmx__rcache_get(rc, buf, len, 1, &r))
				return 1;
			rmx__rcache_put(rc, r);
			hit[i] = now_ns() - t;
			/* Next round misses again; the dereg is not timed. */
			rmx__rcache_invalidate(rc, (uintptr_t)buf,
					       (uintptr_t)buf + len);
			rmx__rcache_purge(rc);
		}
		if (json)
			printf("{\"bench\":\"registration\",\"bytes\":%zu,\"ibv_reg_mr_us\":%.2f,\"rcache_miss_us\":%.2f,\"rcache_hit_ns\":%.0f}\n",
			       len, median(raw, iters) / 1e3,
			       median(miss, iters) / 1e3, median(hit, iters));
		else
			printf("%10zu %14.2f %14.2f %14.0f %10.2f\n", len,
			       median(raw, iters) / 1e3, median(miss, iters) / 1e3,
			       median(hit, iters), median(miss, iters) /
							   median(raw, iters));
		munmap(buf, len);
	}
	rmx__rcache_destroy(rc);
	free(raw);
	free(miss);
	free(hit);
	return 0;
}
