// SPDX-License-Identifier: BSD-2-Clause
/* Message rings: each endpoint's registered send and receive slots. */
#include <errno.h>
#include <stdlib.h>

#include "core/log.h"
#include "proto/proto.h"

int rmx__ring_setup(struct rmx_ep *ep)
{
	const struct rmx__config *cfg = ep->p->cfg;
	struct rmx__mem *mem = ep->p->mem;
	size_t tx_bytes, rx_bytes;
	uint32_t i;
	int ret;

	ep->slot_size = RMX__WIRE_HDR_SIZE + cfg->eager_max;
	ep->tx_depth = cfg->tx_depth;
	ep->rx_depth = cfg->rx_depth;
	tx_bytes = (size_t)ep->tx_depth * ep->slot_size;
	rx_bytes = (size_t)ep->rx_depth * ep->slot_size;
	ep->tx = calloc(ep->tx_depth, sizeof(*ep->tx));
	ep->tx_free = calloc(ep->tx_depth, sizeof(*ep->tx_free));
	ep->arrived = calloc(ep->rx_depth, sizeof(*ep->arrived));
	ep->tx_bufs = aligned_alloc(4096, (tx_bytes + 4095) & ~(size_t)4095);
	ep->rx_bufs = aligned_alloc(4096, (rx_bytes + 4095) & ~(size_t)4095);
	if (!ep->tx || !ep->tx_free || !ep->arrived || !ep->tx_bufs ||
	    !ep->rx_bufs)
		return -ENOMEM;
	/*
	 * Registered as long as the endpoint lives: not the cache's to
	 * count against RMX_RCACHE_MAX_* or to evict.
	 */
	ret = rmx__mem_reg_exact(mem, ep->tx_bufs, tx_bytes, 0, &ep->tx_mr);
	if (!ret)
		ret = rmx__mem_reg_exact(mem, ep->rx_bufs, rx_bytes,
					 RMX__TP_LOCAL_WRITE, &ep->rx_mr);
	if (ret) {
		rmx__err("an endpoint's %zu bytes of message buffers cannot be registered: %s; raise the locked-memory limit (ulimit -l) or lower RMX_TX_DEPTH, RMX_RX_DEPTH or RMX_EAGER_MAX",
			 tx_bytes + rx_bytes, rmx_strerror(ret));
		return ret;
	}
	for (i = 0; i < ep->tx_depth; i++)
		ep->tx_free[i] = ep->tx_depth - 1 - i;
	ep->ntx_free = ep->tx_depth;
	ep->credit_op.type = RMX__OP_CREDIT;
	return 0;
}

void rmx__ring_teardown(struct rmx_ep *ep)
{
	if (ep->tx_mr)
		rmx__mem_dereg_exact(ep->p->mem, ep->tx_mr);
	if (ep->rx_mr)
		rmx__mem_dereg_exact(ep->p->mem, ep->rx_mr);
	ep->tx_mr = ep->rx_mr = NULL;
	free(ep->tx);
	free(ep->tx_free);
	free(ep->arrived);
	free(ep->tx_bufs);
	free(ep->rx_bufs);
}

char *rmx__ring_rx_buf(const struct rmx_ep *ep, uint32_t slot)
{
	return ep->rx_bufs + (size_t)slot * ep->slot_size;
}

int rmx__ring_post_rx(struct rmx_ep *ep, struct rmx__tp_conn *conn,
		   uint32_t slot)
{
	return ep->p->tp->ops->post_recv(conn, rmx__ring_rx_buf(ep, slot),
					 ep->slot_size, ep->rx_mr,
					 slot);
}

int rmx__ring_start_rx(struct rmx_ep *ep, struct rmx__tp_conn *conn)
{
	uint32_t i;
	int ret;

	/* The peer was promised rx_depth buffers: its credits count on them. */
	if (ep->caps.rq_depth < ep->rx_depth) {
		rmx__err("the device grants %u receive entries per queue pair; lower RMX_RX_DEPTH (%u)",
			 ep->caps.rq_depth, ep->rx_depth);
		return -ENOMEM;
	}
	/* A shallower send queue only means fewer operations in flight. */
	if (ep->caps.sq_depth < ep->tx_depth) {
		for (i = 0; i < ep->caps.sq_depth; i++)
			ep->tx_free[i] = ep->caps.sq_depth - 1 - i;
		ep->tx_depth = ep->ntx_free = ep->caps.sq_depth;
	}
	/* Too few to keep one back for credit messages and still send. */
	ep->credit_threshold = ep->rx_depth / 4 > 2 ? ep->rx_depth / 4 : 2;
	for (i = 0; i < ep->rx_depth; i++) {
		ret = rmx__ring_post_rx(ep, conn, i);
		if (ret) {
			rmx__err("posting receive %u: %s", i, rmx_strerror(ret));
			return ret;
		}
	}
	return 0;
}
