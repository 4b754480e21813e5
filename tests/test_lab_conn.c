// SPDX-License-Identifier: BSD-2-Clause
/* Connection setup and teardown against a real device. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "lab.h"

START_TEST(connect_accept)
{
	struct lab_pair lp;

	lab_pair_open(&lp);
	ck_assert_int_eq(lp.accepts, 1);
	ck_assert_int_eq(lp.cev.count[RMX_EP_EVENT_CONNECTED], 1);
	ck_assert_int_eq(rmx_ep_state(lp.server), RMX_EP_CONNECTED);
	ck_assert_int_eq(rmx_ep_error(lp.client), 0);
	lab_pair_close(&lp);
}
END_TEST

START_TEST(peer_disconnect_seen)
{
	struct lab_comp c = { 0 };
	struct lab_pair lp;
	char buf[8];

	lab_pair_open(&lp);
	/* A receive waiting on the server must end when the peer leaves. */
	ck_assert_int_eq(rmx_recv(lp.server, buf, sizeof(buf), lab_comp_cb, &c),
			 0);
	rmx_ep_destroy(lp.client);
	lp.client = NULL;
	/* It left cleanly: status 0, no error, the receive reset. */
	lab_wait_flag(lp.ctx, &lp.sev.count[RMX_EP_EVENT_CLOSED], 5000);
	ck_assert_int_eq(lp.sev.status, 0);
	ck_assert_int_eq(rmx_ep_state(lp.server), RMX_EP_CLOSED);
	ck_assert_int_eq(rmx_ep_error(lp.server), 0);
	ck_assert_int_eq(c.done, 1);
	ck_assert_int_eq(c.status, -ECONNRESET);
	/* New work on a closed endpoint is refused. */
	ck_assert_int_eq(rmx_send(lp.server, buf, 1, NULL, NULL), -ENOTCONN);
	ck_assert_int_eq(lp.sev.count[RMX_EP_EVENT_CLOSED], 1);
	lab_pair_close(&lp);
}
END_TEST

/*
 * More send queues than one CQ of the device holds: with RMX_TX_DEPTH
 * 1024 rxe's largest CQ (32767 entries, 4096 of them the shared receive
 * queue's) takes 27 queue pairs, so 48 endpoints each way need four
 * CQs. Every endpoint then carries a message each way, data checked:
 * completions of every CQ arrive, and each names its endpoint.
 */
#define MANY_EPS 48

struct many {
	rmx_ep_t *srv[MANY_EPS];
	int nsrv, connected, got;
};

static void many_accept(rmx_listener_t *l, rmx_ep_t *ep, void *arg)
{
	struct many *m = arg;

	(void)l;
	if (m->nsrv < MANY_EPS)
		m->srv[m->nsrv++] = ep;
}

static void many_event(rmx_ep_t *ep, enum rmx_ep_event ev, int status,
		       void *arg)
{
	(void)ep;
	(void)status;
	if (ev == RMX_EP_EVENT_CONNECTED)
		((struct many *)arg)->connected++;
}

static void many_comp(void *arg, int status, size_t len)
{
	struct many *m = arg;

	if (!status && len == 8)
		m->got++;
}

START_TEST(endpoints_beyond_one_cq)
{
	static struct many m;
	static uint64_t out[2][MANY_EPS], in[2][MANY_EPS];
	struct rmx_ep_params params = { .event_cb = many_event, .arg = &m };
	rmx_ep_t *cli[MANY_EPS];
	int seen[MANY_EPS];
	rmx_listener_t *l;
	rmx_context_t *ctx;
	char addr[80];
	int i;

	setenv("RMX_TX_DEPTH", "1024", 1);
	ck_assert_int_eq(rmx_context_create(&ctx), 0);
	unsetenv("RMX_TX_DEPTH");
	snprintf(addr, sizeof(addr), "%s:0", lab_addr());
	ck_assert_int_eq(rmx_listen(ctx, addr, many_accept, &m, &l), 0);
	snprintf(addr, sizeof(addr), "%s:%d", lab_addr(),
		 rmx_listener_port(l));
	for (i = 0; i < MANY_EPS; i++)
		ck_assert_int_eq(rmx_connect(ctx, addr, &params, &cli[i]), 0);
	lab_wait_count(ctx, &m.connected, MANY_EPS, 60000);
	lab_wait_count(ctx, &m.nsrv, MANY_EPS, 10000);
	for (i = 0; i < MANY_EPS; i++) {
		out[0][i] = 0x1000u + (uint64_t)i;
		out[1][i] = 0x2000u + (uint64_t)i;
		in[0][i] = in[1][i] = 0;
		ck_assert_int_eq(rmx_recv(m.srv[i], &in[0][i], 8, many_comp,
					  &m), 0);
		ck_assert_int_eq(rmx_recv(cli[i], &in[1][i], 8, many_comp, &m),
				 0);
	}
	for (i = 0; i < MANY_EPS; i++) {
		ck_assert_int_eq(rmx_send(cli[i], &out[0][i], 8, NULL, NULL),
				 0);
		ck_assert_int_eq(rmx_send(m.srv[i], &out[1][i], 8, NULL, NULL),
				 0);
	}
	lab_wait_count(ctx, &m.got, 2 * MANY_EPS, 30000);
	/*
	 * Accepted in whatever order: server endpoint k got client j's
	 * number, once for each j, and client j got k's, so each message
	 * went the way of its own connection.
	 */
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < MANY_EPS; i++) {
		uint64_t j = in[0][i] - 0x1000u;

		ck_assert_uint_lt(j, MANY_EPS);
		seen[j]++;
		ck_assert_uint_eq(in[1][j], 0x2000u + (uint64_t)i);
	}
	for (i = 0; i < MANY_EPS; i++)
		ck_assert_int_eq(seen[i], 1);
	for (i = 0; i < MANY_EPS; i++) {
		rmx_ep_destroy(cli[i]);
		rmx_ep_destroy(m.srv[i]);
	}
	rmx_listener_destroy(l);
	rmx_context_destroy(ctx);
}
END_TEST

struct conn_result {
	int connected, closed, status;
};

static void record_event(rmx_ep_t *ep, enum rmx_ep_event ev, int status,
			 void *arg)
{
	struct conn_result *r = arg;

	(void)ep;
	if (ev == RMX_EP_EVENT_CONNECTED)
		r->connected++;
	if (ev == RMX_EP_EVENT_CLOSED) {
		r->closed++;
		r->status = status;
	}
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 +
	       (t.tv_nsec - t0->tv_nsec) / 1000000;
}

START_TEST(connect_refused)
{
	struct conn_result r = { 0 };
	struct rmx_ep_params params = { .event_cb = record_event, .arg = &r };
	rmx_context_t *ctx;
	rmx_ep_t *ep;
	char addr[80];

	ck_assert_int_eq(rmx_context_create(&ctx), 0);
	/* Port 1 has no listener: the peer's CM rejects the request. */
	snprintf(addr, sizeof(addr), "%s:1", lab_addr());
	ck_assert_int_eq(rmx_connect(ctx, addr, &params, &ep), 0);
	ck_assert_int_eq(rmx_ep_state(ep), RMX_EP_CONNECTING);
	lab_wait_flag(ctx, &r.closed, 10000);
	ck_assert_int_eq(r.connected, 0);
	ck_assert_int_eq(r.status, -ECONNREFUSED);
	ck_assert_int_eq(rmx_ep_error(ep), -ECONNREFUSED);
	rmx_ep_destroy(ep);
	rmx_context_destroy(ctx);
}
END_TEST

START_TEST(connect_timeout_bounded)
{
	struct conn_result r = { 0 };
	struct rmx_ep_params params = { .event_cb = record_event, .arg = &r,
					.timeout_ms = 800 };
	struct timespec t0;
	rmx_context_t *ctx;
	rmx_ep_t *ep;
	long ms;

	ck_assert_int_eq(rmx_context_create(&ctx), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* No host answers at .99 of the lab subnet. */
	ck_assert_int_eq(rmx_connect(ctx, "192.0.2.99:7471", &params, &ep), 0);
	lab_wait_flag(ctx, &r.closed, 5000);
	ms = elapsed_ms(&t0);
	ck_assert_int_eq(r.connected, 0);
	ck_assert_msg(r.status == -ETIMEDOUT || r.status == -EHOSTUNREACH,
		      "status %d (%s)", r.status, rmx_strerror(r.status));
	ck_assert_msg(ms < 800 + 1000, "took %ld ms for an 800 ms timeout", ms);
	rmx_ep_destroy(ep);
	rmx_context_destroy(ctx);
}
END_TEST

START_TEST(work_before_connected)
{
	struct lab_comp sent = { 0 }, got = { 0 };
	struct lab_pair lp;
	char msg[] = "posted while connecting", buf[64];
	char addr[80];
	rmx_ep_t *ep;

	lab_pair_open(&lp);
	snprintf(addr, sizeof(addr), "%s:%d", lab_addr(),
		 rmx_listener_port(lp.listener));
	ck_assert_int_eq(rmx_connect(lp.ctx, addr, NULL, &ep), 0);
	/* Queued until the connection is up, then sent in order. */
	ck_assert_int_eq(rmx_send(ep, msg, sizeof(msg), lab_comp_cb, &sent), 0);
	lab_wait_flag(lp.ctx, &sent.done, 10000);
	ck_assert_int_eq(sent.status, 0);
	/*
	 * The message may land, and its send complete, before the passive
	 * side has handled its ESTABLISHED event: the accept comes by.
	 */
	lab_wait_count(lp.ctx, &lp.accepts, 2, 5000);
	ck_assert_int_eq(rmx_recv(lp.server, buf, sizeof(buf), lab_comp_cb, &got),
			 0);
	lab_wait_flag(lp.ctx, &got.done, 5000);
	ck_assert_int_eq(got.status, 0);
	ck_assert_uint_eq(got.len, sizeof(msg));
	ck_assert_str_eq(buf, msg);
	rmx_ep_destroy(ep);
	lab_pair_close(&lp);
}
END_TEST

START_TEST(destroy_cancels_pending)
{
	struct lab_comp r1 = { 0 }, r2 = { 0 };
	struct lab_pair lp;
	char b1[16], b2[16];

	lab_pair_open(&lp);
	ck_assert_int_eq(rmx_recv(lp.client, b1, sizeof(b1), lab_comp_cb, &r1),
			 0);
	ck_assert_int_eq(rmx_recv(lp.client, b2, sizeof(b2), lab_comp_cb, &r2),
			 0);
	rmx_ep_destroy(lp.client);
	lp.client = NULL;
	/* The callbacks ran before destroy returned. */
	ck_assert_int_eq(r1.done, 1);
	ck_assert_int_eq(r1.status, -ECANCELED);
	ck_assert_int_eq(r2.done, 1);
	ck_assert_int_eq(r2.status, -ECANCELED);
	lab_pair_close(&lp);
}
END_TEST

START_TEST(two_contexts)
{
	/* Client and server in separate contexts, as in two processes. */
	struct conn_result r = { 0 };
	struct rmx_ep_params params = { .event_cb = record_event, .arg = &r };
	struct lab_pair srv;
	rmx_context_t *ctx;
	rmx_ep_t *ep;
	char addr[80];
	int i;

	lab_pair_open(&srv);
	ck_assert_int_eq(rmx_context_create(&ctx), 0);
	snprintf(addr, sizeof(addr), "%s:%d", lab_addr(),
		 rmx_listener_port(srv.listener));
	ck_assert_int_eq(rmx_connect(ctx, addr, &params, &ep), 0);
	for (i = 0; i < 2000 && (!r.connected || srv.accepts < 2); i++) {
		ck_assert_int_ge(rmx_wait(ctx, 5), 0);
		ck_assert_int_ge(rmx_wait(srv.ctx, 5), 0);
	}
	ck_assert_int_eq(r.connected, 1);
	ck_assert_int_eq(srv.accepts, 2);
	rmx_ep_destroy(ep);
	rmx_context_destroy(ctx);
	lab_pair_close(&srv);
}
END_TEST

/* Both ends' addresses as the device bound them, and the device's name. */
START_TEST(addresses)
{
	const char *dev = getenv("RMX_DEVICE");
	char want[80], local[RMX_ADDR_STRLEN];
	struct lab_pair lp;

	lab_pair_open(&lp);
	snprintf(want, sizeof(want), "%s:%d", lab_addr(),
		 rmx_listener_port(lp.listener));
	lab_check_addrs(lp.client, lp.server, want, local);
	ck_assert_str_eq(rmx_context_device(lp.ctx), dev && *dev ? dev : "rxe0");
	lab_pair_close(&lp);
}
END_TEST

/* src_addr with a port: the connection comes from exactly there. */
START_TEST(source_address)
{
	struct conn_result r = { 0 };
	struct rmx_ep_params params = { .event_cb = record_event, .arg = &r };
	char src[80], addr[80], got[RMX_ADDR_STRLEN];
	struct lab_pair lp;
	rmx_ep_t *ep;

	lab_pair_open(&lp);
	snprintf(addr, sizeof(addr), "%s:%d", lab_addr(),
		 rmx_listener_port(lp.listener));
	snprintf(src, sizeof(src), "%s:%d", lab_addr(),
		 40000 + (int)(getpid() % 5000));
	params.src_addr = src;
	ck_assert_int_eq(rmx_connect(lp.ctx, addr, &params, &ep), 0);
	lab_wait_flag(lp.ctx, &r.connected, 10000);
	lab_wait_count(lp.ctx, &lp.accepts, 2, 5000);
	ck_assert_int_eq(rmx_ep_local_addr(ep, got, sizeof(got)), 0);
	ck_assert_str_eq(got, src);
	ck_assert_int_eq(rmx_ep_peer_addr(lp.server, got, sizeof(got)), 0);
	ck_assert_str_eq(got, src);
	rmx_ep_destroy(ep);
	lab_pair_close(&lp);
}
END_TEST

/* How a connection ended: from rmx_connect() itself, or its event. */
static int connect_status(rmx_context_t *ctx, const char *addr,
			  const char *src)
{
	struct conn_result r = { 0 };
	struct rmx_ep_params params = { .event_cb = record_event, .arg = &r,
					.src_addr = src, .timeout_ms = 3000 };
	rmx_ep_t *ep;
	int ret = rmx_connect(ctx, addr, &params, &ep);

	if (ret)
		return ret;
	lab_wait_flag(ctx, &r.closed, 10000);
	ck_assert_int_eq(r.connected, 0);
	rmx_ep_destroy(ep);
	return r.status;
}

/* Addresses with no RDMA device behind them: -ENODEV, either end. */
START_TEST(not_rdma_address)
{
	rmx_context_t *ctx;
	char addr[80];

	ck_assert_int_eq(rmx_context_create(&ctx), 0);
	ck_assert_int_eq(connect_status(ctx, "127.0.0.1:7471", NULL), -ENODEV);
	snprintf(addr, sizeof(addr), "%s:7471", lab_addr());
	ck_assert_int_eq(connect_status(ctx, addr, "127.0.0.1"), -ENODEV);
	rmx_context_destroy(ctx);
}
END_TEST

static void on_accept_keep(rmx_listener_t *l, rmx_ep_t *ep, void *arg)
{
	(void)l;
	*(rmx_ep_t **)arg = ep;
}

/*
 * In a process of its own (lab_drop_ipc_lock()): with RLIMIT_MEMLOCK
 * lowered under what is pinned, a listener whose context has no message
 * buffers yet cannot register them and refuses: -ECONNABORTED, not
 * -ECONNREFUSED. A context that has its buffers takes more endpoints
 * without registering more, as long as its spare lasts.
 */
START_TEST(refused_for_resources)
{
	struct rlimit rl = { 256 << 20, 256 << 20 };
	struct conn_result r = { 0 }, r2 = { 0 };
	struct rmx_ep_params params = { .event_cb = record_event, .arg = &r };
	rmx_ep_t *ep, *ep2, *acc = NULL;
	rmx_context_t *ctx, *sctx;
	rmx_listener_t *l;
	char addr[80];
	int i;

	lab_drop_ipc_lock();
	ck_assert_int_eq(setrlimit(RLIMIT_MEMLOCK, &rl), 0);
	ck_assert_int_eq(rmx_context_create(&ctx), 0);
	ck_assert_int_eq(rmx_context_create(&sctx), 0);
	snprintf(addr, sizeof(addr), "%s:0", lab_addr());
	ck_assert_int_eq(rmx_listen(sctx, addr, on_accept_keep, &acc, &l), 0);
	snprintf(addr, sizeof(addr), "%s:%d", lab_addr(),
		 rmx_listener_port(l));
	/* The client's buffers are registered here, the listener's later. */
	ck_assert_int_eq(rmx_connect(ctx, addr, &params, &ep), 0);
	rl.rlim_cur = 0;
	ck_assert_int_eq(setrlimit(RLIMIT_MEMLOCK, &rl), 0);
	/* Its context's spare covers a second endpoint: nothing to pin. */
	params.arg = &r2;
	ck_assert_int_eq(rmx_connect(ctx, addr, &params, &ep2), 0);
	for (i = 0; i < 10000 && (!r.closed || !r2.closed); i++) {
		lab_spin(sctx, 1);
		lab_spin(ctx, 1);
	}
	ck_assert_int_eq(r.connected, 0);
	ck_assert_int_eq(r.status, -ECONNABORTED);
	ck_assert_int_eq(r2.status, -ECONNABORTED);
	ck_assert_ptr_null(acc);
	rmx_ep_destroy(ep);
	rmx_ep_destroy(ep2);
	rmx_listener_destroy(l);
	rmx_context_destroy(ctx);
	rmx_context_destroy(sctx);
}
END_TEST

static bool env_flag(const char *name)
{
	const char *e = getenv(name);

	return e && !strcmp(e, "1");
}

Suite *test_suite(void)
{
	Suite *s = suite_create("lab_conn");
	TCase *tc = tcase_create("conn");

	tcase_set_timeout(tc, 60);
	if (env_flag("RMX_TEST_MEMLOCK")) {
		tcase_add_test(tc, refused_for_resources);
		suite_add_tcase(s, tc);
		return s;
	}
	tcase_add_test(tc, addresses);
	tcase_add_test(tc, source_address);
	tcase_add_test(tc, not_rdma_address);
	tcase_add_test(tc, connect_accept);
	tcase_add_test(tc, endpoints_beyond_one_cq);
	tcase_add_test(tc, peer_disconnect_seen);
	tcase_add_test(tc, connect_refused);
	tcase_add_test(tc, connect_timeout_bounded);
	tcase_add_test(tc, work_before_connected);
	tcase_add_test(tc, destroy_cancels_pending);
	tcase_add_test(tc, two_contexts);
	suite_add_tcase(s, tc);
	return s;
}
