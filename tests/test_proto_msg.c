// SPDX-License-Identifier: BSD-2-Clause
/*
 * Two-sided messages over the loop transport: eager and rendezvous
 * around the threshold, matching and truncation, credits against a slow
 * receiver, active messages. Every byte and every completion is counted.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "proto/wire.h"
#include "proto_test.h"

#define UNTOUCHED 0xee

/* Send i carries lab_fill(seed_of(i)). */
static uint32_t seed_of(int i)
{
	return 1000u + (uint32_t)i;
}

struct xfer {
	size_t size;
	uint8_t *out, *in;
	size_t cap;
	struct lab_comp sent, got;
};

static void xfer_init(struct xfer *x, int i, size_t size, size_t cap)
{
	x->size = size;
	x->cap = cap;
	x->out = malloc(size + 1);
	x->in = malloc(cap + 1);
	ck_assert(x->out && x->in);
	lab_fill(x->out, size, seed_of(i));
	memset(x->in, UNTOUCHED, cap + 1);
	memset(&x->sent, 0, sizeof(x->sent));
	memset(&x->got, 0, sizeof(x->got));
}

static void xfer_post(rmx_ep_t *to, rmx_ep_t *from, struct xfer *x)
{
	ck_assert_int_eq(rmx_recv(to, x->in, x->cap, lab_comp_cb, &x->got), 0);
	ck_assert_int_eq(rmx_send(from, x->size ? x->out : NULL, x->size,
				  lab_comp_cb, &x->sent), 0);
	/* Never from inside the call that posted it. */
	ck_assert_int_eq(x->sent.done + x->got.done, 0);
}

/* Exactly one completion each, the bytes where they belong, no more. */
static void xfer_check(const struct xfer *x, int i)
{
	ck_assert_int_eq(x->sent.done, 1);
	ck_assert_int_eq(x->sent.status, 0);
	ck_assert_uint_eq(x->sent.len, x->size);
	ck_assert_int_eq(x->got.done, 1);
	ck_assert_int_eq(x->got.status, 0);
	ck_assert_uint_eq(x->got.len, x->size);
	ck_assert_uint_eq(lab_check(x->in, x->size, seed_of(i)), x->size);
	ck_assert_uint_eq(lab_first_not(x->in + x->size, x->cap + 1 - x->size,
					UNTOUCHED),
			  x->cap + 1 - x->size);
}

static void xfer_free(struct xfer *x)
{
	free(x->out);
	free(x->in);
}

/* Sends sizes[] in order into receives of cap bytes, checks each. */
static void run_sizes(struct pt_pair *pp, const size_t *sizes, int n,
		      size_t cap)
{
	struct xfer *x = calloc((size_t)n, sizeof(*x));
	int i;

	ck_assert_ptr_nonnull(x);
	for (i = 0; i < n; i++) {
		xfer_init(&x[i], i, sizes[i], cap);
		xfer_post(pp->server, pp->client, &x[i]);
	}
	for (i = 0; i < n; i++)
		pt_wait_count(pp, &x[i].sent.done, 1, 5000);
	pt_settle(pp);
	for (i = 0; i < n; i++) {
		xfer_check(&x[i], i);
		xfer_free(&x[i]);
	}
	free(x);
	ck_assert_uint_eq(loop_stats.rnr, 0);
	ck_assert_int_eq(pp->cev.count[RMX_EP_EVENT_CLOSED], 0);
	ck_assert_int_eq(pp->sev.count[RMX_EP_EVENT_CLOSED], 0);
}

/* The listener learns who called: the connect data, byte for byte. */
START_TEST(connect_data_reaches_the_acceptor)
{
	unsigned char id[RMX_CONNECT_DATA_MAX], big[RMX_CONNECT_DATA_MAX + 1];
	struct rmx_ep_params params = { .connect_data = big,
					.connect_data_len = sizeof(big) };
	struct pt_pair pp;
	const void *data;
	rmx_ep_t *ep;
	size_t len;
	int i;

	pt_setup();
	for (i = 0; i < RMX_CONNECT_DATA_MAX; i++)
		id[i] = (unsigned char)(0xa0 + i);
	pt_start_data(&pp, true, NULL, id, sizeof(id));
	pt_wait_count(&pp, &pp.accepts, 1, 5000);
	ck_assert_int_eq(rmx_ep_peer_data(pp.server, &data, &len), 0);
	ck_assert_uint_eq(len, sizeof(id));
	ck_assert_mem_eq(data, id, sizeof(id));
	/* The connecting side hears nothing back. */
	ck_assert_int_eq(rmx_ep_peer_data(pp.client, &data, &len), 0);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(rmx_connect(pp.cctx, "192.0.2.1:1", &params, &ep),
			 -EMSGSIZE);
	params.connect_data = NULL;
	params.connect_data_len = 1;
	ck_assert_int_eq(rmx_connect(pp.cctx, "192.0.2.1:1", &params, &ep),
			 -EINVAL);
	pt_close(&pp);
}
END_TEST

START_TEST(eager_in_order)
{
	static const size_t sizes[] = { 0, 1, 100, 255, 256, 7 };
	struct pt_pair pp;
	size_t max;

	pt_setup();
	pt_open(&pp, true, NULL);
	ck_assert_int_eq(rmx_ep_max_msg(pp.client, &max), 0);
	ck_assert_uint_eq(max, 256);
	run_sizes(&pp, sizes, 6, 256);
	/* Up to the limit, copied: the device read nothing. */
	ck_assert_uint_eq(loop_stats.reads, 0);
	pt_close(&pp);
}
END_TEST

/* 256 bytes go eagerly, 257 by a read; 300000 by five reads of 64 KiB. */
START_TEST(rendezvous_threshold)
{
	static const size_t sizes[] = { 256, 257, 300000, 256 };
	struct pt_pair pp;

	pt_setup();
	pt_open(&pp, true, NULL);
	run_sizes(&pp, sizes, 4, 300000);
	ck_assert_uint_eq(loop_stats.reads, 1 + (300000 + 65535) / 65536);
	pt_close(&pp);
}
END_TEST

/*
 * Receives match messages in order, whatever the path: receive i gets
 * message i even where a rendezvous completes after the eager one that
 * follows it.
 */
START_TEST(mixed_paths_match_in_order)
{
	size_t sizes[16];
	struct pt_pair pp;
	int i;

	for (i = 0; i < 16; i++)
		sizes[i] = i % 3 ? (size_t)(10 + 15 * i) : (size_t)(5000 + i);
	pt_setup();
	pt_open(&pp, false, NULL);
	run_sizes(&pp, sizes, 16, 6000);
	ck_assert_uint_eq(loop_stats.reads, 6);
	pt_close(&pp);
}
END_TEST

/* A message longer than its receive: -EMSGSIZE, nothing written. */
static void too_small(size_t size)
{
	struct xfer big, next;
	struct pt_pair pp;
	bool rndv = size > 256;

	pt_setup();
	pt_open(&pp, true, NULL);
	xfer_init(&big, 0, size, size / 2);
	xfer_init(&next, 1, size, size);
	xfer_post(pp.server, pp.client, &big);
	xfer_post(pp.server, pp.client, &next);
	pt_wait_count(&pp, &next.got.done, 1, 5000);
	pt_settle(&pp);
	ck_assert_int_eq(big.got.done, 1);
	ck_assert_int_eq(big.got.status, -EMSGSIZE);
	ck_assert_uint_eq(big.got.len, size);	/* how big it was */
	ck_assert_uint_eq(lab_first_not(big.in, size / 2 + 1, UNTOUCHED),
			  size / 2 + 1);
	/* An eager sender only knows it landed; a rendezvous one is told. */
	ck_assert_int_eq(big.sent.done, 1);
	ck_assert_int_eq(big.sent.status, rndv ? -EMSGSIZE : 0);
	ck_assert_uint_eq(big.sent.len, rndv ? 0 : size);
	/* Only that message failed: the next goes to the next receive. */
	xfer_check(&next, 1);
	ck_assert_uint_eq(loop_stats.reads, rndv ? 1 : 0);
	ck_assert_int_eq(rmx_ep_state(pp.client), RMX_EP_CONNECTED);
	ck_assert_int_eq(rmx_ep_state(pp.server), RMX_EP_CONNECTED);
	xfer_free(&big);
	xfer_free(&next);
	pt_close(&pp);
}

START_TEST(receive_too_small_eager)
{
	too_small(200);
}
END_TEST

START_TEST(receive_too_small_rendezvous)
{
	too_small(3000);
}
END_TEST

#define MANY 100
#define SMALL 64

/*
 * A receiver that posts nothing holds its sender at its receive
 * buffers, less the one kept for credit messages: no message is lost and
 * none finds a receive missing (the loop transport would fail it).
 */
START_TEST(slow_receiver_holds_sender)
{
	static uint8_t out[MANY][SMALL], in[MANY][SMALL];
	struct lab_comp sent[MANY] = { 0 }, got[MANY] = { 0 };
	struct pt_pair pp;
	int i, done = 0;

	pt_setup();
	pt_open(&pp, true, NULL);
	for (i = 0; i < MANY; i++) {
		lab_fill(out[i], SMALL, seed_of(i));
		ck_assert_int_eq(rmx_send(pp.client, out[i], SMALL, lab_comp_cb,
					  &sent[i]), 0);
	}
	pt_settle(&pp);
	for (i = 0; i < MANY; i++)
		done += sent[i].done;
	/* RMX_RX_GRANT, less the reserve: RMX_RX_DEPTH (8) leaves none to lend. */
	ck_assert_int_eq(done, 8 - 1);
	/* One receive at a time, each waited for. */
	for (i = 0; i < MANY; i++) {
		ck_assert_int_eq(rmx_recv(pp.server, in[i], SMALL, lab_comp_cb,
					  &got[i]), 0);
		pt_wait_count(&pp, &got[i].done, 1, 2000);
	}
	pt_settle(&pp);
	for (i = 0; i < MANY; i++) {
		ck_assert_int_eq(sent[i].done, 1);
		ck_assert_int_eq(sent[i].status, 0);
		ck_assert_int_eq(got[i].done, 1);
		ck_assert_int_eq(got[i].status, 0);
		ck_assert_uint_eq(lab_check(in[i], SMALL, seed_of(i)), SMALL);
	}
	ck_assert_uint_eq(loop_stats.rnr, 0);
	pt_close(&pp);
}
END_TEST

/* Each side streams to the other through two receives it reposts. */
struct stream {
	rmx_ep_t *ep;
	uint8_t out[MANY][SMALL], in[2][SMALL];
	int sent, received, bad, failed;
};

static void stream_recv(void *arg, int status, size_t len);

static void stream_post(struct stream *s, int slot)
{
	ck_assert_int_eq(rmx_recv(s->ep, s->in[slot], SMALL, stream_recv,
				  &s->in[slot]), 0);
}

static struct stream *streams[2];

static void stream_recv(void *arg, int status, size_t len)
{
	uint8_t (*buf)[SMALL] = arg;
	struct stream *s = streams[0]->in[0] == *buf ||
					   streams[0]->in[1] == *buf ?
				   streams[0] :
				   streams[1];

	if (status) {
		s->failed++;
		return;
	}
	if (len != SMALL ||
	    lab_check(*buf, SMALL, seed_of(s->received)) != SMALL)
		s->bad++;
	s->received++;
	if (s->received < MANY - 1)
		stream_post(s, (int)(*buf - s->in[0]) / SMALL);
}

static void stream_sent(void *arg, int status, size_t len)
{
	struct stream *s = arg;

	(void)len;
	if (status)
		s->failed++;
	else
		s->sent++;
}

START_TEST(credits_flow_both_ways)
{
	struct stream *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct pt_pair pp;
	int i;

	ck_assert(a && b);
	pt_setup();
	pt_open(&pp, true, NULL);
	a->ep = pp.client;
	b->ep = pp.server;
	streams[0] = a;
	streams[1] = b;
	for (i = 0; i < 2; i++) {
		stream_post(a, i);
		stream_post(b, i);
	}
	for (i = 0; i < MANY; i++) {
		lab_fill(a->out[i], SMALL, seed_of(i));
		lab_fill(b->out[i], SMALL, seed_of(i));
		ck_assert_int_eq(rmx_send(a->ep, a->out[i], SMALL, stream_sent,
					  a), 0);
		ck_assert_int_eq(rmx_send(b->ep, b->out[i], SMALL, stream_sent,
					  b), 0);
	}
	pt_wait_count(&pp, &a->received, MANY, 5000);
	pt_wait_count(&pp, &b->received, MANY, 5000);
	pt_settle(&pp);
	ck_assert_int_eq(a->sent, MANY);
	ck_assert_int_eq(b->sent, MANY);
	ck_assert_int_eq(a->bad + b->bad + a->failed + b->failed, 0);
	ck_assert_uint_eq(loop_stats.rnr, 0);
	pt_close(&pp);
	free(a);
	free(b);
}
END_TEST

/* Active messages: what the callback saw, in order. */
struct am_seen {
	int n;
	size_t len[8];
	bool with_data[8];
	bool data_ok[8];
	int take_errors;
	uint8_t *taken;		/* the rendezvous message taken */
	size_t taken_cap;
	struct lab_comp taken_comp;
};

static void on_am(void *arg, rmx_am_t *msg, const void *data, size_t len)
{
	struct am_seen *s = arg;
	int i = s->n++;

	ck_assert_int_lt(i, 8);
	s->len[i] = len;
	s->with_data[i] = data != NULL;
	/* Message i + 1 of the sender carries seed_of(i + 1). */
	s->data_ok[i] = !data || lab_check(data, len, seed_of(i + 1)) == len;
	if (data) {
		/* Came with its data: nothing to take. */
		if (rmx_am_recv(msg, s->taken, s->taken_cap, lab_comp_cb,
				&s->taken_comp) != -EINVAL)
			s->take_errors++;
		return;
	}
	if (i != 1)
		return;		/* left: the sender gets -ECANCELED */
	if (rmx_am_recv(msg, s->taken, s->taken_cap, lab_comp_cb,
			&s->taken_comp))
		s->take_errors++;
	/* Taken once only. */
	if (rmx_am_recv(msg, s->taken, s->taken_cap, lab_comp_cb,
			&s->taken_comp) != -EINVAL)
		s->take_errors++;
}

START_TEST(active_messages)
{
	static const size_t sizes[] = { 50, 60, 1000, 2000, 0 };
	struct am_seen seen = { .taken_cap = 1000 };
	struct lab_comp sent[5] = { 0 }, first = { 0 };
	uint8_t *out[5], posted[64];
	struct pt_pair pp;
	int i;

	seen.taken = malloc(1000);
	pt_setup();
	pt_open(&pp, true, NULL);
	ck_assert_int_eq(rmx_ep_set_am_cb(pp.server, on_am, &seen), 0);
	/* A posted receive comes first. */
	ck_assert_int_eq(rmx_recv(pp.server, posted, sizeof(posted),
				  lab_comp_cb, &first), 0);
	for (i = 0; i < 5; i++) {
		out[i] = malloc(sizes[i] + 1);
		lab_fill(out[i], sizes[i], seed_of(i));
		ck_assert_int_eq(rmx_send(pp.client, out[i], sizes[i],
					  lab_comp_cb, &sent[i]), 0);
	}
	pt_wait_count(&pp, &sent[4].done, 1, 5000);
	pt_wait_count(&pp, &sent[3].done, 1, 5000);
	pt_settle(&pp);
	ck_assert_int_eq(first.done, 1);
	ck_assert_uint_eq(first.len, 50);
	ck_assert_uint_eq(lab_check(posted, 50, seed_of(0)), 50);
	ck_assert_int_eq(seen.n, 4);
	for (i = 0; i < 4; i++) {
		ck_assert_uint_eq(seen.len[i], sizes[i + 1]);
		ck_assert(seen.data_ok[i]);
	}
	/* Up to the limit with the data (never NULL, even at 0 bytes). */
	ck_assert(seen.with_data[0] && !seen.with_data[1] &&
		  !seen.with_data[2] && seen.with_data[3]);
	ck_assert_int_eq(seen.take_errors, 0);
	ck_assert_int_eq(seen.taken_comp.done, 1);
	ck_assert_int_eq(seen.taken_comp.status, 0);
	ck_assert_uint_eq(seen.taken_comp.len, 1000);
	ck_assert_uint_eq(lab_check(seen.taken, 1000, seed_of(2)), 1000);
	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(sent[i].done, 1);
		/* The one left untaken is cancelled, the others landed. */
		ck_assert_int_eq(sent[i].status, i == 3 ? -ECANCELED : 0);
		free(out[i]);
	}
	ck_assert_int_eq(rmx_ep_state(pp.server), RMX_EP_CONNECTED);
	free(seen.taken);
	pt_close(&pp);
}
END_TEST

/* Messages that waited go to a callback set later, from progress. */
START_TEST(am_callback_set_later)
{
	struct am_seen seen = { 0 };
	uint8_t out[2][40];
	struct pt_pair pp;
	int i;

	pt_setup();
	pt_open(&pp, true, NULL);
	for (i = 0; i < 2; i++) {
		lab_fill(out[i], 40, seed_of(i + 1));
		ck_assert_int_eq(rmx_send(pp.client, out[i], 40, NULL, NULL),
				 0);
	}
	pt_settle(&pp);
	ck_assert_int_eq(seen.n, 0);
	ck_assert_int_eq(rmx_ep_set_am_cb(pp.server, on_am, &seen), 0);
	ck_assert_int_eq(seen.n, 0);
	ck_assert_int_eq(rmx_arm(pp.sctx), -EAGAIN);
	pt_settle(&pp);
	ck_assert_int_eq(seen.n, 2);
	ck_assert(seen.data_ok[0] && seen.data_ok[1]);
	pt_close(&pp);
}
END_TEST

/*
 * Posted while connecting, sized against the limit agreed only later:
 * the server's RMX_EAGER_MAX is 128, so 200 bytes go by rendezvous.
 */
START_TEST(posted_while_connecting)
{
	static const char *const small_eager[] = { "RMX_EAGER_MAX=128", NULL };
	struct xfer x[2];
	struct pt_pair pp;
	size_t max;
	int i;

	pt_setup();
	pt_start(&pp, true, small_eager);
	ck_assert_int_eq(rmx_ep_state(pp.client), RMX_EP_CONNECTING);
	ck_assert_int_eq(rmx_ep_max_msg(pp.client, &max), 0);
	ck_assert_uint_eq(max, 256);	/* ours, until the peer's is known */
	xfer_init(&x[0], 0, 200, 200);
	xfer_init(&x[1], 1, 100, 200);
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(rmx_send(pp.client, x[i].out, x[i].size,
					  lab_comp_cb, &x[i].sent), 0);
	pt_wait_count(&pp, &pp.accepts, 1, 2000);
	ck_assert_int_eq(rmx_ep_max_msg(pp.server, &max), 0);
	ck_assert_uint_eq(max, 128);
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(rmx_recv(pp.server, x[i].in, x[i].cap,
					  lab_comp_cb, &x[i].got), 0);
	pt_wait_count(&pp, &x[0].sent.done, 1, 2000);
	pt_wait_count(&pp, &x[1].got.done, 1, 2000);
	pt_settle(&pp);
	ck_assert_int_eq(rmx_ep_max_msg(pp.client, &max), 0);
	ck_assert_uint_eq(max, 128);
	for (i = 0; i < 2; i++) {
		xfer_check(&x[i], i);
		xfer_free(&x[i]);
	}
	ck_assert_uint_eq(loop_stats.reads, 1);
	ck_assert_int_eq(pp.cev.count[RMX_EP_EVENT_CONNECTED], 1);
	pt_close(&pp);
}
END_TEST

/* The rendezvous request a sender's messages carried, seen in flight. */
struct offer {
	bool seen;
	struct rmx__rts rts;
};

static bool catch_rts(void *arg, uint8_t *msg, uint32_t *len)
{
	struct offer *o = arg;
	struct rmx__wire_hdr h;

	if (!rmx__wire_parse(msg, *len, 1 << 20, &h) &&
	    h.type == RMX__MSG_RTS) {
		rmx__rts_unpack(msg + RMX__WIRE_HDR_SIZE, &o->rts);
		o->seen = true;
	}
	return true;
}

/*
 * RMX_RNDV_EXACT (on by default): the key a rendezvous offers reads
 * exactly the message, and dies when the receiver acknowledged it, before
 * the sender's completion; off, the cached region's key outlives it.
 */
static void offered_key(bool exact)
{
	uint8_t *msg = malloc(4096), *in = malloc(4096), *again = malloc(4096);
	struct lab_comp sent = { 0 }, got = { 0 }, reread = { 0 };
	struct offer o = { 0 };
	struct pt_pair pp;
	rmx_remote_t r;

	pt_setup();
	setenv("RMX_RNDV_EXACT", exact ? "on" : "off", 1);
	pt_open(&pp, true, NULL);
	loop_tamper(pt_conn(pp.client), catch_rts, &o);
	lab_fill(msg, 4096, 7);
	ck_assert_int_eq(rmx_recv(pp.server, in, 4096, lab_comp_cb, &got), 0);
	ck_assert_int_eq(rmx_send(pp.client, msg, 4096, lab_comp_cb, &sent), 0);
	pt_wait_count(&pp, &sent.done, 1, 2000);
	ck_assert_int_eq(sent.status, 0);
	ck_assert(o.seen);
	ck_assert_uint_eq(o.rts.addr, (uintptr_t)msg);
	ck_assert_uint_eq(o.rts.len, 4096);
	/* The receiver reads again what it was offered, afterwards. */
	r = (rmx_remote_t){ .addr = o.rts.addr, .len = o.rts.len,
			    .key = o.rts.rkey };
	ck_assert_int_eq(rmx_get(pp.server, again, 4096, &r, 0, lab_comp_cb,
				 &reread), 0);
	pt_wait_count(&pp, &reread.done, 1, 2000);
	pt_settle(&pp);
	ck_assert_int_eq(reread.done, 1);
	if (exact) {
		ck_assert_int_eq(reread.status, -EACCES);
		ck_assert_int_eq(pp.sev.count[RMX_EP_EVENT_CLOSED], 1);
		ck_assert_int_eq(pp.sev.status, -EACCES);
	} else {
		ck_assert_int_eq(reread.status, 0);
		ck_assert_uint_eq(lab_check(again, 4096, 7), 4096);
	}
	ck_assert_uint_eq(lab_check(in, 4096, 7), 4096);
	pt_close(&pp);
	free(msg);
	free(in);
	free(again);
}

START_TEST(offered_key_dies_with_the_send)
{
	offered_key(true);
}
END_TEST

START_TEST(offered_key_cached_when_not_exact)
{
	offered_key(false);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("proto_msg");
	TCase *tc = tcase_create("msg");

	tcase_add_test(tc, connect_data_reaches_the_acceptor);
	tcase_add_test(tc, eager_in_order);
	tcase_add_test(tc, rendezvous_threshold);
	tcase_add_test(tc, mixed_paths_match_in_order);
	tcase_add_test(tc, receive_too_small_eager);
	tcase_add_test(tc, receive_too_small_rendezvous);
	tcase_add_test(tc, slow_receiver_holds_sender);
	tcase_add_test(tc, credits_flow_both_ways);
	tcase_add_test(tc, active_messages);
	tcase_add_test(tc, am_callback_set_later);
	tcase_add_test(tc, posted_while_connecting);
	tcase_add_test(tc, offered_key_dies_with_the_send);
	tcase_add_test(tc, offered_key_cached_when_not_exact);
	suite_add_tcase(s, tc);
	return s;
}
