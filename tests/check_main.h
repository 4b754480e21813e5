/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RMX_TESTS_CHECK_MAIN_H
#define RMX_TESTS_CHECK_MAIN_H

#include <stddef.h>
#include <stdio.h>

#include <check.h>

/* Each test executable defines its suite; check_main.c runs it. */
Suite *test_suite(void);

/* ctest's SKIP_RETURN_CODE for every test (tests/CMakeLists.txt). */
#define RMX_TEST_SKIP_CODE 77

void rmx_test_skipped(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/*
 * Ends the running test, saying why it could not check what it claims
 * ("SKIP: <test>: <why>" on stdout). A skipped test is never a pass: if
 * any test skipped and none failed, the executable exits
 * RMX_TEST_SKIP_CODE and ctest reports it skipped. So that a skip hides
 * no other test's pass, a test that may skip goes in a TCase tagged
 * "may_skip", which tests/CMakeLists.txt runs as a ctest entry of its own.
 */
#define rmx_test_skip(...)                        \
	do {                                      \
		rmx_test_skipped(__VA_ARGS__);    \
		return;                           \
	} while (0)

/*
 * What is written to stderr (rmx's log) between rmx_test_stderr_catch()
 * and rmx_test_stderr_release(), which puts it NUL-terminated in buf.
 */
struct rmx_test_stderr {
	FILE *f;
	int saved;
};

void rmx_test_stderr_catch(struct rmx_test_stderr *c);
void rmx_test_stderr_release(struct rmx_test_stderr *c, char *buf,
			     size_t size);

#endif
