// SPDX-License-Identifier: BSD-2-Clause
/* The receive path: arrivals, matching to posted receives, active messages. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "proto/proto.h"

/* A message with no posted receive goes to the AM callback. */
static int deliver_am(struct rmx_ep *ep, const struct rmx__arrival *a,
		      const char *payload)
{
	struct rmx__op *am = rmx__op_new(ep->p, RMX__OP_AM, NULL, a->len, NULL,
				    ep->am_arg);

	if (!am)
		return -ENOMEM;
	am->am_cb = ep->am_cb;
	am->am_p = ep->p;
	am->am_ep = ep->id;
	if (a->type == RMX__MSG_RTS) {
		struct rmx__rts rts;

		rmx__rts_unpack(payload, &rts);
		am->am_rndv = true;
		am->len = rts.len;
		memcpy(am->ctrl, payload, RMX__RTS_SIZE);
	} else if (a->len) {
		/* Copied: the receive buffer goes back to the peer at once. */
		am->buf = malloc(a->len);
		if (!am->buf) {
			rmx__op_free(ep->p, am);
			return -ENOMEM;
		}
		memcpy(am->buf, payload, a->len);
	}
	rmx__list_add_tail(&ep->p->done, &am->done.node);
	return 0;
}

int rmx__am_recv(struct rmx__op *am, void *buf, size_t cap, rmx_comp_cb cb,
		 void *arg)
{
	struct rmx_ep *ep = rmx__ep_lookup(am->am_p, am->am_ep);
	struct rmx__op *recv;
	struct rmx__rts rts;
	int ret;

	if (!am->am_rndv || am->am_taken) {
		rmx__err("rmx_am_recv: the message came with its data, or was taken");
		return -EINVAL;
	}
	if (!ep || ep->state == RMX_EP_CLOSED)
		return ep ? rmx__ep_closed_error(ep) : -ENOTCONN;
	recv = rmx__op_new(ep->p, RMX__OP_RECV, buf, cap, cb, arg);
	if (!recv)
		return -ENOMEM;
	am->am_taken = true;
	rmx__rts_unpack(am->ctrl, &rts);
	ret = rmx__rndv_start_read(ep, recv, &rts);
	if (ret)
		rmx__ep_fail(ep, ret);
	else
		rmx__send_pump_or_fail(ep);
	return 0;
}

void rmx__am_done(struct rmx__proto *p, struct rmx__op *am)
{
	struct rmx_ep *ep;
	struct rmx__rts rts;
	int ret;

	free(am->buf);	/* eager data; NULL for a rendezvous */
	am->buf = NULL;
	if (!am->am_rndv || am->am_taken)
		return;
	/* Left: free the sender's buffer. */
	ep = rmx__ep_lookup(p, am->am_ep);
	if (!ep || ep->state == RMX_EP_CLOSED)
		return;
	rmx__rts_unpack(am->ctrl, &rts);
	ret = rmx__rndv_queue_ats(ep, rts.id, -ECANCELED);
	if (ret)
		rmx__ep_fail(ep, ret);
	else
		rmx__send_pump_or_fail(ep);
}

/* A buffer that is not received: back to the pool, and the ep fails. */
static void drop_and_fail(struct rmx_ep *ep, uint32_t slot, int err)
{
	rmx__rx_release(ep->p, slot);
	rmx__ep_fail(ep, err);
}

/* The oldest arrival meets the oldest posted receive. */
static int match_recv(struct rmx_ep *ep, const struct rmx__arrival *a,
		      const char *payload)
{
	struct rmx__op *op = rmx__container_of(ep->recv_posted.next,
					       struct rmx__op, done.node);
	int status = 0;

	if (a->type == RMX__MSG_RTS) {
		struct rmx__rts rts;

		rmx__rts_unpack(payload, &rts);
		if (ep->conn)
			return rmx__rndv_start_read(ep, op, &rts);
		/* Offered before a BYE: the sender's buffer is gone. */
		op->len = rts.len;
		op->matched = true;
		rmx__op_complete(ep->p, op, -ECONNRESET);
		return 0;
	}
	if (a->len > op->len) {
		rmx__info("%u-byte message from %s does not fit a %zu-byte receive",
			 a->len, ep->peer, op->len);
		status = -EMSGSIZE;
	} else {
		memcpy(op->buf, payload, a->len);
	}
	op->len = a->len;
	op->matched = true;
	rmx__op_complete(ep->p, op, status);
	return 0;
}

/*
 * Hands arrived messages, in order, to posted receives, or when none is
 * posted to the active-message callback.
 */
static void match(struct rmx_ep *ep)
{
	while (ep->arr_count &&
	       (!rmx__list_empty(&ep->recv_posted) || ep->am_cb)) {
		struct rmx__arrival *a = &ep->arrived[ep->arr_head];
		const char *payload = rmx__rx_buf(ep->p, a->slot) +
				      RMX__WIRE_HDR_SIZE;
		int ret;

		if (rmx__list_empty(&ep->recv_posted))
			ret = deliver_am(ep, a, payload);
		else
			ret = match_recv(ep, a, payload);
		ep->arr_head = (ep->arr_head + 1) % ep->arr_cap;
		ep->arr_count--;
		if (ret) {
			drop_and_fail(ep, a->slot, ret);
			return;
		}
		ret = rmx__rx_repost(ep, a->slot);
		if (ret) {
			rmx__ep_fail(ep, ret);
			return;
		}
	}
}

int rmx__recv(struct rmx_ep *ep, void *buf, size_t cap, rmx_comp_cb cb,
	      void *arg)
{
	struct rmx__op *op;
	int ret = rmx__ep_check_open(ep);

	/* After a clean close, what arrived before it is still received. */
	if (ret && !ep->arr_count)
		return ret;
	op = rmx__op_new(ep->p, RMX__OP_RECV, buf, cap, cb, arg);
	if (!op)
		return -ENOMEM;
	rmx__list_add_tail(&ep->recv_posted, &op->done.node);
	match(ep);
	/* Buffers it freed are credits the sender may be waiting for. */
	if (ep->conn)
		rmx__send_pump_or_fail(ep);
	return 0;
}

int rmx__recv_deliver(struct rmx_ep *ep)
{
	/* Messages may arrive before the CM reports the connection. */
	match(ep);
	return ep->conn ? rmx__send_pump(ep) : 0;
}

static void on_rx(struct rmx_ep *ep, uint32_t slot, uint32_t len)
{
	const uint8_t *msg = (const uint8_t *)rmx__rx_buf(ep->p, slot);
	struct rmx__wire_hdr hdr;
	rmx__msg_fn fn;
	int ret;

	ret = rmx__rx_arrived(ep);
	if (ret) {
		drop_and_fail(ep, slot, ret);
		return;
	}
	ret = rmx__wire_parse(msg, len, ep->p->cfg->eager_max, &hdr);
	if (ret) {
		rmx__err("malformed message from %s: closing", ep->peer);
		drop_and_fail(ep, slot, ret);
		return;
	}
	if (ep->tx_credits + hdr.credits > ep->peer_rx_max) {
		rmx__err("%s returned %u credits it never had: closing",
			 ep->peer, hdr.credits);
		drop_and_fail(ep, slot, -EPROTO);
		return;
	}
	ep->tx_credits += hdr.credits;
	if (hdr.type == RMX__MSG_BYE) {
		/* The peer is gone; all it sent came before (RC order). */
		rmx__rx_release(ep->p, slot);
		ep->peer_credits = 0;
		rmx__ep_close_clean(ep);
		return;
	}
	if (hdr.flags & RMX__FLAG_PING)
		ep->pong_due = true;
	/* Others take what they need now: the buffer goes straight back. */
	fn = ep->p->on_msg[hdr.type];
	if (fn) {
		ret = fn(ep, &hdr, msg + RMX__WIRE_HDR_SIZE);
		if (ret) {
			drop_and_fail(ep, slot, ret);
			return;
		}
	} else if (hdr.type != RMX__MSG_EAGER && hdr.type != RMX__MSG_RTS &&
		   hdr.type != RMX__MSG_CREDIT) {
		rmx__err("%s sent message type %u, which this context does not take: closing",
			 ep->peer, hdr.type);
		drop_and_fail(ep, slot, -EPROTO);
		return;
	}
	if (hdr.type != RMX__MSG_EAGER && hdr.type != RMX__MSG_RTS) {
		ret = rmx__rx_repost(ep, slot);
		if (ret)
			rmx__ep_fail(ep, ret);
		return;
	}
	/* The peer holds at most arr_cap buffers: the ring never overflows. */
	ep->arrived[(ep->arr_head + ep->arr_count) % ep->arr_cap] =
		(struct rmx__arrival){ .slot = slot, .len = hdr.len,
				       .type = hdr.type };
	ep->arr_count++;
	match(ep);
}

/* A write with immediate consumed a receive: repost it, tell the user. */
static void on_imm(struct rmx_ep *ep, uint32_t slot, const struct rmx__tp_comp *c)
{
	struct rmx__op *op;
	int ret = rmx__rx_arrived(ep);

	if (ret) {
		drop_and_fail(ep, slot, ret);
		return;
	}
	ret = rmx__rx_repost(ep, slot);
	if (ret) {
		rmx__ep_fail(ep, ret);
		return;
	}
	if (!ep->imm_cb) {
		rmx__dbg("notification %u from %s: no callback set", c->imm,
			 ep->peer);
		return;
	}
	op = rmx__op_new(ep->p, RMX__OP_IMM, NULL, c->len, NULL, ep->imm_arg);
	if (!op) {
		rmx__ep_fail(ep, -ENOMEM);
		return;
	}
	op->imm = c->imm;
	op->imm_cb = ep->imm_cb;
	rmx__list_add_tail(&ep->p->done, &op->done.node);
}

void rmx__recv_completion(struct rmx_ep *ep, uint32_t slot,
			  const struct rmx__tp_comp *c)
{
	if (c->has_imm)
		on_imm(ep, slot, c);
	else
		on_rx(ep, slot, c->len);
}
