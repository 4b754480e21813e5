// SPDX-License-Identifier: BSD-2-Clause
/* Transport completions into the protocol: receives, sends, failures. */
#include <errno.h>

#include "proto/proto.h"

void rmx__proto_completion(void *upctx, const struct rmx__tp_comp *c)
{
	struct rmx_ep *ep = rmx__ep_lookup(upctx, (uint32_t)(c->wr_ctx >> 32));
	uint32_t slot = (uint32_t)c->wr_ctx & ~(uint32_t)RMX__WR_RX;
	/*
	 * A flushed work request means the connection went away under it:
	 * its operation, like the endpoint, ends with -ECONNRESET, not with
	 * the -ECANCELED that means the application destroyed it.
	 */
	int status = c->status == -ECANCELED ? -ECONNRESET : c->status;

	/* Completions of a connection already torn down are stale. */
	if (!ep || !ep->conn)
		return;
	if (c->wr_ctx & RMX__WR_RX) {
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
	if (slot >= ep->tx_depth || !ep->tx[slot].op)
		return;
	rmx__send_on_tx(ep, slot, status);
	if (status) {
		/* A connection in error delivers nothing more (transport.h). */
		rmx__ep_fail(ep, status);
		return;
	}
	rmx__send_pump_or_fail(ep);
}
