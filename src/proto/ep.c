// SPDX-License-Identifier: BSD-2-Clause
/*
 * Endpoint records: the id table, state, failure, and the end of an
 * endpoint's operations when its connection goes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/clock.h"
#include "core/log.h"
#include "proto/proto.h"

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

void rmx__ep_set_deadline(struct rmx_ep *ep, int64_t t)
{
	ep->deadline_ms = t;
	if (t < ep->p->next_deadline)
		ep->p->next_deadline = t;
}

int rmx__ep_new(struct rmx__proto *p, const char *peer,
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
		/* The caller says so: rmx_connect()'s, or the refusal. */
		rmx__dbg("no endpoint for %s: %s", peer, rmx_strerror(ret));
		free(ep);
		return ret;
	}
	rmx__list_add_tail(&p->eps, &ep->link);
	p->nconnecting++;
	rmx__ep_set_deadline(ep, rmx__now_ms() + p->cfg->connect_timeout_ms);
	*out = ep;
	return 0;
}

void rmx__proto_pinned(const struct rmx__proto *p, size_t *eps,
		       uint64_t *rx_bytes, uint64_t *tx_bytes)
{
	const struct rmx__list *n;

	*eps = 0;
	for (n = p->eps.next; n != &p->eps; n = n->next)
		(*eps)++;
	/* Lingering endpoints still send their goodbye from the pool. */
	for (n = p->lingering.next; n != &p->lingering; n = n->next)
		(*eps)++;
	*rx_bytes = rmx__bufpool_bytes(&p->rx.bufs);
	*tx_bytes = rmx__bufpool_bytes(&p->tx_bufs);
}

static void ep_release(struct rmx_ep *ep)
{
	rmx__list_del(&ep->link);
	rmx__ring_teardown(ep);
	free(ep);
}

void rmx__ep_free(struct rmx_ep *ep)
{
	struct rmx__proto *p = ep->p;

	rmx__list_del(&ep->ev.node);
	tab_remove(p, ep);
	if (ep->p->upper)
		ep->p->upper->ep_fini(ep);
	if (p->cb_ep == ep)
		p->cb_ep = NULL;
	/* Gone for the user; the rings stay while the connection uses them. */
	if (!ep->lingering)
		ep_release(ep);
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

static void cancel_list(struct rmx__proto *p, struct rmx__list *list,
			int status, struct rmx__list *to)
{
	struct rmx__list *n;

	while ((n = list->next) != list) {
		struct rmx__op *op = rmx__container_of(n, struct rmx__op,
						       done.node);

		op->queued = false;
		rmx__op_finish(p, op, status, to);
	}
}

void rmx__ep_cancel_ops(struct rmx_ep *ep, int status, struct rmx__list *to)
{
	uint32_t i;

	cancel_list(ep->p, &ep->tx_queue, status, to);
	cancel_list(ep->p, &ep->tx_active, status, to);
	cancel_list(ep->p, &ep->recv_posted, status, to);
	cancel_list(ep->p, &ep->reading, status, to);
	/* What is still posted (a lingering connection's) ends without one. */
	for (i = 0; i < ep->tx_depth; i++) {
		if (ep->tx[i].op)
			ep->tx[i].op = &ep->credit_op;
		ep->tx[i].rma_bytes = 0;
	}
	ep->rma_inflight = 0;
}

/* Stops the endpoint's traffic; its operations end with status on `to`. */
void rmx__ep_shutdown(struct rmx_ep *ep, int status, struct rmx__list *to)
{
	struct rmx__proto *p = ep->p;

	if (ep->state == RMX_EP_CONNECTING)
		p->nconnecting--;
	ep->state = RMX_EP_CLOSED;
	if (ep->conn && !ep->lingering) {
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
		rmx__ep_shutdown(ep, err, &ep->p->done);
		rmx__ep_free(ep);
		return;
	}
	rmx__info("endpoint %s closed: %s", ep->peer, rmx_strerror(err));
	ep->error = err;
	rmx__ep_shutdown(ep, err, &ep->p->done);
	rmx__rx_drop(ep);	/* nothing is received after an error */
	rmx__ep_notify(ep, RMX__EV_CLOSED, err);
}

/*
 * The peer destroyed its endpoint and said so: closed with status 0 and
 * no error. What was pending here could not complete, so it ends with
 * -ECONNRESET, as after any loss of the connection; what arrived before
 * the BYE can still be received.
 */
void rmx__ep_close_clean(struct rmx_ep *ep)
{
	if (ep->state == RMX_EP_CLOSED)
		return;
	/*
	 * The BYE overtook the CM's word that our accept completed: the
	 * peer was connected, so the application hears of it, and of
	 * what it sent.
	 */
	if (ep->state == RMX_EP_CONNECTING && ep->listener)
		rmx__ep_notify(ep, RMX__EV_ACCEPTED, 0);
	rmx__info("endpoint %s closed by its peer", ep->peer);
	rmx__ep_shutdown(ep, -ECONNRESET, &ep->p->done);
	rmx__ep_notify(ep, RMX__EV_CLOSED, 0);
}

void rmx__ep_linger(struct rmx_ep *ep, struct rmx__list *to)
{
	struct rmx__proto *p = ep->p;

	ep->lingering = true;
	rmx__ep_shutdown(ep, -ECANCELED, to);
	rmx__list_del(&ep->link);
	rmx__list_add_tail(&p->lingering, &ep->link);
	rmx__ep_set_deadline(ep, rmx__now_ms() + RMX__LINGER_MS);
}

void rmx__ep_linger_end(struct rmx_ep *ep)
{
	/* Disconnects: the peer has the BYE, or sees an error close. */
	ep->p->tp->ops->conn_destroy(ep->conn);
	ep_release(ep);
}
