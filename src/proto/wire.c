// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "core/bytes.h"
#include "core/log.h"
#include "proto/wire.h"

#define KNOWN_FLAGS (RMX__FLAG_PING | RMX__FLAG_RNDV)
#define MAX_ERRNO 4095

/*
 * Header layout: magic(2) version(1) type(1) flags(2) credits(2)
 * len(4) reserved(4, zero).
 */
void rmx__wire_pack(void *buf, const struct rmx__wire_hdr *hdr)
{
	uint8_t *p = buf;

	rmx__put_be16(p, RMX__WIRE_MAGIC);
	p[2] = RMX__WIRE_VERSION;
	p[3] = hdr->type;
	rmx__put_be16(p + 4, hdr->flags);
	rmx__put_be16(p + 6, hdr->credits);
	rmx__put_be32(p + 8, hdr->len);
	rmx__put_be32(p + 12, 0);
}

static bool is_rpc(uint8_t type)
{
	return type == RMX__MSG_RPC_REQ || type == RMX__MSG_RPC_RESP;
}

int rmx__wire_parse(const void *buf, size_t len, uint32_t max_payload,
		    struct rmx__wire_hdr *out)
{
	const uint8_t *p = buf;

	if (len < RMX__WIRE_HDR_SIZE) {
		rmx__err("wire: %zu-byte message is shorter than a header", len);
		return -EPROTO;
	}
	if (rmx__get_be16(p) != RMX__WIRE_MAGIC || p[2] != RMX__WIRE_VERSION) {
		rmx__err("wire: bad magic 0x%04x or version %u", rmx__get_be16(p), p[2]);
		return -EPROTO;
	}
	out->type = p[3];
	out->flags = rmx__get_be16(p + 4);
	out->credits = rmx__get_be16(p + 6);
	out->len = rmx__get_be32(p + 8);
	if (out->type < RMX__MSG_EAGER || out->type >= RMX__MSG_NTYPES) {
		rmx__err("wire: unknown message type %u", out->type);
		return -EPROTO;
	}
	if ((out->type == RMX__MSG_RTS && out->len != RMX__RTS_SIZE) ||
	    (out->type == RMX__MSG_ATS && out->len != RMX__ATS_SIZE)) {
		rmx__err("wire: rendezvous message of type %u with %u bytes",
			 out->type, out->len);
		return -EPROTO;
	}
	if (out->flags & ~KNOWN_FLAGS || rmx__get_be32(p + 12)) {
		rmx__err("wire: unknown flags 0x%x or reserved bits set",
			 out->flags);
		return -EPROTO;
	}
	if (out->flags & RMX__FLAG_PING && out->type != RMX__MSG_CREDIT) {
		rmx__err("wire: ping flag on a message of type %u", out->type);
		return -EPROTO;
	}
	if (is_rpc(out->type) &&
	    (out->flags & RMX__FLAG_RNDV ?
		     out->len != RMX__RPC_HDR_SIZE + RMX__RTS_SIZE :
		     out->len < RMX__RPC_HDR_SIZE)) {
		rmx__err("wire: RPC message of %u bytes (flags 0x%x)", out->len,
			 out->flags);
		return -EPROTO;
	}
	if (out->flags & RMX__FLAG_RNDV && !is_rpc(out->type)) {
		rmx__err("wire: rendezvous flag on a message of type %u",
			 out->type);
		return -EPROTO;
	}
	if ((out->type == RMX__MSG_CREDIT || out->type == RMX__MSG_BYE) &&
	    out->len) {
		rmx__err("wire: message of type %u with a %u-byte payload",
			 out->type, out->len);
		return -EPROTO;
	}
	if (out->len > max_payload || out->len != len - RMX__WIRE_HDR_SIZE) {
		rmx__err("wire: payload length %u does not match %zu received (limit %u)",
			 out->len, len - RMX__WIRE_HDR_SIZE, max_payload);
		return -EPROTO;
	}
	return 0;
}

void rmx__rts_pack(void *buf, const struct rmx__rts *rts)
{
	uint8_t *p = buf;

	rmx__put_be64(p, rts->id);
	rmx__put_be64(p + 8, rts->addr);
	rmx__put_be64(p + 16, rts->len);
	rmx__put_be64(p + 24, rts->rkey);
}

void rmx__rts_unpack(const void *buf, struct rmx__rts *rts)
{
	const uint8_t *p = buf;

	rts->id = rmx__get_be64(p);
	rts->addr = rmx__get_be64(p + 8);
	rts->len = rmx__get_be64(p + 16);
	rts->rkey = rmx__get_be64(p + 24);
}

void rmx__ats_pack(void *buf, const struct rmx__ats *ats)
{
	uint8_t *p = buf;

	rmx__put_be64(p, ats->id);
	rmx__put_be32(p + 8, (uint32_t)ats->status);
}

void rmx__ats_unpack(const void *buf, struct rmx__ats *ats)
{
	const uint8_t *p = buf;

	ats->id = rmx__get_be64(p);
	ats->status = (int32_t)rmx__get_be32(p + 8);
}

/* Layout: call_id(8) rpc_id(2) reserved(2, zero) status(4). */
void rmx__rpc_hdr_pack(void *buf, const struct rmx__rpc_hdr *rh)
{
	uint8_t *p = buf;

	rmx__put_be64(p, rh->call_id);
	rmx__put_be16(p + 8, rh->rpc_id);
	rmx__put_be16(p + 10, 0);
	rmx__put_be32(p + 12, (uint32_t)rh->status);
}

int rmx__rpc_hdr_parse(const void *buf, uint8_t type,
		       struct rmx__rpc_hdr *out)
{
	const uint8_t *p = buf;

	out->call_id = rmx__get_be64(p);
	out->rpc_id = rmx__get_be16(p + 8);
	out->status = (int32_t)rmx__get_be32(p + 12);
	if (rmx__get_be16(p + 10) || !out->call_id) {
		rmx__err("wire: RPC header with call id 0 or reserved bits");
		return -EPROTO;
	}
	if (type == RMX__MSG_RPC_REQ ? out->status != 0 :
	    out->rpc_id || out->status > 0 || out->status < -MAX_ERRNO) {
		rmx__err("wire: RPC %s with rpc id %u, status %d",
			 type == RMX__MSG_RPC_REQ ? "request" : "response",
			 out->rpc_id, out->status);
		return -EPROTO;
	}
	return 0;
}

size_t rmx__conn_priv_pack(void *buf, const struct rmx__conn_priv *cp)
{
	uint8_t *p = buf;

	rmx__put_be32(p, RMX__CONN_MAGIC);
	rmx__put_be16(p + 4, cp->version);
	rmx__put_be16(p + 6, cp->rx_max);
	rmx__put_be32(p + 8, cp->rx_credits);
	rmx__put_be32(p + 12, cp->eager_max);
	/* A peer without connect data sends none: the CM pads with zeros. */
	if (!cp->data_len)
		return RMX__CONN_PRIV_SIZE;
	p[RMX__CONN_PRIV_SIZE] = cp->data_len;
	memcpy(p + RMX__CONN_PRIV_SIZE + 1, cp->data, cp->data_len);
	return RMX__CONN_PRIV_SIZE + 1 + cp->data_len;
}

int rmx__conn_priv_parse(const void *buf, size_t len,
			 struct rmx__conn_priv *out)
{
	const uint8_t *p = buf;

	/* The CM may pad private data: longer is fine, shorter is not. */
	if (!buf || len < RMX__CONN_PRIV_SIZE || rmx__get_be32(p) != RMX__CONN_MAGIC) {
		rmx__err("connection data is not from an rmx peer");
		return -EPROTO;
	}
	out->version = rmx__get_be16(p + 4);
	out->rx_max = rmx__get_be16(p + 6);
	out->rx_credits = rmx__get_be32(p + 8);
	out->eager_max = rmx__get_be32(p + 12);
	if (out->version != RMX__WIRE_VERSION) {
		rmx__err("peer speaks wire version %u, this library %u",
			 out->version, RMX__WIRE_VERSION);
		return -EPROTONOSUPPORT;
	}
	/* One credit is kept for credit messages: fewer than 2 never send. */
	if (out->rx_credits < 2 || out->rx_credits > out->rx_max ||
	    out->eager_max < 1) {
		rmx__err("peer announced %u credits (at most %u), eager_max %u",
			 out->rx_credits, out->rx_max, out->eager_max);
		return -EPROTO;
	}
	out->data_len = len > RMX__CONN_PRIV_SIZE ? p[RMX__CONN_PRIV_SIZE] : 0;
	if (out->data_len && (out->data_len > RMX_CONNECT_DATA_MAX ||
			      RMX__CONN_PRIV_SIZE + 1 + (size_t)out->data_len > len)) {
		rmx__err("peer's connect data claims %u bytes in %zu",
			 out->data_len, len);
		return -EPROTO;
	}
	memcpy(out->data, p + RMX__CONN_PRIV_SIZE + 1, out->data_len);
	return 0;
}
