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

#include <rmx/rmx.h>

#define RMX__WIRE_MAGIC 0x524d		/* "RM" */
/* 2: credits are lent and taken back (receives shared by all peers). */
#define RMX__WIRE_VERSION 2
#define RMX__WIRE_HDR_SIZE 16

enum rmx__msg_type {
	RMX__MSG_EAGER = 1,	/* payload follows the header */
	RMX__MSG_CREDIT = 2,	/* no payload: returns credits only */
	RMX__MSG_RTS = 3,	/* rendezvous: read my buffer (struct rmx__rts) */
	RMX__MSG_ATS = 4,	/* rendezvous: done reading it (struct rmx__ats) */
	RMX__MSG_RPC_REQ = 5,	/* struct rmx__rpc_hdr, then data or an RTS */
	RMX__MSG_RPC_RESP = 6,	/* the same, answering a request */
	/*
	 * No payload: the sender destroyed its endpoint, nothing follows.
	 * rdma_disconnect() carries no data, so a clean close is said here.
	 */
	RMX__MSG_BYE = 7,
	RMX__MSG_NTYPES,
};

/* Payload of RMX__MSG_RTS: where the message waits to be read. */
#define RMX__RTS_SIZE 32
struct rmx__rts {
	uint64_t id;		/* the sender's, echoed in the ATS */
	uint64_t addr, len, rkey;
};

/* Payload of RMX__MSG_ATS: the receiver is done with the buffer. */
#define RMX__ATS_SIZE 12
struct rmx__ats {
	uint64_t id;
	int32_t status;		/* 0, or -EMSGSIZE / the read's error */
};

void rmx__rts_pack(void *buf, const struct rmx__rts *rts);
void rmx__rts_unpack(const void *buf, struct rmx__rts *rts);
void rmx__ats_pack(void *buf, const struct rmx__ats *ats);
void rmx__ats_unpack(const void *buf, struct rmx__ats *ats);

enum rmx__msg_flags {
	RMX__FLAG_PING = 1 << 0,	/* credit message asking for a reply */
	RMX__FLAG_RNDV = 1 << 1,	/* RPC: an RTS follows the RPC header */
};

/* What starts every RPC payload. */
#define RMX__RPC_HDR_SIZE 16
struct rmx__rpc_hdr {
	uint64_t call_id;	/* the caller's, echoed in the response */
	uint16_t rpc_id;	/* requests: the handler; responses: 0 */
	int32_t status;		/* responses: 0 or a negative errno */
};

void rmx__rpc_hdr_pack(void *buf, const struct rmx__rpc_hdr *rh);
/* -EPROTO for a header a peer of type `type` may not send. */
int rmx__rpc_hdr_parse(const void *buf, uint8_t type,
		       struct rmx__rpc_hdr *out);

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
/* The fixed part, then a length byte and the application's connect data. */
#define RMX__CONN_PRIV_MAX (RMX__CONN_PRIV_SIZE + 1 + RMX_CONNECT_DATA_MAX)

struct rmx__conn_priv {
	uint16_t version;
	uint16_t rx_max;	/* most credits it may ever lend */
	uint32_t rx_credits;	/* credits it lends from the start (>= 2) */
	uint32_t eager_max;	/* largest payload it accepts */
	uint8_t data_len;	/* rmx_ep_params.connect_data */
	uint8_t data[RMX_CONNECT_DATA_MAX];
};

/* Returns the bytes written: RMX__CONN_PRIV_SIZE plus the connect data. */
size_t rmx__conn_priv_pack(void *buf, const struct rmx__conn_priv *cp);
/* -EPROTO for foreign or truncated data, -EPROTONOSUPPORT for a version. */
int rmx__conn_priv_parse(const void *buf, size_t len,
			 struct rmx__conn_priv *out);

#endif
