// SPDX-License-Identifier: BSD-2-Clause
/*
 * The tools' shared helpers (src/tools/common/): option values, the
 * clock, addresses. What a bad value prints is checked by
 * tests/tools/usage.sh, through the tools.
 */
#include <stdint.h>
#include <string.h>

#include "check_main.h"
#include "common/args.h"
#include "common/clock.h"
#include "common/hostport.h"

const char tool_name[] = "test_common";

static const struct tool_num port = { "-p", "port", NULL, 1, 65535, false };
static const struct tool_num size = { "-s", "size", "bytes", 1, 1ULL << 30,
				      true };
static const struct tool_num count = { "-C", "count", NULL, 0, UINT64_MAX,
				       false };

/* arg parsed by n: the value, or -1 when refused. */
static int64_t num(const struct tool_num *n, const char *arg)
{
	uint64_t v = 12345;

	if (tool_parse_num(n, arg, &v)) {
		ck_assert_uint_eq(v, 12345);	/* untouched */
		return -1;
	}
	return (int64_t)v;
}

START_TEST(whole_numbers)
{
	uint64_t v = 0;

	ck_assert_int_eq(num(&port, "1"), 1);
	ck_assert_int_eq(num(&port, "65535"), 65535);
	ck_assert_int_eq(num(&port, "007"), 7);
	ck_assert_int_eq(num(&port, "0"), -1);
	ck_assert_int_eq(num(&port, "65536"), -1);
	ck_assert_int_eq(num(&count, "0"), 0);
	ck_assert_int_eq(tool_parse_num(&count, "18446744073709551615", &v), 0);
	ck_assert_uint_eq(v, UINT64_MAX);
	ck_assert_int_eq(num(&count, "18446744073709551616"), -1);
}
END_TEST

/* What strtoul() would take, and no option should. */
START_TEST(not_numbers)
{
	static const char *const bad[] = {
		"", " 1", "1 ", "+1", "-1", "-0", "0x10", "1.5", "1e3", "abc",
		"1K",		/* no suffix for a port */
		"--1",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (num(&port, bad[i]) != -1)
			ck_abort_msg("'%s' taken as a port", bad[i]);
}
END_TEST

START_TEST(sizes)
{
	ck_assert_int_eq(num(&size, "1"), 1);
	ck_assert_int_eq(num(&size, "64k"), 64 << 10);
	ck_assert_int_eq(num(&size, "64K"), 64 << 10);
	ck_assert_int_eq(num(&size, "8M"), 8 << 20);
	ck_assert_int_eq(num(&size, "1G"), 1 << 30);
	ck_assert_int_eq(num(&size, "1025M"), -1);	/* past 1G */
	ck_assert_int_eq(num(&size, "2G"), -1);
	ck_assert_int_eq(num(&size, "0K"), -1);
	ck_assert_int_eq(num(&size, "1KB"), -1);
	ck_assert_int_eq(num(&size, "1T"), -1);
	ck_assert_int_eq(num(&size, "K"), -1);
	/* v * mul must not wrap into range */
	ck_assert_int_eq(num(&size, "17179869184G"), -1);
}
END_TEST

static int secs(const char *arg, double *v)
{
	return tool_parse_seconds("-D", "duration", arg, 86400, v);
}

START_TEST(seconds)
{
	static const char *const bad[] = {
		"0", "0.0", "-1", "86401", "inf", "nan", "", " 1", "1s", "abc",
	};
	double v = 0;
	size_t i;

	ck_assert_int_eq(secs("1", &v), 0);
	ck_assert(v == 1.0);
	ck_assert_int_eq(secs("0.25", &v), 0);
	ck_assert(v == 0.25);
	ck_assert_int_eq(secs("86400", &v), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!secs(bad[i], &v))
			ck_abort_msg("'%s' taken as seconds", bad[i]);
}
END_TEST

START_TEST(clock_goes_on)
{
	int64_t a = tool_clock_ns(), b;
	double us = tool_clock_us();

	b = tool_clock_ns();
	ck_assert_int_ge(b, a);
	ck_assert(us >= (double)a / 1000 && us <= (double)b / 1000 + 1);
}
END_TEST

START_TEST(host_port)
{
	char buf[64];

	tool_host_port(buf, sizeof(buf), "192.0.2.1", 7174);
	ck_assert_str_eq(buf, "192.0.2.1:7174");
	tool_host_port(buf, sizeof(buf), "fd00::1", 7174);
	ck_assert_str_eq(buf, "[fd00::1]:7174");
	tool_host_port(buf, sizeof(buf), "[fd00::1]", 1);
	ck_assert_str_eq(buf, "[fd00::1]:1");
	tool_host_port(buf, sizeof(buf), "host.example", 18515);
	ck_assert_str_eq(buf, "host.example:18515");
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("tools_common");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, whole_numbers);
	tcase_add_test(tc, not_numbers);
	tcase_add_test(tc, sizes);
	tcase_add_test(tc, seconds);
	tcase_add_test(tc, clock_goes_on);
	tcase_add_test(tc, host_port);
	suite_add_tcase(s, tc);
	return s;
}
