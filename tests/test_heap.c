// SPDX-License-Identifier: BSD-2-Clause
#include <stdint.h>
#include <stdlib.h>

#include "check_main.h"
#include "core/heap.h"

#define NNODES 2000

/*
 * Every slot points back at its node, and no child is earlier than its
 * parent.  Plain tests, not ck_assert: that marks a point each call, too
 * slow in loops run thousands of times.
 */
static void check_shape(const struct rmx__heap *h)
{
	uint32_t i;

	if (h->n > h->cap)
		ck_abort_msg("n %u past cap %u", h->n, h->cap);
	for (i = 0; i < h->n; i++) {
		if (!h->v[i] || h->v[i]->idx != i)
			ck_abort_msg("slot %u: idx %u", i,
				     h->v[i] ? h->v[i]->idx : 0);
		if (i && h->v[(i - 1) / 2]->key > h->v[i]->key)
			ck_abort_msg("slot %u: key %lld under %lld", i,
				     (long long)h->v[i]->key,
				     (long long)h->v[(i - 1) / 2]->key);
	}
}

/* Pops everything through del of the top; keys come out non-decreasing. */
static uint32_t drain(struct rmx__heap *h)
{
	struct rmx__heap_node *top;
	int64_t last = INT64_MIN;
	uint32_t n = 0;

	while ((top = rmx__heap_top(h))) {
		ck_assert_int_ge(top->key, last);
		last = top->key;
		rmx__heap_del(h, top);
		ck_assert_uint_eq(top->idx, RMX__HEAP_NONE);
		check_shape(h);
		n++;
	}
	ck_assert_uint_eq(h->n, 0);
	return n;
}

START_TEST(empty)
{
	struct rmx__heap h = { 0 };
	struct rmx__heap_node a, b, foreign;

	rmx__heap_node_init(&a);
	rmx__heap_node_init(&b);
	ck_assert_ptr_null(rmx__heap_top(&h));
	rmx__heap_del(&h, &a);
	ck_assert_uint_eq(a.idx, RMX__HEAP_NONE);
	ck_assert_uint_eq(h.n, 0);
	ck_assert_ptr_null(h.v);
	ck_assert_ptr_null(rmx__heap_top(&h));

	/* Not in this heap, even when its idx names an occupied slot. */
	ck_assert_int_eq(rmx__heap_add(&h, &b, 5), 0);
	rmx__heap_del(&h, &a);
	foreign.key = 1;
	foreign.idx = 0;
	rmx__heap_del(&h, &foreign);
	ck_assert_uint_eq(h.n, 1);
	ck_assert_ptr_eq(rmx__heap_top(&h), &b);
	ck_assert_uint_eq(b.idx, 0);
	ck_assert_uint_eq(a.idx, RMX__HEAP_NONE);
	ck_assert_uint_eq(foreign.idx, 0);
	foreign.idx = 7;	/* past the end */
	rmx__heap_del(&h, &foreign);
	ck_assert_uint_eq(h.n, 1);
	ck_assert_ptr_eq(rmx__heap_top(&h), &b);
	rmx__heap_fini(&h);
}
END_TEST

/* Reference model: which nodes are in, as a list for picking at random. */
struct model {
	struct rmx__heap_node node[NNODES];
	uint32_t in[NNODES];	/* ids present, in no order */
	uint32_t pos[NNODES];	/* where each present id sits in in[] */
	uint32_t out[NNODES];	/* ids absent */
	uint32_t opos[NNODES];
	uint32_t nin, nout;
};

static uint32_t id_of(const struct model *m, const struct rmx__heap_node *nd)
{
	ck_assert(nd >= m->node && nd < m->node + NNODES);
	return nd - m->node;
}

static void list_del(uint32_t *list, uint32_t *pos, uint32_t *n, uint32_t id)
{
	uint32_t p = pos[id], moved = list[--*n];

	list[p] = moved;
	pos[moved] = p;
}

static void list_add(uint32_t *list, uint32_t *pos, uint32_t *n, uint32_t id)
{
	pos[id] = *n;
	list[(*n)++] = id;
}

static void model_del(struct model *m, uint32_t id)
{
	list_del(m->in, m->pos, &m->nin, id);
	list_add(m->out, m->opos, &m->nout, id);
}

static void model_add(struct model *m, uint32_t id)
{
	list_del(m->out, m->opos, &m->nout, id);
	list_add(m->in, m->pos, &m->nin, id);
}

static int64_t random_key(void)
{
	switch (rand() % 50) {
	case 0:
		return INT64_MIN;
	case 1:
		return INT64_MAX;
	default:
		/* Narrow enough for many ties, negative included. */
		return (int64_t)(rand() % 4000) - 2000;
	}
}

static void check_against(const struct rmx__heap *h, const struct model *m)
{
	const struct rmx__heap_node *top = rmx__heap_top(h);
	int64_t min = INT64_MAX;
	uint32_t i;

	if (h->n != m->nin)
		ck_abort_msg("heap holds %u, reference %u", h->n, m->nin);
	for (i = 0; i < m->nin; i++) {
		const struct rmx__heap_node *nd = &m->node[m->in[i]];

		if (nd->idx >= h->n || h->v[nd->idx] != nd)
			ck_abort_msg("node %u in, idx %u", m->in[i], nd->idx);
		if (nd->key < min)
			min = nd->key;
	}
	for (i = 0; i < m->nout; i++)
		if (m->node[m->out[i]].idx != RMX__HEAP_NONE)
			ck_abort_msg("node %u out, idx %u", m->out[i],
				     m->node[m->out[i]].idx);
	if (!m->nin) {
		if (top)
			ck_abort_msg("top of an empty heap");
		return;
	}
	if (!top || top->key != min)
		ck_abort_msg("top key %lld, minimum %lld",
			     top ? (long long)top->key : 0, (long long)min);
	check_shape(h);
}

START_TEST(random_against_reference)
{
	static struct model m;
	struct rmx__heap h = { 0 };
	/* Percent of steps that add: grow, churn, then shrink. */
	static const int add_pct[] = { 75, 50, 30 };
	unsigned int phase, step, kind[4] = { 0 };
	uint32_t i, id, peak = 0;

	srand(12345);
	m.nin = m.nout = 0;
	for (i = 0; i < NNODES; i++) {
		rmx__heap_node_init(&m.node[i]);
		list_add(m.out, m.opos, &m.nout, i);
	}
	check_against(&h, &m);
	for (phase = 0; phase < 3; phase++) {
		for (step = 0; step < 6000; step++) {
			struct rmx__heap_node *nd;
			int r = rand() % 100;

			if (m.nout && (r < add_pct[phase] || !m.nin)) {
				id = m.out[rand() % m.nout];
				ck_assert_int_eq(rmx__heap_add(&h, &m.node[id],
							       random_key()), 0);
				model_add(&m, id);
				kind[0]++;
			} else if (r % 4 == 0) {
				/* The top, by pop. */
				nd = rmx__heap_top(&h);
				ck_assert_ptr_nonnull(nd);
				id = id_of(&m, nd);
				rmx__heap_del(&h, nd);
				model_del(&m, id);
				kind[1]++;
			} else if (r % 4 == 1) {
				/* The last slot: nothing fills the hole. */
				nd = h.v[h.n - 1];
				id = id_of(&m, nd);
				rmx__heap_del(&h, nd);
				model_del(&m, id);
				kind[2]++;
			} else {
				id = m.in[rand() % m.nin];
				rmx__heap_del(&h, &m.node[id]);
				model_del(&m, id);
				kind[3]++;
			}
			check_against(&h, &m);
			if (m.nin > peak)
				peak = m.nin;
		}
	}
	/* The run did what it claims. */
	ck_assert_uint_ge(peak, NNODES * 9 / 10);
	ck_assert_uint_gt(kind[1], 100);
	ck_assert_uint_gt(kind[2], 100);
	ck_assert_uint_gt(kind[3], 100);

	/* Refill, then drain by the top. */
	while (m.nout) {
		id = m.out[rand() % m.nout];
		ck_assert_int_eq(rmx__heap_add(&h, &m.node[id], random_key()),
				 0);
		model_add(&m, id);
	}
	check_against(&h, &m);
	ck_assert_uint_eq(drain(&h), NNODES);
	for (i = 0; i < NNODES; i++)
		ck_assert_uint_eq(m.node[i].idx, RMX__HEAP_NONE);
	rmx__heap_fini(&h);
}
END_TEST

/* A middle delete whose replacement must move up, not down. */
START_TEST(del_moves_replacement_up)
{
	static const int64_t keys[] = { 0, 10, 1, 11, 12, 2, 3 };
	struct rmx__heap_node nd[7];
	struct rmx__heap h = { 0 };
	uint32_t i;

	for (i = 0; i < 7; i++) {
		rmx__heap_node_init(&nd[i]);
		ck_assert_int_eq(rmx__heap_add(&h, &nd[i], keys[i]), 0);
	}
	/* Increasing parents: each went in where it landed. */
	for (i = 0; i < 7; i++)
		ck_assert_uint_eq(nd[i].idx, i);
	/* Key 3 (last) fills slot 3, under key 10. */
	rmx__heap_del(&h, &nd[3]);
	check_shape(&h);
	ck_assert_uint_eq(nd[6].idx, 1);
	ck_assert_uint_eq(nd[1].idx, 3);
	ck_assert_uint_eq(drain(&h), 6);
	rmx__heap_fini(&h);
}
END_TEST

START_TEST(equal_keys_and_readd)
{
	struct rmx__heap_node nd[100], *seen[100] = { 0 }, *top;
	struct rmx__heap h = { 0 };
	uint32_t i, j, n = 0;

	for (i = 0; i < 100; i++) {
		rmx__heap_node_init(&nd[i]);
		ck_assert_int_eq(rmx__heap_add(&h, &nd[i], 42), 0);
		check_shape(&h);
	}
	ck_assert_uint_eq(h.n, 100);
	/* All come out, each once. */
	while ((top = rmx__heap_top(&h))) {
		ck_assert_int_eq(top->key, 42);
		for (j = 0; j < n; j++)
			ck_assert_ptr_ne(seen[j], top);
		seen[n++] = top;
		rmx__heap_del(&h, top);
		check_shape(&h);
	}
	ck_assert_uint_eq(n, 100);

	/* Out and back in, under a new key each time. */
	ck_assert_int_eq(rmx__heap_add(&h, &nd[0], 7), 0);
	ck_assert_ptr_eq(rmx__heap_top(&h), &nd[0]);
	rmx__heap_del(&h, &nd[0]);
	ck_assert_uint_eq(nd[0].idx, RMX__HEAP_NONE);
	ck_assert_ptr_null(rmx__heap_top(&h));
	rmx__heap_del(&h, &nd[0]);	/* twice is harmless */
	ck_assert_uint_eq(h.n, 0);
	ck_assert_int_eq(rmx__heap_add(&h, &nd[0], 9), 0);
	ck_assert_int_eq(nd[0].key, 9);
	ck_assert_ptr_eq(rmx__heap_top(&h), &nd[0]);

	/* Among others: ties with them, then earliest, then latest. */
	for (i = 1; i < 10; i++)
		ck_assert_int_eq(rmx__heap_add(&h, &nd[i], 5), 0);
	rmx__heap_del(&h, &nd[0]);
	ck_assert_uint_eq(nd[0].idx, RMX__HEAP_NONE);
	ck_assert_int_eq(rmx__heap_add(&h, &nd[0], 5), 0);
	check_shape(&h);
	ck_assert_int_eq(rmx__heap_top(&h)->key, 5);
	rmx__heap_del(&h, &nd[0]);
	rmx__heap_del(&h, &nd[0]);
	ck_assert_uint_eq(h.n, 9);
	ck_assert_int_eq(rmx__heap_add(&h, &nd[0], 4), 0);
	ck_assert_ptr_eq(rmx__heap_top(&h), &nd[0]);
	rmx__heap_del(&h, &nd[0]);
	ck_assert_int_eq(rmx__heap_add(&h, &nd[0], 6), 0);
	ck_assert_ptr_ne(rmx__heap_top(&h), &nd[0]);
	check_shape(&h);
	ck_assert_uint_eq(drain(&h), 10);
	ck_assert_uint_eq(nd[0].idx, RMX__HEAP_NONE);
	rmx__heap_fini(&h);
}
END_TEST

START_TEST(fini_frees_and_resets)
{
	struct rmx__heap_node nd[200];
	struct rmx__heap h = { 0 };
	uint32_t i;

	rmx__heap_fini(&h);	/* never used */
	ck_assert_ptr_null(h.v);
	/* Past the first allocation, so the array has been grown. */
	for (i = 0; i < 200; i++) {
		rmx__heap_node_init(&nd[i]);
		ck_assert_int_eq(rmx__heap_add(&h, &nd[i], 200 - i), 0);
	}
	ck_assert_uint_ge(h.cap, 200);
	rmx__heap_fini(&h);
	ck_assert_ptr_null(h.v);
	ck_assert_uint_eq(h.n, 0);
	ck_assert_uint_eq(h.cap, 0);
	ck_assert_ptr_null(rmx__heap_top(&h));

	/* Usable again after fini; nodes start over from init. */
	for (i = 0; i < 3; i++) {
		rmx__heap_node_init(&nd[i]);
		ck_assert_int_eq(rmx__heap_add(&h, &nd[i], i), 0);
	}
	ck_assert_ptr_eq(rmx__heap_top(&h), &nd[0]);
	check_shape(&h);
	rmx__heap_fini(&h);
	ck_assert_ptr_null(h.v);
	ck_assert_uint_eq(h.n, 0);
	ck_assert_uint_eq(h.cap, 0);
	rmx__heap_fini(&h);	/* twice is harmless */
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("heap");
	TCase *tc = tcase_create("heap");

	tcase_add_test(tc, empty);
	tcase_add_test(tc, random_against_reference);
	tcase_add_test(tc, del_moves_replacement_up);
	tcase_add_test(tc, equal_keys_and_readd);
	tcase_add_test(tc, fini_frees_and_resets);
	suite_add_tcase(s, tc);
	return s;
}
