// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "core/log.h"
#include "mem/itree.h"
#include "mem/rcache.h"

/* Fake addresses: the backend never touches memory. */
#define BASE ((uintptr_t)0x10000000)
#define NPAGES 64
#define MAGIC 0x6d72u
#define NDEREG 64

static uintptr_t P;	/* the page size */

/* What the fake backend hands out; snap[] versions the pages at reg. */
struct fake_mr {
	unsigned int magic;
	uintptr_t start, end;
	unsigned int access;
	unsigned long serial;
	unsigned long snap[NPAGES];
};

static struct fake {
	pthread_mutex_t lock;
	unsigned long regs, deregs, serial;
	size_t live_bytes, limit;	/* limit: -ENOMEM beyond, 0: none */
	int fail_err;			/* for the next fail_count regs */
	unsigned int fail_count;
	size_t fail_above;		/* -EFAULT for longer ones, 0: none */
	uintptr_t dereg_start[NDEREG];
	unsigned int ndereg;
	int watch_ret;
	unsigned long watches, unwatches;
	bool watched[NPAGES];
	/* Runs inside reg, outside the cache lock: races made to order. */
	void (*during_reg)(void);
	atomic_ulong ver[NPAGES];	/* bumped per page before invalidate */
} F;

static struct rmx__rcache *RC;

/*
 * Every hook takes the cache's lock once: a hook called with it held
 * deadlocks, and the test times out, instead of going unnoticed.
 */
static void lock_not_held(void)
{
	struct rmx__rcache_stats s;

	if (RC)
		rmx__rcache_stats(RC, &s);
}

static uintptr_t pg(unsigned int i)
{
	return BASE + i * P;
}

static unsigned int page_of(uintptr_t a)
{
	return (unsigned int)((a - BASE) / P);
}

static int fake_reg(void *ctx, void *addr, size_t len, unsigned int access,
		    void **handle)
{
	struct fake_mr *mr;
	void (*hook)(void) = F.during_reg;
	unsigned int i;
	int ret = 0;

	lock_not_held();
	if (hook) {
		F.during_reg = NULL;
		hook();
	}
	pthread_mutex_lock(&F.lock);
	if (F.fail_count) {
		F.fail_count--;
		ret = F.fail_err;
	} else if (F.fail_above && len > F.fail_above) {
		ret = -EFAULT;
	} else if (F.limit && F.live_bytes + len > F.limit) {
		ret = -ENOMEM;
	}
	if (!ret) {
		F.regs++;
		F.live_bytes += len;
	}
	pthread_mutex_unlock(&F.lock);
	if (ret)
		return ret;
	mr = calloc(1, sizeof(*mr));
	ck_assert_ptr_nonnull(mr);
	mr->magic = MAGIC;
	mr->start = (uintptr_t)addr;
	mr->end = (uintptr_t)addr + len;
	mr->access = access;
	pthread_mutex_lock(&F.lock);
	mr->serial = ++F.serial;
	pthread_mutex_unlock(&F.lock);
	for (i = page_of(mr->start); i < page_of(mr->end) && i < NPAGES; i++)
		mr->snap[i] = atomic_load(&F.ver[i]);
	*handle = mr;
	return 0;
}

static int fake_dereg(void *ctx, void *handle)
{
	struct fake_mr *mr = handle;

	lock_not_held();
	ck_assert_uint_eq(mr->magic, MAGIC);
	pthread_mutex_lock(&F.lock);
	F.deregs++;
	F.live_bytes -= mr->end - mr->start;
	if (F.ndereg < NDEREG)
		F.dereg_start[F.ndereg++] = mr->start;
	pthread_mutex_unlock(&F.lock);
	mr->magic = 0;
	free(mr);
	return 0;
}

static void mark(uintptr_t start, uintptr_t end, bool on)
{
	unsigned int i;

	for (i = page_of(start); i < page_of(end) && i < NPAGES; i++)
		F.watched[i] = on;
}

static int fake_watch(void *ctx, uintptr_t start, uintptr_t end)
{
	lock_not_held();
	pthread_mutex_lock(&F.lock);
	F.watches++;
	if (!F.watch_ret)
		mark(start, end, true);
	pthread_mutex_unlock(&F.lock);
	return F.watch_ret;
}

static void fake_unwatch(void *ctx, uintptr_t start, uintptr_t end)
{
	lock_not_held();
	pthread_mutex_lock(&F.lock);
	F.unwatches++;
	mark(start, end, false);
	pthread_mutex_unlock(&F.lock);
}

static const struct rmx__rcache_backend fake_be = {
	.reg = fake_reg, .dereg = fake_dereg,
};
static const struct rmx__rcache_monitor fake_mon = {
	.watch = fake_watch, .unwatch = fake_unwatch,
};

static void setup(void)
{
	rmx__log_level = RMX__LOG_NONE;	/* the -ENOMEM path logs by design */
	P = (uintptr_t)sysconf(_SC_PAGESIZE);
	memset(&F, 0, sizeof(F));
	pthread_mutex_init(&F.lock, NULL);
}

static void make(bool enabled, size_t max_regions, size_t max_bytes,
		 bool monitor)
{
	struct rmx__rcache_config cfg = { .enabled = enabled,
					  .max_regions = max_regions,
					  .max_bytes = max_bytes };

	ck_assert_int_eq(rmx__rcache_create(&cfg, &fake_be,
					    monitor ? &fake_mon : NULL, &RC),
			 0);
}

static void make_default(void)
{
	make(true, 1000, 1000 * P, true);
}

/* Destroys the cache: every registration must have been undone. */
static void teardown_cache(void)
{
	ck_assert_int_eq(rmx__rcache_check(RC), 0);
	rmx__rcache_destroy(RC);
	RC = NULL;
	ck_assert_uint_eq(F.regs, F.deregs);
	ck_assert_uint_eq(F.live_bytes, 0);
}

static struct rmx__region *get(uintptr_t addr, size_t len,
			       unsigned int access)
{
	struct rmx__region *r = NULL;

	ck_assert_int_eq(rmx__rcache_get(RC, (void *)addr, len, access, &r),
			 0);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_le(r->start, addr);
	ck_assert_uint_ge(r->end, addr + len);
	ck_assert_uint_eq(r->access & access, access);
	ck_assert_uint_eq(((struct fake_mr *)r->handle)->magic, MAGIC);
	return r;
}

/* get + put: leaves the region idle in the cache. */
static unsigned long touch(uintptr_t addr, size_t len, unsigned int access)
{
	struct rmx__region *r = get(addr, len, access);
	unsigned long serial = ((struct fake_mr *)r->handle)->serial;

	rmx__rcache_put(RC, r);
	return serial;
}

static bool dereged(uintptr_t start)
{
	unsigned int i;

	for (i = 0; i < F.ndereg; i++)
		if (F.dereg_start[i] == start)
			return true;
	return false;
}

static struct rmx__rcache_stats stats(void)
{
	struct rmx__rcache_stats s;

	rmx__rcache_stats(RC, &s);
	return s;
}

START_TEST(hit_without_backend_call)
{
	struct rmx__region *a, *b;

	make_default();
	a = get(pg(1) + 100, 200, 1);
	ck_assert_uint_eq(a->start, pg(1));
	ck_assert_uint_eq(a->end, pg(2));
	ck_assert_uint_eq(F.regs, 1);
	rmx__rcache_put(RC, a);
	b = get(pg(1) + 8, 16, 1);
	ck_assert_ptr_eq(a, b);
	ck_assert_uint_eq(F.regs, 1);
	ck_assert_uint_eq(F.deregs, 0);
	/* Held twice: same region, still no call. */
	ck_assert_ptr_eq(get(pg(1), P, 0), b);
	rmx__rcache_put(RC, b);
	rmx__rcache_put(RC, b);
	ck_assert_uint_eq(F.regs, 1);
	ck_assert_uint_eq(stats().hits, 2);
	teardown_cache();
}
END_TEST

START_TEST(merges_overlapping_and_adjacent)
{
	struct rmx__region *busy, *m;
	struct fake_mr *busy_mr;

	make_default();
	touch(pg(0), 2 * P, 1);			/* idle, adjacent below */
	busy = get(pg(4), P, 2);		/* in use, adjacent above */
	busy_mr = busy->handle;
	m = get(pg(2) + 1, 2 * P - 2, 4);	/* fills [2, 4) */
	ck_assert_uint_eq(m->start, pg(0));
	ck_assert_uint_eq(m->end, pg(5));
	ck_assert_uint_eq(m->access, 7);
	ck_assert_uint_eq(F.regs, 3);
	ck_assert(dereged(pg(0)));		/* the idle one at once */
	ck_assert(!dereged(pg(4)));		/* the busy one at its put */
	ck_assert_uint_eq(busy_mr->magic, MAGIC);
	ck_assert_uint_eq(busy->start, pg(4));
	ck_assert_uint_eq(stats().merges, 2);
	rmx__rcache_put(RC, busy);
	ck_assert(dereged(pg(4)));
	/* The merged region now serves both old ranges. */
	ck_assert_ptr_eq(get(pg(4), P, 2), m);
	rmx__rcache_put(RC, m);
	rmx__rcache_put(RC, m);

	/* Overlapping, and a covering request with more access. */
	touch(pg(10), 2 * P, 1);
	m = get(pg(11), 2 * P, 1);
	ck_assert_uint_eq(m->start, pg(10));
	ck_assert_uint_eq(m->end, pg(13));
	rmx__rcache_put(RC, m);
	m = get(pg(11), P, 8);
	ck_assert_uint_eq(m->start, pg(10));
	ck_assert_uint_eq(m->end, pg(13));
	ck_assert_uint_eq(m->access, 9);
	rmx__rcache_put(RC, m);
	ck_assert_uint_eq(stats().merges, 4);
	teardown_cache();
}
END_TEST

START_TEST(merge_falls_back_to_exact)
{
	struct rmx__region *r;

	make_default();
	F.fail_above = 2 * P;
	touch(pg(0), 2 * P, 1);
	/* Adjacent: the union fails, the exact range is cached beside. */
	r = get(pg(2), P, 2);
	ck_assert_uint_eq(r->start, pg(2));
	ck_assert_uint_eq(r->end, pg(3));
	ck_assert_uint_eq(r->access, 2);
	ck_assert_uint_eq(F.regs, 2);
	rmx__rcache_put(RC, r);
	ck_assert_uint_eq(F.deregs, 0);
	ck_assert_uint_eq(touch(pg(0), 2 * P, 1), 1);	/* still cached */

	/* Overlapping: the exact one displaces the old region. */
	r = get(pg(1), P, 4);
	ck_assert_uint_eq(r->start, pg(1));
	ck_assert_uint_eq(r->end, pg(2));
	ck_assert(dereged(pg(0)));
	rmx__rcache_put(RC, r);
	ck_assert_uint_eq(stats().merges, 1);
	teardown_cache();
}
END_TEST

START_TEST(lru_eviction_by_regions)
{
	make(true, 3, 1000 * P, true);
	touch(pg(0), P, 1);
	touch(pg(2), P, 1);
	touch(pg(4), P, 1);
	touch(pg(0), P, 1);			/* most recent now */
	ck_assert_uint_eq(F.deregs, 0);
	touch(pg(6), P, 1);
	ck_assert_uint_eq(F.deregs, 1);
	ck_assert(dereged(pg(2)));
	touch(pg(8), P, 1);
	ck_assert(dereged(pg(4)));
	ck_assert_uint_eq(F.regs, 5);
	touch(pg(0), P, 1);			/* hits */
	touch(pg(6), P, 1);
	touch(pg(8), P, 1);
	ck_assert_uint_eq(F.regs, 5);
	ck_assert_uint_eq(stats().evictions, 2);
	teardown_cache();
}
END_TEST

START_TEST(lru_eviction_by_bytes)
{
	make(true, 1000, 4 * P, true);
	touch(pg(0), P, 1);
	touch(pg(2), 2 * P, 1);
	touch(pg(5), P, 1);
	ck_assert_uint_eq(F.deregs, 0);
	touch(pg(7), P, 1);			/* 5 pages: the oldest goes */
	ck_assert_uint_eq(F.deregs, 1);
	ck_assert(dereged(pg(0)));
	touch(pg(5), P, 1);
	touch(pg(9), 2 * P, 1);			/* 6 pages: [2, 4) goes */
	ck_assert_uint_eq(F.deregs, 2);
	ck_assert(dereged(pg(2)));
	ck_assert_uint_eq(stats().evictions, 2);
	teardown_cache();
}
END_TEST

START_TEST(in_use_never_evicted)
{
	struct rmx__region *a, *b, *c;

	make(true, 1, 1000 * P, true);
	a = get(pg(0), P, 1);
	b = get(pg(2), P, 1);
	c = get(pg(4), P, 1);
	ck_assert_uint_eq(F.deregs, 0);		/* over the limit, all busy */
	rmx__rcache_put(RC, b);			/* idle and over: goes */
	ck_assert(dereged(pg(2)));
	rmx__rcache_put(RC, a);
	ck_assert(dereged(pg(0)));
	rmx__rcache_put(RC, c);			/* one left: within */
	ck_assert_uint_eq(F.deregs, 2);
	ck_assert_ptr_eq(get(pg(4), P, 1), c);
	rmx__rcache_put(RC, c);
	ck_assert_uint_eq(stats().evictions, 2);
	teardown_cache();
}
END_TEST

/* A get with what it logs at the error level caught in msg. */
static int logged_get(uintptr_t addr, size_t len, struct rmx__region **out,
		      char *msg, size_t size)
{
	struct rmx_test_stderr err;
	int ret;

	rmx_test_stderr_catch(&err);
	rmx__log_level = RMX__LOG_ERROR;
	ret = rmx__rcache_get(RC, (void *)addr, len, 1, out);
	rmx__log_level = RMX__LOG_NONE;
	rmx_test_stderr_release(&err, msg, size);
	return ret;
}

START_TEST(enomem_evicts_idle_and_retries)
{
	struct rmx__region *r, *big = NULL;
	char msg[1024], want[64];

	make_default();
	F.limit = 4 * P;			/* RLIMIT_MEMLOCK, say */
	touch(pg(0), 2 * P, 1);
	touch(pg(3), 2 * P, 1);
	r = get(pg(6), P, 1);
	ck_assert(dereged(pg(0)));
	ck_assert(dereged(pg(3)));
	ck_assert_uint_eq(stats().evictions, 2);
	ck_assert_uint_eq(F.live_bytes, P);

	/* Still too much with nothing idle left: a clear error. */
	ck_assert_int_eq(logged_get(pg(10), 4 * P, &big, msg, sizeof(msg)),
			 -ENOMEM);
	ck_assert_ptr_null(big);
	snprintf(want, sizeof(want), "cannot register %zu bytes",
		 (size_t)(4 * P));
	ck_assert_msg(strstr(msg, want) && strstr(msg, "ulimit -l") &&
			      strstr(msg, "RLIMIT_MEMLOCK") &&
			      strstr(msg, "RMX_RCACHE_MAX_BYTES"),
		      "logged: %s", msg);
	ck_assert_uint_eq(F.regs, 3);
	ck_assert_uint_eq(stats().bytes_pinned, P);
	rmx__rcache_put(RC, r);
	/* -EAGAIN is treated alike. */
	F.fail_err = -EAGAIN;
	F.fail_count = 1;
	touch(pg(20), P, 1);
	ck_assert(dereged(pg(6)));
	teardown_cache();
}
END_TEST

START_TEST(other_errors_returned)
{
	struct rmx__region *r = NULL;

	make_default();
	F.fail_err = -EFAULT;
	F.fail_count = 1;
	ck_assert_int_eq(rmx__rcache_get(RC, (void *)pg(0), P, 1, &r), -EFAULT);
	ck_assert_ptr_null(r);
	ck_assert_int_eq(rmx__rcache_get(RC, (void *)pg(0), 0, 1, &r), -EINVAL);
	ck_assert_int_eq(rmx__rcache_get(RC, (void *)(UINTPTR_MAX - 10), 100, 1,
					 &r),
			 -EINVAL);
	/* Nothing in flight was left behind: the range is free again. */
	touch(pg(0), P, 1);
	ck_assert_uint_eq(F.regs, 1);
	teardown_cache();
}
END_TEST

START_TEST(invalidate_idle)
{
	unsigned long first;

	make_default();
	first = touch(pg(0), 2 * P, 1);
	rmx__rcache_invalidate(RC, pg(1), pg(1) + 1);
	ck_assert_uint_eq(F.deregs, 0);		/* not on the monitor thread */
	ck_assert_uint_eq(stats().regions_invalidated, 1);
	rmx__rcache_purge(RC);
	ck_assert_uint_eq(F.deregs, 1);
	ck_assert_uint_ne(touch(pg(0), P, 1), first);	/* a new one */
	ck_assert_uint_eq(stats().misses, 2);

	/* Garbage also goes on the next get or put. */
	rmx__rcache_invalidate(RC, pg(0), pg(1));
	touch(pg(10), P, 1);
	ck_assert_uint_eq(F.deregs, 2);
	teardown_cache();
}
END_TEST

START_TEST(invalidate_in_use)
{
	struct rmx__region *a, *b;
	struct fake_mr *mr;

	make_default();
	a = get(pg(0), P, 1);
	mr = a->handle;
	rmx__rcache_invalidate(RC, pg(0), pg(1));
	rmx__rcache_purge(RC);
	ck_assert_uint_eq(F.deregs, 0);
	ck_assert_uint_eq(mr->magic, MAGIC);	/* valid for its holder */
	b = get(pg(0), P, 1);
	ck_assert_ptr_ne(a, b);
	ck_assert_uint_eq(F.regs, 2);
	rmx__rcache_put(RC, a);
	ck_assert_uint_eq(F.deregs, 1);
	rmx__rcache_put(RC, b);
	ck_assert_uint_eq(F.deregs, 1);		/* b is cached */
	ck_assert_ptr_eq(get(pg(0), P, 1), b);
	rmx__rcache_put(RC, b);
	teardown_cache();
}
END_TEST

START_TEST(invalidate_several)
{
	struct rmx__rcache_stats s;

	make_default();
	touch(pg(0), 2 * P, 1);
	touch(pg(4), 2 * P, 1);
	touch(pg(8), 2 * P, 1);
	rmx__rcache_invalidate(RC, pg(1) + 5, pg(4) + 1);
	s = stats();
	ck_assert_uint_eq(s.invalidation_events, 1);
	ck_assert_uint_eq(s.regions_invalidated, 2);
	ck_assert_int_eq(rmx__rcache_check(RC), 0);
	touch(pg(8), P, 1);			/* survived: a hit */
	ck_assert_uint_eq(stats().hits, 1);
	ck_assert_uint_eq(F.deregs, 2);
	touch(pg(0), P, 1);
	touch(pg(5), P, 1);
	ck_assert_uint_eq(F.regs, 5);
	rmx__rcache_invalidate(RC, pg(20), pg(30));	/* nothing there */
	ck_assert_uint_eq(stats().regions_invalidated, 2);
	teardown_cache();
}
END_TEST

START_TEST(watch_failure_uncached)
{
	struct rmx__region *a, *b;

	make_default();
	F.watch_ret = -EINVAL;
	a = get(pg(0), P, 1);
	b = get(pg(0), P, 1);
	ck_assert_ptr_ne(a, b);			/* not in the index */
	ck_assert_uint_eq(F.regs, 2);
	rmx__rcache_put(RC, a);
	ck_assert_uint_eq(F.deregs, 1);
	rmx__rcache_put(RC, b);
	ck_assert_uint_eq(F.deregs, 2);
	ck_assert_uint_eq(F.unwatches, 0);
	ck_assert_uint_eq(stats().hits, 0);
	teardown_cache();
}
END_TEST

START_TEST(unwatch_only_what_nothing_covers)
{
	make(true, 2, 1000 * P, true);
	touch(pg(0), P, 1);
	touch(pg(1), P, 1);			/* merges: [0, 2) */
	ck_assert_uint_eq(F.watches, 2);
	ck_assert_uint_eq(F.unwatches, 0);	/* covered by the merge */
	ck_assert(F.watched[0] && F.watched[1]);
	touch(pg(4), P, 1);
	touch(pg(6), P, 1);			/* evicts [0, 2) */
	ck_assert(!F.watched[0] && !F.watched[1]);
	ck_assert(F.watched[4] && F.watched[6]);
	/* Invalidated: the rest of what the kernel watched is dropped. */
	rmx__rcache_invalidate(RC, pg(4), pg(5));
	rmx__rcache_purge(RC);
	ck_assert(!F.watched[4]);
	F.unwatches = 0;
	teardown_cache();
	ck_assert_uint_eq(F.unwatches, 0);	/* not at destroy */
}
END_TEST

START_TEST(unwatch_spares_in_flight)
{
	struct rmx__region *r;

	make_default();
	touch(pg(0), 2 * P, 1);
	/*
	 * [0, 3) is watched and in flight when -ENOMEM evicts [0, 2): that
	 * must not unwatch what the registration in flight relies on.
	 */
	F.limit = 3 * P;
	r = get(pg(1), 2 * P, 2);
	ck_assert_uint_eq(r->start, pg(1));
	ck_assert_uint_eq(r->end, pg(3));
	ck_assert(dereged(pg(0)));
	ck_assert(!F.watched[0]);
	ck_assert(F.watched[1] && F.watched[2]);
	rmx__rcache_put(RC, r);
	teardown_cache();
}
END_TEST

START_TEST(no_monitor_caches_everything)
{
	make(true, 10, 1000 * P, false);
	touch(pg(0), P, 1);
	touch(pg(0), P, 1);
	ck_assert_uint_eq(F.regs, 1);
	teardown_cache();
}
END_TEST

START_TEST(disabled)
{
	struct rmx__region *a, *b;
	struct rmx__rcache_stats s;

	make(false, 1000, 1000 * P, true);
	a = get(pg(0), P, 1);
	b = get(pg(0), P, 1);
	ck_assert_ptr_ne(a, b);
	ck_assert_uint_eq(stats().bytes_pinned, 2 * P);
	rmx__rcache_put(RC, a);
	rmx__rcache_put(RC, b);
	touch(pg(0), P, 1);
	s = stats();
	ck_assert_uint_eq(s.gets, 3);
	ck_assert_uint_eq(s.misses, 3);
	ck_assert_uint_eq(s.hits, 0);
	ck_assert_uint_eq(s.registrations, 3);
	ck_assert_uint_eq(s.deregistrations, 3);
	ck_assert_uint_eq(s.bytes_pinned, 0);
	ck_assert_uint_eq(s.bytes_pinned_peak, 2 * P);
	ck_assert_uint_eq(F.watches, 0);
	teardown_cache();
}
END_TEST

START_TEST(stats_exact)
{
	struct rmx__region *held;
	struct rmx__rcache_stats s;

	make(true, 2, 1000 * P, true);
	touch(pg(0), P, 1);			/* miss, reg */
	touch(pg(0), P, 1);			/* hit */
	held = get(pg(1), P, 2);		/* miss, merge 1, reg, dereg */
	touch(pg(10), 2 * P, 1);		/* miss, reg */
	touch(pg(20), P, 1);			/* miss, reg, evicts [10, 12) */
	rmx__rcache_invalidate(RC, pg(0), pg(1));	/* [0, 2) in use */
	rmx__rcache_invalidate(RC, pg(40), pg(41));
	rmx__rcache_put(RC, held);		/* dereg */
	s = stats();
	ck_assert_uint_eq(s.gets, 5);
	ck_assert_uint_eq(s.hits, 1);
	ck_assert_uint_eq(s.misses, 4);
	ck_assert_uint_eq(s.merges, 1);
	ck_assert_uint_eq(s.evictions, 1);
	ck_assert_uint_eq(s.invalidation_events, 2);
	ck_assert_uint_eq(s.regions_invalidated, 1);
	ck_assert_uint_eq(s.registrations, 4);
	ck_assert_uint_eq(s.deregistrations, 3);
	ck_assert_uint_eq(s.bytes_pinned, P);
	ck_assert_uint_eq(s.bytes_pinned_peak, 5 * P);
	ck_assert_uint_eq(F.regs - F.deregs, 1);
	teardown_cache();
}
END_TEST

static void invalidate_page0(void)
{
	rmx__rcache_invalidate(RC, pg(0), pg(1));
}

static void concurrent_get(void)
{
	struct rmx__region *r = get(pg(1), P, 1);

	rmx__rcache_put(RC, r);
}

START_TEST(invalidated_while_registering)
{
	struct rmx__region *r, *c;

	make_default();
	F.during_reg = invalidate_page0;
	r = get(pg(0), P, 1);			/* registered, not cached */
	c = get(pg(0), P, 1);			/* so a miss again */
	ck_assert_ptr_ne(c, r);
	ck_assert_uint_eq(F.regs, 2);
	rmx__rcache_put(RC, r);
	ck_assert_uint_eq(F.deregs, 1);
	ck_assert(F.watched[0]);		/* kept for the cached one */
	ck_assert_ptr_eq(get(pg(0), P, 1), c);	/* hit */
	rmx__rcache_put(RC, c);
	rmx__rcache_put(RC, c);
	ck_assert_uint_eq(stats().hits, 1);
	teardown_cache();
}
END_TEST

START_TEST(concurrent_insert_last_wins)
{
	struct rmx__region *r;

	make_default();
	F.during_reg = concurrent_get;		/* caches [1, 2) meanwhile */
	r = get(pg(0), 2 * P, 1);
	ck_assert_uint_eq(F.regs, 2);
	ck_assert(dereged(pg(1)));		/* displaced */
	ck_assert_uint_eq(stats().merges, 1);
	rmx__rcache_put(RC, r);
	ck_assert_ptr_eq(get(pg(1), P, 1), r);
	rmx__rcache_put(RC, r);
	teardown_cache();
}
END_TEST

/* The index against a plain bitmap of which keys are in. */
#define ITREE_SLOTS 3000

static bool in_tree[ITREE_SLOTS];

static uintptr_t slot_key(unsigned int i)
{
	return BASE + (uintptr_t)i * 4096;
}

static void *model_floor(uintptr_t k)
{
	unsigned int i;

	for (i = ITREE_SLOTS; i--;)
		if (in_tree[i] && slot_key(i) <= k)
			return (void *)slot_key(i);
	return NULL;
}

static void *model_next(uintptr_t k)
{
	unsigned int i;

	for (i = 0; i < ITREE_SLOTS; i++)
		if (in_tree[i] && slot_key(i) > k)
			return (void *)slot_key(i);
	return NULL;
}

START_TEST(itree_against_model)
{
	struct rmx__itree t;
	unsigned int seed = 7, op, i, n = 0, need, height = 0;
	uintptr_t k;

	rmx__itree_init(&t);
	memset(in_tree, 0, sizeof(in_tree));
	ck_assert_ptr_null(rmx__itree_floor(&t, BASE));
	ck_assert_ptr_null(rmx__itree_next(&t, 0));
	for (op = 0; op < 30000; op++) {
		seed = seed * 1103515245u + 12345u;
		i = (seed >> 8) % ITREE_SLOTS;
		k = slot_key(i);
		/* Grow to ~2000 keys (five levels), then shrink. */
		if ((op < 15000) == ((seed >> 4) % 4 != 0)) {
			for (need = rmx__itree_spare_needed(&t); need; need--)
				rmx__itree_give(&t, rmx__itree_node_alloc());
			ck_assert_int_eq(rmx__itree_insert(&t, k, (void *)k),
					 in_tree[i] ? -EEXIST : 0);
			n += !in_tree[i];
			in_tree[i] = true;
		} else {
			ck_assert(rmx__itree_remove(&t, k) == in_tree[i]);
			n -= in_tree[i];
			in_tree[i] = false;
		}
		ck_assert_uint_eq(t.count, n);
		if (t.height > height)
			height = t.height;
		k += ((seed >> 20) % 3) * 2048 - 1;	/* below, on, after */
		ck_assert_ptr_eq(rmx__itree_floor(&t, k), model_floor(k));
		ck_assert_ptr_eq(rmx__itree_next(&t, k), model_next(k));
		if (op % 997 == 0)
			ck_assert_int_eq(rmx__itree_check(&t), 0);
	}
	ck_assert_uint_ge(height, 4);	/* splits and merges at every level */
	for (i = 0; i < ITREE_SLOTS; i++)
		if (in_tree[i])
			ck_assert(rmx__itree_remove(&t, slot_key(i)));
	ck_assert_int_eq(rmx__itree_check(&t), 0);
	ck_assert_ptr_null(t.root);
	/* Without spare nodes an insert fails cleanly. */
	while (t.spare) {
		struct rmx__itree_node *x = t.spare;

		t.spare = x->ptr[0];
		t.nspare--;
		free(x);
	}
	ck_assert_int_eq(rmx__itree_insert(&t, BASE, (void *)BASE), -ENOMEM);
	ck_assert_int_eq(rmx__itree_check(&t), 0);
	rmx__itree_fini(&t);
}
END_TEST

/*
 * Runs of ascending appends leave short nodes on the rightmost path; a
 * node that loses its last entry must leave the tree, at every level.
 */
START_TEST(itree_appends_then_deletes)
{
	struct rmx__itree t;
	unsigned int seed = 11, op, need, n = 0, i;
	uintptr_t next = BASE, k;

	rmx__itree_init(&t);
	memset(in_tree, 0, sizeof(in_tree));
	for (op = 0; op < 20000 && next < slot_key(ITREE_SLOTS); op++) {
		seed = seed * 1103515245u + 12345u;
		if ((seed >> 8) % 3) {
			for (need = rmx__itree_spare_needed(&t); need; need--)
				rmx__itree_give(&t, rmx__itree_node_alloc());
			ck_assert_int_eq(rmx__itree_insert(&t, next,
							   (void *)next),
					 0);
			in_tree[(next - BASE) / 4096] = true;
			next += 4096;
			n++;
		} else if (n) {
			/* The last key mostly, else any. */
			i = (seed >> 4) % 4 ? (unsigned int)((next - BASE) / 4096) - 1 :
					      (seed >> 12) % (unsigned int)((next - BASE) / 4096);
			while (!in_tree[i] && i)
				i--;
			if (!in_tree[i])
				continue;
			k = slot_key(i);
			ck_assert(rmx__itree_remove(&t, k));
			in_tree[i] = false;
			n--;
		}
		ck_assert_uint_eq(t.count, n);
		ck_assert_int_eq(rmx__itree_check(&t), 0);
	}
	rmx__itree_fini(&t);
}
END_TEST

START_TEST(itree_ascending_fills_nodes)
{
	struct rmx__itree t;
	unsigned int i, seed = 3, need;
	uintptr_t k;

	rmx__itree_init(&t);
	memset(in_tree, 0, sizeof(in_tree));
	for (i = 0; i < 2048; i++) {
		for (need = rmx__itree_spare_needed(&t); need; need--)
			rmx__itree_give(&t, rmx__itree_node_alloc());
		ck_assert_int_eq(rmx__itree_insert(&t, slot_key(i),
						   (void *)slot_key(i)),
				 0);
		in_tree[i] = true;
	}
	/* Full nodes: 8^3 < 2048 <= 8^4, and half-full ones would need 6. */
	ck_assert_uint_eq(t.height, 4);
	ck_assert_int_eq(rmx__itree_check(&t), 0);
	/* The short rightmost path survives removals and inserts around it. */
	for (i = 0; i < 3000; i++) {
		seed = seed * 1103515245u + 12345u;
		k = slot_key((seed >> 8) % 2100);
		if (in_tree[(k - BASE) / 4096]) {
			ck_assert(rmx__itree_remove(&t, k));
			in_tree[(k - BASE) / 4096] = false;
		} else {
			for (need = rmx__itree_spare_needed(&t); need; need--)
				rmx__itree_give(&t, rmx__itree_node_alloc());
			ck_assert_int_eq(rmx__itree_insert(&t, k, (void *)k),
					 0);
			in_tree[(k - BASE) / 4096] = true;
		}
		ck_assert_ptr_eq(rmx__itree_floor(&t, k + 1),
				 model_floor(k + 1));
		ck_assert_ptr_eq(rmx__itree_next(&t, k), model_next(k));
		if (i % 101 == 0)
			ck_assert_int_eq(rmx__itree_check(&t), 0);
	}
	ck_assert_int_eq(rmx__itree_check(&t), 0);
	rmx__itree_fini(&t);
}
END_TEST

/* Threads: random gets and puts against a thread invalidating. */

#define NTHREADS 4
#define NRANGES 12
#define MT_OPS 20000

static const struct {
	unsigned int page, npages;
} ranges[NRANGES] = {
	{ 0, 1 },  { 1, 2 },  { 2, 1 },	 { 5, 3 },  { 7, 1 },  { 10, 4 },
	{ 12, 1 }, { 16, 2 }, { 20, 1 }, { 21, 1 }, { 30, 8 }, { 33, 2 },
};

static atomic_ulong done_ver[NPAGES];	/* invalidate() returned for these */
static atomic_bool stop;

static unsigned int rnd(unsigned int *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return *seed >> 8;
}

static void *worker(void *arg)
{
	unsigned int seed = (unsigned int)(uintptr_t)arg, i, k, p, slot, n;
	unsigned long seen[NPAGES];
	struct rmx__region *held[4] = { NULL };
	struct fake_mr *mr;

	for (i = 0; i < MT_OPS; i++) {
		slot = rnd(&seed) % 4;
		n = rnd(&seed) % NRANGES;
		if (held[slot]) {
			rmx__rcache_put(RC, held[slot]);
			held[slot] = NULL;
			continue;
		}
		for (k = 0; k < ranges[n].npages; k++) {
			p = ranges[n].page + k;
			seen[p] = atomic_load(&done_ver[p]);
		}
		held[slot] = get(pg(ranges[n].page), ranges[n].npages * P,
				 1u << (rnd(&seed) % 3));
		mr = held[slot]->handle;
		/* Never registered before an invalidation that completed. */
		for (k = 0; k < ranges[n].npages; k++) {
			p = ranges[n].page + k;
			ck_assert_uint_ge(mr->snap[p], seen[p]);
		}
	}
	for (slot = 0; slot < 4; slot++)
		rmx__rcache_put(RC, held[slot]);
	return NULL;
}

static void *invalidator(void *arg)
{
	unsigned int seed = 42, p, first, n;

	while (!atomic_load(&stop)) {
		first = rnd(&seed) % 40;
		n = 1 + rnd(&seed) % 4;
		/* The mapping changes, then the monitor reports it. */
		for (p = first; p < first + n; p++)
			atomic_fetch_add(&F.ver[p], 1);
		rmx__rcache_invalidate(RC, pg(first), pg(first + n));
		for (p = first; p < first + n; p++)
			atomic_store(&done_ver[p], atomic_load(&F.ver[p]));
		if (rnd(&seed) % 8 == 0)
			rmx__rcache_purge(RC);
	}
	return NULL;
}

START_TEST(threads_and_invalidations)
{
	pthread_t t[NTHREADS], inv;
	struct rmx__rcache_stats before, after, s;
	struct rmx__region *r;
	unsigned int i, k;

	make(true, 8, 16 * P, true);
	ck_assert_int_eq(pthread_create(&inv, NULL, invalidator, NULL), 0);
	for (i = 0; i < NTHREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, worker,
						(void *)(uintptr_t)(i + 1)),
				 0);
	for (i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	atomic_store(&stop, true);
	pthread_join(inv, NULL);

	rmx__rcache_purge(RC);
	ck_assert_int_eq(rmx__rcache_check(RC), 0);
	s = stats();
	ck_assert_uint_eq(s.registrations, F.regs);
	ck_assert_uint_eq(s.deregistrations, F.deregs);
	ck_assert_uint_eq(s.bytes_pinned, F.live_bytes);
	ck_assert_uint_eq(s.gets, s.hits + s.misses);
	ck_assert_uint_gt(s.hits, 0);
	ck_assert_uint_gt(s.regions_invalidated, 0);
	/* What a hit returns is still watched: no late unwatch stripped it. */
	for (i = 0; i < NRANGES; i++) {
		before = stats();
		r = get(pg(ranges[i].page), ranges[i].npages * P, 1);
		after = stats();
		if (after.hits > before.hits)
			for (k = page_of(r->start); k < page_of(r->end); k++)
				ck_assert_msg(F.watched[k], "page %u", k);
		rmx__rcache_put(RC, r);
	}
	teardown_cache();
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("rcache");
	TCase *tc = tcase_create("rcache");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, hit_without_backend_call);
	tcase_add_test(tc, merges_overlapping_and_adjacent);
	tcase_add_test(tc, merge_falls_back_to_exact);
	tcase_add_test(tc, lru_eviction_by_regions);
	tcase_add_test(tc, lru_eviction_by_bytes);
	tcase_add_test(tc, in_use_never_evicted);
	tcase_add_test(tc, enomem_evicts_idle_and_retries);
	tcase_add_test(tc, other_errors_returned);
	tcase_add_test(tc, invalidate_idle);
	tcase_add_test(tc, invalidate_in_use);
	tcase_add_test(tc, invalidate_several);
	tcase_add_test(tc, watch_failure_uncached);
	tcase_add_test(tc, unwatch_only_what_nothing_covers);
	tcase_add_test(tc, unwatch_spares_in_flight);
	tcase_add_test(tc, no_monitor_caches_everything);
	tcase_add_test(tc, disabled);
	tcase_add_test(tc, stats_exact);
	tcase_add_test(tc, invalidated_while_registering);
	tcase_add_test(tc, concurrent_insert_last_wins);
	tcase_add_test(tc, itree_against_model);
	tcase_add_test(tc, itree_ascending_fills_nodes);
	tcase_add_test(tc, itree_appends_then_deletes);
	tcase_add_test(tc, threads_and_invalidations);
	suite_add_tcase(s, tc);
	return s;
}
