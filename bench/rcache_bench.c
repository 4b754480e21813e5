// SPDX-License-Identifier: BSD-2-Clause
/*
 * rmx-bench-rcache: what the pin-down cache itself costs, with a fake
 * backend that registers nothing. A hit is get + put of a random cached
 * range; a miss is get + put of a fresh range, which registers, inserts,
 * evicts the least recently used region and deregisters it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_time.h"
#include "mem/rcache.h"

#define BASE ((uintptr_t)1 << 40)	/* fake addresses: never touched */
#define NSIZES 3

static const size_t sizes[NSIZES] = { 10, 1000, 10000 };

struct opts {
	unsigned int iters;	/* timed samples per measurement */
	unsigned int batch;	/* operations per sample */
	bool json;
};

struct result {
	const char *bench;
	size_t regions;
	double median_ns, p99_ns;
};

static uintptr_t page;
static uintptr_t fake_serial;

static int fake_reg(void *ctx, void *addr, size_t len, unsigned int access,
		    void **handle)
{
	*handle = (void *)++fake_serial;
	return 0;
}

static int fake_dereg(void *ctx, void *handle)
{
	return 0;
}

static int fake_watch(void *ctx, uintptr_t start, uintptr_t end)
{
	return 0;
}

static void fake_unwatch(void *ctx, uintptr_t start, uintptr_t end)
{
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Uniform in [0, n) without a division: the loop times the cache. */
static size_t pick(uint64_t *seed, size_t n)
{
	return (size_t)(((xorshift(seed) >> 32) * n) >> 32);
}

/* One page each, a page apart: they never merge. */
static void *slot_addr(size_t i)
{
	return (void *)(BASE + 2 * i * page);
}

static int get_put(struct rmx__rcache *rc, void *addr)
{
	struct rmx__region *r;
	int ret = rmx__rcache_get(rc, addr, 64, 1, &r);

	if (!ret)
		rmx__rcache_put(rc, r);
	return ret;
}

/* In random order: ascending inserts would leave a flattering, full index. */
static int populate(struct rmx__rcache *rc, size_t n)
{
	uint64_t seed = 0x2545f4914f6cdd1du;
	size_t *order = malloc(n * sizeof(*order)), i, j, tmp;
	int ret = 0;

	if (!order)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		order[i] = i;
	for (i = n - 1; i > 0; i--) {
		j = pick(&seed, i + 1);
		tmp = order[i];
		order[i] = order[j];
		order[j] = tmp;
	}
	for (i = 0; i < n && !ret; i++)
		ret = get_put(rc, slot_addr(order[i]));
	free(order);
	return ret;
}

/* per_sample[] in ns per operation; sorted here. */
static void summarize(double *per_sample, unsigned int n, struct result *res)
{
	qsort(per_sample, n, sizeof(*per_sample), cmp_double);
	res->median_ns = per_sample[n / 2];
	res->p99_ns = per_sample[(size_t)n * 99 / 100];
}

static int measure(struct rmx__rcache *rc, size_t nregions, bool hits,
		   const struct opts *o, double *per_sample)
{
	uint64_t seed = 0x9e3779b97f4a7c15u, t0;
	size_t fresh = nregions;
	unsigned int s, i;
	int ret;

	/* Warm up, then time whole batches: the clock costs ~20 ns a call. */
	for (s = 0; s < o->iters + o->iters / 10; s++) {
		t0 = now_ns();
		for (i = 0; i < o->batch; i++) {
			size_t k = hits ? pick(&seed, nregions) : fresh++;

			ret = get_put(rc, slot_addr(k));
			if (ret)
				return ret;
		}
		if (s >= o->iters / 10)
			per_sample[s - o->iters / 10] =
				(double)(now_ns() - t0) / o->batch;
	}
	return 0;
}

static int run(size_t nregions, bool hits, const struct opts *o,
	       double *per_sample, struct result *res)
{
	struct rmx__rcache_config cfg = { .enabled = true,
					  .max_regions = nregions,
					  .max_bytes = SIZE_MAX };
	struct rmx__rcache_backend be = { .reg = fake_reg,
					  .dereg = fake_dereg };
	struct rmx__rcache_monitor mon = { .watch = fake_watch,
					   .unwatch = fake_unwatch };
	struct rmx__rcache_stats before, after;
	struct rmx__rcache *rc;
	int ret;

	ret = rmx__rcache_create(&cfg, &be, &mon, &rc);
	if (ret)
		return ret;
	ret = populate(rc, nregions);
	rmx__rcache_stats(rc, &before);
	if (!ret)
		ret = measure(rc, nregions, hits, o, per_sample);
	rmx__rcache_stats(rc, &after);
	/* A hit benchmark that missed measured the wrong thing. */
	if (!ret && (hits ? after.misses != before.misses :
			    after.hits != before.hits))
		ret = -EPROTO;
	rmx__rcache_destroy(rc);
	if (ret)
		return ret;
	res->bench = hits ? "rcache_hit" : "rcache_miss";
	res->regions = nregions;
	summarize(per_sample, o->iters, res);
	return 0;
}

static void print(const struct result *r, const struct opts *o)
{
	if (o->json)
		printf("{\"bench\":\"%s\",\"regions\":%zu,\"median_ns\":%.1f,\"p99_ns\":%.1f,\"samples\":%u,\"ops_per_sample\":%u}\n",
		       r->bench, r->regions, r->median_ns, r->p99_ns, o->iters,
		       o->batch);
	else
		printf("%-12s %8zu %12.1f %12.1f\n", r->bench, r->regions,
		       r->median_ns, r->p99_ns);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: rmx-bench-rcache [--json] [--iters N] [--batch N]\n"
		"  --json     one JSON object per line\n"
		"  --iters N  timed samples per measurement (default 1000)\n"
		"  --batch N  get+put operations per sample (default 1000)\n");
}

static int parse_uint(const char *s, unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = s ? strtoul(s, &end, 0) : 0;
	if (!s || errno || *end || !v || v > 100000000ul)
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { .iters = 1000, .batch = 1000 };
	struct result res;
	double *per_sample;
	unsigned int i, h;
	int ret = 0;

	for (i = 1; i < (unsigned int)argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			o.json = true;
		} else if (!strcmp(argv[i], "--iters")) {
			ret = parse_uint(argv[++i], &o.iters);
		} else if (!strcmp(argv[i], "--batch")) {
			ret = parse_uint(argv[++i], &o.batch);
		} else if (!strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			ret = -EINVAL;
		}
		if (ret) {
			usage(stderr);
			return 2;
		}
	}
	page = (uintptr_t)sysconf(_SC_PAGESIZE);
	per_sample = calloc(o.iters, sizeof(*per_sample));
	if (!per_sample)
		return 1;
#ifndef __OPTIMIZE__
	fprintf(stderr, "rmx-bench-rcache: built without optimization; configure with -DCMAKE_BUILD_TYPE=Release\n");
#endif
	if (!o.json)
		printf("%-12s %8s %12s %12s\n", "bench", "regions",
		       "median_ns", "p99_ns");
	for (h = 0; h < 2 && !ret; h++) {
		for (i = 0; i < NSIZES && !ret; i++) {
			ret = run(sizes[i], !h, &o, per_sample, &res);
			if (!ret)
				print(&res, &o);
		}
	}
	free(per_sample);
	if (ret) {
		fprintf(stderr, "rmx-bench-rcache: %s\n", strerror(-ret));
		return 1;
	}
	return 0;
}
