/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Big-endian (network order) integers at any alignment: what goes on the
 * wire or to a peer reads the same on hosts of either byte order.
 */
#ifndef RMX_CORE_BYTES_H
#define RMX_CORE_BYTES_H

#include <stdint.h>

static inline void rmx__put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void rmx__put_be32(uint8_t *p, uint32_t v)
{
	rmx__put_be16(p, (uint16_t)(v >> 16));
	rmx__put_be16(p + 2, (uint16_t)v);
}

static inline void rmx__put_be64(uint8_t *p, uint64_t v)
{
	rmx__put_be32(p, (uint32_t)(v >> 32));
	rmx__put_be32(p + 4, (uint32_t)v);
}

static inline uint16_t rmx__get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t rmx__get_be32(const uint8_t *p)
{
	return (uint32_t)rmx__get_be16(p) << 16 | rmx__get_be16(p + 2);
}

static inline uint64_t rmx__get_be64(const uint8_t *p)
{
	return (uint64_t)rmx__get_be32(p) << 32 | rmx__get_be32(p + 4);
}

#endif
