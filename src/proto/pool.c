// SPDX-License-Identifier: BSD-2-Clause
/* Registered buffers of one size, grown in blocks as they are needed. */
#include <errno.h>
#include <stdlib.h>

#include "proto/pool.h"

void rmx__bufpool_init(struct rmx__bufpool *bp, struct rmx__mem *mem,
		       uint32_t size, uint32_t max, unsigned int access)
{
	*bp = (struct rmx__bufpool){ .mem = mem, .size = size,
				     .access = access };
	/* Whole blocks only. */
	bp->max = max - max % RMX__POOL_BLOCK;
}

void rmx__bufpool_fini(struct rmx__bufpool *bp)
{
	uint32_t i;

	for (i = 0; i < bp->n / RMX__POOL_BLOCK; i++) {
		rmx__mem_dereg_exact(bp->mem, bp->blocks[i].mr);
		free(bp->blocks[i].mem);
	}
	free(bp->blocks);
	free(bp->free);
	*bp = (struct rmx__bufpool){ 0 };
}

static int add_block(struct rmx__bufpool *bp)
{
	uint32_t nb = bp->n / RMX__POOL_BLOCK, i;
	size_t bytes = (size_t)RMX__POOL_BLOCK * bp->size;
	struct rmx__pool_block *blocks;
	uint32_t *free_idx;
	char *mem;
	int ret;

	if (bp->n + RMX__POOL_BLOCK > bp->max)
		return -ENOSPC;
	blocks = realloc(bp->blocks, (nb + 1) * sizeof(*blocks));
	if (!blocks)
		return -ENOMEM;
	bp->blocks = blocks;
	free_idx = realloc(bp->free, (bp->n + RMX__POOL_BLOCK) *
					     sizeof(*free_idx));
	if (!free_idx)
		return -ENOMEM;
	bp->free = free_idx;
	mem = aligned_alloc(4096, (bytes + 4095) & ~(size_t)4095);
	if (!mem)
		return -ENOMEM;
	/*
	 * Registered as long as the context lives: not the cache's to count
	 * against RMX_RCACHE_MAX_* or to evict.
	 */
	ret = rmx__mem_reg_exact(bp->mem, mem, bytes, bp->access,
				 &blocks[nb].mr);
	if (ret) {
		free(mem);
		return ret;
	}
	blocks[nb].mem = mem;
	/* Lowest index on top: the first buffers are reused first. */
	for (i = RMX__POOL_BLOCK; i-- > 0;)
		bp->free[bp->nfree++] = bp->n + i;
	bp->n += RMX__POOL_BLOCK;
	return 0;
}

int rmx__bufpool_grow(struct rmx__bufpool *bp, uint32_t total)
{
	int ret = 0;

	while (bp->n < total && !ret)
		ret = add_block(bp);
	return ret;
}

int rmx__bufpool_take(struct rmx__bufpool *bp, uint32_t *idx)
{
	int ret;

	if (!bp->nfree) {
		ret = add_block(bp);
		if (ret)
			return ret;
	}
	*idx = bp->free[--bp->nfree];
	return 0;
}

void rmx__bufpool_give(struct rmx__bufpool *bp, uint32_t idx)
{
	bp->free[bp->nfree++] = idx;
}
