// SPDX-License-Identifier: BSD-2-Clause
/*
 * An endpoint's own rings: its send slots (work requests in flight) and
 * the arrivals waiting for a receive. Neither is pinned: the message
 * buffers are the context's, shared (rxpool.c, send.c).
 */
#include <errno.h>
#include <stdlib.h>

#include "core/log.h"
#include "proto/proto.h"

int rmx__ring_setup(struct rmx_ep *ep)
{
	const struct rmx__config *cfg = ep->p->cfg;
	uint32_t i;
	int ret;

	ep->tx_depth = cfg->tx_depth;
	/* The peer never holds more of our buffers than RMX_RX_DEPTH. */
	ep->arr_cap = cfg->rx_depth;
	ep->tx = calloc(ep->tx_depth, sizeof(*ep->tx));
	ep->tx_free = calloc(ep->tx_depth, sizeof(*ep->tx_free));
	ep->arrived = calloc(ep->arr_cap, sizeof(*ep->arrived));
	if (!ep->tx || !ep->tx_free || !ep->arrived)
		return -ENOMEM;
	for (i = 0; i < ep->tx_depth; i++) {
		ep->tx_free[i] = ep->tx_depth - 1 - i;
		ep->tx[i].bounce = RMX__NO_BOUNCE;
	}
	ep->ntx_free = ep->tx_depth;
	ep->credit_op.type = RMX__OP_CREDIT;
	rmx__list_init(&ep->tx_wait_link);
	/* Too few to keep one back for credit messages and still send. */
	ep->credit_threshold = cfg->rx_grant / 4 > 2 ? cfg->rx_grant / 4 : 2;
	ret = rmx__send_setup(ep->p);
	return ret ? ret : rmx__rx_join(ep);
}

void rmx__ring_teardown(struct rmx_ep *ep)
{
	struct rmx__proto *p = ep->p;
	uint32_t i;

	rmx__rx_leave(ep);
	if (ep->tx_waiting)
		rmx__list_del(&ep->tx_wait_link);
	ep->tx_waiting = false;
	/* Buffers of messages still posted: the connection is gone. */
	for (i = 0; ep->tx && i < ep->tx_depth; i++)
		if (ep->tx[i].bounce != RMX__NO_BOUNCE)
			rmx__bufpool_give(&p->tx_bufs, ep->tx[i].bounce);
	free(ep->tx);
	free(ep->tx_free);
	free(ep->arrived);
	ep->tx = NULL;
	ep->tx_free = NULL;
	ep->arrived = NULL;
}

void rmx__ring_start(struct rmx_ep *ep)
{
	uint32_t i;

	/* A shallower send queue only means fewer operations in flight. */
	if (ep->caps.sq_depth < ep->tx_depth) {
		for (i = 0; i < ep->caps.sq_depth; i++)
			ep->tx_free[i] = ep->caps.sq_depth - 1 - i;
		ep->tx_depth = ep->ntx_free = ep->caps.sq_depth;
	}
}
