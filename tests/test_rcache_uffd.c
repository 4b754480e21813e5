// SPDX-License-Identifier: BSD-2-Clause
/*
 * The cache and the userfaultfd monitor together, natively, with a fake
 * registration backend: several threads look buffers up while another
 * keeps replacing the pages behind them. A lookup that starts after a
 * replacement finished must never get a registration of the old pages.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "check_main.h"
#include "core/log.h"
#include "mem/monitor_uffd.h"
#include "mem/rcache.h"

#define PAGE 4096u
#define NRANGES 8
#define RANGE_PAGES 4
#define STRIDE_PAGES 8		/* gaps keep ranges from merging */
#define WORKERS 3
#define REPLACEMENTS 300

struct fake_mr {
	uint64_t gen;		/* what the pages held when registered */
};

struct world {
	struct rmx__rcache *rc;
	struct rmx__uffd_monitor *mon;
	uint8_t *base;
	_Atomic uint64_t published[NRANGES];
	atomic_int regs, deregs, stale, done, lookups;
};

static uint8_t *range_at(struct world *w, int i)
{
	return w->base + (size_t)i * STRIDE_PAGES * PAGE;
}

static int fake_reg(void *ctx, void *addr, size_t len, unsigned int access,
		    void **handle)
{
	struct world *w = ctx;
	struct fake_mr *mr = malloc(sizeof(*mr));

	(void)len;
	(void)access;
	if (!mr)
		return -12;
	/* The pages' generation stamp stands for their identity. */
	mr->gen = *(volatile uint64_t *)addr;
	*handle = mr;
	atomic_fetch_add(&w->regs, 1);
	return 0;
}

static int fake_dereg(void *ctx, void *handle)
{
	struct world *w = ctx;

	free(handle);
	atomic_fetch_add(&w->deregs, 1);
	return 0;
}

static int watch(void *ctx, uintptr_t start, uintptr_t end)
{
	return rmx__uffd_monitor_watch(ctx, start, end);
}

static void unwatch(void *ctx, uintptr_t start, uintptr_t end)
{
	rmx__uffd_monitor_unwatch(ctx, start, end);
}

static void on_invalidate(void *arg, uintptr_t start, uintptr_t end)
{
	struct world *w = arg;

	rmx__rcache_invalidate(w->rc, start, end);
}

/* New pages, stamped before they appear at the range: no torn state. */
static void replace(struct world *w, int i, uint64_t gen)
{
	size_t len = RANGE_PAGES * PAGE;
	uint8_t *fresh = mmap(NULL, len, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ck_assert(fresh != MAP_FAILED);
	memcpy(fresh, &gen, sizeof(gen));
	ck_assert_ptr_eq(mremap(fresh, len, len,
				MREMAP_MAYMOVE | MREMAP_FIXED, range_at(w, i)),
			 range_at(w, i));
	atomic_store(&w->published[i], gen);
}

static void *worker(void *arg)
{
	struct world *w = arg;
	unsigned int seed = (unsigned int)(uintptr_t)&seed;

	while (!atomic_load(&w->done)) {
		int i = rand_r(&seed) % NRANGES;
		uint64_t before = atomic_load(&w->published[i]);
		struct rmx__region *r;

		/* What rmx__mem_get() does before every lookup. */
		rmx__uffd_monitor_sync(w->mon);
		if (rmx__rcache_get(w->rc, range_at(w, i), RANGE_PAGES * PAGE,
				    1, &r))
			continue;
		if (((struct fake_mr *)r->handle)->gen < before)
			atomic_fetch_add(&w->stale, 1);
		rmx__rcache_put(w->rc, r);
		atomic_fetch_add(&w->lookups, 1);
	}
	return NULL;
}

START_TEST(lookups_while_unmapping)
{
	struct rmx__rcache_config cfg = { .enabled = true, .max_regions = 1024,
					  .max_bytes = 1 << 30 };
	struct rmx__rcache_backend be = { fake_reg, fake_dereg, NULL };
	struct rmx__rcache_monitor mon = { watch, unwatch, NULL };
	static struct world w;
	pthread_t th[WORKERS];
	struct rmx__rcache_stats s;
	int i, n;

	rmx__log_level = RMX__LOG_ERROR;
	memset(&w, 0, sizeof(w));
	w.base = mmap(NULL, (size_t)NRANGES * STRIDE_PAGES * PAGE,
		      PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		      0);
	ck_assert(w.base != MAP_FAILED);
	for (i = 0; i < NRANGES; i++)
		replace(&w, i, 1);
	ck_assert_int_eq(rmx__uffd_monitor_create(on_invalidate, &w, &w.mon),
			 0);
	be.ctx = &w;
	mon.ctx = w.mon;
	ck_assert_int_eq(rmx__rcache_create(&cfg, &be, &mon, &w.rc), 0);
	for (i = 0; i < WORKERS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, worker, &w), 0);
	for (n = 0; n < REPLACEMENTS; n++) {
		int seen = atomic_load(&w.lookups);

		replace(&w, n % NRANGES, (uint64_t)n / NRANGES + 2);
		/* Let lookups run between replacements, however slow (ASan). */
		while (atomic_load(&w.lookups) < seen + 4 * WORKERS)
			sched_yield();
	}
	atomic_store(&w.done, 1);
	for (i = 0; i < WORKERS; i++)
		pthread_join(th[i], NULL);
	rmx__rcache_stats(w.rc, &s);
	rmx__uffd_monitor_destroy(w.mon);
	rmx__rcache_destroy(w.rc);
	n = atomic_load(&w.stale);
	ck_assert_msg(n == 0, "%d lookups got the pages a replacement retired", n);
	n = atomic_load(&w.regs);
	ck_assert_int_eq(n, atomic_load(&w.deregs));
	/* It did exercise both paths. */
	ck_assert_uint_gt(s.hits, 0);
	ck_assert_uint_gt(s.regions_invalidated, 0);
	munmap(w.base, (size_t)NRANGES * STRIDE_PAGES * PAGE);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("rcache_uffd");
	TCase *tc = tcase_create("rcache_uffd");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, lookups_while_unmapping);
	suite_add_tcase(s, tc);
	return s;
}
