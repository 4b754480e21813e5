// SPDX-License-Identifier: BSD-2-Clause
/*
 * Verbs backend, completions: the context's one CQ, and whose each
 * completion is. A work request's wr_id is the backend's: its kind (a
 * receive, a probe or another send-queue request), and the connection's
 * slot and generation. The layer above's
 * wr_ctx waits in the connection's FIFO of that queue, since an RC queue
 * completes in the order it was posted, flushed requests included. So a
 * completion names its connection and kind even when it failed (a failed
 * work completion's opcode is undefined), and one still queued for a
 * destroyed connection is dropped: its slot's generation moved on. One
 * CQ keeps a connection's send and receive completions in the order the
 * device made them (the cause of a failure before the flushes it causes).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "transport/verbs/verbs.h"

#define WR_RECV (1ull << 63)
#define WR_PROBE (1ull << 62)
#define GEN_MASK 0x3fffffffu

static uint64_t wr_id_of(const struct verbs_conn *c,
			 enum rmx__tp_comp_kind kind)
{
	uint64_t id = (uint64_t)(c->gen & GEN_MASK) << 32 | c->slot;

	if (kind == RMX__TP_COMP_RECV)
		id |= WR_RECV;
	else if (kind == RMX__TP_COMP_PROBE)
		id |= WR_PROBE;
	return id;
}

/* Connection slots ---------------------------------------------------- */

static int slots_grow(struct verbs_tp *tp)
{
	uint32_t cap = tp->nslots ? 2 * tp->nslots : 64, i;
	struct verbs_slot *s = realloc(tp->slots, cap * sizeof(*s));

	if (!s)
		return -ENOMEM;
	for (i = tp->nslots; i < cap; i++)
		s[i] = (struct verbs_slot){ .next_free = i + 1 };
	s[cap - 1].next_free = tp->free_slot;
	tp->free_slot = tp->nslots;
	tp->slots = s;
	tp->nslots = cap;
	return 0;
}

static int fifo_init(struct verbs_fifo *f, uint32_t cap)
{
	f->ctx = calloc(cap ? cap : 1, sizeof(*f->ctx));
	f->cap = cap;
	f->head = f->n = 0;
	return f->ctx ? 0 : -ENOMEM;
}

int rmx__verbs_conn_track(struct verbs_tp *tp, struct verbs_conn *c,
			  uint32_t sq, uint32_t rq)
{
	struct verbs_slot *s;
	int ret;

	if (tp->free_slot >= tp->nslots) {
		ret = slots_grow(tp);
		if (ret)
			return ret;
	}
	ret = fifo_init(&c->sq, sq);
	if (!ret)
		ret = fifo_init(&c->rq, rq);
	if (ret) {
		free(c->sq.ctx);
		free(c->rq.ctx);
		return ret;
	}
	c->slot = tp->free_slot;
	s = &tp->slots[c->slot];
	tp->free_slot = s->next_free;
	s->conn = c;
	c->gen = s->gen;
	return 0;
}

void rmx__verbs_conn_untrack(struct verbs_tp *tp, struct verbs_conn *c)
{
	struct verbs_slot *s = &tp->slots[c->slot];

	s->conn = NULL;
	s->gen = (s->gen + 1) & GEN_MASK;	/* its queued completions: stale */
	s->next_free = tp->free_slot;
	tp->free_slot = c->slot;
	free(c->sq.ctx);
	free(c->rq.ctx);
	c->sq.ctx = c->rq.ctx = NULL;
}

int rmx__verbs_wr_push(struct verbs_conn *c, enum rmx__tp_comp_kind kind,
		       uint64_t wr_ctx, uint64_t *wr_id)
{
	struct verbs_fifo *f = kind == RMX__TP_COMP_RECV ? &c->rq : &c->sq;
	uint32_t tail;

	if (f->n == f->cap)
		return -ENOMEM;	/* deeper than the queue the QP got */
	/* Wrapped by hand: no division on the post and completion paths. */
	tail = f->head + f->n++;
	if (tail >= f->cap)
		tail -= f->cap;
	f->ctx[tail] = wr_ctx;
	*wr_id = wr_id_of(c, kind);
	return 0;
}

void rmx__verbs_wr_unpush(struct verbs_conn *c, enum rmx__tp_comp_kind kind)
{
	(kind == RMX__TP_COMP_RECV ? &c->rq : &c->sq)->n--;
}

/* Delivery -------------------------------------------------------------- */

static void deliver(struct verbs_tp *tp, const struct ibv_wc *wc)
{
	uint32_t slot = (uint32_t)wc->wr_id;
	uint32_t gen = (uint32_t)(wc->wr_id >> 32) & GEN_MASK;
	bool recv = wc->wr_id & WR_RECV;
	struct rmx__tp_comp comp = {
		.kind = recv		     ? RMX__TP_COMP_RECV :
			wc->wr_id & WR_PROBE ? RMX__TP_COMP_PROBE :
					       RMX__TP_COMP_SEND,
		.status = rmx__verbs_errno_from_wc(wc->status),
		.len = wc->byte_len,
	};
	struct verbs_conn *c;
	struct verbs_fifo *f;

	if (slot >= tp->nslots || !tp->slots[slot].conn ||
	    tp->slots[slot].gen != gen)
		return;		/* its connection was destroyed */
	c = tp->slots[slot].conn;
	f = recv ? &c->rq : &c->sq;
	if (!f->n) {
		rmx__err("QP %u: a completion for a work request never posted",
			 wc->qp_num);
		return;
	}
	comp.conn = &c->base;
	comp.wr_ctx = f->ctx[f->head];
	if (++f->head == f->cap)
		f->head = 0;
	f->n--;
	if (comp.status && wc->status != IBV_WC_WR_FLUSH_ERR)
		rmx__warn("work request failed on QP %u: %s", wc->qp_num,
			  ibv_wc_status_str(wc->status));
	/* opcode and flags are defined only for successful completions. */
	if (!comp.status && wc->opcode == IBV_WC_RECV_RDMA_WITH_IMM) {
		comp.has_imm = true;
		comp.imm = ntohl(wc->imm_data);
	}
	tp->up->completion(tp->upctx, &comp);
}

int rmx__verbs_cq_poll(struct verbs_tp *tp, int batches)
{
	struct ibv_wc wc[VERBS_POLL_BATCH];
	int i, n, total;

	/* Stashed ones first: they were polled earlier. */
	for (i = 0; i < tp->nstash; i++)
		deliver(tp, &tp->stash[i]);
	total = tp->nstash;
	tp->nstash = 0;
	do {
		n = ibv_poll_cq(tp->cq, VERBS_POLL_BATCH, wc);
		if (n < 0) {
			rmx__err("ibv_poll_cq failed: %d", n);
			return -EIO;
		}
		for (i = 0; i < n; i++)
			deliver(tp, &wc[i]);
		total += n;
	} while (n == VERBS_POLL_BATCH && --batches > 0);
	return total;
}

int rmx__verbs_cq_arm(struct verbs_tp *tp)
{
	int n;

	if (tp->nstash)
		return -EAGAIN;
	if (ibv_req_notify_cq(tp->cq, 0))
		return -errno;
	tp->armed = true;	/* progress() reads the channel's events */
	/* Completions that raced the request raise no event: catch them. */
	n = ibv_poll_cq(tp->cq, VERBS_POLL_BATCH, tp->stash);
	if (n < 0)
		return -EIO;
	tp->nstash = n;
	return n ? -EAGAIN : 0;
}

void rmx__verbs_cq_drain_channel(struct verbs_tp *tp)
{
	struct ibv_cq *cq;
	void *cq_ctx;

	while (!ibv_get_cq_event(tp->chan, &cq, &cq_ctx))
		tp->cq_events++;
	/* Acknowledging takes a lock: batch it. */
	if (tp->cq_events >= 64) {
		ibv_ack_cq_events(tp->cq, tp->cq_events);
		tp->cq_events = 0;
	}
}

/* The CQ itself ---------------------------------------------------------- */

int rmx__verbs_cq_open(struct verbs_tp *tp, int entries)
{
	if (entries > tp->dev_attr.max_cqe)
		entries = tp->dev_attr.max_cqe;
	tp->cq_cap = entries;
	tp->cq = ibv_create_cq(tp->verbs, entries, tp, tp->chan, 0);
	return tp->cq ? 0 : -errno;
}

void rmx__verbs_cq_close(struct verbs_tp *tp)
{
	if (tp->cq) {
		if (tp->cq_events)
			ibv_ack_cq_events(tp->cq, tp->cq_events);
		ibv_destroy_cq(tp->cq);
	}
	free(tp->slots);
}

int rmx__verbs_cq_reserve(struct verbs_tp *tp, int sq, int rq)
{
	int need = sq + rq;
	/* Room for flushes of QPs destroyed with completions still queued. */
	int want = 2 * (tp->cq_need + need);

	if (want > tp->cq_cap) {
		if (want > tp->dev_attr.max_cqe)
			want = tp->dev_attr.max_cqe;
		if (tp->cq_need + need > want ||
		    (want > tp->cq_cap && ibv_resize_cq(tp->cq, want))) {
			rmx__err("completion queue cannot grow to %d entries",
				 want);
			return -ENOMEM;
		}
		tp->cq_cap = want;
	}
	tp->cq_need += need;
	return 0;
}

void rmx__verbs_cq_release(struct verbs_tp *tp, int sq, int rq)
{
	tp->cq_need -= sq + rq;
}
