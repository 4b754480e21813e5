// SPDX-License-Identifier: BSD-2-Clause
/*
 * Closing over the loop transport: a peer's rmx_ep_destroy() reaches the
 * other side as a clean close (status 0, no error), a peer that goes
 * without a BYE as an error, and the peer's pending operations end
 * exactly once either way. The BYE is held back where it cannot go
 * safely, and a connection waiting for it lingers only so long.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/context.h"
#include "check_main.h"
#include "proto/proto.h"
#include "proto_test.h"

#define RPC_HOLD 2

static void expect_clean(struct pt_pair *pp)
{
	pt_wait_count(pp, &pp->sev.count[RMX_EP_EVENT_CLOSED], 1, 2000);
	ck_assert_int_eq(pp->sev.status, 0);
	ck_assert_int_eq(rmx_ep_state(pp->server), RMX_EP_CLOSED);
	ck_assert_int_eq(rmx_ep_error(pp->server), 0);
}

static void expect_reset(struct pt_pair *pp)
{
	pt_wait_count(pp, &pp->sev.count[RMX_EP_EVENT_CLOSED], 1, 2000);
	ck_assert_int_eq(pp->sev.status, -ECONNRESET);
	ck_assert_int_eq(rmx_ep_error(pp->server), -ECONNRESET);
}

static void check_comp(const struct lab_comp *c, int status)
{
	ck_assert_int_eq(c->done, 1);
	ck_assert_int_eq(c->status, status);
}

/*
 * The client destroys its endpoint: the server's endpoint closes with
 * status 0 and error 0 after the messages sent before; what it had
 * pending ends once, with -ECONNRESET; new work gets -ENOTCONN.
 */
START_TEST(destroy_is_clean_close)
{
	struct lab_comp recv[4] = { 0 }, big = { 0 }, sent = { 0 };
	rmx_rpc_req_t *held = NULL;
	struct pt_call call = { 0 };
	uint8_t *buf = calloc(1, 5000);
	struct pt_pair pp;
	char in[4][64];
	int i;

	pt_setup();
	pt_open(&pp, true, NULL);
	ck_assert_int_eq(rmx_rpc_register(pp.cctx, RPC_HOLD, pt_hold, &held),
			 0);
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(rmx_recv(pp.server, in[i], 64, lab_comp_cb,
					  &recv[i]), 0);
	ck_assert_int_eq(rmx_rpc_call(pp.server, RPC_HOLD, NULL, 0, NULL,
				      pt_call_cb, &call, NULL), 0);
	/* Offered by rendezvous; the client never takes it. */
	ck_assert_int_eq(rmx_send(pp.server, buf, 5000, lab_comp_cb, &big), 0);
	pt_settle(&pp);
	ck_assert_ptr_nonnull(held);
	ck_assert_int_eq(rmx_send(pp.client, "one", 4, NULL, NULL), 0);
	ck_assert_int_eq(rmx_send(pp.client, "two", 4, lab_comp_cb, &sent),
			 0);
	rmx_ep_destroy(pp.client);
	pp.client = NULL;
	check_comp(&sent, -ECANCELED);
	expect_clean(&pp);
	for (i = 0; i < 2; i++) {
		check_comp(&recv[i], 0);
		ck_assert_uint_eq(recv[i].len, 4);
	}
	ck_assert_str_eq(in[0], "one");
	ck_assert_str_eq(in[1], "two");
	check_comp(&recv[2], -ECONNRESET);
	check_comp(&recv[3], -ECONNRESET);
	ck_assert_int_eq(call.done, 1);
	ck_assert_int_eq(call.status, -ECONNRESET);
	check_comp(&big, -ECONNRESET);
	ck_assert_int_eq(rmx_send(pp.server, "x", 1, NULL, NULL), -ENOTCONN);
	ck_assert_int_eq(rmx_recv(pp.server, in[0], 64, lab_comp_cb, &recv[0]),
			 -ENOTCONN);
	ck_assert_int_eq(rmx_rpc_call(pp.server, RPC_HOLD, NULL, 0, NULL,
				      pt_call_cb, &call, NULL), -ENOTCONN);
	/* Exactly once: nothing more, not even from rmx_ep_destroy(). */
	pt_settle(&pp);
	rmx_ep_destroy(pp.server);
	pp.server = NULL;
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(recv[i].done, 1);
	ck_assert_int_eq(call.done + big.done + sent.done, 3);
	ck_assert_int_eq(pp.sev.count[RMX_EP_EVENT_CLOSED], 1);
	ck_assert_int_eq(pp.cev.count[RMX_EP_EVENT_CLOSED], 0);
	pt_close(&pp);
	free(buf);
}
END_TEST

/* Messages that waited for a receive when the BYE came are still taken. */
START_TEST(arrivals_outlive_clean_close)
{
	struct lab_comp recv[3] = { 0 }, more = { 0 };
	struct pt_pair pp;
	char in[3][64], msg[8];
	int i;

	pt_setup();
	pt_open(&pp, true, NULL);
	for (i = 0; i < 3; i++) {
		snprintf(msg, sizeof(msg), "m%d", i);
		ck_assert_int_eq(rmx_send(pp.client, msg, 3, NULL, NULL), 0);
	}
	rmx_ep_destroy(pp.client);
	pp.client = NULL;
	expect_clean(&pp);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(rmx_recv(pp.server, in[i], 64, lab_comp_cb,
					  &recv[i]), 0);
	ck_assert_int_eq(rmx_recv(pp.server, in[0], 64, lab_comp_cb, &more),
			 -ENOTCONN);
	pt_settle(&pp);
	for (i = 0; i < 3; i++) {
		snprintf(msg, sizeof(msg), "m%d", i);
		check_comp(&recv[i], 0);
		ck_assert_str_eq(in[i], msg);
	}
	ck_assert_int_eq(more.done, 0);
	pt_close(&pp);
}
END_TEST

/* A peer that goes without a BYE (its process exits) is an error. */
START_TEST(exit_without_bye_is_error)
{
	struct lab_comp recv = { 0 };
	struct pt_pair pp;
	char in[8];

	pt_setup();
	pt_open(&pp, true, NULL);
	ck_assert_int_eq(rmx_recv(pp.server, in, 8, lab_comp_cb, &recv), 0);
	loop_kill(pt_conn(pp.server), LOOP_PEER_EXITS);
	expect_reset(&pp);
	check_comp(&recv, -ECONNRESET);
	pt_close(&pp);
}
END_TEST

/*
 * The client spent the credit kept back for control messages on a
 * credit message, so its BYE has no receive to go to: it disconnects
 * at once and the server sees an error close, with no receiver-not-ready
 * error on the way (the guard's point: without it, loop_stats.rnr grows).
 */
START_TEST(no_credit_no_bye)
{
	struct lab_comp got[2] = { 0 };
	struct pt_pair pp;
	char in[2][8];
	uint64_t rnr;
	int i;

	pt_setup();
	pt_open(&pp, true, NULL);
	pt_settle(&pp);
	rnr = loop_stats.rnr;
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(rmx_recv(pp.client, in[i], 8, lab_comp_cb,
					  &got[i]), 0);
		ck_assert_int_eq(rmx_send(pp.server, "s", 2, NULL, NULL), 0);
	}
	/* The server is still: its credits come back to no one. */
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(rmx_send(pp.client, "c", 2, NULL, NULL), 0);
	pt_drain(pp.cctx);
	check_comp(&got[1], 0);
	ck_assert_uint_eq(((struct rmx_ep *)pp.client)->tx_credits, 0);
	rmx_ep_destroy(pp.client);
	pp.client = NULL;
	expect_reset(&pp);
	ck_assert_uint_eq(loop_stats.rnr, rnr);
	pt_close(&pp);
}
END_TEST

/*
 * A one-sided read in flight keeps the BYE back too: it would write into
 * a buffer rmx_ep_destroy() gave back. The server sees an error close
 * and the buffer stays as it was (without the guard the read lands).
 */
START_TEST(read_in_flight_no_bye)
{
	enum { LEN = 4096 };
	uint8_t *mem = malloc(LEN), *dst = malloc(LEN);
	struct lab_comp get = { 0 };
	struct pt_pair pp;
	rmx_mem_t *mr;
	rmx_remote_t r;

	pt_setup();
	pt_open(&pp, true, NULL);
	memset(mem, 0x55, LEN);
	memset(dst, 0xaa, LEN);
	ck_assert_int_eq(rmx_mem_reg(pp.sctx, mem, LEN, RMX_MEM_REMOTE_READ,
				     &mr), 0);
	ck_assert_int_eq(rmx_mem_remote(mr, &r), 0);
	ck_assert_int_eq(rmx_get(pp.client, dst, LEN, &r, 0, lab_comp_cb, &get),
			 0);
	rmx_ep_destroy(pp.client);
	pp.client = NULL;
	check_comp(&get, -ECANCELED);
	expect_reset(&pp);
	pt_settle(&pp);
	ck_assert_uint_eq(lab_first_not(dst, LEN, 0xaa), LEN);
	ck_assert_int_eq(rmx_mem_dereg(mr), 0);
	pt_close(&pp);
	free(mem);
	free(dst);
}
END_TEST

/*
 * Destroying the endpoint and at once its context still says goodbye:
 * rmx_context_destroy() lets the BYE go first (without that wait the
 * server sees a reset).
 */
START_TEST(context_destroy_sends_bye)
{
	struct pt_pair pp;

	pt_setup();
	pt_open(&pp, true, NULL);
	rmx_ep_destroy(pp.client);
	rmx_context_destroy(pp.cctx);
	pp.client = NULL;
	pp.cctx = pp.sctx;
	expect_clean(&pp);
	pt_close(&pp);
}
END_TEST

static bool lingering(rmx_context_t *ctx)
{
	return !rmx__list_empty(&ctx->proto.lingering);
}

/*
 * Opens a pair and destroys the client, its BYE unheard: the server is
 * gone (vanished) as the client sees it, or the client as the server
 * sees it, so that what the client posts never executes.
 */
static void destroy_unheard(struct pt_pair *pp, bool server_gone)
{
	pt_open(pp, true, NULL);
	loop_kill(pt_conn(server_gone ? pp->client : pp->server),
		  LOOP_PEER_VANISHES);
	rmx_ep_destroy(pp->client);
	pp->client = NULL;
	ck_assert(lingering(pp->cctx));
}

/* Progresses ctx until its connections stop lingering; the time it took. */
static long linger_ms(rmx_context_t *ctx)
{
	long start = pt_now_ms();

	while (lingering(ctx) && pt_now_ms() - start < 3000)
		pt_run_for(ctx, 20);
	return pt_now_ms() - start;
}

/*
 * A BYE that never completes (the peer's host is gone, the fabric still
 * retrying) holds the connection RMX__LINGER_MS at most, from progress
 * or from rmx_context_destroy(); one that fails, no longer.
 */
START_TEST(linger_is_bounded)
{
	struct pt_pair pp;
	long took;

	pt_setup();
	destroy_unheard(&pp, false);
	took = linger_ms(pp.cctx);
	ck_assert_msg(took >= RMX__LINGER_MS - 50 && took < RMX__LINGER_MS + 500,
		      "lingered %ld ms", took);
	pt_close(&pp);
	destroy_unheard(&pp, false);
	took = pt_now_ms();
	rmx_context_destroy(pp.cctx);
	took = pt_now_ms() - took;
	ck_assert_msg(took >= RMX__LINGER_MS - 50 && took < RMX__LINGER_MS + 500,
		      "context destroy took %ld ms", took);
	pp.cctx = pp.sctx;
	pt_close(&pp);
	/* Retries ran out: the BYE failed, the connection goes at once. */
	destroy_unheard(&pp, true);
	took = linger_ms(pp.cctx);
	ck_assert_msg(took < RMX__LINGER_MS / 2, "lingered %ld ms", took);
	pt_close(&pp);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("proto_close");
	TCase *tc = tcase_create("close");

	tcase_add_test(tc, destroy_is_clean_close);
	tcase_add_test(tc, arrivals_outlive_clean_close);
	tcase_add_test(tc, exit_without_bye_is_error);
	tcase_add_test(tc, no_credit_no_bye);
	tcase_add_test(tc, read_in_flight_no_bye);
	tcase_add_test(tc, context_destroy_sends_bye);
	tcase_add_test(tc, linger_is_bounded);
	suite_add_tcase(s, tc);
	return s;
}
