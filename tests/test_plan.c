// SPDX-License-Identifier: BSD-2-Clause
/* How the registration path is chosen, with injected capabilities. */
#include <errno.h>

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
	ck_assert_int_eq(rmx__mem_plan(&cfg, ODP, -ENOSYS, &p), 0);
	ck_assert_int_eq(p.monitor, RMX__MONITOR_ODP);
	ck_assert(p.on_demand && p.cache && !p.implicit);
	/* Implicit ODP: one registration, nothing to cache. */
	ck_assert_int_eq(rmx__mem_plan(&cfg, IMPLICIT, -ENOSYS, &p), 0);
	ck_assert(p.on_demand && p.implicit && !p.cache);
}
END_TEST

START_TEST(auto_without_odp)
{
	struct rmx__config cfg = cfg_of(true, RMX__MONITOR_AUTO);
	struct rmx__mem_plan p;

	ck_assert(rmx__mem_plan_wants_uffd(&cfg, 0));
	ck_assert_int_eq(rmx__mem_plan(&cfg, 0, 0, &p), 0);
	ck_assert_int_eq(p.monitor, RMX__MONITOR_UFFD);
	ck_assert(p.cache && !p.on_demand);
	/* No userfaultfd (seccomp, sysctl): uncached, never unguarded. */
	ck_assert_int_eq(rmx__mem_plan(&cfg, 0, -EPERM, &p), 0);
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

	ck_assert_int_eq(rmx__mem_plan(&cfg, 0, 0, &p), -EOPNOTSUPP);
	ck_assert_int_eq(rmx__mem_plan(&cfg, ODP, 0, &p), 0);
	ck_assert_int_eq(p.monitor, RMX__MONITOR_ODP);

	cfg = cfg_of(true, RMX__MONITOR_UFFD);
	ck_assert(rmx__mem_plan_wants_uffd(&cfg, ODP));
	ck_assert_int_eq(rmx__mem_plan(&cfg, ODP, -ENOSYS, &p), -ENOSYS);
	ck_assert_int_eq(rmx__mem_plan(&cfg, ODP, 0, &p), 0);
	ck_assert_int_eq(p.monitor, RMX__MONITOR_UFFD);
	ck_assert(!p.on_demand);

	cfg = cfg_of(true, RMX__MONITOR_NONE);
	ck_assert(!rmx__mem_plan_wants_uffd(&cfg, 0));
	ck_assert_int_eq(rmx__mem_plan(&cfg, 0, -ENOSYS, &p), 0);
	ck_assert(p.cache);
	ck_assert_int_eq(p.monitor, RMX__MONITOR_NONE);
}
END_TEST

START_TEST(cache_off)
{
	struct rmx__config cfg = cfg_of(false, RMX__MONITOR_AUTO);
	struct rmx__mem_plan p;

	ck_assert(!rmx__mem_plan_wants_uffd(&cfg, 0));
	ck_assert_int_eq(rmx__mem_plan(&cfg, IMPLICIT, 0, &p), 0);
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
	tcase_add_test(tc, cache_off);
	suite_add_tcase(s, tc);
	return s;
}
