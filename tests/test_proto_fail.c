// SPDX-License-Identifier: BSD-2-Clause
/*
 * Failures over the loop transport: a peer that dies, vanishes or hangs,
 * malformed wire messages, registrations that fail, connections that
 * never come up. Every pending operation ends exactly once, with the
 * error rmx(7) and the pages promise.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "proto/wire.h"
#include "proto_test.h"

#define RPC_HOLD 2

static rmx_rpc_req_t *held;

/* One operation of each kind, left pending on the client. */
struct pending {
	uint8_t *big, *small, in[3][64];
	struct lab_comp recv[3], eager[12], rndv, put, get;
	struct pt_call call;
};

static void post_pending(struct pt_pair *pp, struct pending *p,
			 const rmx_remote_t *remote)
{
	int i;

	memset(p, 0, sizeof(*p));
	p->big = malloc(5000);
	p->small = malloc(64);
	lab_fill(p->small, 64, 1);
	ck_assert_int_eq(rmx_rpc_register(pp->sctx, RPC_HOLD, pt_hold, &held),
			 0);
	ck_assert_int_eq(rmx_rpc_call(pp->client, RPC_HOLD, NULL, 0, NULL,
				      pt_call_cb, &p->call, NULL), 0);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(rmx_recv(pp->client, p->in[i], 64, lab_comp_cb,
					  &p->recv[i]), 0);
	/* The server takes none: the first few land, the others wait. */
	for (i = 0; i < 12; i++)
		ck_assert_int_eq(rmx_send(pp->client, p->small, 64, lab_comp_cb,
					  &p->eager[i]), 0);
	ck_assert_int_eq(rmx_send(pp->client, p->big, 5000, lab_comp_cb,
				  &p->rndv), 0);
	ck_assert_int_eq(rmx_put(pp->client, p->big, 5000, remote, 0,
				 lab_comp_cb, &p->put), 0);
	ck_assert_int_eq(rmx_get(pp->client, p->big, 5000, remote, 0,
				 lab_comp_cb, &p->get), 0);
}

/* Each operation ended once: those that landed with 0, the rest with err. */
static void check_pending(const struct pending *p, int landed, int err)
{
	int i;

	ck_assert_int_eq(p->call.done, 1);
	ck_assert_int_eq(p->call.status, err);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(p->recv[i].done, 1);
		ck_assert_int_eq(p->recv[i].status, err);
		ck_assert_uint_eq(p->recv[i].len, 0);
	}
	for (i = 0; i < 12; i++) {
		ck_assert_int_eq(p->eager[i].done, 1);
		ck_assert_int_eq(p->eager[i].status, i < landed ? 0 : err);
	}
	ck_assert_int_eq(p->rndv.done, 1);
	ck_assert_int_eq(p->rndv.status, err);
	ck_assert_int_eq(p->put.done, 1);
	ck_assert_int_eq(p->put.status, err);
	ck_assert_int_eq(p->get.done, 1);
	ck_assert_int_eq(p->get.status, err);
}

static void free_pending(struct pending *p)
{
	free(p->big);
	free(p->small);
}

/* A pair, and the server's region the client's put and get aim at. */
struct doomed {
	struct pt_pair pp;
	struct pending p;
	uint8_t *mem;
	rmx_mem_t *mr;
	rmx_remote_t r;
};

static void doomed_open(struct doomed *d)
{
	memset(d, 0, sizeof(*d));
	pt_setup();
	pt_open(&d->pp, true, NULL);
	d->mem = calloc(1, 5000);
	ck_assert_int_eq(rmx_mem_reg(d->pp.sctx, d->mem, 5000,
				     RMX_MEM_REMOTE_READ | RMX_MEM_REMOTE_WRITE,
				     &d->mr), 0);
	ck_assert_int_eq(rmx_mem_remote(d->mr, &d->r), 0);
}

static void doomed_close(struct doomed *d)
{
	ck_assert_int_eq(rmx_mem_dereg(d->mr), 0);
	pt_close(&d->pp);
	free_pending(&d->p);
	free(d->mem);
}

/*
 * The client's operations ended as its peer died; then it is closed
 * with err, refuses new work with it, and destroying it runs nothing.
 */
static void check_closed(struct pt_pair *pp, struct pending *p, int landed,
			 int err)
{
	int calls;

	pt_settle(pp);
	check_pending(p, landed, err);
	calls = p->call.done;
	ck_assert_int_eq(pp->cev.count[RMX_EP_EVENT_CLOSED], 1);
	ck_assert_int_eq(pp->cev.status, err);
	ck_assert_int_eq(rmx_ep_state(pp->client), RMX_EP_CLOSED);
	ck_assert_int_eq(rmx_ep_error(pp->client), err);
	ck_assert_int_eq(rmx_send(pp->client, p->small, 1, lab_comp_cb,
				  &p->eager[0]), err);
	ck_assert_int_eq(rmx_recv(pp->client, p->in[0], 1, lab_comp_cb,
				  &p->recv[0]), err);
	ck_assert_int_eq(rmx_rpc_call(pp->client, RPC_HOLD, NULL, 0, NULL,
				      pt_call_cb, &p->call, NULL), err);
	rmx_ep_destroy(pp->client);
	pp->client = NULL;
	check_pending(p, landed, err);
	ck_assert_int_eq(p->call.done, calls);
	ck_assert_int_eq(pp->cev.count[RMX_EP_EVENT_CLOSED], 1);
}

/*
 * The peer's process exits with work pending on both sides: every
 * operation of the client ends exactly once, with -ECONNRESET, the
 * endpoint closes once.
 */
START_TEST(peer_exits)
{
	struct doomed d;

	doomed_open(&d);
	/* Posted, none run yet: the peer dies first. */
	post_pending(&d.pp, &d.p, &d.r);
	loop_kill(pt_conn(d.pp.client), LOOP_PEER_EXITS);
	check_closed(&d.pp, &d.p, 0, -ECONNRESET);
	doomed_close(&d);
}
END_TEST

/*
 * The same, after the first messages landed: those completed once with
 * 0 and stay so; the rest end with -ECONNRESET.
 */
START_TEST(peer_exits_after_some_landed)
{
	struct doomed d;
	int landed = 0, i;

	doomed_open(&d);
	post_pending(&d.pp, &d.p, &d.r);
	/* Only the client runs: what it posted executes, the peer is still. */
	pt_drain(d.pp.cctx);
	for (i = 0; i < 12; i++)
		landed += d.p.eager[i].done;
	/* The peer's 8 credits, less the request's and the reserve. */
	ck_assert_int_eq(landed, 8 - 2);
	/* Behind the rest. */
	ck_assert_int_eq(d.p.put.done + d.p.get.done, 0);
	loop_kill(pt_conn(d.pp.client), LOOP_PEER_EXITS);
	check_closed(&d.pp, &d.p, landed, -ECONNRESET);
	doomed_close(&d);
}
END_TEST

/*
 * The peer's host vanishes: nothing tells the client until its next
 * request runs out of retries; then everything ends with -ETIMEDOUT.
 */
START_TEST(peer_vanishes)
{
	struct doomed d;

	doomed_open(&d);
	loop_kill(pt_conn(d.pp.client), LOOP_PEER_VANISHES);
	pt_settle(&d.pp);
	ck_assert_int_eq(rmx_ep_state(d.pp.client), RMX_EP_CONNECTED);
	post_pending(&d.pp, &d.p, &d.r);
	check_closed(&d.pp, &d.p, 0, -ETIMEDOUT);
	doomed_close(&d);
}
END_TEST

/*
 * Keepalive probes the peer's device (RMX__TP_CAP_PEER_PROBE): a peer that
 * never progresses (computing) stays connected, asked by probes and not
 * by pings, which would need its CPU.
 */
START_TEST(keepalive_keeps_computing_peer)
{
	uint64_t sends, probes;
	struct pt_pair pp;
	int i;

	pt_setup();
	setenv("RMX_KEEPALIVE_MS", "20", 1);
	pt_open(&pp, true, NULL);
	pt_settle(&pp);
	sends = loop_stats.sends;
	probes = loop_stats.probes;
	/* From here only the client's context runs: 10 periods and more. */
	for (i = 0; i < 20; i++)
		pt_run_for(pp.cctx, 20);
	ck_assert_int_eq(rmx_ep_state(pp.client), RMX_EP_CONNECTED);
	ck_assert_int_eq(pp.cev.count[RMX_EP_EVENT_CLOSED], 0);
	ck_assert_uint_ge(loop_stats.probes, probes + 5);
	/* No ping: the application-level check is off by default. */
	ck_assert_uint_eq(loop_stats.sends, sends);
	pt_close(&pp);
}
END_TEST

/*
 * Traffic flows: its completions show the peer alive, and no probe goes.
 * Keepalive's period is long against a message's round trip, so a loaded
 * host does not make the gaps look idle.
 */
START_TEST(keepalive_quiet_while_traffic_flows)
{
	struct lab_comp sent, got;
	uint8_t out[64] = { 0 }, in[64];
	struct pt_pair pp;
	uint64_t probes, n = 0;
	long end;

	pt_setup();
	setenv("RMX_KEEPALIVE_MS", "300", 1);
	pt_open(&pp, true, NULL);
	probes = loop_stats.probes;
	end = pt_now_ms() + 1500;
	while (pt_now_ms() < end) {
		memset(&sent, 0, sizeof(sent));
		memset(&got, 0, sizeof(got));
		ck_assert_int_eq(rmx_recv(pp.server, in, sizeof(in),
					  lab_comp_cb, &got), 0);
		ck_assert_int_eq(rmx_send(pp.client, out, sizeof(out),
					  lab_comp_cb, &sent), 0);
		pt_wait_count(&pp, &got.done, 1, 2000);
		pt_wait_count(&pp, &sent.done, 1, 2000);
		n++;
	}
	ck_assert_uint_ge(n, 10);
	ck_assert_uint_eq(loop_stats.probes, probes);
	/* Idle again: probing starts. */
	pt_run_pair_for(&pp, 700);
	ck_assert_uint_gt(loop_stats.probes, probes);
	ck_assert_int_eq(rmx_ep_state(pp.client), RMX_EP_CONNECTED);
	pt_close(&pp);
}
END_TEST

/*
 * An idle connection to a vanished host fails by its probe, once, with
 * -ETIMEDOUT; what was pending ends with it.
 */
START_TEST(keepalive_finds_vanished_peer)
{
	struct lab_comp recv = { 0 };
	struct pt_pair pp;
	uint8_t in[8];
	uint64_t probes;

	pt_setup();
	setenv("RMX_KEEPALIVE_MS", "30", 1);
	pt_open(&pp, true, NULL);
	ck_assert_int_eq(rmx_recv(pp.client, in, sizeof(in), lab_comp_cb,
				  &recv), 0);
	probes = loop_stats.probes;
	loop_kill(pt_conn(pp.client), LOOP_PEER_VANISHES);
	ck_assert_int_eq(rmx_progress(pp.cctx), 0);
	ck_assert_int_eq(rmx_ep_state(pp.client), RMX_EP_CONNECTED);
	pt_wait_count_one(pp.cctx, &pp.cev.count[RMX_EP_EVENT_CLOSED], 1, 2000);
	ck_assert_int_eq(pp.cev.status, -ETIMEDOUT);
	ck_assert_uint_eq(loop_stats.probes, probes + 1);
	pt_run_for(pp.cctx, 100);
	ck_assert_int_eq(pp.cev.count[RMX_EP_EVENT_CLOSED], 1);
	ck_assert_int_eq(recv.done, 1);
	ck_assert_int_eq(recv.status, -ETIMEDOUT);
	ck_assert_uint_eq(loop_stats.probes, probes + 1);
	pt_close(&pp);
}
END_TEST

/*
 * The application-level check, asked for: a peer process that hangs (its
 * device still answers probes) answers no ping, and the client closes with
 * -ETIMEDOUT after the timeout, not before; its pending receive ends
 * with it.
 */
static void hung_peer_times_out(int timeout_ms)
{
	struct lab_comp recv = { 0 };
	uint64_t sends;
	struct pt_pair pp;
	uint8_t in[8];
	long start;

	pt_open(&pp, true, NULL);
	ck_assert_int_eq(rmx_recv(pp.client, in, sizeof(in), lab_comp_cb,
				  &recv), 0);
	/* From here only the client's context runs. */
	start = pt_now_ms();
	sends = loop_stats.sends;
	pt_wait_count_one(pp.cctx, &pp.cev.count[RMX_EP_EVENT_CLOSED], 1, 2000);
	ck_assert_int_eq(pp.cev.status, -ETIMEDOUT);
	/* The timeout since last heard (just before start), not half. */
	ck_assert_int_ge(pt_now_ms() - start, timeout_ms - 20);
	/* It did ask, and the asking landed. */
	ck_assert_uint_ge(loop_stats.sends, sends + 1);
	ck_assert_int_eq(recv.done, 1);
	ck_assert_int_eq(recv.status, -ETIMEDOUT);
	pt_close(&pp);
}

START_TEST(peer_timeout_finds_hung_peer)
{
	pt_setup();
	setenv("RMX_KEEPALIVE_MS", "20", 1);
	setenv("RMX_PEER_TIMEOUT_MS", "80", 1);
	hung_peer_times_out(80);
	unsetenv("RMX_PEER_TIMEOUT_MS");
}
END_TEST

/* A transport that cannot probe keeps the ping: twice the period. */
START_TEST(keepalive_pings_without_probes)
{
	uint64_t probes = loop_stats.probes;

	pt_setup();
	setenv("RMX_KEEPALIVE_MS", "40", 1);
	loop_no_probe = true;
	hung_peer_times_out(2 * 40);
	loop_no_probe = false;
	ck_assert_uint_eq(loop_stats.probes, probes);
}
END_TEST

/*
 * Both sides progress and stay quiet: probes, or pings and their answers,
 * keep the pair up for many periods (counted in probes or messages, not
 * in time, so that a loaded host cannot make the test pass without them).
 */
static void keeps_healthy_pair(const uint64_t *counter)
{
	long end = pt_now_ms() + 5000;
	struct pt_pair pp;
	uint64_t start;

	pt_open(&pp, true, NULL);
	start = *counter;
	pt_run_pair_for(&pp, 100);
	while (*counter < start + 8) {
		ck_assert_int_lt(pt_now_ms(), end);
		ck_assert_int_eq(rmx_ep_state(pp.client), RMX_EP_CONNECTED);
		pt_run_pair_for(&pp, 20);
	}
	ck_assert_int_eq(rmx_ep_state(pp.client), RMX_EP_CONNECTED);
	ck_assert_int_eq(rmx_ep_state(pp.server), RMX_EP_CONNECTED);
	ck_assert_int_eq(pp.cev.count[RMX_EP_EVENT_CLOSED], 0);
	ck_assert_int_eq(pp.sev.count[RMX_EP_EVENT_CLOSED], 0);
	pt_close(&pp);
}

START_TEST(keepalive_keeps_healthy_pair)
{
	pt_setup();
	setenv("RMX_KEEPALIVE_MS", "20", 1);
	keeps_healthy_pair(&loop_stats.probes);
}
END_TEST

START_TEST(peer_timeout_keeps_healthy_pair)
{
	pt_setup();
	setenv("RMX_PEER_TIMEOUT_MS", "40", 1);
	keeps_healthy_pair(&loop_stats.sends);
	unsetenv("RMX_PEER_TIMEOUT_MS");
}
END_TEST

/* How a tamper hook breaks the next message it sees. */
enum garble { BAD_MAGIC, BAD_LENGTH, UNKNOWN_TYPE, FAKE_CREDITS, STRAY_ATS };

static bool garble(void *arg, uint8_t *msg, uint32_t *len)
{
	enum garble *how = arg;
	struct rmx__wire_hdr h;
	struct rmx__ats ats = { .id = 999 };

	if (rmx__wire_parse(msg, *len, 1 << 20, &h) || h.type != RMX__MSG_EAGER)
		return true;
	switch (*how) {
	case BAD_MAGIC:
		msg[0] ^= 0xff;
		break;
	case BAD_LENGTH:
		(*len)--;
		break;
	case UNKNOWN_TYPE:
		h.type = 77;
		rmx__wire_pack(msg, &h);
		break;
	case FAKE_CREDITS:
		h.credits = 1000;
		rmx__wire_pack(msg, &h);
		break;
	case STRAY_ATS:
		h.type = RMX__MSG_ATS;
		h.len = RMX__ATS_SIZE;
		rmx__wire_pack(msg, &h);
		rmx__ats_pack(msg + RMX__WIRE_HDR_SIZE, &ats);
		*len = RMX__WIRE_HDR_SIZE + RMX__ATS_SIZE;
		break;
	}
	return true;
}

/*
 * A malformed message closes the receiving endpoint with -EPROTO; its
 * pending operations end with it, and the sender sees a reset.
 */
static void malformed(enum garble how)
{
	struct lab_comp recv[2] = { 0 }, sent = { 0 };
	uint8_t in[2][64], out[32];
	struct pt_pair pp;

	pt_setup();
	pt_open(&pp, true, NULL);
	loop_tamper(pt_conn(pp.client), garble, &how);
	ck_assert_int_eq(rmx_recv(pp.server, in[0], 64, lab_comp_cb, &recv[0]),
			 0);
	ck_assert_int_eq(rmx_recv(pp.server, in[1], 64, lab_comp_cb, &recv[1]),
			 0);
	memset(out, 1, sizeof(out));
	ck_assert_int_eq(rmx_send(pp.client, out, sizeof(out), lab_comp_cb,
				  &sent), 0);
	pt_wait_count(&pp, &pp.sev.count[RMX_EP_EVENT_CLOSED], 1, 2000);
	pt_wait_count(&pp, &pp.cev.count[RMX_EP_EVENT_CLOSED], 1, 2000);
	pt_settle(&pp);
	ck_assert_int_eq(pp.sev.status, -EPROTO);
	ck_assert_int_eq(rmx_ep_error(pp.server), -EPROTO);
	ck_assert_int_eq(recv[0].done + recv[1].done, 2);
	ck_assert_int_eq(recv[0].status, -EPROTO);
	ck_assert_int_eq(recv[1].status, -EPROTO);
	ck_assert_int_eq(pp.sev.count[RMX_EP_EVENT_CLOSED], 1);
	ck_assert_int_eq(pp.cev.status, -ECONNRESET);
	ck_assert_int_eq(sent.done, 1);
	pt_close(&pp);
}

START_TEST(malformed_magic)
{
	malformed(BAD_MAGIC);
}
END_TEST

START_TEST(malformed_length)
{
	malformed(BAD_LENGTH);
}
END_TEST

START_TEST(malformed_type)
{
	malformed(UNKNOWN_TYPE);
}
END_TEST

START_TEST(credits_never_given)
{
	malformed(FAKE_CREDITS);
}
END_TEST

START_TEST(acknowledgement_of_nothing)
{
	malformed(STRAY_ATS);
}
END_TEST

/* Registrations the loop transport refuses, counted. */
static void fail_regs(rmx_context_t *ctx, bool on)
{
	loop_fail_mr_reg(pt_tp(ctx), 0, on ? ~0u : 0, -ENOMEM);
}

/*
 * A rendezvous send whose buffer cannot be registered fails alone with
 * -ENOMEM; so does one the receiver cannot register its receive for
 * (both sides hear it); so does a put. The endpoint stays up and the
 * next transfer goes through.
 */
START_TEST(registration_fails_one_operation)
{
	uint8_t *big = malloc(5000), *in = malloc(5000);
	struct lab_comp sent[3] = { 0 }, got[2] = { 0 }, put = { 0 };
	struct doomed d;
	struct pt_pair *pp = &d.pp;

	doomed_open(&d);
	lab_fill(big, 5000, 3);
	memset(in, 0xee, 5000);
	/* The sender cannot offer its buffer. */
	fail_regs(pp->cctx, true);
	ck_assert_int_eq(rmx_send(pp->client, big, 5000, lab_comp_cb, &sent[0]),
			 0);
	ck_assert_int_eq(rmx_put(pp->client, big, 5000, &d.r, 0, lab_comp_cb,
				 &put), 0);
	pt_wait_count(pp, &put.done, 1, 2000);
	pt_settle(pp);
	ck_assert_int_eq(sent[0].done, 1);
	ck_assert_int_eq(sent[0].status, -ENOMEM);
	ck_assert_int_eq(put.status, -ENOMEM);
	ck_assert_uint_eq(lab_first_not(d.mem, 5000, 0), 5000);
	fail_regs(pp->cctx, false);
	/* The receiver cannot register where the data should go. */
	fail_regs(pp->sctx, true);
	ck_assert_int_eq(rmx_recv(pp->server, in, 5000, lab_comp_cb,
				  &got[0]), 0);
	ck_assert_int_eq(rmx_send(pp->client, big, 5000, lab_comp_cb, &sent[1]),
			 0);
	pt_wait_count(pp, &sent[1].done, 1, 2000);
	pt_settle(pp);
	ck_assert_int_eq(got[0].done, 1);
	ck_assert_int_eq(got[0].status, -ENOMEM);
	/* rmx_recv(3): a receive that met its message tells its size. */
	ck_assert_uint_eq(got[0].len, 5000);
	ck_assert_uint_eq(lab_first_not(in, 5000, 0xee), 5000);
	ck_assert_int_eq(sent[1].status, -ENOMEM);
	ck_assert_uint_gt(loop_mr_reg_failed(pt_tp(pp->sctx)), 0);
	fail_regs(pp->sctx, false);
	/* Both sides still connected: the next message goes through. */
	ck_assert_int_eq(rmx_recv(pp->server, in, 5000, lab_comp_cb,
				  &got[1]), 0);
	ck_assert_int_eq(rmx_send(pp->client, big, 5000, lab_comp_cb, &sent[2]),
			 0);
	pt_wait_count(pp, &got[1].done, 1, 2000);
	pt_settle(pp);
	ck_assert_int_eq(got[1].status, 0);
	ck_assert_uint_eq(lab_check(in, 5000, 3), 5000);
	ck_assert_int_eq(sent[2].status, 0);
	ck_assert_int_eq(pp->cev.count[RMX_EP_EVENT_CLOSED] +
				 pp->sev.count[RMX_EP_EVENT_CLOSED], 0);
	doomed_close(&d);
	free(big);
	free(in);
}
END_TEST

/* No endpoint without its message buffers: rmx_connect() fails. */
START_TEST(registration_fails_connect)
{
	rmx_context_t *ctx;
	rmx_ep_t *ep = NULL;

	pt_setup();
	ck_assert_int_eq(rmx_context_create(&ctx), 0);
	fail_regs(ctx, true);
	ck_assert_int_eq(rmx_connect(ctx, "192.0.2.1:1", NULL, &ep), -ENOMEM);
	ck_assert_ptr_null(ep);
	fail_regs(ctx, false);
	rmx_context_destroy(ctx);
	ck_assert_uint_eq(loop_stats.mr_live, 0);
}
END_TEST

/* Nothing listens there: refused, and queued work ends with it. */
START_TEST(connection_refused)
{
	struct rmx_ep_params params = { .event_cb = lab_record_event };
	struct lab_events ev = { 0 };
	struct lab_comp sent = { 0 };
	rmx_context_t *ctx;
	rmx_ep_t *ep;

	params.arg = &ev;
	pt_setup();
	ck_assert_int_eq(rmx_context_create(&ctx), 0);
	ck_assert_int_eq(rmx_connect(ctx, "192.0.2.1:9", &params, &ep), 0);
	ck_assert_int_eq(rmx_send(ep, "x", 1, lab_comp_cb, &sent), 0);
	pt_wait_count_one(ctx, &ev.count[RMX_EP_EVENT_CLOSED], 1, 2000);
	pt_run_for(ctx, 10);
	ck_assert_int_eq(ev.count[RMX_EP_EVENT_CLOSED], 1);
	ck_assert_int_eq(ev.count[RMX_EP_EVENT_CONNECTED], 0);
	ck_assert_int_eq(ev.status, -ECONNREFUSED);
	ck_assert_int_eq(sent.done, 1);
	ck_assert_int_eq(sent.status, -ECONNREFUSED);
	rmx_ep_destroy(ep);
	rmx_context_destroy(ctx);
}
END_TEST

static void never_accepted(rmx_listener_t *l, rmx_ep_t *ep, void *arg)
{
	(void)l;
	(void)ep;
	ck_abort_msg("accepted %p", arg);
}

/*
 * A listener whose context never progresses: the connect deadline ends
 * the attempt with -ETIMEDOUT, not before it.
 */
START_TEST(connect_times_out)
{
	struct rmx_ep_params params = { .event_cb = lab_record_event,
					.timeout_ms = 30 };
	rmx_context_t *client, *server;
	struct lab_events ev = { 0 };
	struct lab_comp recv = { 0 };
	rmx_listener_t *l;
	char addr[32], in[4];
	rmx_ep_t *ep;
	long start;

	params.arg = &ev;
	pt_setup();
	ck_assert_int_eq(rmx_context_create(&server), 0);
	ck_assert_int_eq(rmx_context_create(&client), 0);
	ck_assert_int_eq(rmx_listen(server, "192.0.2.1:0", never_accepted, NULL,
				    &l), 0);
	snprintf(addr, sizeof(addr), "192.0.2.1:%d", rmx_listener_port(l));
	start = pt_now_ms();
	ck_assert_int_eq(rmx_connect(client, addr, &params, &ep), 0);
	ck_assert_int_eq(rmx_recv(ep, in, 4, lab_comp_cb, &recv), 0);
	pt_wait_count_one(client, &ev.count[RMX_EP_EVENT_CLOSED], 1, 2000);
	ck_assert_int_ge(pt_now_ms() - start, 30);
	ck_assert_int_eq(ev.status, -ETIMEDOUT);
	ck_assert_int_eq(rmx_ep_error(ep), -ETIMEDOUT);
	ck_assert_int_eq(recv.done, 1);
	ck_assert_int_eq(recv.status, -ETIMEDOUT);
	rmx_ep_destroy(ep);
	/* The request left behind finds no one, and nothing is accepted. */
	pt_run_for(server, 10);
	rmx_listener_destroy(l);
	rmx_context_destroy(client);
	rmx_context_destroy(server);
	ck_assert_uint_eq(loop_stats.mr_live, 0);
}
END_TEST

/*
 * Destroying an endpoint ends its operations with -ECANCELED before
 * rmx_ep_destroy() returns, with no event; the peer sees a reset.
 */
START_TEST(destroy_cancels_pending)
{
	struct doomed d;

	doomed_open(&d);
	post_pending(&d.pp, &d.p, &d.r);
	rmx_ep_destroy(d.pp.client);
	d.pp.client = NULL;
	check_pending(&d.p, 0, -ECANCELED);
	ck_assert_int_eq(d.pp.cev.count[RMX_EP_EVENT_CLOSED], 0);
	pt_wait_count(&d.pp, &d.pp.sev.count[RMX_EP_EVENT_CLOSED], 1, 2000);
	ck_assert_int_eq(d.pp.sev.status, -ECONNRESET);
	pt_settle(&d.pp);
	check_pending(&d.p, 0, -ECANCELED);
	doomed_close(&d);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("proto_fail");
	TCase *tc = tcase_create("fail");

	tcase_add_test(tc, peer_exits);
	tcase_add_test(tc, peer_exits_after_some_landed);
	tcase_add_test(tc, peer_vanishes);
	tcase_add_test(tc, keepalive_keeps_computing_peer);
	tcase_add_test(tc, keepalive_quiet_while_traffic_flows);
	tcase_add_test(tc, keepalive_finds_vanished_peer);
	tcase_add_test(tc, peer_timeout_finds_hung_peer);
	tcase_add_test(tc, keepalive_pings_without_probes);
	tcase_add_test(tc, keepalive_keeps_healthy_pair);
	tcase_add_test(tc, peer_timeout_keeps_healthy_pair);
	tcase_add_test(tc, malformed_magic);
	tcase_add_test(tc, malformed_length);
	tcase_add_test(tc, malformed_type);
	tcase_add_test(tc, credits_never_given);
	tcase_add_test(tc, acknowledgement_of_nothing);
	tcase_add_test(tc, registration_fails_one_operation);
	tcase_add_test(tc, registration_fails_connect);
	tcase_add_test(tc, connection_refused);
	tcase_add_test(tc, connect_times_out);
	tcase_add_test(tc, destroy_cancels_pending);
	suite_add_tcase(s, tc);
	return s;
}
