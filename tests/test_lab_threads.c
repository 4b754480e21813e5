// SPDX-License-Identifier: BSD-2-Clause
/*
 * The threading model: a context and what it owns belong to one thread;
 * threads scale with a context each. Several threads run full traffic at
 * once, each over its own context, and every byte is checked.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "lab.h"

#define THREADS 4
#define MSGS 300
#define SZ 512

struct worker {
	int id;
	char err[160];
};

/*
 * Runs in its own thread. Check assertions are not thread-safe: only the
 * setup in lab_pair_open() uses them; everything else reports in w->err.
 */
static void *traffic(void *arg)
{
	struct worker *w = arg;
	struct lab_pair lp;
	uint8_t *src = malloc((size_t)MSGS * SZ), *dst = malloc((size_t)MSGS * SZ);
	uint8_t *target = malloc((size_t)MSGS * SZ);
	struct lab_comp *sent = calloc(MSGS, sizeof(*sent));
	struct lab_comp *got = calloc(MSGS, sizeof(*got));
	struct lab_comp *put = calloc(MSGS, sizeof(*put));
	rmx_mem_t *mem;
	rmx_remote_t r;
	int i;

	lab_pair_open(&lp);
	if (rmx_mem_reg(lp.ctx, target, (size_t)MSGS * SZ, RMX_MEM_REMOTE_WRITE,
			&mem) ||
	    rmx_mem_remote(mem, &r)) {
		snprintf(w->err, sizeof(w->err), "registration failed");
		return NULL;
	}
	for (i = 0; i < MSGS; i++) {
		uint8_t *s = src + (size_t)i * SZ;

		lab_fill(s, SZ, (uint32_t)(w->id * 100000 + i));
		if (rmx_recv(lp.server, dst + (size_t)i * SZ, SZ, lab_comp_cb,
			     &got[i]) ||
		    rmx_send(lp.client, s, SZ, lab_comp_cb, &sent[i]) ||
		    rmx_put(lp.client, s, SZ, &r, (uint64_t)i * SZ, lab_comp_cb,
			    &put[i])) {
			snprintf(w->err, sizeof(w->err), "post %d failed", i);
			return NULL;
		}
	}
	while (!got[MSGS - 1].done || !put[MSGS - 1].done ||
	       !sent[MSGS - 1].done)
		if (rmx_wait(lp.ctx, 1000) < 0)
			break;
	for (i = 0; i < MSGS && !w->err[0]; i++) {
		uint32_t seed = (uint32_t)(w->id * 100000 + i);

		if (got[i].status || put[i].status || sent[i].status)
			snprintf(w->err, sizeof(w->err), "op %d failed", i);
		else if (lab_check(dst + (size_t)i * SZ, SZ, seed) != SZ ||
			 lab_check(target + (size_t)i * SZ, SZ, seed) != SZ)
			snprintf(w->err, sizeof(w->err), "data %d corrupted", i);
	}
	rmx_mem_dereg(mem);
	lab_pair_close(&lp);
	free(src);
	free(dst);
	free(target);
	free(sent);
	free(got);
	free(put);
	return NULL;
}

START_TEST(context_per_thread)
{
	struct worker w[THREADS];
	pthread_t th[THREADS];
	int i;

	for (i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .id = i };
		ck_assert_int_eq(pthread_create(&th[i], NULL, traffic, &w[i]), 0);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		ck_assert_msg(!w[i].err[0], "thread %d: %s", i, w[i].err);
	}
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("lab_threads");
	TCase *tc = tcase_create("threads");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, context_per_thread);
	suite_add_tcase(s, tc);
	return s;
}
