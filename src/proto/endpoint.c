// SPDX-License-Identifier: BSD-2-Clause
/* Endpoint life: connect, accept, fail, destroy; listeners; deadlines. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "core/clock.h"
#include "core/log.h"
#include "proto/proto.h"
#include "proto/wire.h"

#define EP_TAB_MAX 65536u
#define NO_FREE UINT32_MAX

static int tab_grow(struct rmx__proto *p)
{
	uint32_t cap = p->tab_cap ? p->tab_cap * 2 : 16, i;
	struct rmx__ep_slot *t;

	if (p->tab_cap >= EP_TAB_MAX)
		return -EMFILE;
	t = realloc(p->tab, cap * sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (i = p->tab_cap; i < cap; i++) {
		t[i].ep = NULL;
		t[i].gen = 0;
		t[i].next_free = i + 1 < cap ? i + 1 : p->tab_free;
	}
	p->tab_free = p->tab_cap;
	p->tab = t;
	p->tab_cap = cap;
	return 0;
}

static int tab_insert(struct rmx__proto *p, struct rmx_ep *ep)
{
	struct rmx__ep_slot *s;
	uint32_t idx;
	int ret;

	if (p->tab_free == NO_FREE || p->tab_free >= p->tab_cap) {
		ret = tab_grow(p);
		if (ret)
			return ret;
	}
	idx = p->tab_free;
	s = &p->tab[idx];
	p->tab_free = s->next_free;
	s->ep = ep;
	s->gen++;
	ep->id = (uint32_t)s->gen << 16 | idx;
	return 0;
}

static void tab_remove(struct rmx__proto *p, struct rmx_ep *ep)
{
	uint32_t idx = ep->id & 0xffff;

	p->tab[idx].ep = NULL;
	p->tab[idx].next_free = p->tab_free;
	p->tab_free = idx;
}

struct rmx_ep *rmx__ep_lookup(struct rmx__proto *p, uint32_t id)
{
	uint32_t idx = id & 0xffff;

	if (idx >= p->tab_cap || !p->tab[idx].ep ||
	    p->tab[idx].ep->id != id)
		return NULL;
	return p->tab[idx].ep;
}

static void set_deadline(struct rmx_ep *ep, int64_t t)
{
	ep->deadline_ms = t;
	if (t < ep->p->next_deadline)
		ep->p->next_deadline = t;
}

static int ep_new(struct rmx__proto *p, const char *peer,
		  struct rmx_ep **out)
{
	struct rmx_ep *ep = calloc(1, sizeof(*ep));
	int ret;

	if (!ep)
		return -ENOMEM;
	ep->p = p;
	ep->state = RMX_EP_CONNECTING;
	ep->deadline_ms = INT64_MAX;
	snprintf(ep->peer, sizeof(ep->peer), "%s", peer);
	rmx__list_init(&ep->ev.node);
	ep->ev.kind = RMX__DONE_EP;
	rmx__list_init(&ep->tx_queue);
	rmx__list_init(&ep->tx_active);
	rmx__list_init(&ep->recv_posted);
	rmx__list_init(&ep->reading);
	ret = tab_insert(p, ep);
	if (!ret) {
		ret = rmx__ring_setup(ep);
		if (ret) {
			rmx__ring_teardown(ep);
			tab_remove(p, ep);
		}
	}
	if (ret) {
		rmx__err("no endpoint for %s: %s", peer, rmx_strerror(ret));
		free(ep);
		return ret;
	}
	rmx__list_add_tail(&p->eps, &ep->link);
	p->nconnecting++;
	set_deadline(ep, rmx__now_ms() + p->cfg->connect_timeout_ms);
	*out = ep;
	return 0;
}

static void ep_free(struct rmx_ep *ep)
{
	struct rmx__proto *p = ep->p;

	rmx__list_del(&ep->ev.node);
	rmx__list_del(&ep->link);
	tab_remove(p, ep);
	rmx__ring_teardown(ep);
	if (ep->p->upper)
		ep->p->upper->ep_fini(ep);
	if (p->cb_ep == ep)
		p->cb_ep = NULL;
	free(ep);
}

void rmx__ep_notify(struct rmx_ep *ep, unsigned int bits, int status)
{
	if (!ep->ev_bits)
		rmx__list_add_tail(&ep->p->done, &ep->ev.node);
	ep->ev_bits |= bits;
	if (bits & RMX__EV_CLOSED)
		ep->ev_status = status;
}

int rmx__ep_check_open(const struct rmx_ep *ep)
{
	return ep->state == RMX_EP_CLOSED ? rmx__ep_closed_error(ep) : 0;
}

int rmx__ep_closed_error(const struct rmx_ep *ep)
{
	return ep->error ? ep->error : -ENOTCONN;
}

/* Stops the endpoint's traffic; its operations end with status on `to`. */
static void ep_shutdown(struct rmx_ep *ep, int status, struct rmx__list *to)
{
	struct rmx__proto *p = ep->p;

	if (ep->state == RMX_EP_CONNECTING)
		p->nconnecting--;
	ep->state = RMX_EP_CLOSED;
	if (ep->conn) {
		/* Destroying the QP first: no DMA touches buffers after. */
		p->tp->ops->conn_destroy(ep->conn);
		ep->conn = NULL;
	}
	rmx__ep_cancel_ops(ep, status, to);
	if (ep->p->upper)
		ep->p->upper->ep_closed(ep, status, to);
}

void rmx__ep_fail(struct rmx_ep *ep, int err)
{
	if (ep->state == RMX_EP_CLOSED)
		return;
	if (!ep->handed_out) {
		/* An accept that never completed: nobody knows this ep. */
		rmx__info("incoming connection from %s failed: %s", ep->peer,
			  rmx_strerror(err));
		ep_shutdown(ep, err, &ep->p->done);
		ep_free(ep);
		return;
	}
	rmx__info("endpoint %s closed: %s", ep->peer, rmx_strerror(err));
	ep->error = err;
	ep_shutdown(ep, err, &ep->p->done);
	rmx__ep_notify(ep, RMX__EV_CLOSED, err);
}

void rmx__ep_destroy(struct rmx_ep *ep)
{
	struct rmx__proto *p = ep->p;
	struct rmx__list cancelled;

	if (ep->destroying)
		return;
	ep->destroying = true;
	rmx__list_init(&cancelled);
	/* Inside a callback, they join the list being run. */
	if (ep->state != RMX_EP_CLOSED)
		ep_shutdown(ep, -ECANCELED, p->running ? p->running : &cancelled);
	ep_free(ep);
	if (!p->running)
		rmx__proto_run(p, &cancelled);
}

static void priv_of(const struct rmx__proto *p, uint8_t *buf)
{
	struct rmx__conn_priv cp = {
		.version = RMX__WIRE_VERSION,
		.rx_depth = p->cfg->rx_depth,
		.eager_max = p->cfg->eager_max,
	};

	rmx__conn_priv_pack(buf, &cp);
}

static void want_caps(const struct rmx__proto *p, struct rmx__tp_conn_want *c)
{
	c->sq_depth = p->cfg->tx_depth;
	c->rq_depth = p->cfg->rx_depth;
	/* Credits: a receive is posted for every message the peer sends. */
	c->recv_guaranteed = true;
}

int rmx__connect(struct rmx__proto *p, const struct sockaddr *sa,
		 const struct rmx_ep_params *params, struct rmx_ep **out)
{
	struct rmx__tp_conn_want want;
	uint8_t priv[RMX__CONN_PRIV_SIZE];
	char peer[64];
	struct rmx_ep *ep;
	uint32_t timeout;
	int ret;

	rmx__addr_format(sa, peer, sizeof(peer));
	ret = ep_new(p, peer, &ep);
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
	set_deadline(ep, rmx__now_ms() + timeout);
	want_caps(p, &want);
	priv_of(p, priv);
	ret = p->tp->ops->connect(p->tp, sa, &want, priv, sizeof(priv),
				  timeout, ep, &ep->conn);
	if (ret) {
		rmx__err("connect to %s: %s", peer, rmx_strerror(ret));
		p->nconnecting--;
		ep->conn = NULL;
		ep_free(ep);
		return ret;
	}
	*out = ep;
	return 0;
}

void rmx__ep_heard(struct rmx_ep *ep)
{
	uint32_t ka = ep->p->cfg->keepalive_ms;

	/* Later than before: the cached earliest deadline stays a bound. */
	if (ka && ep->state == RMX_EP_CONNECTED) {
		ep->deadline_ms = ep->p->now_ms + ka;
		ep->probe_sent = false;
	}
}

/* A connected endpoint's deadline passed: ping once, then give up. */
static void keepalive_step(struct rmx_ep *ep, int64_t now)
{
	uint32_t ka = ep->p->cfg->keepalive_ms;
	int ret;

	if (ep->probe_sent) {
		rmx__err("%s silent for %u ms: closing", ep->peer, 2 * ka);
		rmx__ep_fail(ep, -ETIMEDOUT);
		return;
	}
	ep->probe_sent = true;
	ep->deadline_ms = now + ka;
	ret = rmx__send_ping(ep);
	if (ret)
		rmx__ep_fail(ep, ret);
}

void rmx__ep_check_deadlines(struct rmx__proto *p, int64_t now)
{
	struct rmx__list *n, *next;

	if (now < p->next_deadline)
		return;
	p->next_deadline = INT64_MAX;
	for (n = p->eps.next; n != &p->eps; n = next) {
		struct rmx_ep *ep = rmx__container_of(n, struct rmx_ep, link);

		next = n->next;	/* failing may free an accepted ep */
		if (ep->state == RMX_EP_CLOSED)
			continue;
		if (now >= ep->deadline_ms) {
			if (ep->state == RMX_EP_CONNECTING) {
				rmx__err("connection with %s not established in time",
					 ep->peer);
				rmx__ep_fail(ep, -ETIMEDOUT);
				continue;
			}
			keepalive_step(ep, now);
		}
		if (ep->state != RMX_EP_CLOSED &&
		    ep->deadline_ms < p->next_deadline)
			p->next_deadline = ep->deadline_ms;
	}
}

int64_t rmx__ep_next_deadline(struct rmx__proto *p)
{
	return p->next_deadline;
}

/* Transport upcalls ---------------------------------------------------- */

/* What the peer announced in the handshake bounds what we send it. */
static void take_peer_limits(struct rmx_ep *ep, const struct rmx__conn_priv *cp)
{
	uint32_t mine = ep->p->cfg->eager_max;

	ep->max_msg = cp->eager_max < mine ? cp->eager_max : mine;
	rmx__send_set_peer_rx(ep, cp->rx_depth);
}

static int up_conn_ready(void *upctx, struct rmx__tp_conn *conn)
{
	struct rmx_ep *ep = conn->owner;

	(void)upctx;
	ep->p->tp->ops->conn_caps(conn, &ep->caps);
	return rmx__ring_start_rx(ep, conn);
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
	/* From now on the deadline is keepalive's. */
	set_deadline(ep, p->cfg->keepalive_ms ?
				 rmx__now_ms() + p->cfg->keepalive_ms :
				 INT64_MAX);
	rmx__info("connected to %s (max message %u, inline %u)", ep->peer,
		  ep->max_msg, ep->caps.max_inline);
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
	(void)upctx;
	rmx__ep_fail(conn->owner, status);
}

static int up_request(void *upctx, struct rmx__tp_listener *tpl,
		      struct rmx__tp_conn *conn, const struct sockaddr *peer,
		      const void *priv, size_t priv_len)
{
	struct rmx_listener *l = tpl->owner;
	struct rmx__proto *p = upctx;
	struct rmx__tp_conn_want want;
	uint8_t mine[RMX__CONN_PRIV_SIZE];
	struct rmx__conn_priv cp;
	struct rmx_ep *ep;
	char name[64];
	int ret;

	rmx__addr_format(peer, name, sizeof(name));
	ret = rmx__conn_priv_parse(priv, priv_len, &cp);
	if (ret) {
		rmx__err("rejecting %s: %s", name, rmx_strerror(ret));
		return ret;
	}
	ret = ep_new(p, name, &ep);
	if (ret)
		return ret;
	ep->listener = l;
	take_peer_limits(ep, &cp);
	want_caps(p, &want);
	priv_of(p, mine);
	ep->conn = conn;
	ret = p->tp->ops->accept(conn, &want, mine, sizeof(mine), ep);
	if (ret) {
		/* The transport rejects and frees conn itself. */
		ep->conn = NULL;
		p->nconnecting--;
		ep_free(ep);
		return ret;
	}
	return 0;
}

const struct rmx__tp_upcalls rmx__proto_upcalls = {
	.completion = rmx__proto_completion,
	.conn_ready = up_conn_ready,
	.conn_established = up_established,
	.conn_closed = up_closed,
	.conn_request = up_request,
};

/* Listeners ----------------------------------------------------------- */

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
			ep_shutdown(ep, -ECANCELED, &p->done);
		ep_free(ep);
	}
	rmx__list_del(&l->link);
	free(l);
}
