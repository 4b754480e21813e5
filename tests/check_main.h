/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RMX_TESTS_CHECK_MAIN_H
#define RMX_TESTS_CHECK_MAIN_H

#include <check.h>

/* Each test executable defines its suite; check_main.c runs it. */
Suite *test_suite(void);

#endif
