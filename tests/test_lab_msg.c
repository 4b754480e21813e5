// SPDX-License-Identifier: BSD-2-Clause
/* Two-sided messages against a real device, every byte checked. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "lab.h"

#define NMSG 1000

struct stream {
	uint8_t *bufs;		/* NMSG receive buffers of max bytes */
	struct lab_comp *comps;
	size_t *sizes;
	size_t max;
};

static size_t size_of(unsigned int i, size_t max)
{
	/* Edges first, then a spread: 0, 1, max, max - 1, ... */
	static const size_t edge[] = { 0, 1, 2, 15, 16, 17, 63, 64, 65 };

	if (i < sizeof(edge) / sizeof(edge[0]))
		return edge[i];
	if (i % 97 == 0)
		return max;
	return ((size_t)i * 7919u) % (max + 1);
}

static void stream_run(struct lab_pair *lp, rmx_ep_t *from, rmx_ep_t *to,
		       uint32_t seed_base)
{
	struct lab_comp *sent = calloc(NMSG, sizeof(*sent));
	struct stream rx;
	uint8_t *src;
	size_t max;
	unsigned int i;
	int all;

	ck_assert_int_eq(rmx_ep_max_msg(from, &max), 0);
	ck_assert_uint_ge(max, 1024);
	rx.max = max;
	rx.bufs = malloc(NMSG * max);
	rx.comps = calloc(NMSG, sizeof(*rx.comps));
	rx.sizes = calloc(NMSG, sizeof(*rx.sizes));
	src = malloc(NMSG * max);
	ck_assert_ptr_nonnull(sent);
	ck_assert_ptr_nonnull(rx.bufs);
	ck_assert_ptr_nonnull(src);
	memset(rx.bufs, 0xee, NMSG * max);

	/* Receives are posted in halves: some messages wait for them. */
	for (i = 0; i < NMSG / 2; i++)
		ck_assert_int_eq(rmx_recv(to, rx.bufs + i * max, max,
					  lab_comp_cb, &rx.comps[i]),
				 0);
	for (i = 0; i < NMSG; i++) {
		rx.sizes[i] = size_of(i, max);
		lab_fill(src + i * max, rx.sizes[i], seed_base + i);
		ck_assert_int_eq(rmx_send(from, src + i * max, rx.sizes[i],
					  lab_comp_cb, &sent[i]),
				 0);
	}
	lab_wait_flag(lp->ctx, &rx.comps[NMSG / 2 - 1].done, 30000);
	for (i = NMSG / 2; i < NMSG; i++)
		ck_assert_int_eq(rmx_recv(to, rx.bufs + i * max, max,
					  lab_comp_cb, &rx.comps[i]),
				 0);
	lab_wait_flag(lp->ctx, &rx.comps[NMSG - 1].done, 30000);
	lab_wait_flag(lp->ctx, &sent[NMSG - 1].done, 30000);

	for (i = 0, all = 1; i < NMSG; i++) {
		const uint8_t *b = rx.bufs + i * max;

		ck_assert_int_eq(sent[i].done, 1);
		ck_assert_int_eq(sent[i].status, 0);
		ck_assert_int_eq(rx.comps[i].done, 1);
		ck_assert_int_eq(rx.comps[i].status, 0);
		ck_assert_uint_eq(rx.comps[i].len, rx.sizes[i]);
		ck_assert_msg(lab_check(b, rx.sizes[i], seed_base + i) ==
				      rx.sizes[i],
			      "message %u corrupted", i);
		/* Nothing was written past the message. */
		if (rx.sizes[i] < max)
			all &= b[rx.sizes[i]] == 0xee;
	}
	ck_assert_msg(all, "bytes written past a message's end");
	free(src);
	free(sent);
	free(rx.bufs);
	free(rx.comps);
	free(rx.sizes);
}

START_TEST(thousand_messages_each_way)
{
	struct lab_pair lp;

	lab_pair_open(&lp);
	stream_run(&lp, lp.client, lp.server, 1000);
	stream_run(&lp, lp.server, lp.client, 5000);
	lab_pair_close(&lp);
}
END_TEST

START_TEST(receive_too_small)
{
	struct lab_comp s1 = { 0 }, s2 = { 0 }, r1 = { 0 }, r2 = { 0 };
	uint8_t big[256], small[64 + 8], next[32];
	struct lab_pair lp;

	lab_pair_open(&lp);
	lab_fill(big, sizeof(big), 7);
	memset(small, 0x5a, sizeof(small));
	ck_assert_int_eq(rmx_recv(lp.server, small, 64, lab_comp_cb, &r1), 0);
	ck_assert_int_eq(rmx_recv(lp.server, next, sizeof(next), lab_comp_cb,
				  &r2),
			 0);
	ck_assert_int_eq(rmx_send(lp.client, big, sizeof(big), lab_comp_cb, &s1),
			 0);
	ck_assert_int_eq(rmx_send(lp.client, big, sizeof(next), lab_comp_cb,
				  &s2),
			 0);
	lab_wait_flag(lp.ctx, &r2.done, 5000);
	ck_assert_int_eq(r1.status, -EMSGSIZE);
	ck_assert_uint_eq(r1.len, sizeof(big));
	for (size_t i = 0; i < sizeof(small); i++)
		ck_assert_uint_eq(small[i], 0x5a);
	/* The stream goes on after the refused message. */
	ck_assert_int_eq(r2.status, 0);
	ck_assert_uint_eq(r2.len, sizeof(next));
	ck_assert_uint_eq(lab_check(next, sizeof(next), 7), sizeof(next));
	lab_wait_flag(lp.ctx, &s2.done, 5000);
	ck_assert_int_eq(s1.status, 0);
	lab_pair_close(&lp);
}
END_TEST

START_TEST(oversize_and_bad_args)
{
	struct lab_pair lp;
	size_t max;
	char *big;

	lab_pair_open(&lp);
	ck_assert_int_eq(rmx_ep_max_msg(lp.client, &max), 0);
	big = calloc(1, max + 1);
	ck_assert_int_eq(rmx_send(lp.client, NULL, 4, NULL, NULL), -EINVAL);
	ck_assert_int_eq(rmx_send(NULL, big, 4, NULL, NULL), -EINVAL);
	ck_assert_int_eq(rmx_recv(lp.client, big, 4, NULL, NULL), -EINVAL);
	ck_assert_int_eq(rmx_recv(lp.client, NULL, 4, lab_comp_cb, NULL),
			 -EINVAL);
	/* The endpoint still works after refusing all that. */
	ck_assert_int_eq(rmx_ep_state(lp.client), RMX_EP_CONNECTED);
	free(big);
	lab_pair_close(&lp);
}
END_TEST

START_TEST(slow_receiver_holds_sender)
{
	/* Defaults: 64 receive buffers, one kept for credit messages. */
	enum { N = 400, SZ = 100, PEER_RX = 64 };
	struct lab_comp *sent = calloc(N, sizeof(*sent));
	struct lab_comp *got = calloc(N, sizeof(*got));
	uint8_t *src = malloc((size_t)N * SZ), *dst = malloc((size_t)N * SZ);
	struct lab_pair lp;
	int i, done = 0;

	lab_pair_open(&lp);
	for (i = 0; i < N; i++) {
		lab_fill(src + (size_t)i * SZ, SZ, (uint32_t)i);
		ck_assert_int_eq(rmx_send(lp.client, src + (size_t)i * SZ, SZ,
					  lab_comp_cb, &sent[i]),
				 0);
	}
	/* Nobody receives: without credits the device would retry RNR and fail. */
	lab_spin(lp.ctx, 1500);
	for (i = 0; i < N; i++)
		done += sent[i].done;
	ck_assert_msg(done <= PEER_RX - 1, "%d sends went out to 63 buffers", done);
	ck_assert_int_ge(done, PEER_RX / 2);
	ck_assert_int_eq(rmx_ep_state(lp.client), RMX_EP_CONNECTED);
	/* Receiving slowly, a few at a time, lets everything through. */
	for (i = 0; i < N; i++) {
		ck_assert_int_eq(rmx_recv(lp.server, dst + (size_t)i * SZ, SZ,
					  lab_comp_cb, &got[i]),
				 0);
		if (i % 50 == 49)
			lab_spin(lp.ctx, 20);
	}
	lab_wait_flag(lp.ctx, &got[N - 1].done, 30000);
	lab_wait_flag(lp.ctx, &sent[N - 1].done, 30000);
	for (i = 0; i < N; i++) {
		ck_assert_int_eq(sent[i].status, 0);
		ck_assert_int_eq(got[i].status, 0);
		ck_assert_uint_eq(lab_check(dst + (size_t)i * SZ, SZ, (uint32_t)i),
				  SZ);
	}
	lab_pair_close(&lp);
	free(sent);
	free(got);
	free(src);
	free(dst);
}
END_TEST

START_TEST(credits_flow_both_ways_idle_reverse)
{
	/*
	 * One direction only, far more messages than buffers: credits must
	 * come back in credit messages, since the receiver sends nothing.
	 */
	enum { N = 2000, SZ = 32 };
	struct lab_comp got = { 0 }, sent = { 0 };
	struct lab_pair lp;
	uint8_t msg[SZ], buf[SZ];
	int i;

	lab_pair_open(&lp);
	for (i = 0; i < N; i++) {
		memset(msg, i & 0xff, SZ);
		got.done = sent.done = 0;
		ck_assert_int_eq(rmx_recv(lp.server, buf, SZ, lab_comp_cb, &got), 0);
		ck_assert_int_eq(rmx_send(lp.client, msg, SZ, lab_comp_cb, &sent), 0);
		lab_wait_flag(lp.ctx, &got.done, 5000);
		ck_assert_int_eq(got.status, 0);
		ck_assert_uint_eq(buf[SZ - 1], i & 0xff);
	}
	lab_wait_flag(lp.ctx, &sent.done, 5000);
	lab_pair_close(&lp);
}
END_TEST

/* Sizes on both sides of the eager limit, and far past it. */
#define NRNDV 8
static size_t rndv_sizes[NRNDV];

static void rndv_sizes_for(rmx_ep_t *ep)
{
	size_t max, i = 0;

	ck_assert_int_eq(rmx_ep_max_msg(ep, &max), 0);
	rndv_sizes[i++] = max - 1;
	rndv_sizes[i++] = max;
	rndv_sizes[i++] = max + 1;
	rndv_sizes[i++] = 4 * max + 3;
	rndv_sizes[i++] = 1 << 20;
	rndv_sizes[i++] = (4u << 20) + 17;
	rndv_sizes[i++] = (9u << 20) + 1;
	rndv_sizes[i++] = 100;
}

struct rndv_dir {
	rmx_ep_t *from, *to;
	uint32_t seed;
	struct lab_comp sent[NRNDV], got[NRNDV];
	uint8_t *src[NRNDV], *dst[NRNDV];
};

static void rndv_post(struct rndv_dir *d)
{
	size_t i;

	for (i = 0; i < NRNDV; i++) {
		d->src[i] = malloc(rndv_sizes[i]);
		d->dst[i] = malloc(rndv_sizes[i] + 1);
		lab_fill(d->src[i], rndv_sizes[i], d->seed + (uint32_t)i);
		d->dst[i][rndv_sizes[i]] = 0x5c;
		ck_assert_int_eq(rmx_recv(d->to, d->dst[i], rndv_sizes[i],
					  lab_comp_cb, &d->got[i]),
				 0);
	}
	for (i = 0; i < NRNDV; i++)
		ck_assert_int_eq(rmx_send(d->from, d->src[i], rndv_sizes[i],
					  lab_comp_cb, &d->sent[i]),
				 0);
}

static void rndv_check(struct lab_pair *lp, struct rndv_dir *d)
{
	size_t i;

	/*
	 * Receives match in order, but a read-in message completes after
	 * smaller ones matched later: wait for each.
	 */
	for (i = 0; i < NRNDV; i++) {
		lab_wait_flag(lp->ctx, &d->got[i].done, 60000);
		lab_wait_flag(lp->ctx, &d->sent[i].done, 60000);
	}
	for (i = 0; i < NRNDV; i++) {
		size_t n = rndv_sizes[i];

		ck_assert_int_eq(d->sent[i].status, 0);
		ck_assert_int_eq(d->got[i].status, 0);
		ck_assert_uint_eq(d->got[i].len, n);
		ck_assert_msg(lab_check(d->dst[i], n, d->seed + (uint32_t)i) == n,
			      "%zu-byte message corrupted", n);
		ck_assert_uint_eq(d->dst[i][n], 0x5c);
		free(d->src[i]);
		free(d->dst[i]);
	}
}

START_TEST(rendezvous_across_threshold_both_ways)
{
	static struct rndv_dir up, down;
	struct lab_pair lp;

	lab_pair_open(&lp);
	rndv_sizes_for(lp.client);
	up = (struct rndv_dir){ .from = lp.client, .to = lp.server, .seed = 7 };
	down = (struct rndv_dir){ .from = lp.server, .to = lp.client,
				  .seed = 70 };
	/* Both directions at once, eager and rendezvous interleaved. */
	rndv_post(&up);
	rndv_post(&down);
	rndv_check(&lp, &up);
	rndv_check(&lp, &down);
	lab_pair_close(&lp);
}
END_TEST

START_TEST(rendezvous_receive_too_small)
{
	struct lab_comp s1 = { 0 }, s2 = { 0 }, r1 = { 0 }, r2 = { 0 };
	size_t big = 1u << 20;
	uint8_t *src = malloc(big), *small = malloc(4096), *next = malloc(big);
	struct lab_pair lp;
	size_t i;

	lab_pair_open(&lp);
	lab_fill(src, big, 3);
	memset(small, 0x5a, 4096);
	ck_assert_int_eq(rmx_recv(lp.server, small, 4096, lab_comp_cb, &r1), 0);
	ck_assert_int_eq(rmx_recv(lp.server, next, big, lab_comp_cb, &r2), 0);
	ck_assert_int_eq(rmx_send(lp.client, src, big, lab_comp_cb, &s1), 0);
	ck_assert_int_eq(rmx_send(lp.client, src, big, lab_comp_cb, &s2), 0);
	lab_wait_flag(lp.ctx, &s2.done, 30000);
	lab_wait_flag(lp.ctx, &r2.done, 30000);
	/* Both sides hear why; nothing lands in the small buffer. */
	ck_assert_int_eq(r1.status, -EMSGSIZE);
	ck_assert_uint_eq(r1.len, big);
	ck_assert_int_eq(s1.status, -EMSGSIZE);
	for (i = 0; i < 4096; i++)
		ck_assert_uint_eq(small[i], 0x5a);
	/* The next one goes through whole. */
	ck_assert_int_eq(s2.status, 0);
	ck_assert_int_eq(r2.status, 0);
	ck_assert_uint_eq(lab_check(next, big, 3), big);
	ck_assert_int_eq(rmx_ep_state(lp.client), RMX_EP_CONNECTED);
	lab_pair_close(&lp);
	free(src);
	free(small);
	free(next);
}
END_TEST

struct am_log {
	int count;
	size_t len[8];
	uint8_t *data[8];	/* copies of eager data */
	int take;		/* rmx_am_recv() rendezvous ones */
	uint8_t *into;
	struct lab_comp read;
	int am_recv_ret;
};

static void on_am(void *arg, rmx_am_t *msg, const void *data, size_t len)
{
	struct am_log *l = arg;
	int i = l->count++;

	l->len[i] = len;
	if (data) {
		l->data[i] = malloc(len + 1);
		memcpy(l->data[i], data, len);
	} else if (l->take) {
		l->am_recv_ret = rmx_am_recv(msg, l->into, len, lab_comp_cb,
					     &l->read);
	}
}

START_TEST(active_messages)
{
	static struct am_log log;
	struct lab_comp s[5] = { 0 }, posted = { 0 };
	size_t max, big = 3u << 20;
	uint8_t *src, small[64];
	struct lab_pair lp;
	int i;

	lab_pair_open(&lp);
	ck_assert_int_eq(rmx_ep_max_msg(lp.client, &max), 0);
	src = malloc(big);
	lab_fill(src, big, 11);
	memset(&log, 0, sizeof(log));
	log.take = 1;
	log.into = malloc(big);
	ck_assert_int_eq(rmx_ep_set_am_cb(lp.server, on_am, &log), 0);
	/* A posted receive still comes first. */
	ck_assert_int_eq(rmx_recv(lp.server, small, sizeof(small), lab_comp_cb,
				  &posted),
			 0);
	ck_assert_int_eq(rmx_send(lp.client, src, 10, lab_comp_cb, &s[0]), 0);
	ck_assert_int_eq(rmx_send(lp.client, src, 0, lab_comp_cb, &s[1]), 0);
	ck_assert_int_eq(rmx_send(lp.client, src, max, lab_comp_cb, &s[2]), 0);
	ck_assert_int_eq(rmx_send(lp.client, src, big, lab_comp_cb, &s[3]), 0);
	for (i = 0; i < 4; i++)
		lab_wait_flag(lp.ctx, &s[i].done, 30000);
	lab_wait_flag(lp.ctx, &log.read.done, 30000);
	ck_assert_int_eq(posted.status, 0);
	ck_assert_uint_eq(posted.len, 10);
	ck_assert_int_eq(log.count, 3);
	ck_assert_uint_eq(log.len[0], 0);
	ck_assert_uint_eq(log.len[1], max);
	ck_assert_uint_eq(lab_check(log.data[1], max, 11), max);
	/* The rendezvous one came without data and was read in. */
	ck_assert_uint_eq(log.len[2], big);
	ck_assert_ptr_null(log.data[2]);
	ck_assert_int_eq(log.am_recv_ret, 0);
	ck_assert_int_eq(log.read.status, 0);
	ck_assert_uint_eq(log.read.len, big);
	ck_assert_uint_eq(lab_check(log.into, big, 11), big);
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(s[i].status, 0);
	/* Left untaken: the sender hears it was dropped. */
	log.take = 0;
	ck_assert_int_eq(rmx_send(lp.client, src, big, lab_comp_cb, &s[4]), 0);
	lab_wait_flag(lp.ctx, &s[4].done, 30000);
	ck_assert_int_eq(s[4].status, -ECANCELED);
	ck_assert_int_eq(log.count, 4);
	ck_assert_int_eq(rmx_ep_state(lp.client), RMX_EP_CONNECTED);
	for (i = 0; i < 4; i++)
		free(log.data[i]);
	free(log.into);
	free(src);
	lab_pair_close(&lp);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("lab_msg");
	TCase *tc = tcase_create("msg");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, thousand_messages_each_way);
	tcase_add_test(tc, receive_too_small);
	tcase_add_test(tc, oversize_and_bad_args);
	tcase_add_test(tc, slow_receiver_holds_sender);
	tcase_add_test(tc, credits_flow_both_ways_idle_reverse);
	tcase_add_test(tc, rendezvous_across_threshold_both_ways);
	tcase_add_test(tc, rendezvous_receive_too_small);
	tcase_add_test(tc, active_messages);
	suite_add_tcase(s, tc);
	return s;
}
