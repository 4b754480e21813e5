// SPDX-License-Identifier: BSD-2-Clause
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "check_main.h"
#include "core/addr.h"
#include "core/log.h"

START_TEST(ipv4)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	char buf[64];

	ck_assert_int_eq(rmx__addr_parse("192.0.2.1:7471", &ss), 0);
	ck_assert_int_eq(in->sin_family, AF_INET);
	ck_assert_int_eq(ntohs(in->sin_port), 7471);
	ck_assert_uint_eq(ntohl(in->sin_addr.s_addr), 0xc0000201);
	rmx__addr_format((struct sockaddr *)&ss, buf, sizeof(buf));
	ck_assert_str_eq(buf, "192.0.2.1:7471");
	ck_assert_int_eq(rmx__addr_parse("0.0.0.0:0", &ss), 0);
	ck_assert_int_eq(ntohs(in->sin_port), 0);
}
END_TEST

START_TEST(ipv6)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	char buf[64];

	ck_assert_int_eq(rmx__addr_parse("[::1]:65535", &ss), 0);
	ck_assert_int_eq(in6->sin6_family, AF_INET6);
	ck_assert_int_eq(ntohs(in6->sin6_port), 65535);
	rmx__addr_format((struct sockaddr *)&ss, buf, sizeof(buf));
	ck_assert_str_eq(buf, "[::1]:65535");
}
END_TEST

START_TEST(hostname)
{
	struct sockaddr_storage ss;

	ck_assert_int_eq(rmx__addr_parse("localhost:80", &ss), 0);
	ck_assert(ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
}
END_TEST

/* A source address: the port is optional, a bare IPv6 address is one. */
START_TEST(source)
{
	static const struct {
		const char *in, *out;
	} ok[] = {
		{ "192.0.2.1", "192.0.2.1:0" },
		{ "192.0.2.1:4791", "192.0.2.1:4791" },
		{ "[::1]", "[::1]:0" },
		{ "[::1]:80", "[::1]:80" },
		{ "fe80::1", "[fe80::1]:0" },
	};
	static const char *const bad[] = { "", "[]", "[::1", "1.2.3.4:x",
					   "[::1]x" };
	struct sockaddr_storage ss;
	char buf[64];
	size_t i;

	rmx__log_level = RMX__LOG_NONE;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		ck_assert_int_eq(rmx__addr_parse_src(ok[i].in, &ss), 0);
		rmx__addr_format((struct sockaddr *)&ss, buf, sizeof(buf));
		ck_assert_str_eq(buf, ok[i].out);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(rmx__addr_parse_src(bad[i], &ss) < 0,
			      "\"%s\" accepted", bad[i]);
}
END_TEST

START_TEST(malformed)
{
	static const char *const bad[] = {
		"",	      "192.0.2.1",    "192.0.2.1:",   ":80",
		"1.2.3.4:x",  "1.2.3.4:-1",   "1.2.3.4:65536", "::1:80",
		"[::1]80",    "[::1",	      "1.2.3.4:80x",  "[]:80",
	};
	struct sockaddr_storage ss;
	size_t i;

	rmx__log_level = RMX__LOG_NONE;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(rmx__addr_parse(bad[i], &ss) == -EINVAL,
			      "accepted \"%s\"", bad[i]);
	ck_assert_int_eq(rmx__addr_parse(NULL, &ss), -EINVAL);
	ck_assert_int_eq(rmx__addr_parse("no-such-host.invalid:1", &ss),
			 -EHOSTUNREACH);
	rmx__log_level = RMX__LOG_WARN;
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("addr");
	TCase *tc = tcase_create("addr");

	tcase_add_test(tc, ipv4);
	tcase_add_test(tc, ipv6);
	tcase_add_test(tc, hostname);
	tcase_add_test(tc, malformed);
	tcase_add_test(tc, source);
	suite_add_tcase(s, tc);
	return s;
}
