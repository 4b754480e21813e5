// SPDX-License-Identifier: BSD-2-Clause
/* Data movement: send/receive through bounce rings, put/get zero-copy. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "proto/proto.h"
#include "proto/wire.h"

struct rmx__op *rmx__op_new(struct rmx__proto *p, enum rmx__op_type type,
			    void *buf, size_t len, rmx_comp_cb cb, void *arg)
{
	struct rmx__list *n = rmx__list_pop(&p->free_ops);
	struct rmx__op *op;

	op = n ? rmx__container_of(n, struct rmx__op, done.node) :
		 malloc(sizeof(*op));
	if (!op)
		return NULL;
	memset(op, 0, sizeof(*op));
	rmx__list_init(&op->done.node);
	op->done.kind = RMX__DONE_OP;
	op->type = type;
	op->buf = buf;
	op->len = len;
	op->cb = cb;
	op->arg = arg;
	return op;
}

void rmx__op_free(struct rmx__proto *p, struct rmx__op *op)
{
	rmx__list_add_tail(&p->free_ops, &op->done.node);
}

/* The peer can no longer read what a rendezvous send offered. */
static void revoke_offer(struct rmx__proto *p, struct rmx__op *op)
{
	if (op->offered && rmx__mem_dereg_exact(p->mem, op->offered))
		rmx__err("a rendezvous registration could not be released: the peer may still read %zu bytes at %p",
			 op->len, (void *)op->buf);
	op->offered = NULL;
}

/* Moves a finished operation to a list of due callbacks. */
static void op_finish(struct rmx__proto *p, struct rmx__op *op, int status,
		      struct rmx__list *to)
{
	if (!op->status)
		op->status = status;
	revoke_offer(p, op);
	rmx__mem_put(p->mem, op->reg);
	op->reg = NULL;
	free(op->owned);
	op->owned = NULL;
	rmx__list_del(&op->done.node);
	rmx__list_add_tail(to, &op->done.node);
	if (op->call || op->srv)
		rmx__rpc_op_end(p, op, op->status, to);
}

static void op_complete(struct rmx__proto *p, struct rmx__op *op, int status)
{
	op_finish(p, op, status, &p->done);
}

int rmx__xfer_setup(struct rmx_ep *ep)
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

void rmx__xfer_set_peer_rx(struct rmx_ep *ep, uint32_t peer_rx_depth)
{
	ep->peer_rx_depth = peer_rx_depth;
	ep->tx_credits = peer_rx_depth;
}

void rmx__xfer_teardown(struct rmx_ep *ep)
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

static char *rx_buf(const struct rmx_ep *ep, uint32_t slot)
{
	return ep->rx_bufs + (size_t)slot * ep->slot_size;
}

static int post_rx(struct rmx_ep *ep, struct rmx__tp_conn *conn,
		   uint32_t slot)
{
	return ep->p->tp->ops->post_recv(conn, rx_buf(ep, slot),
					 ep->slot_size, ep->rx_mr,
					 rmx__wr_ctx(ep, RMX__WR_RX, slot));
}

int rmx__xfer_start_rx(struct rmx_ep *ep, struct rmx__tp_conn *conn)
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
		ret = post_rx(ep, conn, i);
		if (ret) {
			rmx__err("posting receive %u: %s", i, rmx_strerror(ret));
			return ret;
		}
	}
	return 0;
}

/*
 * RDMA bytes posted at once per endpoint. The send queue is served in
 * order: this bounds how long a credit message or a keepalive reply
 * waits behind bulk data, so a busy peer never looks silent.
 */
#define RMA_INFLIGHT_MAX (4u << 20)

static size_t chunk_of(const struct rmx_ep *ep, const struct rmx__op *op)
{
	size_t left = op->len - op->posted;
	size_t max = RMA_INFLIGHT_MAX;

	if (ep->caps.max_msg && ep->caps.max_msg < max)
		max = ep->caps.max_msg;
	return left < max ? left : max;
}

static bool is_rma(const struct rmx__op *op)
{
	return op->type != RMX__OP_SEND && op->type != RMX__OP_CTRL;
}

/* Announces as many reposted receive buffers as one header can carry. */
static uint16_t take_owed(struct rmx_ep *ep)
{
	uint16_t n = ep->rx_owed > UINT16_MAX ? UINT16_MAX :
						(uint16_t)ep->rx_owed;

	ep->rx_owed -= n;
	return n;
}

/* A message body: an optional header of its own, then data. */
struct msg_body {
	const void *head;
	size_t head_len;
	const void *data;
	size_t len;
};

/* Posts a message into send slot `slot`'s bounce buffer; uses a credit. */
static int post_msg(struct rmx_ep *ep, uint32_t slot, uint8_t type,
		    uint16_t flags, const struct msg_body *body)
{
	char *bounce = ep->tx_bufs + (size_t)slot * ep->slot_size;
	size_t len = body->head_len + body->len;
	struct rmx__wire_hdr hdr = { .type = type, .flags = flags,
				     .len = (uint32_t)len };
	int ret;

	hdr.credits = take_owed(ep);
	rmx__wire_pack(bounce, &hdr);
	/* Credit messages have no payload, and no pointer. */
	if (body->head_len)
		memcpy(bounce + RMX__WIRE_HDR_SIZE, body->head, body->head_len);
	if (body->len)
		memcpy(bounce + RMX__WIRE_HDR_SIZE + body->head_len, body->data,
		       body->len);
	ret = ep->p->tp->ops->post_send(ep->conn, bounce,
					(uint32_t)(RMX__WIRE_HDR_SIZE + len),
					ep->tx_mr,
					rmx__wr_ctx(ep, 0, slot));
	if (ret)
		ep->rx_owed += hdr.credits;	/* not announced after all */
	else
		ep->tx_credits--;
	return ret;
}

static uint32_t take_slot(struct rmx_ep *ep, struct rmx__op *op)
{
	uint32_t slot = ep->tx_free[--ep->ntx_free];

	ep->tx[slot].op = op;
	return slot;
}

static void give_slot(struct rmx_ep *ep, uint32_t slot)
{
	ep->rma_inflight -= ep->tx[slot].rma_bytes;
	ep->tx[slot].rma_bytes = 0;
	ep->tx[slot].op = NULL;
	ep->tx_free[ep->ntx_free++] = slot;
}

static enum rmx__tp_rma_op rma_op_of(const struct rmx__op *op, size_t chunk)
{
	switch (op->type) {
	case RMX__OP_GET:
		return RMX__TP_READ;
	case RMX__OP_FADD:
		return RMX__TP_FETCH_ADD;
	case RMX__OP_CSWAP:
		return RMX__TP_CMP_SWAP;
	case RMX__OP_PUT_IMM:
		/* RC order: the last chunk's notice follows all the data. */
		if (op->posted + chunk == op->len)
			return RMX__TP_WRITE_IMM;
		return RMX__TP_WRITE;
	default:
		return RMX__TP_WRITE;
	}
}

/* Whether posting op's next chunk takes a credit. */
static bool needs_credit(const struct rmx_ep *ep, const struct rmx__op *op)
{
	if (op->type == RMX__OP_SEND || op->type == RMX__OP_CTRL)
		return true;
	return op->type == RMX__OP_PUT_IMM &&
	       op->posted + chunk_of(ep, op) == op->len;
}

static size_t rpc_head_len(const struct rmx__op *op)
{
	return op->rpc_type ? RMX__RPC_HDR_SIZE : 0;
}

/* Whether a send goes whole in one message, copied. */
static bool send_is_eager(const struct rmx_ep *ep, const struct rmx__op *op)
{
	return op->len + rpc_head_len(op) <= ep->max_msg;
}

/*
 * A send's message: the data itself, or for rendezvous where the peer
 * reads it; an RPC's carries its RPC header first.
 */
static int post_send_msg(struct rmx_ep *ep, uint32_t slot, struct rmx__op *op)
{
	struct msg_body body = { .head = op->rpc_hdr,
				 .head_len = rpc_head_len(op),
				 .data = op->buf, .len = op->len };
	uint8_t type = op->rpc_type ? op->rpc_type : RMX__MSG_EAGER;
	uint8_t rts_buf[RMX__RTS_SIZE];
	struct rmx__rts rts;
	uint16_t flags = 0;
	int ret;

	if (send_is_eager(ep, op))
		return post_msg(ep, slot, type, 0, &body);
	/* Rendezvous: the peer reads the buffer, then says so. */
	rts = (struct rmx__rts){ .id = ++ep->rndv_next_id,
				 .addr = (uintptr_t)op->buf, .len = op->len,
				 .rkey = op->offered ? op->offered->rkey :
					 rmx__region_mr(op->reg)->rkey };
	rmx__rts_pack(rts_buf, &rts);
	body.data = rts_buf;
	body.len = sizeof(rts_buf);
	if (op->rpc_type)
		flags = RMX__FLAG_RNDV;
	else
		type = RMX__MSG_RTS;
	ret = post_msg(ep, slot, type, flags, &body);
	if (!ret) {
		op->rndv_id = rts.id;
		op->awaiting_ats = true;
	}
	return ret;
}

/* Posts the next work request of op into a free send slot. */
static int post_next(struct rmx_ep *ep, struct rmx__op *op)
{
	uint32_t slot = take_slot(ep, op);
	size_t chunk;
	int ret;

	if (op->type == RMX__OP_SEND) {
		chunk = op->len;
		ret = post_send_msg(ep, slot, op);
	} else if (op->type == RMX__OP_CTRL) {
		struct msg_body body = { .data = op->ctrl, .len = op->ctrl_len };

		chunk = 0;
		ret = post_msg(ep, slot, op->ctrl_type, 0, &body);
	} else {
		struct rmx__tp_rma rma = {
			.buf = op->buf + op->posted,
			.mr = op->reg ? rmx__region_mr(op->reg) : NULL,
			.raddr = op->raddr + op->posted,
			.rkey = op->rkey,
			.imm = op->imm,
			.compare_add = op->compare_add,
			.swap = op->swap,
		};

		chunk = chunk_of(ep, op);
		rma.len = (uint32_t)chunk;
		rma.op = rma_op_of(op, chunk);
		ret = ep->p->tp->ops->post_rma(ep->conn, &rma,
					       rmx__wr_ctx(ep, 0, slot));
		if (!ret) {
			ep->tx[slot].rma_bytes = rma.len;
			ep->rma_inflight += rma.len;
		}
		/* The notification takes a receive buffer: a credit. */
		if (!ret && rma.op == RMX__TP_WRITE_IMM)
			ep->tx_credits--;
	}
	if (ret) {
		give_slot(ep, slot);
		rmx__err("posting to %s: %s", ep->peer, rmx_strerror(ret));
		return ret;
	}
	op->posted += chunk;
	op->wr_out++;
	return 0;
}

/*
 * Owed credits go out with the next message; when none is coming, in a
 * credit message of their own. That uses the peer's last buffer only
 * for this, so neither side can end up waiting for the other's credits.
 * Replying only to two or more owed stops credit messages answering
 * each other forever.
 */
static int send_credit_msg(struct rmx_ep *ep, uint16_t flags)
{
	static const struct msg_body none;

	return post_msg(ep, take_slot(ep, &ep->credit_op), RMX__MSG_CREDIT,
			flags, &none);
}

static int maybe_send_credits(struct rmx_ep *ep)
{
	/* A ping is answered even when little is owed: that is its point. */
	if ((ep->rx_owed < ep->credit_threshold && !ep->pong_due) ||
	    !ep->tx_credits || !ep->ntx_free ||
	    ep->state != RMX_EP_CONNECTED)
		return 0;
	ep->pong_due = false;
	return send_credit_msg(ep, 0);
}

int rmx__xfer_ping(struct rmx_ep *ep)
{
	/* Without a slot or the reserved credit, traffic is pending anyway. */
	if (!ep->tx_credits || !ep->ntx_free)
		return 0;
	return send_credit_msg(ep, RMX__FLAG_PING);
}

static bool is_atomic(enum rmx__op_type type)
{
	return type == RMX__OP_FADD || type == RMX__OP_CSWAP;
}

/*
 * What the peer may read of a rendezvous send. A cached registration
 * covers whole pages and whatever neighbours the cache merged in, for as
 * long as it is cached: its key would let the peer read them, and keep
 * reading after the send completed. So by default the peer gets a key
 * of its own to exactly the message, deregistered when its ATS comes.
 * (Memory windows would keep the cache's pinning, but rxe does not hold
 * a read to the window's range: only the registration's range counts.)
 */
static int offer_rendezvous(struct rmx_ep *ep, struct rmx__op *op)
{
	if (!ep->p->cfg->rndv_exact)
		return rmx__mem_get(ep->p->mem, op->buf, op->len,
				    RMX__TP_REMOTE_READ, &op->reg);
	return rmx__mem_reg_exact(ep->p->mem, op->buf, op->len,
				  RMX__TP_REMOTE_READ, &op->offered);
}

/* Checks what can only be checked once the peer's limits are known. */
static int op_prepare(struct rmx_ep *ep, struct rmx__op *op)
{
	unsigned int access;

	if (op->type == RMX__OP_CTRL ||
	    (op->type == RMX__OP_SEND && send_is_eager(ep, op)))
		return 0;	/* copied into a bounce buffer */
	if (!op->len || op->reg || op->offered)
		return 0;
	/* A write small enough to go inline needs no registration. */
	if ((op->type == RMX__OP_PUT || op->type == RMX__OP_PUT_IMM) &&
	    op->len <= ep->caps.max_inline)
		return 0;
	if (op->type == RMX__OP_SEND)
		return offer_rendezvous(ep, op);
	access = op->type == RMX__OP_GET || is_atomic(op->type) ?
			 RMX__TP_LOCAL_WRITE : 0;
	return rmx__mem_get(ep->p->mem, op->buf, op->len, access, &op->reg);
}

static void op_done(struct rmx_ep *ep, struct rmx__op *op);

/* Posts queued operations while send slots, and credits, allow. */
static int pump(struct rmx_ep *ep)
{
	struct rmx__op *op;
	int ret;

	while (ep->state == RMX_EP_CONNECTED && ep->ntx_free &&
	       !rmx__list_empty(&ep->tx_queue)) {
		op = rmx__container_of(ep->tx_queue.next, struct rmx__op,
				       done.node);
		if (!op->posted && !op->wr_out) {
			ret = op_prepare(ep, op);
			if (ret) {
				/*
				 * This operation alone fails, with what hangs
				 * on it: a rendezvous read ends its receive
				 * and frees the sender's buffer.
				 */
				op->queued = false;
				op->status = ret;
				op_done(ep, op);
				continue;
			}
		}
		/* The last credit stays for credit messages. */
		if (needs_credit(ep, op) && ep->tx_credits < 2)
			break;
		if (is_rma(op) && ep->rma_inflight &&
		    ep->rma_inflight + chunk_of(ep, op) > RMA_INFLIGHT_MAX)
			break;
		ret = post_next(ep, op);
		if (ret)
			return ret;
		if (op->posted == op->len) {
			op->queued = false;
			rmx__list_del(&op->done.node);
			rmx__list_add_tail(&ep->tx_active, &op->done.node);
		}
	}
	return maybe_send_credits(ep);
}

/* Whether pump() would post a message queued now at once: see there. */
bool rmx__xfer_sends_now(const struct rmx_ep *ep)
{
	return ep->state == RMX_EP_CONNECTED && ep->ntx_free &&
	       ep->tx_credits >= 2 && rmx__list_empty(&ep->tx_queue);
}

/* Queues op behind the others; the caller pumps. */
static void queue_op(struct rmx_ep *ep, struct rmx__op *op)
{
	op->queued = true;
	rmx__list_add_tail(&ep->tx_queue, &op->done.node);
}

/* Posts what may go now; a refusal by the transport closes the endpoint. */
void rmx__xfer_pump_or_fail(struct rmx_ep *ep)
{
	int ret = pump(ep);

	if (ret)
		rmx__ep_fail(ep, ret);
}

int rmx__xfer_enqueue(struct rmx_ep *ep, struct rmx__op *op)
{
	queue_op(ep, op);
	rmx__xfer_pump_or_fail(ep);
	return 0;
}

void rmx__xfer_unqueue(struct rmx__proto *p, struct rmx__op *op)
{
	op->queued = false;
	op_finish(p, op, -ECANCELED, &p->done);
}

static int check_open(const struct rmx_ep *ep)
{
	if (ep->state == RMX_EP_CLOSED)
		return rmx__ep_closed_error(ep);
	return 0;
}

int rmx__send(struct rmx_ep *ep, const void *buf, size_t len, rmx_comp_cb cb,
	      void *arg)
{
	struct rmx__op *op;
	int ret = check_open(ep);

	if (ret)
		return ret;
	op = rmx__op_new(ep->p, RMX__OP_SEND, (void *)buf, len, cb, arg);
	if (!op)
		return -ENOMEM;
	return rmx__xfer_enqueue(ep, op);
}

int rmx__rma(struct rmx_ep *ep, const struct rmx__rma_req *req,
	     rmx_comp_cb cb, void *arg)
{
	struct rmx__op *op;
	int ret = check_open(ep);

	if (ret)
		return ret;
	if (req->rkey > ep->p->tp->max_key) {
		rmx__err("remote key 0x%llx is wider than %s keys",
			 (unsigned long long)req->rkey, ep->p->tp->ops->name);
		return -EINVAL;
	}
	if (is_atomic(req->type) &&
	    !(ep->p->tp->caps & RMX__TP_CAP_ATOMIC)) {
		rmx__err("%s has no remote atomics",
			 ep->p->tp->ops->device_name(ep->p->tp));
		return -EOPNOTSUPP;
	}
	op = rmx__op_new(ep->p, req->type, req->buf, req->len, cb, arg);
	if (!op)
		return -ENOMEM;
	op->raddr = req->raddr;
	op->rkey = req->rkey;
	op->imm = req->imm;
	op->compare_add = req->compare_add;
	op->swap = req->swap;
	return rmx__xfer_enqueue(ep, op);
}

/* Tells the sender its rendezvous buffer is free, and how it went. */
int rmx__xfer_queue_ats(struct rmx_ep *ep, uint64_t id, int status)
{
	struct rmx__op *op = rmx__op_new(ep->p, RMX__OP_CTRL, NULL, 0, NULL, NULL);
	struct rmx__ats ats = { .id = id, .status = status };

	if (!op)
		return -ENOMEM;
	op->ctrl_type = RMX__MSG_ATS;
	op->ctrl_len = RMX__ATS_SIZE;
	rmx__ats_pack(op->ctrl, &ats);
	queue_op(ep, op);
	return 0;
}

int rmx__xfer_check_rts(const struct rmx_ep *ep, const struct rmx__rts *rts)
{
	if (rts->rkey > ep->p->tp->max_key || !rts->len) {
		rmx__err("%s sent a malformed rendezvous request", ep->peer);
		return -EPROTO;
	}
	return 0;
}

void rmx__xfer_queue_read(struct rmx_ep *ep, struct rmx__op *rd,
			  const struct rmx__rts *rts)
{
	rd->raddr = rts->addr;
	rd->rkey = rts->rkey;
	rd->rndv_id = rts->id;
	queue_op(ep, rd);
}

/* A rendezvous message met its receive: read it straight in. */
static int start_read(struct rmx_ep *ep, struct rmx__op *recv,
		      const struct rmx__rts *rts)
{
	struct rmx__op *rd;
	int ret;

	if (rts->len > recv->len) {
		rmx__err("%llu-byte message from %s does not fit a %zu-byte receive",
			 (unsigned long long)rts->len, ep->peer, recv->len);
		recv->len = rts->len;
		op_complete(ep->p, recv, -EMSGSIZE);
		return rmx__xfer_queue_ats(ep, rts->id, -EMSGSIZE);
	}
	ret = rmx__xfer_check_rts(ep, rts);
	if (ret)
		return ret;
	rd = rmx__op_new(ep->p, RMX__OP_GET, recv->buf, rts->len, NULL, NULL);
	if (!rd)
		return -ENOMEM;
	rd->parent = recv;
	rmx__list_del(&recv->done.node);
	rmx__list_add_tail(&ep->reading, &recv->done.node);
	rmx__xfer_queue_read(ep, rd, rts);
	return 0;
}

/* The sender learns its rendezvous message was read (or refused). */
static int on_ats(struct rmx_ep *ep, const struct rmx__ats *ats)
{
	struct rmx__list *n;

	for (n = ep->tx_active.next; n != &ep->tx_active; n = n->next) {
		struct rmx__op *op = rmx__container_of(n, struct rmx__op,
						       done.node);

		if (op->awaiting_ats && op->rndv_id == ats->id) {
			op->awaiting_ats = false;
			/* Done reading, says the peer: it may read no more. */
			revoke_offer(ep->p, op);
			if (ats->status && !op->status)
				op->status = ats->status < 0 ? ats->status :
							       -EREMOTEIO;
			if (!op->wr_out)
				op_complete(ep->p, op, 0);
			return 0;
		}
	}
	rmx__err("%s acknowledged rendezvous %llu, which is not pending",
		 ep->peer, (unsigned long long)ats->id);
	return -EPROTO;
}

/* Completes op; a rendezvous read also completes its receive. */
static void op_done(struct rmx_ep *ep, struct rmx__op *op)
{
	struct rmx__op *recv = op->parent;
	int ret;

	if (recv) {
		recv->len = op->len;
		op_complete(ep->p, recv, op->status);
		ret = rmx__xfer_queue_ats(ep, op->rndv_id, op->status);
		if (ret)
			rmx__ep_fail(ep, ret);
	}
	op_complete(ep->p, op, 0);
}

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
	ret = start_read(ep, recv, &rts);
	if (ret)
		rmx__ep_fail(ep, ret);
	else
		rmx__xfer_pump_or_fail(ep);
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
	ret = rmx__xfer_queue_ats(ep, rts.id, -ECANCELED);
	if (ret)
		rmx__ep_fail(ep, ret);
	else
		rmx__xfer_pump_or_fail(ep);
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
		return start_read(ep, op, &rts);
	}
	if (a->len > op->len) {
		rmx__err("%u-byte message from %s does not fit a %zu-byte receive",
			 a->len, ep->peer, op->len);
		status = -EMSGSIZE;
	} else {
		memcpy(op->buf, payload, a->len);
	}
	op->len = a->len;
	op_complete(ep->p, op, status);
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
		const char *payload = rx_buf(ep, a->slot) + RMX__WIRE_HDR_SIZE;
		int ret;

		if (rmx__list_empty(&ep->recv_posted))
			ret = deliver_am(ep, a, payload);
		else
			ret = match_recv(ep, a, payload);
		ep->arr_head = (ep->arr_head + 1) % ep->rx_depth;
		ep->arr_count--;
		if (!ret)
			ret = post_rx(ep, ep->conn, a->slot);
		if (ret) {
			rmx__ep_fail(ep, ret);
			return;
		}
		ep->rx_owed++;
	}
}

int rmx__recv(struct rmx_ep *ep, void *buf, size_t cap, rmx_comp_cb cb,
	      void *arg)
{
	struct rmx__op *op;
	int ret = check_open(ep);

	if (ret)
		return ret;
	op = rmx__op_new(ep->p, RMX__OP_RECV, buf, cap, cb, arg);
	if (!op)
		return -ENOMEM;
	rmx__list_add_tail(&ep->recv_posted, &op->done.node);
	if (ep->conn) {
		/* Buffers it frees are credits the sender may be waiting for. */
		match(ep);
		rmx__xfer_pump_or_fail(ep);
	}
	return 0;
}

int rmx__xfer_connected(struct rmx_ep *ep)
{
	/* Messages may arrive before the CM reports the connection. */
	match(ep);
	return ep->conn ? pump(ep) : 0;
}

static void on_rx(struct rmx_ep *ep, uint32_t slot, uint32_t len)
{
	struct rmx__wire_hdr hdr;
	int ret;

	ret = rmx__wire_parse(rx_buf(ep, slot), len, ep->p->cfg->eager_max,
			      &hdr);
	if (ret) {
		rmx__err("malformed message from %s: closing", ep->peer);
		rmx__ep_fail(ep, ret);
		return;
	}
	if (ep->tx_credits + hdr.credits > ep->peer_rx_depth) {
		rmx__err("%s returned %u credits it never had: closing",
			 ep->peer, hdr.credits);
		rmx__ep_fail(ep, -EPROTO);
		return;
	}
	ep->tx_credits += hdr.credits;
	if (hdr.flags & RMX__FLAG_PING)
		ep->pong_due = true;
	if (hdr.type == RMX__MSG_ATS) {
		struct rmx__ats ats;

		rmx__ats_unpack(rx_buf(ep, slot) + RMX__WIRE_HDR_SIZE, &ats);
		ret = on_ats(ep, &ats);
		if (ret) {
			rmx__ep_fail(ep, ret);
			return;
		}
	}
	if (hdr.type == RMX__MSG_RPC_REQ || hdr.type == RMX__MSG_RPC_RESP) {
		/* RPC takes what it needs now: the buffer goes straight back. */
		ret = rmx__rpc_on_msg(ep, &hdr, (const uint8_t *)rx_buf(ep, slot) +
						       RMX__WIRE_HDR_SIZE);
		if (ret) {
			rmx__ep_fail(ep, ret);
			return;
		}
	}
	if (hdr.type != RMX__MSG_EAGER && hdr.type != RMX__MSG_RTS) {
		ret = post_rx(ep, ep->conn, slot);
		if (ret) {
			rmx__ep_fail(ep, ret);
			return;
		}
		ep->rx_owed++;
		return;
	}
	/* At most rx_depth receives are posted, so the ring never overflows. */
	ep->arrived[(ep->arr_head + ep->arr_count) % ep->rx_depth] =
		(struct rmx__arrival){ .slot = slot, .len = hdr.len,
				       .type = hdr.type };
	ep->arr_count++;
	match(ep);
}

static void on_tx(struct rmx_ep *ep, uint32_t slot, int status)
{
	struct rmx__op *op = ep->tx[slot].op;

	give_slot(ep, slot);
	if (op == &ep->credit_op)
		return;
	op->wr_out--;
	if (status && !op->status)
		op->status = status;
	if (!op->queued && !op->wr_out && !op->awaiting_ats)
		op_done(ep, op);
}

/* A write with immediate consumed a receive: repost it, tell the user. */
static void on_imm(struct rmx_ep *ep, uint32_t slot, const struct rmx__tp_comp *c)
{
	struct rmx__op *op;
	int ret = post_rx(ep, ep->conn, slot);

	if (ret) {
		rmx__ep_fail(ep, ret);
		return;
	}
	ep->rx_owed++;
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

void rmx__xfer_completion(void *upctx, const struct rmx__tp_comp *c)
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
		if (c->has_imm)
			on_imm(ep, slot, c);
		else
			on_rx(ep, slot, c->len);
		/* Credits came in, or receives were reposted: act on both. */
		rmx__xfer_pump_or_fail(ep);
		return;
	}
	if (slot >= ep->tx_depth || !ep->tx[slot].op)
		return;
	on_tx(ep, slot, status);
	if (status) {
		/* An RC queue pair in error delivers nothing more. */
		rmx__ep_fail(ep, status);
		return;
	}
	rmx__xfer_pump_or_fail(ep);
}

static void cancel_list(struct rmx__proto *p, struct rmx__list *list,
			int status, struct rmx__list *to)
{
	struct rmx__list *n;

	while ((n = list->next) != list) {
		struct rmx__op *op = rmx__container_of(n, struct rmx__op,
						       done.node);

		op->queued = false;
		op_finish(p, op, status, to);
	}
}

void rmx__xfer_cancel(struct rmx_ep *ep, int status, struct rmx__list *to)
{
	uint32_t i;

	cancel_list(ep->p, &ep->tx_queue, status, to);
	cancel_list(ep->p, &ep->tx_active, status, to);
	cancel_list(ep->p, &ep->recv_posted, status, to);
	cancel_list(ep->p, &ep->reading, status, to);
	for (i = 0; i < ep->tx_depth; i++)
		ep->tx[i] = (struct rmx__tx_slot){ 0 };
	ep->rma_inflight = 0;
	ep->arr_count = 0;
}
