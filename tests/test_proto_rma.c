// SPDX-License-Identifier: BSD-2-Clause
/*
 * One-sided operations over the loop transport: puts and gets with data
 * checked (inline, registered, split), put with immediate, atomics, and
 * what a peer's device refuses: wrong key, outside the region, access
 * not granted, a region gone.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "proto_test.h"

#define REGION (300 * 1024)

/* The server's registered region and the client's descriptor of it. */
struct target {
	uint8_t *mem;
	rmx_mem_t *mr;
	rmx_remote_t remote;
};

/* The descriptor travels packed in a message, as an application sends it. */
static void target_open(struct pt_pair *pp, struct target *t,
			unsigned int flags)
{
	uint8_t packed[RMX_REMOTE_PACKED_SIZE], got[RMX_REMOTE_PACKED_SIZE];
	struct lab_comp sent = { 0 }, recvd = { 0 };
	rmx_remote_t mine;

	t->mem = calloc(1, REGION);
	ck_assert_ptr_nonnull(t->mem);
	ck_assert_int_eq(rmx_mem_reg(pp->sctx, t->mem, REGION, flags, &t->mr),
			 0);
	ck_assert_int_eq(rmx_mem_remote(t->mr, &mine), 0);
	ck_assert_int_eq(rmx_remote_pack(&mine, packed, sizeof(packed)), 0);
	ck_assert_int_eq(rmx_recv(pp->client, got, sizeof(got), lab_comp_cb,
				  &recvd), 0);
	ck_assert_int_eq(rmx_send(pp->server, packed, sizeof(packed),
				  lab_comp_cb, &sent), 0);
	pt_wait_count(pp, &recvd.done, 1, 2000);
	ck_assert_int_eq(rmx_remote_unpack(&t->remote, got, recvd.len), 0);
	ck_assert_uint_eq(t->remote.addr, (uintptr_t)t->mem);
	ck_assert_uint_eq(t->remote.len, REGION);
}

static void target_close(struct target *t)
{
	if (t->mr)
		ck_assert_int_eq(rmx_mem_dereg(t->mr), 0);
	free(t->mem);
}

static const unsigned int all_access = RMX_MEM_REMOTE_READ |
				       RMX_MEM_REMOTE_WRITE |
				       RMX_MEM_REMOTE_ATOMIC;

/* Sizes that go inline (64), registered, and split (> 64 KiB). */
static const size_t sizes[] = { 1, 64, 65, 1000, 70000, 200000 };
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

START_TEST(put_then_get)
{
	struct lab_comp put[NSIZES] = { 0 }, get[NSIZES] = { 0 };
	uint8_t *src = malloc(REGION), *back = malloc(REGION);
	struct target t;
	struct pt_pair pp;
	uint64_t off = 0;
	size_t i;

	pt_setup();
	pt_open(&pp, true, NULL);
	target_open(&pp, &t, all_access);
	for (i = 0; i < NSIZES; i++) {
		lab_fill(src + off, sizes[i], (uint32_t)i);
		ck_assert_int_eq(rmx_put(pp.client, src + off, sizes[i],
					 &t.remote, off, lab_comp_cb, &put[i]),
				 0);
		off += sizes[i] + 3;
	}
	pt_wait_count(&pp, &put[NSIZES - 1].done, 1, 2000);
	pt_settle(&pp);
	memset(back, 0, REGION);
	for (i = 0, off = 0; i < NSIZES; i++) {
		ck_assert_int_eq(put[i].done, 1);
		ck_assert_int_eq(put[i].status, 0);
		ck_assert_uint_eq(put[i].len, sizes[i]);
		ck_assert_uint_eq(lab_check(t.mem + off, sizes[i], (uint32_t)i),
				  sizes[i]);
		/* Nothing written between the ranges. */
		ck_assert_uint_eq(lab_first_not(t.mem + off + sizes[i], 3, 0),
				  3);
		ck_assert_int_eq(rmx_get(pp.client, back + off, sizes[i],
					 &t.remote, off, lab_comp_cb, &get[i]),
				 0);
		off += sizes[i] + 3;
	}
	pt_wait_count(&pp, &get[NSIZES - 1].done, 1, 2000);
	pt_settle(&pp);
	for (i = 0, off = 0; i < NSIZES; i++) {
		ck_assert_int_eq(get[i].done, 1);
		ck_assert_int_eq(get[i].status, 0);
		ck_assert_uint_eq(get[i].len, sizes[i]);
		ck_assert_uint_eq(lab_check(back + off, sizes[i], (uint32_t)i),
				  sizes[i]);
		off += sizes[i] + 3;
	}
	/* 70000 and 200000 bytes went as 2 and 4 requests of 64 KiB. */
	ck_assert_uint_eq(loop_stats.writes, NSIZES + 1 + 3);
	ck_assert_uint_eq(loop_stats.reads, NSIZES + 1 + 3);
	ck_assert_int_eq(rmx_ep_state(pp.client), RMX_EP_CONNECTED);
	target_close(&t);
	pt_close(&pp);
	free(src);
	free(back);
}
END_TEST

/* What the target's notification callback saw. */
struct notices {
	int n;
	uint32_t imm[4];
	size_t len[4];
	bool data_in_place[4];
	const uint8_t *where[4];
	size_t size[4];
	uint32_t seed[4];
};

static void on_imm(void *arg, uint32_t imm, size_t len)
{
	struct notices *s = arg;
	int i = s->n++;

	ck_assert_int_lt(i, 4);
	s->imm[i] = imm;
	s->len[i] = len;
	/* The data is complete when the notice comes. */
	s->data_in_place[i] = lab_check(s->where[i], s->size[i], s->seed[i]) ==
			      s->size[i];
}

START_TEST(put_imm_after_data)
{
	static const size_t imm_sizes[] = { 0, 10, 100000 };
	struct lab_comp put[3] = { 0 };
	uint8_t *src = malloc(REGION);
	struct notices seen = { 0 };
	struct target t;
	struct pt_pair pp;
	int i;

	pt_setup();
	pt_open(&pp, true, NULL);
	target_open(&pp, &t, RMX_MEM_REMOTE_WRITE);
	ck_assert_int_eq(rmx_ep_set_imm_cb(pp.server, on_imm, &seen), 0);
	for (i = 0; i < 3; i++) {
		uint64_t off = (uint64_t)i * 1000;

		seen.where[i] = t.mem + off;
		seen.size[i] = imm_sizes[i];
		seen.seed[i] = 40u + (uint32_t)i;
		lab_fill(src + off, imm_sizes[i], seen.seed[i]);
		ck_assert_int_eq(rmx_put_imm(pp.client, src + off, imm_sizes[i],
					     &t.remote, off,
					     0xabc0u + (uint32_t)i, lab_comp_cb,
					     &put[i]), 0);
	}
	pt_wait_count(&pp, &seen.n, 3, 2000);
	pt_settle(&pp);
	ck_assert_int_eq(seen.n, 3);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(put[i].done, 1);
		ck_assert_int_eq(put[i].status, 0);
		ck_assert_uint_eq(put[i].len, imm_sizes[i]);
		ck_assert_uint_eq(seen.imm[i], 0xabc0u + (uint32_t)i);
		ck_assert(seen.data_in_place[i]);
	}
	ck_assert_uint_eq(seen.len[0], 0);
	ck_assert_uint_eq(seen.len[1], 10);
	/* Split in two: the notice tells the last piece's length. */
	ck_assert_uint_eq(seen.len[2], 100000 - 65536);
	ck_assert_uint_eq(loop_stats.imms, 3);
	ck_assert_uint_eq(loop_stats.rnr, 0);
	target_close(&t);
	pt_close(&pp);
	free(src);
}
END_TEST

/*
 * Notices use the target's receive buffers under the credits: many of
 * them against a target that takes no messages meanwhile never find one
 * missing.
 */
START_TEST(put_imm_under_credits)
{
	struct lab_comp put[40] = { 0 };
	uint32_t word[40];
	struct target t;
	struct pt_pair pp;
	int i, done = 0;

	pt_setup();
	pt_open(&pp, true, NULL);
	target_open(&pp, &t, RMX_MEM_REMOTE_WRITE);
	for (i = 0; i < 40; i++) {
		word[i] = (uint32_t)i * 7;
		ck_assert_int_eq(rmx_put_imm(pp.client, &word[i], 4, &t.remote,
					     (uint64_t)i * 4, (uint32_t)i,
					     lab_comp_cb, &put[i]), 0);
	}
	pt_settle(&pp);
	for (i = 0; i < 40; i++) {
		ck_assert_int_eq(put[i].done, 1);
		ck_assert_int_eq(put[i].status, 0);
		done += !memcmp(t.mem + i * 4, &word[i], 4);
	}
	ck_assert_int_eq(done, 40);
	ck_assert_uint_eq(loop_stats.imms, 40);
	ck_assert_uint_eq(loop_stats.rnr, 0);
	target_close(&t);
	pt_close(&pp);
}
END_TEST

START_TEST(atomics)
{
	struct lab_comp c[4] = { 0 };
	uint64_t old[4] = { 1, 1, 1, 1 }, v = 40;
	struct target t;
	struct pt_pair pp;
	int i;

	pt_setup();
	pt_open(&pp, true, NULL);
	target_open(&pp, &t, all_access);
	memcpy(t.mem + 8, &v, 8);
	ck_assert_int_eq(rmx_atomic_fadd(pp.client, &t.remote, 8, 2, &old[0],
					 lab_comp_cb, &c[0]), 0);
	pt_wait_count(&pp, &c[0].done, 1, 2000);
	/* Equal: swapped. */
	ck_assert_int_eq(rmx_atomic_cswap(pp.client, &t.remote, 8, 42, 7,
					  &old[1], lab_comp_cb, &c[1]), 0);
	/* Not equal: left alone. */
	ck_assert_int_eq(rmx_atomic_cswap(pp.client, &t.remote, 8, 42, 9,
					  &old[2], lab_comp_cb, &c[2]), 0);
	ck_assert_int_eq(rmx_atomic_fadd(pp.client, &t.remote, 8,
					 UINT64_MAX, &old[3], lab_comp_cb,
					 &c[3]), 0);
	pt_wait_count(&pp, &c[3].done, 1, 2000);
	pt_settle(&pp);
	ck_assert_uint_eq(old[0], 40);
	ck_assert_uint_eq(old[1], 42);
	ck_assert_uint_eq(old[2], 7);
	ck_assert_uint_eq(old[3], 7);
	memcpy(&v, t.mem + 8, 8);
	ck_assert_uint_eq(v, 6);
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(c[i].done, 1);
		ck_assert_int_eq(c[i].status, 0);
		ck_assert_uint_eq(c[i].len, 8);
	}
	/* Refused at the call, endpoint untouched. */
	ck_assert_int_eq(rmx_atomic_fadd(pp.client, &t.remote, 4, 1, &old[0],
					 lab_comp_cb, &c[0]), -EINVAL);
	ck_assert_int_eq(rmx_atomic_fadd(pp.client, &t.remote, REGION, 1,
					 &old[0], lab_comp_cb, &c[0]), -ERANGE);
	ck_assert_int_eq(c[0].done, 1);
	ck_assert_int_eq(rmx_ep_state(pp.client), RMX_EP_CONNECTED);
	target_close(&t);
	pt_close(&pp);
}
END_TEST

/* Refused at the call: the endpoint is not affected. */
START_TEST(outside_descriptor_refused_at_call)
{
	struct lab_comp c = { 0 };
	uint8_t buf[16] = { 0 };
	rmx_remote_t wide;
	struct target t;
	struct pt_pair pp;

	pt_setup();
	pt_open(&pp, true, NULL);
	target_open(&pp, &t, all_access);
	ck_assert_int_eq(rmx_put(pp.client, buf, 16, &t.remote, REGION - 15,
				 lab_comp_cb, &c), -ERANGE);
	ck_assert_int_eq(rmx_get(pp.client, buf, 1, &t.remote, REGION,
				 lab_comp_cb, &c), -ERANGE);
	ck_assert_int_eq(rmx_put(pp.client, buf, 1, &t.remote, UINT64_MAX,
				 lab_comp_cb, &c), -ERANGE);
	wide = t.remote;
	wide.key = 1ull << 32;	/* wider than the transport's keys */
	ck_assert_int_eq(rmx_put(pp.client, buf, 1, &wide, 0, lab_comp_cb, &c),
			 -EINVAL);
	ck_assert_int_eq(rmx_put(pp.client, buf, 16, &t.remote, REGION - 16,
				 lab_comp_cb, &c), 0);
	pt_wait_count(&pp, &c.done, 1, 2000);
	pt_settle(&pp);
	ck_assert_int_eq(c.done, 1);
	ck_assert_int_eq(c.status, 0);
	ck_assert_int_eq(rmx_ep_state(pp.client), RMX_EP_CONNECTED);
	target_close(&t);
	pt_close(&pp);
}
END_TEST

enum refusal { WRONG_KEY, PAST_REGION, NO_WRITE, NO_ATOMIC, DEREGISTERED };

/*
 * The peer's device refuses: that operation fails with -EACCES, the
 * endpoint closes with it, the operations behind it end with it, each
 * exactly once; new ones are refused with it; the peer sees a reset.
 */
static void refused(enum refusal why)
{
	struct lab_comp bad = { 0 }, behind[3] = { 0 };
	uint8_t buf[64] = { 0 }, in[64];
	rmx_remote_t r;
	struct target t;
	struct pt_pair pp;
	uint64_t old;
	int i;

	pt_setup();
	pt_open(&pp, true, NULL);
	target_open(&pp, &t, why == NO_WRITE ? RMX_MEM_REMOTE_READ :
			      why == NO_ATOMIC ? RMX_MEM_REMOTE_READ |
							 RMX_MEM_REMOTE_WRITE :
						 all_access);
	r = t.remote;
	if (why == WRONG_KEY)
		r.key ^= 0x5a5a;
	if (why == PAST_REGION)
		r.len += 4096;	/* a forged descriptor: the call cannot know */
	if (why == DEREGISTERED) {
		ck_assert_int_eq(rmx_mem_dereg(t.mr), 0);
		t.mr = NULL;
	}
	if (why == NO_ATOMIC)
		ck_assert_int_eq(rmx_atomic_fadd(pp.client, &r, 0, 1, &old,
						 lab_comp_cb, &bad), 0);
	else
		ck_assert_int_eq(rmx_put(pp.client, buf, sizeof(buf), &r,
					 why == PAST_REGION ? REGION : 0,
					 lab_comp_cb, &bad), 0);
	/* Behind it: a receive, a send the peer never takes, a get. */
	ck_assert_int_eq(rmx_recv(pp.client, in, sizeof(in), lab_comp_cb,
				  &behind[0]), 0);
	ck_assert_int_eq(rmx_send(pp.client, buf, 8, lab_comp_cb, &behind[1]),
			 0);
	ck_assert_int_eq(rmx_get(pp.client, in, 8, &t.remote, 0, lab_comp_cb,
				 &behind[2]), 0);
	pt_wait_count(&pp, &pp.cev.count[RMX_EP_EVENT_CLOSED], 1, 2000);
	pt_wait_count(&pp, &pp.sev.count[RMX_EP_EVENT_CLOSED], 1, 2000);
	pt_settle(&pp);
	ck_assert_int_eq(bad.done, 1);
	ck_assert_int_eq(bad.status, -EACCES);
	ck_assert_uint_eq(bad.len, 0);
	ck_assert_uint_eq(lab_first_not(t.mem, REGION, 0), REGION);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(behind[i].done, 1);
		ck_assert_int_eq(behind[i].status, -EACCES);
	}
	ck_assert_int_eq(pp.cev.count[RMX_EP_EVENT_CLOSED], 1);
	ck_assert_int_eq(pp.cev.status, -EACCES);
	ck_assert_int_eq(rmx_ep_state(pp.client), RMX_EP_CLOSED);
	ck_assert_int_eq(rmx_ep_error(pp.client), -EACCES);
	ck_assert_int_eq(rmx_put(pp.client, buf, 1, &t.remote, 0, lab_comp_cb,
				 &bad), -EACCES);
	ck_assert_int_eq(pp.sev.count[RMX_EP_EVENT_CLOSED], 1);
	ck_assert_int_eq(pp.sev.status, -ECONNRESET);
	ck_assert_uint_eq(loop_stats.remote_errors, 1);
	target_close(&t);
	pt_close(&pp);
	ck_assert_int_eq(bad.done, 1);
}

START_TEST(wrong_key)
{
	refused(WRONG_KEY);
}
END_TEST

START_TEST(past_the_region)
{
	refused(PAST_REGION);
}
END_TEST

START_TEST(write_not_granted)
{
	refused(NO_WRITE);
}
END_TEST

START_TEST(atomic_not_granted)
{
	refused(NO_ATOMIC);
}
END_TEST

START_TEST(region_deregistered)
{
	refused(DEREGISTERED);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("proto_rma");
	TCase *tc = tcase_create("rma");

	tcase_add_test(tc, put_then_get);
	tcase_add_test(tc, put_imm_after_data);
	tcase_add_test(tc, put_imm_under_credits);
	tcase_add_test(tc, atomics);
	tcase_add_test(tc, outside_descriptor_refused_at_call);
	tcase_add_test(tc, wrong_key);
	tcase_add_test(tc, past_the_region);
	tcase_add_test(tc, write_not_granted);
	tcase_add_test(tc, atomic_not_granted);
	tcase_add_test(tc, region_deregistered);
	suite_add_tcase(s, tc);
	return s;
}
