// SPDX-License-Identifier: BSD-2-Clause
/* Verbs backend, connection half: rdma_cm ids, RC QPs, posting. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "core/list.h"
#include "core/log.h"
#include "transport/verbs/verbs.h"

/* RDMA reads in flight per QP; rxe allows more, few gain from it. */
#define VERBS_RD_ATOM_MAX 16

static uint8_t min_u8(int a, int b, int c)
{
	int m = a < b ? a : b;

	m = m < c ? m : c;
	return (uint8_t)(m < 0 ? 0 : m);
}

static struct verbs_conn *conn_new(struct verbs_tp *tp, void *owner)
{
	struct verbs_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->base.tp = &tp->base;
	c->base.owner = owner;
	c->kind = VERBS_ID_CONN;
	c->tp = tp;
	return c;
}

/*
 * How long the QP waits for an acknowledgement before it retries, and how
 * often: a peer whose node vanished (no DREQ comes) is found when these
 * run out, by the next work request or keepalive probe. librdmacm's
 * default for RoCE is the path's packet lifetime (about 0.5 s per try on
 * rxe); the knobs' defaults (verbs.c) bound it near 1.6 s.
 */
static int set_ack_timeout(struct verbs_conn *c)
{
	uint8_t t = (uint8_t)c->tp->cfg.ack_timeout;

	if (rdma_set_option(c->id, RDMA_OPTION_ID, RDMA_OPTION_ID_ACK_TIMEOUT,
			    &t, sizeof(t))) {
		rmx__err("cannot set the ACK timeout: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

/* One error line about an address: "<what> <addr> <why>". */
static void addr_err(const struct sockaddr *sa, const char *what,
		     const char *why)
{
	char name[64];

	rmx__addr_format(sa, name, sizeof(name));
	rmx__err("%s %s %s", what, name, why);
}

/* Says which address has no RDMA device behind it, and what to use. */
static void not_rdma(const struct sockaddr *sa, const char *what)
{
	addr_err(sa, what,
		 "is not on an RDMA device: use the IP address of an RDMA device's netdev (rmx-info lists them as GIDs)");
}

static int create_qp(struct verbs_conn *c)
{
	struct verbs_tp *tp = c->tp;
	uint32_t max_wr = (uint32_t)tp->dev_attr.max_qp_wr;
	/* One entry more than asked: room for a probe (transport.h). */
	uint32_t sq_want = c->want.sq_depth + 1;
	/* Receives come from the backend's SRQ: no receive queue of its own. */
	struct ibv_qp_init_attr qa = {
		.srq = tp->srq,
		.qp_type = IBV_QPT_RC,
		.sq_sig_all = 1,
		.cap = {
			.max_send_wr = sq_want < max_wr ? sq_want : max_wr,
			.max_send_sge = 1,
			.max_inline_data = tp->cfg.max_inline,
		},
	};
	struct verbs_cq *vcq;
	int sq, ret;

	if (!c->id->verbs) {
		not_rdma(rdma_get_peer_addr(c->id), "peer");
		return -ENODEV;
	}
	if (c->id->verbs != tp->verbs) {
		rmx__err("peer is reachable through %s, but this context uses %s (set RMX_DEVICE)",
			 ibv_get_device_name(c->id->verbs->device),
			 ibv_get_device_name(tp->verbs->device));
		return -ENODEV;
	}
	sq = (int)qa.cap.max_send_wr;
	ret = set_ack_timeout(c);
	if (!ret)
		ret = rmx__verbs_cq_reserve(tp, sq, &vcq);
	if (ret)
		return ret;
	qa.send_cq = qa.recv_cq = vcq->cq;
	if (rdma_create_qp(c->id, tp->pd, &qa)) {
		/* Providers may refuse inline data: retry without. */
		qa.cap.max_inline_data = 0;
		if (rdma_create_qp(c->id, tp->pd, &qa)) {
			ret = -errno;
			rmx__err("rdma_create_qp: %s", strerror(errno));
			rmx__verbs_cq_release(vcq, sq);
			return ret;
		}
	}
	ret = rmx__verbs_conn_track(tp, c, qa.cap.max_send_wr);
	if (ret) {
		rdma_destroy_qp(c->id);
		rmx__verbs_cq_release(vcq, sq);
		return ret;
	}
	c->has_qp = true;
	c->cq = vcq;
	c->cq_sq = sq;
	c->caps.sq_depth = qa.cap.max_send_wr - 1;	/* less the probe's */
	c->caps.max_inline = qa.cap.max_inline_data;
	c->caps.max_msg = tp->max_msg;
	return tp->up->conn_ready(tp->upctx, &c->base);
}

static void fill_param(struct verbs_conn *c, struct rdma_conn_param *p)
{
	memset(p, 0, sizeof(*p));
	p->private_data = c->priv;
	p->private_data_len = c->priv_len;
	p->responder_resources = c->rd_atom_in;
	p->initiator_depth = c->rd_atom_out;
	/*
	 * The active side's count is both QPs' (the REQ carries it). Not 7:
	 * rxe takes 7 as "retry forever", and a vanished peer would never
	 * be found.
	 */
	p->retry_count = (uint8_t)c->tp->cfg.retry_count;
	/*
	 * A peer that promised a receive for every message gets a few RNR
	 * retries as a safety net that ends in an error; one that did not
	 * is waited for (7 means retry forever).
	 */
	p->rnr_retry_count = c->want.recv_guaranteed ? 4 : 7;
}

static int copy_priv(struct verbs_conn *c, const void *priv, size_t len)
{
	if (len > VERBS_PRIV_MAX)
		return -EMSGSIZE;
	/* No private data may come as NULL: memcpy() must not see it. */
	if (len)
		memcpy(c->priv, priv, len);
	c->priv_len = (uint8_t)len;
	return 0;
}

static int copy_sa(struct sockaddr_storage *to, const struct sockaddr *sa)
{
	size_t len;

	switch (sa ? sa->sa_family : AF_UNSPEC) {
	case AF_INET:
		len = sizeof(struct sockaddr_in);
		break;
	case AF_INET6:
		len = sizeof(struct sockaddr_in6);
		break;
	default:
		return -ENOTCONN;
	}
	if (to) {
		memset(to, 0, sizeof(*to));
		memcpy(to, sa, len);
	}
	return 0;
}

int rmx__verbs_connect(struct rmx__tp *base, const struct sockaddr *src,
		       const struct sockaddr *dst,
		       const struct rmx__tp_conn_want *want, const void *priv,
		       size_t priv_len, uint32_t timeout_ms, void *owner,
		       struct rmx__tp_conn **out)
{
	struct verbs_tp *tp = (struct verbs_tp *)base;
	struct verbs_conn *c = conn_new(tp, owner);
	int ret;

	if (!c)
		return -ENOMEM;
	ret = copy_priv(c, priv, priv_len);
	if (ret)
		goto err_free;
	c->want = *want;
	c->timeout_ms = timeout_ms;
	if (src)
		copy_sa(&c->src, src);
	c->rd_atom_in = min_u8(tp->dev_attr.max_qp_rd_atom, VERBS_RD_ATOM_MAX,
			       255);
	c->rd_atom_out = min_u8(tp->dev_attr.max_qp_init_rd_atom,
				VERBS_RD_ATOM_MAX, 255);
	if (rdma_create_id(tp->cm, &c->id, &c->kind, RDMA_PS_TCP)) {
		ret = -errno;
		goto err_free;
	}
	if (rdma_resolve_addr(c->id, (struct sockaddr *)src,
			      (struct sockaddr *)dst, (int)timeout_ms)) {
		ret = -errno;
		if (src && ret == -ENODEV)
			not_rdma(src, "source address");
		else if (src && ret == -EADDRNOTAVAIL)
			addr_err(src, "source address", "is not an address of this host");
		else
			rmx__err("rdma_resolve_addr: %s", strerror(errno));
		rdma_destroy_id(c->id);
		goto err_free;
	}
	*out = &c->base;
	return 0;
err_free:
	free(c);
	return ret;
}

int rmx__verbs_accept(struct rmx__tp_conn *base,
		      const struct rmx__tp_conn_want *want, const void *priv,
		      size_t priv_len, void *owner)
{
	struct verbs_conn *c = (struct verbs_conn *)base;
	struct rdma_conn_param p;
	int ret;

	ret = copy_priv(c, priv, priv_len);
	if (ret)
		return ret;
	c->base.owner = owner;
	c->want = *want;
	ret = create_qp(c);
	if (ret)
		return ret;
	fill_param(c, &p);
	if (rdma_accept(c->id, &p)) {
		ret = -errno;
		rmx__err("rdma_accept: %s", strerror(errno));
		return ret;
	}
	return 0;
}

void rmx__verbs_conn_caps(const struct rmx__tp_conn *base,
			  struct rmx__tp_conn_caps *out)
{
	*out = ((const struct verbs_conn *)base)->caps;
}

int rmx__verbs_conn_addr(const struct rmx__tp_conn *base,
			 struct sockaddr_storage *local,
			 struct sockaddr_storage *peer)
{
	struct rdma_cm_id *id = ((const struct verbs_conn *)base)->id;
	int ret = copy_sa(local, rdma_get_local_addr(id));

	return ret ? ret : copy_sa(peer, rdma_get_peer_addr(id));
}

/*
 * A QP on an SRQ may still complete receives until the device says
 * IBV_EVENT_QP_LAST_WQE_REACHED (an async event rmx does not read, so
 * nothing logs it); rmx tolerates late ones instead (cq.c).
 */
void rmx__verbs_conn_destroy(struct rmx__tp_conn *base)
{
	struct verbs_conn *c = (struct verbs_conn *)base;
	struct verbs_tp *tp = c->tp;
	struct ibv_qp_attr attr = { .qp_state = IBV_QPS_ERR };

	if (tp->draining == c)
		tp->draining = NULL;
	/* In error, the QP takes no more shared receives. */
	if (c->connected)
		rdma_disconnect(c->id);
	else if (c->has_qp && ibv_modify_qp(c->id->qp, &attr, IBV_QP_STATE))
		rmx__dbg("QP %u stays out of error until destroyed", c->qpn);
	if (c->has_qp) {
		/* Its send completions still queued are dropped (cq.c). */
		rmx__verbs_conn_untrack(tp, c);
		rmx__verbs_cq_orphan(tp, c->cq, c->qpn);
		rdma_destroy_qp(c->id);
		rmx__verbs_cq_release(c->cq, c->cq_sq);
	}
	/* Every event we took was acknowledged at once: this cannot block. */
	rdma_destroy_id(c->id);
	free(c);
}

int rmx__verbs_listen(struct rmx__tp *base, const struct sockaddr *sa,
		      void *owner, struct rmx__tp_listener **out)
{
	struct verbs_tp *tp = (struct verbs_tp *)base;
	struct verbs_listener *l = calloc(1, sizeof(*l));
	int ret;

	if (!l)
		return -ENOMEM;
	l->base.tp = base;
	l->base.owner = owner;
	l->kind = VERBS_ID_LISTENER;
	if (rdma_create_id(tp->cm, &l->id, &l->kind, RDMA_PS_TCP)) {
		ret = -errno;
		free(l);
		return ret;
	}
	if (rdma_bind_addr(l->id, (struct sockaddr *)sa) ||
	    rdma_listen(l->id, 128)) {
		ret = -errno;
		rmx__err("cannot listen: %s", strerror(errno));
		rdma_destroy_id(l->id);
		free(l);
		return ret;
	}
	/* A listener bound to one address lives on that address's device. */
	if (l->id->verbs && l->id->verbs != tp->verbs)
		rmx__warn("listening address belongs to %s, context uses %s: requests will be rejected",
			  ibv_get_device_name(l->id->verbs->device),
			  ibv_get_device_name(tp->verbs->device));
	*out = &l->base;
	return 0;
}

int rmx__verbs_listener_port(const struct rmx__tp_listener *base)
{
	const struct verbs_listener *l = (const struct verbs_listener *)base;

	return ntohs(rdma_get_src_port(l->id));
}

void rmx__verbs_listener_close(struct rmx__tp_listener *base)
{
	struct verbs_listener *l = (struct verbs_listener *)base;

	rdma_destroy_id(l->id);
	free(l);
}

/* Rejects a request, telling the peer why (VERBS_REJ_MAGIC). */
static void reject(struct rdma_cm_id *id, int err)
{
	uint8_t rej[VERBS_REJ_SIZE] = { 0 };
	uint32_t magic = htonl(VERBS_REJ_MAGIC);
	uint16_t e = htons((uint16_t)(-err));

	memcpy(rej, &magic, 4);
	memcpy(rej + 4, &e, 2);
	if (rdma_reject(id, rej, sizeof(rej)))
		rmx__dbg("rdma_reject: %s", strerror(errno));
}

/*
 * A rejection's errno (transport.h, conn_closed): rmx's listener says
 * why; another application's rejection is still a refusal by someone
 * who is there; any other reason (no listener) is -ECONNREFUSED.
 */
static int rejected_status(const struct rdma_cm_event *ev, int *why)
{
	const uint8_t *p = ev->param.conn.private_data;
	uint32_t magic;
	uint16_t e;

	*why = 0;
	if (p && ev->param.conn.private_data_len >= VERBS_REJ_SIZE) {
		memcpy(&magic, p, 4);
		memcpy(&e, p + 4, 2);
		if (ntohl(magic) == VERBS_REJ_MAGIC) {
			*why = -(int)ntohs(e);
			return *why == -EPROTO || *why == -EPROTONOSUPPORT ?
				       *why : -ECONNABORTED;
		}
	}
	return ev->status == VERBS_REJ_CONSUMER_DEFINED ? -ECONNABORTED :
							  -ECONNREFUSED;
}

static void on_request(struct verbs_tp *tp, struct rdma_cm_event *ev)
{
	struct verbs_listener *l = rmx__container_of(ev->listen_id->context,
						     struct verbs_listener, kind);
	const struct rdma_conn_param *rp = &ev->param.conn;
	struct verbs_conn *c = conn_new(tp, NULL);
	int ret = -ENOMEM;

	if (c) {
		c->id = ev->id;
		c->id->context = &c->kind;
		c->rd_atom_in = min_u8(tp->dev_attr.max_qp_rd_atom,
				       rp->initiator_depth, VERBS_RD_ATOM_MAX);
		c->rd_atom_out = min_u8(tp->dev_attr.max_qp_init_rd_atom,
					rp->responder_resources,
					VERBS_RD_ATOM_MAX);
		ret = tp->up->conn_request(tp->upctx, &l->base, &c->base,
					   rdma_get_peer_addr(ev->id),
					   rp->private_data,
					   rp->private_data_len);
	}
	if (!ret)
		return;
	reject(ev->id, ret);
	if (c) {
		c->connected = false;
		rmx__verbs_conn_destroy(&c->base);
	} else {
		rdma_destroy_id(ev->id);
	}
}

static int status_of(const struct rdma_cm_event *ev)
{
	switch (ev->event) {
	case RDMA_CM_EVENT_ADDR_ERROR:
		return -EHOSTUNREACH;
	case RDMA_CM_EVENT_ROUTE_ERROR:
		return -ENETUNREACH;
	case RDMA_CM_EVENT_UNREACHABLE:
		return -ETIMEDOUT;
	case RDMA_CM_EVENT_CONNECT_ERROR:
		return -ECONNABORTED;
	case RDMA_CM_EVENT_DEVICE_REMOVAL:
		return -ENODEV;
	default:
		return -ECONNRESET;
	}
}

/*
 * A failed connection's QP goes to error, which flushes what it holds
 * (transport.h); librdmacm does so itself only on a rejection. A
 * connected one answers the peer's disconnect, which does the same.
 */
static void fail_qp(struct verbs_conn *c)
{
	struct ibv_qp_attr attr = { .qp_state = IBV_QPS_ERR };
	int err = 0;

	if (c->connected) {
		c->connected = false;
		if (rdma_disconnect(c->id))
			err = errno;
	} else if (c->has_qp) {
		err = ibv_modify_qp(c->id->qp, &attr, IBV_QP_STATE);
	}
	if (err)
		rmx__warn("cannot flush a failed connection's queue pair: %s",
			  strerror(err));
}

/* Handles one event of an active or accepted connection. */
static void on_conn_event(struct verbs_tp *tp, struct verbs_conn *c,
			  struct rdma_cm_event *ev)
{
	struct rdma_conn_param p;
	int ret = 0;

	switch (ev->event) {
	case RDMA_CM_EVENT_ADDR_RESOLVED:
		ret = create_qp(c);
		if (!ret && rdma_resolve_route(c->id, (int)c->timeout_ms)) {
			ret = -errno;
			/* 127.0.0.1 resolves to a device, then has no route. */
			if (ret == -ENODEV)
				not_rdma(rdma_get_peer_addr(c->id), "peer");
		}
		break;
	case RDMA_CM_EVENT_ROUTE_RESOLVED:
		fill_param(c, &p);
		if (rdma_connect(c->id, &p)) {
			ret = -errno;
			if (ret == -ENODEV)
				not_rdma(rdma_get_peer_addr(c->id), "peer");
		}
		break;
	case RDMA_CM_EVENT_ADDR_ERROR:
		if (ev->status != -ENODEV) {
			ret = status_of(ev);
			rmx__dbg("address resolution failed (status %d)",
				 ev->status);
			break;
		}
		/* The address the connection would leave from has none. */
		if (c->src.ss_family)
			not_rdma((struct sockaddr *)&c->src, "source address");
		else
			not_rdma(rdma_get_peer_addr(c->id), "peer");
		ret = -ENODEV;
		break;
	case RDMA_CM_EVENT_ESTABLISHED:
		c->connected = true;
		tp->up->conn_established(tp->upctx, &c->base,
					 ev->param.conn.private_data,
					 ev->param.conn.private_data_len);
		return;
	case RDMA_CM_EVENT_REJECTED: {
		int why;

		ret = rejected_status(ev, &why);
		rmx__dbg("rejected (reason %d)%s%s", ev->status,
			 why ? ": the listener's error: " : "",
			 why ? strerror(-why) : "");
		break;
	}
	case RDMA_CM_EVENT_TIMEWAIT_EXIT:
	case RDMA_CM_EVENT_ADDR_CHANGE:
		return;
	case RDMA_CM_EVENT_DISCONNECTED:
		/*
		 * librdmacm leaves the QP as it is: answering the peer's
		 * disconnect moves it to error (fail_qp()), once.
		 */
		ret = status_of(ev);
		break;
	default:
		ret = status_of(ev);
		rmx__dbg("connection event %s (status %d)",
			 rdma_event_str(ev->event), ev->status);
		break;
	}
	if (ret) {
		fail_qp(c);
		tp->up->conn_closed(tp->upctx, &c->base, ret);
	}
}

int rmx__verbs_cm_pending(struct verbs_tp *tp)
{
	struct pollfd pfd = { .fd = tp->cm->fd, .events = POLLIN };

	return poll(&pfd, 1, 0) > 0;
}

/*
 * What the peer sent before it disconnected is in the CQ by the time the
 * event arrives, maybe after the last poll: deliver it before the
 * connection goes. False when that delivery already destroyed it.
 */
static bool drained_first(struct verbs_tp *tp, enum verbs_id_kind *kind)
{
	tp->draining = rmx__container_of(kind, struct verbs_conn, kind);
	if (rmx__verbs_cq_poll(tp, INT32_MAX) < 0)
		rmx__dbg("polling before a disconnect failed");
	if (!tp->draining)
		return false;
	tp->draining = NULL;
	return true;
}

int rmx__verbs_cm_progress(struct verbs_tp *tp)
{
	struct rdma_cm_event *ev, copy;
	enum verbs_id_kind *kind;
	uint8_t priv[256];
	int n = 0;

	while (!rdma_get_cm_event(tp->cm, &ev)) {
		/*
		 * Acknowledge before dispatch: rdma_destroy_id() waits for
		 * unacknowledged events, and the upcalls may destroy ids.
		 */
		copy = *ev;
		if (ev->param.conn.private_data_len &&
		    ev->param.conn.private_data) {
			size_t len = ev->param.conn.private_data_len;

			memcpy(priv, ev->param.conn.private_data,
			       len < sizeof(priv) ? len : sizeof(priv));
			copy.param.conn.private_data = priv;
		}
		rdma_ack_cm_event(ev);
		n++;
		kind = copy.id->context;
		if (copy.event == RDMA_CM_EVENT_DISCONNECTED &&
		    *kind == VERBS_ID_CONN && !drained_first(tp, kind))
			continue;
		if (copy.event == RDMA_CM_EVENT_CONNECT_REQUEST)
			on_request(tp, &copy);
		else if (*kind == VERBS_ID_CONN)
			on_conn_event(tp, rmx__container_of(kind,
							    struct verbs_conn,
							    kind),
				      &copy);
		else
			rmx__warn("listener event %s ignored",
				  rdma_event_str(copy.event));
	}
	if (errno != EAGAIN && errno != EWOULDBLOCK) {
		rmx__err("rdma_get_cm_event: %s", strerror(errno));
		return -errno;
	}
	return n;
}

/* Posting ------------------------------------------------------------- */

static void sge_of(struct ibv_sge *sge, void *buf, uint32_t len,
		   struct rmx__tp_mr *mr)
{
	sge->addr = (uintptr_t)buf;
	sge->length = len;
	sge->lkey = mr ? rmx__verbs_lkey(mr) : 0;
}

int rmx__verbs_post_recv(struct rmx__tp *base, void *buf, uint32_t len,
			 struct rmx__tp_mr *mr, uint64_t wr_ctx)
{
	struct verbs_tp *tp = (struct verbs_tp *)base;
	struct ibv_recv_wr wr = { .wr_id = wr_ctx | VERBS_WR_RECV,
				  .num_sge = 1 }, *bad;
	struct ibv_sge sge;

	/* The completion gives wr_ctx back from wr_id: no table needed. */
	if (wr_ctx & VERBS_WR_MARKS) {
		rmx__err("post_recv: wr_ctx %#llx uses bits 62-63, which the verbs backend keeps",
			 (unsigned long long)wr_ctx);
		return -EINVAL;
	}
	sge_of(&sge, buf, len, mr);
	wr.sg_list = &sge;
	return -ibv_post_srq_recv(tp->srq, &wr, &bad);
}

/* Posts wr on the send queue, its wr_ctx remembered for its completion. */
static int post_send_wr(struct verbs_conn *c, struct ibv_send_wr *wr,
			enum rmx__tp_comp_kind kind, uint64_t wr_ctx)
{
	struct ibv_send_wr *bad;
	int ret = rmx__verbs_wr_push(c, kind, wr_ctx, &wr->wr_id);

	if (ret)
		return ret;
	ret = ibv_post_send(c->id->qp, wr, &bad);
	if (ret)
		rmx__verbs_wr_unpush(c);
	return -ret;
}

int rmx__verbs_post_send(struct rmx__tp_conn *base, const void *buf,
			 uint32_t len, struct rmx__tp_mr *mr, uint64_t wr_ctx)
{
	struct verbs_conn *c = (struct verbs_conn *)base;
	struct ibv_send_wr wr = { .opcode = IBV_WR_SEND,
				  .send_flags = IBV_SEND_SIGNALED };
	struct ibv_sge sge;

	sge_of(&sge, (void *)buf, len, mr);
	wr.sg_list = &sge;
	wr.num_sge = len ? 1 : 0;
	if (len <= c->caps.max_inline)
		wr.send_flags |= IBV_SEND_INLINE;
	else if (!mr)
		return -EINVAL;
	return post_send_wr(c, &wr, RMX__TP_COMP_SEND, wr_ctx);
}

int rmx__verbs_post_rma(struct rmx__tp_conn *base,
			const struct rmx__tp_rma *rma, uint64_t wr_ctx)
{
	static const enum ibv_wr_opcode opcodes[] = {
		[RMX__TP_WRITE] = IBV_WR_RDMA_WRITE,
		[RMX__TP_READ] = IBV_WR_RDMA_READ,
		[RMX__TP_WRITE_IMM] = IBV_WR_RDMA_WRITE_WITH_IMM,
		[RMX__TP_FETCH_ADD] = IBV_WR_ATOMIC_FETCH_AND_ADD,
		[RMX__TP_CMP_SWAP] = IBV_WR_ATOMIC_CMP_AND_SWP,
	};
	struct verbs_conn *c = (struct verbs_conn *)base;
	struct ibv_send_wr wr = { .send_flags = IBV_SEND_SIGNALED };
	struct ibv_sge sge;

	if (rma->rkey > UINT32_MAX)
		return -EINVAL;
	wr.opcode = opcodes[rma->op];
	sge_of(&sge, rma->buf, rma->len, rma->mr);
	wr.sg_list = &sge;
	wr.num_sge = rma->len ? 1 : 0;
	if ((rma->op == RMX__TP_WRITE || rma->op == RMX__TP_WRITE_IMM) &&
	    rma->len <= c->caps.max_inline)
		wr.send_flags |= IBV_SEND_INLINE;
	else if (rma->len && !rma->mr)
		return -EINVAL;
	if (rma->op == RMX__TP_FETCH_ADD || rma->op == RMX__TP_CMP_SWAP) {
		wr.wr.atomic.remote_addr = rma->raddr;
		wr.wr.atomic.rkey = (uint32_t)rma->rkey;
		wr.wr.atomic.compare_add = rma->compare_add;
		wr.wr.atomic.swap = rma->swap;
	} else {
		wr.wr.rdma.remote_addr = rma->raddr;
		wr.wr.rdma.rkey = (uint32_t)rma->rkey;
		wr.imm_data = htonl(rma->imm);
	}
	return post_send_wr(c, &wr, RMX__TP_COMP_SEND, wr_ctx);
}

/*
 * A zero-length RDMA write: the peer's device acknowledges it without its
 * CPU, and touches no memory. A zero-length RDMA request carries no key
 * the responder checks (IBA C9-88; rxe's check_rkey() skips it), so it
 * needs no registration on either side.
 */
int rmx__verbs_post_probe(struct rmx__tp_conn *base, uint64_t wr_ctx)
{
	struct verbs_conn *c = (struct verbs_conn *)base;
	struct ibv_send_wr wr = { .opcode = IBV_WR_RDMA_WRITE,
				  .send_flags = IBV_SEND_SIGNALED };

	return post_send_wr(c, &wr, RMX__TP_COMP_PROBE, wr_ctx);
}
