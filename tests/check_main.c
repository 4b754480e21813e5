// SPDX-License-Identifier: BSD-2-Clause
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check_main.h"

/*
 * Check runs each test in a child of its own (unless CK_FORK=no): skips
 * are counted in memory the children share with main().
 */
static atomic_int *skips;

void rmx_test_skipped(const char *fmt, ...)
{
	va_list ap;

	printf("SKIP: %s: ", tcase_name());
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	atomic_fetch_add(skips, 1);
}

void rmx_test_stderr_catch(struct rmx_test_stderr *c)
{
	c->f = tmpfile();
	ck_assert_ptr_nonnull(c->f);
	fflush(stderr);
	c->saved = dup(STDERR_FILENO);
	ck_assert_int_ge(c->saved, 0);
	ck_assert_int_eq(dup2(fileno(c->f), STDERR_FILENO), STDERR_FILENO);
}

void rmx_test_stderr_release(struct rmx_test_stderr *c, char *buf,
			     size_t size)
{
	size_t n;

	fflush(stderr);
	dup2(c->saved, STDERR_FILENO);
	close(c->saved);
	rewind(c->f);
	n = fread(buf, 1, size - 1, c->f);
	buf[n] = '\0';
	fclose(c->f);
}

int main(void)
{
	SRunner *sr;
	int run, failed, skipped;

	skips = mmap(NULL, sizeof(*skips), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (skips == MAP_FAILED) {
		perror("mmap");
		return EXIT_FAILURE;
	}
	sr = srunner_create(test_suite());
	srunner_run_all(sr, CK_NORMAL);
	run = srunner_ntests_run(sr);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	skipped = atomic_load(skips);
	if (failed)
		return EXIT_FAILURE;
	/* CK_RUN_CASE or a tag filter that matches nothing checks nothing. */
	if (!run) {
		printf("no test ran (CK_RUN_CASE, CK_INCLUDE_TAGS or CK_EXCLUDE_TAGS matches none?)\n");
		return EXIT_FAILURE;
	}
	if (skipped) {
		/* Check counts a skipped test as passed; it was not. */
		printf("%d of %d checks skipped, none failed: reported as skipped (exit %d)\n",
		       skipped, run, RMX_TEST_SKIP_CODE);
		return RMX_TEST_SKIP_CODE;
	}
	return EXIT_SUCCESS;
}
