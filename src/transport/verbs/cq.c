// SPDX-License-Identifier: BSD-2-Clause
/*
 * Verbs backend, completions: a send CQ and a receive CQ on one channel,
 * so a completion's kind is known even when it failed (a failed work
 * completion's opcode is undefined), and a map from QP number to
 * connection, so it names its connection. A destroyed connection's
 * completions still in the CQs are taken out when it is destroyed: none
 * reaches the layer above afterwards, and none can be mistaken for a new
 * QP's that got the same number.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "transport/verbs/verbs.h"

/* QP number -> connection: linear probing, deletion by backward shift. */
static uint32_t slot_of(const struct verbs_qpmap *m, uint32_t qpn)
{
	return (qpn * 2654435761u) & (m->cap - 1);
}

static int map_grow(struct verbs_qpmap *m)
{
	struct verbs_qpmap bigger = { .cap = m->cap ? m->cap * 2 : 64 };
	uint32_t i;

	bigger.conns = calloc(bigger.cap, sizeof(*bigger.conns));
	if (!bigger.conns)
		return -ENOMEM;
	for (i = 0; i < m->cap; i++) {
		struct verbs_conn *c = m->conns[i];
		uint32_t s;

		if (!c)
			continue;
		for (s = slot_of(&bigger, c->qpn); bigger.conns[s];
		     s = (s + 1) & (bigger.cap - 1))
			;
		bigger.conns[s] = c;
		bigger.n++;
	}
	free(m->conns);
	*m = bigger;
	return 0;
}

int rmx__verbs_qp_add(struct verbs_tp *tp, struct verbs_conn *c)
{
	struct verbs_qpmap *m = &tp->qps;
	uint32_t s;
	int ret;

	if (2 * (m->n + 1) > m->cap) {
		ret = map_grow(m);
		if (ret)
			return ret;
	}
	for (s = slot_of(m, c->qpn); m->conns[s]; s = (s + 1) & (m->cap - 1))
		;
	m->conns[s] = c;
	m->n++;
	return 0;
}

static struct verbs_conn *qp_find(const struct verbs_qpmap *m, uint32_t qpn)
{
	uint32_t s;

	if (!m->cap)
		return NULL;
	for (s = slot_of(m, qpn); m->conns[s]; s = (s + 1) & (m->cap - 1))
		if (m->conns[s]->qpn == qpn)
			return m->conns[s];
	return NULL;
}

static void qp_del(struct verbs_qpmap *m, const struct verbs_conn *c)
{
	uint32_t s, next, home;

	for (s = slot_of(m, c->qpn); m->conns[s] != c;
	     s = (s + 1) & (m->cap - 1))
		if (!m->conns[s])
			return;
	m->conns[s] = NULL;
	m->n--;
	/* Entries after it that probed past s move back into the gap. */
	for (next = (s + 1) & (m->cap - 1); m->conns[next];
	     next = (next + 1) & (m->cap - 1)) {
		home = slot_of(m, m->conns[next]->qpn);
		if (((next - home) & (m->cap - 1)) >=
		    ((next - s) & (m->cap - 1))) {
			m->conns[s] = m->conns[next];
			m->conns[next] = NULL;
			s = next;
		}
	}
}

/* Completions polled but not yet delivered ----------------------------- */

static int pend(struct verbs_tp *tp, const struct ibv_wc *wc, int kind)
{
	if (tp->npending == tp->pending_cap) {
		int cap = tp->pending_cap ? 2 * tp->pending_cap : 64;
		struct verbs_wc *p = realloc(tp->pending, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		tp->pending = p;
		tp->pending_cap = cap;
	}
	tp->pending[tp->npending].wc = *wc;
	tp->pending[tp->npending].kind = (uint8_t)kind;
	tp->npending++;
	return 0;
}

/*
 * Moves everything both CQs hold to the pending list, leaving out the
 * completions of qpn (the QP being destroyed; UINT32_MAX: none).
 */
static int poll_to_pending(struct verbs_tp *tp, uint32_t qpn)
{
	struct ibv_wc wc[VERBS_POLL_BATCH];
	int kind, i, n, ret;

	for (kind = 0; kind < VERBS_NCQ; kind++) {
		do {
			n = ibv_poll_cq(tp->cq[kind].cq, VERBS_POLL_BATCH, wc);
			if (n < 0)
				return -EIO;
			for (i = 0; i < n; i++) {
				if (wc[i].qp_num == qpn)
					continue;
				ret = pend(tp, &wc[i], kind);
				if (ret)
					return ret;
			}
		} while (n == VERBS_POLL_BATCH);
	}
	return 0;
}

void rmx__verbs_qp_del(struct verbs_tp *tp, struct verbs_conn *c)
{
	int i, kept = 0;

	qp_del(&tp->qps, c);
	/* Pending ones of c go; those still in the CQs, too. */
	for (i = 0; i < tp->npending; i++)
		if (tp->pending[i].wc.qp_num != c->qpn)
			tp->pending[kept++] = tp->pending[i];
	tp->npending = kept;
	if (poll_to_pending(tp, c->qpn))
		rmx__err("polling the CQs while destroying QP %u failed: later completions may be lost",
			 c->qpn);
}

/* Delivery -------------------------------------------------------------- */

static void deliver(struct verbs_tp *tp, const struct ibv_wc *wc, int kind)
{
	struct verbs_conn *c = qp_find(&tp->qps, wc->qp_num);
	struct rmx__tp_comp comp = {
		.wr_ctx = wc->wr_id,
		.kind = kind == VERBS_CQ_RECV ? RMX__TP_COMP_RECV :
						RMX__TP_COMP_SEND,
		.status = rmx__verbs_errno_from_wc(wc->status),
		.len = wc->byte_len,
	};

	if (!c)
		return;		/* destroyed while this was being delivered */
	comp.conn = &c->base;
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

/*
 * Delivers the pending completions, then what up to `batches` polls of
 * each CQ hold. Destroying a connection from a callback moves newer
 * completions to the pending list: polling stops there, so that every
 * connection's completions still arrive in order.
 */
int rmx__verbs_cq_poll(struct verbs_tp *tp, int batches)
{
	struct verbs_wc *list = tp->pending;
	struct ibv_wc wc[VERBS_POLL_BATCH];
	int kind, i, n = tp->npending, total = n;

	if (n) {
		/* Taken whole: callbacks may add to a new list meanwhile. */
		tp->pending = NULL;
		tp->npending = tp->pending_cap = 0;
		for (i = 0; i < n; i++)
			deliver(tp, &list[i].wc, list[i].kind);
		free(list);
	}
	/* Receives first: they return credits the sends may wait for. */
	for (kind = VERBS_CQ_RECV; kind >= 0 && !tp->npending; kind--) {
		int left = batches;

		do {
			n = ibv_poll_cq(tp->cq[kind].cq, VERBS_POLL_BATCH, wc);
			if (n < 0) {
				rmx__err("ibv_poll_cq failed: %d", n);
				return -EIO;
			}
			for (i = 0; i < n; i++)
				deliver(tp, &wc[i], kind);
			total += n;
		} while (n == VERBS_POLL_BATCH && --left > 0 &&
			 !tp->npending);
	}
	return total;
}

int rmx__verbs_cq_arm(struct verbs_tp *tp)
{
	int kind, ret;

	if (tp->npending)
		return -EAGAIN;
	for (kind = 0; kind < VERBS_NCQ; kind++)
		if (ibv_req_notify_cq(tp->cq[kind].cq, 0))
			return -errno;
	/* Completions that raced the request raise no event: catch them. */
	ret = poll_to_pending(tp, UINT32_MAX);
	if (ret)
		return ret;
	return tp->npending ? -EAGAIN : 0;
}

void rmx__verbs_cq_drain_channel(struct verbs_tp *tp)
{
	struct ibv_cq *cq;
	void *cq_ctx;
	int kind;

	while (!ibv_get_cq_event(tp->chan, &cq, &cq_ctx))
		tp->cq[cq == tp->cq[VERBS_CQ_RECV].cq].events++;
	/* Acknowledging takes a lock: batch it. */
	for (kind = 0; kind < VERBS_NCQ; kind++) {
		if (tp->cq[kind].events >= 64) {
			ibv_ack_cq_events(tp->cq[kind].cq, tp->cq[kind].events);
			tp->cq[kind].events = 0;
		}
	}
}

/* The CQs themselves ----------------------------------------------------- */

int rmx__verbs_cq_open(struct verbs_tp *tp, int entries)
{
	int kind;

	if (entries > tp->dev_attr.max_cqe)
		entries = tp->dev_attr.max_cqe;
	for (kind = 0; kind < VERBS_NCQ; kind++) {
		tp->cq[kind].cap = entries;
		tp->cq[kind].cq = ibv_create_cq(tp->verbs, entries, tp,
						tp->chan, 0);
		if (!tp->cq[kind].cq)
			return -errno;
	}
	return 0;
}

void rmx__verbs_cq_close(struct verbs_tp *tp)
{
	int kind;

	for (kind = 0; kind < VERBS_NCQ; kind++) {
		struct verbs_cq *q = &tp->cq[kind];

		if (!q->cq)
			continue;
		if (q->events)
			ibv_ack_cq_events(q->cq, q->events);
		ibv_destroy_cq(q->cq);
	}
	free(tp->pending);
	free(tp->qps.conns);
}

static int reserve(struct verbs_tp *tp, struct verbs_cq *q, int need)
{
	/* Room for flushes of QPs destroyed with completions still queued. */
	int want = 2 * (q->need + need);

	if (want > q->cap) {
		if (want > tp->dev_attr.max_cqe)
			want = tp->dev_attr.max_cqe;
		if (q->need + need > want ||
		    (want > q->cap && ibv_resize_cq(q->cq, want))) {
			rmx__err("completion queue cannot grow to %d entries",
				 want);
			return -ENOMEM;
		}
		q->cap = want;
	}
	q->need += need;
	return 0;
}

int rmx__verbs_cq_reserve(struct verbs_tp *tp, int sq, int rq)
{
	int ret = reserve(tp, &tp->cq[VERBS_CQ_SEND], sq);

	if (!ret) {
		ret = reserve(tp, &tp->cq[VERBS_CQ_RECV], rq);
		if (ret)
			tp->cq[VERBS_CQ_SEND].need -= sq;
	}
	return ret;
}

void rmx__verbs_cq_release(struct verbs_tp *tp, int sq, int rq)
{
	tp->cq[VERBS_CQ_SEND].need -= sq;
	tp->cq[VERBS_CQ_RECV].need -= rq;
}
