// SPDX-License-Identifier: BSD-2-Clause
/*
 * Two contexts in one process share the userfaultfd monitor: both cache
 * the same buffers (a second userfaultfd could not watch them: -EBUSY,
 * and the second context used to send them uncached), and a buffer freed
 * and re-mapped at the same address is sent fresh by both. One context
 * letting go of a buffer (eviction, or closing) must not stop the
 * monitor watching it for the other.
 */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "check_main.h"
#include "lab.h"

#define SEED_OLD 0x0a1d
#define SEED_NEW 0x0e3f

static const size_t sizes[] = { 4096, 1u << 20, 16u << 20 };
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))
#define TARGET (16u << 20)

/* A context with a connected pair and a target its client writes to. */
struct side {
	struct lab_pair lp;
	uint8_t *target;
	rmx_mem_t *mem;
	rmx_remote_t remote;
};

/* max_regions: RMX_RCACHE_MAX_REGIONS for this context, or NULL. */
static void side_open(struct side *s, const char *max_regions)
{
	const char *why;

	setenv("RMX_RCACHE_MONITOR", "uffd", 1);
	if (max_regions)
		setenv("RMX_RCACHE_MAX_REGIONS", max_regions, 1);
	lab_pair_open(&s->lp);
	unsetenv("RMX_RCACHE_MONITOR");
	unsetenv("RMX_RCACHE_MAX_REGIONS");
	ck_assert_int_eq(rmx_rcache_mode(s->lp.ctx, &why), RMX_RCACHE_UFFD);
	s->target = mmap(NULL, TARGET, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(s->target != MAP_FAILED);
	ck_assert_int_eq(rmx_mem_reg(s->lp.ctx, s->target, TARGET,
				     RMX_MEM_REMOTE_WRITE, &s->mem), 0);
	ck_assert_int_eq(rmx_mem_remote(s->mem, &s->remote), 0);
}

static void side_close(struct side *s)
{
	ck_assert_int_eq(rmx_mem_dereg(s->mem), 0);
	munmap(s->target, TARGET);
	lab_pair_close(&s->lp);
}

/* Writes [src, src + len) to the peer and checks it got seed's bytes. */
static void send_check(struct side *s, const void *src, size_t len,
		       uint32_t seed)
{
	struct lab_comp c = { 0 };
	size_t bad;

	memset(s->target, 0, len);
	ck_assert_int_eq(rmx_put(s->lp.client, src, len, &s->remote, 0,
				 lab_comp_cb, &c), 0);
	lab_wait_flag(s->lp.ctx, &c.done, 60000);
	ck_assert_int_eq(c.status, 0);
	bad = lab_check(s->target, len, seed);
	ck_assert_msg(bad == len, "%zu bytes: wrong byte at %zu (stale?)",
		      len, bad);
}

static uint64_t hits(struct side *s)
{
	struct rmx_rcache_stats st;

	ck_assert_int_eq(rmx_rcache_stats(s->lp.ctx, &st), 0);
	return st.hits;
}

/* Both send p twice: the second is a hit in each, so each cached it. */
static void both_cache(struct side *a, struct side *b, const void *p,
		       size_t len, uint32_t seed)
{
	uint64_t ha = hits(a), hb = hits(b);

	send_check(a, p, len, seed);
	send_check(b, p, len, seed);
	send_check(a, p, len, seed);
	send_check(b, p, len, seed);
	ck_assert_msg(hits(a) > ha && hits(b) > hb,
		      "%zu bytes: not cached by both (hits %lu->%lu, %lu->%lu)",
		      len, (unsigned long)ha, (unsigned long)hits(a),
		      (unsigned long)hb, (unsigned long)hits(b));
}

/* p gets new pages holding SEED_NEW's bytes; both must send those. */
static void remap_both_fresh(struct side *a, struct side *b, uint8_t *p,
			     size_t len)
{
	ck_assert_int_eq(munmap(p, len), 0);
	ck_assert_ptr_eq(lab_map_anon(p, len), p);
	lab_fill(p, len, SEED_NEW);
	send_check(b, p, len, SEED_NEW);
	send_check(a, p, len, SEED_NEW);
}

START_TEST(munmap_then_mmap_fixed)
{
	struct side a, b;
	uint8_t *p;
	size_t i, len;

	side_open(&a, NULL);
	side_open(&b, NULL);
	for (i = 0; i < NSIZES; i++) {
		len = sizes[i];
		p = lab_map_anon(NULL, len);
		lab_fill(p, len, SEED_OLD);
		both_cache(&a, &b, p, len, SEED_OLD);
		remap_both_fresh(&a, &b, p, len);
		munmap(p, len);
	}
	side_close(&b);
	side_close(&a);
}
END_TEST

START_TEST(malloc_free_malloc)
{
	struct side a, b;
	uint8_t *p, *q;
	size_t i, len;
	int reused = 0;

	/* Above the threshold glibc maps each block and unmaps it on free. */
	ck_assert_int_eq(mallopt(M_MMAP_THRESHOLD, 4096), 1);
	side_open(&a, NULL);
	side_open(&b, NULL);
	for (i = 0; i < NSIZES; i++) {
		len = sizes[i];
		p = malloc(len);
		ck_assert_ptr_nonnull(p);
		lab_fill(p, len, SEED_OLD);
		both_cache(&a, &b, p, len, SEED_OLD);
		free(p);
		q = malloc(len);
		ck_assert_ptr_nonnull(q);
		reused += q == p;
		lab_fill(q, len, SEED_NEW);
		send_check(&a, q, len, SEED_NEW);
		send_check(&b, q, len, SEED_NEW);
		free(q);
	}
	side_close(&b);
	side_close(&a);
	ck_assert_msg(reused > 0, "malloc never reused an address");
}
END_TEST

/*
 * Context a keeps one idle region: caching q evicts p there, which
 * unwatches p for a. b still holds p: the monitor must keep telling it.
 */
START_TEST(eviction_in_one_keeps_other)
{
	size_t len = 1u << 20;
	struct rmx_rcache_stats st;
	struct side a, b;
	uint8_t *p, *q;

	side_open(&a, "1");
	side_open(&b, NULL);
	/* A hole between them: neighbours would merge, not evict. */
	p = lab_map_anon(NULL, 3 * len);
	q = p + 2 * len;
	ck_assert_int_eq(munmap(p + len, len), 0);
	lab_fill(p, len, SEED_OLD);
	lab_fill(q, len, SEED_OLD);
	both_cache(&a, &b, p, len, SEED_OLD);
	send_check(&a, q, len, SEED_OLD);
	send_check(&a, q, len, SEED_OLD);
	ck_assert_int_eq(rmx_rcache_stats(a.lp.ctx, &st), 0);
	ck_assert_uint_ge(st.evictions, 1);
	/* b first: a's cache dropped p, b's still holds it. */
	remap_both_fresh(&a, &b, p, len);
	munmap(p, len);
	munmap(q, len);
	side_close(&b);
	side_close(&a);
}
END_TEST

/* Closing one context keeps the monitor watching what the other holds. */
START_TEST(close_one_keeps_other)
{
	size_t len = 1u << 20;
	struct side a, b;
	uint8_t *p;

	side_open(&a, NULL);
	side_open(&b, NULL);
	p = lab_map_anon(NULL, len);
	lab_fill(p, len, SEED_OLD);
	both_cache(&a, &b, p, len, SEED_OLD);
	side_close(&a);
	ck_assert_int_eq(munmap(p, len), 0);
	ck_assert_ptr_eq(lab_map_anon(p, len), p);
	lab_fill(p, len, SEED_NEW);
	send_check(&b, p, len, SEED_NEW);
	/* A context opened now starts from the same monitor. */
	side_open(&a, NULL);
	both_cache(&a, &b, p, len, SEED_NEW);
	munmap(p, len);
	side_close(&b);
	side_close(&a);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("lab_contexts");
	TCase *tc = tcase_create("contexts");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, munmap_then_mmap_fixed);
	tcase_add_test(tc, malloc_free_malloc);
	tcase_add_test(tc, eviction_in_one_keeps_other);
	tcase_add_test(tc, close_one_keeps_other);
	suite_add_tcase(s, tc);
	return s;
}
