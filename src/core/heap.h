/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Binary min-heap of deadlines: thousands of timed calls cost O(log n)
 * each to add or remove, and the earliest is always at the top.
 */
#ifndef RMX_CORE_HEAP_H
#define RMX_CORE_HEAP_H

#include <stdint.h>

#define RMX__HEAP_NONE UINT32_MAX

/* Embedded in whatever has a deadline. */
struct rmx__heap_node {
	int64_t key;
	uint32_t idx;		/* position, or RMX__HEAP_NONE when out */
};

struct rmx__heap {
	struct rmx__heap_node **v;
	uint32_t n, cap;
};

static inline void rmx__heap_node_init(struct rmx__heap_node *node)
{
	node->idx = RMX__HEAP_NONE;
}

/* -ENOMEM, or 0 with node in the heap under key. */
int rmx__heap_add(struct rmx__heap *h, struct rmx__heap_node *node,
		  int64_t key);
/* Takes node out; a node not in the heap is left alone. */
void rmx__heap_del(struct rmx__heap *h, struct rmx__heap_node *node);

/* The earliest node, or NULL. */
static inline struct rmx__heap_node *rmx__heap_top(const struct rmx__heap *h)
{
	return h->n ? h->v[0] : 0;
}

void rmx__heap_fini(struct rmx__heap *h);

#endif
