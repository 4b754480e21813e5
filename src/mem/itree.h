/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The pin-down cache's index: a B+tree from a region's start to the
 * region. Nodes of eight keys, a cache-line pair each, keep a lookup
 * among 10 000 regions to five node visits, where a binary tree makes
 * fourteen dependent loads over scattered lines.
 * Regions never overlap, so "greatest start <= addr" finds the only
 * candidate. Not thread-safe: the cache's lock guards it.
 *
 * Inserts never allocate: they take nodes from a spare pool the caller
 * fills outside its lock (rmx__itree_spare_needed), and removals return
 * nodes to that pool rather than free them, since nothing that might
 * munmap may run under the cache's lock.
 */
#ifndef RMX_MEM_ITREE_H
#define RMX_MEM_ITREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RMX__ITREE_FANOUT 8

_Static_assert(RMX__ITREE_FANOUT == 8, "rmx__itree_rank() sums eight keys");

/* One key line, then one child line: a visit is one cache-line pair. */
struct rmx__itree_node {
	uintptr_t key[RMX__ITREE_FANOUT];	/* ascending, unused: MAX */
	void *ptr[RMX__ITREE_FANOUT];	/* items, or children (key: min) */
};

struct rmx__itree {
	struct rmx__itree_node *root;	/* NULL when empty */
	struct rmx__itree_node *spare;	/* pool, linked through ptr[0] */
	unsigned int height, nspare;	/* levels: the leaves are at 1 */
	bool appending;		/* the last insert was past the end */
	size_t count;
};

/* Keys <= k. Real keys are below UINTPTR_MAX, so unused slots never count. */
static inline unsigned int rmx__itree_rank(const struct rmx__itree_node *x,
					   uintptr_t k)
{
	const uintptr_t *key = x->key;

	if (k == UINTPTR_MAX)
		k--;
	/* Summed as a tree, not a chain: the eight compares run at once. */
	return (((key[0] <= k) + (key[1] <= k)) +
		((key[2] <= k) + (key[3] <= k))) +
	       (((key[4] <= k) + (key[5] <= k)) +
		((key[6] <= k) + (key[7] <= k)));
}

/* The item with the greatest key <= k, or NULL: the cache's hit path. */
static inline void *rmx__itree_floor(const struct rmx__itree *t, uintptr_t k)
{
	const struct rmx__itree_node *x = t->root;
	unsigned int h, i;

	for (h = t->height; h; h--) {
		i = rmx__itree_rank(x, k);
		if (!i)
			return NULL;
		if (h == 1)
			return x->ptr[i - 1];
		x = x->ptr[i - 1];
	}
	return NULL;
}

void rmx__itree_init(struct rmx__itree *t);
/* Frees the nodes and the pool; the items are the caller's. */
void rmx__itree_fini(struct rmx__itree *t);

/* Spare nodes the next insert may take. */
static inline unsigned int rmx__itree_spare_needed(const struct rmx__itree *t)
{
	unsigned int need = t->height + 1;

	return t->nspare >= need ? 0 : need - t->nspare;
}
struct rmx__itree_node *rmx__itree_node_alloc(void);
void rmx__itree_give(struct rmx__itree *t, struct rmx__itree_node *n);

/* Keys are below UINTPTR_MAX. -EEXIST if key is there, -ENOMEM if the
 * pool is short; t is then unchanged. */
int rmx__itree_insert(struct rmx__itree *t, uintptr_t key, void *item);
/* false if key is not there. */
bool rmx__itree_remove(struct rmx__itree *t, uintptr_t key);

/* The item with the least key > key, or NULL. */
void *rmx__itree_next(const struct rmx__itree *t, uintptr_t key);

/* Test hook: node fill, order, exact separators, count. 0 or -EFAULT. */
int rmx__itree_check(const struct rmx__itree *t);

#endif
