// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <string.h>

#include "check_main.h"
#include "core/config.h"
#include "core/log.h"
#include "transport/transport.h"

static const char *const *fake_env;

static const char *fake_getenv(const char *name)
{
	const char *const *e;
	size_t n = strlen(name);

	for (e = fake_env; e && *e; e++)
		if (!strncmp(*e, name, n) && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

static int load(const char *const *env, struct rmx__config *cfg)
{
	fake_env = env;
	return rmx__config_load(cfg, fake_getenv);
}

START_TEST(defaults)
{
	struct rmx__config cfg;

	ck_assert_int_eq(load(NULL, &cfg), 0);
	ck_assert_int_eq(cfg.log_level, RMX__LOG_WARN);
	ck_assert_str_eq(cfg.transport, "auto");
	ck_assert_uint_eq(cfg.connect_timeout_ms, 5000);
	ck_assert_uint_eq(cfg.eager_max, 16384);
	ck_assert_uint_eq(cfg.tx_depth, 128);
	ck_assert_uint_eq(cfg.rx_depth, 64);
}
END_TEST

START_TEST(overrides)
{
	static const char *const env[] = {
		"RMX_LOG_LEVEL=debug", "RMX_TRANSPORT=verbs",
		"RMX_EAGER_MAX=0x1000", "RMX_RX_DEPTH=16",
		"RMX_CONNECT_TIMEOUT_MS=250", NULL,
	};
	struct rmx__config cfg;

	ck_assert_int_eq(load(env, &cfg), 0);
	ck_assert_int_eq(cfg.log_level, RMX__LOG_DEBUG);
	ck_assert_str_eq(cfg.transport, "verbs");
	ck_assert_uint_eq(cfg.eager_max, 4096);
	ck_assert_uint_eq(cfg.rx_depth, 16);
	ck_assert_uint_eq(cfg.connect_timeout_ms, 250);
}
END_TEST

START_TEST(rejects_bad_values)
{
	static const char *const bad[][2] = {
		{ "RMX_EAGER_MAX=", NULL },	  { "RMX_EAGER_MAX=12x", NULL },
		{ "RMX_EAGER_MAX=-5", NULL },	  { "RMX_EAGER_MAX=63", NULL },
		{ "RMX_RX_DEPTH=99999999999", NULL },
		{ "RMX_LOG_LEVEL=loud", NULL },	  { "RMX_LOG_LEVEL=9", NULL },
		{ "RMX_TX_DEPTH= 8", NULL },
		{ "RMX_TRANSPORT=0123456789012345678901234567890123456789", NULL },
	};
	struct rmx__config cfg;
	size_t i;

	rmx__log_level = RMX__LOG_NONE;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(load(bad[i], &cfg) < 0, "accepted %s", bad[i][0]);
	rmx__log_level = RMX__LOG_WARN;
}
END_TEST

START_TEST(cache_knobs)
{
	static const char *const env[] = {
		"RMX_RCACHE=off", "RMX_RCACHE_MAX_BYTES=64M",
		"RMX_RCACHE_MAX_REGIONS=100", "RMX_RCACHE_MONITOR=none",
		"RMX_RCACHE_CHECK=yes", "RMX_STATS=1", NULL,
	};
	static const char *const bad[][2] = {
		{ "RMX_RCACHE=maybe", NULL },	 { "RMX_RCACHE_MAX_BYTES=1T", NULL },
		{ "RMX_RCACHE_MAX_BYTES=-1", NULL },
		{ "RMX_RCACHE_MAX_BYTES=99999999999999999999", NULL },
		{ "RMX_RCACHE_MONITOR=magic", NULL },
	};
	struct rmx__config cfg;
	size_t i;

	ck_assert_int_eq(load(NULL, &cfg), 0);
	ck_assert(cfg.rcache);
	ck_assert_int_eq(cfg.rcache_monitor, RMX__MONITOR_AUTO);
	ck_assert_uint_eq(cfg.rcache_max_bytes, 0);
	ck_assert(!cfg.rcache_check && !cfg.stats);
	ck_assert_int_eq(load(env, &cfg), 0);
	ck_assert(!cfg.rcache);
	ck_assert_uint_eq(cfg.rcache_max_bytes, 64ull << 20);
	ck_assert_uint_eq(cfg.rcache_max_regions, 100);
	ck_assert_int_eq(cfg.rcache_monitor, RMX__MONITOR_NONE);
	ck_assert(cfg.rcache_check && cfg.stats);
	rmx__log_level = RMX__LOG_NONE;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(load(bad[i], &cfg) < 0, "accepted %s", bad[i][0]);
	rmx__log_level = RMX__LOG_WARN;
}
END_TEST

/* A backend's table loads the same way into its own struct. */
START_TEST(string_knob_bounds)
{
	struct name8 {
		char name[8];
	} out;
	static const struct rmx__knob tab[] = {
		{ .name = "RMX_TEST_NAME", .def = "dflt",
		  .type = RMX__KNOB_STRING, .offset = 0, .max = 8,
		  .help = "a name" },
	};
	static const char *const ok[] = { "RMX_TEST_NAME=1234567", NULL };
	static const char *const bad[] = { "RMX_TEST_NAME=12345678", NULL };

	fake_env = NULL;
	ck_assert_int_eq(rmx__knobs_load(tab, 1, &out, fake_getenv), 0);
	ck_assert_str_eq(out.name, "dflt");
	fake_env = ok;
	ck_assert_int_eq(rmx__knobs_load(tab, 1, &out, fake_getenv), 0);
	ck_assert_str_eq(out.name, "1234567");
	fake_env = bad;
	rmx__log_level = RMX__LOG_NONE;
	ck_assert_int_eq(rmx__knobs_load(tab, 1, &out, fake_getenv),
			 -ENAMETOOLONG);
	rmx__log_level = RMX__LOG_WARN;
}
END_TEST

static void check_knob(const struct rmx__knob *k)
{
	ck_assert(!strncmp(k->name, "RMX_", 4));
	ck_assert(k->help && *k->help);
	ck_assert(k->def != NULL);
}

START_TEST(every_knob_documented)
{
	const struct rmx__knob *k;
	size_t i;

	for (i = 0; i < rmx__nknobs; i++)
		check_knob(&rmx__knobs[i]);
	/* The backends' own: the verbs one has RMX_DEVICE. */
	for (i = 0; (k = rmx__tp_knob(i)); i++)
		check_knob(k);
	ck_assert_uint_ge(i, 1);
}
END_TEST

START_TEST(log_levels)
{
	ck_assert_int_eq(rmx__log_level_parse("none"), RMX__LOG_NONE);
	ck_assert_int_eq(rmx__log_level_parse("ERROR"), RMX__LOG_ERROR);
	ck_assert_int_eq(rmx__log_level_parse("trace"), RMX__LOG_TRACE);
	ck_assert_int_eq(rmx__log_level_parse("3"), RMX__LOG_INFO);
	ck_assert_int_eq(rmx__log_level_parse(""), -EINVAL);
	ck_assert_int_eq(rmx__log_level_parse(NULL), -EINVAL);
	ck_assert_int_eq(rmx__log_level_parse("33"), -EINVAL);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");

	tcase_add_test(tc, defaults);
	tcase_add_test(tc, overrides);
	tcase_add_test(tc, rejects_bad_values);
	tcase_add_test(tc, cache_knobs);
	tcase_add_test(tc, string_knob_bounds);
	tcase_add_test(tc, every_knob_documented);
	tcase_add_test(tc, log_levels);
	suite_add_tcase(s, tc);
	return s;
}
