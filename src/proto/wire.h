/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What goes on the wire. Every field is big-endian; every received header
 * goes through rmx__wire_parse(), the one place that decides whether the
 * peer's bytes are acceptable.
 */
#ifndef RMX_PROTO_WIRE_H
#define RMX_PROTO_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define RMX__WIRE_MAGIC 0x524d		/* "RM" */
#define RMX__WIRE_VERSION 1
#define RMX__WIRE_HDR_SIZE 16

enum rmx__msg_type {
	RMX__MSG_EAGER = 1,	/* payload follows the header */
	RMX__MSG_CREDIT = 2,	/* no payload: returns credits only */
};

enum rmx__msg_flags {
	RMX__FLAG_PING = 1 << 0,	/* credit message asking for a reply */
};

struct rmx__wire_hdr {
	uint8_t type;
	uint16_t flags;
	uint16_t credits;	/* receive buffers the sender reposted */
	uint32_t len;		/* payload bytes after the header */
};

/* Writes RMX__WIRE_HDR_SIZE bytes. */
void rmx__wire_pack(void *buf, const struct rmx__wire_hdr *hdr);

/*
 * Validates a received message of `len` bytes whose payload may be at
 * most max_payload: magic, version, known type, no unknown flags, and a
 * payload length that matches what arrived. -EPROTO when anything is off.
 */
int rmx__wire_parse(const void *buf, size_t len, uint32_t max_payload,
		    struct rmx__wire_hdr *out);

/* Connection private data, exchanged in the CM handshake. */
#define RMX__CONN_MAGIC 0x524d5843u	/* "RMXC" */
#define RMX__CONN_PRIV_SIZE 16

struct rmx__conn_priv {
	uint16_t version;
	uint32_t rx_depth;	/* receives the sender keeps posted */
	uint32_t eager_max;	/* largest payload it accepts */
};

void rmx__conn_priv_pack(void *buf, const struct rmx__conn_priv *cp);
/* -EPROTO for foreign or truncated data, -EPROTONOSUPPORT for a version. */
int rmx__conn_priv_parse(const void *buf, size_t len,
			 struct rmx__conn_priv *out);

#endif
