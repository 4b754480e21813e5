// SPDX-License-Identifier: BSD-2-Clause
/*
 * rmx-ping, rping mode: work completions and connection manager events,
 * each turned into the client's or the server's next step, or a failure
 * that says what the connection was waiting for.
 */
#include <errno.h>
#include <inttypes.h>

#include "common/clock.h"
#include "common/msg.h"
#include "rping_conn.h"

static void on_recv(struct conn *c, uint32_t len)
{
	int ret;

	if (len != INFO_LEN) {
		rping_conn_fail(c, -EPROTO, "received bogus data, size %u (expected %d)",
				len, INFO_LEN);
		return;
	}
	if (c->rp->o->server) {
		rping_info_decode(c->recv_buf, &c->raddr, &c->rkey, &c->rlen);
		DBG(c->rp, "Received rkey %x addr %" PRIx64 " len %u from peer\n",
		    c->rkey, c->raddr, c->rlen);
	}
	/* Reposted before anything is sent: the peer's next has a buffer. */
	ret = rping_post_recv(c);
	if (ret) {
		rping_conn_fail(c, ret, "posting a receive: %s", strerror(-ret));
		return;
	}
	switch (c->state) {
	case ST_WAIT_SRC:
		rping_server_read(c);
		break;
	case ST_WAIT_SINK:
		rping_server_write(c);
		break;
	case ST_GO_READ:
	case ST_GO_WRITE:
		if (!c->got_go) {
			c->got_go = 1;
			rping_client_step(c);
			break;
		}
		/* fall through */
	default:
		rping_conn_fail(c, -EPROTO, "unexpected message while waiting for %s",
				rping_state_what[c->state]);
		break;
	}
}

static const char *wr_name(uint64_t wr_id)
{
	switch (wr_id) {
	case WR_RECV:
		return "receive";
	case WR_SEND:
		return "send";
	case WR_READ:
		return "RDMA read";
	case WR_WRITE:
		return "RDMA write";
	}
	return "work request";
}

static void on_wc(struct conn *c, const struct ibv_wc *wc)
{
	if (c->state == ST_CLOSING || c->state == ST_DONE || c->flushed)
		return;
	if (wc->status == IBV_WC_WR_FLUSH_ERR) {
		/* The QP went to error: the CM's event should say why. */
		DBG(c->rp, "%s flushed\n", wr_name(wc->wr_id));
		c->flushed = 1;
		c->deadline = tool_clock_ns() + CLOSE_WAIT_MS * TOOL_NS_PER_MS;
		return;
	}
	if (wc->status != IBV_WC_SUCCESS) {
		rping_conn_fail(c, -EIO, "%s completion failed: %s (status %d, vendor error 0x%x)",
				wr_name(wc->wr_id), ibv_wc_status_str(wc->status),
				wc->status, wc->vendor_err);
		return;
	}
	rping_conn_progress(c);
	switch (wc->wr_id) {
	case WR_RECV:
		DBG(c->rp, "recv completion\n");
		on_recv(c, wc->byte_len);
		break;
	case WR_SEND:
		DBG(c->rp, "send completion\n");
		if (!c->rp->o->server) {
			c->send_done = 1;
			rping_client_step(c);
		}
		break;
	case WR_READ:
		DBG(c->rp, "rdma read completion\n");
		if (c->state == ST_READING)
			rping_server_read_done(c);
		else
			rping_conn_fail(c, -EPROTO, "stray RDMA read completion");
		break;
	case WR_WRITE:
		DBG(c->rp, "rdma write completion\n");
		if (c->state == ST_WRITING)
			rping_server_write_done(c);
		else
			rping_conn_fail(c, -EPROTO, "stray RDMA write completion");
		break;
	default:
		rping_conn_fail(c, -EPROTO, "unknown completion %" PRIu64, wc->wr_id);
		break;
	}
}

void rping_poll_cq(struct conn *c, struct ibv_comp_channel *ch,
		   struct ibv_cq *cq)
{
	struct ibv_wc wc[4];
	struct ibv_cq *ev_cq;
	void *ev_ctx;
	int n, i;

	while (!ibv_get_cq_event(ch, &ev_cq, &ev_ctx)) {
		ibv_ack_cq_events(ev_cq, 1);	/* destroy waits for acks */
		if (ibv_req_notify_cq(ev_cq, 0)) {
			rping_conn_fail(c, -EIO, "ibv_req_notify_cq failed");
			return;
		}
	}
	while ((n = ibv_poll_cq(cq, 4, wc)) > 0)
		for (i = 0; i < n; i++)
			on_wc(c, &wc[i]);
	if (n < 0)
		rping_conn_fail(c, -EIO, "ibv_poll_cq failed");
}

static int event_status(const struct rdma_cm_event *ev)
{
	switch (ev->event) {
	case RDMA_CM_EVENT_ADDR_ERROR:
		return -EHOSTUNREACH;
	case RDMA_CM_EVENT_ROUTE_ERROR:
		return -ENETUNREACH;
	case RDMA_CM_EVENT_UNREACHABLE:
		return -ETIMEDOUT;
	case RDMA_CM_EVENT_REJECTED:
		return -ECONNREFUSED;
	case RDMA_CM_EVENT_DEVICE_REMOVAL:
		return -ENODEV;
	default:
		return -ECONNABORTED;
	}
}

static void on_disconnected(struct conn *c)
{
	int boundary = c->rp->o->server ? c->state == ST_WAIT_SRC : 0;

	if (c->state == ST_CLOSING || c->state == ST_DONE) {
		c->state = ST_DONE;
		return;
	}
	/* No disconnect owed: the CM answered the peer's. */
	c->established = 0;
	if (!boundary)
		rping_conn_fail(c, -ECONNRESET, "disconnected while waiting for %s (ping %ld)",
				rping_state_what[c->state], c->pings);
	c->state = ST_DONE;
}

static void on_conn_event(struct conn *c, const struct rdma_cm_event *ev)
{
	struct rping *rp = c->rp;
	int ret;

	if (c->state != ST_CLOSING)
		rping_conn_progress(c);
	switch (ev->event) {
	case RDMA_CM_EVENT_ADDR_RESOLVED:
		if (rdma_resolve_route(c->id, rp->o->timeout_ms))
			rping_conn_fail(c, -errno, "rdma_resolve_route: %s",
					strerror(errno));
		break;
	case RDMA_CM_EVENT_ROUTE_RESOLVED:
		DBG(rp, "rdma_resolve_addr - rdma_resolve_route successful\n");
		ret = rping_conn_setup(c);
		if (ret) {
			rping_conn_fail(c, ret, "setting up: %s", strerror(-ret));
			break;
		}
		if (rdma_connect(c->id, (struct rdma_conn_param *)&rping_conn_param)) {
			rping_conn_fail(c, -errno, "rdma_connect: %s", strerror(errno));
			break;
		}
		c->state = ST_CONNECTING;
		break;
	case RDMA_CM_EVENT_ESTABLISHED:
		DBG(rp, "ESTABLISHED\n");
		c->established = 1;
		if (c->state == ST_CONNECTING) {
			DBG(rp, "rdma_connect successful\n");
			rping_client_ping(c);
		}
		break;
	case RDMA_CM_EVENT_DISCONNECTED:
		DBG(rp, "%s DISCONNECT EVENT...\n", rp->o->server ? "server" : "client");
		on_disconnected(c);
		break;
	case RDMA_CM_EVENT_REJECTED:
		/* IB CM reasons: 8, no listener; 28, the server said no. */
		rping_conn_fail(c, -ECONNREFUSED, "connection rejected (%s): %s, status %d",
				ev->status == 8 ? "no server on that port" :
				ev->status == 28 ? "refused: a server without -P serves one client" :
				"refused", rdma_event_str(ev->event), ev->status);
		break;
	case RDMA_CM_EVENT_ADDR_ERROR:
	case RDMA_CM_EVENT_ROUTE_ERROR:
	case RDMA_CM_EVENT_CONNECT_ERROR:
	case RDMA_CM_EVENT_UNREACHABLE:
	case RDMA_CM_EVENT_DEVICE_REMOVAL:
		rping_conn_fail(c, event_status(ev), "%s, error %d, while waiting for %s",
				rdma_event_str(ev->event), ev->status,
				rping_state_what[c->state]);
		if (ev->event == RDMA_CM_EVENT_DEVICE_REMOVAL)
			rp->fatal = -ENODEV;
		break;
	case RDMA_CM_EVENT_TIMEWAIT_EXIT:
	case RDMA_CM_EVENT_ADDR_CHANGE:
		break;
	default:
		DBG(rp, "unhandled event: %s, ignoring\n", rdma_event_str(ev->event));
		break;
	}
}

int rping_cm_events(struct rping *rp)
{
	struct rdma_cm_event *e, ev;

	while (!rdma_get_cm_event(rp->ch, &e)) {
		/* Acked first: destroying an id waits for its acks. */
		ev = *e;
		rdma_ack_cm_event(e);
		DBG(rp, "cma_event type %s cma_id %p (%s)\n",
		    rdma_event_str(ev.event), (void *)ev.id,
		    ev.id == rp->listen || !rp->o->server ? "parent" : "child");
		if (ev.event == RDMA_CM_EVENT_CONNECT_REQUEST) {
			rping_server_accept(rp, ev.id);
		} else if (ev.id == rp->listen) {
			if (ev.event == RDMA_CM_EVENT_DEVICE_REMOVAL) {
				tool_err("the device went away");
				rp->fatal = -ENODEV;
			}
		} else if (ev.id && ev.id->context) {
			on_conn_event(ev.id->context, &ev);
		}
	}
	if (errno != EAGAIN && errno != EWOULDBLOCK) {
		tool_err("rdma_get_cm_event: %s", strerror(errno));
		return -errno;
	}
	return 0;
}
