// SPDX-License-Identifier: BSD-2-Clause
/*
 * Fuzz target for the wire parser and the endpoint's protocol state: the
 * input is a script of events a hostile or broken peer and a careless
 * application could cause, played against a real endpoint over the fake
 * transport. Anything but a clean run (crash, sanitizer report, leak) is
 * a finding.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "core/config.h"
#include "core/log.h"
#include "fake_tp.h"
#include "mem/reg.h"
#include "proto/proto.h"
#include "proto/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct script {
	const uint8_t *p;
	size_t left;
};

static uint8_t byte(struct script *s)
{
	if (!s->left)
		return 0;
	s->left--;
	return *s->p++;
}

static void noop_cb(void *arg, int status, size_t len)
{
	(void)arg;
	(void)status;
	(void)len;
}

/* Receive targets must outlive the endpoint's operations. */
static uint8_t sink[8][4096];
static uint8_t src[4096];

static void fuzz_am(void *arg, rmx_am_t *msg, const void *data, size_t len)
{
	(void)data;
	/* Take every other rendezvous message, into a buffer maybe too small. */
	if (!data && (len & 1))
		rmx_am_recv(msg, arg, len % 4096, noop_cb, NULL);
}

/* Requests the script answers later (case 11), or the teardown frees. */
static rmx_rpc_req_t *held[16];
static unsigned int nheld;

static void fuzz_handler(void *arg, rmx_rpc_req_t *req, const void *data,
			 size_t len)
{
	(void)data;
	if (arg || nheld == 16) {
		rmx__rpc_respond(req, len & 1 ? -EIO : 0, src,
				 (len * 8) % sizeof(src), noop_cb, NULL);
		return;
	}
	held[nheld++] = req;
}

static void fuzz_call_cb(void *arg, int status, const void *resp, size_t len)
{
	(void)arg;
	(void)status;
	/* Touch the response: a sanitizer sees any stale or short buffer. */
	if (resp && len)
		(void)*(volatile const uint8_t *)((const uint8_t *)resp +
						  len - 1);
}

/* An RPC message: header, then data or, with the flag, an RTS. */
static uint32_t pack_rpc(uint8_t *payload, uint8_t type, uint8_t n,
			 size_t len, struct script *s)
{
	struct rmx__rpc_hdr rh = { .call_id = byte(s) % 4, .rpc_id = n % 3,
				   .status = type == RMX__MSG_RPC_RESP &&
							     n & 4 ?
						     -EIO :
						     0 };

	rmx__rpc_hdr_pack(payload, &rh);
	if (n & 8) {
		struct rmx__rts r = { .id = byte(s), .addr = (uintptr_t)src,
				      .len = len * 16, .rkey = byte(s) };

		rmx__rts_pack(payload + RMX__RPC_HDR_SIZE, &r);
		return RMX__RPC_HDR_SIZE + RMX__RTS_SIZE;
	}
	memset(payload + RMX__RPC_HDR_SIZE, n, len % 200);
	return (uint32_t)(RMX__RPC_HDR_SIZE + len % 200);
}

static void connect_ep(struct rmx__proto *p, struct fake_tp *tp,
		       struct rmx_ep **ep)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct rmx__conn_priv cp = { .version = RMX__WIRE_VERSION,
				     .rx_credits = 8, .rx_max = 8,
				     .eager_max = 256 };
	uint8_t priv[RMX__CONN_PRIV_SIZE];

	if (rmx__connect(p, NULL, (struct sockaddr *)&sa, NULL, ep))
		abort();
	if (tp->up->conn_ready(tp->upctx, &tp->last->base))
		abort();
	rmx__conn_priv_pack(priv, &cp);
	tp->up->conn_established(tp->upctx, &tp->last->base, priv,
				 sizeof(priv));
}

static void play(struct rmx__proto *p, struct fake_tp *tp, struct rmx_ep *ep,
		 struct script *s)
{
	uint8_t msg[RMX__WIRE_HDR_SIZE + 300];

	while (s->left && tp->last && rmx_ep_state(ep) != RMX_EP_CLOSED) {
		uint8_t op = byte(s), n = byte(s);
		size_t len = (size_t)byte(s) << 1 | (n & 1);

		switch (op % 12) {
		case 0: {	/* a well-formed message with fuzzed fields */
			struct rmx__wire_hdr h = { .type = n % RMX__MSG_NTYPES,
						   .credits = byte(s) % 4,
						   .len = (uint32_t)(len % 300) };

			/* Rendezvous messages have fixed sizes: mostly obey. */
			if (h.type == RMX__MSG_RTS && len % 4)
				h.len = RMX__RTS_SIZE;
			if (h.type == RMX__MSG_ATS && len % 4)
				h.len = RMX__ATS_SIZE;
			if (h.type == RMX__MSG_BYE && len % 4)
				h.len = 0;
			rmx__wire_pack(msg, &h);
			memset(msg + RMX__WIRE_HDR_SIZE, n, h.len);
			if (h.type == RMX__MSG_RTS && h.len == RMX__RTS_SIZE) {
				struct rmx__rts r = { .id = byte(s),
						      .addr = (uintptr_t)src,
						      .len = len * 16,
						      .rkey = byte(s) };

				rmx__rts_pack(msg + RMX__WIRE_HDR_SIZE, &r);
			}
			if ((h.type == RMX__MSG_RPC_REQ ||
			     h.type == RMX__MSG_RPC_RESP) && len % 4) {
				h.flags = n & 8 ? RMX__FLAG_RNDV : 0;
				h.len = pack_rpc(msg + RMX__WIRE_HDR_SIZE,
						 h.type, n, len, s);
				rmx__wire_pack(msg, &h);
			}
			fake_deliver_rx(tp, tp->last, byte(s), msg,
					RMX__WIRE_HDR_SIZE + h.len, 0);
			break;
		}
		case 1:		/* raw bytes straight from the input */
			len = len < s->left ? len : s->left;
			fake_deliver_rx(tp, tp->last, n, s->p, (uint32_t)len,
					0);
			s->p += len;
			s->left -= len;
			break;
		case 2:
			fake_complete_tx(tp, tp->last, n % 5 ? 0 : -EIO);
			break;
		case 3:
			/* Past 256 bytes: rendezvous. */
			rmx__send(ep, src, (len * 8) % sizeof(src), noop_cb, NULL);
			break;
		case 4:
			rmx__recv(ep, sink[n % 8], len % sizeof(sink[0]), noop_cb,
				  NULL);
			break;
		case 5: {
			struct rmx__rma_req r = {
				.type = n % 2 ? RMX__OP_PUT : RMX__OP_PUT_IMM,
				.buf = src, .len = len % sizeof(src),
				.raddr = (uintptr_t)src, .rkey = 0x1234,
				.imm = n,
			};
			rmx__rma(ep, &r, noop_cb, NULL);
			break;
		}
		case 6:		/* a write with immediate landing here */
			fake_deliver_imm(tp, tp->last, n, (uint32_t)len);
			break;
		case 7:
			if (n & 1) {
				rmx_ep_set_am_cb(ep, n & 2 ? fuzz_am : NULL,
						 sink[0]);
				break;
			}
			fake_deliver_rx(tp, tp->last, n, msg, 0, -ECONNRESET);
			break;
		case 8:
			tp->up->conn_closed(tp->upctx, &tp->last->base,
					    -ECONNRESET);
			break;
		case 9: {	/* past 240 bytes: a rendezvous request */
			struct rmx_rpc_params params = {
				.timeout_ms = n & 4 ? 0 : 1,
				.resp_buf = n & 8 ? sink[n % 8] : NULL,
				.resp_cap = n & 8 ? len % sizeof(sink[0]) : 0,
			};

			rmx__rpc_call(ep, n % 3, src, (len * 8) % sizeof(src),
				      &params, fuzz_call_cb, NULL, NULL);
			break;
		}
		case 10:
			if (n & 1)
				p->upper->check_deadlines(p, INT64_MAX);
			else
				rmx__rpc_cancel(ep, n % 8);
			break;
		default:
			if (nheld)
				rmx__rpc_respond(held[--nheld], n & 1 ? -EIO : 0,
						 src, (len * 16) % sizeof(src),
						 noop_cb, NULL);
			break;
		}
		rmx__proto_run(p, &p->done);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rmx__config cfg;
	struct script s = { data, size };
	struct rmx__proto p;
	struct rmx__mem mem;
	struct rmx__loop loop;
	struct rmx__tp *tp;
	struct fake_tp *ft;
	struct rmx_ep *ep;

	if (!cfg.rx_depth) {
		rmx__log_level = RMX__LOG_NONE;
		if (rmx__config_load(&cfg, NULL))
			abort();
		cfg.rx_depth = 8;
		cfg.rx_grant = 8;
		cfg.rx_pool = 0;
		cfg.tx_bufs = 16;
		cfg.tx_depth = 8;
		cfg.eager_max = 256;
		cfg.rcache = false;	/* per-use registrations: no monitor */
	}
	if (rmx__loop_init(&loop) ||
	    fake_tp_open(&loop, &rmx__proto_upcalls, &p, &tp) ||
	    rmx__mem_init(&mem, tp, &cfg) ||
	    rmx__proto_init(&p, &cfg, &loop, tp, &mem))
		abort();
	rmx__rpc_attach(&p);
	nheld = 0;
	rmx__rpc_register(&p, 0, fuzz_handler, &p);	/* answers at once */
	rmx__rpc_register(&p, 1, fuzz_handler, NULL);	/* holds */
	ft = (struct fake_tp *)tp;
	connect_ep(&p, ft, &ep);
	play(&p, ft, ep, &s);
	/* Still connected, it lingers for its BYE: complete what it posted. */
	rmx__ep_destroy(ep);
	while (ft->last && ft->last->ntx)
		fake_complete_tx(ft, ft->last, size % 2 ? -EIO : 0);
	/*
	 * A message that landed as its connection went still completes,
	 * naming none (transport.h): the buffer must be taken back as is.
	 */
	if (!ft->last)
		fake_deliver_rx(ft, NULL, 0, data, size < 64 ? (uint32_t)size : 64,
				0);
	rmx__proto_fini(&p);
	rmx__mem_fini(&mem);
	tp->ops->close(tp);
	rmx__loop_fini(&loop);
	return 0;
}
