// SPDX-License-Identifier: BSD-2-Clause
/*
 * Due callbacks: operations' completions, endpoint events, and the
 * upper layer's own, run in order from one list.
 */
#include <errno.h>

#include "proto/proto.h"

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
		l->cb(l, ep, l->arg);
	}
	if (p->cb_ep && bits & RMX__EV_CONNECTED && ep->event_cb)
		ep->event_cb(ep, RMX_EP_EVENT_CONNECTED, 0, ep->event_arg);
	if (p->cb_ep && bits & RMX__EV_CLOSED && ep->event_cb)
		ep->event_cb(ep, RMX_EP_EVENT_CLOSED, ep->ev_status,
			     ep->event_arg);
	p->cb_ep = NULL;
}

static void op_callback(struct rmx__proto *p, struct rmx__op *op)
{
	rmx_comp_cb cb = op->cb;
	void *arg = op->arg;
	int status = op->status;
	size_t len = status ? 0 : op->len;

	/* A receive that met its message and failed tells its size. */
	if (op->type == RMX__OP_RECV && status && op->matched)
		len = op->len;
	if (op->type == RMX__OP_AM) {
		static const char empty;

		/* NULL data means "take it with rmx_am_recv()", even at 0 bytes. */
		op->am_cb(arg, (rmx_am_t *)op,
			  op->am_rndv ? NULL : op->buf ? op->buf : &empty,
			  op->len);
		rmx__am_done(p, op);
		rmx__op_free(p, op);
		return;
	}
	if (op->type == RMX__OP_IMM) {
		rmx_imm_cb imm_cb = op->imm_cb;
		uint32_t imm = op->imm;

		rmx__op_free(p, op);
		imm_cb(arg, imm, len);
		return;
	}
	rmx__op_free(p, op);
	if (cb)
		cb(arg, status, len);
}

int rmx__proto_run(struct rmx__proto *p, struct rmx__list *list)
{
	struct rmx__list *saved = p->running, *n;
	int count = 0;

	/* Callbacks that end more work append to this same list. */
	p->running = list;
	while ((n = rmx__list_pop(list))) {
		struct rmx__done *d = rmx__container_of(n, struct rmx__done,
							node);

		count++;
		if (d->kind == RMX__DONE_EP)
			ep_events(p, rmx__container_of(d, struct rmx_ep, ev));
		else if (d->kind == RMX__DONE_OP)
			op_callback(p, rmx__container_of(d, struct rmx__op,
							 done));
		else
			p->upper->run(p, d);	/* only it makes other kinds */
	}
	p->running = saved;
	return count;
}
