// SPDX-License-Identifier: BSD-2-Clause
/* The progress engine: fd wake-ups, arming, callback ordering. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check_main.h"
#include "lab.h"

START_TEST(fd_wakes_for_messages)
{
	struct lab_comp sent = { 0 }, got = { 0 };
	struct lab_pair lp;
	char msg[32] = "wake up", buf[32];

	lab_pair_open(&lp);
	ck_assert_int_eq(rmx_recv(lp.server, buf, sizeof(buf), lab_comp_cb, &got),
			 0);
	ck_assert_int_eq(rmx_send(lp.client, msg, sizeof(msg), lab_comp_cb,
				  &sent),
			 0);
	lab_sleep_until(lp.ctx, &got.done, 5000);
	ck_assert_int_eq(got.status, 0);
	ck_assert_str_eq(buf, msg);
	lab_pair_close(&lp);
}
END_TEST

/* Sends msg to the server and lets it arrive with no receive posted. */
static void land_unreceived(struct lab_pair *lp, char *msg, size_t len)
{
	struct lab_comp sent = { 0 };

	ck_assert_int_eq(rmx_send(lp->client, msg, len, lab_comp_cb, &sent), 0);
	lab_wait_flag(lp->ctx, &sent.done, 5000);
	ck_assert_int_eq(sent.status, 0);
	/* The receive completion may trail the sender's: poll a while. */
	lab_spin(lp->ctx, 200);
}

START_TEST(arm_refuses_when_callbacks_due)
{
	struct lab_comp got = { 0 };
	struct lab_pair lp;
	char msg[8] = "early", buf[8];

	lab_pair_open(&lp);
	land_unreceived(&lp, msg, sizeof(msg));
	ck_assert_int_eq(rmx_recv(lp.server, buf, sizeof(buf), lab_comp_cb, &got),
			 0);
	/* Matched at once, but the callback waits for rmx_progress(). */
	ck_assert_int_eq(got.done, 0);
	ck_assert_int_eq(rmx_arm(lp.ctx), -EAGAIN);
	ck_assert_int_gt(rmx_progress(lp.ctx), 0);
	ck_assert_int_eq(got.done, 1);
	ck_assert_str_eq(buf, msg);
	lab_pair_close(&lp);
}
END_TEST

static void closed_cb(rmx_ep_t *ep, enum rmx_ep_event ev, int status,
		      void *arg)
{
	(void)ep;
	if (ev == RMX_EP_EVENT_CLOSED)
		*(int *)arg = status;
}

static void ignore_accept(rmx_listener_t *l, rmx_ep_t *ep, void *arg)
{
	(void)l;
	(void)ep;
	(void)arg;
}

START_TEST(fd_wakes_at_connect_deadline)
{
	int status = 0;
	struct rmx_ep_params params = { .event_cb = closed_cb, .arg = &status,
					.timeout_ms = 700 };
	rmx_context_t *ctx, *mute;
	rmx_listener_t *l;
	rmx_ep_t *ep;
	char addr[80];

	/* A listener whose context never progresses never answers. */
	ck_assert_int_eq(rmx_context_create(&mute), 0);
	snprintf(addr, sizeof(addr), "%s:0", lab_addr());
	ck_assert_int_eq(rmx_listen(mute, addr, ignore_accept, NULL, &l), 0);
	snprintf(addr, sizeof(addr), "%s:%d", lab_addr(), rmx_listener_port(l));
	ck_assert_int_eq(rmx_context_create(&ctx), 0);
	ck_assert_int_eq(rmx_connect(ctx, addr, &params, &ep), 0);
	/* Only rmx's own deadline can end this, and it must wake the fd. */
	lab_sleep_until(ctx, &status, 3000);
	ck_assert_int_eq(status, -ETIMEDOUT);
	rmx_ep_destroy(ep);
	rmx_context_destroy(ctx);
	rmx_context_destroy(mute);
}
END_TEST

START_TEST(destroy_runs_only_its_callbacks)
{
	struct lab_comp other = { 0 }, mine = { 0 };
	struct lab_pair lp;
	char msg[8] = "x", buf[8], buf2[8];
	size_t max;

	lab_pair_open(&lp);
	land_unreceived(&lp, msg, sizeof(msg));
	/* The server's receive completes now; its callback is due. */
	ck_assert_int_eq(rmx_recv(lp.server, buf, sizeof(buf), lab_comp_cb,
				  &other),
			 0);
	ck_assert_int_eq(rmx_recv(lp.client, buf2, sizeof(buf2), lab_comp_cb,
				  &mine),
			 0);
	ck_assert_int_eq(rmx_ep_max_msg(lp.client, &max), 0);
	rmx_ep_destroy(lp.client);
	lp.client = NULL;
	ck_assert_int_eq(mine.done, 1);
	ck_assert_int_eq(mine.status, -ECANCELED);
	ck_assert_int_eq(other.done, 0);
	ck_assert_int_gt(rmx_progress(lp.ctx), 0);
	ck_assert_int_eq(other.done, 1);
	ck_assert_int_eq(other.status, 0);
	lab_pair_close(&lp);
}
END_TEST

START_TEST(limits_survive_close)
{
	struct lab_pair lp;
	size_t before, after;
	rmx_remote_t wide = { .addr = 4096, .len = 4096,
			      .key = 1ull << 40 };
	char b[8];

	lab_pair_open(&lp);
	ck_assert_int_eq(rmx_ep_max_msg(lp.server, &before), 0);
	/* A key this fabric cannot carry fails the call, not the endpoint. */
	ck_assert_int_eq(rmx_put(lp.client, b, sizeof(b), &wide, 0, NULL, NULL),
			 -EINVAL);
	ck_assert_int_eq(rmx_ep_state(lp.client), RMX_EP_CONNECTED);
	rmx_ep_destroy(lp.client);
	lp.client = NULL;
	lab_wait_flag(lp.ctx, &lp.sev.count[RMX_EP_EVENT_CLOSED], 5000);
	ck_assert_int_eq(rmx_ep_max_msg(lp.server, &after), 0);
	ck_assert_uint_eq(after, before);
	lab_pair_close(&lp);
}
END_TEST

START_TEST(context_destroy_releases_leftovers)
{
	struct lab_pair lp;
	rmx_mem_t *mem;
	char *buf = malloc(1 << 16);

	lab_pair_open(&lp);
	ck_assert_int_eq(rmx_mem_reg(lp.ctx, buf, 1 << 16, RMX_MEM_REMOTE_READ,
				     &mem),
			 0);
	/* Endpoints, listener and registration left for destroy to free. */
	rmx_context_destroy(lp.ctx);
	free(buf);
}
END_TEST

START_TEST(keepalive_keeps_idle_pair)
{
	struct lab_pair lp;
	struct timespec t0, t;

	setenv("RMX_KEEPALIVE_MS", "200", 1);
	lab_pair_open(&lp);
	unsetenv("RMX_KEEPALIVE_MS");
	/* Idle for many keepalive periods, but both sides progress. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		ck_assert_int_ge(rmx_wait(lp.ctx, 50), 0);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (t.tv_sec - t0.tv_sec < 2);
	ck_assert_int_eq(rmx_ep_state(lp.client), RMX_EP_CONNECTED);
	ck_assert_int_eq(rmx_ep_state(lp.server), RMX_EP_CONNECTED);
	ck_assert_int_eq(lp.cev.count[RMX_EP_EVENT_CLOSED], 0);
	lab_pair_close(&lp);
}
END_TEST

/*
 * Bulk data keeps the send queues full for many keepalive periods: the
 * probes and their replies must still get through, so the pair lives.
 */
START_TEST(keepalive_survives_bulk)
{
	enum { CHUNK = 4 << 20, NPUT = 16 };
	struct lab_comp puts[NPUT] = { { 0 } }, sent = { 0 }, got = { 0 };
	uint8_t *src = malloc(CHUNK), *dst = malloc((size_t)NPUT * CHUNK);
	uint8_t *rx = malloc(16 << 20), *back = malloc(16 << 20);
	struct lab_pair lp;
	rmx_remote_t remote;
	rmx_mem_t *mem;
	int i;

	ck_assert_ptr_nonnull(src);
	ck_assert_ptr_nonnull(dst);
	ck_assert_ptr_nonnull(rx);
	ck_assert_ptr_nonnull(back);
	setenv("RMX_KEEPALIVE_MS", "300", 1);
	lab_pair_open(&lp);
	unsetenv("RMX_KEEPALIVE_MS");
	lab_fill(src, CHUNK, 77);
	ck_assert_int_eq(rmx_mem_reg(lp.ctx, dst, (size_t)NPUT * CHUNK,
				     RMX_MEM_REMOTE_WRITE, &mem),
			 0);
	ck_assert_int_eq(rmx_mem_remote(mem, &remote), 0);
	/* 64 MiB of writes one way, a 16 MiB rendezvous the other. */
	for (i = 0; i < NPUT; i++)
		ck_assert_int_eq(rmx_put(lp.client, src, CHUNK, &remote,
					 (uint64_t)i * CHUNK, lab_comp_cb,
					 &puts[i]),
				 0);
	lab_fill(rx, 16 << 20, 78);
	ck_assert_int_eq(rmx_recv(lp.client, back, 16 << 20, lab_comp_cb,
				  &got),
			 0);
	ck_assert_int_eq(rmx_send(lp.server, rx, 16 << 20, lab_comp_cb, &sent),
			 0);
	lab_wait_flag(lp.ctx, &puts[NPUT - 1].done, 60000);
	lab_wait_flag(lp.ctx, &got.done, 60000);
	lab_wait_flag(lp.ctx, &sent.done, 60000);
	for (i = 0; i < NPUT; i++)
		ck_assert_int_eq(puts[i].status, 0);
	ck_assert_int_eq(got.status, 0);
	ck_assert_int_eq(sent.status, 0);
	ck_assert_uint_eq(lab_check(back, 16 << 20, 78), 16 << 20);
	for (i = 0; i < NPUT; i++)
		ck_assert_uint_eq(lab_check(dst + (size_t)i * CHUNK, CHUNK, 77),
				  CHUNK);
	ck_assert_int_eq(lp.cev.count[RMX_EP_EVENT_CLOSED], 0);
	ck_assert_int_eq(lp.sev.count[RMX_EP_EVENT_CLOSED], 0);
	ck_assert_int_eq(rmx_ep_state(lp.server), RMX_EP_CONNECTED);
	rmx_mem_dereg(mem);
	lab_pair_close(&lp);
	free(src);
	free(dst);
	free(rx);
	free(back);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("lab_progress");
	TCase *tc = tcase_create("progress");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, fd_wakes_for_messages);
	tcase_add_test(tc, arm_refuses_when_callbacks_due);
	tcase_add_test(tc, fd_wakes_at_connect_deadline);
	tcase_add_test(tc, destroy_runs_only_its_callbacks);
	tcase_add_test(tc, limits_survive_close);
	tcase_add_test(tc, context_destroy_releases_leftovers);
	tcase_add_test(tc, keepalive_keeps_idle_pair);
	tcase_add_test(tc, keepalive_survives_bulk);
	suite_add_tcase(s, tc);
	return s;
}
