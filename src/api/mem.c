// SPDX-License-Identifier: BSD-2-Clause
/* Public memory registration and remote descriptors. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <rmx/rmx.h>

#include "api/context.h"
#include "core/bytes.h"
#include "core/log.h"

struct rmx_mem {
	struct rmx_context *ctx;
	struct rmx__tp_mr *mr;
	void *addr;
	size_t len;
	struct rmx__list link;	/* ctx->mems */
};

int rmx_mem_reg(rmx_context_t *ctx, void *addr, size_t len,
		unsigned int flags, rmx_mem_t **out)
{
	unsigned int access = RMX__TP_LOCAL_WRITE;
	struct rmx_mem *m;
	int ret;

	RMX__CHECK(ctx && addr && out, "NULL ctx, addr or out");
	RMX__CHECK(len > 0, "len is 0");
	RMX__CHECK(!(flags & ~(unsigned int)(RMX_MEM_REMOTE_READ |
					     RMX_MEM_REMOTE_WRITE |
					     RMX_MEM_REMOTE_ATOMIC)),
		   "unknown flags");
	if (flags & RMX_MEM_REMOTE_READ)
		access |= RMX__TP_REMOTE_READ;
	if (flags & RMX_MEM_REMOTE_WRITE)
		access |= RMX__TP_REMOTE_WRITE;
	if (flags & RMX_MEM_REMOTE_ATOMIC)
		access |= RMX__TP_REMOTE_ATOMIC;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	ret = rmx__mem_reg_exact(&ctx->mem, addr, len, access, &m->mr);
	if (ret) {
		free(m);
		return ret;
	}
	m->ctx = ctx;
	m->addr = addr;
	m->len = len;
	rmx__list_add_tail(&ctx->mems, &m->link);
	*out = m;
	return 0;
}

int rmx_mem_dereg(rmx_mem_t *m)
{
	int ret;

	RMX__CHECK(m, "mem is NULL");
	ret = rmx__mem_dereg_exact(&m->ctx->mem, m->mr);
	if (ret)
		return ret;
	rmx__list_del(&m->link);
	free(m);
	return 0;
}

void rmx__api_mem_pinned(struct rmx_context *ctx, size_t *n, uint64_t *bytes)
{
	struct rmx__list *l;

	*n = 0;
	*bytes = 0;
	for (l = ctx->mems.next; l != &ctx->mems; l = l->next) {
		(*n)++;
		*bytes += rmx__container_of(l, struct rmx_mem, link)->len;
	}
}

void rmx__api_mem_release_all(struct rmx_context *ctx)
{
	struct rmx__list *n;

	while ((n = ctx->mems.next) != &ctx->mems) {
		struct rmx_mem *m = rmx__container_of(n, struct rmx_mem, link);

		rmx__warn("context destroyed with %zu bytes at %p still registered",
			  m->len, m->addr);
		rmx__mem_dereg_exact(&ctx->mem, m->mr);
		rmx__list_del(&m->link);
		free(m);
	}
}

int rmx_mem_remote(const rmx_mem_t *m, rmx_remote_t *out)
{
	RMX__CHECK(m && out, "NULL mem or out");
	out->addr = (uintptr_t)m->addr;
	out->len = m->len;
	out->key = m->mr->rkey;
	return 0;
}

/*
 * Packed descriptor, version 1: u8 version, u8 key bytes, 6 bytes zero,
 * u64 addr, u64 len, then the key (big-endian when it is an integer) in a
 * field of RMX_REMOTE_PACKED_SIZE - 24 bytes, zero after the key. A peer
 * with a wider key, or a later version, is refused, never misread.
 */
#define REMOTE_VERSION 1
#define REMOTE_HDR 8
#define REMOTE_KEY_OFF 24
#define REMOTE_KEY_ROOM (RMX_REMOTE_PACKED_SIZE - REMOTE_KEY_OFF)

int rmx_remote_pack(const rmx_remote_t *r, void *buf, size_t len)
{
	uint8_t *p = buf;

	RMX__CHECK(r && buf, "NULL remote or buf");
	if (len < RMX_REMOTE_PACKED_SIZE)
		return -ENOBUFS;
	memset(p, 0, RMX_REMOTE_PACKED_SIZE);
	p[0] = REMOTE_VERSION;
	p[1] = sizeof(r->key);
	rmx__put_be64(p + REMOTE_HDR, r->addr);
	rmx__put_be64(p + REMOTE_HDR + 8, r->len);
	rmx__put_be64(p + REMOTE_KEY_OFF, r->key);
	return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

int rmx_remote_unpack(rmx_remote_t *r, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	rmx_remote_t tmp;

	RMX__CHECK(r && buf, "NULL remote or buf");
	if (len < RMX_REMOTE_PACKED_SIZE)
		return -EMSGSIZE;
	if (p[0] != REMOTE_VERSION || !all_zero(p + 2, REMOTE_HDR - 2)) {
		rmx__err("rmx_remote_unpack: descriptor version %u (this rmx reads %u): is the peer's rmx newer?",
			 p[0], REMOTE_VERSION);
		return -EPROTO;
	}
	if (p[1] > REMOTE_KEY_ROOM ||
	    !all_zero(p + REMOTE_KEY_OFF + p[1], REMOTE_KEY_ROOM - p[1])) {
		rmx__err("rmx_remote_unpack: malformed descriptor (key of %u bytes)",
			 p[1]);
		return -EPROTO;
	}
	if (p[1] != sizeof(tmp.key)) {
		rmx__err("rmx_remote_unpack: a %u-byte key; this rmx's transports take %zu-byte keys",
			 p[1], sizeof(tmp.key));
		return -EOPNOTSUPP;
	}
	tmp.addr = rmx__get_be64(p + REMOTE_HDR);
	tmp.len = rmx__get_be64(p + REMOTE_HDR + 8);
	tmp.key = rmx__get_be64(p + REMOTE_KEY_OFF);
	if (tmp.addr + tmp.len < tmp.addr) {
		rmx__err("rmx_remote_unpack: region wraps the address space");
		return -EINVAL;
	}
	*r = tmp;
	return 0;
}
