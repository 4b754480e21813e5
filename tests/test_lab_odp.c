// SPDX-License-Identifier: BSD-2-Clause
/*
 * rmx uses the device's on-demand paging if and only if it is correct.
 * The judge is tests/odp_repro.c, plain verbs with no rmx in it, run as
 * a child (RMX_TEST_ODP_REPRO names it): exit 0 = ODP places every byte
 * right, 1 = it misplaces data, 77 = no ODP. On a device with no ODP
 * (Linux 6.1's rxe) and one whose ODP misplaces data (Linux 7.3's rxe)
 * rmx must fall back to userfaultfd and say why; on a correct one it
 * must use ODP. RMX_RCACHE_MONITOR=odp must be refused where ODP is not
 * to be trusted. Then an unaligned transfer in the chosen mode lands
 * exactly, guards untouched.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "check_main.h"
#include "lab.h"

enum verdict { ODP_RIGHT = 0, ODP_WRONG = 1, ODP_NONE = 77 };

/* Run once: its 216 transfers take seconds under TCG. */
static int repro_verdict(void)
{
	static int known = -1;
	const char *repro = getenv("RMX_TEST_ODP_REPRO");
	char cmd[4096];
	int st;

	if (known >= 0)
		return known;
	ck_assert_msg(repro, "RMX_TEST_ODP_REPRO is not set");
	snprintf(cmd, sizeof(cmd), "%s >/dev/null", repro);
	st = system(cmd);
	ck_assert_msg(WIFEXITED(st), "odp_repro died: status 0x%x", st);
	st = WEXITSTATUS(st);
	ck_assert_msg(st == ODP_RIGHT || st == ODP_WRONG || st == ODP_NONE,
		      "odp_repro exit %d", st);
	known = st;
	return st;
}

static void unset_monitor(void)
{
	unsetenv("RMX_RCACHE_MONITOR");
	unsetenv("RMX_RCACHE");
}

START_TEST(auto_follows_the_reproducer)
{
	int verdict = repro_verdict();
	rmx_context_t *ctx;
	const char *why;
	int mode;

	unset_monitor();
	ck_assert_int_eq(rmx_context_create(&ctx), 0);
	mode = rmx_rcache_mode(ctx, &why);
	printf("odp_repro exit %d; rmx: %s\n", verdict, why);
	switch (verdict) {
	case ODP_RIGHT:
		ck_assert(mode == RMX_RCACHE_ODP ||
			  mode == RMX_RCACHE_ODP_IMPLICIT);
		break;
	case ODP_WRONG:
		ck_assert_int_eq(mode, RMX_RCACHE_UFFD);
		ck_assert_ptr_nonnull(strstr(why, "failed rmx's self-test"));
		ck_assert_ptr_nonnull(strstr(why, "misplaced data"));
		break;
	default:
		ck_assert_int_eq(mode, RMX_RCACHE_UFFD);
		ck_assert_ptr_nonnull(strstr(why, "no on-demand paging"));
		break;
	}
	rmx_context_destroy(ctx);
}
END_TEST

START_TEST(forced_odp_only_where_right)
{
	int verdict = repro_verdict();
	rmx_context_t *ctx = NULL;
	int ret;

	unset_monitor();
	setenv("RMX_RCACHE_MONITOR", "odp", 1);
	ret = rmx_context_create(&ctx);
	unsetenv("RMX_RCACHE_MONITOR");
	if (verdict == ODP_RIGHT) {
		ck_assert_int_eq(ret, 0);
		ck_assert_int_eq(rmx_rcache_mode(ctx, NULL), RMX_RCACHE_ODP);
		rmx_context_destroy(ctx);
	} else {
		ck_assert_int_eq(ret, -EOPNOTSUPP);
	}
}
END_TEST

/*
 * What the reproducer catches, through rmx in whatever mode it chose: a
 * get and a put between buffers at different page offsets land exactly.
 */
START_TEST(unaligned_rma_lands_exactly)
{
	const size_t len = 3 * 4096 + 100, map = 8 * 4096;
	uint8_t *a = lab_map_anon(NULL, map), *b = lab_map_anon(NULL, map);
	uint8_t *src = a + 4096 + 16, *dst = b + 4096 + 1000;
	struct lab_comp put = { 0 }, get = { 0 };
	rmx_remote_t remote;
	struct lab_pair lp;
	rmx_mem_t *mem;
	size_t i;

	unset_monitor();
	lab_pair_open(&lp);
	ck_assert_int_eq(rmx_mem_reg(lp.ctx, b, map,
				     RMX_MEM_REMOTE_READ | RMX_MEM_REMOTE_WRITE,
				     &mem),
			 0);
	ck_assert_int_eq(rmx_mem_remote(mem, &remote), 0);
	memset(b, 0xa5, map);
	lab_fill(src, len, 5);
	ck_assert_int_eq(rmx_put(lp.client, src, len, &remote,
				 (uint64_t)(dst - b), lab_comp_cb, &put),
			 0);
	lab_wait_flag(lp.ctx, &put.done, 20000);
	ck_assert_int_eq(put.status, 0);
	i = lab_first_not(b, (size_t)(dst - b), 0xa5);
	ck_assert_msg(i == (size_t)(dst - b), "put wrote before the target at %zu", i);
	i = lab_first_not(dst + len, map - (size_t)(dst + len - b), 0xa5);
	ck_assert_msg(i == map - (size_t)(dst + len - b), "put wrote past the target at +%zu", i);
	ck_assert_uint_eq(lab_check(dst, len, 5), len);
	/* And back, into the unaligned source: the read's sink. */
	memset(a, 0x5a, map);
	ck_assert_int_eq(rmx_get(lp.client, src, len, &remote,
				 (uint64_t)(dst - b), lab_comp_cb, &get),
			 0);
	lab_wait_flag(lp.ctx, &get.done, 20000);
	ck_assert_int_eq(get.status, 0);
	ck_assert_uint_eq(lab_check(src, len, 5), len);
	i = lab_first_not(a, (size_t)(src - a), 0x5a);
	ck_assert_msg(i == (size_t)(src - a), "get wrote before the sink at %zu", i);
	i = lab_first_not(src + len, map - (size_t)(src + len - a), 0x5a);
	ck_assert_msg(i == map - (size_t)(src + len - a), "get wrote past the sink at +%zu", i);
	ck_assert_int_eq(rmx_mem_dereg(mem), 0);
	lab_pair_close(&lp);
	munmap(a, map);
	munmap(b, map);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("lab_odp");
	TCase *tc = tcase_create("odp");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, auto_follows_the_reproducer);
	tcase_add_test(tc, forced_odp_only_where_right);
	tcase_add_test(tc, unaligned_rma_lands_exactly);
	suite_add_tcase(s, tc);
	return s;
}
