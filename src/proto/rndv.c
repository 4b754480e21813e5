// SPDX-License-Identifier: BSD-2-Clause
/*
 * Rendezvous, the reading side and the end of both: a read of the peer's
 * offered buffer, and the acknowledgement (ATS) that releases it.
 */
#include <errno.h>

#include "core/log.h"
#include "proto/proto.h"

/* Tells the sender its rendezvous buffer is free, and how it went. */
int rmx__rndv_queue_ats(struct rmx_ep *ep, uint64_t id, int status)
{
	struct rmx__op *op = rmx__op_new(ep->p, RMX__OP_CTRL, NULL, 0, NULL, NULL);
	struct rmx__ats ats = { .id = id, .status = status };

	if (!op)
		return -ENOMEM;
	op->ctrl_type = RMX__MSG_ATS;
	op->ctrl_len = RMX__ATS_SIZE;
	rmx__ats_pack(op->ctrl, &ats);
	rmx__send_queue(ep, op);
	return 0;
}

int rmx__rndv_check_rts(const struct rmx_ep *ep, const struct rmx__rts *rts)
{
	if (rts->rkey > ep->p->tp->max_key || !rts->len) {
		rmx__err("%s sent a malformed rendezvous request", ep->peer);
		return -EPROTO;
	}
	return 0;
}

void rmx__rndv_queue_read(struct rmx_ep *ep, struct rmx__op *rd,
			  const struct rmx__rts *rts)
{
	rd->raddr = rts->addr;
	rd->rkey = rts->rkey;
	rd->rndv_id = rts->id;
	rmx__send_queue(ep, rd);
}

/* A read filled its receive: end both, and free the sender's buffer. */
static void read_done(struct rmx_ep *ep, struct rmx__op *rd)
{
	struct rmx__op *recv = rd->parent;
	int ret;

	recv->len = rd->len;
	recv->matched = true;
	rmx__op_complete(ep->p, recv, rd->status);
	ret = rmx__rndv_queue_ats(ep, rd->rndv_id, rd->status);
	if (ret)
		rmx__ep_fail(ep, ret);
}

/* A rendezvous message met its receive: read it straight in. */
int rmx__rndv_start_read(struct rmx_ep *ep, struct rmx__op *recv,
		      const struct rmx__rts *rts)
{
	struct rmx__op *rd;
	int ret;

	if (rts->len > recv->len) {
		rmx__info("%llu-byte message from %s does not fit a %zu-byte receive",
			 (unsigned long long)rts->len, ep->peer, recv->len);
		recv->len = rts->len;
		recv->matched = true;
		rmx__op_complete(ep->p, recv, -EMSGSIZE);
		return rmx__rndv_queue_ats(ep, rts->id, -EMSGSIZE);
	}
	ret = rmx__rndv_check_rts(ep, rts);
	if (ret)
		return ret;
	rd = rmx__op_new(ep->p, RMX__OP_GET, recv->buf, rts->len, NULL, NULL);
	if (!rd)
		return -ENOMEM;
	rd->parent = recv;
	rd->on_done = read_done;
	rmx__list_del(&recv->done.node);
	rmx__list_add_tail(&ep->reading, &recv->done.node);
	rmx__rndv_queue_read(ep, rd, rts);
	return 0;
}

/* The sender learns its rendezvous message was read (or refused). */
int rmx__rndv_on_ats(struct rmx_ep *ep, const struct rmx__wire_hdr *hdr,
		     const uint8_t *payload)
{
	struct rmx__list *n;
	struct rmx__ats a, *ats = &a;

	(void)hdr;	/* its length was checked against the type */
	rmx__ats_unpack(payload, &a);
	for (n = ep->tx_active.next; n != &ep->tx_active; n = n->next) {
		struct rmx__op *op = rmx__container_of(n, struct rmx__op,
						       done.node);

		if (op->awaiting_ats && op->rndv_id == ats->id) {
			op->awaiting_ats = false;
			/* Done reading, says the peer: it may read no more. */
			rmx__op_revoke_offer(ep->p, op);
			if (ats->status && !op->status)
				op->status = ats->status < 0 ? ats->status :
							       -EREMOTEIO;
			if (!op->wr_out)
				rmx__op_complete(ep->p, op, 0);
			return 0;
		}
	}
	rmx__err("%s acknowledged rendezvous %llu, which is not pending",
		 ep->peer, (unsigned long long)ats->id);
	return -EPROTO;
}
