// SPDX-License-Identifier: BSD-2-Clause
/*
 * rmx-ping, rping mode: the one message rping sends, a buffer's
 * descriptor { be64 addr; be32 rkey; be32 len } (struct rping_rdma_info).
 */
#include <endian.h>
#include <string.h>

#include "rping_conn.h"

void rping_info_encode(uint8_t *b, const void *addr, uint32_t rkey,
		       uint32_t len)
{
	uint64_t a = htobe64((uint64_t)(uintptr_t)addr);
	uint32_t k = htobe32(rkey), l = htobe32(len);

	memcpy(b, &a, 8);
	memcpy(b + 8, &k, 4);
	memcpy(b + 12, &l, 4);
}

void rping_info_decode(const uint8_t *b, uint64_t *addr, uint32_t *rkey,
		       uint32_t *len)
{
	uint64_t a;
	uint32_t k, l;

	memcpy(&a, b, 8);
	memcpy(&k, b + 8, 4);
	memcpy(&l, b + 12, 4);
	*addr = be64toh(a);
	*rkey = be32toh(k);
	*len = be32toh(l);
}
