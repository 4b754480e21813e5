// SPDX-License-Identifier: BSD-2-Clause
/*
 * The progress engine over the loop transport: rmx_context_fd(),
 * rmx_arm() and rmx_wait() as rmx_arm(3) and rmx_progress(3) describe
 * them, where callbacks run, and choosing the transport.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "proto_test.h"

#define RPC_HOLD 2

/* Whether fd is readable now. */
static int readable(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 0);
}

START_TEST(transport_chosen_by_name)
{
	char name[80];
	rmx_context_t *ctx = (void *)1;

	pt_setup();
	setenv("RMX_TRANSPORT", "nosuch", 1);
	ck_assert_int_eq(rmx_context_create(&ctx), -EINVAL);
	ck_assert_ptr_null(ctx);
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	setenv("RMX_TRANSPORT", name, 1);
	ck_assert_int_eq(rmx_context_create(&ctx), -ENAMETOOLONG);
	setenv("RMX_TRANSPORT", LOOP_TP_NAME, 1);
	ck_assert_int_eq(rmx_context_create(&ctx), 0);
	ck_assert_int_ge(rmx_context_fd(ctx), 0);
	ck_assert_int_eq(rmx_context_fd(ctx), rmx_context_fd(ctx));
	ck_assert_int_eq(rmx_context_fd(NULL), -EINVAL);
	rmx_context_destroy(ctx);
}
END_TEST

/*
 * A receive matching a message that already waits: its callback is due
 * at once but runs only from rmx_progress(); until then rmx_arm()
 * refuses to arm.
 */
START_TEST(arm_refuses_while_callbacks_due)
{
	struct lab_comp sent = { 0 }, got = { 0 };
	struct pt_pair pp;
	char in[8];

	pt_setup();
	pt_open(&pp, false, NULL);
	ck_assert_int_eq(rmx_send(pp.client, "hello", 6, lab_comp_cb, &sent),
			 0);
	ck_assert_int_eq(sent.done, 0);
	pt_settle(&pp);
	ck_assert_int_eq(sent.done, 1);
	ck_assert_int_eq(rmx_arm(pp.sctx), 0);
	ck_assert_int_eq(rmx_recv(pp.server, in, sizeof(in), lab_comp_cb, &got),
			 0);
	ck_assert_int_eq(got.done, 0);
	ck_assert_int_eq(rmx_arm(pp.sctx), -EAGAIN);
	ck_assert_int_gt(rmx_progress(pp.sctx), 0);
	ck_assert_int_eq(got.done, 1);
	ck_assert_str_eq(in, "hello");
	pt_drain(pp.sctx);
	ck_assert_int_eq(rmx_arm(pp.sctx), 0);
	pt_close(&pp);
}
END_TEST

/* An armed, drained context's descriptor wakes for a completion, once. */
START_TEST(fd_wakes_for_completion)
{
	struct lab_comp got = { 0 };
	struct pt_pair pp;
	int fd;
	char in[8];

	pt_setup();
	pt_open(&pp, true, NULL);
	fd = rmx_context_fd(pp.sctx);
	ck_assert_int_eq(rmx_recv(pp.server, in, sizeof(in), lab_comp_cb, &got),
			 0);
	pt_settle(&pp);
	ck_assert_int_eq(rmx_arm(pp.sctx), 0);
	ck_assert_int_eq(readable(fd), 0);
	ck_assert_int_eq(rmx_send(pp.client, "ping", 5, NULL, NULL), 0);
	/* The client's progress moves the message: the server's fd wakes. */
	pt_drain(pp.cctx);
	ck_assert_int_eq(readable(fd), 1);
	ck_assert_int_eq(got.done, 0);
	pt_drain(pp.sctx);
	ck_assert_int_eq(got.done, 1);
	ck_assert_str_eq(in, "ping");
	/* Drained: armed again, it sleeps. */
	ck_assert_int_eq(rmx_arm(pp.sctx), 0);
	ck_assert_int_eq(readable(fd), 0);
	pt_close(&pp);
}
END_TEST

static void ignore_accept(rmx_listener_t *l, rmx_ep_t *ep, void *arg)
{
	(void)l;
	(void)ep;
	(void)arg;
}

/* A client connecting to a listener whose context never progresses. */
struct stalled {
	rmx_context_t *client, *server;
	rmx_listener_t *l;
	rmx_ep_t *ep;
	struct lab_events ev;
	long start;		/* just before rmx_connect() */
};

static void stalled_open(struct stalled *s, int timeout_ms)
{
	struct rmx_ep_params params = { .event_cb = lab_record_event,
					.arg = &s->ev,
					.timeout_ms = timeout_ms };
	char addr[32];

	memset(s, 0, sizeof(*s));
	pt_setup();
	ck_assert_int_eq(rmx_context_create(&s->server), 0);
	ck_assert_int_eq(rmx_context_create(&s->client), 0);
	ck_assert_int_eq(rmx_listen(s->server, "192.0.2.1:0", ignore_accept,
				    NULL, &s->l), 0);
	snprintf(addr, sizeof(addr), "192.0.2.1:%d", rmx_listener_port(s->l));
	s->start = pt_now_ms();
	ck_assert_int_eq(rmx_connect(s->client, addr, &params, &s->ep), 0);
}

static void stalled_close(struct stalled *s)
{
	rmx_ep_destroy(s->ep);
	rmx_listener_destroy(s->l);
	rmx_context_destroy(s->client);
	rmx_context_destroy(s->server);
}

/*
 * The connect deadline wakes the descriptor by itself: the discipline
 * of rmx_arm(3) needs no timeout of its own.
 */
START_TEST(fd_wakes_at_connect_deadline)
{
	struct pollfd pfd = { .events = POLLIN };
	struct stalled s;

	stalled_open(&s, 40);
	pfd.fd = rmx_context_fd(s.client);
	pt_drain(s.client);
	ck_assert_int_eq(rmx_arm(s.client), 0);
	ck_assert_int_eq(poll(&pfd, 1, 2000), 1);
	ck_assert_int_ge(pt_now_ms() - s.start, 40);
	ck_assert_int_eq(s.ev.count[RMX_EP_EVENT_CLOSED], 0);
	lab_sleep_until(s.client, &s.ev.count[RMX_EP_EVENT_CLOSED], 100);
	ck_assert_int_eq(s.ev.count[RMX_EP_EVENT_CLOSED], 1);
	ck_assert_int_eq(s.ev.status, -ETIMEDOUT);
	stalled_close(&s);
}
END_TEST

static rmx_rpc_req_t *held;

/* So does an RPC call's deadline, rmx(7) says. */
START_TEST(fd_wakes_at_call_deadline)
{
	struct rmx_rpc_params params = { .timeout_ms = 40 };
	struct pollfd pfd = { .events = POLLIN };
	struct pt_call c = { 0 };
	struct pt_pair pp;
	long start;

	pt_setup();
	pt_open(&pp, true, NULL);
	ck_assert_int_eq(rmx_rpc_register(pp.sctx, RPC_HOLD, pt_hold, &held),
			 0);
	start = pt_now_ms();
	ck_assert_int_eq(rmx_rpc_call(pp.client, RPC_HOLD, NULL, 0, &params,
				      pt_call_cb, &c, NULL), 0);
	pt_settle(&pp);
	ck_assert_ptr_nonnull(held);
	pfd.fd = rmx_context_fd(pp.cctx);
	ck_assert_int_eq(rmx_arm(pp.cctx), 0);
	ck_assert_int_eq(poll(&pfd, 1, 2000), 1);
	ck_assert_int_ge(pt_now_ms() - start, 40);
	lab_sleep_until(pp.cctx, &c.done, 100);
	ck_assert_int_eq(c.done, 1);
	ck_assert_int_eq(c.status, -ETIMEDOUT);
	pt_close(&pp);
}
END_TEST

/* rmx_wait(-1) sleeps until the deadline, then returns what it handled. */
START_TEST(wait_sleeps_until_deadline)
{
	struct stalled s;
	int n;

	stalled_open(&s, 30);
	while (!s.ev.count[RMX_EP_EVENT_CLOSED]) {
		n = rmx_wait(s.client, -1);
		ck_assert_int_gt(n, 0);
		ck_assert_int_lt(pt_now_ms() - s.start, 1000);
	}
	ck_assert_int_ge(pt_now_ms() - s.start, 30);
	ck_assert_int_eq(s.ev.status, -ETIMEDOUT);
	stalled_close(&s);
}
END_TEST

START_TEST(wait_times_out)
{
	rmx_context_t *ctx;
	long start;

	pt_setup();
	ck_assert_int_eq(rmx_context_create(&ctx), 0);
	ck_assert_int_eq(rmx_wait(ctx, 0), 0);
	start = pt_now_ms();
	ck_assert_int_eq(rmx_wait(ctx, 30), 0);
	ck_assert_int_ge(pt_now_ms() - start, 30);
	ck_assert_int_eq(rmx_wait(ctx, -2), -EINVAL);
	ck_assert_int_eq(rmx_wait(NULL, 0), -EINVAL);
	rmx_context_destroy(ctx);
}
END_TEST

/* rmx_wait(-1) on one context returns as events are handled. */
START_TEST(wait_returns_on_events)
{
	struct lab_comp sent = { 0 }, got = { 0 };
	struct pt_pair pp;
	char in[16];

	pt_setup();
	pt_open(&pp, false, NULL);
	ck_assert_int_eq(rmx_recv(pp.server, in, sizeof(in), lab_comp_cb, &got),
			 0);
	ck_assert_int_eq(rmx_send(pp.client, "over wait", 10, lab_comp_cb,
				  &sent), 0);
	while (!got.done || !sent.done)
		ck_assert_int_gt(rmx_wait(pp.sctx, -1), 0);
	ck_assert_str_eq(in, "over wait");
	ck_assert_int_eq(got.done + sent.done, 2);
	pt_close(&pp);
}
END_TEST

/* What a callback saw when it called into the progress engine. */
static struct reentry {
	rmx_context_t *ctx;
	int progress, wait, calls;
} reentry;

static void reenter(void *arg, int status, size_t len)
{
	(void)arg;
	(void)status;
	(void)len;
	reentry.calls++;
	reentry.progress = rmx_progress(reentry.ctx);
	reentry.wait = rmx_wait(reentry.ctx, 0);
}

START_TEST(no_progress_from_callbacks)
{
	struct pt_pair pp;
	char in[4];

	pt_setup();
	pt_open(&pp, false, NULL);
	reentry.ctx = pp.cctx;
	ck_assert_int_eq(rmx_recv(pp.server, in, sizeof(in), reenter, NULL), 0);
	ck_assert_int_eq(rmx_send(pp.client, "abc", 4, NULL, NULL), 0);
	pt_wait_count(&pp, &reentry.calls, 1, 2000);
	ck_assert_int_eq(reentry.progress, -EDEADLK);
	ck_assert_int_eq(reentry.wait, -EDEADLK);
	pt_close(&pp);
}
END_TEST

/*
 * rmx_ep_destroy() runs the callbacks of that endpoint's pending
 * operations before it returns, and no others that are due.
 */
START_TEST(destroy_runs_only_its_callbacks)
{
	struct lab_comp mine[2] = { 0 }, other = { 0 }, sent = { 0 };
	struct pt_pair pp;
	char in[3][8];

	pt_setup();
	pt_open(&pp, false, NULL);
	/* The server's receive is matched at once: due, not run. */
	ck_assert_int_eq(rmx_send(pp.client, "due", 4, lab_comp_cb, &sent), 0);
	pt_settle(&pp);
	ck_assert_int_eq(rmx_recv(pp.server, in[0], 8, lab_comp_cb, &other), 0);
	ck_assert_int_eq(rmx_recv(pp.client, in[1], 8, lab_comp_cb, &mine[0]),
			 0);
	ck_assert_int_eq(rmx_recv(pp.client, in[2], 8, lab_comp_cb, &mine[1]),
			 0);
	rmx_ep_destroy(pp.client);
	pp.client = NULL;
	ck_assert_int_eq(mine[0].done + mine[1].done, 2);
	ck_assert_int_eq(mine[0].status, -ECANCELED);
	ck_assert_int_eq(mine[1].status, -ECANCELED);
	ck_assert_int_eq(other.done, 0);
	pt_drain(pp.sctx);
	ck_assert_int_eq(other.done, 1);
	ck_assert_int_eq(other.status, 0);
	ck_assert_int_eq(pp.cev.count[RMX_EP_EVENT_CLOSED], 0);
	pt_close(&pp);
}
END_TEST

/* Destroyed from its own callback: the rest end before progress returns. */
static struct self_destroy {
	rmx_ep_t *ep;
	struct lab_comp rest[3];
	int first;
} sd;

static void destroy_self(void *arg, int status, size_t len)
{
	(void)arg;
	(void)len;
	ck_assert_int_eq(status, 0);
	sd.first++;
	rmx_ep_destroy(sd.ep);
	/* They join the callbacks being run: not yet. */
	ck_assert_int_eq(sd.rest[0].done, 0);
}

START_TEST(destroy_from_callback)
{
	struct pt_pair pp;
	char in[4][8];
	int i;

	pt_setup();
	pt_open(&pp, false, NULL);
	sd.ep = pp.server;
	ck_assert_int_eq(rmx_recv(pp.server, in[0], 8, destroy_self, NULL), 0);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(rmx_recv(pp.server, in[i + 1], 8, lab_comp_cb,
					  &sd.rest[i]), 0);
	ck_assert_int_eq(rmx_send(pp.client, "bye", 4, NULL, NULL), 0);
	while (!sd.first)
		ck_assert_int_ge(rmx_progress(pp.sctx), 0);
	pp.server = NULL;
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(sd.rest[i].done, 1);
		ck_assert_int_eq(sd.rest[i].status, -ECANCELED);
	}
	ck_assert_int_eq(pp.sev.count[RMX_EP_EVENT_CLOSED], 0);
	/* Its BYE went from inside the callback too. */
	pt_wait_count(&pp, &pp.cev.count[RMX_EP_EVENT_CLOSED], 1, 2000);
	ck_assert_int_eq(pp.cev.status, 0);
	pt_close(&pp);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("proto_progress");
	TCase *tc = tcase_create("progress");

	tcase_add_test(tc, transport_chosen_by_name);
	tcase_add_test(tc, arm_refuses_while_callbacks_due);
	tcase_add_test(tc, fd_wakes_for_completion);
	tcase_add_test(tc, fd_wakes_at_connect_deadline);
	tcase_add_test(tc, fd_wakes_at_call_deadline);
	tcase_add_test(tc, wait_sleeps_until_deadline);
	tcase_add_test(tc, wait_times_out);
	tcase_add_test(tc, wait_returns_on_events);
	tcase_add_test(tc, no_progress_from_callbacks);
	tcase_add_test(tc, destroy_runs_only_its_callbacks);
	tcase_add_test(tc, destroy_from_callback);
	suite_add_tcase(s, tc);
	return s;
}
