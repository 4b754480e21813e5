// SPDX-License-Identifier: BSD-2-Clause
/*
 * The message buffers a context's endpoints share: receive credits lent
 * to a busy peer and taken back for another, exact all along (the loop
 * transport fails any send that finds no receive posted); the pinned
 * part that grows with the endpoints; buffers of a destroyed connection.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "proto/pool.h"
#include "proto/wire.h"
#include "proto_test.h"

#define MANY 40
#define SMALL 64

static uint32_t seed_of(int who, int i)
{
	return 7000u * (uint32_t)who + (uint32_t)i;
}

struct sender {
	uint8_t out[MANY][SMALL], in[MANY][SMALL];
	struct lab_comp sent[MANY], got[MANY];
};

static void send_all(rmx_ep_t *ep, struct sender *s, int who)
{
	int i;

	memset(s->sent, 0, sizeof(s->sent));
	memset(s->got, 0, sizeof(s->got));
	for (i = 0; i < MANY; i++) {
		lab_fill(s->out[i], SMALL, seed_of(who, i));
		ck_assert_int_eq(rmx_send(ep, s->out[i], SMALL, lab_comp_cb,
					  &s->sent[i]), 0);
	}
}

static int count_sent(const struct sender *s)
{
	int i, n = 0;

	for (i = 0; i < MANY; i++)
		n += s->sent[i].done;
	return n;
}

/* Receives every message, in order, and checks each byte and status. */
static void receive_all(struct pt_pair *pp, rmx_ep_t *ep, struct sender *s,
			int who, int from)
{
	int i;

	for (i = from; i < MANY; i++) {
		ck_assert_int_eq(rmx_recv(ep, s->in[i], SMALL, lab_comp_cb,
					  &s->got[i]), 0);
		pt_wait_count(pp, &s->got[i].done, 1, 2000);
	}
	pt_settle(pp);
	for (i = 0; i < MANY; i++) {
		ck_assert_int_eq(s->sent[i].done, 1);
		ck_assert_int_eq(s->sent[i].status, 0);
		ck_assert_int_eq(s->got[i].status, 0);
		ck_assert_uint_eq(lab_check(s->in[i], SMALL, seed_of(who, i)),
				  SMALL);
	}
}

/*
 * A peer that runs out of credits is busy: it is lent buffers three at
 * a time up to RMX_RX_DEPTH. Without lending it would stop at its grant
 * of 3, less the credit kept for credit messages: two messages.
 */
START_TEST(busy_peer_is_lent_up_to_rx_depth)
{
	static const char *const env[] = { "RMX_RX_GRANT=3", "RMX_RX_DEPTH=16",
					   NULL };
	static struct sender s;
	struct pt_pair pp;

	pt_setup();
	pt_open(&pp, true, env);
	send_all(pp.client, &s, 1);
	pt_settle(&pp);
	/* 3 + 3 + 3 + 3 + 3 + 1: the last one is not worth a message yet. */
	ck_assert_int_eq(count_sent(&s), 16 - 1 - 1);
	receive_all(&pp, pp.server, &s, 1, 0);
	ck_assert_uint_eq(loop_stats.rnr, 0);
	pt_close(&pp);
}
END_TEST

/*
 * The spare is all lent to one busy peer; a second one waits. As the
 * first one's messages are received, its lent buffers go to the second,
 * not back to it, and reach it in pairs (credits go two at a time).
 * Without that the second would send two messages and no more until
 * the first drained completely.
 */
START_TEST(lent_buffers_go_to_a_waiting_peer)
{
	static const char *const env[] = { "RMX_RX_GRANT=3", "RMX_RX_DEPTH=16",
					   "RMX_RX_POOL=0", NULL };
	static struct sender a, b;
	struct rmx_ep_params params = { 0 };
	rmx_ep_t *ca, *cb, *sa, *sb;
	struct pt_pair pp;
	char addr[64];
	int i, before;

	pt_setup();
	pt_open(&pp, true, env);
	ca = pp.client;
	sa = pp.server;
	snprintf(addr, sizeof(addr), "192.0.2.1:%d",
		 rmx_listener_port(pp.listener));
	ck_assert_int_eq(rmx_connect(pp.cctx, addr, &params, &cb), 0);
	pt_wait_count(&pp, &pp.accepts, 2, 2000);
	sb = pp.server;
	ck_assert_ptr_ne(sa, sb);
	/*
	 * One block of 16: 3 + 3 granted, 10 to lend, three at a time: the
	 * last one alone is not worth a credit message yet.
	 */
	send_all(ca, &a, 1);
	pt_settle(&pp);
	ck_assert_int_eq(count_sent(&a), 3 + 9 - 1);
	send_all(cb, &b, 2);
	pt_settle(&pp);
	ck_assert_int_eq(count_sent(&b), 3 - 1);
	/* Half of A's messages received: their buffers are B's now. */
	for (i = 0; i < 8; i++) {
		ck_assert_int_eq(rmx_recv(sa, a.in[i], SMALL, lab_comp_cb,
					  &a.got[i]), 0);
		pt_wait_count(&pp, &a.got[i].done, 1, 2000);
	}
	pt_settle(&pp);
	before = count_sent(&b);
	ck_assert_int_ge(before, 2 + 8 - 2);
	receive_all(&pp, sa, &a, 1, 8);
	receive_all(&pp, sb, &b, 2, 0);
	ck_assert_uint_eq(loop_stats.rnr, 0);
	rmx_ep_destroy(cb);
	rmx_ep_destroy(sb);
	pp.server = sa;
	pt_close(&pp);
}
END_TEST

/* The numbers in RMX_STATS' line: endpoints, receive and send bytes. */
static void read_pinned(const char *path, unsigned long *eps,
			unsigned long *rx, unsigned long *tx)
{
	char line[1024], *at;
	FILE *f = fopen(path, "r");
	int found = 0;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		at = strstr(line, "in the message buffers ");
		if (!at)
			continue;
		ck_assert_int_eq(sscanf(at, "in the message buffers %lu endpoints still open share (%lu receive, %lu send)",
					eps, rx, tx), 3);
		found++;
	}
	fclose(f);
	ck_assert_int_eq(found, 1);
}

/*
 * Pinned memory is the context's spare plus RMX_RX_GRANT buffers an
 * endpoint, in blocks of 16, and a block of send buffers: nine accepted
 * endpoints with a grant of 4 and a spare of 16 pin 16 + 9 * 4 = 52,
 * so 64 receive buffers, not nine endpoints' RMX_RX_DEPTH each.
 */
START_TEST(pinned_grows_by_the_grant)
{
	static const char *const env[] = { "RMX_RX_GRANT=4", "RMX_RX_POOL=16",
					   "RMX_RX_DEPTH=64", "RMX_STATS=1",
					   NULL };
	const unsigned long buf = RMX__WIRE_HDR_SIZE + 256;	/* RMX_EAGER_MAX */
	char path[] = "/tmp/rmx-pool-XXXXXX";
	int fd = mkstemp(path), saved = dup(2), i;
	struct rmx_ep_params params = { 0 };
	unsigned long eps, rx, tx;
	rmx_ep_t *more[8];
	struct pt_pair pp;
	char addr[64];

	ck_assert_int_ge(fd, 0);
	pt_setup();
	pt_open(&pp, true, env);
	snprintf(addr, sizeof(addr), "192.0.2.1:%d",
		 rmx_listener_port(pp.listener));
	for (i = 0; i < 8; i++)
		ck_assert_int_eq(rmx_connect(pp.cctx, addr, &params, &more[i]),
				 0);
	pt_wait_count(&pp, &pp.accepts, 9, 2000);
	dup2(fd, 2);
	rmx_context_destroy(pp.sctx);
	fflush(stderr);
	dup2(saved, 2);
	read_pinned(path, &eps, &rx, &tx);
	unlink(path);
	ck_assert_uint_eq(eps, 9);
	ck_assert_uint_eq(rx, 64 * buf);
	ck_assert_uint_eq(tx, 16 * buf);
	for (i = 0; i < 8; i++)
		rmx_ep_destroy(more[i]);
	rmx_ep_destroy(pp.client);
	rmx_context_destroy(pp.cctx);
	ck_assert_uint_eq(loop_stats.mr_live, 0);
}
END_TEST

/*
 * A connection destroyed at once (a rendezvous send is still offered,
 * so no goodbye can wait) while the peer's messages have landed: their
 * receives complete naming no connection and go back to the queue, so
 * the next connection's peer finds every receive its credits promise.
 * Once all is received, every buffer of the pool is posted again.
 */
START_TEST(buffers_of_a_destroyed_connection_come_back)
{
	static const char *const env[] = { "RMX_RX_GRANT=8", "RMX_RX_DEPTH=8",
					   "RMX_RX_POOL=0", NULL };
	static struct sender s, t;
	static uint8_t big[4096];
	struct rmx_ep_params params = { 0 };
	struct lab_comp offered;
	struct pt_pair pp;
	char addr[64];
	rmx_ep_t *c2;
	int round;

	pt_setup();
	pt_open(&pp, true, env);
	snprintf(addr, sizeof(addr), "192.0.2.1:%d",
		 rmx_listener_port(pp.listener));
	for (round = 0; round < 3; round++) {
		memset(&offered, 0, sizeof(offered));
		ck_assert_int_eq(rmx_send(pp.server, big, sizeof(big),
					  lab_comp_cb, &offered), 0);
		send_all(pp.client, &s, 1);
		rmx_progress(pp.cctx);
		rmx_ep_destroy(pp.server);
		pt_settle(&pp);
		ck_assert_int_eq(offered.done, 1);
		rmx_ep_destroy(pp.client);
		ck_assert_int_eq(rmx_connect(pp.cctx, addr, &params, &c2), 0);
		pt_wait_count(&pp, &pp.accepts, round + 2, 2000);
		pp.client = c2;
		send_all(pp.client, &t, 2);
		receive_all(&pp, pp.server, &t, 2, 0);
		ck_assert_uint_eq(loop_recv_posted(pt_tp(pp.sctx)) %
					  RMX__POOL_BLOCK, 0);
		ck_assert_uint_ge(loop_recv_posted(pt_tp(pp.sctx)), 16);
	}
	ck_assert_uint_eq(loop_stats.rnr, 0);
	pt_close(&pp);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("proto_pool");
	TCase *tc = tcase_create("pool");

	tcase_add_test(tc, busy_peer_is_lent_up_to_rx_depth);
	tcase_add_test(tc, lent_buffers_go_to_a_waiting_peer);
	tcase_add_test(tc, pinned_grows_by_the_grant);
	tcase_add_test(tc, buffers_of_a_destroyed_connection_come_back);
	suite_add_tcase(s, tc);
	return s;
}
