// SPDX-License-Identifier: BSD-2-Clause
/*
 * RPC over the loop transport: calls and responses eager and by
 * rendezvous with every byte checked, error statuses, deadlines,
 * cancellation at every stage, late and lost responses; each call
 * completes exactly once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "proto/wire.h"
#include "proto_test.h"

#define RPC_ANSWER 1	/* checks the request, answers server.resp_len bytes */
#define RPC_HOLD 2	/* keeps requests for the test to answer */
#define RPC_NONE 9	/* never registered */

#define BIG 100000	/* above the 256-byte eager limit */

static uint32_t resp_seed(size_t len)
{
	return (uint32_t)len ^ 0x5a5au;
}

/* The server side: its handlers record here. */
static struct server {
	int requests;
	int bad;		/* requests whose bytes were wrong */
	rmx_ep_t *req_ep;	/* rmx_rpc_req_ep() in the handler */
	size_t resp_len;
	int status;		/* answered instead of data when nonzero */
	uint8_t *resp;		/* stays valid: rendezvous reads it */
	rmx_rpc_req_t *held[64];
	int nheld;
	struct lab_comp responded[64];
	int nresponded;
} server;

/* Requests carry lab_fill(len) of their length. */
static void on_answer(void *arg, rmx_rpc_req_t *req, const void *data,
		      size_t len)
{
	struct lab_comp *rc = &server.responded[server.nresponded++];

	(void)arg;
	server.requests++;
	server.req_ep = rmx_rpc_req_ep(req);
	if (lab_check(data, len, (uint32_t)len) != len)
		server.bad++;
	ck_assert_int_eq(rmx_rpc_respond(req, server.status, server.resp,
					 server.resp_len, lab_comp_cb, rc), 0);
}

static void on_hold(void *arg, rmx_rpc_req_t *req, const void *data,
		    size_t len)
{
	(void)arg;
	server.requests++;
	if (lab_check(data, len, (uint32_t)len) != len)
		server.bad++;
	ck_assert_int_lt(server.nheld, 64);
	server.held[server.nheld++] = req;
}

/* Answers held request i with the server's response. */
static int answer_held(int i)
{
	return rmx_rpc_respond(server.held[i], server.status, server.resp,
			       server.resp_len, lab_comp_cb,
			       &server.responded[i]);
}

static void open_rpc(struct pt_pair *pp, bool two, const char *const *env,
		     size_t resp_len)
{
	memset(&server, 0, sizeof(server));
	server.resp_len = resp_len;
	server.resp = malloc(resp_len + 1);
	ck_assert_ptr_nonnull(server.resp);
	lab_fill(server.resp, resp_len, resp_seed(resp_len));
	pt_setup();
	pt_open(pp, two, env);
	ck_assert_int_eq(rmx_rpc_register(pp->sctx, RPC_ANSWER, on_answer,
					  NULL), 0);
	ck_assert_int_eq(rmx_rpc_register(pp->sctx, RPC_HOLD, on_hold, NULL),
			 0);
}

static void close_rpc(struct pt_pair *pp)
{
	pt_close(pp);
	free(server.resp);
}

/* A call whose response is checked whole, in the callback. */
struct checked_call {
	int done;
	int status;
	size_t len;
	const void *resp;
	bool resp_ok;
};

static void on_checked(void *arg, int status, const void *resp, size_t len)
{
	struct checked_call *c = arg;

	c->done++;
	c->status = status;
	c->len = len;
	c->resp = resp;
	c->resp_ok = !status && lab_check(resp, len, resp_seed(len)) == len;
}

/* Reads a payload of len bytes takes: none when it goes eagerly. */
static uint64_t reads_for(size_t len)
{
	return len + 16 <= 256 ? 0 : (len + 65535) / 65536;
}

static uint8_t *request(size_t len)
{
	uint8_t *req = malloc(len + 1);

	ck_assert_ptr_nonnull(req);
	lab_fill(req, len, (uint32_t)len);
	return req;
}

/* One call of req_len bytes answered with resp_len, maybe into a buffer. */
static void round_trip(size_t req_len, size_t resp_len, bool resp_buf)
{
	struct rmx_rpc_params params = { 0 };
	struct checked_call c = { 0 };
	uint8_t *req = request(req_len), *buf = NULL;
	struct pt_pair pp;
	uint64_t id = 0;

	open_rpc(&pp, true, NULL, resp_len);
	if (resp_buf) {
		buf = malloc(resp_len + 1);
		params.resp_buf = buf;
		params.resp_cap = resp_len;
	}
	ck_assert_int_eq(rmx_rpc_call(pp.client, RPC_ANSWER, req, req_len,
				      &params, on_checked, &c, &id), 0);
	ck_assert_uint_ne(id, 0);
	if (req_len + 16 <= 256)
		memset(req, 0, req_len);	/* copied at the call */
	pt_wait_count(&pp, &c.done, 1, 5000);
	pt_wait_count(&pp, &server.responded[0].done, 1, 5000);
	pt_settle(&pp);
	ck_assert_int_eq(c.done, 1);
	ck_assert_int_eq(c.status, 0);
	ck_assert_uint_eq(c.len, resp_len);
	ck_assert(c.resp_ok);
	if (resp_buf)
		ck_assert_ptr_eq(c.resp, buf);
	ck_assert_int_eq(server.requests, 1);
	ck_assert_int_eq(server.bad, 0);
	ck_assert_ptr_eq(server.req_ep, pp.server);
	ck_assert_int_eq(server.responded[0].done, 1);
	ck_assert_int_eq(server.responded[0].status, 0);
	ck_assert_uint_eq(server.responded[0].len, resp_len);
	ck_assert_uint_eq(loop_stats.reads,
			  reads_for(req_len) + reads_for(resp_len));
	free(req);
	free(buf);
	close_rpc(&pp);
}

START_TEST(eager_both_ways)
{
	round_trip(40, 100, false);
}
END_TEST

START_TEST(eager_into_resp_buf)
{
	round_trip(0, 240, true);
}
END_TEST

/* 100000 bytes: two reads of 64 KiB for each large payload. */
START_TEST(rendezvous_both_ways)
{
	round_trip(BIG, BIG, false);
}
END_TEST

START_TEST(rendezvous_into_resp_buf)
{
	round_trip(241, BIG, true);
}
END_TEST

/* Larger than resp_cap: -EMSGSIZE with its size, buffer untouched. */
static void resp_too_big(size_t resp_len, int responder_status)
{
	struct rmx_rpc_params params = { .resp_cap = 50 };
	struct pt_call c = { 0 };
	uint8_t buf[51];
	struct pt_pair pp;

	memset(buf, 0xee, sizeof(buf));
	params.resp_buf = buf;
	open_rpc(&pp, true, NULL, resp_len);
	ck_assert_int_eq(rmx_rpc_call(pp.client, RPC_ANSWER, NULL, 0, &params,
				      pt_call_cb, &c, NULL), 0);
	pt_wait_count(&pp, &c.done, 1, 2000);
	pt_wait_count(&pp, &server.responded[0].done, 1, 2000);
	pt_settle(&pp);
	ck_assert_int_eq(c.done, 1);
	ck_assert_int_eq(c.status, -EMSGSIZE);
	ck_assert_uint_eq(c.len, resp_len);
	ck_assert_uint_eq(lab_first_not(buf, sizeof(buf), 0xee), sizeof(buf));
	ck_assert_int_eq(server.responded[0].done, 1);
	ck_assert_int_eq(server.responded[0].status, responder_status);
	ck_assert_int_eq(rmx_ep_state(pp.client), RMX_EP_CONNECTED);
	close_rpc(&pp);
}

/* An eager response was delivered: its responder cannot know it did not fit. */
START_TEST(eager_response_too_big)
{
	resp_too_big(100, 0);
}
END_TEST

START_TEST(rendezvous_response_too_big)
{
	resp_too_big(BIG, -EMSGSIZE);
}
END_TEST

static void expect_status(size_t req_len, uint16_t rpc_id, int status,
			  int want)
{
	uint8_t *req = request(req_len);
	struct pt_call c = { 0 };
	struct pt_pair pp;

	open_rpc(&pp, true, NULL, 10);
	server.status = status;
	ck_assert_int_eq(rmx_rpc_call(pp.client, rpc_id, req, req_len, NULL,
				      pt_call_cb, &c, NULL), 0);
	pt_wait_count(&pp, &c.done, 1, 2000);
	pt_settle(&pp);
	ck_assert_int_eq(c.done, 1);
	ck_assert_int_eq(c.status, want);
	ck_assert_uint_eq(c.len, 0);
	ck_assert_ptr_null(c.resp_ptr);
	ck_assert_int_eq(rmx_ep_state(pp.client), RMX_EP_CONNECTED);
	/* The endpoint still serves calls. */
	server.status = 0;
	ck_assert_int_eq(rmx_rpc_call(pp.client, RPC_ANSWER, NULL, 0, NULL,
				      pt_call_cb, &c, NULL), 0);
	pt_wait_count(&pp, &c.done, 2, 2000);
	ck_assert_int_eq(c.status, 0);
	ck_assert_uint_eq(c.len, 10);
	free(req);
	close_rpc(&pp);
}

START_TEST(no_handler_eager)
{
	expect_status(10, RPC_NONE, 0, -ENOSYS);
}
END_TEST

START_TEST(no_handler_rendezvous)
{
	expect_status(BIG, RPC_NONE, 0, -ENOSYS);
}
END_TEST

START_TEST(handler_status_passed_on)
{
	expect_status(10, RPC_ANSWER, -EPERM, -EPERM);
}
END_TEST

/*
 * A call times out exactly once, not early; the response the handler
 * gives later is dropped (a rendezvous one acknowledged unread, so its
 * responder hears -ECANCELED).
 */
static void deadline(size_t resp_len, int responder_status)
{
	struct rmx_rpc_params params = { .timeout_ms = 40 };
	struct pt_call c = { 0 };
	struct pt_pair pp;
	long start;

	open_rpc(&pp, true, NULL, resp_len);
	start = pt_now_ms();
	ck_assert_int_eq(rmx_rpc_call(pp.client, RPC_HOLD, "x", 1, &params,
				      pt_call_cb, &c, NULL), 0);
	pt_wait_count(&pp, &c.done, 1, 2000);
	ck_assert_int_ge(pt_now_ms() - start, 40);
	ck_assert_int_eq(c.status, -ETIMEDOUT);
	ck_assert_int_eq(server.nheld, 1);
	ck_assert_int_eq(answer_held(0), 0);
	pt_wait_count(&pp, &server.responded[0].done, 1, 2000);
	pt_settle(&pp);
	ck_assert_int_eq(c.done, 1);
	ck_assert_int_eq(server.responded[0].status, responder_status);
	ck_assert_uint_eq(loop_stats.reads, 0);
	ck_assert_int_eq(rmx_ep_state(pp.client), RMX_EP_CONNECTED);
	close_rpc(&pp);
}

START_TEST(deadline_then_late_eager_response)
{
	deadline(100, 0);
}
END_TEST

START_TEST(deadline_then_late_rendezvous_response)
{
	deadline(BIG, -ECANCELED);
}
END_TEST

/* Answered in time: the deadline passing later changes nothing. */
START_TEST(answered_before_deadline)
{
	struct rmx_rpc_params params = { .timeout_ms = 30 };
	struct checked_call c = { 0 };
	struct pt_pair pp;
	uint64_t id;

	open_rpc(&pp, true, NULL, 10);
	ck_assert_int_eq(rmx_rpc_call(pp.client, RPC_ANSWER, NULL, 0, &params,
				      on_checked, &c, &id), 0);
	pt_wait_count(&pp, &c.done, 1, 2000);
	ck_assert_int_eq(c.status, 0);
	ck_assert(c.resp_ok);
	ck_assert_int_eq(rmx_rpc_cancel(pp.client, id), -ENOENT);
	pt_run_pair_for(&pp, 60);
	ck_assert_int_eq(c.done, 1);
	close_rpc(&pp);
}
END_TEST

START_TEST(cancel_exactly_once)
{
	struct pt_call c = { 0 }, other = { 0 };
	struct pt_pair pp;
	uint64_t id, id2;

	open_rpc(&pp, true, NULL, 20);
	ck_assert_int_eq(rmx_rpc_call(pp.client, RPC_HOLD, "a", 1, NULL,
				      pt_call_cb, &c, &id), 0);
	ck_assert_int_eq(rmx_rpc_call(pp.client, RPC_HOLD, "b", 1, NULL,
				      pt_call_cb, &other, &id2), 0);
	ck_assert_uint_ne(id, id2);
	pt_wait_count(&pp, &server.nheld, 2, 2000);
	ck_assert_int_eq(rmx_rpc_cancel(pp.client, id), 0);
	ck_assert_int_eq(c.done, 0);	/* from progress, not the call */
	ck_assert_int_eq(rmx_rpc_cancel(pp.client, id), -ENOENT);
	ck_assert_int_eq(rmx_rpc_cancel(pp.client, id + id2 + 100), -ENOENT);
	pt_wait_count(&pp, &c.done, 1, 2000);
	ck_assert_int_eq(c.status, -ECANCELED);
	/* Answered late: dropped. The other call is not disturbed. */
	ck_assert_int_eq(answer_held(0), 0);
	ck_assert_int_eq(answer_held(1), 0);
	pt_wait_count(&pp, &other.done, 1, 2000);
	pt_settle(&pp);
	ck_assert_int_eq(c.done, 1);
	ck_assert_int_eq(other.status, 0);
	ck_assert_uint_eq(other.len, 20);
	ck_assert_uint_eq(lab_check(other.resp, 20, resp_seed(20)), 20);
	ck_assert_int_eq(rmx_rpc_cancel(pp.client, id2), -ENOENT);
	close_rpc(&pp);
}
END_TEST

/* Sees the large response go by. */
static bool spot_rndv_resp(void *arg, uint8_t *msg, uint32_t *len)
{
	struct rmx__wire_hdr h;

	if (!rmx__wire_parse(msg, *len, 1 << 20, &h) &&
	    h.type == RMX__MSG_RPC_RESP && h.flags & RMX__FLAG_RNDV)
		(*(int *)arg)++;
	return true;
}

/*
 * Cancelled while the response is being read into resp_buf: the
 * callback (-ECANCELED) waits for the read, so the buffer is never
 * written after it ran.
 */
START_TEST(cancel_during_response_read)
{
	struct rmx_rpc_params params = { .resp_cap = BIG };
	struct pt_call c = { 0 };
	struct pt_pair pp;
	int spotted = 0;
	uint64_t id;

	params.resp_buf = malloc(BIG);
	open_rpc(&pp, true, NULL, BIG);
	loop_tamper(pt_conn(pp.server), spot_rndv_resp, &spotted);
	ck_assert_int_eq(rmx_rpc_call(pp.client, RPC_ANSWER, NULL, 0, &params,
				      pt_call_cb, &c, &id), 0);
	/* The server's progress runs the fabric: the client's stays put. */
	while (!spotted)
		ck_assert_int_ge(rmx_progress(pp.sctx), 0);
	/* Delivers the response: its read is posted, not yet done. */
	ck_assert_int_gt(rmx_progress(pp.cctx), 0);
	ck_assert_uint_eq(loop_stats.reads, 0);
	ck_assert_int_eq(c.done, 0);
	ck_assert_int_eq(rmx_rpc_cancel(pp.client, id), 0);
	ck_assert_int_eq(rmx_rpc_cancel(pp.client, id), -ENOENT);
	pt_wait_count(&pp, &c.done, 1, 2000);
	pt_wait_count(&pp, &server.responded[0].done, 1, 2000);
	pt_settle(&pp);
	ck_assert_int_eq(c.done, 1);
	ck_assert_int_eq(c.status, -ECANCELED);
	ck_assert_uint_eq(c.len, 0);
	/* The read finished before the callback: it was not cut short. */
	ck_assert_uint_eq(loop_stats.reads, 2);
	ck_assert_uint_eq(lab_check(params.resp_buf, BIG, resp_seed(BIG)), BIG);
	ck_assert_int_eq(server.responded[0].done, 1);
	close_rpc(&pp);
	free(params.resp_buf);
}
END_TEST

/*
 * More calls than credits, answered in reverse: each response meets its
 * own call.
 */
START_TEST(many_calls_answered_in_reverse)
{
	struct checked_call c[64] = { 0 };
	struct pt_pair pp;
	int i;

	open_rpc(&pp, false, NULL, 0);
	for (i = 0; i < 64; i++)
		ck_assert_int_eq(rmx_rpc_call(pp.client, RPC_HOLD, NULL, 0,
					      NULL, on_checked, &c[i], NULL),
				 0);
	pt_wait_count(&pp, &server.nheld, 64, 2000);
	for (i = 63; i >= 0; i--) {
		free(server.resp);
		/* Response i is i bytes long: it names the call it answers. */
		server.resp_len = (size_t)i;
		server.resp = malloc((size_t)i + 1);
		lab_fill(server.resp, (size_t)i, resp_seed((size_t)i));
		ck_assert_int_eq(answer_held(i), 0);
	}
	pt_wait_count(&pp, &c[0].done, 1, 2000);
	pt_settle(&pp);
	for (i = 0; i < 64; i++) {
		ck_assert_int_eq(c[i].done, 1);
		ck_assert_int_eq(c[i].status, 0);
		ck_assert_uint_eq(c[i].len, (size_t)i);
		ck_assert(c[i].resp_ok);
		ck_assert_int_eq(server.responded[i].done, 1);
	}
	ck_assert_uint_eq(loop_stats.rnr, 0);
	close_rpc(&pp);
}
END_TEST

/* RMX_RPC_MAX of the server (4K) bounds what it accepts and sends. */
START_TEST(rpc_max_enforced)
{
	static const char *const small[] = { "RMX_RPC_MAX=4K", NULL };
	uint8_t *req = request(8000);
	struct pt_call c = { 0 }, d = { 0 };
	struct pt_pair pp;

	open_rpc(&pp, true, small, 8000);
	/* Larger than the peer accepts: refused through the acknowledgement. */
	ck_assert_int_eq(rmx_rpc_call(pp.client, RPC_ANSWER, req, 8000, NULL,
				      pt_call_cb, &c, NULL), 0);
	pt_wait_count(&pp, &c.done, 1, 2000);
	ck_assert_int_eq(c.status, -EMSGSIZE);
	ck_assert_int_eq(server.requests, 0);
	/* Larger than this context sends: refused at once. */
	ck_assert_int_eq(rmx_rpc_call(pp.server, RPC_ANSWER, req, 8000, NULL,
				      pt_call_cb, &d, NULL), -EMSGSIZE);
	/*
	 * A response larger than the server sends: rmx_rpc_respond() fails,
	 * and the caller still hears, exactly once.
	 */
	ck_assert_int_eq(rmx_rpc_call(pp.client, RPC_HOLD, NULL, 0, NULL,
				      pt_call_cb, &d, NULL), 0);
	pt_wait_count(&pp, &server.nheld, 1, 2000);
	ck_assert_int_eq(answer_held(0), -EMSGSIZE);
	pt_wait_count(&pp, &d.done, 1, 2000);
	pt_settle(&pp);
	ck_assert_int_eq(d.done, 1);
	ck_assert_int_eq(d.status, -EMSGSIZE);
	ck_assert_int_eq(c.done, 1);
	ck_assert_int_eq(server.responded[0].done, 0);
	free(req);
	close_rpc(&pp);
}
END_TEST

/*
 * Destroying the caller's endpoint ends its calls with -ECANCELED before
 * rmx_ep_destroy() returns; the handler's side learns the endpoint is
 * gone, closed cleanly, and rmx_rpc_respond() still frees the requests.
 */
START_TEST(destroy_cancels_calls)
{
	struct pt_call c[3] = { 0 };
	struct pt_pair pp;
	int i;

	open_rpc(&pp, true, NULL, BIG);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(rmx_rpc_call(pp.client, RPC_HOLD, NULL, 0,
					      NULL, pt_call_cb, &c[i], NULL),
				 0);
	pt_wait_count(&pp, &server.nheld, 3, 2000);
	rmx_ep_destroy(pp.client);
	pp.client = NULL;
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(c[i].done, 1);
		ck_assert_int_eq(c[i].status, -ECANCELED);
	}
	/* A clean close: the endpoint is no longer connected. */
	pt_wait_count(&pp, &pp.sev.count[RMX_EP_EVENT_CLOSED], 1, 2000);
	ck_assert_int_eq(pp.sev.status, 0);
	ck_assert_ptr_null(rmx_rpc_req_ep(server.held[0]));
	ck_assert_int_eq(answer_held(0), -ENOTCONN);
	ck_assert_int_eq(answer_held(1), -ENOTCONN);
	/* One never answered: the context frees it. */
	pt_settle(&pp);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(c[i].done, 1);
	ck_assert_int_eq(server.responded[0].done + server.responded[1].done,
			 0);
	close_rpc(&pp);
}
END_TEST

static bool drop_all(void *arg, uint8_t *msg, uint32_t *len)
{
	(void)msg;
	(void)len;
	(*(int *)arg)++;
	return false;
}

/* A request the fabric loses: only the deadline ends the call. */
START_TEST(lost_request_times_out)
{
	struct rmx_rpc_params params = { .timeout_ms = 30 };
	struct pt_call c = { 0 };
	struct pt_pair pp;
	int dropped = 0;

	open_rpc(&pp, true, NULL, 10);
	loop_tamper(pt_conn(pp.client), drop_all, &dropped);
	ck_assert_int_eq(rmx_rpc_call(pp.client, RPC_ANSWER, "q", 1, &params,
				      pt_call_cb, &c, NULL), 0);
	pt_wait_count(&pp, &c.done, 1, 2000);
	loop_tamper(pt_conn(pp.client), NULL, NULL);
	pt_settle(&pp);
	ck_assert_int_eq(dropped, 1);
	ck_assert_int_eq(c.done, 1);
	ck_assert_int_eq(c.status, -ETIMEDOUT);
	ck_assert_int_eq(server.requests, 0);
	close_rpc(&pp);
}
END_TEST

/* A call posted while connecting goes once the connection is up. */
START_TEST(call_while_connecting)
{
	struct checked_call c = { 0 };
	struct pt_pair pp;

	memset(&server, 0, sizeof(server));
	server.resp_len = 30;
	server.resp = malloc(31);
	lab_fill(server.resp, 30, resp_seed(30));
	pt_setup();
	pt_start(&pp, true, NULL);
	ck_assert_int_eq(rmx_rpc_register(pp.sctx, RPC_ANSWER, on_answer, NULL),
			 0);
	ck_assert_int_eq(rmx_rpc_call(pp.client, RPC_ANSWER, NULL, 0, NULL,
				      on_checked, &c, NULL), 0);
	pt_wait_count(&pp, &c.done, 1, 2000);
	pt_settle(&pp);
	ck_assert_int_eq(c.done, 1);
	ck_assert_int_eq(c.status, 0);
	ck_assert(c.resp_ok);
	close_rpc(&pp);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("proto_rpc");
	TCase *tc = tcase_create("rpc");

	tcase_add_test(tc, eager_both_ways);
	tcase_add_test(tc, eager_into_resp_buf);
	tcase_add_test(tc, rendezvous_both_ways);
	tcase_add_test(tc, rendezvous_into_resp_buf);
	tcase_add_test(tc, eager_response_too_big);
	tcase_add_test(tc, rendezvous_response_too_big);
	tcase_add_test(tc, no_handler_eager);
	tcase_add_test(tc, no_handler_rendezvous);
	tcase_add_test(tc, handler_status_passed_on);
	tcase_add_test(tc, deadline_then_late_eager_response);
	tcase_add_test(tc, deadline_then_late_rendezvous_response);
	tcase_add_test(tc, answered_before_deadline);
	tcase_add_test(tc, cancel_exactly_once);
	tcase_add_test(tc, cancel_during_response_read);
	tcase_add_test(tc, many_calls_answered_in_reverse);
	tcase_add_test(tc, rpc_max_enforced);
	tcase_add_test(tc, destroy_cancels_calls);
	tcase_add_test(tc, lost_request_times_out);
	tcase_add_test(tc, call_while_connecting);
	suite_add_tcase(s, tc);
	return s;
}
