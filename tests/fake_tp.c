// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fake_tp.h"

static int fake_open(struct rmx__loop *loop,
		     const struct rmx__tp_upcalls *up, void *upctx,
		     struct rmx__tp **out)
{
	struct fake_tp *tp = calloc(1, sizeof(*tp));

	(void)loop;
	if (!tp)
		return -ENOMEM;
	tp->base.ops = &fake_tp_ops;
	tp->base.max_key = UINT32_MAX;
	tp->base.max_priv = 56;	/* rdma_cm's private data in a RoCE REQ */
	tp->base.max_recv = FAKE_MAX_WR;
	tp->base.caps = RMX__TP_CAP_ATOMIC | RMX__TP_CAP_IMM_CONSUMES_RECV |
			RMX__TP_CAP_ORDERED | RMX__TP_CAP_LOCAL_MR |
			RMX__TP_CAP_CONNECTED;
	tp->up = up;
	tp->upctx = upctx;
	*out = &tp->base;
	return 0;
}

int fake_tp_open(struct rmx__loop *loop, const struct rmx__tp_upcalls *up,
		 void *upctx, struct rmx__tp **out)
{
	return fake_open(loop, up, upctx, out);
}

static void fake_close(struct rmx__tp *tp)
{
	free(tp);
}

static const char *fake_name(const struct rmx__tp *tp)
{
	(void)tp;
	return "fake0";
}

static int fake_progress(struct rmx__tp *tp)
{
	(void)tp;
	return 0;
}

static int fake_arm(struct rmx__tp *tp)
{
	(void)tp;
	return 0;
}

static int fake_mr_reg(struct rmx__tp *tp, void *addr, size_t len,
		       unsigned int access, struct rmx__tp_mr **out)
{
	struct rmx__tp_mr *mr = calloc(1, sizeof(*mr));

	(void)access;
	if (!mr)
		return -ENOMEM;
	mr->tp = tp;
	mr->addr = addr;
	mr->len = len;
	mr->rkey = 0x1234;
	*out = mr;
	return 0;
}

static int fake_mr_dereg(struct rmx__tp_mr *mr)
{
	free(mr);
	return 0;
}

/* The fuzzer's peer has no address. */
static int fake_conn_addr(const struct rmx__tp_conn *conn,
			  struct sockaddr_storage *local,
			  struct sockaddr_storage *peer)
{
	(void)conn;
	(void)local;
	(void)peer;
	return -ENOTCONN;
}

static int fake_connect(struct rmx__tp *base, const struct sockaddr *src,
			const struct sockaddr *dst,
			const struct rmx__tp_conn_want *want, const void *priv,
			size_t priv_len, uint32_t timeout_ms, void *owner,
			struct rmx__tp_conn **out)
{
	struct fake_tp *tp = (struct fake_tp *)base;
	struct fake_conn *c = calloc(1, sizeof(*c));

	(void)src;
	(void)dst;
	(void)priv;
	(void)priv_len;
	(void)timeout_ms;
	if (!c)
		return -ENOMEM;
	c->base.tp = base;
	c->base.owner = owner;
	c->caps.sq_depth = want->sq_depth;
	if (c->caps.sq_depth > FAKE_MAX_WR)
		c->caps.sq_depth = FAKE_MAX_WR;
	c->caps.max_msg = 1u << 20;
	tp->last = c;
	*out = &c->base;
	return 0;
}

static void fake_caps(const struct rmx__tp_conn *c,
		      struct rmx__tp_conn_caps *out)
{
	*out = ((const struct fake_conn *)c)->caps;
}

static void fake_conn_destroy(struct rmx__tp_conn *base)
{
	struct fake_conn *c = (struct fake_conn *)base;
	struct fake_tp *tp = (struct fake_tp *)base->tp;

	if (tp->last == c)
		tp->last = NULL;
	free(c);
}

static int push(struct fake_wr *q, int *n, uint64_t wr_ctx, void *buf,
		uint32_t len)
{
	if (*n == FAKE_MAX_WR)
		return -ENOMEM;	/* the protocol overran its queue */
	q[*n] = (struct fake_wr){ wr_ctx, buf, len };
	(*n)++;
	return 0;
}

static int fake_post_recv(struct rmx__tp *base, void *buf, uint32_t len,
			  struct rmx__tp_mr *mr, uint64_t wr_ctx)
{
	struct fake_tp *tp = (struct fake_tp *)base;

	(void)mr;
	return push(tp->rx, &tp->nrx, wr_ctx, buf, len);
}

static int fake_post_send(struct rmx__tp_conn *base, const void *buf,
			  uint32_t len, struct rmx__tp_mr *mr, uint64_t wr_ctx)
{
	struct fake_conn *c = (struct fake_conn *)base;

	(void)mr;
	return push(c->tx, &c->ntx, wr_ctx, (void *)buf, len);
}

static int fake_post_rma(struct rmx__tp_conn *base,
			 const struct rmx__tp_rma *rma, uint64_t wr_ctx)
{
	struct fake_conn *c = (struct fake_conn *)base;

	return push(c->tx, &c->ntx, wr_ctx, rma->buf, rma->len);
}

static struct fake_wr take(struct fake_wr *q, int *n, int i)
{
	struct fake_wr w = q[i];

	memmove(q + i, q + i + 1, (size_t)(*n - i - 1) * sizeof(*q));
	(*n)--;
	return w;
}

void fake_deliver_rx(struct fake_tp *tp, struct fake_conn *c, int i,
		     const void *data, uint32_t len, int status)
{
	struct rmx__tp_comp comp = { .status = status };
	struct fake_wr w;

	if (!tp->nrx)
		return;
	w = take(tp->rx, &tp->nrx, i % tp->nrx);
	if (len > w.len)
		len = w.len;
	if (len)
		memcpy(w.buf, data, len);
	comp.conn = c ? &c->base : NULL;
	comp.kind = RMX__TP_COMP_RECV;
	comp.wr_ctx = w.wr_ctx;
	comp.len = len;
	tp->up->completion(tp->upctx, &comp);
}

void fake_deliver_imm(struct fake_tp *tp, struct fake_conn *c, uint32_t imm,
		      uint32_t len)
{
	struct rmx__tp_comp comp = { .has_imm = true, .imm = imm, .len = len };

	if (!tp->nrx)
		return;
	comp.conn = &c->base;
	comp.kind = RMX__TP_COMP_RECV;
	comp.wr_ctx = take(tp->rx, &tp->nrx, 0).wr_ctx;
	tp->up->completion(tp->upctx, &comp);
}

void fake_complete_tx(struct fake_tp *tp, struct fake_conn *c, int status)
{
	struct rmx__tp_comp comp = { .status = status };

	if (!c->ntx)
		return;
	comp.conn = &c->base;
	comp.kind = RMX__TP_COMP_SEND;
	comp.wr_ctx = take(c->tx, &c->ntx, 0).wr_ctx;
	tp->up->completion(tp->upctx, &comp);
}

const struct rmx__tp_ops fake_tp_ops = {
	.name = "fake",
	.open = fake_open,
	.close = fake_close,
	.device_name = fake_name,
	.progress = fake_progress,
	.arm = fake_arm,
	.mr_reg = fake_mr_reg,
	.mr_dereg = fake_mr_dereg,
	.connect = fake_connect,
	.conn_addr = fake_conn_addr,
	.conn_caps = fake_caps,
	.conn_destroy = fake_conn_destroy,
	.post_recv = fake_post_recv,
	.post_send = fake_post_send,
	.post_rma = fake_post_rma,
};
