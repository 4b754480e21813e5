// SPDX-License-Identifier: BSD-2-Clause
/*
 * Connections: connect, accept, the transport's connection upcalls,
 * listeners, and destroying an endpoint.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "core/clock.h"
#include "core/log.h"
#include "proto/proto.h"

/*
 * A connected endpoint tells its peer it goes (RMX__MSG_BYE), so the
 * peer can tell this close from a crash: rdma_disconnect() carries no
 * data. The endpoint is gone for the application at once; its
 * connection lingers detached until the BYE's send completes, fails,
 * or RMX__LINGER_MS pass, then disconnects.
 */
void rmx__ep_destroy(struct rmx_ep *ep)
{
	struct rmx__proto *p = ep->p;
	struct rmx__list cancelled;
	/* Inside a callback, they join the list being run. */
	struct rmx__list *to = p->running ? p->running : &cancelled;
	bool bye;

	if (ep->destroying)
		return;
	ep->destroying = true;
	rmx__list_init(&cancelled);
	bye = rmx__send_bye_ready(ep);
	if (bye)
		rmx__ep_linger(ep, to);
	else if (ep->state != RMX_EP_CLOSED)
		rmx__ep_shutdown(ep, -ECANCELED, to);
	rmx__ep_free(ep);
	if (bye && rmx__send_bye(ep))
		rmx__ep_linger_end(ep);
	if (!p->running)
		rmx__proto_run(p, &cancelled);
}

static size_t priv_of(const struct rmx__proto *p, const void *data,
		      size_t data_len, uint8_t *buf)
{
	struct rmx__conn_priv cp = {
		.version = RMX__WIRE_VERSION,
		.rx_credits = p->cfg->rx_grant,
		.rx_max = p->cfg->rx_depth,
		.eager_max = p->cfg->eager_max,
		.data_len = (uint8_t)data_len,
	};

	if (data_len)
		memcpy(cp.data, data, data_len);
	return rmx__conn_priv_pack(buf, &cp);
}

static void want_caps(const struct rmx__proto *p, struct rmx__tp_conn_want *c)
{
	c->sq_depth = p->cfg->tx_depth;
	/* Credits: a receive is posted for every message the peer sends. */
	c->recv_guaranteed = true;
}

int rmx__connect(struct rmx__proto *p, const struct sockaddr *src,
		 const struct sockaddr *sa,
		 const struct rmx_ep_params *params, struct rmx_ep **out)
{
	struct rmx__tp_conn_want want;
	uint8_t priv[RMX__CONN_PRIV_MAX];
	size_t priv_len, data_len = params ? params->connect_data_len : 0;
	char peer[64];
	struct rmx_ep *ep;
	uint32_t timeout;
	int ret;

	rmx__addr_format(sa, peer, sizeof(peer));
	/* Every backend carries RMX__CONN_PRIV_MAX (transport.h). */
	if (data_len > RMX_CONNECT_DATA_MAX) {
		rmx__err("connect to %s: %zu bytes of connect data, at most %d",
			 peer, data_len, RMX_CONNECT_DATA_MAX);
		return -EMSGSIZE;
	}
	ret = rmx__ep_new(p, peer, &ep);
	if (ret)
		return ret;
	ep->handed_out = true;
	timeout = p->cfg->connect_timeout_ms;
	if (params) {
		ep->event_cb = params->event_cb;
		ep->event_arg = params->arg;
		if (params->timeout_ms > 0)
			timeout = (uint32_t)params->timeout_ms;
	}
	rmx__ep_set_deadline(ep, rmx__now_ms() + timeout);
	want_caps(p, &want);
	priv_len = priv_of(p, data_len ? params->connect_data : NULL, data_len,
			   priv);
	ret = p->tp->ops->connect(p->tp, src, sa, &want, priv, priv_len,
				  timeout, ep, &ep->conn);
	if (ret) {
		rmx__err("connect to %s: %s", peer, rmx_strerror(ret));
		p->nconnecting--;
		ep->conn = NULL;
		rmx__ep_free(ep);
		return ret;
	}
	*out = ep;
	return 0;
}

/* Transport upcalls ---------------------------------------------------- */

/* What the peer announced in the handshake bounds what we send it. */
static void take_peer_limits(struct rmx_ep *ep, const struct rmx__conn_priv *cp)
{
	uint32_t mine = ep->p->cfg->eager_max;

	ep->eager_max = cp->eager_max < mine ? cp->eager_max : mine;
	rmx__send_set_peer_rx(ep, cp->rx_credits, cp->rx_max);
}

/* Where the fabric bound this side, for rmx_ep_local_addr(). */
static void take_local_addr(struct rmx_ep *ep, struct rmx__tp_conn *conn)
{
	struct sockaddr_storage ss;

	if (!ep->p->tp->ops->conn_addr(conn, &ss, NULL))
		rmx__addr_format((struct sockaddr *)&ss, ep->local,
				 sizeof(ep->local));
}

static int up_conn_ready(void *upctx, struct rmx__tp_conn *conn)
{
	struct rmx_ep *ep = conn->owner;

	(void)upctx;
	take_local_addr(ep, conn);
	ep->p->tp->ops->conn_caps(conn, &ep->caps);
	rmx__ring_start(ep);
	return 0;
}

static void up_established(void *upctx, struct rmx__tp_conn *conn,
			   const void *priv, size_t priv_len)
{
	struct rmx_ep *ep = conn->owner;
	struct rmx__proto *p = upctx;
	struct rmx__conn_priv cp;
	int ret;

	if (ep->state != RMX_EP_CONNECTING)
		return;
	if (!ep->listener) {
		/* Active side: the acceptor's data arrives only now. */
		ret = rmx__conn_priv_parse(priv, priv_len, &cp);
		if (ret) {
			rmx__ep_fail(ep, ret);
			return;
		}
		take_peer_limits(ep, &cp);
	}
	p->nconnecting--;
	ep->state = RMX_EP_CONNECTED;
	take_local_addr(ep, conn);
	/* From now on the deadline is keepalive's. */
	rmx__ep_liveness_start(ep, rmx__now_ms());
	rmx__info("connected to %s (eager max %u, inline %u)", ep->peer,
		  ep->eager_max, ep->caps.max_inline);
	if (ep->listener) {
		rmx__ep_notify(ep, RMX__EV_ACCEPTED, 0);
	} else {
		rmx__ep_notify(ep, RMX__EV_CONNECTED, 0);
	}
	ret = rmx__recv_deliver(ep);
	if (ret)
		rmx__ep_fail(ep, ret);
}

static void up_closed(void *upctx, struct rmx__tp_conn *conn, int status)
{
	struct rmx_ep *ep = conn->owner;

	(void)upctx;
	if (ep->lingering)
		rmx__ep_linger_end(ep);
	else
		rmx__ep_fail(ep, status);
}

/* *chosen: the listener's filter refused it, by choice, not by failure. */
static int accept_request(struct rmx__proto *p, struct rmx_listener *l,
			  struct rmx__tp_conn *conn, const char *name,
			  const void *priv, size_t priv_len, bool *chosen)
{
	struct rmx__tp_conn_want want;
	uint8_t mine[RMX__CONN_PRIV_MAX];
	struct rmx__conn_priv cp;
	size_t mine_len;
	struct rmx_ep *ep;
	int ret;

	ret = rmx__conn_priv_parse(priv, priv_len, &cp);
	if (ret)
		return ret;
	if (l->filter) {
		ret = l->filter(l->filter_arg, cp.data, cp.data_len);
		if (ret) {
			*chosen = true;
			return ret;
		}
	}
	ret = rmx__ep_new(p, name, &ep);
	if (ret)
		return ret;
	ep->listener = l;
	take_peer_limits(ep, &cp);
	ep->peer_data_len = cp.data_len;
	memcpy(ep->peer_data, cp.data, cp.data_len);
	want_caps(p, &want);
	mine_len = priv_of(p, NULL, 0, mine);
	ep->conn = conn;
	ret = p->tp->ops->accept(conn, &want, mine, mine_len, ep);
	if (ret) {
		/* The transport rejects and frees conn itself. */
		ep->conn = NULL;
		p->nconnecting--;
		rmx__ep_free(ep);
		return ret;
	}
	return 0;
}

/*
 * One line per refused request, with the cause the layers below gave; a
 * peer that retries at once is logged again only a second later (its
 * port changes with each attempt: the key is its address alone).
 */
static void log_refusal(struct rmx__proto *p, const char *name, int err,
			const char *why)
{
	const char *colon = strrchr(name, ':');
	char key[RMX_ADDR_STRLEN];
	int held;

	snprintf(key, sizeof(key), "%.*s",
		 (int)(colon ? colon - name : (ptrdiff_t)strlen(name)), name);
	held = rmx__log_limit(p->refusals,
			      sizeof(p->refusals) / sizeof(p->refusals[0]), key,
			      rmx__now_ms());
	if (held < 0)
		return;
	if (held)
		rmx__warn("refused a connection from %s: %s (and %d before it from %s, not logged)",
			  name, *why ? why : rmx_strerror(err), held, key);
	else
		rmx__warn("refused a connection from %s: %s", name,
			  *why ? why : rmx_strerror(err));
}

static int up_request(void *upctx, struct rmx__tp_listener *tpl,
		      struct rmx__tp_conn *conn, const struct sockaddr *peer,
		      const void *priv, size_t priv_len)
{
	struct rmx__proto *p = upctx;
	char name[RMX_ADDR_STRLEN], why[400];
	bool chosen = false;
	int ret, level;

	rmx__addr_format(peer, name, sizeof(name));
	rmx__log_capture_begin(why, sizeof(why));
	ret = accept_request(p, tpl->owner, conn, name, priv, priv_len,
			     &chosen);
	level = rmx__log_capture_end();
	if (ret && chosen)
		rmx__dbg("refusing %s: %s", name, rmx_strerror(ret));
	else if (ret)
		log_refusal(p, name, ret, why);
	else if (level)
		RMX__LOG(level, "%s", why);
	return ret;
}

const struct rmx__tp_upcalls rmx__proto_upcalls = {
	.completion = rmx__proto_completion,
	.conn_ready = up_conn_ready,
	.conn_established = up_established,
	.conn_closed = up_closed,
	.conn_request = up_request,
};

/* Listeners ----------------------------------------------------------- */

void rmx__listener_set_filter(struct rmx_listener *l, rmx__accept_filter fn,
			      void *arg)
{
	l->filter = fn;
	l->filter_arg = arg;
}

int rmx__listen(struct rmx__proto *p, const struct sockaddr *sa,
		rmx_accept_cb cb, void *arg, struct rmx_listener **out)
{
	struct rmx_listener *l = calloc(1, sizeof(*l));
	int ret;

	if (!l)
		return -ENOMEM;
	l->p = p;
	l->cb = cb;
	l->arg = arg;
	ret = p->tp->ops->listen(p->tp, sa, l, &l->tpl);
	if (ret) {
		free(l);
		return ret;
	}
	rmx__list_add_tail(&p->listeners, &l->link);
	*out = l;
	return 0;
}

void rmx__listener_destroy(struct rmx_listener *l)
{
	struct rmx__proto *p = l->p;
	struct rmx__list *n, *next;

	p->tp->ops->listener_close(l->tpl);
	/* Endpoints accepted here but not yet handed out die with it. */
	for (n = p->eps.next; n != &p->eps; n = next) {
		struct rmx_ep *ep = rmx__container_of(n, struct rmx_ep, link);

		next = n->next;
		if (ep->listener != l)
			continue;
		if (ep->state != RMX_EP_CLOSED)
			rmx__ep_shutdown(ep, -ECANCELED, &p->done);
		rmx__ep_free(ep);
	}
	rmx__list_del(&l->link);
	free(l);
}
