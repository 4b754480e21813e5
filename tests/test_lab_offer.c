// SPDX-License-Identifier: BSD-2-Clause
/*
 * A peer may read only what it was offered, and only until it said it
 * was done. A malicious peer (a second context in this process, linked
 * with rmx's internals to see the raw rendezvous request) gets the
 * address and key a rendezvous send offers and reads outside the range
 * while the message is pending, then reads the range again after the
 * send completed. Both reads must fail with a remote access error and
 * bring back none of the victim's bytes; the victim's other connection
 * keeps carrying checked data. The offered message sits inside a larger
 * buffer the victim sent before, so that the cache holds a registration
 * covering its neighbours: the key of that registration would leak them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "check_main.h"
#include "lab.h"
#include "proto/proto.h"
#include "proto/wire.h"

#define MIB (1024 * 1024)
#define BIG (4 * MIB)			/* the victim's buffer */
#define MSG_OFF (2 * MIB)		/* the message inside it */
#define MSG_LEN (1 * MIB)
#define SPY 4096			/* what the attacker tries to read */

struct attacker {
	rmx_context_t *ctx;
	rmx_ep_t *ep;
	struct lab_events ev;
	struct rmx__rts rts;	/* as offered */
	int offers;
	bool take;		/* read the message in as offered */
	bool spy_now;		/* also read outside it, from the callback */
	uint8_t *into;		/* MSG_LEN */
	uint8_t *spy;		/* SPY */
	struct lab_comp read, spied;
};

struct victim {
	struct lab_pair lp;	/* an honest connection of its own */
	rmx_ep_t *honest;	/* lp.server, kept: lp accepts the attacker too */
	rmx_ep_t *from_attacker;
	uint8_t *big;
};

/* Progresses both contexts until *count reaches want; fails after ms. */
static void wait_both(rmx_context_t *a, rmx_context_t *b,
		      const volatile int *count, int want, int ms)
{
	int i;

	for (i = 0; i < ms && *count < want; i++) {
		lab_spin(a, 1);
		if (rmx_progress(b) < 0)
			break;
	}
	ck_assert_msg(*count >= want, "timed out after %d ms", ms);
}

static void spin_both(rmx_context_t *a, rmx_context_t *b,
		      const volatile int *flag, int ms)
{
	wait_both(a, b, flag, 1, ms);
}

static void spy_outside(struct attacker *a, uint64_t addr)
{
	rmx_remote_t forged = { .addr = addr, .len = SPY,
				.key = a->rts.rkey };

	memset(a->spy, 0, SPY);
	ck_assert_int_eq(rmx_get(a->ep, a->spy, SPY, &forged, 0, lab_comp_cb,
				 &a->spied),
			 0);
}

static void on_offer(void *arg, rmx_am_t *msg, const void *data, size_t len)
{
	struct attacker *a = arg;

	ck_assert_ptr_null(data);
	ck_assert_uint_eq(len, MSG_LEN);
	rmx__rts_unpack(((struct rmx__op *)msg)->ctrl, &a->rts);
	a->offers++;
	if (a->take)
		ck_assert_int_eq(rmx_am_recv(msg, a->into, len, lab_comp_cb,
					     &a->read),
				 0);
	/* The page before the offered range: the victim's secret. */
	if (a->spy_now)
		spy_outside(a, a->rts.addr - SPY);
}

static void victim_open(struct victim *v)
{
	struct lab_comp s = { 0 }, r = { 0 };
	uint8_t *sink = malloc(BIG);

	memset(v, 0, sizeof(*v));
	lab_pair_open(&v->lp);
	v->big = lab_map_anon(NULL, BIG);
	lab_fill(v->big, BIG, 77);
	/* Sent whole once: the cache now covers all of it. */
	ck_assert_int_eq(rmx_recv(v->lp.server, sink, BIG, lab_comp_cb, &r), 0);
	ck_assert_int_eq(rmx_send(v->lp.client, v->big, BIG, lab_comp_cb, &s),
			 0);
	lab_wait_flag(v->lp.ctx, &s.done, 30000);
	lab_wait_flag(v->lp.ctx, &r.done, 30000);
	ck_assert_int_eq(s.status, 0);
	ck_assert_uint_eq(lab_check(sink, BIG, 77), BIG);
	free(sink);
}

/* The honest connection still carries a checked rendezvous message. */
static void victim_still_works(struct victim *v)
{
	struct lab_comp s = { 0 }, r = { 0 };
	uint8_t *sink = malloc(MSG_LEN);

	ck_assert_int_eq(rmx_recv(v->lp.server, sink, MSG_LEN, lab_comp_cb,
				  &r),
			 0);
	ck_assert_int_eq(rmx_send(v->lp.client, v->big + MSG_OFF, MSG_LEN,
				  lab_comp_cb, &s),
			 0);
	lab_wait_flag(v->lp.ctx, &s.done, 30000);
	lab_wait_flag(v->lp.ctx, &r.done, 30000);
	ck_assert_int_eq(s.status, 0);
	ck_assert_int_eq(r.status, 0);
	ck_assert(!memcmp(sink, v->big + MSG_OFF, MSG_LEN));
	free(sink);
}

static void attacker_open(struct attacker *a, struct victim *v)
{
	struct rmx_ep_params prm = { .event_cb = lab_record_event,
				     .arg = &a->ev };
	char addr[80];

	memset(a, 0, sizeof(*a));
	a->into = malloc(MSG_LEN);
	a->spy = malloc(SPY);
	ck_assert_int_eq(rmx_context_create(&a->ctx), 0);
	snprintf(addr, sizeof(addr), "%s:%d", lab_addr(),
		 rmx_listener_port(v->lp.listener));
	v->honest = v->lp.server;
	ck_assert_int_eq(rmx_connect(a->ctx, addr, &prm, &a->ep), 0);
	spin_both(a->ctx, v->lp.ctx, &a->ev.count[RMX_EP_EVENT_CONNECTED],
		  10000);
	wait_both(v->lp.ctx, a->ctx, &v->lp.accepts, 2, 10000);
	v->from_attacker = v->lp.server;
	v->lp.server = v->honest;
	ck_assert_int_eq(rmx_ep_set_am_cb(a->ep, on_offer, a), 0);
}

static void attacker_close(struct attacker *a)
{
	rmx_ep_destroy(a->ep);
	rmx_context_destroy(a->ctx);
	free(a->into);
	free(a->spy);
}

/* Nothing of the victim's in what the attacker's read brought back. */
static void spied_nothing(const struct attacker *a)
{
	size_t i;

	ck_assert_msg(a->spied.status == -EACCES,
		      "a read the victim did not allow ended with %d (%s)",
		      a->spied.status, rmx_strerror(a->spied.status));
	i = lab_first_not(a->spy, SPY, 0);
	ck_assert_msg(i == SPY, "byte %zu of the victim's memory leaked", i);
}

START_TEST(read_outside_the_offer)
{
	struct victim v;
	struct attacker a;
	struct lab_comp sent = { 0 };

	victim_open(&v);
	attacker_open(&a, &v);
	a.spy_now = true;
	ck_assert_int_eq(rmx_send(v.from_attacker, v.big + MSG_OFF, MSG_LEN,
				  lab_comp_cb, &sent),
			 0);
	spin_both(a.ctx, v.lp.ctx, &a.spied.done, 20000);
	ck_assert_int_eq(a.offers, 1);
	ck_assert_uint_eq(a.rts.addr, (uintptr_t)(v.big + MSG_OFF));
	ck_assert_uint_eq(a.rts.len, MSG_LEN);
	spied_nothing(&a);
	/* The victim's send ends, once, with an error, and it goes on. */
	spin_both(v.lp.ctx, a.ctx, &sent.done, 20000);
	ck_assert_int_lt(sent.status, 0);
	victim_still_works(&v);
	ck_assert_int_eq(sent.done, 1);
	attacker_close(&a);
	rmx_ep_destroy(v.from_attacker);
	lab_pair_close(&v.lp);
	munmap(v.big, BIG);
}
END_TEST

START_TEST(read_again_after_the_ats)
{
	struct victim v;
	struct attacker a;
	struct lab_comp sent = { 0 };

	victim_open(&v);
	attacker_open(&a, &v);
	a.take = true;
	ck_assert_int_eq(rmx_send(v.from_attacker, v.big + MSG_OFF, MSG_LEN,
				  lab_comp_cb, &sent),
			 0);
	spin_both(v.lp.ctx, a.ctx, &sent.done, 20000);
	spin_both(a.ctx, v.lp.ctx, &a.read.done, 20000);
	ck_assert_int_eq(sent.status, 0);
	ck_assert_int_eq(a.read.status, 0);
	ck_assert(!memcmp(a.into, v.big + MSG_OFF, MSG_LEN));
	/* Done, acknowledged: the same key, the same range, once more. */
	memset(a.spy, 0, SPY);
	{
		rmx_remote_t again = { .addr = a.rts.addr, .len = a.rts.len,
				       .key = a.rts.rkey };

		ck_assert_int_eq(rmx_get(a.ep, a.spy, SPY, &again, 0,
					 lab_comp_cb, &a.spied),
				 0);
	}
	spin_both(a.ctx, v.lp.ctx, &a.spied.done, 20000);
	spied_nothing(&a);
	victim_still_works(&v);
	attacker_close(&a);
	rmx_ep_destroy(v.from_attacker);
	lab_pair_close(&v.lp);
	munmap(v.big, BIG);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("lab_offer");
	TCase *tc = tcase_create("offer");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, read_outside_the_offer);
	tcase_add_test(tc, read_again_after_the_ats);
	suite_add_tcase(s, tc);
	return s;
}
