// SPDX-License-Identifier: BSD-2-Clause
/* RPC against a real device: every byte checked, deadlines, cancels. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "lab.h"

#define RPC_CHECKED 1	/* verifies the request, answers a pattern */
#define RPC_HOLD 2	/* keeps requests for the test to answer */
#define RPC_FAIL 3	/* answers -EPERM */
#define RPC_NONE 9	/* never registered */

#define MIB (1024 * 1024)

/*
 * Request layout: a request of 8 bytes or more starts with its seed and
 * the response size wanted (host order u32 each); shorter ones ask for
 * 3 * len bytes under seed len. The body after that is lab_fill(seed).
 */
struct want {
	uint32_t seed;
	uint32_t resp_len;
};

static struct want want_of(const uint8_t *req, size_t len)
{
	struct want w = { (uint32_t)len, (uint32_t)len * 3 };

	if (len >= 8) {
		memcpy(&w.seed, req, 4);
		memcpy(&w.resp_len, req + 4, 4);
	}
	return w;
}

static uint32_t resp_seed(uint32_t seed)
{
	return seed ^ 0x5a5a5a5au;
}

static size_t head_of(size_t len)
{
	return len >= 8 ? 8 : 0;
}

static void make_request(uint8_t *req, size_t len, uint32_t seed,
			 uint32_t resp_len)
{
	size_t head = head_of(len);

	if (head) {
		memcpy(req, &seed, 4);
		memcpy(req + 4, &resp_len, 4);
	}
	lab_fill(req + head, len - head, seed);
}

/* What the checked handler saw. */
struct server {
	int requests;
	int bad;		/* requests whose bytes were wrong */
	int responded;		/* respond callbacks */
	int respond_errors;
};

static void free_resp(void *arg, int status, size_t len)
{
	void **ctx = arg;
	struct server *s = ctx[0];

	(void)len;
	s->responded++;
	if (status)
		s->respond_errors++;
	free(ctx[1]);
	free(ctx);
}

static void on_checked(void *arg, rmx_rpc_req_t *req, const void *data,
		       size_t len)
{
	struct server *s = arg;
	struct want w = want_of(data, len);
	size_t head = head_of(len);
	void **ctx = malloc(2 * sizeof(void *));
	uint8_t *resp = malloc(w.resp_len ? w.resp_len : 1);
	int ret;

	s->requests++;
	ck_assert_ptr_nonnull(ctx);
	ck_assert_ptr_nonnull(resp);
	if (lab_check((const uint8_t *)data + head, len - head, w.seed) !=
	    len - head)
		s->bad++;
	lab_fill(resp, w.resp_len, resp_seed(w.seed));
	ctx[0] = s;
	ctx[1] = resp;
	ret = rmx_rpc_respond(req, 0, resp, w.resp_len, free_resp, ctx);
	ck_assert_int_eq(ret, 0);
}

static void on_fail(void *arg, rmx_rpc_req_t *req, const void *data,
		    size_t len)
{
	(void)arg;
	(void)data;
	(void)len;
	ck_assert_int_eq(rmx_rpc_respond(req, -EPERM, NULL, 0, NULL, NULL), 0);
}

/* Keeps requests, with a copy of their data, for the test to answer. */
struct held {
	rmx_rpc_req_t *req[4096];
	uint32_t tag[4096];
	int n;
};

static void on_hold(void *arg, rmx_rpc_req_t *req, const void *data,
		    size_t len)
{
	struct held *h = arg;
	uint32_t tag = 0;

	ck_assert_int_lt(h->n, 4096);
	if (len >= 4)
		memcpy(&tag, data, 4);
	h->tag[h->n] = tag;
	h->req[h->n++] = req;
}

/* One call of the caller's. */
struct call {
	int done;
	int status;
	size_t len;
	uint32_t seed;
	uint32_t resp_len;
	uint8_t *resp_buf;	/* NULL: the library's buffer */
	uint8_t *req_own;	/* a large request's buffer, kept until done */
	int bad;
	int *outstanding;
};

static void on_call(void *arg, int status, const void *resp, size_t len)
{
	struct call *c = arg;

	c->done++;
	c->status = status;
	c->len = len;
	if (c->outstanding)
		(*c->outstanding)--;
	if (status)
		return;
	if (resp == NULL || len != c->resp_len ||
	    (c->resp_buf && resp != c->resp_buf) ||
	    lab_check(resp, len, resp_seed(c->seed)) != len)
		c->bad = 1;
}

static void register_all(rmx_context_t *ctx, struct server *s,
			 struct held *h)
{
	ck_assert_int_eq(rmx_rpc_register(ctx, RPC_CHECKED, on_checked, s), 0);
	ck_assert_int_eq(rmx_rpc_register(ctx, RPC_HOLD, on_hold, h), 0);
	ck_assert_int_eq(rmx_rpc_register(ctx, RPC_FAIL, on_fail, NULL), 0);
}

/* Mostly small, some around the eager limit, a few up to 4 MiB. */
static size_t random_size(unsigned int *rs)
{
	unsigned int r = (unsigned int)rand_r(rs) % 1000;

	if (r < 5)
		return 65536 + (size_t)rand_r(rs) % (4 * MIB - 65536 + 1);
	if (r < 100)
		return (size_t)rand_r(rs) % 65537;
	return (size_t)rand_r(rs) % 4097;
}

#define NCALLS 10000
#define WINDOW 128

START_TEST(ten_thousand_random)
{
	struct call *calls = calloc(NCALLS, sizeof(*calls));
	struct server s = { 0 };
	struct lab_pair lp;
	unsigned int rs = 12345, i, next = 0;
	int outstanding = 0, peak = 0;
	size_t largest_req = 0, largest_resp = 0, max;
	uint8_t *req = malloc(4 * MIB);
	static struct held h;

	ck_assert_ptr_nonnull(calls);
	ck_assert_ptr_nonnull(req);
	lab_pair_open(&lp);
	register_all(lp.ctx, &s, &h);
	ck_assert_int_eq(rmx_ep_max_msg(lp.client, &max), 0);
	while (next < NCALLS || outstanding) {
		while (next < NCALLS && outstanding < WINDOW) {
			struct call *c = &calls[next];
			struct rmx_rpc_params params = { .timeout_ms = 120000 };
			/* The edges first: empty and the largest both ways. */
			size_t len = next == 0 ? 0 :
				     next == 1 ? 4 * MIB :
						 random_size(&rs);

			c->seed = next + 1;
			c->resp_len = next == 0 ? 0 :
				      next == 2 ? 4 * MIB :
						  (uint32_t)random_size(&rs);
			if (len < 8) {
				/* Too short to say: implied by the length. */
				c->seed = (uint32_t)len;
				c->resp_len = (uint32_t)len * 3;
			}
			if (next % 2) {
				/* Half read into the caller's own buffer. */
				c->resp_buf = malloc(c->resp_len + 1);
				ck_assert_ptr_nonnull(c->resp_buf);
				params.resp_buf = c->resp_buf;
				params.resp_cap = c->resp_len;
			}
			c->outstanding = &outstanding;
			make_request(req, len, c->seed, c->resp_len);
			/*
			 * Small requests are copied at once, so req is
			 * reused; a large one is read in place: its own.
			 */
			if (len + 16 > max) {
				c->req_own = malloc(len);
				ck_assert_ptr_nonnull(c->req_own);
				memcpy(c->req_own, req, len);
			}
			ck_assert_int_eq(rmx_rpc_call(lp.client, RPC_CHECKED,
						      c->req_own ? c->req_own :
								   req,
						      len, &params, on_call, c,
						      NULL),
					 0);
			if (len > largest_req)
				largest_req = len;
			if (c->resp_len > largest_resp)
				largest_resp = c->resp_len;
			outstanding++;
			next++;
		}
		if (outstanding > peak)
			peak = outstanding;
		ck_assert_int_ge(rmx_wait(lp.ctx, 1000), 0);
	}
	for (i = 0; i < NCALLS; i++) {
		ck_assert_msg(calls[i].done == 1 && calls[i].status == 0 &&
				      !calls[i].bad,
			      "call %u: done %d status %d bad %d", i,
			      calls[i].done, calls[i].status, calls[i].bad);
		free(calls[i].resp_buf);
		free(calls[i].req_own);
	}
	lab_wait_count(lp.ctx, &s.responded, NCALLS, 30000);
	ck_assert_int_eq(s.requests, NCALLS);
	ck_assert_int_eq(s.bad, 0);
	ck_assert_int_eq(s.respond_errors, 0);
	ck_assert_int_ge(peak, 64);
	ck_assert_uint_eq(largest_req, 4 * MIB);
	ck_assert_uint_eq(largest_resp, 4 * MIB);
	lab_pair_close(&lp);
	free(req);
	free(calls);
}
END_TEST

/* Answers every held request with its tag and 16 bytes, in reverse. */
static void answer_held(struct held *h, int status)
{
	while (h->n) {
		uint32_t tag = h->tag[--h->n];
		uint8_t resp[16];

		lab_fill(resp, sizeof(resp), resp_seed(tag));
		ck_assert_int_eq(rmx_rpc_respond(h->req[h->n], status, resp,
						 sizeof(resp), NULL, NULL),
				 0);
	}
}

#define NASYNC 3000

/* Thousands outstanding on one endpoint, answered later, out of order. */
START_TEST(thousands_answered_later)
{
	struct call *calls = calloc(NASYNC, sizeof(*calls));
	static struct held h;
	struct server s = { 0 };
	struct lab_pair lp;
	uint32_t i;

	ck_assert_ptr_nonnull(calls);
	memset(&h, 0, sizeof(h));
	lab_pair_open(&lp);
	register_all(lp.ctx, &s, &h);
	for (i = 0; i < NASYNC; i++) {
		calls[i].seed = i + 1;
		calls[i].resp_len = 16;
		ck_assert_int_eq(rmx_rpc_call(lp.client, RPC_HOLD,
					      &calls[i].seed, 4, NULL, on_call,
					      &calls[i], NULL),
				 0);
	}
	lab_wait_count(lp.ctx, &h.n, NASYNC, 60000);
	for (i = 0; i < NASYNC; i++)
		ck_assert_int_eq(calls[i].done, 0);
	/* From outside any handler, last first. */
	answer_held(&h, 0);
	for (i = 0; i < NASYNC; i++) {
		lab_wait_flag(lp.ctx, &calls[i].done, 30000);
		ck_assert_int_eq(calls[i].status, 0);
		ck_assert_int_eq(calls[i].bad, 0);
	}
	lab_spin(lp.ctx, 50);
	for (i = 0; i < NASYNC; i++)
		ck_assert_int_eq(calls[i].done, 1);
	lab_pair_close(&lp);
	free(calls);
}
END_TEST

struct responded {
	int done;
	int status;
};

static void on_responded(void *arg, int status, size_t len)
{
	struct responded *r = arg;

	(void)len;
	r->done++;
	r->status = status;
}

/*
 * A deadline passes: -ETIMEDOUT once; the late answers, small and large,
 * are dropped, the large one still handed back to its responder; the
 * endpoint keeps working.
 */
START_TEST(deadline_then_late_responses)
{
	struct rmx_rpc_params params = { .timeout_ms = 300 };
	struct call small = { .seed = 7, .resp_len = 16 };
	struct call large = { .seed = 8, .resp_len = 16 };
	struct call after = { .seed = 9, .resp_len = 100 };
	struct responded r_small = { 0 }, r_large = { 0 };
	uint8_t *big = malloc(2 * MIB), req[8];
	static struct held h;
	struct server s = { 0 };
	struct lab_pair lp;

	ck_assert_ptr_nonnull(big);
	memset(&h, 0, sizeof(h));
	lab_pair_open(&lp);
	register_all(lp.ctx, &s, &h);
	ck_assert_int_eq(rmx_rpc_call(lp.client, RPC_HOLD, &small.seed, 4,
				      &params, on_call, &small, NULL),
			 0);
	ck_assert_int_eq(rmx_rpc_call(lp.client, RPC_HOLD, &large.seed, 4,
				      &params, on_call, &large, NULL),
			 0);
	lab_wait_count(lp.ctx, &h.n, 2, 10000);
	lab_wait_flag(lp.ctx, &small.done, 5000);
	lab_wait_flag(lp.ctx, &large.done, 5000);
	ck_assert_int_eq(small.status, -ETIMEDOUT);
	ck_assert_int_eq(large.status, -ETIMEDOUT);

	lab_fill(big, 2 * MIB, 1);
	ck_assert_int_eq(rmx_rpc_respond(h.req[0], 0, "late", 4, on_responded,
					 &r_small),
			 0);
	ck_assert_int_eq(rmx_rpc_respond(h.req[1], 0, big, 2 * MIB,
					 on_responded, &r_large),
			 0);
	h.n = 0;
	lab_wait_flag(lp.ctx, &r_large.done, 10000);
	lab_wait_flag(lp.ctx, &r_small.done, 10000);
	ck_assert_int_eq(r_small.status, 0);	/* delivered, then dropped */
	ck_assert_int_eq(r_large.status, -ECANCELED);

	make_request(req, sizeof(req), after.seed, after.resp_len);
	ck_assert_int_eq(rmx_rpc_call(lp.client, RPC_CHECKED, req, sizeof(req),
				      &params, on_call, &after, NULL),
			 0);
	lab_wait_flag(lp.ctx, &after.done, 10000);
	ck_assert_int_eq(after.status, 0);
	ck_assert_int_eq(after.bad, 0);
	lab_spin(lp.ctx, 50);
	ck_assert_int_eq(small.done, 1);
	ck_assert_int_eq(large.done, 1);
	ck_assert_int_eq(rmx_ep_state(lp.client), RMX_EP_CONNECTED);
	lab_pair_close(&lp);
	free(big);
}
END_TEST

START_TEST(cancel_exactly_once)
{
	struct call c = { .seed = 3, .resp_len = 16 };
	struct call big_call = { .seed = 4, .resp_len = 16 };
	uint8_t *big = malloc(1 * MIB);
	static struct held h;
	struct server s = { 0 };
	struct lab_pair lp;
	uint64_t id, big_id;

	ck_assert_ptr_nonnull(big);
	memset(&h, 0, sizeof(h));
	lab_pair_open(&lp);
	register_all(lp.ctx, &s, &h);
	ck_assert_int_eq(rmx_rpc_call(lp.client, RPC_HOLD, &c.seed, 4, NULL,
				      on_call, &c, &id),
			 0);
	ck_assert_uint_ne(id, 0);
	lab_wait_count(lp.ctx, &h.n, 1, 10000);
	ck_assert_int_eq(rmx_rpc_cancel(lp.client, id), 0);
	ck_assert_int_eq(rmx_rpc_cancel(lp.client, id), -ENOENT);
	ck_assert_int_eq(c.done, 0);	/* only from progress */
	lab_wait_flag(lp.ctx, &c.done, 5000);
	ck_assert_int_eq(c.status, -ECANCELED);

	/* A large request cancelled at once: its buffer may go right away. */
	memcpy(big, &big_call.seed, 4);
	ck_assert_int_eq(rmx_rpc_call(lp.client, RPC_HOLD, big, 1 * MIB, NULL,
				      on_call, &big_call, &big_id),
			 0);
	ck_assert_uint_gt(big_id, id);
	ck_assert_int_eq(rmx_rpc_cancel(lp.client, big_id), 0);
	free(big);
	lab_wait_flag(lp.ctx, &big_call.done, 5000);
	ck_assert_int_eq(big_call.status, -ECANCELED);

	/* Whatever reached the handler is answered; nothing comes back. */
	lab_spin(lp.ctx, 200);
	answer_held(&h, 0);
	lab_spin(lp.ctx, 200);
	ck_assert_int_eq(c.done, 1);
	ck_assert_int_eq(big_call.done, 1);
	ck_assert_int_eq(rmx_ep_state(lp.client), RMX_EP_CONNECTED);
	lab_pair_close(&lp);
}
END_TEST

/* Errors reach the caller as statuses; nothing is written past a buffer. */
START_TEST(error_statuses)
{
	uint8_t req[8], *big = malloc(1 * MIB), resp[64 + 1];
	struct call nosys = { 0 }, nosys_big = { 0 }, eperm = { 0 };
	struct call small_fit = { .seed = 5, .resp_len = 100 };
	struct call large_fit = { .seed = 6, .resp_len = 512 * 1024 };
	struct rmx_rpc_params params = { .resp_buf = resp, .resp_cap = 64 };
	static struct held h;
	struct server s = { 0 };
	struct lab_pair lp;

	ck_assert_ptr_nonnull(big);
	lab_pair_open(&lp);
	register_all(lp.ctx, &s, &h);
	memset(big, 1, 1 * MIB);
	ck_assert_int_eq(rmx_rpc_call(lp.client, RPC_NONE, NULL, 0, NULL,
				      on_call, &nosys, NULL),
			 0);
	ck_assert_int_eq(rmx_rpc_call(lp.client, RPC_NONE, big, 1 * MIB, NULL,
				      on_call, &nosys_big, NULL),
			 0);
	ck_assert_int_eq(rmx_rpc_call(lp.client, RPC_FAIL, NULL, 0, NULL,
				      on_call, &eperm, NULL),
			 0);
	/* Responses of 100 B and 512 KiB into a 64-byte buffer. */
	memset(resp, 0xee, sizeof(resp));
	make_request(req, sizeof(req), small_fit.seed, small_fit.resp_len);
	ck_assert_int_eq(rmx_rpc_call(lp.client, RPC_CHECKED, req, sizeof(req),
				      &params, on_call, &small_fit, NULL),
			 0);
	make_request(req, sizeof(req), large_fit.seed, large_fit.resp_len);
	ck_assert_int_eq(rmx_rpc_call(lp.client, RPC_CHECKED, req, sizeof(req),
				      &params, on_call, &large_fit, NULL),
			 0);
	lab_wait_flag(lp.ctx, &nosys.done, 10000);
	lab_wait_flag(lp.ctx, &nosys_big.done, 10000);
	lab_wait_flag(lp.ctx, &eperm.done, 10000);
	lab_wait_flag(lp.ctx, &small_fit.done, 10000);
	lab_wait_flag(lp.ctx, &large_fit.done, 10000);
	ck_assert_int_eq(nosys.status, -ENOSYS);
	ck_assert_int_eq(nosys_big.status, -ENOSYS);
	ck_assert_int_eq(eperm.status, -EPERM);
	ck_assert_int_eq(small_fit.status, -EMSGSIZE);
	ck_assert_uint_eq(small_fit.len, 100);
	ck_assert_int_eq(large_fit.status, -EMSGSIZE);
	ck_assert_uint_eq(large_fit.len, 512 * 1024);
	for (size_t i = 0; i < sizeof(resp); i++)
		ck_assert_uint_eq(resp[i], 0xee);
	/* The responder of the large one learns it did not fit. */
	lab_wait_count(lp.ctx, &s.responded, 2, 10000);
	ck_assert_int_eq(s.respond_errors, 1);

	/* Bad arguments: clear errors, no call made. */
	ck_assert_int_eq(rmx_rpc_call(NULL, 1, NULL, 0, NULL, on_call, &nosys,
				      NULL),
			 -EINVAL);
	ck_assert_int_eq(rmx_rpc_call(lp.client, 1, NULL, 0, NULL, NULL, NULL,
				      NULL),
			 -EINVAL);
	ck_assert_int_eq(rmx_rpc_call(lp.client, 1, NULL, 5, NULL, on_call,
				      &nosys, NULL),
			 -EINVAL);
	ck_assert_int_eq(rmx_rpc_cancel(lp.client, 999999), -ENOENT);
	lab_pair_close(&lp);
	free(big);
}
END_TEST

/* Over RMX_RPC_MAX: refused at the call, and by a peer with a lower one. */
START_TEST(rpc_max_enforced)
{
	uint8_t *big = malloc(2 * MIB);
	struct call c = { 0 };
	struct lab_pair lp;

	ck_assert_ptr_nonnull(big);
	setenv("RMX_RPC_MAX", "1M", 1);
	lab_pair_open(&lp);
	unsetenv("RMX_RPC_MAX");
	ck_assert_int_eq(rmx_rpc_call(lp.client, RPC_FAIL, big, 2 * MIB, NULL,
				      on_call, &c, NULL),
			 -EMSGSIZE);
	lab_spin(lp.ctx, 20);
	ck_assert_int_eq(c.done, 0);
	lab_pair_close(&lp);
	free(big);
}
END_TEST

/* The serving side goes away: every pending call ends, with an error. */
START_TEST(peer_closed_fails_calls)
{
	struct call calls[40];
	static struct held h;
	struct server s = { 0 };
	struct lab_pair lp;
	uint8_t *big = malloc(1 * MIB);
	int i, ret;

	ck_assert_ptr_nonnull(big);
	memset(calls, 0, sizeof(calls));
	memset(&h, 0, sizeof(h));
	lab_pair_open(&lp);
	register_all(lp.ctx, &s, &h);
	for (i = 0; i < 40; i++)
		ck_assert_int_eq(rmx_rpc_call(lp.client, RPC_HOLD, big,
					      i % 2 ? 1 * MIB : 64, NULL,
					      on_call, &calls[i], NULL),
				 0);
	lab_wait_count(lp.ctx, &h.n, 40, 20000);
	ck_assert_ptr_eq(rmx_rpc_req_ep(h.req[0]), lp.server);
	rmx_ep_destroy(lp.server);
	lp.server = NULL;
	ck_assert_ptr_null(rmx_rpc_req_ep(h.req[0]));
	for (i = 0; i < 40; i++) {
		lab_wait_flag(lp.ctx, &calls[i].done, 2000);
		ck_assert_int_lt(calls[i].status, 0);
	}
	/* Answering on a gone endpoint fails, and frees the request. */
	while (h.n) {
		ret = rmx_rpc_respond(h.req[--h.n], 0, NULL, 0, NULL, NULL);
		ck_assert_int_lt(ret, 0);
	}
	/*
	 * New calls are refused: -ENOTCONN after the server's clean close,
	 * its error after a reset (its control credit was in use).
	 */
	ret = rmx_ep_error(lp.client);
	ck_assert_int_eq(rmx_rpc_call(lp.client, RPC_HOLD, NULL, 0, NULL,
				      on_call, &calls[0], NULL),
			 ret ? ret : -ENOTCONN);
	lab_pair_close(&lp);
	free(big);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("lab_rpc");
	TCase *tc = tcase_create("rpc");

	tcase_set_timeout(tc, 500);
	tcase_add_test(tc, ten_thousand_random);
	tcase_add_test(tc, thousands_answered_later);
	tcase_add_test(tc, deadline_then_late_responses);
	tcase_add_test(tc, cancel_exactly_once);
	tcase_add_test(tc, error_statuses);
	tcase_add_test(tc, rpc_max_enforced);
	tcase_add_test(tc, peer_closed_fails_calls);
	suite_add_tcase(s, tc);
	return s;
}
