// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <string.h>

#include "check_main.h"
#include "core/log.h"
#include "proto/wire.h"

static void setup(void)
{
	rmx__log_level = RMX__LOG_NONE;	/* rejections log by design */
}

START_TEST(round_trip)
{
	uint8_t buf[RMX__WIRE_HDR_SIZE + 100];
	struct rmx__wire_hdr in = { .type = RMX__MSG_EAGER, .credits = 7,
				    .len = 100 }, out;

	rmx__wire_pack(buf, &in);
	/* Big-endian on the wire, whatever the host. */
	ck_assert_uint_eq(buf[0], 0x52);
	ck_assert_uint_eq(buf[1], 0x4d);
	ck_assert_uint_eq(buf[11], 100);
	ck_assert_int_eq(rmx__wire_parse(buf, sizeof(buf), 100, &out), 0);
	ck_assert_uint_eq(out.type, RMX__MSG_EAGER);
	ck_assert_uint_eq(out.credits, 7);
	ck_assert_uint_eq(out.len, 100);
}
END_TEST

START_TEST(rejects_each_bad_field)
{
	uint8_t good[RMX__WIRE_HDR_SIZE + 8], buf[sizeof(good)];
	struct rmx__wire_hdr h = { .type = RMX__MSG_EAGER, .len = 8 }, out;
	static const struct {
		size_t off;
		uint8_t val;
	} bad[] = {
		{ 0, 0x00 },  { 1, 0x00 }, { 2, 1 },	/* magic, version */
		{ 3, 0 },     { 3, 8 },  { 3, 99 },	/* type */
		{ 4, 0x80 },  { 5, 0x01 },		/* unknown flags */
		{ 8, 0x01 },  { 11, 9 },  { 11, 7 },	/* length */
		{ 15, 1 },				/* reserved */
	};
	size_t i;

	rmx__wire_pack(good, &h);
	ck_assert_int_eq(rmx__wire_parse(good, sizeof(good), 8, &out), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(buf, good, sizeof(buf));
		buf[bad[i].off] = bad[i].val;
		ck_assert_msg(rmx__wire_parse(buf, sizeof(buf), 1024, &out) ==
				      -EPROTO,
			      "accepted byte %zu = %u", bad[i].off, bad[i].val);
	}
	/* A credit message carries no payload. */
	h.type = RMX__MSG_CREDIT;
	h.len = 0;
	rmx__wire_pack(buf, &h);
	ck_assert_int_eq(rmx__wire_parse(buf, RMX__WIRE_HDR_SIZE, 8, &out), 0);
	ck_assert_uint_eq(out.type, RMX__MSG_CREDIT);
	h.len = 8;
	rmx__wire_pack(buf, &h);
	ck_assert_int_eq(rmx__wire_parse(buf, sizeof(buf), 8, &out), -EPROTO);
	/* Keepalive pings ride on credit messages only. */
	h.len = 0;
	h.flags = RMX__FLAG_PING;
	rmx__wire_pack(buf, &h);
	ck_assert_int_eq(rmx__wire_parse(buf, RMX__WIRE_HDR_SIZE, 8, &out), 0);
	ck_assert_uint_eq(out.flags, RMX__FLAG_PING);
	h.type = RMX__MSG_EAGER;
	rmx__wire_pack(buf, &h);
	ck_assert_int_eq(rmx__wire_parse(buf, RMX__WIRE_HDR_SIZE, 8, &out),
			 -EPROTO);
	/* Truncated, and longer than the receiver's limit. */
	ck_assert_int_eq(rmx__wire_parse(good, RMX__WIRE_HDR_SIZE - 1, 8, &out),
			 -EPROTO);
	ck_assert_int_eq(rmx__wire_parse(good, sizeof(good), 7, &out), -EPROTO);
}
END_TEST

START_TEST(conn_priv)
{
	struct rmx__conn_priv in = { .version = RMX__WIRE_VERSION,
				     .rx_credits = 8, .rx_max = 64,
				     .eager_max = 8192 }, out;
	uint8_t buf[56] = { 0 };

	rmx__conn_priv_pack(buf, &in);
	/* Padded by the CM to 56 bytes: still fine. */
	ck_assert_int_eq(rmx__conn_priv_parse(buf, sizeof(buf), &out), 0);
	ck_assert_uint_eq(out.rx_credits, 8);
	ck_assert_uint_eq(out.rx_max, 64);
	ck_assert_uint_eq(out.eager_max, 8192);
	ck_assert_int_eq(rmx__conn_priv_parse(buf, 15, &out), -EPROTO);
	ck_assert_int_eq(rmx__conn_priv_parse(NULL, 0, &out), -EPROTO);
	in.version = 9;
	rmx__conn_priv_pack(buf, &in);
	ck_assert_int_eq(rmx__conn_priv_parse(buf, 16, &out), -EPROTONOSUPPORT);
	in.version = RMX__WIRE_VERSION;
	/* One credit is kept for credit messages: a peer needs two. */
	in.rx_credits = 1;
	rmx__conn_priv_pack(buf, &in);
	ck_assert_int_eq(rmx__conn_priv_parse(buf, 16, &out), -EPROTO);
	/* More than it may ever lend. */
	in.rx_credits = 65;
	rmx__conn_priv_pack(buf, &in);
	ck_assert_int_eq(rmx__conn_priv_parse(buf, 16, &out), -EPROTO);
	buf[0] ^= 1;
	ck_assert_int_eq(rmx__conn_priv_parse(buf, 16, &out), -EPROTO);

	/* Connect data: carried whole; a length past the buffer is refused. */
	in.rx_credits = 8;
	in.data_len = 5;
	memcpy(in.data, "rank7", 5);
	memset(buf, 0, sizeof(buf));
	ck_assert_uint_eq(rmx__conn_priv_pack(buf, &in), 22);
	ck_assert_int_eq(rmx__conn_priv_parse(buf, sizeof(buf), &out), 0);
	ck_assert_uint_eq(out.data_len, 5);
	ck_assert_mem_eq(out.data, "rank7", 5);
	ck_assert_int_eq(rmx__conn_priv_parse(buf, 21, &out), -EPROTO);
	buf[16] = RMX_CONNECT_DATA_MAX + 1;
	ck_assert_int_eq(rmx__conn_priv_parse(buf, sizeof(buf), &out), -EPROTO);
	/* Without data, the CM's zero padding reads as none. */
	in.data_len = 0;
	memset(buf, 0, sizeof(buf));
	ck_assert_uint_eq(rmx__conn_priv_pack(buf, &in), 16);
	ck_assert_int_eq(rmx__conn_priv_parse(buf, sizeof(buf), &out), 0);
	ck_assert_uint_eq(out.data_len, 0);
}
END_TEST

/* An RPC message: wire header, RPC header, then data or an RTS. */
static size_t rpc_msg(uint8_t *buf, uint8_t type, uint16_t flags,
		      const struct rmx__rpc_hdr *rh, uint32_t data_len)
{
	struct rmx__wire_hdr h = { .type = type, .flags = flags,
				   .len = RMX__RPC_HDR_SIZE + data_len };

	rmx__wire_pack(buf, &h);
	rmx__rpc_hdr_pack(buf + RMX__WIRE_HDR_SIZE, rh);
	return RMX__WIRE_HDR_SIZE + h.len;
}

START_TEST(rpc_headers)
{
	uint8_t buf[RMX__WIRE_HDR_SIZE + RMX__RPC_HDR_SIZE + 64] = { 0 };
	const uint8_t *rpc = buf + RMX__WIRE_HDR_SIZE;
	struct rmx__rpc_hdr req = { .call_id = 0x0102030405060708ull,
				    .rpc_id = 513 },
			    resp = { .call_id = 9, .status = -ENOSYS }, out;
	struct rmx__wire_hdr h;
	size_t n;

	n = rpc_msg(buf, RMX__MSG_RPC_REQ, 0, &req, 10);
	ck_assert_int_eq(rmx__wire_parse(buf, n, 64, &h), 0);
	ck_assert_int_eq(rmx__rpc_hdr_parse(rpc, h.type, &out), 0);
	ck_assert(out.call_id == req.call_id);
	ck_assert_uint_eq(out.rpc_id, 513);
	ck_assert_uint_eq(rpc[0], 0x01);	/* big-endian */
	n = rpc_msg(buf, RMX__MSG_RPC_RESP, 0, &resp, 0);
	ck_assert_int_eq(rmx__wire_parse(buf, n, 64, &h), 0);
	ck_assert_int_eq(rmx__rpc_hdr_parse(rpc, h.type, &out), 0);
	ck_assert_int_eq(out.status, -ENOSYS);
	/* Rendezvous: exactly an RTS after the RPC header. */
	n = rpc_msg(buf, RMX__MSG_RPC_REQ, RMX__FLAG_RNDV, &req, RMX__RTS_SIZE);
	ck_assert_int_eq(rmx__wire_parse(buf, n, 64, &h), 0);
	n = rpc_msg(buf, RMX__MSG_RPC_REQ, RMX__FLAG_RNDV, &req, 8);
	ck_assert_int_eq(rmx__wire_parse(buf, n, 64, &h), -EPROTO);
	/* Too short for an RPC header; the flag elsewhere. */
	h = (struct rmx__wire_hdr){ .type = RMX__MSG_RPC_RESP, .len = 15 };
	rmx__wire_pack(buf, &h);
	ck_assert_int_eq(rmx__wire_parse(buf, RMX__WIRE_HDR_SIZE + 15, 64, &h),
			 -EPROTO);
	h = (struct rmx__wire_hdr){ .type = RMX__MSG_EAGER,
				    .flags = RMX__FLAG_RNDV, .len = 48 };
	rmx__wire_pack(buf, &h);
	ck_assert_int_eq(rmx__wire_parse(buf, RMX__WIRE_HDR_SIZE + 48, 64, &h),
			 -EPROTO);
	/* Headers a peer may not send. */
	resp.status = 1;
	rmx__rpc_hdr_pack(buf, &resp);
	ck_assert_int_eq(rmx__rpc_hdr_parse(buf, RMX__MSG_RPC_RESP, &out),
			 -EPROTO);
	resp.status = -4096;
	rmx__rpc_hdr_pack(buf, &resp);
	ck_assert_int_eq(rmx__rpc_hdr_parse(buf, RMX__MSG_RPC_RESP, &out),
			 -EPROTO);
	resp.status = 0;
	resp.rpc_id = 4;
	rmx__rpc_hdr_pack(buf, &resp);
	ck_assert_int_eq(rmx__rpc_hdr_parse(buf, RMX__MSG_RPC_RESP, &out),
			 -EPROTO);
	req.call_id = 0;
	rmx__rpc_hdr_pack(buf, &req);
	ck_assert_int_eq(rmx__rpc_hdr_parse(buf, RMX__MSG_RPC_REQ, &out),
			 -EPROTO);
	req.call_id = 1;
	req.status = -EIO;
	rmx__rpc_hdr_pack(buf, &req);
	ck_assert_int_eq(rmx__rpc_hdr_parse(buf, RMX__MSG_RPC_REQ, &out),
			 -EPROTO);
	req.status = 0;
	rmx__rpc_hdr_pack(buf, &req);
	buf[11] = 1;	/* reserved */
	ck_assert_int_eq(rmx__rpc_hdr_parse(buf, RMX__MSG_RPC_REQ, &out),
			 -EPROTO);
}
END_TEST

/* A BYE is a bare header: no payload, no flags. */
START_TEST(bye)
{
	uint8_t buf[RMX__WIRE_HDR_SIZE + 8];
	struct rmx__wire_hdr h = { .type = RMX__MSG_BYE, .credits = 3 }, out;
	static const uint16_t flags[] = { RMX__FLAG_PING, RMX__FLAG_RNDV };
	size_t i;

	rmx__wire_pack(buf, &h);
	ck_assert_int_eq(rmx__wire_parse(buf, RMX__WIRE_HDR_SIZE, 8, &out), 0);
	ck_assert_uint_eq(out.type, RMX__MSG_BYE);
	ck_assert_uint_eq(out.credits, 3);
	h.len = 8;
	rmx__wire_pack(buf, &h);
	ck_assert_int_eq(rmx__wire_parse(buf, sizeof(buf), 8, &out), -EPROTO);
	h.len = 0;
	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		h.flags = flags[i];
		rmx__wire_pack(buf, &h);
		ck_assert_int_eq(rmx__wire_parse(buf, RMX__WIRE_HDR_SIZE, 8,
						 &out), -EPROTO);
	}
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("wire");
	TCase *tc = tcase_create("wire");

	tcase_add_unchecked_fixture(tc, setup, NULL);
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, rejects_each_bad_field);
	tcase_add_test(tc, conn_priv);
	tcase_add_test(tc, rpc_headers);
	tcase_add_test(tc, bye);
	suite_add_tcase(s, tc);
	return s;
}
