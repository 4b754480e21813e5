// SPDX-License-Identifier: BSD-2-Clause
/*
 * Receives whose buffer cannot be registered: a read-only mapping (the
 * device refuses it) and, in a process of its own (RMX_TEST_MEMLOCK=1),
 * a buffer beyond RLIMIT_MEMLOCK. Rendezvous receives, active-message
 * reads and RPC responses read by rendezvous must each end once with an
 * error, the sender's side too, and the endpoint must keep working. An
 * eager message needs no registration (it is copied), so it still lands.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "check_main.h"
#include "lab.h"

#define RPC_SEND 7	/* answers the u32 byte count the request asks for */
#define MIB (1024 * 1024)

/* Whatever can't be registered: read-only, or past the memlock limit. */
struct target {
	size_t len;		/* also the message size */
	int prot;
	int want;		/* the receive's error */
	size_t ok_len;		/* a rendezvous size that must still work */
};

struct rig {
	struct lab_pair lp;
	uint8_t *src;		/* the sender's pattern, target->len bytes */
	uint8_t *good;		/* a registrable receive buffer */
	uint8_t *bad;		/* the target */
	struct target t;
};

static void responder(void *arg, rmx_rpc_req_t *req, const void *data,
		      size_t len)
{
	struct rig *r = arg;
	uint32_t n;

	ck_assert_uint_eq(len, sizeof(n));
	memcpy(&n, data, sizeof(n));
	ck_assert_int_eq(rmx_rpc_respond(req, 0, r->src, n, NULL, NULL), 0);
}

static void rig_open(struct rig *r, const struct target *t)
{
	memset(r, 0, sizeof(*r));
	r->t = *t;
	lab_pair_open(&r->lp);
	r->src = lab_map(NULL, t->len, PROT_READ | PROT_WRITE);
	r->good = lab_map(NULL, t->ok_len, PROT_READ | PROT_WRITE);
	r->bad = lab_map(NULL, t->len, t->prot);
	lab_fill(r->src, t->len, 21);
	ck_assert_int_eq(rmx_rpc_register(r->lp.ctx, RPC_SEND, responder, r),
			 0);
}

static void rig_close(struct rig *r)
{
	lab_pair_close(&r->lp);
	munmap(r->src, r->t.len);
	munmap(r->good, r->t.ok_len);
	munmap(r->bad, r->t.len);
}

/* After a failure the same endpoint still carries a checked message. */
static void still_works(struct rig *r)
{
	struct lab_comp s = { 0 }, rv = { 0 };

	memset(r->good, 0, r->t.ok_len);
	ck_assert_int_eq(rmx_recv(r->lp.server, r->good, r->t.ok_len,
				  lab_comp_cb, &rv),
			 0);
	ck_assert_int_eq(rmx_send(r->lp.client, r->src, r->t.ok_len,
				  lab_comp_cb, &s),
			 0);
	lab_wait_flag(r->lp.ctx, &rv.done, 30000);
	lab_wait_flag(r->lp.ctx, &s.done, 30000);
	ck_assert_int_eq(s.status, 0);
	ck_assert_int_eq(rv.status, 0);
	ck_assert_uint_eq(lab_check(r->good, r->t.ok_len, 21), r->t.ok_len);
	ck_assert_int_eq(rmx_ep_state(r->lp.client), RMX_EP_CONNECTED);
	ck_assert_int_eq(rmx_ep_state(r->lp.server), RMX_EP_CONNECTED);
}

/* The receive ends once, with the error; so does the send. */
static void rendezvous_receive(struct rig *r)
{
	struct lab_comp s = { 0 }, rv = { 0 };

	ck_assert_int_eq(rmx_recv(r->lp.server, r->bad, r->t.len, lab_comp_cb,
				  &rv),
			 0);
	ck_assert_int_eq(rmx_send(r->lp.client, r->src, r->t.len, lab_comp_cb,
				  &s),
			 0);
	lab_wait_flag(r->lp.ctx, &rv.done, 20000);
	lab_wait_flag(r->lp.ctx, &s.done, 20000);
	ck_assert_int_eq(rv.status, r->t.want);
	ck_assert_int_lt(s.status, 0);
	lab_spin(r->lp.ctx, 50);
	ck_assert_int_eq(rv.done, 1);
	ck_assert_int_eq(s.done, 1);
	still_works(r);
}

struct am_take {
	struct rig *r;
	int seen, ret;
	struct lab_comp read;
};

static void take_into_bad(void *arg, rmx_am_t *msg, const void *data,
			  size_t len)
{
	struct am_take *a = arg;

	a->seen++;
	ck_assert_ptr_null(data);
	ck_assert_uint_eq(len, a->r->t.len);
	a->ret = rmx_am_recv(msg, a->r->bad, len, lab_comp_cb, &a->read);
}

static void am_receive(struct rig *r)
{
	struct am_take a = { .r = r };
	struct lab_comp s = { 0 };

	ck_assert_int_eq(rmx_ep_set_am_cb(r->lp.server, take_into_bad, &a), 0);
	ck_assert_int_eq(rmx_send(r->lp.client, r->src, r->t.len, lab_comp_cb,
				  &s),
			 0);
	lab_wait_flag(r->lp.ctx, &a.read.done, 20000);
	lab_wait_flag(r->lp.ctx, &s.done, 20000);
	ck_assert_int_eq(a.seen, 1);
	ck_assert_int_eq(a.ret, 0);
	ck_assert_int_eq(a.read.status, r->t.want);
	ck_assert_int_lt(s.status, 0);
	lab_spin(r->lp.ctx, 50);
	ck_assert_int_eq(a.read.done, 1);
	ck_assert_int_eq(s.done, 1);
	ck_assert_int_eq(rmx_ep_set_am_cb(r->lp.server, NULL, NULL), 0);
	still_works(r);
}

struct rpc_result {
	int done, status;
	size_t len;
};

static void on_rpc(void *arg, int status, const void *resp, size_t len)
{
	struct rpc_result *res = arg;

	(void)resp;
	res->done++;
	res->status = status;
	res->len = len;
}

static void rpc_response(struct rig *r)
{
	struct rmx_rpc_params prm = { .timeout_ms = 0, .resp_buf = r->bad,
				      .resp_cap = r->t.len };
	struct rpc_result bad = { 0 }, good = { 0 };
	uint32_t n = (uint32_t)r->t.len;

	ck_assert_int_eq(rmx_rpc_call(r->lp.client, RPC_SEND, &n, sizeof(n),
				      &prm, on_rpc, &bad, NULL),
			 0);
	lab_wait_flag(r->lp.ctx, &bad.done, 20000);
	ck_assert_int_eq(bad.status, r->t.want);
	/* Then a call into a good buffer, every byte checked. */
	n = (uint32_t)r->t.ok_len;
	prm.resp_buf = r->good;
	prm.resp_cap = r->t.ok_len;
	memset(r->good, 0, r->t.ok_len);
	ck_assert_int_eq(rmx_rpc_call(r->lp.client, RPC_SEND, &n, sizeof(n),
				      &prm, on_rpc, &good, NULL),
			 0);
	lab_wait_flag(r->lp.ctx, &good.done, 20000);
	ck_assert_int_eq(good.status, 0);
	ck_assert_uint_eq(good.len, r->t.ok_len);
	ck_assert_uint_eq(lab_check(r->good, r->t.ok_len, 21), r->t.ok_len);
	ck_assert_int_eq(bad.done, 1);
	still_works(r);
}

static const struct target read_only = { 1 * MIB, PROT_READ, -EFAULT,
					 1 * MIB };

START_TEST(read_only_rendezvous_receive)
{
	struct rig r;

	rig_open(&r, &read_only);
	rendezvous_receive(&r);
	rig_close(&r);
}
END_TEST

START_TEST(read_only_am_receive)
{
	struct rig r;

	rig_open(&r, &read_only);
	am_receive(&r);
	rig_close(&r);
}
END_TEST

START_TEST(read_only_rpc_response)
{
	struct rig r;

	rig_open(&r, &read_only);
	rpc_response(&r);
	rig_close(&r);
}
END_TEST

/*
 * In a process of its own: verbs state opened before the capability drop
 * would be refused afterwards. Under a 32 MiB limit the endpoints' own
 * buffers and the sender's 20 MiB fit, a second 20 MiB does not.
 */
START_TEST(over_memlock_every_receive)
{
	static const struct target big = { 20 * MIB, PROT_READ | PROT_WRITE,
					   -ENOMEM, 1 * MIB };
	struct rlimit rl = { 32 * MIB, 32 * MIB };
	struct lab_comp s = { 0 }, rv = { 0 };
	struct rig r;

	lab_drop_ipc_lock();
	ck_assert_int_eq(setrlimit(RLIMIT_MEMLOCK, &rl), 0);
	/* Let the device, not the cache's own limit, say no. */
	setenv("RMX_RCACHE_MAX_BYTES", "1G", 1);
	rig_open(&r, &big);
	/* Eager: copied, nothing registered; it lands. */
	ck_assert_int_eq(rmx_recv(r.lp.server, r.bad, r.t.len, lab_comp_cb,
				  &rv),
			 0);
	ck_assert_int_eq(rmx_send(r.lp.client, r.src, 100, lab_comp_cb, &s), 0);
	lab_wait_flag(r.lp.ctx, &rv.done, 20000);
	lab_wait_flag(r.lp.ctx, &s.done, 20000);
	ck_assert_int_eq(rv.status, 0);
	ck_assert_uint_eq(rv.len, 100);
	ck_assert_uint_eq(lab_check(r.bad, 100, 21), 100);
	rendezvous_receive(&r);
	am_receive(&r);
	rpc_response(&r);
	rig_close(&r);
}
END_TEST

static bool env_flag(const char *name)
{
	const char *e = getenv(name);

	return e && *e == '1';
}

Suite *test_suite(void)
{
	Suite *s = suite_create("lab_regfail");
	TCase *tc = tcase_create("regfail");

	tcase_set_timeout(tc, 120);
	if (env_flag("RMX_TEST_MEMLOCK")) {
		tcase_add_test(tc, over_memlock_every_receive);
	} else {
		tcase_add_test(tc, read_only_rendezvous_receive);
		tcase_add_test(tc, read_only_am_receive);
		tcase_add_test(tc, read_only_rpc_response);
	}
	suite_add_tcase(s, tc);
	return s;
}
