// SPDX-License-Identifier: BSD-2-Clause
/* Transport completions into the protocol: receives, sends, failures. */
#include <errno.h>

#include "proto/proto.h"

/*
 * On a destroyed endpoint's connection: what the peer sends now goes
 * unread; the BYE waits for a send slot, and its completion (sends
 * complete in order, it is the last) or any error ends the connection.
 */
static void linger_completion(struct rmx_ep *ep, const struct rmx__tp_comp *c,
			      uint32_t slot)
{
	if (c->kind == RMX__TP_COMP_RECV) {
		rmx__rx_release(ep->p, slot);
		if (c->status)
			rmx__ep_linger_end(ep);
		return;
	}
	if (slot < ep->tx_depth && ep->tx[slot].op)
		rmx__send_on_tx(ep, slot, c->status);
	if (c->status || rmx__send_bye(ep) ||
	    (ep->bye_sent && ep->ntx_free == ep->tx_depth))
		rmx__ep_linger_end(ep);
}

/*
 * A work request's wr_ctx is its send slot, or for a receive its buffer
 * in the shared pool; the connection names the ep.
 */
static void completion(struct rmx__proto *p, const struct rmx__tp_comp *c)
{
	struct rmx_ep *ep = c->conn->owner;
	uint32_t slot = (uint32_t)c->wr_ctx, id = ep->id;
	/*
	 * A flushed work request means the connection went away under it:
	 * its operation, like the endpoint, ends with -ECONNRESET, not with
	 * the -ECANCELED that means the application destroyed it.
	 */
	int status = c->status == -ECANCELED ? -ECONNRESET : c->status;

	if (ep->lingering) {
		linger_completion(ep, c, slot);
		return;
	}
	if (c->kind == RMX__TP_COMP_RECV) {
		if (status) {
			rmx__rx_release(p, slot);
			rmx__ep_fail(ep, status);
			return;
		}
		rmx__ep_heard(ep);
		rmx__recv_completion(ep, slot, c);
		/*
		 * A malformed message fails the endpoint; one accepted but
		 * not yet handed out is freed at once.
		 */
		if (rmx__ep_lookup(p, id) != ep)
			return;
		/* Credits came in, or receives were reposted: act on both. */
		rmx__send_pump_or_fail(ep);
		return;
	}
	if (c->kind == RMX__TP_COMP_PROBE) {
		rmx__ep_probed(ep, status);
		return;
	}
	if (slot >= ep->tx_depth || !ep->tx[slot].op)
		return;
	rmx__send_on_tx(ep, slot, status);
	if (status) {
		/* A connection in error delivers nothing more (transport.h). */
		rmx__ep_fail(ep, status);
		return;
	}
	rmx__ep_alive(ep);
	rmx__send_pump_or_fail(ep);
}

void rmx__proto_completion(void *upctx, const struct rmx__tp_comp *c)
{
	struct rmx__proto *p = upctx;

	if (c->kind == RMX__TP_COMP_RECV) {
		if ((uint32_t)c->wr_ctx >= p->rx.bufs.n)
			return;		/* not one of ours: cannot happen */
		if (!c->conn) {
			rmx__rx_orphan(p, (uint32_t)c->wr_ctx);
			return;
		}
	}
	completion(p, c);
	/* A message's send buffer may have come free for a waiting one. */
	if (c->kind == RMX__TP_COMP_SEND && !rmx__list_empty(&p->tx_waiting))
		rmx__send_wake(p);
}
