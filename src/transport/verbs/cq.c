// SPDX-License-Identifier: BSD-2-Clause
/*
 * Verbs backend, completions: the context's one CQ, and whose each
 * completion is. One CQ keeps a connection's send and receive
 * completions in the order the device made them (the cause of a failure
 * before the flushes it causes).
 *
 * Send-queue requests: the wr_id holds the kind (probe or not) and the
 * connection's slot and generation; the layer above's wr_ctx waits in
 * the connection's FIFO, since an RC queue completes in the order it
 * was posted, flushed requests included. So a completion names its
 * connection and kind even when it failed (a failed work completion's
 * opcode is undefined), and one still queued for a destroyed connection
 * is dropped: its slot's generation moved on.
 *
 * Shared receives: any QP may consume any of them, so the wr_id is the
 * wr_ctx itself (VERBS_WR_RECV marks it) and the connection is the one
 * whose QP number the completion carries, looked up in a hash of live
 * QPs; none when its connection is gone (transport.h: conn NULL).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "transport/verbs/verbs.h"

#define GEN_MASK 0x3fffffffu
/* Not a QP number (they have 24 bits): a receive of a destroyed QP. */
#define QPN_NONE UINT32_MAX
#define QPN_BITS_MIN 6

static uint64_t wr_id_of(const struct verbs_conn *c,
			 enum rmx__tp_comp_kind kind)
{
	uint64_t id = (uint64_t)(c->gen & GEN_MASK) << 32 | c->slot;

	if (kind == RMX__TP_COMP_PROBE)
		id |= VERBS_WR_PROBE;
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
	/*
	 * Grown only when no slot is free: the new ones are the whole free
	 * list, which ends past any index (not at the old end marker, which
	 * is a valid index now).
	 */
	s[cap - 1].next_free = UINT32_MAX;
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

/* QPs by number ------------------------------------------------------- */

/*
 * Chained, at most one QP per chain on average: a receive completion
 * finds its connection in O(1) however many there are. Multiplied,
 * since devices hand out numbers in patterns (mlx5 in blocks).
 */
static uint32_t qpn_hash(const struct verbs_tp *tp, uint32_t qpn)
{
	return (qpn * 0x9e3779b1u) >> (32 - tp->qpn_bits);
}

static int qpn_resize(struct verbs_tp *tp, unsigned int bits)
{
	struct verbs_conn **old = tp->qpn_tab, *c, *next;
	uint32_t i, n = old ? 1u << tp->qpn_bits : 0;

	tp->qpn_tab = calloc(1u << bits, sizeof(*tp->qpn_tab));
	if (!tp->qpn_tab) {
		tp->qpn_tab = old;
		return -ENOMEM;
	}
	tp->qpn_bits = bits;
	for (i = 0; i < n; i++) {
		for (c = old[i]; c; c = next) {
			next = c->qpn_next;
			c->qpn_next = tp->qpn_tab[qpn_hash(tp, c->qpn)];
			tp->qpn_tab[qpn_hash(tp, c->qpn)] = c;
		}
	}
	free(old);
	return 0;
}

static void qpn_add(struct verbs_tp *tp, struct verbs_conn *c)
{
	uint32_t h;

	/* Failing to grow only makes chains longer. */
	if (tp->nqpn >= 1u << tp->qpn_bits && tp->qpn_bits < 24 &&
	    qpn_resize(tp, tp->qpn_bits + 1))
		rmx__dbg("QP table stays at %u chains", 1u << tp->qpn_bits);
	h = qpn_hash(tp, c->qpn);
	c->qpn_next = tp->qpn_tab[h];
	tp->qpn_tab[h] = c;
	tp->nqpn++;
}

static void qpn_del(struct verbs_tp *tp, struct verbs_conn *c)
{
	struct verbs_conn **pp = &tp->qpn_tab[qpn_hash(tp, c->qpn)];

	for (; *pp; pp = &(*pp)->qpn_next) {
		if (*pp == c) {
			*pp = c->qpn_next;
			tp->nqpn--;
			return;
		}
	}
}

static struct verbs_conn *qpn_find(const struct verbs_tp *tp, uint32_t qpn)
{
	struct verbs_conn *c = tp->qpn_tab[qpn_hash(tp, qpn)];

	while (c && c->qpn != qpn)
		c = c->qpn_next;
	return c;
}

int rmx__verbs_conn_track(struct verbs_tp *tp, struct verbs_conn *c,
			  uint32_t sq)
{
	struct verbs_slot *s;
	int ret;

	if (tp->free_slot >= tp->nslots) {
		ret = slots_grow(tp);
		if (ret)
			return ret;
	}
	ret = fifo_init(&c->sq, sq);
	if (ret)
		return ret;
	c->slot = tp->free_slot;
	s = &tp->slots[c->slot];
	tp->free_slot = s->next_free;
	s->conn = c;
	c->gen = s->gen;
	c->qpn = c->id->qp->qp_num;
	qpn_add(tp, c);
	return 0;
}

void rmx__verbs_conn_untrack(struct verbs_tp *tp, struct verbs_conn *c)
{
	struct verbs_slot *s = &tp->slots[c->slot];

	s->conn = NULL;
	s->gen = (s->gen + 1) & GEN_MASK;	/* its queued completions: stale */
	s->next_free = tp->free_slot;
	tp->free_slot = c->slot;
	qpn_del(tp, c);
	free(c->sq.ctx);
	c->sq.ctx = NULL;
}

int rmx__verbs_wr_push(struct verbs_conn *c, enum rmx__tp_comp_kind kind,
		       uint64_t wr_ctx, uint64_t *wr_id)
{
	struct verbs_fifo *f = &c->sq;
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

void rmx__verbs_wr_unpush(struct verbs_conn *c)
{
	c->sq.n--;
}

/* Delivery -------------------------------------------------------------- */

/* The connection a send-queue completion is for; NULL: destroyed. */
static struct verbs_conn *sq_owner(struct verbs_tp *tp, const struct ibv_wc *wc,
				   uint64_t *wr_ctx)
{
	uint32_t slot = (uint32_t)wc->wr_id;
	uint32_t gen = (uint32_t)(wc->wr_id >> 32) & GEN_MASK;
	struct verbs_conn *c;
	struct verbs_fifo *f;

	if (slot >= tp->nslots || !tp->slots[slot].conn ||
	    tp->slots[slot].gen != gen)
		return NULL;
	c = tp->slots[slot].conn;
	f = &c->sq;
	if (!f->n) {
		rmx__err("QP %u: a completion for a work request never posted",
			 wc->qp_num);
		return NULL;
	}
	*wr_ctx = f->ctx[f->head];
	if (++f->head == f->cap)
		f->head = 0;
	f->n--;
	return c;
}

static void deliver(struct verbs_tp *tp, const struct ibv_wc *wc)
{
	struct rmx__tp_comp comp = {
		.status = rmx__verbs_errno_from_wc(wc->status),
		.len = wc->byte_len,
	};
	struct verbs_conn *c;

	if (wc->wr_id & VERBS_WR_RECV) {
		comp.kind = RMX__TP_COMP_RECV;
		comp.wr_ctx = wc->wr_id & ~VERBS_WR_RECV;
		c = qpn_find(tp, wc->qp_num);
		/* opcode and flags are defined only for successes. */
		if (!comp.status && wc->opcode == IBV_WC_RECV_RDMA_WITH_IMM) {
			comp.has_imm = true;
			comp.imm = ntohl(wc->imm_data);
		}
	} else {
		comp.kind = wc->wr_id & VERBS_WR_PROBE ? RMX__TP_COMP_PROBE :
							 RMX__TP_COMP_SEND;
		/* None: its connection was destroyed. */
		c = sq_owner(tp, wc, &comp.wr_ctx);
		if (!c)
			return;
	}
	comp.conn = c ? &c->base : NULL;
	if (comp.status && wc->status != IBV_WC_WR_FLUSH_ERR)
		rmx__warn("work request failed on QP %u: %s", wc->qp_num,
			  ibv_wc_status_str(wc->status));
	tp->up->completion(tp->upctx, &comp);
}

/* Completions polled and not yet delivered ------------------------------- */

/* Room for n more at the end of tp->pend. */
static int pend_room(struct verbs_tp *tp, uint32_t n)
{
	struct ibv_wc *p;
	uint32_t cap;

	if (tp->pend_n + n <= tp->pend_cap)
		return 0;
	if (tp->pend_head) {
		tp->pend_n -= tp->pend_head;
		memmove(tp->pend, tp->pend + tp->pend_head,
			tp->pend_n * sizeof(*tp->pend));
		tp->pend_head = 0;
		if (tp->pend_n + n <= tp->pend_cap)
			return 0;
	}
	cap = 2 * tp->pend_cap;
	if (cap < tp->pend_n + n)
		cap = tp->pend_n + n;
	p = realloc(tp->pend, cap * sizeof(*p));
	if (!p)
		return -ENOMEM;
	tp->pend = p;
	tp->pend_cap = cap;
	return 0;
}

/* Appends up to one batch from vcq to tp->pend: how many, or -errno. */
static int pend_poll(struct verbs_tp *tp, struct verbs_cq *vcq)
{
	int n, ret = pend_room(tp, VERBS_POLL_BATCH);

	if (ret)
		return ret;
	n = ibv_poll_cq(vcq->cq, VERBS_POLL_BATCH, tp->pend + tp->pend_n);
	if (n < 0) {
		rmx__err("ibv_poll_cq failed: %d", n);
		return -EIO;
	}
	tp->pend_n += (uint32_t)n;
	return n;
}

/*
 * One batch from each CQ; a QP uses one CQ, so each connection's
 * completions stay in order. The most any one gave, or -errno.
 */
static int pend_poll_all(struct verbs_tp *tp)
{
	int i, n, most = 0;

	for (i = 0; i < tp->ncqs; i++) {
		n = pend_poll(tp, &tp->cqs[i]);
		if (n < 0)
			return n;
		if (n > most)
			most = n;
	}
	return most;
}

/*
 * Delivers tp->pend, also what a conn_destroy() from an upcall appends
 * meanwhile (it is newer than the rest): each entry is copied out first,
 * since appending may move the array.
 */
static int pend_deliver(struct verbs_tp *tp)
{
	struct ibv_wc wc;
	int n = 0;

	while (tp->pend_head < tp->pend_n) {
		wc = tp->pend[tp->pend_head++];
		deliver(tp, &wc);
		n++;
	}
	tp->pend_head = tp->pend_n = 0;
	return n;
}

int rmx__verbs_cq_poll(struct verbs_tp *tp, int batches)
{
	int n, total;

	/* Every completion passes through tp->pend, so order is kept. */
	total = pend_deliver(tp);
	do {
		n = pend_poll_all(tp);
		if (n < 0)
			return n;
		total += pend_deliver(tp);
	} while (n == VERBS_POLL_BATCH && --batches > 0);
	return total;
}

/*
 * Two hazards of a QP destroyed while its receive completions are in the
 * CQ: mlx5 removes them from the CQ at destroy (__mlx5_cq_clean), and
 * the shared receives they consumed would never complete; and a QP
 * created later may get the same number, and those completions would
 * name its connection. Both are avoided for what the CQ holds now, once
 * the QP is in error (it takes nothing more): it is polled here, and
 * pending receives of the QP name nobody. A receive the device was still
 * finishing is not covered: the verbs way is to wait for
 * IBV_EVENT_QP_LAST_WQE_REACHED before destroying. rmx does not, since
 * a reused number is unlikely that soon (rxe and mlx5 hand out QP
 * numbers cyclically), and a late completion simply names nobody.
 */
void rmx__verbs_cq_orphan(struct verbs_tp *tp, struct verbs_cq *vcq,
			  uint32_t qpn)
{
	int polled = 0, n;
	uint32_t i;

	/* Bounded: other connections may keep the CQ filling. */
	do {
		n = pend_poll(tp, vcq);
		polled += n;
	} while (n == VERBS_POLL_BATCH && polled < vcq->cap);
	if (n < 0)
		rmx__dbg("QP %u: completions left in the CQ: %s", qpn,
			 strerror(-n));
	for (i = tp->pend_head; i < tp->pend_n; i++)
		if (tp->pend[i].qp_num == qpn)
			tp->pend[i].qp_num = QPN_NONE;
}

int rmx__verbs_cq_arm(struct verbs_tp *tp)
{
	int i, n;

	if (tp->pend_head < tp->pend_n)
		return -EAGAIN;
	for (i = 0; i < tp->ncqs; i++)
		if (ibv_req_notify_cq(tp->cqs[i].cq, 0))
			return -errno;
	tp->armed = true;	/* progress() reads the channel's events */
	/* Completions that raced the request raise no event: catch them. */
	n = pend_poll_all(tp);
	if (n < 0)
		return n;
	return tp->pend_n ? -EAGAIN : 0;
}

void rmx__verbs_cq_drain_channel(struct verbs_tp *tp)
{
	struct verbs_cq *vcq;
	struct ibv_cq *cq;
	void *cq_ctx;

	while (!ibv_get_cq_event(tp->chan, &cq, &cq_ctx)) {
		vcq = cq_ctx;
		/* Acknowledging takes a lock: batch it. */
		if (++vcq->events >= 64) {
			ibv_ack_cq_events(vcq->cq, vcq->events);
			vcq->events = 0;
		}
	}
}

/* The CQs themselves ------------------------------------------------------ */

/*
 * Room for flushes of QPs destroyed with completions still queued, and
 * for receives whose QP was destroyed before they were polled: twice
 * what the queues need, as far as the device allows.
 */
static int cq_size_for(const struct verbs_tp *tp, int need)
{
	int want = 2 * need;

	return want > tp->dev_attr.max_cqe ? tp->dev_attr.max_cqe : want;
}

static int cq_add(struct verbs_tp *tp, int need)
{
	struct verbs_cq *vcq = &tp->cqs[tp->ncqs];
	int entries = cq_size_for(tp, need);

	/* At least RMX_CQ_SIZE to start with, never beyond the device's. */
	if (entries < (int)tp->cfg.cq_size)
		entries = cq_size_for(tp, (int)tp->cfg.cq_size / 2);
	vcq->cq = ibv_create_cq(tp->verbs, entries, vcq, tp->chan, 0);
	if (!vcq->cq)
		return -errno;
	vcq->cap = entries;
	vcq->need = (int)tp->base.max_recv;
	vcq->events = 0;
	tp->ncqs++;
	/* Armed like the others, or its first completion wakes nobody. */
	if (tp->armed && ibv_req_notify_cq(vcq->cq, 0))
		return -errno;
	return 0;
}

int rmx__verbs_cq_open(struct verbs_tp *tp)
{
	int ret = qpn_resize(tp, QPN_BITS_MIN);

	if (!ret)
		ret = pend_room(tp, 2 * VERBS_POLL_BATCH);
	if (!ret)
		ret = cq_add(tp, (int)tp->base.max_recv);
	return ret;
}

void rmx__verbs_cq_close(struct verbs_tp *tp)
{
	int i;

	for (i = 0; i < tp->ncqs; i++) {
		if (tp->cqs[i].events)
			ibv_ack_cq_events(tp->cqs[i].cq, tp->cqs[i].events);
		ibv_destroy_cq(tp->cqs[i].cq);
	}
	tp->ncqs = 0;
	free(tp->slots);
	free(tp->qpn_tab);
	free(tp->pend);
}

/* Grows vcq to hold need more: 0, or -ENOMEM when it cannot. */
static int cq_fit(struct verbs_tp *tp, struct verbs_cq *vcq, int need)
{
	int want = cq_size_for(tp, vcq->need + need);

	if (vcq->need + need > tp->dev_attr.max_cqe)
		return -ENOMEM;
	if (want > vcq->cap) {
		if (ibv_resize_cq(vcq->cq, want))
			return -ENOMEM;
		vcq->cap = want;
	}
	return 0;
}

int rmx__verbs_cq_reserve(struct verbs_tp *tp, int need,
			  struct verbs_cq **out)
{
	int i, ret;

	for (i = 0; i < tp->ncqs; i++)
		if (!cq_fit(tp, &tp->cqs[i], need))
			break;
	if (i == tp->ncqs) {
		ret = tp->ncqs < VERBS_MAX_CQS ?
			      cq_add(tp, (int)tp->base.max_recv + need) :
			      -ENOMEM;
		if (ret) {
			rmx__err("%d completion queues of up to %d entries hold no more send queues: %s; lower RMX_TX_DEPTH or spread the endpoints over more contexts",
				 tp->ncqs, tp->dev_attr.max_cqe,
				 strerror(-ret));
			return ret;
		}
	}
	tp->cqs[i].need += need;
	*out = &tp->cqs[i];
	return 0;
}

void rmx__verbs_cq_release(struct verbs_cq *vcq, int n)
{
	vcq->need -= n;
}
