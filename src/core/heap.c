// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdlib.h>

#include "core/heap.h"

static void place(struct rmx__heap *h, uint32_t i, struct rmx__heap_node *node)
{
	h->v[i] = node;
	node->idx = i;
}

static void sift_up(struct rmx__heap *h, uint32_t i)
{
	struct rmx__heap_node *node = h->v[i];

	while (i) {
		uint32_t parent = (i - 1) / 2;

		if (h->v[parent]->key <= node->key)
			break;
		place(h, i, h->v[parent]);
		i = parent;
	}
	place(h, i, node);
}

static void sift_down(struct rmx__heap *h, uint32_t i)
{
	struct rmx__heap_node *node = h->v[i];

	for (;;) {
		uint32_t child = 2 * i + 1;

		if (child >= h->n)
			break;
		if (child + 1 < h->n && h->v[child + 1]->key < h->v[child]->key)
			child++;
		if (node->key <= h->v[child]->key)
			break;
		place(h, i, h->v[child]);
		i = child;
	}
	place(h, i, node);
}

int rmx__heap_add(struct rmx__heap *h, struct rmx__heap_node *node,
		  int64_t key)
{
	if (h->n == h->cap) {
		uint32_t cap = h->cap ? h->cap * 2 : 64;
		struct rmx__heap_node **v = realloc(h->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		h->v = v;
		h->cap = cap;
	}
	node->key = key;
	h->v[h->n] = node;
	sift_up(h, h->n++);
	return 0;
}

void rmx__heap_del(struct rmx__heap *h, struct rmx__heap_node *node)
{
	uint32_t i = node->idx;

	if (i == RMX__HEAP_NONE || i >= h->n || h->v[i] != node)
		return;
	node->idx = RMX__HEAP_NONE;
	if (i == --h->n)
		return;
	/* The last node fills the hole and moves whichever way it must. */
	h->v[i] = h->v[h->n];
	h->v[i]->idx = i;
	sift_down(h, i);
	sift_up(h, h->v[i]->idx);
}

void rmx__heap_fini(struct rmx__heap *h)
{
	free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
}
