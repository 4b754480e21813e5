// SPDX-License-Identifier: BSD-2-Clause
/* Transport completions into the protocol: receives, sends, failures. */
#include <errno.h>

#include "proto/proto.h"

/* A work request's wr_ctx is its ring slot; the connection names the ep. */
void rmx__proto_completion(void *upctx, const struct rmx__tp_comp *c)
{
	struct rmx_ep *ep = c->conn->owner;
	uint32_t slot = (uint32_t)c->wr_ctx;
	/*
	 * A flushed work request means the connection went away under it:
	 * its operation, like the endpoint, ends with -ECONNRESET, not with
	 * the -ECANCELED that means the application destroyed it.
	 */
	int status = c->status == -ECANCELED ? -ECONNRESET : c->status;

	(void)upctx;
	if (c->kind == RMX__TP_COMP_RECV) {
		if (slot >= ep->rx_depth)
			return;
		if (status) {
			rmx__ep_fail(ep, status);
			return;
		}
		rmx__ep_heard(ep);
		rmx__recv_completion(ep, slot, c);
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
