// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mem/itree.h"

/*
 * Nodes carry no count and no leaf flag, so a lookup reads nothing but
 * keys and one child pointer: the count is the keys below UINTPTR_MAX, and
 * a node's level (1 for leaves) is passed down from the tree's height.
 */
#define FANOUT RMX__ITREE_FANOUT
#define MIN_FILL (FANOUT / 2)	/* below it, a node borrows or merges */
#define NODE_ALIGN 128		/* the key and child lines are a pair */

static unsigned int fill(const struct rmx__itree_node *x)
{
	return rmx__itree_rank(x, UINTPTR_MAX);
}

static void reset(struct rmx__itree_node *x)
{
	unsigned int i;

	for (i = 0; i < FANOUT; i++) {
		x->key[i] = UINTPTR_MAX;
		x->ptr[i] = NULL;
	}
}

struct rmx__itree_node *rmx__itree_node_alloc(void)
{
	return aligned_alloc(NODE_ALIGN, sizeof(struct rmx__itree_node));
}

void rmx__itree_give(struct rmx__itree *t, struct rmx__itree_node *x)
{
	x->ptr[0] = t->spare;
	t->spare = x;
	t->nspare++;
}

static struct rmx__itree_node *take(struct rmx__itree *t)
{
	struct rmx__itree_node *x = t->spare;

	t->spare = x->ptr[0];
	t->nspare--;
	reset(x);
	return x;
}

void rmx__itree_init(struct rmx__itree *t)
{
	memset(t, 0, sizeof(*t));
}

static void free_subtree(struct rmx__itree_node *x, unsigned int h)
{
	unsigned int i, n = fill(x);

	if (h > 1)
		for (i = 0; i < n; i++)
			free_subtree(x->ptr[i], h - 1);
	free(x);
}

void rmx__itree_fini(struct rmx__itree *t)
{
	struct rmx__itree_node *x;

	if (t->root)
		free_subtree(t->root, t->height);
	while ((x = t->spare)) {
		t->spare = x->ptr[0];
		free(x);
	}
	memset(t, 0, sizeof(*t));
}

static void *leftmost(const struct rmx__itree_node *x, unsigned int h)
{
	for (; h > 1; h--)
		x = x->ptr[0];
	return x->ptr[0];
}

static void *next_in(const struct rmx__itree_node *x, unsigned int h,
		     uintptr_t k)
{
	unsigned int i = rmx__itree_rank(x, k), n = fill(x);
	void *item;

	if (h == 1)
		return i < n ? x->ptr[i] : NULL;
	if (i && (item = next_in(x->ptr[i - 1], h - 1, k)))
		return item;
	return i < n ? leftmost(x->ptr[i], h - 1) : NULL;
}

void *rmx__itree_next(const struct rmx__itree *t, uintptr_t k)
{
	return t->root ? next_in(t->root, t->height, k) : NULL;
}

static void place(struct rmx__itree_node *x, unsigned int n,
		  unsigned int pos, uintptr_t k, void *p)
{
	memmove(&x->key[pos + 1], &x->key[pos], (n - pos) * sizeof(k));
	memmove(&x->ptr[pos + 1], &x->ptr[pos], (n - pos) * sizeof(p));
	x->key[pos] = k;
	x->ptr[pos] = p;
}

static void unplace(struct rmx__itree_node *x, unsigned int n,
		    unsigned int pos)
{
	n--;
	memmove(&x->key[pos], &x->key[pos + 1], (n - pos) * sizeof(x->key[0]));
	memmove(&x->ptr[pos], &x->ptr[pos + 1], (n - pos) * sizeof(x->ptr[0]));
	x->key[n] = UINTPTR_MAX;
	x->ptr[n] = NULL;
}

/*
 * Inserts at pos, splitting a full node first; returns the new right
 * node. When keys come in ascending order (tail: this is a run of appends
 * past the last key), the full node stays full and the new one starts
 * with the new entry: every node ends up full, and only the rightmost
 * path is ever short. Otherwise the node splits in halves.
 */
static struct rmx__itree_node *place_split(struct rmx__itree *t,
					   struct rmx__itree_node *x,
					   bool tail, unsigned int pos,
					   uintptr_t k, void *p)
{
	unsigned int n = fill(x), i;
	struct rmx__itree_node *s;

	if (n < FANOUT) {
		place(x, n, pos, k, p);
		return NULL;
	}
	s = take(t);
	if (tail && pos == FANOUT) {
		place(s, 0, 0, k, p);
		return s;
	}
	for (i = MIN_FILL; i < FANOUT; i++) {
		s->key[i - MIN_FILL] = x->key[i];
		s->ptr[i - MIN_FILL] = x->ptr[i];
		x->key[i] = UINTPTR_MAX;
		x->ptr[i] = NULL;
	}
	if (pos <= MIN_FILL)
		place(x, MIN_FILL, pos, k, p);
	else
		place(s, FANOUT - MIN_FILL, pos - MIN_FILL, k, p);
	return s;
}

static struct rmx__itree_node *ins(struct rmx__itree *t,
				   struct rmx__itree_node *x, unsigned int h,
				   bool tail, uintptr_t k, void *item)
{
	unsigned int i = rmx__itree_rank(x, k);
	struct rmx__itree_node *s;

	if (h == 1)
		return place_split(t, x, tail, i, k, item);
	if (i)
		i--;
	else
		x->key[0] = k;	/* a new minimum for the leftmost path */
	s = ins(t, x->ptr[i], h - 1, tail, k, item);
	return s ? place_split(t, x, tail, i + 1, s->key[0], s) : NULL;
}

int rmx__itree_insert(struct rmx__itree *t, uintptr_t k, void *item)
{
	const struct rmx__itree_node *x;
	struct rmx__itree_node *s, *r;
	bool append = true;
	unsigned int h, i;

	if (k == UINTPTR_MAX)
		return -EINVAL;
	for (x = t->root, h = t->height; h; h--) {
		i = rmx__itree_rank(x, k);
		append = append && i && i == fill(x);
		if (!i)
			break;
		if (h == 1 && x->key[i - 1] == k)
			return -EEXIST;
		x = x->ptr[i - 1];
	}
	if (rmx__itree_spare_needed(t))
		return -ENOMEM;
	if (!t->root) {
		t->root = take(t);
		t->height = 1;
	}
	/* A second append in a row: addresses are ascending, fill nodes. */
	s = ins(t, t->root, t->height, append && t->appending, k, item);
	t->appending = append;
	if (s) {
		r = take(t);
		place(r, 0, 0, t->root->key[0], t->root);
		place(r, 1, 1, s->key[0], s);
		t->root = r;
		t->height++;
	}
	t->count++;
	return 0;
}

/* Child i of x (at level h) is short: borrow from a sibling, or merge. */
static void rebalance(struct rmx__itree *t, struct rmx__itree_node *x,
		      unsigned int i)
{
	unsigned int li = i ? i - 1 : 0;
	struct rmx__itree_node *l = x->ptr[li], *r = x->ptr[li + 1];
	unsigned int ln, rn;

	if (!r)
		return;		/* an only child, on the rightmost path */
	ln = fill(l);
	rn = fill(r);

	if (ln + rn <= FANOUT) {
		memcpy(&l->key[ln], r->key, rn * sizeof(r->key[0]));
		memcpy(&l->ptr[ln], r->ptr, rn * sizeof(r->ptr[0]));
		unplace(x, fill(x), li + 1);
		rmx__itree_give(t, r);
		return;
	}
	if (ln > rn) {
		place(r, rn, 0, l->key[ln - 1], l->ptr[ln - 1]);
		unplace(l, ln, ln - 1);
	} else {
		place(l, ln, ln, r->key[0], r->ptr[0]);
		unplace(r, rn, 0);
	}
	x->key[li + 1] = r->key[0];
}

static bool del(struct rmx__itree *t, struct rmx__itree_node *x,
		unsigned int h, uintptr_t k)
{
	unsigned int i = rmx__itree_rank(x, k);
	struct rmx__itree_node *c;

	if (!i)
		return false;
	i--;
	if (h == 1) {
		if (x->key[i] != k)
			return false;
		unplace(x, fill(x), i);
		return true;
	}
	c = x->ptr[i];
	if (!del(t, c, h - 1, k))
		return false;
	if (!fill(c)) {
		/* A short rightmost node lost its last entry: drop it. */
		unplace(x, fill(x), i);
		rmx__itree_give(t, c);
		return true;
	}
	x->key[i] = c->key[0];	/* separators stay exact minimums */
	if (fill(c) < MIN_FILL)
		rebalance(t, x, i);
	return true;
}

bool rmx__itree_remove(struct rmx__itree *t, uintptr_t k)
{
	struct rmx__itree_node *r = t->root;

	if (!r || !del(t, r, t->height, k))
		return false;
	t->count--;
	if (!fill(r)) {
		t->root = NULL;
		rmx__itree_give(t, r);
		t->height = 0;
	} else if (t->height > 1 && fill(r) == 1) {
		t->root = r->ptr[0];
		rmx__itree_give(t, r);
		t->height--;
	}
	return true;
}

/*
 * Returns the items under x (at level h), or -1; x's keys are below hi.
 * Only the root and the rightmost path may be short.
 */
static long check_node(const struct rmx__itree_node *x, uintptr_t hi,
		       unsigned int h, bool root, bool rightmost)
{
	unsigned int i, n = fill(x);
	long items = 0, sub;

	if (!n || (!rightmost && n < MIN_FILL) || (root && h > 1 && n < 2))
		return -1;
	for (i = 0; i < FANOUT; i++) {
		if (i >= n) {
			if (x->key[i] != UINTPTR_MAX || x->ptr[i])
				return -1;
			continue;
		}
		if (!x->ptr[i] || x->key[i] >= hi ||
		    (i && x->key[i - 1] >= x->key[i]))
			return -1;
		if (h == 1) {
			items++;
			continue;
		}
		if (((const struct rmx__itree_node *)x->ptr[i])->key[0] !=
		    x->key[i])
			return -1;
		sub = check_node(x->ptr[i], i + 1 < n ? x->key[i + 1] : hi,
				 h - 1, false, rightmost && i + 1 == n);
		if (sub < 0)
			return -1;
		items += sub;
	}
	return items;
}

int rmx__itree_check(const struct rmx__itree *t)
{
	const struct rmx__itree_node *x;
	unsigned int n = 0;

	for (x = t->spare; x; x = x->ptr[0])
		n++;
	if (n != t->nspare)
		return -EFAULT;
	if (!t->root)
		return t->count || t->height ? -EFAULT : 0;
	return check_node(t->root, UINTPTR_MAX, t->height, true, true) ==
			       (long)t->count ?
		       0 : -EFAULT;
}
