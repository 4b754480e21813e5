// SPDX-License-Identifier: BSD-2-Clause
/*
 * The send engine: send slots, credits, chunking of RDMA, and how a send
 * goes (copied eagerly, or offered for the peer to read: rendezvous).
 */
#include <errno.h>
#include <string.h>

#include "core/log.h"
#include "proto/proto.h"

void rmx__send_set_peer_rx(struct rmx_ep *ep, uint32_t credits, uint32_t max)
{
	ep->tx_credits = credits;
	ep->peer_rx_max = max;
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
	ep->peer_credits += n;
	return n;
}

/* A message body: an optional header of its own, then data. */
struct msg_body {
	const void *head;
	size_t head_len;
	const void *data;
	size_t len;
};

/*
 * Said once while sends wait for buffers others hold; at every connect
 * that fails for it (the refusal or rmx_connect() shows the cause).
 */
static void say_no_bufs(struct rmx__proto *p, int err, bool again)
{
	if (p->tx_grow_failed && !again)
		return;
	p->tx_grow_failed = true;
	rmx__err("message buffers cannot be registered beyond %llu bytes for sends: %s; raise the locked-memory limit (ulimit -l), or lower RMX_TX_BUFS (%u) or RMX_EAGER_MAX (%u)",
		 (unsigned long long)rmx__bufpool_bytes(&p->tx_bufs),
		 rmx_strerror(err), p->cfg->tx_bufs, p->cfg->eager_max);
}

/*
 * 1 when a send buffer is free for a message; 0 when there is none and
 * the endpoint waits on proto->tx_waiting until a send frees one; an
 * error when none can be had at all.
 */
static int tx_ready(struct rmx_ep *ep)
{
	struct rmx__proto *p = ep->p;
	struct rmx__bufpool *bp = &p->tx_bufs;
	int ret;

	if (bp->nfree)
		return 1;
	ret = rmx__bufpool_grow(bp, bp->n + 1);
	if (!ret) {
		p->tx_grow_failed = false;
		return 1;
	}
	if (ret != -ENOSPC)
		say_no_bufs(p, ret, false);
	/* Sends in flight hold them all: the first to complete wakes us. */
	if (ret != -ENOSPC && !bp->n)
		return ret;
	if (!ep->tx_waiting) {
		ep->tx_waiting = true;
		rmx__list_add_tail(&p->tx_waiting, &ep->tx_wait_link);
	}
	return 0;
}

int rmx__send_setup(struct rmx__proto *p)
{
	int ret = rmx__bufpool_grow(&p->tx_bufs, 1);

	if (ret)
		say_no_bufs(p, ret, true);
	else
		p->tx_grow_failed = false;
	return ret;
}

void rmx__send_wake(struct rmx__proto *p)
{
	struct rmx_ep *ep;

	while (!rmx__list_empty(&p->tx_waiting) && p->tx_bufs.nfree) {
		ep = rmx__container_of(p->tx_waiting.next, struct rmx_ep,
				       tx_wait_link);
		rmx__list_del(&ep->tx_wait_link);
		ep->tx_waiting = false;
		if (!ep->lingering)
			rmx__send_pump_or_fail(ep);
		else if (rmx__send_bye(ep))
			rmx__ep_linger_end(ep);
	}
}

/*
 * Posts a message from send slot `slot`, in a send buffer it takes (see
 * tx_ready()); uses a credit.
 */
static int post_msg(struct rmx_ep *ep, uint32_t slot, uint8_t type,
		    uint16_t flags, const struct msg_body *body)
{
	struct rmx__bufpool *bp = &ep->p->tx_bufs;
	size_t len = body->head_len + body->len;
	uint32_t b = bp->free[--bp->nfree];
	char *bounce = rmx__bufpool_buf(bp, b);
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
					rmx__bufpool_mr(bp, b), slot);
	if (ret) {
		/* Not announced after all. */
		ep->rx_owed += hdr.credits;
		ep->peer_credits -= hdr.credits;
		rmx__bufpool_give(bp, b);
		return ret;
	}
	ep->tx[slot].bounce = b;
	ep->tx_credits--;
	return 0;
}

static uint32_t take_slot(struct rmx_ep *ep, struct rmx__op *op)
{
	uint32_t slot = ep->tx_free[--ep->ntx_free];

	ep->tx[slot].op = op;
	return slot;
}

static void give_slot(struct rmx_ep *ep, uint32_t slot)
{
	if (ep->tx[slot].bounce != RMX__NO_BOUNCE) {
		rmx__bufpool_give(&ep->p->tx_bufs, ep->tx[slot].bounce);
		ep->tx[slot].bounce = RMX__NO_BOUNCE;
	}
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
		/* Ordered (RMX__TP_CAP_ORDERED): the notice follows all data. */
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
	       op->posted + chunk_of(ep, op) == op->len &&
	       ep->p->tp->caps & RMX__TP_CAP_IMM_CONSUMES_RECV;
}

static size_t rpc_head_len(const struct rmx__op *op)
{
	return op->rpc_type ? RMX__RPC_HDR_SIZE : 0;
}

/* Whether a send goes whole in one message, copied. */
static bool send_is_eager(const struct rmx_ep *ep, const struct rmx__op *op)
{
	return op->len + rpc_head_len(op) <= ep->eager_max;
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
					       slot);
		if (!ret) {
			ep->tx[slot].rma_bytes = rma.len;
			ep->rma_inflight += rma.len;
		}
		/* Where the notice takes a receive buffer, it is a credit. */
		if (!ret && rma.op == RMX__TP_WRITE_IMM &&
		    ep->p->tp->caps & RMX__TP_CAP_IMM_CONSUMES_RECV)
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
 * A header alone (credits, ping, BYE), in a slot of no operation: 1 when
 * posted, 0 when it waits for a send buffer, or an error.
 */
static int send_bare(struct rmx_ep *ep, uint8_t type, uint16_t flags)
{
	static const struct msg_body none;
	uint32_t slot;
	int ret = tx_ready(ep);

	if (ret <= 0)
		return ret;
	slot = take_slot(ep, &ep->credit_op);
	ret = post_msg(ep, slot, type, flags, &none);
	if (ret) {
		give_slot(ep, slot);
		return ret;
	}
	return 1;
}

/*
 * Owed credits go out with the next message; when none is coming, in a
 * credit message of their own. That uses the peer's last buffer only
 * for this, so neither side can end up waiting for the other's credits.
 * Replying only to two or more owed stops credit messages answering
 * each other forever.
 */
static int maybe_send_credits(struct rmx_ep *ep)
{
	int ret;

	/* A ping is answered even when little is owed: that is its point. */
	if ((ep->rx_owed < ep->credit_threshold && !ep->pong_due) ||
	    !ep->tx_credits || !ep->ntx_free ||
	    ep->state != RMX_EP_CONNECTED)
		return 0;
	ret = send_bare(ep, RMX__MSG_CREDIT, 0);
	if (ret > 0)
		ep->pong_due = false;
	return ret < 0 ? ret : 0;
}

int rmx__send_ping(struct rmx_ep *ep)
{
	int ret;

	/* Without a slot or the reserved credit, traffic is pending anyway. */
	if (!ep->tx_credits || !ep->ntx_free)
		return 0;
	ret = send_bare(ep, RMX__MSG_CREDIT, RMX__FLAG_PING);
	return ret < 0 ? ret : 0;
}

/*
 * A BYE takes the credit kept back for credit messages, so it goes
 * whenever the connection is healthy. Not while one-sided work is
 * posted or a rendezvous buffer is offered: their DMA into or out of
 * the application's buffers must not outlive rmx_ep_destroy(), which
 * then disconnects at once (the peer sees an error close).
 */
bool rmx__send_bye_ready(const struct rmx_ep *ep)
{
	const struct rmx__list *n;
	uint32_t i;

	if (ep->state != RMX_EP_CONNECTED || !ep->conn || !ep->tx_credits)
		return false;
	for (i = 0; i < ep->tx_depth; i++)
		if (ep->tx[i].op && ep->tx[i].op != &ep->credit_op &&
		    is_rma(ep->tx[i].op))
			return false;
	for (n = ep->tx_active.next; n != &ep->tx_active; n = n->next)
		if (rmx__container_of(n, struct rmx__op, done.node)->awaiting_ats)
			return false;
	return true;
}

/* Posts the BYE once a slot is free: messages still posted go first. */
int rmx__send_bye(struct rmx_ep *ep)
{
	int ret;

	if (ep->bye_sent || !ep->ntx_free)
		return 0;
	ret = send_bare(ep, RMX__MSG_BYE, 0);
	if (ret > 0)
		ep->bye_sent = true;
	return ret < 0 ? ret : 0;
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

/*
 * Ends an operation the engine posted, or could not prepare; what hangs
 * on it (a rendezvous read's receive) ends first, by its on_done hook.
 */
static void op_done(struct rmx_ep *ep, struct rmx__op *op)
{
	if (op->on_done)
		op->on_done(ep, op);
	rmx__op_complete(ep->p, op, 0);
}

/* Posts queued operations while send slots, and credits, allow. */
int rmx__send_pump(struct rmx_ep *ep)
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
		if (!is_rma(op)) {
			ret = tx_ready(ep);
			if (ret < 0)
				return ret;
			if (!ret)
				break;
		}
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

/* Whether rmx__send_pump() would post a message queued now at once: see there. */
bool rmx__send_now(const struct rmx_ep *ep)
{
	return ep->state == RMX_EP_CONNECTED && ep->ntx_free &&
	       ep->tx_credits >= 2 && rmx__list_empty(&ep->tx_queue) &&
	       ep->p->tx_bufs.nfree;
}

/* Queues op behind the others; the caller pumps. */
void rmx__send_queue(struct rmx_ep *ep, struct rmx__op *op)
{
	op->queued = true;
	rmx__list_add_tail(&ep->tx_queue, &op->done.node);
}

/* Posts what may go now; a refusal by the transport closes the endpoint. */
void rmx__send_pump_or_fail(struct rmx_ep *ep)
{
	int ret = rmx__send_pump(ep);

	if (ret)
		rmx__ep_fail(ep, ret);
}

int rmx__send_enqueue(struct rmx_ep *ep, struct rmx__op *op)
{
	rmx__send_queue(ep, op);
	rmx__send_pump_or_fail(ep);
	return 0;
}

void rmx__send_unqueue(struct rmx__proto *p, struct rmx__op *op)
{
	op->queued = false;
	rmx__op_finish(p, op, -ECANCELED, &p->done);
}

int rmx__send(struct rmx_ep *ep, const void *buf, size_t len, rmx_comp_cb cb,
	      void *arg)
{
	struct rmx__op *op;
	int ret = rmx__ep_check_open(ep);

	if (ret)
		return ret;
	op = rmx__op_new(ep->p, RMX__OP_SEND, (void *)buf, len, cb, arg);
	if (!op)
		return -ENOMEM;
	return rmx__send_enqueue(ep, op);
}

int rmx__rma(struct rmx_ep *ep, const struct rmx__rma_req *req,
	     rmx_comp_cb cb, void *arg)
{
	struct rmx__op *op;
	int ret = rmx__ep_check_open(ep);

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
	return rmx__send_enqueue(ep, op);
}

void rmx__send_on_tx(struct rmx_ep *ep, uint32_t slot, int status)
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
