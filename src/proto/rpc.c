// SPDX-License-Identifier: BSD-2-Clause
/*
 * RPC over an endpoint's messages: calls matched to responses by a 64-bit
 * id, deadlines, handlers by rpc id. Payloads that fit a message travel
 * in it; larger ones are read by the receiver (rendezvous), so neither
 * side copies them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "proto/proto.h"
#include "proto/wire.h"

#define CALLS_MIN 64u

static const char empty;

/* The call table ------------------------------------------------------ */

static struct rmx__rpc_call *call_of(struct rmx__list *hash_node)
{
	return rmx__container_of(hash_node, struct rmx__rpc_call, hash);
}

/* Keeps the load at most one call per bucket. */
static int calls_reserve(struct rmx_ep *ep)
{
	uint32_t old = ep->calls ? ep->calls_mask + 1 : 0, n, i;
	struct rmx__list *t, *node;

	if (ep->ncalls < old)
		return 0;
	n = old ? old * 2 : CALLS_MIN;
	t = malloc(n * sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		rmx__list_init(&t[i]);
	for (i = 0; i < old; i++)
		while ((node = rmx__list_pop(&ep->calls[i])))
			rmx__list_add_tail(&t[call_of(node)->id & (n - 1)],
					   node);
	free(ep->calls);
	ep->calls = t;
	ep->calls_mask = n - 1;
	return 0;
}

static struct rmx__rpc_call *call_find(const struct rmx_ep *ep, uint64_t id)
{
	struct rmx__list *head, *n;

	if (!ep->calls)
		return NULL;
	head = &ep->calls[id & ep->calls_mask];
	for (n = head->next; n != head; n = n->next)
		if (call_of(n)->id == id)
			return call_of(n);
	return NULL;
}

/*
 * Ends a call: its callback becomes due on `to`. While its response is
 * being read into the caller's buffer it only records why, and ends
 * when the read does, so the buffer is never written after the callback.
 */
static void call_end(struct rmx__rpc_call *c, int status, struct rmx__list *to)
{
	struct rmx__proto *p = c->ep->p;
	struct rmx__op *op = c->send_op;

	rmx__heap_del(&p->call_timers, &c->timer);
	if (c->read_op) {
		if (!c->late_status)
			c->late_status = status;
		return;
	}
	if (c->late_status)
		status = c->late_status;
	rmx__list_del(&c->hash);
	c->ep->ncalls--;
	if (op) {
		/*
		 * A request still queued never leaves; one on the wire
		 * finishes alone, keeping a rendezvous buffer registered
		 * until the peer has read it.
		 */
		c->send_op = NULL;
		op->call = NULL;
		if (op->queued && !op->wr_out)
			rmx__send_unqueue(p, op);
	}
	c->status = status;
	rmx__list_add_tail(to, &c->done.node);
}

/* Sending ------------------------------------------------------------- */

/*
 * Queues an RPC message with len bytes of data; data that fits a message
 * is copied before this returns, so the caller may reuse it at once.
 */
static int rpc_send(struct rmx_ep *ep, uint8_t type,
		    const struct rmx__rpc_hdr *rh, const void *data,
		    size_t len, rmx_comp_cb cb, void *arg,
		    struct rmx__rpc_call *call)
{
	struct rmx__op *op = rmx__op_new(ep->p, RMX__OP_SEND, (void *)data,
					 len, cb, arg);

	if (!op)
		return -ENOMEM;
	/* One that goes out now is copied into a send buffer by the post. */
	if (len && len + RMX__RPC_HDR_SIZE <= rmx__ep_eager_max(ep) &&
	    !rmx__send_now(ep)) {
		op->owned = malloc(len);
		if (!op->owned) {
			rmx__op_free(ep->p, op);
			return -ENOMEM;
		}
		memcpy(op->owned, data, len);
		op->buf = op->owned;
	}
	op->rpc_type = type;
	rmx__rpc_hdr_pack(op->rpc_hdr, rh);
	/* Linked first: posting may fail the endpoint, and so the call. */
	if (call) {
		op->call = call;
		call->send_op = op;
	}
	return rmx__send_enqueue(ep, op);
}

/* A response that carries only a status. */
static int reply_status(struct rmx_ep *ep, uint64_t call_id, int status)
{
	struct rmx__rpc_hdr rh = { .call_id = call_id, .status = status };

	return rpc_send(ep, RMX__MSG_RPC_RESP, &rh, NULL, 0, NULL, NULL, NULL);
}

int rmx__rpc_call(struct rmx_ep *ep, uint16_t rpc_id, const void *req,
		  size_t len, const struct rmx_rpc_params *params,
		  rmx_rpc_cb cb, void *arg, uint64_t *call_id)
{
	struct rmx__proto *p = ep->p;
	struct rmx__rpc_hdr rh = { .rpc_id = rpc_id };
	struct rmx__rpc_call *c;
	int ret;

	if (ep->state == RMX_EP_CLOSED)
		return rmx__ep_closed_error(ep);
	if (len > p->cfg->rpc_max) {
		rmx__err("%zu-byte RPC request exceeds RMX_RPC_MAX (%llu)", len,
			 (unsigned long long)p->cfg->rpc_max);
		return -EMSGSIZE;
	}
	ret = calls_reserve(ep);
	if (ret)
		return ret;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	rmx__list_init(&c->done.node);
	c->done.kind = RMX__DONE_CALL;
	rmx__heap_node_init(&c->timer);
	c->ep = ep;
	c->id = rh.call_id = ++ep->call_next_id;
	c->cb = cb;
	c->arg = arg;
	if (params) {
		c->resp_buf = params->resp_buf;
		c->resp_cap = params->resp_cap;
		if (params->timeout_ms > 0) {
			ret = rmx__heap_add(&p->call_timers, &c->timer,
					    rmx__now_ms() + params->timeout_ms);
			if (ret) {
				free(c);
				return ret;
			}
		}
	}
	rmx__list_add_tail(&ep->calls[c->id & ep->calls_mask], &c->hash);
	ep->ncalls++;
	ret = rpc_send(ep, RMX__MSG_RPC_REQ, &rh, req, len, NULL, NULL, c);
	if (ret) {
		rmx__heap_del(&p->call_timers, &c->timer);
		rmx__list_del(&c->hash);
		ep->ncalls--;
		free(c);
		return ret;
	}
	if (call_id)
		*call_id = c->id;
	return 0;
}

int rmx__rpc_cancel(struct rmx_ep *ep, uint64_t call_id)
{
	struct rmx__rpc_call *c = call_find(ep, call_id);

	if (!c || c->late_status)
		return -ENOENT;
	call_end(c, -ECANCELED, &ep->p->done);
	return 0;
}

int rmx__rpc_respond(struct rmx_rpc_req *req, int status, const void *resp,
		     size_t len, rmx_comp_cb cb, void *arg)
{
	struct rmx__proto *p = req->p;
	struct rmx_ep *ep = rmx__ep_lookup(p, req->ep_id);
	struct rmx__rpc_hdr rh = { .call_id = req->call_id, .status = status };
	int ret;

	rmx__list_del(&req->link);
	free(req);
	if (!ep || ep->state == RMX_EP_CLOSED)
		return ep ? rmx__ep_closed_error(ep) : -ENOTCONN;
	if (status)
		len = 0;
	if (len > p->cfg->rpc_max) {
		rmx__err("%zu-byte RPC response exceeds RMX_RPC_MAX (%llu)",
			 len, (unsigned long long)p->cfg->rpc_max);
		/* Still answered: the caller must not wait forever. */
		ret = reply_status(ep, rh.call_id, -EMSGSIZE);
		return ret ? ret : -EMSGSIZE;
	}
	return rpc_send(ep, RMX__MSG_RPC_RESP, &rh, resp, len, cb, arg, NULL);
}

/* Handlers ------------------------------------------------------------ */

int rmx__rpc_register(struct rmx__proto *p, uint16_t rpc_id,
		      rmx_rpc_handler fn, void *arg)
{
	if (rpc_id >= p->nhandlers) {
		struct rmx__rpc_handler *h;

		if (!fn)
			return 0;
		h = realloc(p->handlers, (rpc_id + 1u) * sizeof(*h));
		if (!h)
			return -ENOMEM;
		memset(h + p->nhandlers, 0,
		       (rpc_id + 1u - p->nhandlers) * sizeof(*h));
		p->handlers = h;
		p->nhandlers = rpc_id + 1u;
	}
	p->handlers[rpc_id].fn = fn;
	p->handlers[rpc_id].arg = arg;
	return 0;
}

static const struct rmx__rpc_handler *handler_of(const struct rmx__proto *p,
						 uint16_t rpc_id)
{
	if (rpc_id >= p->nhandlers || !p->handlers[rpc_id].fn)
		return NULL;
	return &p->handlers[rpc_id];
}

static struct rmx_rpc_req *req_new(struct rmx_ep *ep,
				   const struct rmx__rpc_hdr *rh, size_t len)
{
	struct rmx_rpc_req *req = calloc(1, sizeof(*req));

	if (!req)
		return NULL;
	if (len) {
		req->data = malloc(len);
		if (!req->data) {
			free(req);
			return NULL;
		}
	}
	rmx__list_init(&req->done.node);
	rmx__list_init(&req->link);
	req->done.kind = RMX__DONE_RPC_REQ;
	req->p = ep->p;
	req->ep_id = ep->id;
	req->call_id = rh->call_id;
	req->rpc_id = rh->rpc_id;
	req->len = len;
	return req;
}

static void req_free(struct rmx_rpc_req *req)
{
	rmx__list_del(&req->link);
	free(req->data);
	free(req);
}

/* Arrivals ------------------------------------------------------------ */

static int on_request(struct rmx_ep *ep, const struct rmx__rpc_hdr *rh,
		      const uint8_t *data, size_t len)
{
	struct rmx_rpc_req *req;

	if (!handler_of(ep->p, rh->rpc_id))
		return reply_status(ep, rh->call_id, -ENOSYS);
	req = req_new(ep, rh, len);
	if (!req)
		return reply_status(ep, rh->call_id, -ENOMEM);
	if (len)
		memcpy(req->data, data, len);
	rmx__list_add_tail(&ep->p->done, &req->done.node);
	return 0;
}

/* A large request: read it into a buffer of ours, then run the handler. */
static int on_request_rts(struct rmx_ep *ep, const struct rmx__rpc_hdr *rh,
			  const struct rmx__rts *rts)
{
	struct rmx_rpc_req *req;
	struct rmx__op *rd;

	/* Refusing through the acknowledgement ends the call at the caller. */
	if (!handler_of(ep->p, rh->rpc_id))
		return rmx__rndv_queue_ats(ep, rts->id, -ENOSYS);
	if (rts->len > ep->p->cfg->rpc_max) {
		rmx__err("%llu-byte RPC request from %s exceeds RMX_RPC_MAX",
			 (unsigned long long)rts->len, ep->peer);
		return rmx__rndv_queue_ats(ep, rts->id, -EMSGSIZE);
	}
	req = req_new(ep, rh, rts->len);
	rd = req ? rmx__op_new(ep->p, RMX__OP_GET, req->data, rts->len, NULL,
			       NULL) :
		   NULL;
	if (!rd) {
		if (req)
			req_free(req);
		return rmx__rndv_queue_ats(ep, rts->id, -ENOMEM);
	}
	rd->srv = req;
	rmx__rndv_queue_read(ep, rd, rts);
	return 0;
}

static int on_response(struct rmx_ep *ep, const struct rmx__rpc_hdr *rh,
		       const uint8_t *data, size_t len)
{
	struct rmx__rpc_call *c = call_find(ep, rh->call_id);

	if (!c || c->late_status) {
		rmx__dbg("late response to call %llu from %s dropped",
			 (unsigned long long)rh->call_id, ep->peer);
		return 0;
	}
	if (c->read_op) {
		rmx__err("%s answered call %llu twice", ep->peer,
			 (unsigned long long)rh->call_id);
		return -EPROTO;
	}
	c->resp_len = len;
	if (rh->status) {
		c->resp_len = 0;
		call_end(c, rh->status, &ep->p->done);
		return 0;
	}
	if (c->resp_buf) {
		if (len > c->resp_cap) {
			call_end(c, -EMSGSIZE, &ep->p->done);
			return 0;
		}
		c->resp = c->resp_buf;
	} else if (len) {
		c->resp = malloc(len);
		if (!c->resp) {
			call_end(c, -ENOMEM, &ep->p->done);
			return 0;
		}
		c->resp_owned = true;
	}
	if (len)
		memcpy(c->resp, data, len);
	call_end(c, 0, &ep->p->done);
	return 0;
}

/* Where a large response goes: the caller's buffer, or one of ours. */
static int response_target(struct rmx_ep *ep, struct rmx__rpc_call *c,
			   uint64_t len)
{
	if (c->resp_buf) {
		if (len > c->resp_cap)
			return -EMSGSIZE;
		c->resp = c->resp_buf;
		return 0;
	}
	if (len > ep->p->cfg->rpc_max) {
		rmx__err("%llu-byte RPC response from %s exceeds RMX_RPC_MAX",
			 (unsigned long long)len, ep->peer);
		return -EMSGSIZE;
	}
	c->resp = malloc(len);
	if (!c->resp)
		return -ENOMEM;
	c->resp_owned = true;
	return 0;
}

static int on_response_rts(struct rmx_ep *ep, const struct rmx__rpc_hdr *rh,
			   const struct rmx__rts *rts)
{
	struct rmx__rpc_call *c = call_find(ep, rh->call_id);
	struct rmx__op *rd;
	int ret;

	/* Given up on: the responder still gets its buffer back. */
	if (!c || c->late_status)
		return rmx__rndv_queue_ats(ep, rts->id, -ECANCELED);
	if (c->read_op || rh->status) {
		rmx__err("%s sent a bad large response to call %llu", ep->peer,
			 (unsigned long long)rh->call_id);
		return -EPROTO;
	}
	c->resp_len = rts->len;
	ret = response_target(ep, c, rts->len);
	rd = ret ? NULL :
		   rmx__op_new(ep->p, RMX__OP_GET, c->resp, rts->len, NULL,
			       NULL);
	if (!rd) {
		ret = ret ? ret : -ENOMEM;
		call_end(c, ret, &ep->p->done);
		return rmx__rndv_queue_ats(ep, rts->id, ret);
	}
	rd->call = c;
	c->read_op = rd;
	rmx__rndv_queue_read(ep, rd, rts);
	return 0;
}

static int rpc_on_msg(struct rmx_ep *ep, const struct rmx__wire_hdr *hdr,
		      const uint8_t *payload)
{
	const uint8_t *data = payload + RMX__RPC_HDR_SIZE;
	size_t len = hdr->len - RMX__RPC_HDR_SIZE;
	bool req = hdr->type == RMX__MSG_RPC_REQ;
	struct rmx__rpc_hdr rh;
	struct rmx__rts rts;
	int ret;

	ret = rmx__rpc_hdr_parse(payload, hdr->type, &rh);
	if (ret)
		return ret;
	if (!(hdr->flags & RMX__FLAG_RNDV))
		return req ? on_request(ep, &rh, data, len) :
			     on_response(ep, &rh, data, len);
	rmx__rts_unpack(data, &rts);
	ret = rmx__rndv_check_rts(ep, &rts);
	if (ret)
		return ret;
	return req ? on_request_rts(ep, &rh, &rts) :
		     on_response_rts(ep, &rh, &rts);
}

/* Reads of large payloads end ----------------------------------------- */

static void request_read_end(struct rmx__proto *p, struct rmx_rpc_req *req,
			     const struct rmx__op *rd, int status,
			     struct rmx__list *to)
{
	struct rmx_ep *ep = rmx__ep_lookup(p, req->ep_id);
	int ret;

	if (!ep || ep->state == RMX_EP_CLOSED) {
		req_free(req);
		return;
	}
	ret = rmx__rndv_queue_ats(ep, rd->rndv_id, status);
	if (ret || status) {
		req_free(req);
		if (ret)
			rmx__ep_fail(ep, ret);
		return;
	}
	rmx__list_add_tail(to, &req->done.node);
}

static void response_read_end(struct rmx__rpc_call *c, const struct rmx__op *rd,
			      int status, struct rmx__list *to)
{
	struct rmx_ep *ep = c->ep;
	int ret = 0;

	c->read_op = NULL;
	if (ep->state != RMX_EP_CLOSED)
		ret = rmx__rndv_queue_ats(ep, rd->rndv_id, status);
	call_end(c, status, to);
	if (ret)
		rmx__ep_fail(ep, ret);
}

static void rpc_op_end(struct rmx__proto *p, struct rmx__op *op, int status,
		       struct rmx__list *to)
{
	struct rmx__rpc_call *c = op->call;
	struct rmx_rpc_req *req = op->srv;

	if (!c && !req)
		return;		/* not an RPC's */
	op->call = NULL;
	op->srv = NULL;
	if (req) {
		request_read_end(p, req, op, status, to);
	} else if (c->read_op == op) {
		response_read_end(c, op, status, to);
	} else {
		/* The request is out; only its failure ends the call. */
		c->send_op = NULL;
		if (status)
			call_end(c, status, to);
	}
}

/* Deadlines and teardown ---------------------------------------------- */

static void rpc_check_deadlines(struct rmx__proto *p, int64_t now)
{
	struct rmx__heap_node *t;

	while ((t = rmx__heap_top(&p->call_timers)) && t->key <= now) {
		struct rmx__rpc_call *c = rmx__container_of(
			t, struct rmx__rpc_call, timer);

		rmx__dbg("call %llu to %s timed out", (unsigned long long)c->id,
			 c->ep->peer);
		call_end(c, -ETIMEDOUT, &p->done);
	}
}

static int64_t rpc_next_deadline(const struct rmx__proto *p)
{
	const struct rmx__heap_node *t = rmx__heap_top(&p->call_timers);

	return t ? t->key : INT64_MAX;
}

static void rpc_ep_closed(struct rmx_ep *ep, int status, struct rmx__list *to)
{
	uint32_t i;

	if (!ep->calls)
		return;
	for (i = 0; i <= ep->calls_mask; i++) {
		struct rmx__list *head = &ep->calls[i];

		while (head->next != head) {
			struct rmx__rpc_call *c = call_of(head->next);

			/* Reads ended with the connection; this is a guard. */
			if (c->read_op) {
				c->read_op->call = NULL;
				c->read_op = NULL;
			}
			call_end(c, status, to);
		}
	}
}

static void rpc_ep_fini(struct rmx_ep *ep)
{
	free(ep->calls);
	ep->calls = NULL;
}

static void rpc_run(struct rmx__proto *p, struct rmx__done *d)
{
	const struct rmx__rpc_handler *h;
	struct rmx_rpc_req *req;
	struct rmx_ep *ep;
	char *data;

	if (d->kind == RMX__DONE_CALL) {
		struct rmx__rpc_call *c = rmx__container_of(
			d, struct rmx__rpc_call, done);
		const void *resp = c->status ? NULL : c->resp ? c->resp : &empty;
		size_t len = !c->status || c->status == -EMSGSIZE ? c->resp_len :
								    0;

		c->cb(c->arg, c->status, resp, len);
		if (c->resp_owned)
			free(c->resp);
		free(c);
		return;
	}
	req = rmx__container_of(d, struct rmx_rpc_req, done);
	ep = rmx__ep_lookup(p, req->ep_id);
	if (!ep || ep->state == RMX_EP_CLOSED) {
		req_free(req);	/* nobody to answer */
		return;
	}
	h = handler_of(p, req->rpc_id);
	if (!h) {
		/* Unregistered since it arrived. */
		rmx__rpc_respond(req, -ENOSYS, NULL, 0, NULL, NULL);
		return;
	}
	/* The handler may answer, and so free req, before it returns. */
	data = req->data;
	req->data = NULL;
	rmx__list_add_tail(&p->rpc_open, &req->link);
	h->fn(h->arg, req, data ? data : &empty, req->len);
	free(data);
}

static void rpc_fini(struct rmx__proto *p)
{
	struct rmx__list *n;

	/* Requests the application never answered. */
	while ((n = p->rpc_open.next) != &p->rpc_open)
		req_free(rmx__container_of(n, struct rmx_rpc_req, link));
	free(p->handlers);
	p->handlers = NULL;
	p->nhandlers = 0;
	rmx__heap_fini(&p->call_timers);
}

static const struct rmx__proto_upper rpc_upper = {
	.op_end = rpc_op_end,
	.ep_closed = rpc_ep_closed,
	.ep_fini = rpc_ep_fini,
	.run = rpc_run,
	.check_deadlines = rpc_check_deadlines,
	.next_deadline = rpc_next_deadline,
	.fini = rpc_fini,
};

void rmx__rpc_attach(struct rmx__proto *p)
{
	rmx__list_init(&p->rpc_open);
	p->on_msg[RMX__MSG_RPC_REQ] = rpc_on_msg;
	p->on_msg[RMX__MSG_RPC_RESP] = rpc_on_msg;
	p->upper = &rpc_upper;
}
