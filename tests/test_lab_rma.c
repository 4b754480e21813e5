// SPDX-License-Identifier: BSD-2-Clause
/* RDMA write and read against a real device, data checked both sides. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "lab.h"

#define MAX_SIZE (8u << 20)

struct target {
	uint8_t *buf;
	size_t len;
	rmx_mem_t *mem;
	rmx_remote_t remote;	/* as the peer would receive it */
};

static void target_open(struct lab_pair *lp, struct target *t, size_t len)
{
	uint8_t packed[RMX_REMOTE_PACKED_SIZE];
	rmx_remote_t r;

	t->len = len;
	t->buf = aligned_alloc(4096, (len + 4095) & ~(size_t)4095);
	ck_assert_ptr_nonnull(t->buf);
	ck_assert_int_eq(rmx_mem_reg(lp->ctx, t->buf, len,
				     RMX_MEM_REMOTE_READ | RMX_MEM_REMOTE_WRITE,
				     &t->mem),
			 0);
	/* Travel through the wire encoding, as a real peer would. */
	ck_assert_int_eq(rmx_mem_remote(t->mem, &r), 0);
	ck_assert_int_eq(rmx_remote_pack(&r, packed, sizeof(packed)), 0);
	ck_assert_int_eq(rmx_remote_unpack(&t->remote, packed, sizeof(packed)),
			 0);
	ck_assert_uint_eq(t->remote.len, len);
}

static void target_close(struct target *t)
{
	ck_assert_int_eq(rmx_mem_dereg(t->mem), 0);
	free(t->buf);
}

static void put_get_one(struct lab_pair *lp, struct target *t, size_t size,
			uint64_t offset, uint32_t seed)
{
	struct lab_comp put = { 0 }, get = { 0 };
	uint8_t *src = malloc(size + 1), *dst = malloc(size + 1);

	ck_assert_ptr_nonnull(src);
	ck_assert_ptr_nonnull(dst);
	lab_fill(src, size, seed);
	memset(t->buf, 0, t->len);
	ck_assert_int_eq(rmx_put(lp->client, src, size, &t->remote, offset,
				 lab_comp_cb, &put),
			 0);
	lab_wait_flag(lp->ctx, &put.done, 30000);
	ck_assert_int_eq(put.status, 0);
	ck_assert_uint_eq(put.len, size);
	/* Target side: exactly the range written, nothing around it. */
	ck_assert_msg(lab_check(t->buf + offset, size, seed) == size,
		      "put of %zu bytes at %llu corrupted", size,
		      (unsigned long long)offset);
	if (offset)
		ck_assert_uint_eq(t->buf[offset - 1], 0);
	if (offset + size < t->len)
		ck_assert_uint_eq(t->buf[offset + size], 0);

	/* Change the target so the read proves it fetched fresh bytes. */
	lab_fill(t->buf + offset, size, seed ^ 0xabcdef);
	dst[size] = 0x77;
	ck_assert_int_eq(rmx_get(lp->client, dst, size, &t->remote, offset,
				 lab_comp_cb, &get),
			 0);
	lab_wait_flag(lp->ctx, &get.done, 30000);
	ck_assert_int_eq(get.status, 0);
	ck_assert_msg(lab_check(dst, size, seed ^ 0xabcdef) == size,
		      "get of %zu bytes at %llu corrupted", size,
		      (unsigned long long)offset);
	ck_assert_uint_eq(dst[size], 0x77);
	free(src);
	free(dst);
}

START_TEST(put_get_sizes)
{
	struct lab_pair lp;
	struct target t;
	size_t size;

	lab_pair_open(&lp);
	target_open(&lp, &t, MAX_SIZE + 64);
	for (size = 1; size <= MAX_SIZE; size *= 2) {
		put_get_one(&lp, &t, size, 0, (uint32_t)size);
		/* Odd sizes at odd offsets cross page boundaries. */
		put_get_one(&lp, &t, size + 3 > MAX_SIZE ? size : size + 3, 61,
			    (uint32_t)size + 1);
	}
	target_close(&t);
	lab_pair_close(&lp);
}
END_TEST

START_TEST(larger_than_device_message)
{
	/* rxe caps one transfer at 8 MiB: rmx splits larger ones. */
	struct lab_pair lp;
	struct target t;

	lab_pair_open(&lp);
	target_open(&lp, &t, 20u << 20);
	put_get_one(&lp, &t, (20u << 20) - 5, 3, 99);
	target_close(&t);
	lab_pair_close(&lp);
}
END_TEST

START_TEST(many_in_flight)
{
	/* More operations than send queue entries: the rest queue. */
	enum { N = 600, SZ = 4096 };
	struct lab_comp *c = calloc(N, sizeof(*c));
	uint8_t *src = malloc((size_t)N * SZ);
	struct lab_pair lp;
	struct target t;
	int i;

	lab_pair_open(&lp);
	target_open(&lp, &t, (size_t)N * SZ);
	for (i = 0; i < N; i++) {
		lab_fill(src + (size_t)i * SZ, SZ, (uint32_t)i);
		ck_assert_int_eq(rmx_put(lp.client, src + (size_t)i * SZ, SZ,
					 &t.remote, (uint64_t)i * SZ,
					 lab_comp_cb, &c[i]),
				 0);
	}
	lab_wait_flag(lp.ctx, &c[N - 1].done, 60000);
	for (i = 0; i < N; i++) {
		ck_assert_int_eq(c[i].done, 1);
		ck_assert_int_eq(c[i].status, 0);
		ck_assert_uint_eq(lab_check(t.buf + (size_t)i * SZ, SZ,
					    (uint32_t)i),
				  SZ);
	}
	target_close(&t);
	lab_pair_close(&lp);
	free(c);
	free(src);
}
END_TEST

START_TEST(out_of_range_refused)
{
	struct lab_pair lp;
	struct target t;
	uint8_t b[64];

	lab_pair_open(&lp);
	target_open(&lp, &t, 4096);
	ck_assert_int_eq(rmx_put(lp.client, b, 64, &t.remote, 4096 - 63, NULL,
				 NULL),
			 -ERANGE);
	ck_assert_int_eq(rmx_get(lp.client, b, 64, &t.remote, UINT64_MAX, NULL,
				 NULL),
			 -ERANGE);
	ck_assert_int_eq(rmx_put(lp.client, NULL, 64, &t.remote, 0, NULL, NULL),
			 -EINVAL);
	ck_assert_int_eq(rmx_get(lp.client, b, 64, NULL, 0, NULL, NULL),
			 -EINVAL);
	ck_assert_int_eq(rmx_ep_state(lp.client), RMX_EP_CONNECTED);
	target_close(&t);
	lab_pair_close(&lp);
}
END_TEST

START_TEST(wrong_rkey_fails_initiator)
{
	struct lab_comp c = { 0 };
	struct lab_pair lp;
	struct target t;
	rmx_remote_t bad;
	uint8_t b[64];

	lab_pair_open(&lp);
	target_open(&lp, &t, 4096);
	memset(t.buf, 0, 4096);
	bad = t.remote;
	bad.key ^= 0x5a5a00;
	memset(b, 0xcd, sizeof(b));
	ck_assert_int_eq(rmx_put(lp.client, b, sizeof(b), &bad, 0, lab_comp_cb,
				 &c),
			 0);
	lab_wait_flag(lp.ctx, &c.done, 30000);
	ck_assert_msg(c.status < 0, "status %d", c.status);
	ck_assert_uint_eq(t.buf[0], 0);
	/* The initiator's queue pair is in error: the endpoint closed. */
	lab_wait_flag(lp.ctx, &lp.cev.count[RMX_EP_EVENT_CLOSED], 5000);
	ck_assert_int_eq(rmx_ep_state(lp.client), RMX_EP_CLOSED);
	ck_assert_int_lt(rmx_ep_error(lp.client), 0);
	target_close(&t);
	lab_pair_close(&lp);
}
END_TEST

struct notes {
	struct target *t;
	int count;
	uint32_t imm[256];
	size_t len;
	int data_ok;		/* every byte there when the notice came */
	uint32_t seed;
	size_t size;
};

static void on_imm(void *arg, uint32_t imm, size_t len)
{
	struct notes *n = arg;

	if (n->count < 256)
		n->imm[n->count] = imm;
	n->count++;
	n->len = len;
	n->data_ok = lab_check(n->t->buf, n->size, n->seed) == n->size;
}

START_TEST(put_imm_notifies_after_data)
{
	static const size_t sizes[] = { 0, 1, 4096, 1 << 20, (12u << 20) + 5 };
	struct lab_pair lp;
	struct target t;
	struct notes n = { .t = &t };
	size_t i;

	lab_pair_open(&lp);
	target_open(&lp, &t, 13u << 20);
	ck_assert_int_eq(rmx_ep_set_imm_cb(lp.server, on_imm, &n), 0);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct lab_comp c = { 0 };
		uint8_t *src = malloc(sizes[i] + 1);
		int before = n.count;

		n.seed = (uint32_t)i + 40;
		n.size = sizes[i];
		lab_fill(src, sizes[i], n.seed);
		memset(t.buf, 0, t.len);
		ck_assert_int_eq(rmx_put_imm(lp.client, src, sizes[i], &t.remote, 0,
					     0xdead0000u + (uint32_t)i,
					     lab_comp_cb, &c),
				 0);
		lab_wait_flag(lp.ctx, &c.done, 30000);
		ck_assert_int_eq(c.status, 0);
		lab_wait_count(lp.ctx, &n.count, before + 1, 5000);
		ck_assert_int_eq(n.count, before + 1);
		ck_assert_uint_eq(n.imm[before], 0xdead0000u + (uint32_t)i);
		ck_assert_msg(n.data_ok, "notice for %zu bytes came before the data",
			      sizes[i]);
		/*
		 * Split into pieces of 4 MiB (rmx's bound on RDMA in flight,
		 * below rxe's 8 MiB): the notice reports the last piece.
		 */
		ck_assert_uint_eq(n.len, sizes[i] > (4u << 20) ?
						 sizes[i] % (4u << 20) : sizes[i]);
		free(src);
	}
	target_close(&t);
	lab_pair_close(&lp);
}
END_TEST

START_TEST(put_imm_stream_in_order)
{
	/* Four times the peer's receive buffers: credits must come back. */
	enum { N = 256 };
	struct lab_comp *c = calloc(N, sizeof(*c));
	struct lab_pair lp;
	struct target t;
	struct notes n = { .t = &t };
	uint8_t b[64];
	int i;

	lab_pair_open(&lp);
	target_open(&lp, &t, 4096);
	ck_assert_int_eq(rmx_ep_set_imm_cb(lp.server, on_imm, &n), 0);
	memset(b, 1, sizeof(b));
	for (i = 0; i < N; i++)
		ck_assert_int_eq(rmx_put_imm(lp.client, b, sizeof(b), &t.remote, 0,
					     (uint32_t)i, lab_comp_cb, &c[i]),
				 0);
	lab_wait_flag(lp.ctx, &c[N - 1].done, 30000);
	lab_wait_count(lp.ctx, &n.count, N, 10000);
	for (i = 0; i < N; i++) {
		ck_assert_int_eq(c[i].status, 0);
		ck_assert_uint_eq(n.imm[i], (uint32_t)i);
	}
	ck_assert_int_eq(rmx_ep_state(lp.client), RMX_EP_CONNECTED);
	target_close(&t);
	lab_pair_close(&lp);
	free(c);
}
END_TEST

START_TEST(atomics)
{
	struct lab_pair lp;
	uint64_t *counter = aligned_alloc(4096, 4096), old;
	rmx_mem_t *mem;
	rmx_remote_t r;
	int i;

	lab_pair_open(&lp);
	memset(counter, 0, 4096);
	counter[1] = 1000;
	ck_assert_int_eq(rmx_mem_reg(lp.ctx, counter, 4096,
				     RMX_MEM_REMOTE_ATOMIC, &mem),
			 0);
	ck_assert_int_eq(rmx_mem_remote(mem, &r), 0);
	for (i = 0; i < 100; i++) {
		struct lab_comp c = { 0 };

		ck_assert_int_eq(rmx_atomic_fadd(lp.client, &r, 8, 3, &old,
						 lab_comp_cb, &c),
				 0);
		lab_wait_flag(lp.ctx, &c.done, 5000);
		ck_assert_int_eq(c.status, 0);
		ck_assert_uint_eq(old, 1000 + 3 * (uint64_t)i);
	}
	ck_assert_uint_eq(counter[1], 1300);
	{
		struct lab_comp hit = { 0 }, miss = { 0 };
		uint64_t old2;

		ck_assert_int_eq(rmx_atomic_cswap(lp.client, &r, 8, 1300, 7, &old,
						  lab_comp_cb, &hit),
				 0);
		lab_wait_flag(lp.ctx, &hit.done, 5000);
		ck_assert_uint_eq(old, 1300);
		ck_assert_uint_eq(counter[1], 7);
		ck_assert_int_eq(rmx_atomic_cswap(lp.client, &r, 8, 5, 9, &old2,
						  lab_comp_cb, &miss),
				 0);
		lab_wait_flag(lp.ctx, &miss.done, 5000);
		ck_assert_int_eq(miss.status, 0);
		ck_assert_uint_eq(old2, 7);
		ck_assert_uint_eq(counter[1], 7);
	}
	/* Neighbours untouched; bad arguments refused. */
	ck_assert_uint_eq(counter[0], 0);
	ck_assert_uint_eq(counter[2], 0);
	ck_assert_int_eq(rmx_atomic_fadd(lp.client, &r, 4, 1, &old, NULL, NULL),
			 -EINVAL);
	ck_assert_int_eq(rmx_atomic_fadd(lp.client, &r, 4096, 1, &old, NULL,
					 NULL),
			 -ERANGE);
	ck_assert_int_eq(rmx_atomic_fadd(lp.client, &r, 0, 1, NULL, NULL, NULL),
			 -EINVAL);
	ck_assert_int_eq(rmx_mem_dereg(mem), 0);
	lab_pair_close(&lp);
	free(counter);
}
END_TEST

START_TEST(atomic_needs_atomic_access)
{
	struct lab_comp c = { 0 };
	struct lab_pair lp;
	struct target t;	/* read/write, not atomic */
	uint64_t old;

	lab_pair_open(&lp);
	target_open(&lp, &t, 4096);
	memset(t.buf, 0, 4096);
	ck_assert_int_eq(rmx_atomic_fadd(lp.client, &t.remote, 0, 1, &old,
					 lab_comp_cb, &c),
			 0);
	lab_wait_flag(lp.ctx, &c.done, 30000);
	ck_assert_int_lt(c.status, 0);
	ck_assert_uint_eq(((uint64_t *)t.buf)[0], 0);
	target_close(&t);
	lab_pair_close(&lp);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("lab_rma");
	TCase *tc = tcase_create("rma");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, put_get_sizes);
	tcase_add_test(tc, larger_than_device_message);
	tcase_add_test(tc, many_in_flight);
	tcase_add_test(tc, out_of_range_refused);
	tcase_add_test(tc, wrong_rkey_fails_initiator);
	tcase_add_test(tc, put_imm_notifies_after_data);
	tcase_add_test(tc, put_imm_stream_in_order);
	tcase_add_test(tc, atomics);
	tcase_add_test(tc, atomic_needs_atomic_access);
	suite_add_tcase(s, tc);
	return s;
}
