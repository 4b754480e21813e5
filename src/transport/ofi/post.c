// SPDX-License-Identifier: BSD-2-Clause
/*
 * libfabric backend, work requests. An RDM endpoint completes operations
 * in any order and keeps nothing of rmx's connections, so each connection
 * keeps its ops in post order and delivers their completions from the
 * oldest: once one fails, every later one completes flushed, as on an RC
 * queue pair. What the provider has no room for yet waits in its peer's
 * backlog, with the control messages to that peer, in post order.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "transport/ofi/ofi.h"

static struct ofi_op *op_new(struct ofi_tp *tp)
{
	struct ofi_op *op = tp->op_free;

	if (op) {
		tp->op_free = op->next_free;
	} else {
		op = malloc(sizeof(*op));
		if (!op)
			return NULL;
		rmx__list_add_tail(&tp->ops_all, &op->all);
	}
	memset(op, 0, offsetof(struct ofi_op, all));
	op->ctx.kind = OFI_CTX_OP;
	rmx__list_init(&op->node);
	rmx__list_init(&op->ctx.pend);
	return op;
}

static void op_free(struct ofi_tp *tp, struct ofi_op *op)
{
	op->next_free = tp->op_free;
	tp->op_free = op;
}

void rmx__ofi_ops_free(struct ofi_tp *tp)
{
	struct rmx__list *n;

	while ((n = rmx__list_pop(&tp->ops_all)))
		free(rmx__container_of(n, struct ofi_op, all));
	tp->op_free = NULL;
}

void rmx__ofi_conn_owed(struct ofi_conn *c)
{
	if (!c->in_ready) {
		rmx__list_add_tail(&c->tp->ready, &c->owed);
		c->in_ready = true;
	}
}

/*
 * A write completes once the target took it: tcp reports a bad key or
 * range only then, and a write's failure must fail its connection. Not
 * for every send: shm stalls large sends asked for delivery completion.
 */
static ssize_t write_op(struct fid_ep *ep, struct ofi_op *op, fi_addr_t dst)
{
	struct iovec iov = { .iov_base = (void *)op->buf, .iov_len = op->len };
	struct fi_rma_iov rma = { .addr = op->raddr, .len = op->len,
				  .key = op->key };
	struct fi_msg_rma msg = {
		.msg_iov = &iov,
		.desc = &op->desc,
		.iov_count = 1,
		.addr = dst,
		.rma_iov = &rma,
		.rma_iov_count = 1,
		.context = &op->ctx.fctx,
	};

	return fi_writemsg(ep, &msg, FI_COMPLETION | FI_DELIVERY_COMPLETE |
				     (op->buf == op->inl ? FI_INJECT : 0));
}

/* Hands op to the provider: 0, -EAGAIN (no room), or an error. */
static int issue(struct ofi_tp *tp, struct ofi_op *op)
{
	struct fid_ep *ep = tp->st.ep;
	fi_addr_t dst = op->conn->peer->fi_addr;
	void *ctx = &op->ctx.fctx;
	ssize_t ret;

	switch (op->type) {
	case OFI_OP_SEND:
		ret = fi_senddata(ep, op->buf, op->len, op->desc, op->data, dst,
				  ctx);
		break;
	case OFI_OP_INJECT:
		ret = fi_injectdata(ep, op->inl, op->len, op->data, dst);
		break;
	case OFI_OP_WRITE:
		ret = write_op(ep, op, dst);
		break;
	case OFI_OP_READ:
		ret = fi_read(ep, (void *)op->buf, op->len, op->desc, dst,
			      op->raddr, op->key, ctx);
		break;
	case OFI_OP_FETCH_ADD:
		ret = fi_fetch_atomic(ep, &op->operand, 1, NULL,
				      (void *)op->buf, op->desc, dst, op->raddr,
				      op->key, FI_UINT64, FI_SUM, ctx);
		break;
	case OFI_OP_CMP_SWAP:
		ret = fi_compare_atomic(ep, &op->operand, 1, NULL, &op->compare,
					NULL, (void *)op->buf, op->desc, dst,
					op->raddr, op->key, FI_UINT64, FI_CSWAP,
					ctx);
		break;
	default:
		ret = -FI_EINVAL;
	}
	if (ret)
		return rmx__ofi_errno((int)ret);
	op->issued = true;
	/* An inject is the provider's at once and completes nowhere. */
	if (op->type == OFI_OP_INJECT) {
		op->done = true;
		rmx__ofi_conn_owed(op->conn);
	}
	return 0;
}

static int ctrl_issue(struct ofi_tp *tp, struct ofi_ctrl_tx *t)
{
	void *desc = t->heap || !tp->ctx_mr ? NULL : fi_mr_desc(tp->ctx_mr);
	ssize_t ret = fi_tsend(tp->st.ep, t->buf, t->len, desc,
			       t->peer->fi_addr, OFI_TAG_CTRL, &t->ctx.fctx);

	return ret ? rmx__ofi_errno((int)ret) : 0;
}

static void backlog_add(struct ofi_tp *tp, struct ofi_peer *p,
			struct ofi_ctx *x)
{
	if (rmx__list_empty(&p->backlog))
		rmx__list_add_tail(&tp->busy, &p->busy);
	rmx__list_add_tail(&p->backlog, &x->pend);
}

static void backlog_del(struct ofi_peer *p, struct ofi_ctx *x)
{
	rmx__list_del(&x->pend);
	if (rmx__list_empty(&p->backlog))
		rmx__list_del(&p->busy);
}

void rmx__ofi_ctrl_queue(struct ofi_tp *tp, struct ofi_ctrl_tx *t)
{
	/* Sent from progress: a post call never completes anything. */
	backlog_add(tp, t->peer, &t->ctx);
}

/*
 * Queues op on its connection and issues it unless something waits
 * before it. 0, or an error with op not queued (first of a request) or
 * completed with the error (second half of a write with imm).
 */
static int enqueue(struct ofi_tp *tp, struct ofi_op *op, bool first)
{
	struct ofi_conn *c = op->conn;
	int ret = -EAGAIN;

	rmx__list_add_tail(&c->ops, &op->node);
	if (rmx__list_empty(&c->peer->backlog))
		ret = issue(tp, op);
	if (ret == -EAGAIN) {
		backlog_add(tp, c->peer, &op->ctx);
		op->in_backlog = true;
		return 0;
	}
	if (!ret)
		return 0;
	if (first) {
		rmx__list_del(&op->node);
		op_free(tp, op);
		return ret;
	}
	op->done = true;
	op->status = ret;
	rmx__ofi_conn_owed(c);
	return 0;
}

static int check_conn(const struct ofi_conn *c)
{
	if (c->failed || !c->peer || c->state == OFI_C_CLOSED)
		return -ENOTCONN;
	return 0;
}

int rmx__ofi_post_recv(struct rmx__tp *base, void *buf, uint32_t len,
		       struct rmx__tp_mr *mr, uint64_t wr_ctx)
{
	struct ofi_tp *tp = (struct ofi_tp *)base;
	struct ofi_rx *rx = tp->rx_free;
	ssize_t ret;

	if (!rx)
		return -ENOSPC;
	ret = fi_recv(tp->st.ep, buf, len, rmx__ofi_mr_desc(mr),
		      FI_ADDR_UNSPEC, &rx->ctx.fctx);
	if (ret) {
		rmx__err("ofi: %s refused a shared receive: %s (max_recv %u)",
			 tp->devname, fi_strerror((int)-ret), tp->base.max_recv);
		return ret == -FI_EAGAIN ? -ENOBUFS : rmx__ofi_errno((int)ret);
	}
	tp->rx_free = rx->next_free;
	rx->wr_ctx = wr_ctx;
	rx->buf = buf;
	return 0;
}

/*
 * A message of len bytes: copied inline when mr is NULL. Its remote CQ
 * data names the peer's connection and the message's place on it.
 */
static int send_op(struct ofi_conn *c, const void *buf, uint32_t len,
		   struct rmx__tp_mr *mr, uint64_t flags, uint64_t wr_ctx,
		   bool first)
{
	struct ofi_tp *tp = c->tp;
	struct ofi_op *op;

	if (!mr && len > tp->inject && len > OFI_NOTICE_LEN)
		return -EINVAL;
	if (!mr && len > tp->inject && tp->local_mr)
		return -EOPNOTSUPP;	/* a notice needs inject room here */
	op = op_new(tp);
	if (!op)
		return -ENOMEM;
	op->conn = c;
	op->wr_ctx = wr_ctx;
	op->len = len;
	op->data = c->peer_token | flags | (uint64_t)c->tx_seq << 32;
	if (!mr) {
		if (len)
			memcpy(op->inl, buf, len);
		/* Within inject_size: the provider's at once. */
		op->type = len <= tp->inject ? OFI_OP_INJECT : OFI_OP_SEND;
		op->buf = len ? op->inl : NULL;
	} else {
		op->type = OFI_OP_SEND;
		op->buf = len ? buf : NULL;
		op->desc = rmx__ofi_mr_desc(mr);
	}
	c->tx_seq++;
	return enqueue(tp, op, first);
}

int rmx__ofi_post_send(struct rmx__tp_conn *conn, const void *buf,
		       uint32_t len, struct rmx__tp_mr *mr, uint64_t wr_ctx)
{
	struct ofi_conn *c = (struct ofi_conn *)conn;
	int ret = check_conn(c);

	if (ret)
		return ret;
	if (!mr && len > c->tp->inject)
		return -EINVAL;
	return send_op(c, buf, len, mr, 0, wr_ctx, true);
}

/* The notice of a write with imm: the immediate and the write's length. */
static int notice_op(struct ofi_conn *c, uint32_t imm, uint32_t len,
		     uint64_t wr_ctx, bool first)
{
	uint32_t w[2] = { htonl(imm), htonl(len) };

	return send_op(c, w, OFI_NOTICE_LEN, NULL, OFI_DATA_IMM, wr_ctx,
		       first);
}

/* The target address: an offset from the region's start without VIRT_ADDR. */
static uint64_t target(const struct ofi_tp *tp, const struct rmx__tp_rma *r)
{
	if (tp->virt_addr || tp->prov_key)
		return r->raddr;
	return r->raddr - (r->rkey & OFI_KEY_ADDR_MASK);
}

int rmx__ofi_post_rma(struct rmx__tp_conn *conn,
		      const struct rmx__tp_rma *rma, uint64_t wr_ctx)
{
	struct ofi_conn *c = (struct ofi_conn *)conn;
	struct ofi_tp *tp = c->tp;
	struct ofi_op *op;
	int ret = check_conn(c);

	if (ret)
		return ret;
	if ((rma->op == RMX__TP_FETCH_ADD || rma->op == RMX__TP_CMP_SWAP) &&
	    (!(tp->base.caps & RMX__TP_CAP_ATOMIC) || rma->len != 8 || !rma->mr))
		return rma->len != 8 || !rma->mr ? -EINVAL : -EOPNOTSUPP;
	if ((rma->op == RMX__TP_READ && !rma->mr && rma->len) ||
	    (!rma->mr && rma->len > tp->inject))
		return -EINVAL;
	if (rma->op == RMX__TP_WRITE_IMM && !rma->len)
		return notice_op(c, rma->imm, 0, wr_ctx, true);	/* alone */
	op = op_new(tp);
	if (!op)
		return -ENOMEM;
	op->conn = c;
	op->wr_ctx = wr_ctx;
	op->buf = rma->buf;
	op->len = rma->len;
	op->desc = rmx__ofi_mr_desc(rma->mr);
	op->raddr = target(tp, rma);
	op->key = rma->rkey;
	switch (rma->op) {
	case RMX__TP_WRITE:
	case RMX__TP_WRITE_IMM:
		/* Inline: copied, and still completed by the target (write_op). */
		op->type = OFI_OP_WRITE;
		if (!rma->mr) {
			memcpy(op->inl, rma->buf, rma->len);
			op->buf = op->inl;
		}
		break;
	case RMX__TP_READ:
		op->type = OFI_OP_READ;
		break;
	case RMX__TP_FETCH_ADD:
		op->type = OFI_OP_FETCH_ADD;
		op->operand = rma->compare_add;
		break;
	case RMX__TP_CMP_SWAP:
		op->type = OFI_OP_CMP_SWAP;
		op->compare = rma->compare_add;
		op->operand = rma->swap;
		break;
	}
	if (!tp->prov_key &&
	    (((rma->op == RMX__TP_FETCH_ADD || rma->op == RMX__TP_CMP_SWAP) &&
	      !(rma->rkey & OFI_KEY_ATOMIC)) ||
	     (rma->op == RMX__TP_READ && !(rma->rkey & OFI_KEY_READ)))) {
		/* The key says the region refuses this (ofi.h, OFI_KEY_READ). */
		rmx__list_add_tail(&c->ops, &op->node);
		op->done = true;
		op->status = -EACCES;
		rmx__ofi_conn_owed(c);
		return 0;
	}
	if (rma->op != RMX__TP_WRITE_IMM)
		return enqueue(tp, op, true);
	/*
	 * A write with imm is the write, then a notice message that takes a
	 * shared receive at the target (RMX__TP_CAP_IMM_CONSUMES_RECV):
	 * FI_ORDER_SAW puts the data in place before the notice lands.
	 * Remote CQ data of a write would consume no receive.
	 */
	op->silent = true;
	op->wr_ctx = 0;
	ret = enqueue(tp, op, true);
	if (ret)
		return ret;
	return notice_op(c, rma->imm, rma->len, wr_ctx, false);
}

void rmx__ofi_op_done(struct ofi_tp *tp, struct ofi_op *op, int status)
{
	struct ofi_conn *c = op->conn;

	if (!c) {
		op_free(tp, op);	/* its connection was destroyed */
		return;
	}
	op->done = true;
	op->status = status;
	rmx__ofi_conn_deliver(c);
}

void rmx__ofi_conn_deliver(struct ofi_conn *c)
{
	struct ofi_tp *tp = c->tp;
	uint32_t token = c->token;
	struct ofi_peer *peer = c->peer;

	if (c->in_ready) {
		rmx__list_del(&c->owed);
		c->in_ready = false;
	}
	/* A failed connection's ops still waiting for room are flushed. */
	if (c->failed) {
		struct rmx__list *pos;

		for (pos = c->ops.next; pos != &c->ops; pos = pos->next) {
			struct ofi_op *op =
				rmx__container_of(pos, struct ofi_op, node);

			if (op->in_backlog) {
				backlog_del(c->peer, &op->ctx);
				op->in_backlog = false;
				op->done = true;
				op->status = -ECANCELED;
			}
		}
	}
	while (!rmx__list_empty(&c->ops)) {
		struct ofi_op *op = rmx__container_of(c->ops.next,
						      struct ofi_op, node);
		struct rmx__tp_comp comp = {
			.conn = &c->base,
			.wr_ctx = op->wr_ctx,
			.kind = RMX__TP_COMP_SEND,
			.status = op->status,
		};
		bool fails, silent = op->silent;

		if (!op->done && !c->failed)
			break;
		rmx__list_del(&op->node);
		if (op->done) {
			op_free(tp, op);
		} else {
			/*
			 * The connection failed: its requests complete now,
			 * flushed, whatever the provider does with them (a
			 * dead shm peer never answers); the provider's
			 * completion frees the op later (op_done).
			 */
			op->conn = NULL;
			comp.status = -ECANCELED;
		}
		if (silent) {
			if (comp.status && !c->failed && !c->carry)
				c->carry = comp.status;
			continue;
		}
		if (c->carry) {
			comp.status = c->carry;
			c->carry = 0;
		} else if (c->failed) {
			comp.status = -ECANCELED;
		}
		fails = comp.status && !c->failed;
		tp->up->completion(tp->upctx, &comp);
		c = rmx__ofi_conn_by_token(tp, token);
		if (!c)
			return;	/* destroyed by the upcall */
		if (fails) {
			rmx__ofi_conn_fail(c, comp.status, true);
			rmx__ofi_peer_fail(tp, peer, comp.status);
			c = rmx__ofi_conn_by_token(tp, token);
			if (!c)
				return;
		}
	}
}

void rmx__ofi_conn_orphan(struct ofi_conn *c)
{
	struct ofi_tp *tp = c->tp;
	struct rmx__list *n;

	while ((n = rmx__list_pop(&c->ops))) {
		struct ofi_op *op = rmx__container_of(n, struct ofi_op, node);

		if (op->in_backlog)
			backlog_del(c->peer, &op->ctx);
		/* Issued and not completed: the CQ entry frees it later. */
		if (op->issued && !op->done)
			op->conn = NULL;
		else
			op_free(tp, op);
	}
}

/* Issues what waits for p, in order, until the provider says -EAGAIN. */
static void backlog_peer(struct ofi_tp *tp, struct ofi_peer *p)
{
	while (!rmx__list_empty(&p->backlog)) {
		struct ofi_ctx *x = rmx__container_of(p->backlog.next,
						      struct ofi_ctx, pend);
		int ret;

		if (x->kind == OFI_CTX_OP) {
			struct ofi_op *op = (struct ofi_op *)x;

			ret = issue(tp, op);
			if (ret == -EAGAIN)
				return;
			backlog_del(p, x);
			op->in_backlog = false;
			if (ret) {
				op->done = true;
				op->status = ret;
				rmx__ofi_conn_owed(op->conn);
			}
		} else {
			struct ofi_ctrl_tx *t = (struct ofi_ctrl_tx *)x;

			ret = ctrl_issue(tp, t);
			if (ret == -EAGAIN)
				return;
			backlog_del(p, x);
			if (ret)
				rmx__ofi_ctrl_sent(tp, t, ret);
		}
	}
}

void rmx__ofi_backlog_drop(struct ofi_tp *tp, struct ofi_peer *p,
			   uint32_t token)
{
	struct rmx__list *pos, *next;

	for (pos = p->backlog.next; pos != &p->backlog; pos = next) {
		struct ofi_ctx *x = rmx__container_of(pos, struct ofi_ctx, pend);
		struct ofi_ctrl_tx *t = (struct ofi_ctrl_tx *)x;

		next = pos->next;
		if (x->kind == OFI_CTX_CTRL_TX && t->token == token) {
			backlog_del(p, x);
			t->token = 0;
			rmx__ofi_ctrl_sent(tp, t, -ECANCELED);
		}
	}
}

void rmx__ofi_backlog(struct ofi_tp *tp)
{
	struct rmx__list todo, *n;

	/* Upcalls on the way may empty any peer's backlog: one at a time. */
	rmx__list_init(&todo);
	while ((n = rmx__list_pop(&tp->busy)))
		rmx__list_add_tail(&todo, n);
	while ((n = rmx__list_pop(&todo))) {
		rmx__list_add_tail(&tp->busy, n);
		backlog_peer(tp, rmx__container_of(n, struct ofi_peer, busy));
	}
	while ((n = rmx__list_pop(&tp->ready))) {
		struct ofi_conn *c = rmx__container_of(n, struct ofi_conn, owed);

		c->in_ready = false;
		rmx__ofi_conn_deliver(c);
	}
}
