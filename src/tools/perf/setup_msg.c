// SPDX-License-Identifier: BSD-2-Clause
/*
 * rmx-perf: the client's setup message for each size, in a fixed
 * little-endian layout that hosts of either byte order read alike.
 */
#include <errno.h>

#include "perf.h"

static void put32(uint8_t *p, uint32_t v)
{
	int i;

	for (i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t get32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

int perf_setup_pack(const struct perf_setup *s, void *buf, size_t len)
{
	uint8_t *p = buf;

	if (len < PERF_SETUP_SIZE)
		return -EMSGSIZE;
	put32(p, PERF_MAGIC);
	put32(p + 4, PERF_WIRE_VERSION);
	put32(p + 8, s->test);
	put32(p + 12, s->window);
	put64(p + 16, s->size);
	put64(p + 24, s->max_size);
	return rmx_remote_pack(&s->remote, p + 32, RMX_REMOTE_PACKED_SIZE);
}

int perf_setup_unpack(struct perf_setup *s, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (len != PERF_SETUP_SIZE || get32(p) != PERF_MAGIC)
		return -EPROTO;
	if (get32(p + 4) != PERF_WIRE_VERSION)
		return -EPROTONOSUPPORT;
	s->test = get32(p + 8);
	s->window = get32(p + 12);
	s->size = get64(p + 16);
	s->max_size = get64(p + 24);
	if (s->test >= PERF_NTESTS || !s->window ||
	    s->window > PERF_MAX_WINDOW || !s->size ||
	    s->size > s->max_size || s->max_size > PERF_MAX_SIZE)
		return -EINVAL;
	return rmx_remote_unpack(&s->remote, p + 32, RMX_REMOTE_PACKED_SIZE);
}
