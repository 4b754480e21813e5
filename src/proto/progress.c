// SPDX-License-Identifier: BSD-2-Clause
/* The progress engine: transport events in, user callbacks out. */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>

#include "core/clock.h"
#include "core/log.h"
#include "proto/proto.h"

void rmx__proto_init(struct rmx__proto *p, const struct rmx__config *cfg,
		     struct rmx__tp *tp, struct rmx__mem *mem)
{
	p->cfg = cfg;
	p->tp = tp;
	p->mem = mem;
	rmx__list_init(&p->eps);
	rmx__list_init(&p->listeners);
	rmx__list_init(&p->done);
	rmx__list_init(&p->free_ops);
	p->tab_free = UINT32_MAX;
}

void rmx__proto_fini(struct rmx__proto *p)
{
	struct rmx__list *n;

	while ((n = p->listeners.next) != &p->listeners)
		rmx__listener_destroy(
			rmx__container_of(n, struct rmx_listener, link));
	while ((n = p->eps.next) != &p->eps)
		rmx__ep_destroy(rmx__container_of(n, struct rmx_ep, link));
	rmx__proto_drain(p);
	while ((n = rmx__list_pop(&p->free_ops)))
		free(rmx__container_of(n, struct rmx__op, done.node));
	free(p->tab);
	p->tab = NULL;
}

static void ep_events(struct rmx__proto *p, struct rmx_ep *ep)
{
	unsigned int bits = ep->ev_bits;
	struct rmx_listener *l = ep->listener;

	ep->ev_bits = 0;
	/* A callback may destroy ep: cb_ep turns NULL when it does. */
	p->cb_ep = ep;
	if (bits & RMX__EV_ACCEPTED) {
		ep->listener = NULL;
		ep->handed_out = true;
		if (l->cb)
			l->cb(l, ep, l->arg);
		else
			rmx__ep_destroy(ep);
	}
	if (p->cb_ep && bits & RMX__EV_CONNECTED && ep->event_cb)
		ep->event_cb(ep, RMX_EP_EVENT_CONNECTED, 0, ep->event_arg);
	if (p->cb_ep && bits & RMX__EV_CLOSED && ep->event_cb)
		ep->event_cb(ep, RMX_EP_EVENT_CLOSED, ep->ev_status,
			     ep->event_arg);
	p->cb_ep = NULL;
}

int rmx__proto_drain(struct rmx__proto *p)
{
	struct rmx__list *n;
	int count = 0;

	if (p->in_drain)
		return 0;
	p->in_drain = true;
	while ((n = rmx__list_pop(&p->done))) {
		struct rmx__done *d = rmx__container_of(n, struct rmx__done,
							node);

		count++;
		if (d->kind == RMX__DONE_EP) {
			ep_events(p, rmx__container_of(d, struct rmx_ep, ev));
		} else {
			struct rmx__op *op = (struct rmx__op *)d;
			rmx_comp_cb cb = op->cb;
			void *arg = op->arg;
			int status = op->status;
			size_t len = status ? 0 : op->len;

			if (op->type == RMX__OP_RECV && status == -EMSGSIZE)
				len = op->len;	/* tells how big it was */
			rmx__op_free(p, op);
			if (cb)
				cb(arg, status, len);
		}
	}
	p->in_drain = false;
	return count;
}

int rmx__proto_progress(struct rmx__proto *p)
{
	int n = p->tp->ops->progress(p->tp);

	if (n < 0)
		return n;
	if (p->nconnecting)
		rmx__ep_check_deadlines(p, rmx__now_ms());
	return n + rmx__proto_drain(p);
}

int rmx__proto_wait(struct rmx__proto *p, int timeout_ms)
{
	int64_t end = timeout_ms < 0 ? INT64_MAX : rmx__now_ms() + timeout_ms;
	struct epoll_event ev;
	int n, ret;

	for (;;) {
		int64_t now, wake;
		int ms;

		n = rmx__proto_progress(p);
		if (n)
			return n;
		ret = p->tp->ops->arm(p->tp);
		if (ret == -EAGAIN)
			continue;
		if (ret)
			return ret;
		now = rmx__now_ms();
		if (now >= end)
			return 0;
		wake = rmx__ep_next_deadline(p);
		wake = wake < end ? wake : end;
		ms = wake - now > 60000 ? 60000 : (int)(wake - now);
		if (ms < 0)
			ms = 0;
		ret = epoll_wait(p->tp->ops->fd(p->tp), &ev, 1, ms);
		if (ret < 0 && errno != EINTR)
			return -errno;
	}
}
