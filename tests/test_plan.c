// SPDX-License-Identifier: BSD-2-Clause
/* How the registration path is chosen, with injected capabilities. */
#include <errno.h>
#include <string.h>

#include "check_main.h"
#include "core/config.h"
#include "core/log.h"
#include "mem/plan.h"
#include "transport/transport.h"

#define ODP RMX__TP_CAP_ODP
#define IMPLICIT (RMX__TP_CAP_ODP | RMX__TP_CAP_ODP_IMPLICIT)

static struct rmx__config cfg_of(bool cache, int monitor)
{
	struct rmx__config cfg;

	rmx__log_level = RMX__LOG_NONE;
	ck_assert_int_eq(rmx__config_load(&cfg, NULL), 0);
	cfg.rcache = cache;
	cfg.rcache_monitor = monitor;
	return cfg;
}

START_TEST(auto_prefers_odp)
{
	struct rmx__config cfg = cfg_of(true, RMX__MONITOR_AUTO);
	struct rmx__mem_plan p;

	ck_assert(!rmx__mem_plan_wants_uffd(&cfg, ODP));
	ck_assert_int_eq(rmx__mem_plan(&cfg, ODP, NULL, -ENOSYS, &p), 0);
	ck_assert_int_eq(p.monitor, RMX__MONITOR_ODP);
	ck_assert(p.on_demand && p.cache && !p.implicit);
	/* Implicit ODP: one registration, nothing to cache. */
	ck_assert_int_eq(rmx__mem_plan(&cfg, IMPLICIT, NULL, -ENOSYS, &p), 0);
	ck_assert(p.on_demand && p.implicit && !p.cache);
}
END_TEST

START_TEST(auto_without_odp)
{
	struct rmx__config cfg = cfg_of(true, RMX__MONITOR_AUTO);
	struct rmx__mem_plan p;

	ck_assert(rmx__mem_plan_wants_uffd(&cfg, 0));
	ck_assert_int_eq(rmx__mem_plan(&cfg, 0, NULL, 0, &p), 0);
	ck_assert_int_eq(p.monitor, RMX__MONITOR_UFFD);
	ck_assert(p.cache && !p.on_demand);
	/* No userfaultfd (seccomp, sysctl): uncached, never unguarded. */
	ck_assert_int_eq(rmx__mem_plan(&cfg, 0, NULL, -EPERM, &p), 0);
	ck_assert_int_eq(p.monitor, RMX__MONITOR_NONE);
	ck_assert(!p.cache);
	/* A device with only some ODP operations does not count. */
	ck_assert(rmx__mem_plan_wants_uffd(&cfg, 0));
}
END_TEST

START_TEST(forced_choices)
{
	struct rmx__config cfg = cfg_of(true, RMX__MONITOR_ODP);
	struct rmx__mem_plan p;

	ck_assert_int_eq(rmx__mem_plan(&cfg, 0, NULL, 0, &p), -EOPNOTSUPP);
	ck_assert_int_eq(rmx__mem_plan(&cfg, ODP, NULL, 0, &p), 0);
	ck_assert_int_eq(p.monitor, RMX__MONITOR_ODP);

	cfg = cfg_of(true, RMX__MONITOR_UFFD);
	ck_assert(rmx__mem_plan_wants_uffd(&cfg, ODP));
	ck_assert_int_eq(rmx__mem_plan(&cfg, ODP, NULL, -ENOSYS, &p), -ENOSYS);
	ck_assert_int_eq(rmx__mem_plan(&cfg, ODP, NULL, 0, &p), 0);
	ck_assert_int_eq(p.monitor, RMX__MONITOR_UFFD);
	ck_assert(!p.on_demand);

	cfg = cfg_of(true, RMX__MONITOR_NONE);
	ck_assert(!rmx__mem_plan_wants_uffd(&cfg, 0));
	ck_assert_int_eq(rmx__mem_plan(&cfg, 0, NULL, -ENOSYS, &p), 0);
	ck_assert(p.cache);
	ck_assert_int_eq(p.monitor, RMX__MONITOR_NONE);
}
END_TEST

/* ODP the transport withholds: uffd, and the reason says why. */
START_TEST(refused_odp_explained)
{
	struct rmx__config cfg = cfg_of(true, RMX__MONITOR_AUTO);
	struct rmx__mem_plan p;

	ck_assert(rmx__mem_plan_wants_uffd(&cfg, 0));
	ck_assert_int_eq(rmx__mem_plan(&cfg, 0, "send misplaced data", 0, &p),
			 0);
	ck_assert_int_eq(p.monitor, RMX__MONITOR_UFFD);
	ck_assert_str_eq(p.why, "uffd: the device's on-demand paging failed rmx's self-test: send misplaced data");
	ck_assert_int_eq(rmx__mem_plan(&cfg, 0, "", 0, &p), 0);
	ck_assert_str_eq(p.why, "uffd: the device has no on-demand paging for RC send, receive, write and read");
	ck_assert_int_eq(rmx__mem_plan(&cfg, 0, "x", -EPERM, &p), 0);
	ck_assert(!p.cache);
	ck_assert_ptr_nonnull(strstr(p.why, "off: "));
	ck_assert_ptr_nonnull(strstr(p.why, "self-test: x"));
	ck_assert_int_eq(rmx__mem_plan(&cfg, ODP, NULL, 0, &p), 0);
	ck_assert_str_eq(p.why, "odp: the device pages on demand for every RC operation");
	/* Forced ODP that failed: refused. */
	cfg = cfg_of(true, RMX__MONITOR_ODP);
	ck_assert_int_eq(rmx__mem_plan(&cfg, 0, "x", 0, &p), -EOPNOTSUPP);
}
END_TEST

START_TEST(cache_off)
{
	struct rmx__config cfg = cfg_of(false, RMX__MONITOR_AUTO);
	struct rmx__mem_plan p;

	ck_assert(!rmx__mem_plan_wants_uffd(&cfg, 0));
	ck_assert_int_eq(rmx__mem_plan(&cfg, IMPLICIT, NULL, 0, &p), 0);
	ck_assert(!p.cache && !p.on_demand && !p.implicit);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("plan");
	TCase *tc = tcase_create("plan");

	tcase_add_test(tc, auto_prefers_odp);
	tcase_add_test(tc, auto_without_odp);
	tcase_add_test(tc, forced_choices);
	tcase_add_test(tc, refused_odp_explained);
	tcase_add_test(tc, cache_off);
	suite_add_tcase(s, tc);
	return s;
}
