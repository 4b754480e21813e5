// SPDX-License-Identifier: BSD-2-Clause
/* The loopback transport: see loop_tp.h for what it promises. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/list.h"
#include "loop_tp.h"

#define LOOP_PRIV_MAX 56	/* rdma_cm's private data in a RoCE REQ */
#define LOOP_BATCH 16		/* queue entries one progress() handles */
/* Inline bytes granted per connection (verbs: RMX_MAX_INLINE's default). */
#define LOOP_INLINE 64
#define LOOP_DEPTH_MAX 16384
/*
 * Shared receives per transport: what one connection could post before
 * receives were shared, so no setting that worked then is refused now.
 */
#define LOOP_RECV_MAX LOOP_DEPTH_MAX

struct loop_stats loop_stats;
uint32_t loop_max_msg = 1u << 16;
bool loop_no_probe;

enum ent_kind {
	ENT_COMP,
	ENT_RESOLVED,		/* active side: QP, then the request */
	ENT_REQUEST,		/* at a listener */
	ENT_ESTABLISHED,
	ENT_CLOSED,
};

struct loop_conn;

/* One entry of a transport's queue: a completion or a connection event. */
struct ent {
	struct rmx__list node;
	enum ent_kind kind;
	/* NULL for a receive's completion once its connection is destroyed. */
	struct loop_conn *conn;
	struct rmx__tp_comp comp;
	int status;		/* ENT_CLOSED */
	uint32_t listener_id;	/* ENT_REQUEST */
	uint8_t priv[LOOP_PRIV_MAX];
	uint8_t priv_len;
};

enum wr_kind { WR_RECV, WR_SEND, WR_RMA, WR_PROBE };

struct wr {
	struct rmx__list node;
	enum wr_kind kind;
	uint64_t wr_ctx;
	uint64_t seq;		/* runs in the first fabric run that sees it */
	void *buf;
	uint32_t len;
	struct rmx__tp_mr *mr;
	struct rmx__tp_rma rma;	/* WR_RMA */
	uint8_t *copy;		/* inline data, copied when posted */
};

enum conn_state {
	CONN_RESOLVING,		/* active: its address is being resolved */
	CONN_CONNECTING,	/* active: the request is out */
	CONN_REQUESTED,		/* passive: before the protocol accepted */
	CONN_ACCEPTED,		/* passive: accepted, not yet established */
	CONN_CONNECTED,
	CONN_ERROR,		/* failed: everything was flushed */
	CONN_DEAD,		/* its process is gone: nothing happens */
};

struct loop_conn {
	struct rmx__tp_conn base;
	struct loop_tp *tp;
	struct rmx__list link;		/* fab.conns */
	struct loop_conn *peer;
	enum conn_state state;
	bool has_qp;
	bool vanished;			/* the peer's host is gone */
	struct rmx__tp_conn_want want;
	struct rmx__tp_conn_caps caps;
	struct sockaddr_storage dst, src;
	uint8_t priv[LOOP_PRIV_MAX];	/* sent in the handshake */
	uint8_t priv_len;
	struct rmx__list sq;		/* struct wr, oldest first */
	uint32_t sq_out;		/* posted, completion not delivered */
	bool probe_out;			/* likewise, the one probe allowed */
	loop_tamper_fn tamper;
	void *tamper_arg;
};

struct loop_tp {
	struct rmx__tp base;
	const struct rmx__tp_upcalls *up;
	void *upctx;
	struct rmx__list link;		/* fab.tps */
	struct rmx__list queue;		/* struct ent, in order */
	struct rmx__list mrs;		/* struct loop_mr */
	struct rmx__list srq;		/* shared receives, oldest first */
	uint32_t srq_n;
	int evfd;		/* in the context's loop: wakes a sleeper */
	struct rmx__loop *loop;
	bool armed;
	unsigned int reg_skip, reg_fail, reg_failed;
	int reg_err;
};

struct loop_mr {
	struct rmx__tp_mr base;
	struct rmx__list link;
	unsigned int access;
};

struct loop_listener {
	struct rmx__tp_listener base;
	struct rmx__list link;		/* fab.listeners */
	uint32_t id;
	struct sockaddr_storage sa;
	int port;
};

static struct {
	bool init;
	struct rmx__list tps, conns, listeners;
	uint64_t seq;
	uint32_t next_key, next_listener, next_src;
	int next_port;
} fab;

static void *xcalloc(size_t size)
{
	void *p = calloc(1, size);

	if (!p) {
		fprintf(stderr, "loop: out of memory\n");
		abort();
	}
	return p;
}

#define first_of(head, type) rmx__container_of((head)->next, type, node)

/* Queues -------------------------------------------------------------- */

static void tp_signal(struct loop_tp *tp)
{
	uint64_t one = 1;

	if (tp->armed && write(tp->evfd, &one, sizeof(one)) < 0)
		perror("loop: eventfd");
}

static struct ent *queue_ent(struct loop_conn *c, enum ent_kind kind)
{
	struct ent *e = xcalloc(sizeof(*e));

	e->kind = kind;
	e->conn = c;
	rmx__list_add_tail(&c->tp->queue, &e->node);
	tp_signal(c->tp);
	return e;
}

static void queue_comp(struct loop_conn *c, const struct rmx__tp_comp *comp,
		       enum rmx__tp_comp_kind kind)
{
	struct ent *e = queue_ent(c, ENT_COMP);

	e->comp = *comp;
	e->comp.conn = &c->base;
	e->comp.kind = kind;
}

static void queue_status(struct loop_conn *c, uint64_t wr_ctx, int status,
			 uint32_t len, enum rmx__tp_comp_kind kind)
{
	struct rmx__tp_comp comp = { .wr_ctx = wr_ctx, .status = status,
				     .len = len };

	queue_comp(c, &comp, kind);
}

static void queue_closed(struct loop_conn *c, int status)
{
	queue_ent(c, ENT_CLOSED)->status = status;
}

/*
 * Forgets c in every queue: its events and send completions go. Its
 * receive completions stay, naming no connection, when keep_recvs: the
 * buffers are the caller's again (transport.h).
 */
static void forget(struct loop_conn *c, bool keep_recvs)
{
	struct rmx__list *t, *n, *next;

	for (t = fab.tps.next; t != &fab.tps; t = t->next) {
		struct loop_tp *tp = rmx__container_of(t, struct loop_tp, link);

		for (n = tp->queue.next; n != &tp->queue; n = next) {
			struct ent *e = rmx__container_of(n, struct ent, node);

			next = n->next;
			if (e->conn != c)
				continue;
			if (keep_recvs && e->kind == ENT_COMP &&
			    e->comp.kind == RMX__TP_COMP_RECV) {
				e->conn = NULL;
				e->comp.conn = NULL;
				continue;
			}
			rmx__list_del(&e->node);
			free(e);
		}
	}
}

/* Work requests and error states -------------------------------------- */

static struct wr *wr_new(enum wr_kind kind, uint64_t wr_ctx, void *buf,
			 uint32_t len, struct rmx__tp_mr *mr)
{
	struct wr *w = xcalloc(sizeof(*w));

	w->kind = kind;
	w->wr_ctx = wr_ctx;
	w->buf = buf;
	w->len = len;
	w->mr = mr;
	return w;
}

static enum rmx__tp_comp_kind kind_of(const struct wr *w)
{
	return w->kind == WR_RECV  ? RMX__TP_COMP_RECV :
	       w->kind == WR_PROBE ? RMX__TP_COMP_PROBE :
				     RMX__TP_COMP_SEND;
}

static void wr_free(struct wr *w)
{
	free(w->copy);
	free(w);
}

static void discard(struct rmx__list *q)
{
	struct rmx__list *n;

	while ((n = rmx__list_pop(q)))
		wr_free(rmx__container_of(n, struct wr, node));
}

/* Ends every request of q with a flush error, as an RC QP in error does. */
static void flush(struct loop_conn *c, struct rmx__list *q)
{
	struct rmx__list *n;

	while ((n = rmx__list_pop(q))) {
		struct wr *w = rmx__container_of(n, struct wr, node);

		queue_status(c, w->wr_ctx, -ECANCELED, 0, kind_of(w));
		loop_stats.flushed++;
		wr_free(w);
	}
}

static void conn_fail(struct loop_conn *c)
{
	if (c->state == CONN_ERROR || c->state == CONN_DEAD)
		return;
	c->state = CONN_ERROR;
	/* Receives are the transport's: they stay for its other connections. */
	flush(c, &c->sq);
}

/* c goes away: its peer's QP fails, and the CM tells it. */
static void disconnect_peer(struct loop_conn *c)
{
	struct loop_conn *p = c->peer;

	if (!p)
		return;
	c->peer = NULL;
	p->peer = NULL;
	if (p->state == CONN_DEAD)
		return;
	conn_fail(p);
	queue_closed(p, -ECONNRESET);
}

static bool can_send(const struct loop_conn *c)
{
	return c->state == CONN_CONNECTED || c->state == CONN_ACCEPTED;
}

static bool can_receive(const struct loop_conn *c)
{
	return c && c->has_qp && c->state != CONN_ERROR &&
	       c->state != CONN_DEAD && c->state != CONN_REQUESTED;
}

/*
 * Whether c's oldest request runs now. A peer in error answers nothing
 * until it disconnects: requests to it wait, as RC retries would.
 */
static bool runnable(const struct loop_conn *c, uint64_t upto)
{
	const struct wr *w;

	if (!can_send(c) || rmx__list_empty(&c->sq))
		return false;
	w = first_of(&c->sq, struct wr);
	if (w->seq > upto)
		return false;
	return c->vanished || can_receive(c->peer);
}

/* Registrations -------------------------------------------------------- */

static struct loop_mr *mr_live(struct loop_tp *tp, const struct rmx__tp_mr *mr)
{
	struct rmx__list *n;

	for (n = tp->mrs.next; n != &tp->mrs; n = n->next)
		if (&rmx__container_of(n, struct loop_mr, link)->base == mr)
			return rmx__container_of(n, struct loop_mr, link);
	return NULL;
}

static bool covers(const struct rmx__tp_mr *mr, uint64_t addr, uint64_t len)
{
	uint64_t start = (uintptr_t)mr->addr;

	return addr >= start && len <= mr->len && addr - start <= mr->len - len;
}

/* 0, or the local protection error of a buffer its lkey does not cover. */
static int check_local(struct loop_tp *tp, const struct wr *w, void *buf,
		       uint32_t len, unsigned int need)
{
	struct loop_mr *m;

	if (!len || w->copy)
		return 0;
	m = w->mr ? mr_live(tp, w->mr) : NULL;
	if (!m || !covers(&m->base, (uintptr_t)buf, len) ||
	    (m->access & need) != need) {
		fprintf(stderr,
			"loop: local protection error: %u bytes at %p\n", len,
			buf);
		return -EFAULT;
	}
	return 0;
}

/* Where a remote access lands, or NULL for a remote access error. */
static uint8_t *check_remote(struct loop_tp *target, uint64_t raddr,
			     uint64_t rkey, uint32_t len, unsigned int need)
{
	struct rmx__list *n;

	for (n = target->mrs.next; n != &target->mrs; n = n->next) {
		struct loop_mr *m = rmx__container_of(n, struct loop_mr, link);

		if (m->base.rkey != rkey)
			continue;
		if ((m->access & need) != need || !covers(&m->base, raddr, len))
			break;
		return (uint8_t *)(uintptr_t)raddr;
	}
	loop_stats.remote_errors++;
	return NULL;
}

/* Execution ------------------------------------------------------------ */

/* The oldest shared receive of p's transport, or NULL: receiver not ready. */
static struct wr *peek_recv(struct loop_conn *p, uint32_t len)
{
	if (rmx__list_empty(&p->tp->srq)) {
		loop_stats.rnr++;
		fprintf(stderr, "loop: receiver not ready: %u bytes found no receive posted\n",
			len);
		return NULL;
	}
	return first_of(&p->tp->srq, struct wr);
}

static void consume(struct loop_conn *p, struct wr *r)
{
	rmx__list_del(&r->node);
	p->tp->srq_n--;
}

/*
 * The receiving side fails a receive: that receive completes in error
 * naming p, and both queue pairs go to error (as with an SRQ: the others
 * sharing it go on).
 */
static int fail_recv(struct loop_conn *p, struct wr *r, int status)
{
	consume(p, r);
	queue_status(p, r->wr_ctx, status, 0, RMX__TP_COMP_RECV);
	wr_free(r);
	conn_fail(p);
	return -EREMOTEIO;
}

static int exec_send(struct loop_conn *c, struct loop_conn *p, struct wr *w)
{
	const uint8_t *src = w->copy ? w->copy : w->buf;
	uint32_t len = w->len;
	uint8_t *tampered = NULL;
	struct wr *r;
	int ret;

	ret = check_local(c->tp, w, w->buf, w->len, 0);
	if (ret)
		return ret;
	r = peek_recv(p, len);
	if (!r)
		return -ETIMEDOUT;	/* RNR retries exhausted */
	if (len > r->len)
		return fail_recv(p, r, -EMSGSIZE);
	if (check_local(p->tp, r, r->buf, r->len, RMX__TP_LOCAL_WRITE))
		return fail_recv(p, r, -EFAULT);
	if (c->tamper) {
		tampered = xcalloc(r->len + 1);
		if (len)
			memcpy(tampered, src, len);
		if (!c->tamper(c->tamper_arg, tampered, &len)) {
			/* Dropped: the receive stays for the next one. */
			loop_stats.dropped++;
			free(tampered);
			return 0;
		}
		if (len > r->len)
			len = r->len;
		src = tampered;
	}
	if (len)
		memcpy(r->buf, src, len);
	consume(p, r);
	queue_status(p, r->wr_ctx, 0, len, RMX__TP_COMP_RECV);
	loop_stats.sends++;
	wr_free(r);
	free(tampered);
	return 0;
}

static int exec_atomic(const struct rmx__tp_rma *a, uint8_t *target)
{
	uint64_t old, val;

	if (a->raddr % 8)
		return -EREMOTEIO;	/* invalid request */
	memcpy(&old, target, 8);
	val = a->op == RMX__TP_FETCH_ADD ? old + a->compare_add :
	      old == a->compare_add	 ? a->swap :
					   old;
	memcpy(target, &val, 8);
	memcpy(a->buf, &old, 8);
	loop_stats.atomics++;
	return 0;
}

static int exec_rma(struct loop_conn *c, struct loop_conn *p, struct wr *w)
{
	const struct rmx__tp_rma *a = &w->rma;
	unsigned int local = RMX__TP_LOCAL_WRITE, remote = RMX__TP_REMOTE_WRITE;
	struct rmx__tp_comp rc = { .len = a->len, .has_imm = true,
				   .imm = a->imm };
	uint8_t *target = NULL;
	struct wr *r = NULL;
	int ret;

	if (a->op == RMX__TP_WRITE || a->op == RMX__TP_WRITE_IMM)
		local = 0;
	else if (a->op == RMX__TP_READ)
		remote = RMX__TP_REMOTE_READ;
	else
		remote = RMX__TP_REMOTE_ATOMIC;
	ret = check_local(c->tp, w, a->buf, a->len, local);
	if (ret)
		return ret;
	/* A zero-length transfer checks no key, as verbs. */
	if (a->len) {
		target = check_remote(p->tp, a->raddr, a->rkey, a->len, remote);
		if (!target)
			return -EACCES;
	}
	/* The notice needs a receive before any data is placed. */
	if (a->op == RMX__TP_WRITE_IMM) {
		r = peek_recv(p, a->len);
		if (!r)
			return -ETIMEDOUT;
	}
	switch (a->op) {
	case RMX__TP_WRITE:
	case RMX__TP_WRITE_IMM:
		if (a->len)
			memmove(target, w->copy ? w->copy : a->buf, a->len);
		loop_stats.writes++;
		break;
	case RMX__TP_READ:
		if (a->len)
			memmove(a->buf, target, a->len);
		loop_stats.reads++;
		break;
	default:
		return exec_atomic(a, target);
	}
	if (r) {
		consume(p, r);
		rc.wr_ctx = r->wr_ctx;
		queue_comp(p, &rc, RMX__TP_COMP_RECV);
		loop_stats.imms++;
		wr_free(r);
	}
	return 0;
}

/* Runs c's oldest request; a failure puts c in error. */
static void execute(struct loop_conn *c)
{
	struct wr *w = first_of(&c->sq, struct wr);
	int status;

	rmx__list_del(&w->node);
	if (w->kind == WR_PROBE)
		loop_stats.probes++;
	if (c->vanished)
		status = -ETIMEDOUT;	/* transport retries exhausted */
	else if (w->kind == WR_PROBE)
		status = 0;	/* the peer's "device" answers for it */
	else if ((w->kind == WR_SEND ? w->len : w->rma.len) > c->caps.max_msg)
		status = -EMSGSIZE;
	else if (w->kind == WR_SEND)
		status = exec_send(c, c->peer, w);
	else
		status = exec_rma(c, c->peer, w);
	queue_status(c, w->wr_ctx, status, w->kind == WR_RMA ? w->rma.len : 0,
		     kind_of(w));
	wr_free(w);
	if (status)
		conn_fail(c);
}

/* The device: runs what was posted before, on every connection. */
static int fabric_run(struct loop_tp *self)
{
	uint64_t upto = fab.seq;
	struct rmx__list *n;
	int mine = 0;

	for (n = fab.conns.next; n != &fab.conns; n = n->next) {
		struct loop_conn *c = rmx__container_of(n, struct loop_conn,
							link);

		while (runnable(c, upto)) {
			execute(c);
			if (c->tp == self)
				mine++;
		}
	}
	return mine;
}

static bool fabric_busy(void)
{
	struct rmx__list *n;

	for (n = fab.conns.next; n != &fab.conns; n = n->next)
		if (runnable(rmx__container_of(n, struct loop_conn, link),
			     UINT64_MAX))
			return true;
	return false;
}

/* Connections ---------------------------------------------------------- */

static int port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

static void set_port(struct sockaddr_storage *ss, int port)
{
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
}

static bool any_addr(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return !memcmp(&((const struct sockaddr_in6 *)ss)->sin6_addr,
			       &in6addr_any, sizeof(in6addr_any));
	return ((const struct sockaddr_in *)ss)->sin_addr.s_addr ==
	       htonl(INADDR_ANY);
}

static bool same_addr(const struct sockaddr_storage *a,
		      const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET6)
		return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			       &((const struct sockaddr_in6 *)b)->sin6_addr,
			       sizeof(struct in6_addr));
	return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
	       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
}

/* The listener a connection to ss reaches, or NULL. */
static struct loop_listener *listener_at(const struct sockaddr_storage *ss)
{
	struct rmx__list *n;

	for (n = fab.listeners.next; n != &fab.listeners; n = n->next) {
		struct loop_listener *l = rmx__container_of(
			n, struct loop_listener, link);

		if (l->sa.ss_family == ss->ss_family &&
		    l->port == port_of(ss) &&
		    (any_addr(&l->sa) || any_addr(ss) || same_addr(&l->sa, ss)))
			return l;
	}
	return NULL;
}

static struct loop_listener *listener_by_id(uint32_t id)
{
	struct rmx__list *n;

	for (n = fab.listeners.next; n != &fab.listeners; n = n->next) {
		struct loop_listener *l = rmx__container_of(
			n, struct loop_listener, link);

		if (l->id == id)
			return l;
	}
	return NULL;
}

static void copy_sa(struct sockaddr_storage *to, const struct sockaddr *sa)
{
	memset(to, 0, sizeof(*to));
	memcpy(to, sa, sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
						  sizeof(struct sockaddr_in));
}

static struct loop_conn *conn_new(struct loop_tp *tp, void *owner,
				  enum conn_state state)
{
	struct loop_conn *c = xcalloc(sizeof(*c));

	c->base.tp = &tp->base;
	c->base.owner = owner;
	c->tp = tp;
	c->state = state;
	rmx__list_init(&c->sq);
	rmx__list_add_tail(&fab.conns, &c->link);
	return c;
}

static void conn_free(struct loop_conn *c)
{
	discard(&c->sq);	/* no DMA touches the buffers after this */
	/*
	 * transport.h: nothing names a connection once it is destroyed, but
	 * the receives it used still complete, to be reposted.
	 */
	forget(c, true);
	rmx__list_del(&c->link);
	free(c);
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* The queues exist: the protocol posts its receives. */
static int create_qp(struct loop_conn *c, const struct rmx__tp_conn_want *want)
{
	c->caps.sq_depth = min_u32(want->sq_depth, LOOP_DEPTH_MAX);
	c->caps.max_inline = LOOP_INLINE;
	c->caps.max_msg = loop_max_msg;
	c->has_qp = true;
	return c->tp->up->conn_ready(c->tp->upctx, &c->base);
}

static int copy_priv(struct loop_conn *c, const void *priv, size_t len)
{
	if (len > LOOP_PRIV_MAX)
		return -EMSGSIZE;
	if (len)
		memcpy(c->priv, priv, len);
	c->priv_len = (uint8_t)len;
	return 0;
}

static void on_resolved(struct loop_conn *c)
{
	struct loop_listener *l;
	struct ent *e;
	int ret;

	ret = create_qp(c, &c->want);
	if (ret) {
		c->state = CONN_ERROR;
		c->tp->up->conn_closed(c->tp->upctx, &c->base, ret);
		return;
	}
	c->state = CONN_CONNECTING;
	l = listener_at(&c->dst);
	if (!l) {
		queue_closed(c, -ECONNREFUSED);
		conn_fail(c);
		return;
	}
	/* The request waits at the listener's transport. */
	e = xcalloc(sizeof(*e));
	e->kind = ENT_REQUEST;
	e->conn = c;
	e->listener_id = l->id;
	memcpy(e->priv, c->priv, c->priv_len);
	e->priv_len = c->priv_len;
	rmx__list_add_tail(&((struct loop_tp *)l->base.tp)->queue, &e->node);
	tp_signal((struct loop_tp *)l->base.tp);
}

static void on_request(struct loop_tp *tp, struct loop_conn *a,
		       const struct ent *e)
{
	struct loop_listener *l = listener_by_id(e->listener_id);
	struct loop_conn *b;
	struct ent *est;
	int ret;

	if (!l || a->state != CONN_CONNECTING) {
		/* As rdma_cm: the event, then the QP in error flushes. */
		queue_closed(a, -ECONNREFUSED);
		conn_fail(a);
		return;
	}
	b = conn_new(tp, NULL, CONN_REQUESTED);
	b->peer = a;
	a->peer = b;
	copy_sa(&b->dst, (struct sockaddr *)&a->src);
	copy_sa(&b->src, (struct sockaddr *)&a->dst);
	ret = tp->up->conn_request(tp->upctx, &l->base, &b->base,
				   (struct sockaddr *)&a->src, e->priv,
				   e->priv_len);
	if (ret || b->state != CONN_ACCEPTED) {
		/* Rejected: b never was the protocol's. */
		b->peer = NULL;
		a->peer = NULL;
		conn_free(b);
		/* Someone is there and refused (transport.h, conn_closed). */
		queue_closed(a, ret == -EPROTO || ret == -EPROTONOSUPPORT ?
					ret : -ECONNABORTED);
		conn_fail(a);
		return;
	}
	est = queue_ent(a, ENT_ESTABLISHED);
	memcpy(est->priv, b->priv, b->priv_len);
	est->priv_len = b->priv_len;
}

static void on_established(struct loop_conn *c, const struct ent *e)
{
	const struct rmx__tp_upcalls *up = c->tp->up;

	if (c->state == CONN_CONNECTING && c->peer) {
		c->state = CONN_CONNECTED;
		/* The passive side hears of it last (RTU). */
		queue_ent(c->peer, ENT_ESTABLISHED);
		up->conn_established(c->tp->upctx, &c->base, e->priv,
				     e->priv_len);
	} else if (c->state == CONN_ACCEPTED) {
		c->state = CONN_CONNECTED;
		up->conn_established(c->tp->upctx, &c->base, NULL, 0);
	}
}

/* Hands one queue entry to the upcalls; it may destroy its connection. */
static void deliver(struct loop_tp *tp, struct ent *e)
{
	struct loop_conn *c = e->conn;

	switch (e->kind) {
	case ENT_COMP:
		if (e->comp.kind == RMX__TP_COMP_PROBE)
			c->probe_out = false;
		else if (e->comp.kind == RMX__TP_COMP_SEND)
			c->sq_out--;
		tp->up->completion(tp->upctx, &e->comp);
		break;
	case ENT_RESOLVED:
		on_resolved(c);
		break;
	case ENT_REQUEST:
		on_request(tp, c, e);
		break;
	case ENT_ESTABLISHED:
		on_established(c, e);
		break;
	case ENT_CLOSED:
		tp->up->conn_closed(tp->upctx, &c->base, e->status);
		break;
	}
	free(e);
}

/* The ops ------------------------------------------------------------- */

static int loop_open(struct rmx__loop *loop, const struct rmx__tp_upcalls *up,
		     void *upctx, struct rmx__tp **out)
{
	struct loop_tp *tp = xcalloc(sizeof(*tp));
	int ret;

	if (!fab.init) {
		rmx__list_init(&fab.tps);
		rmx__list_init(&fab.conns);
		rmx__list_init(&fab.listeners);
		fab.next_key = 0x1000;
		fab.next_port = 18515;
		fab.init = true;
	}
	tp->base.ops = &loop_tp_ops;
	tp->base.max_key = UINT32_MAX;
	/* What an RC queue pair does, as the verbs backend declares it. */
	tp->base.caps = RMX__TP_CAP_ATOMIC | RMX__TP_CAP_IMM_CONSUMES_RECV |
			RMX__TP_CAP_ORDERED | RMX__TP_CAP_LOCAL_MR |
			RMX__TP_CAP_CONNECTED;
	if (!loop_no_probe)
		tp->base.caps |= RMX__TP_CAP_PEER_PROBE;
	tp->base.max_priv = LOOP_PRIV_MAX;
	tp->base.max_recv = LOOP_RECV_MAX;
	tp->up = up;
	tp->upctx = upctx;
	tp->loop = loop;
	rmx__list_init(&tp->queue);
	rmx__list_init(&tp->mrs);
	rmx__list_init(&tp->srq);
	tp->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ret = tp->evfd < 0 ? -errno : rmx__loop_add(loop, tp->evfd);
	if (ret) {
		if (tp->evfd >= 0)
			close(tp->evfd);
		free(tp);
		return ret;
	}
	rmx__list_add_tail(&fab.tps, &tp->link);
	*out = &tp->base;
	return 0;
}

static void loop_close(struct rmx__tp *base)
{
	struct loop_tp *tp = (struct loop_tp *)base;
	struct rmx__list *n;

	while ((n = rmx__list_pop(&tp->queue)))
		free(rmx__container_of(n, struct ent, node));
	/* Closing ends the shared receives without completions, as verbs. */
	discard(&tp->srq);
	while ((n = rmx__list_pop(&tp->mrs))) {
		loop_stats.mr_live--;
		free(rmx__container_of(n, struct loop_mr, link));
	}
	rmx__list_del(&tp->link);
	rmx__loop_del(tp->loop, tp->evfd);
	close(tp->evfd);
	free(tp);
}

static const char *loop_device_name(const struct rmx__tp *tp)
{
	(void)tp;
	return "loop0";
}

static int loop_host_addr(const struct rmx__tp *tp,
			  struct sockaddr_storage *out)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)out;

	(void)tp;
	memset(out, 0, sizeof(*out));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(0xc0000201);	/* 192.0.2.1 */
	return 0;
}

static int loop_progress(struct rmx__tp *base)
{
	struct loop_tp *tp = (struct loop_tp *)base;
	struct rmx__list *n;
	int count, handled;
	uint64_t v;

	if (tp->armed) {
		if (read(tp->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			return -errno;
		tp->armed = false;
	}
	count = fabric_run(tp);
	for (handled = 0; handled < LOOP_BATCH; handled++) {
		n = rmx__list_pop(&tp->queue);
		if (!n)
			break;
		deliver(tp, rmx__container_of(n, struct ent, node));
	}
	return count + handled;
}

static int loop_arm(struct rmx__tp *base)
{
	struct loop_tp *tp = (struct loop_tp *)base;

	if (!rmx__list_empty(&tp->queue) || fabric_busy())
		return -EAGAIN;
	tp->armed = true;
	return 0;
}

static int loop_mr_reg(struct rmx__tp *base, void *addr, size_t len,
		       unsigned int access, struct rmx__tp_mr **out)
{
	struct loop_tp *tp = (struct loop_tp *)base;
	struct loop_mr *m;

	if (tp->reg_skip) {
		tp->reg_skip--;
	} else if (tp->reg_fail) {
		tp->reg_fail--;
		tp->reg_failed++;
		return tp->reg_err;
	}
	if (access & RMX__TP_ON_DEMAND)
		return -EOPNOTSUPP;
	if (!addr || !len)
		return -EINVAL;
	m = xcalloc(sizeof(*m));
	m->base.tp = base;
	m->base.addr = addr;
	m->base.len = len;
	m->base.rkey = fab.next_key;
	fab.next_key += 0x101;
	m->access = access;
	rmx__list_add_tail(&tp->mrs, &m->link);
	loop_stats.mr_live++;
	*out = &m->base;
	return 0;
}

static int loop_mr_dereg(struct rmx__tp_mr *mr)
{
	struct loop_mr *m = mr_live((struct loop_tp *)mr->tp, mr);

	if (!m) {
		fprintf(stderr, "loop: unknown registration\n");
		return -EINVAL;
	}
	rmx__list_del(&m->link);
	loop_stats.mr_live--;
	free(m);
	return 0;
}

static int loop_listen(struct rmx__tp *base, const struct sockaddr *sa,
		       void *owner, struct rmx__tp_listener **out)
{
	struct loop_listener *l = xcalloc(sizeof(*l));

	copy_sa(&l->sa, sa);
	l->port = port_of(&l->sa);
	if (!l->port) {
		do {
			l->port = fab.next_port++;
			set_port(&l->sa, l->port);
		} while (listener_at(&l->sa));
	} else if (listener_at(&l->sa)) {
		free(l);
		return -EADDRINUSE;
	}
	l->base.tp = base;
	l->base.owner = owner;
	l->id = ++fab.next_listener;
	rmx__list_add_tail(&fab.listeners, &l->link);
	*out = &l->base;
	return 0;
}

static int loop_listener_port(const struct rmx__tp_listener *base)
{
	return ((const struct loop_listener *)base)->port;
}

static void loop_listener_close(struct rmx__tp_listener *base)
{
	struct loop_listener *l = (struct loop_listener *)base;

	/* Requests still queued for it are refused when they come up. */
	rmx__list_del(&l->link);
	free(l);
}

static int loop_connect(struct rmx__tp *base, const struct sockaddr *src,
			const struct sockaddr *dst,
			const struct rmx__tp_conn_want *want, const void *priv,
			size_t priv_len, uint32_t timeout_ms, void *owner,
			struct rmx__tp_conn **out)
{
	struct loop_tp *tp = (struct loop_tp *)base;
	struct loop_conn *c;

	(void)timeout_ms;	/* the protocol enforces it */
	if (priv_len > LOOP_PRIV_MAX)
		return -EMSGSIZE;
	c = conn_new(tp, owner, CONN_RESOLVING);
	copy_priv(c, priv, priv_len);
	c->want = *want;
	copy_sa(&c->dst, dst);
	/* Any local address works: the fabric is this process. */
	copy_sa(&c->src, src ? src : dst);
	if (!src || !port_of(&c->src))
		set_port(&c->src, 49152 + (int)(fab.next_src++ % 16384));
	queue_ent(c, ENT_RESOLVED);
	*out = &c->base;
	return 0;
}

static int loop_accept(struct rmx__tp_conn *base,
		       const struct rmx__tp_conn_want *want, const void *priv,
		       size_t priv_len, void *owner)
{
	struct loop_conn *c = (struct loop_conn *)base;
	int ret;

	if (c->state != CONN_REQUESTED)
		return -EINVAL;
	ret = copy_priv(c, priv, priv_len);
	if (ret)
		return ret;
	c->base.owner = owner;
	ret = create_qp(c, want);
	if (!ret)
		c->state = CONN_ACCEPTED;
	return ret;
}

static void loop_conn_caps(const struct rmx__tp_conn *base,
			   struct rmx__tp_conn_caps *out)
{
	*out = ((const struct loop_conn *)base)->caps;
}

static int loop_conn_addr(const struct rmx__tp_conn *base,
			  struct sockaddr_storage *local,
			  struct sockaddr_storage *peer)
{
	const struct loop_conn *c = (const struct loop_conn *)base;

	if (local)
		*local = c->src;
	if (peer)
		*peer = c->dst;
	return 0;
}

static void loop_conn_destroy(struct rmx__tp_conn *base)
{
	struct loop_conn *c = (struct loop_conn *)base;

	disconnect_peer(c);
	conn_free(c);
}

/* No connection's state matters: the receive waits in the shared pool. */
static int loop_post_recv(struct rmx__tp *base, void *buf, uint32_t len,
			  struct rmx__tp_mr *mr, uint64_t wr_ctx)
{
	struct loop_tp *tp = (struct loop_tp *)base;
	struct wr *w;

	if (tp->srq_n >= tp->base.max_recv)
		return -ENOMEM;
	w = wr_new(WR_RECV, wr_ctx, buf, len, mr);
	rmx__list_add_tail(&tp->srq, &w->node);
	tp->srq_n++;
	return 0;
}

/*
 * Queues a send-side request; a QP in error flushes it at once. A probe
 * takes the room kept for it beyond sq_depth, one at a time.
 */
static int post_sq(struct loop_conn *c, struct wr *w, const void *data)
{
	bool probe = w->kind == WR_PROBE;
	int ret = 0;

	if (!can_send(c) && c->state != CONN_ERROR && c->state != CONN_DEAD)
		ret = -EINVAL;	/* not connected yet */
	else if (probe ? c->probe_out : c->sq_out >= c->caps.sq_depth)
		ret = -ENOMEM;
	if (ret) {
		wr_free(w);
		return ret;
	}
	if (probe)
		c->probe_out = true;
	else
		c->sq_out++;
	if (c->state == CONN_ERROR) {
		queue_status(c, w->wr_ctx, -ECANCELED, 0, kind_of(w));
		loop_stats.flushed++;
		wr_free(w);
		return 0;
	}
	if (data && w->len && w->len <= c->caps.max_inline) {
		w->copy = xcalloc(w->len);
		memcpy(w->copy, data, w->len);
	}
	w->seq = ++fab.seq;
	rmx__list_add_tail(&c->sq, &w->node);
	/* The device runs it without the application: the fd wakes. */
	tp_signal(c->tp);
	return 0;
}

static int loop_post_send(struct rmx__tp_conn *base, const void *buf,
			  uint32_t len, struct rmx__tp_mr *mr, uint64_t wr_ctx)
{
	struct loop_conn *c = (struct loop_conn *)base;

	if (!mr && len > c->caps.max_inline)
		return -EINVAL;
	return post_sq(c, wr_new(WR_SEND, wr_ctx, (void *)buf, len, mr), buf);
}

static int loop_post_rma(struct rmx__tp_conn *base,
			 const struct rmx__tp_rma *rma, uint64_t wr_ctx)
{
	struct loop_conn *c = (struct loop_conn *)base;
	bool write = rma->op == RMX__TP_WRITE || rma->op == RMX__TP_WRITE_IMM;
	bool atomic = rma->op == RMX__TP_FETCH_ADD ||
		      rma->op == RMX__TP_CMP_SWAP;
	struct wr *w;

	if (rma->rkey > UINT32_MAX || (atomic && rma->len != 8))
		return -EINVAL;
	if (!rma->mr && rma->len && (!write || rma->len > c->caps.max_inline))
		return -EINVAL;
	w = wr_new(WR_RMA, wr_ctx, rma->buf, rma->len, rma->mr);
	w->rma = *rma;
	return post_sq(c, w, write ? rma->buf : NULL);
}

static int loop_post_probe(struct rmx__tp_conn *base, uint64_t wr_ctx)
{
	return post_sq((struct loop_conn *)base,
		       wr_new(WR_PROBE, wr_ctx, NULL, 0, NULL), NULL);
}

const struct rmx__tp_ops loop_tp_ops = {
	.name = LOOP_TP_NAME,
	.open = loop_open,
	.close = loop_close,
	.device_name = loop_device_name,
	.host_addr = loop_host_addr,
	.progress = loop_progress,
	.arm = loop_arm,
	.mr_reg = loop_mr_reg,
	.mr_dereg = loop_mr_dereg,
	.listen = loop_listen,
	.listener_port = loop_listener_port,
	.listener_close = loop_listener_close,
	.connect = loop_connect,
	.accept = loop_accept,
	.conn_caps = loop_conn_caps,
	.conn_addr = loop_conn_addr,
	.conn_destroy = loop_conn_destroy,
	.post_recv = loop_post_recv,
	.post_send = loop_post_send,
	.post_rma = loop_post_rma,
	.post_probe = loop_post_probe,
};

int loop_tp_register(void)
{
	return rmx__tp_register(&loop_tp_ops);
}

/* Fault hooks ----------------------------------------------------------- */

void loop_kill(struct rmx__tp_conn *base, enum loop_death how)
{
	struct loop_conn *c = (struct loop_conn *)base;
	struct loop_conn *p = c->peer;

	if (p) {
		c->peer = NULL;
		p->peer = NULL;
		p->state = CONN_DEAD;
		/*
		 * A dead process hears nothing more, not even of receives
		 * that landed: its transport goes with it in a real fabric.
		 */
		forget(p, false);
	}
	if (how == LOOP_PEER_EXITS) {
		conn_fail(c);
		queue_closed(c, -ECONNRESET);
	} else {
		c->vanished = true;
	}
}

void loop_tamper(struct rmx__tp_conn *base, loop_tamper_fn fn, void *arg)
{
	struct loop_conn *c = (struct loop_conn *)base;

	c->tamper = fn;
	c->tamper_arg = arg;
}

void loop_fail_mr_reg(struct rmx__tp *base, unsigned int skip,
		      unsigned int count, int err)
{
	struct loop_tp *tp = (struct loop_tp *)base;

	tp->reg_skip = skip;
	tp->reg_fail = count;
	tp->reg_err = err;
}

unsigned int loop_mr_reg_failed(const struct rmx__tp *base)
{
	return ((const struct loop_tp *)base)->reg_failed;
}

uint32_t loop_recv_posted(const struct rmx__tp *base)
{
	return ((const struct loop_tp *)base)->srq_n;
}
