// SPDX-License-Identifier: BSD-2-Clause
/*
 * The registration cache against a real device: a buffer freed and
 * re-mapped must never be sent stale. Each scenario sends pattern A from
 * an address, makes that address map new pages holding pattern B, sends
 * again and checks what the peer got. With RMX_TEST_EXPECT_STALE=1 (run
 * with RMX_RCACHE_MONITOR=none) every scenario must instead catch stale
 * data at least once: proof that it tests something.
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_main.h"
#include "lab.h"

#define PAGE 4096u
#define MAX_SIZE (64u << 20)
#define PAT_A 0xa1
#define PAT_B 0xb2

static const size_t sizes[] = { PAGE, 64u << 10, 1u << 20, 16u << 20,
				MAX_SIZE };
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

struct env {
	struct lab_pair lp;
	uint8_t *target;
	rmx_mem_t *mem;
	rmx_remote_t remote;
};

static bool env_flag(const char *name);

static bool expect_stale(void)
{
	return env_flag("RMX_TEST_EXPECT_STALE");
}

static void env_open_sized(struct env *e, size_t target_len)
{
	lab_pair_open(&e->lp);
	e->target = mmap(NULL, target_len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(e->target != MAP_FAILED);
	ck_assert_int_eq(rmx_mem_reg(e->lp.ctx, e->target, target_len,
				     RMX_MEM_REMOTE_WRITE, &e->mem),
			 0);
	ck_assert_int_eq(rmx_mem_remote(e->mem, &e->remote), 0);
}

static void env_open(struct env *e)
{
	env_open_sized(e, MAX_SIZE);
}

static void env_close(struct env *e)
{
	ck_assert_int_eq(rmx_mem_dereg(e->mem), 0);
	munmap(e->target, e->remote.len);
	lab_pair_close(&e->lp);
}

/* Sends [src, src + len) and returns whether the peer got all `pat`. */
static bool put_gets(struct env *e, const void *src, size_t len, uint8_t pat)
{
	struct lab_comp c = { 0 };
	size_t i;

	memset(e->target, 0, len);
	ck_assert_int_eq(rmx_put(e->lp.client, src, len, &e->remote, 0,
				 lab_comp_cb, &c),
			 0);
	lab_wait_flag(e->lp.ctx, &c.done, 60000);
	ck_assert_int_eq(c.status, 0);
	for (i = 0; i < len; i++)
		if (e->target[i] != pat)
			return false;
	return true;
}

/* The second send: fresh data, or (expected) stale data. */
static int second_put(struct env *e, const void *src, size_t len)
{
	bool fresh = put_gets(e, src, len, PAT_B);

	if (!expect_stale())
		ck_assert_msg(fresh, "%zu bytes: the peer got stale data", len);
	return !fresh;
}

/* Each scenario returns 1 when it caught stale data, -1 if not testable. */
typedef int (*scenario_fn)(struct env *e, size_t len);

/*
 * The common shape for anonymous memory: send A from fresh pages, let
 * `change` give the address new pages, send B from the same address.
 */
static int anon_round(struct env *e, size_t len,
		      void (*change)(uint8_t *p, size_t len))
{
	uint8_t *p = lab_map_anon(NULL, len);
	int stale;

	memset(p, PAT_A, len);
	ck_assert(put_gets(e, p, len, PAT_A));
	change(p, len);
	memset(p, PAT_B, len);
	stale = second_put(e, p, len);
	munmap(p, len);
	return stale;
}

static void unmap_and_map_fixed(uint8_t *p, size_t len)
{
	ck_assert_int_eq(munmap(p, len), 0);
	ck_assert_ptr_eq(lab_map_anon(p, len), p);
}

static void map_fixed_over(uint8_t *p, size_t len)
{
	/* Replacing a mapping in place unmaps the old pages too. */
	ck_assert_ptr_eq(lab_map_anon(p, len), p);
}

static void discard(uint8_t *p, size_t len)
{
	ck_assert_int_eq(madvise(p, len, MADV_DONTNEED), 0);
}

static int munmap_then_mmap_fixed(struct env *e, size_t len)
{
	return anon_round(e, len, unmap_and_map_fixed);
}

static int mmap_fixed_over(struct env *e, size_t len)
{
	return anon_round(e, len, map_fixed_over);
}

static int madvise_dontneed(struct env *e, size_t len)
{
	return anon_round(e, len, discard);
}

static int malloc_free_malloc(struct env *e, size_t len)
{
	uint8_t *p, *q;
	int stale;

	/* Every size here is above the threshold: glibc maps and unmaps. */
	ck_assert_int_eq(mallopt(M_MMAP_THRESHOLD, PAGE), 1);
	p = malloc(len);
	ck_assert_ptr_nonnull(p);
	memset(p, PAT_A, len);
	ck_assert(put_gets(e, p, len, PAT_A));
	free(p);
	q = malloc(len);
	ck_assert_ptr_nonnull(q);
	memset(q, PAT_B, len);
	stale = second_put(e, q, len);
	free(q);
	return q == p ? stale : -1;
}

static int mremap_moves(struct env *e, size_t len)
{
	uint8_t *p = lab_map_anon(NULL, len), *away = lab_map_anon(NULL, len);
	int stale;

	memset(p, PAT_A, len);
	ck_assert(put_gets(e, p, len, PAT_A));
	ck_assert_ptr_eq(mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
				away),
			 away);
	ck_assert_ptr_eq(lab_map_anon(p, len), p);
	memset(p, PAT_B, len);
	stale = second_put(e, p, len);
	/* The pages that moved still send what they hold. */
	ck_assert(put_gets(e, away, len, PAT_A));
	munmap(p, len);
	munmap(away, len);
	return stale;
}

static int shmdt_shmat(struct env *e, size_t len)
{
	int id1 = shmget(IPC_PRIVATE, len, IPC_CREAT | 0600), id2;
	uint8_t *p, *q;
	int stale;

	ck_assert_int_ge(id1, 0);
	p = shmat(id1, NULL, 0);
	ck_assert(p != (void *)-1);
	shmctl(id1, IPC_RMID, NULL);
	memset(p, PAT_A, len);
	ck_assert(put_gets(e, p, len, PAT_A));
	ck_assert_int_eq(shmdt(p), 0);
	id2 = shmget(IPC_PRIVATE, len, IPC_CREAT | 0600);
	ck_assert_int_ge(id2, 0);
	q = shmat(id2, p, 0);
	ck_assert_ptr_eq(q, p);
	shmctl(id2, IPC_RMID, NULL);
	memset(q, PAT_B, len);
	stale = second_put(e, q, len);
	shmdt(q);
	return stale;
}

/*
 * sbrk moves the heap top that malloc also uses: give malloc a large
 * padded top first so it never calls sbrk between ours.
 */
static void heap_quiet(void)
{
	static bool done;
	void *p;

	if (done)
		return;
	done = true;
	ck_assert_int_eq(mallopt(M_MMAP_THRESHOLD, 32u << 20), 1);
	ck_assert_int_eq(mallopt(M_TRIM_THRESHOLD, 1 << 30), 1);
	ck_assert_int_eq(mallopt(M_TOP_PAD, 64u << 20), 1);
	p = malloc(1u << 20);
	free(p);
}

static int sbrk_shrink_grow(struct env *e, size_t len)
{
	uint8_t *base, *p;
	size_t pad;
	int stale;

	heap_quiet();
	base = sbrk(0);
	pad = (PAGE - (uintptr_t)base % PAGE) % PAGE;
	ck_assert(sbrk((intptr_t)(pad + len)) != (void *)-1);
	p = base + pad;
	memset(p, PAT_A, len);
	ck_assert(put_gets(e, p, len, PAT_A));
	ck_assert(sbrk(-(intptr_t)len) != (void *)-1);
	ck_assert_ptr_eq(sbrk((intptr_t)len), p);
	memset(p, PAT_B, len);
	stale = second_put(e, p, len);
	ck_assert(sbrk(-(intptr_t)(pad + len)) != (void *)-1);
	return stale;
}

static void run_scenario(scenario_fn fn, const char *name)
{
	struct env e;
	int caught = 0, testable = 0;
	size_t i;

	env_open(&e);
	for (i = 0; i < NSIZES; i++) {
		int r = fn(&e, sizes[i]);

		testable += r >= 0;
		caught += r > 0;
	}
	env_close(&e);
	ck_assert_msg(testable > 0, "%s: no size could test a reused address",
		      name);
	if (expect_stale())
		ck_assert_msg(caught > 0,
			      "%s: no stale data without a monitor: the scenario tests nothing",
			      name);
}

#define SCENARIO(fn)                          \
	START_TEST(test_##fn)                 \
	{                                     \
		run_scenario(fn, #fn);        \
	}                                     \
	END_TEST

SCENARIO(munmap_then_mmap_fixed)
SCENARIO(mmap_fixed_over)
SCENARIO(malloc_free_malloc)
SCENARIO(mremap_moves)
SCENARIO(madvise_dontneed)
SCENARIO(shmdt_shmat)
SCENARIO(sbrk_shrink_grow)

START_TEST(fork_child_writes)
{
	struct env e;
	size_t i;

	env_open(&e);
	for (i = 0; i < NSIZES; i++) {
		size_t len = sizes[i];
		uint8_t *p = lab_map_anon(NULL, len);
		pid_t pid;
		int st;

		memset(p, PAT_A, len);
		ck_assert(put_gets(&e, p, len, PAT_A));
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			/* The child's copy only: verbs must not be touched. */
			memset(p, PAT_B, len);
			_exit(0);
		}
		ck_assert_int_eq(waitpid(pid, &st, 0), pid);
		ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		ck_assert_msg(put_gets(&e, p, len, PAT_A),
			      "%zu bytes: the child's write reached the peer", len);
		munmap(p, len);
	}
	env_close(&e);
}
END_TEST

START_TEST(eviction_and_merge)
{
	enum { N = 16, SZ = 64 << 10 };
	struct rmx_rcache_stats s;
	uint8_t *bufs = lab_map_anon(NULL, (size_t)N * 2 * SZ);
	struct env e;
	int i;

	/* Four idle regions: the endpoints' own buffers are not counted. */
	setenv("RMX_RCACHE_MAX_REGIONS", "4", 1);
	env_open(&e);
	unsetenv("RMX_RCACHE_MAX_REGIONS");
	/* Separate buffers, one page apart: no merging, LRU eviction. */
	for (i = 0; i < N; i++) {
		uint8_t *p = bufs + (size_t)i * 2 * SZ;

		memset(p, i, SZ);
		ck_assert(put_gets(&e, p, SZ, (uint8_t)i));
	}
	ck_assert_int_eq(rmx_rcache_stats(e.lp.ctx, &s), 0);
	ck_assert_uint_ge(s.evictions, N - 4);
	/* A range spanning two cached neighbours merges them. */
	memset(bufs, 0x77, 3 * SZ);
	ck_assert(put_gets(&e, bufs + (N - 2) * 2 * SZ, SZ, (uint8_t)(N - 2)));
	ck_assert(put_gets(&e, bufs + (N - 1) * 2 * SZ, SZ, (uint8_t)(N - 1)));
	memset(bufs + (N - 2) * 2 * SZ, 0x55, 3 * SZ);
	ck_assert(put_gets(&e, bufs + (N - 2) * 2 * SZ, 3 * SZ, 0x55));
	ck_assert_int_eq(rmx_rcache_stats(e.lp.ctx, &s), 0);
	ck_assert_uint_ge(s.merges, 1);
	/* Now inside the merged region: a hit. */
	ck_assert(put_gets(&e, bufs + (N - 1) * 2 * SZ, SZ, 0x55));
	{
		uint64_t hits = s.hits;

		ck_assert_int_eq(rmx_rcache_stats(e.lp.ctx, &s), 0);
		ck_assert_uint_gt(s.hits, hits);
	}
	ck_assert_uint_le(s.bytes_pinned, s.bytes_pinned_peak);
	env_close(&e);
	munmap(bufs, (size_t)N * 2 * SZ);
}
END_TEST

/*
 * RMX_RCACHE_MAX_REGIONS limits the user's buffers only: with 1, the one
 * buffer sent again and again stays cached (the endpoints' buffers once
 * took every slot, and 0 of 1066 lookups hit).
 */
START_TEST(max_regions_counts_user_buffers)
{
	enum { ROUNDS = 20, SZ = 256 << 10 };
	struct rmx_rcache_stats s;
	uint8_t *buf = lab_map_anon(NULL, SZ);
	struct env e;
	int i;

	setenv("RMX_RCACHE_MAX_REGIONS", "1", 1);
	env_open(&e);
	unsetenv("RMX_RCACHE_MAX_REGIONS");
	memset(buf, 0x3c, SZ);
	for (i = 0; i < ROUNDS; i++)
		ck_assert(put_gets(&e, buf, SZ, 0x3c));
	ck_assert_int_eq(rmx_rcache_stats(e.lp.ctx, &s), 0);
	ck_assert_uint_eq(s.gets, ROUNDS);
	ck_assert_uint_eq(s.misses, 1);
	ck_assert_uint_eq(s.hits, ROUNDS - 1);
	ck_assert_uint_eq(s.evictions, 0);
	env_close(&e);
	munmap(buf, SZ);
}
END_TEST

START_TEST(frame_check_catches_stale)
{
	/* Without a monitor the cache goes stale; the check must say so. */
	size_t len = 1u << 20;
	struct lab_comp c = { 0 };
	struct env e;
	uint8_t *p;

	setenv("RMX_RCACHE_CHECK", "1", 1);
	setenv("RMX_RCACHE_MONITOR", "none", 1);
	env_open(&e);
	unsetenv("RMX_RCACHE_CHECK");
	unsetenv("RMX_RCACHE_MONITOR");
	p = lab_map_anon(NULL, len);
	memset(p, PAT_A, len);
	ck_assert(put_gets(&e, p, len, PAT_A));
	ck_assert(put_gets(&e, p, len, PAT_A));	/* a verified hit */
	ck_assert_int_eq(munmap(p, len), 0);
	ck_assert_ptr_eq(lab_map_anon(p, len), p);
	memset(p, PAT_B, len);
	ck_assert_int_eq(rmx_put(e.lp.client, p, len, &e.remote, 0,
				 lab_comp_cb, &c),
			 0);
	lab_wait_flag(e.lp.ctx, &c.done, 30000);
	ck_assert_int_eq(c.status, -ESTALE);
	munmap(p, len);
	env_close(&e);
}
END_TEST

START_TEST(cache_off_still_correct)
{
	struct rmx_rcache_stats s;
	struct env e;

	setenv("RMX_RCACHE", "off", 1);
	env_open(&e);
	unsetenv("RMX_RCACHE");
	ck_assert_int_eq(munmap_then_mmap_fixed(&e, 1u << 20), 0);
	ck_assert_int_eq(rmx_rcache_stats(e.lp.ctx, &s), 0);
	ck_assert_uint_eq(s.hits, 0);
	ck_assert_uint_eq(s.registrations, s.misses);
	env_close(&e);
}
END_TEST

/*
 * Runs in a process of its own (RMX_TEST_MEMLOCK=1): verbs state opened
 * before the capability drop would be refused afterwards.
 */
START_TEST(memlock_exhaustion)
{
	struct rlimit rl = { 16u << 20, 16u << 20 };
	struct rmx_rcache_stats s;
	struct env e;
	rmx_mem_t *big;
	uint8_t *p;
	int i;

	lab_drop_ipc_lock();
	ck_assert_int_eq(setrlimit(RLIMIT_MEMLOCK, &rl), 0);
	/* Let the device, not the cache's own limit, say no. */
	setenv("RMX_RCACHE_MAX_BYTES", "1G", 1);
	env_open_sized(&e, 4u << 20);
	p = lab_map_anon(NULL, 32u << 20);
	/* Idle cached regions fill the limit; later ones need evictions. */
	for (i = 0; i < 8; i++) {
		uint8_t *src = p + ((size_t)i << 22);

		memset(src, i + 1, 2u << 20);
		ck_assert(put_gets(&e, src, 2u << 20, (uint8_t)(i + 1)));
	}
	ck_assert_int_eq(rmx_rcache_stats(e.lp.ctx, &s), 0);
	ck_assert_uint_gt(s.evictions, 0);
	/* Beyond the limit even with the cache empty: a clear error. */
	ck_assert_int_eq(rmx_mem_reg(e.lp.ctx, p, 32u << 20,
				     RMX_MEM_REMOTE_READ, &big),
			 -ENOMEM);
	ck_assert_int_eq(rmx_ep_state(e.lp.client), RMX_EP_CONNECTED);
	env_close(&e);
}
END_TEST

static bool env_flag(const char *name)
{
	const char *e = getenv(name);

	return e && *e == '1';
}

Suite *test_suite(void)
{
	Suite *s = suite_create("lab_rcache");
	TCase *stale = tcase_create("stale");
	TCase *limits = tcase_create("limits");

	if (env_flag("RMX_TEST_MEMLOCK")) {
		tcase_add_test(limits, memlock_exhaustion);
		suite_add_tcase(s, limits);
		return s;
	}
	tcase_set_timeout(stale, 600);
	tcase_add_test(stale, test_munmap_then_mmap_fixed);
	tcase_add_test(stale, test_mmap_fixed_over);
	tcase_add_test(stale, test_malloc_free_malloc);
	tcase_add_test(stale, test_mremap_moves);
	tcase_add_test(stale, test_madvise_dontneed);
	tcase_add_test(stale, test_shmdt_shmat);
	/* Last: it leaves malloc tuned for sbrk. */
	tcase_add_test(stale, test_sbrk_shrink_grow);
	suite_add_tcase(s, stale);
	if (!expect_stale()) {
		tcase_set_timeout(limits, 300);
		tcase_add_test(limits, fork_child_writes);
		tcase_add_test(limits, eviction_and_merge);
		tcase_add_test(limits, max_regions_counts_user_buffers);
		tcase_add_test(limits, frame_check_catches_stale);
		tcase_add_test(limits, cache_off_still_correct);
		suite_add_tcase(s, limits);
	}
	return s;
}
