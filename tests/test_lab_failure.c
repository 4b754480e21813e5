// SPDX-License-Identifier: BSD-2-Clause
/*
 * Failure handling against a real peer process: this executable re-runs
 * itself as an echo server (RMX_TEST_ROLE=echo), so the server has verbs
 * state of its own, and the test kills it mid-stream, or stops it. A
 * vanished node, which sends no disconnect, is played in-process.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "lab.h"
#include "api/context.h"
#include "transport/verbs/verbs.h"

/* rmx(7)'s promise: a killed or vanished peer is reported within this. */
#define DEATH_REPORTED_MS 2000

#define MSG 256
#define SLOTS 32

struct echo {
	rmx_ep_t *ep;
	uint8_t buf[SLOTS][MSG];
};

static void echo_recv(void *arg, int status, size_t len);

static void post_slot(struct echo *e, int i)
{
	rmx_recv(e->ep, e->buf[i], MSG, echo_recv, &e->buf[i]);
}

static struct echo echo_state;

/*
 * An eager send copies its buffer when it goes to the device, which can
 * be after the call (no credit yet): the slot is reused only then.
 */
static void echo_sent(void *arg, int status, size_t len)
{
	uint8_t (*slot)[MSG] = arg;

	(void)len;
	if (status)
		exit(0);
	post_slot(&echo_state, (int)(slot - echo_state.buf));
}

static void echo_recv(void *arg, int status, size_t len)
{
	uint8_t (*slot)[MSG] = arg;

	if (status)
		exit(0);
	rmx_send(echo_state.ep, *slot, len, echo_sent, slot);
}

static void echo_accept(rmx_listener_t *l, rmx_ep_t *ep, void *arg)
{
	int i;

	(void)l;
	(void)arg;
	echo_state.ep = ep;
	for (i = 0; i < SLOTS; i++)
		post_slot(&echo_state, i);
}

static void free_copy(void *arg, int status, size_t len)
{
	(void)status;
	(void)len;
	free(arg);
}

/* RPC 1 echoes its request; a large echo is read from a copy of it. */
static void echo_rpc(void *arg, rmx_rpc_req_t *req, const void *data,
		     size_t len)
{
	void *copy = malloc(len ? len : 1);

	(void)arg;
	if (!copy) {
		rmx_rpc_respond(req, -ENOMEM, NULL, 0, NULL, NULL);
		return;
	}
	memcpy(copy, data, len);
	rmx_rpc_respond(req, 0, copy, len, free_copy, copy);
}

/* The child's whole life: serve one client until killed. */
static void echo_server(const char *port)
{
	rmx_context_t *ctx;
	rmx_listener_t *l;
	char addr[80];

	snprintf(addr, sizeof(addr), "%s:%s", lab_addr(), port);
	if (rmx_context_create(&ctx) ||
	    rmx_rpc_register(ctx, 1, echo_rpc, NULL) ||
	    rmx_listen(ctx, addr, echo_accept, NULL, &l))
		exit(3);
	for (;;)
		if (rmx_wait(ctx, 1000) < 0)
			exit(4);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static pid_t start_server(int port)
{
	char ps[16];
	pid_t pid;

	snprintf(ps, sizeof(ps), "%d", port);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		setenv("RMX_TEST_ROLE", "echo", 1);
		setenv("RMX_TEST_PORT", ps, 1);
		execl("/proc/self/exe", "echo-server", (char *)NULL);
		_exit(127);
	}
	return pid;
}

struct client {
	rmx_context_t *ctx;
	rmx_ep_t *ep;
	struct lab_events ev;
};

/* Connects, retrying while the server process starts up. */
static void client_connect(struct client *c, int port)
{
	struct rmx_ep_params params = { .event_cb = lab_record_event,
					.arg = &c->ev };
	long end = now_ms() + 20000;
	char addr[80];

	snprintf(addr, sizeof(addr), "%s:%d", lab_addr(), port);
	ck_assert_int_eq(rmx_context_create(&c->ctx), 0);
	for (;;) {
		memset(&c->ev, 0, sizeof(c->ev));
		ck_assert_int_eq(rmx_connect(c->ctx, addr, &params, &c->ep), 0);
		while (!c->ev.count[RMX_EP_EVENT_CONNECTED] &&
		       !c->ev.count[RMX_EP_EVENT_CLOSED])
			ck_assert_int_ge(rmx_wait(c->ctx, 100), 0);
		if (c->ev.count[RMX_EP_EVENT_CONNECTED])
			return;
		rmx_ep_destroy(c->ep);
		ck_assert_msg(now_ms() < end, "echo server never came up");
		usleep(100000);
	}
}

/* An RPC in flight when the peer dies: it must end exactly once. */
struct rpc_probe {
	int done;
	int status;
	size_t len;
	size_t sent;
	uint8_t fill;
	int bad;
};

static void probe_done(void *arg, int status, const void *resp, size_t len)
{
	struct rpc_probe *r = arg;
	size_t i;

	r->done++;
	r->status = status;
	r->len = len;
	if (status)
		return;
	if (len != r->sent)
		r->bad = 1;
	for (i = 0; i < len && !r->bad; i++)
		if (((const uint8_t *)resp)[i] != r->fill)
			r->bad = 1;
}

START_TEST(peer_killed_mid_stream)
{
	enum { NRPC = 64, BIG = 200000 };
	static struct rpc_probe rpc[NRPC];
	static uint8_t rpc_src[NRPC][BIG];
	enum { N = 400 };
	int port = 20000 + getpid() % 20000, i, st;
	struct lab_comp *sent = calloc(N, sizeof(*sent));
	struct lab_comp *back = calloc(N, sizeof(*back));
	uint8_t (*bufs)[MSG] = calloc(N, MSG);
	pid_t pid = start_server(port);
	struct client c;
	long killed;

	client_connect(&c, port);
	/* A live stream first: the first half comes back. */
	for (i = 0; i < N; i++) {
		memset(bufs[i], i & 0xff, MSG);
		ck_assert_int_eq(rmx_recv(c.ep, bufs[i], MSG, lab_comp_cb,
					  &back[i]),
				 0);
	}
	for (i = 0; i < N / 2; i++)
		ck_assert_int_eq(rmx_send(c.ep, bufs[i], MSG, lab_comp_cb,
					  &sent[i]),
				 0);
	lab_wait_flag(c.ctx, &back[N / 2 - 1].done, 20000);
	for (i = 0; i < N / 2; i++) {
		ck_assert_int_eq(back[i].status, 0);
		ck_assert_uint_eq(bufs[i][MSG - 1], i & 0xff);
	}
	/* Then more in flight, calls too, and the server dies. */
	for (i = N / 2; i < N; i++)
		ck_assert_int_eq(rmx_send(c.ep, bufs[i], MSG, lab_comp_cb,
					  &sent[i]),
				 0);
	for (i = 0; i < NRPC; i++) {
		rpc[i].sent = i % 2 ? BIG : 64;
		rpc[i].fill = (uint8_t)(i + 1);
		memset(rpc_src[i], rpc[i].fill, rpc[i].sent);
		ck_assert_int_eq(rmx_rpc_call(c.ep, 1, rpc_src[i], rpc[i].sent,
					      NULL, probe_done, &rpc[i], NULL),
				 0);
	}
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	killed = now_ms();
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	lab_wait_flag(c.ctx, &c.ev.count[RMX_EP_EVENT_CLOSED], 20000);
	killed = now_ms() - killed;
	fprintf(stderr, "peer death noticed after %ld ms (busy connection)\n",
		killed);
	ck_assert_msg(killed < DEATH_REPORTED_MS, "death noticed after %ld ms",
		      killed);
	ck_assert_int_lt(c.ev.status, 0);
	/* Every operation has ended: done, or failed with the reason. */
	for (i = 0; i < N; i++) {
		ck_assert_msg(back[i].done == 1, "receive %d never ended", i);
		ck_assert_msg(sent[i].done == 1 || i < N / 2,
			      "send %d never ended", i);
		if (i >= N / 2 && back[i].status == 0)
			ck_assert_uint_eq(bufs[i][MSG - 1], i & 0xff);
	}
	ck_assert_int_lt(back[N - 1].status, 0);
	for (i = 0; i < NRPC; i++) {
		ck_assert_msg(rpc[i].done == 1, "call %d ended %d times", i,
			      rpc[i].done);
		ck_assert_msg(rpc[i].status < 0 || !rpc[i].bad,
			      "call %d came back wrong", i);
	}
	/* New work is refused with the reason; the context lives on. */
	ck_assert_int_eq(rmx_send(c.ep, bufs[0], 1, NULL, NULL), c.ev.status);
	rmx_ep_destroy(c.ep);
	rmx_context_destroy(c.ctx);
	free(sent);
	free(back);
	free(bufs);
}
END_TEST

/* One message there and back on c's endpoint. */
static void echo_once(struct client *c)
{
	struct lab_comp sent = { 0 }, back = { 0 };
	uint8_t b[MSG] = "are you there";

	ck_assert_int_eq(rmx_recv(c->ep, b, MSG, lab_comp_cb, &back), 0);
	ck_assert_int_eq(rmx_send(c->ep, b, MSG, lab_comp_cb, &sent), 0);
	lab_wait_flag(c->ctx, &back.done, 20000);
	ck_assert_int_eq(back.status, 0);
}

/* Progresses every client until each endpoint closed; how long it took. */
static long wait_all_closed(struct client *c, int n, int ms)
{
	long start = now_ms(), end = start + ms;
	int i, open;

	do {
		open = 0;
		for (i = 0; i < n; i++) {
			if (c[i].ev.count[RMX_EP_EVENT_CLOSED])
				continue;
			open++;
			if (rmx_wait(c[i].ctx, 5) < 0)
				ck_abort_msg("rmx_wait failed");
		}
	} while (open && now_ms() < end);
	if (open)
		ck_abort_msg("%d endpoints still open after %d ms", open, ms);
	return now_ms() - start;
}

/*
 * With default settings a stopped process is not a dead one: its device
 * answers keepalive's probes, so its peers keep their endpoints for all
 * the 20 s it computes (or is stopped), and it finds them working when it
 * resumes. Killed then, it is reported to every peer within 2 s.
 */
START_TEST(stopped_peer_stays_connected)
{
	enum { NCLIENT = 2, STOP_MS = 20000 };
	int port = 20000 + (getpid() + 7) % 20000, st, i;
	struct client c[NCLIENT];
	long waited;
	pid_t pid;

	pid = start_server(port);
	for (i = 0; i < NCLIENT; i++)
		client_connect(&c[i], port);
	/* The echo server serves the latest connection. */
	echo_once(&c[NCLIENT - 1]);
	ck_assert_int_eq(kill(pid, SIGSTOP), 0);
	waited = now_ms();
	while (now_ms() - waited < STOP_MS) {
		for (i = 0; i < NCLIENT; i++)
			if (rmx_wait(c[i].ctx, 50) < 0)
				ck_abort_msg("rmx_wait failed");
		for (i = 0; i < NCLIENT; i++)
			if (c[i].ev.count[RMX_EP_EVENT_CLOSED])
				ck_abort_msg("endpoint %d closed (%s) after %ld ms stopped",
					     i, rmx_strerror(c[i].ev.status),
					     now_ms() - waited);
	}
	ck_assert_int_eq(kill(pid, SIGCONT), 0);
	echo_once(&c[NCLIENT - 1]);
	for (i = 0; i < NCLIENT; i++)
		ck_assert_int_eq(rmx_ep_state(c[i].ep), RMX_EP_CONNECTED);
	/* Idle connections: keepalive or the disconnect reports the death. */
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	waited = wait_all_closed(c, NCLIENT, 20000);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	fprintf(stderr, "peer death noticed by %d idle endpoints after %ld ms\n",
		NCLIENT, waited);
	ck_assert_msg(waited < DEATH_REPORTED_MS, "death noticed after %ld ms",
		      waited);
	for (i = 0; i < NCLIENT; i++) {
		ck_assert_int_lt(c[i].ev.status, 0);
		rmx_ep_destroy(c[i].ep);
		rmx_context_destroy(c[i].ctx);
	}
}
END_TEST

/*
 * The application-level check, asked for with RMX_PEER_TIMEOUT_MS: a
 * stopped peer answers no ping, and its endpoint closes with -ETIMEDOUT
 * after the timeout, not before.
 */
START_TEST(stopped_peer_times_out_when_asked)
{
	int port = 20000 + (getpid() + 13) % 20000, st;
	pid_t pid;
	struct client c;
	long stopped, waited;

	pid = start_server(port);
	setenv("RMX_PEER_TIMEOUT_MS", "1000", 1);
	client_connect(&c, port);
	unsetenv("RMX_PEER_TIMEOUT_MS");
	echo_once(&c);
	/* Alive in the kernel, silent in rmx: the device still acks. */
	ck_assert_int_eq(kill(pid, SIGSTOP), 0);
	stopped = now_ms();
	lab_wait_flag(c.ctx, &c.ev.count[RMX_EP_EVENT_CLOSED], 20000);
	waited = now_ms() - stopped;
	fprintf(stderr, "silent peer closed after %ld ms (RMX_PEER_TIMEOUT_MS 1000)\n",
		waited);
	ck_assert_int_eq(c.ev.status, -ETIMEDOUT);
	ck_assert_int_ge(waited, 900);
	ck_assert_int_lt(waited, 5000);
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	rmx_ep_destroy(c.ep);
	rmx_context_destroy(c.ctx);
}
END_TEST

static void keep_accepted(rmx_listener_t *l, rmx_ep_t *ep, void *arg)
{
	(void)l;
	*(rmx_ep_t **)arg = ep;
}

/*
 * A node that vanishes sends no disconnect: only the transport's retries
 * of keepalive's probe find it. Played by putting the peer's queue pair
 * in error behind its context's back (its requests are then dropped, as
 * a dead node's would be), in a context that never runs again.
 */
START_TEST(vanished_peer_found_by_probe)
{
	static const char *const ka_ms = "100";
	struct lab_pair lp;
	rmx_context_t *sctx;
	struct ibv_qp_attr attr = { .qp_state = IBV_QPS_ERR };
	struct verbs_conn *vc;
	struct rmx_ep_params params;
	char addr[80];
	long start, waited;

	/* The server's context neither probes nor answers: it is "gone". */
	setenv("RMX_KEEPALIVE_MS", "0", 1);
	ck_assert_int_eq(rmx_context_create(&sctx), 0);
	setenv("RMX_KEEPALIVE_MS", ka_ms, 1);
	memset(&lp, 0, sizeof(lp));
	ck_assert_int_eq(rmx_context_create(&lp.ctx), 0);
	unsetenv("RMX_KEEPALIVE_MS");
	snprintf(addr, sizeof(addr), "%s:0", lab_addr());
	ck_assert_int_eq(rmx_listen(sctx, addr, keep_accepted, &lp.server,
				    &lp.listener), 0);
	snprintf(addr, sizeof(addr), "%s:%d", lab_addr(),
		 rmx_listener_port(lp.listener));
	params = (struct rmx_ep_params){ .event_cb = lab_record_event,
					 .arg = &lp.cev };
	ck_assert_int_eq(rmx_connect(lp.ctx, addr, &params, &lp.client), 0);
	start = now_ms() + 10000;
	while ((!lp.cev.count[RMX_EP_EVENT_CONNECTED] || !lp.server) &&
	       now_ms() < start) {
		rmx_progress(sctx);
		rmx_progress(lp.ctx);
	}
	ck_assert_int_eq(lp.cev.count[RMX_EP_EVENT_CONNECTED], 1);
	ck_assert_ptr_nonnull(lp.server);
	/* Probes pass while it is there. */
	lab_spin(lp.ctx, 500);
	ck_assert_int_eq(rmx_ep_state(lp.client), RMX_EP_CONNECTED);
	vc = (struct verbs_conn *)lp.server->conn;
	ck_assert_int_eq(ibv_modify_qp(vc->id->qp, &attr, IBV_QP_STATE), 0);
	start = now_ms();
	lab_wait_flag(lp.ctx, &lp.cev.count[RMX_EP_EVENT_CLOSED], 20000);
	waited = now_ms() - start;
	fprintf(stderr, "vanished peer found after %ld ms (keepalive %s ms)\n",
		waited, ka_ms);
	ck_assert_int_eq(lp.cev.status, -ETIMEDOUT);
	/* The first probe that fails goes within the period. */
	ck_assert_msg(waited < DEATH_REPORTED_MS + 100,
		      "vanished peer found after %ld ms", waited);
	rmx_ep_destroy(lp.client);
	rmx_ep_destroy(lp.server);
	rmx_listener_destroy(lp.listener);
	rmx_context_destroy(lp.ctx);
	rmx_context_destroy(sctx);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("lab_failure");
	TCase *tc = tcase_create("failure");
	const char *role = getenv("RMX_TEST_ROLE");

	if (role && !strcmp(role, "echo"))
		echo_server(getenv("RMX_TEST_PORT"));
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, peer_killed_mid_stream);
	tcase_add_test(tc, stopped_peer_stays_connected);
	tcase_add_test(tc, stopped_peer_times_out_when_asked);
	tcase_add_test(tc, vanished_peer_found_by_probe);
	suite_add_tcase(s, tc);
	return s;
}
