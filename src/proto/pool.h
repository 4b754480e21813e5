/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Registered buffers of one size, grown in blocks as they are needed:
 * the message buffers every endpoint of a context shares (pool.c).
 */
#ifndef RMX_PROTO_POOL_H
#define RMX_PROTO_POOL_H

#include <stdint.h>

#include "mem/reg.h"

/* Buffers registered at once: one registration each, no more often. */
#define RMX__POOL_BLOCK 16

struct rmx__pool_block {
	char *mem;
	struct rmx__tp_mr *mr;
};

struct rmx__bufpool {
	struct rmx__mem *mem;
	unsigned int access;	/* enum rmx__tp_access */
	uint32_t size;		/* bytes a buffer */
	uint32_t max;		/* most buffers there may be */
	uint32_t n;		/* buffers there are */
	struct rmx__pool_block *blocks;
	uint32_t *free;		/* stack of free buffer indices */
	uint32_t nfree;
};

void rmx__bufpool_init(struct rmx__bufpool *bp, struct rmx__mem *mem,
		       uint32_t size, uint32_t max, unsigned int access);
void rmx__bufpool_fini(struct rmx__bufpool *bp);
/*
 * Registers blocks until there are at least `total` buffers, the new
 * ones free: -ENOSPC beyond max, or the registration's error.
 */
int rmx__bufpool_grow(struct rmx__bufpool *bp, uint32_t total);
/* A free buffer's index, growing by a block when none is: see grow. */
int rmx__bufpool_take(struct rmx__bufpool *bp, uint32_t *idx);
void rmx__bufpool_give(struct rmx__bufpool *bp, uint32_t idx);

static inline char *rmx__bufpool_buf(const struct rmx__bufpool *bp,
				     uint32_t idx)
{
	return bp->blocks[idx / RMX__POOL_BLOCK].mem +
	       (size_t)(idx % RMX__POOL_BLOCK) * bp->size;
}

static inline struct rmx__tp_mr *rmx__bufpool_mr(const struct rmx__bufpool *bp,
						 uint32_t idx)
{
	return bp->blocks[idx / RMX__POOL_BLOCK].mr;
}

static inline uint64_t rmx__bufpool_bytes(const struct rmx__bufpool *bp)
{
	return (uint64_t)bp->n * bp->size;
}

#endif
