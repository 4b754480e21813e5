// SPDX-License-Identifier: BSD-2-Clause
/* Operation records: a free-list pool, and how an operation ends. */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "proto/proto.h"

struct rmx__op *rmx__op_new(struct rmx__proto *p, enum rmx__op_type type,
			    void *buf, size_t len, rmx_comp_cb cb, void *arg)
{
	struct rmx__list *n = rmx__list_pop(&p->free_ops);
	struct rmx__op *op;

	op = n ? rmx__container_of(n, struct rmx__op, done.node) :
		 malloc(sizeof(*op));
	if (!op)
		return NULL;
	memset(op, 0, sizeof(*op));
	rmx__list_init(&op->done.node);
	op->done.kind = RMX__DONE_OP;
	op->type = type;
	op->buf = buf;
	op->len = len;
	op->cb = cb;
	op->arg = arg;
	return op;
}

void rmx__op_free(struct rmx__proto *p, struct rmx__op *op)
{
	rmx__list_add_tail(&p->free_ops, &op->done.node);
}

/* The peer can no longer read what a rendezvous send offered. */
void rmx__op_revoke_offer(struct rmx__proto *p, struct rmx__op *op)
{
	if (op->offered && rmx__mem_dereg_exact(p->mem, op->offered))
		rmx__err("a rendezvous registration could not be released: the peer may still read %zu bytes at %p",
			 op->len, (void *)op->buf);
	op->offered = NULL;
}

/* Moves a finished operation to a list of due callbacks. */
void rmx__op_finish(struct rmx__proto *p, struct rmx__op *op, int status,
		      struct rmx__list *to)
{
	if (!op->status)
		op->status = status;
	rmx__op_revoke_offer(p, op);
	rmx__mem_put(p->mem, op->reg);
	op->reg = NULL;
	free(op->owned);
	op->owned = NULL;
	rmx__list_del(&op->done.node);
	rmx__list_add_tail(to, &op->done.node);
	if (p->upper)
		p->upper->op_end(p, op, op->status, to);
}

void rmx__op_complete(struct rmx__proto *p, struct rmx__op *op, int status)
{
	rmx__op_finish(p, op, status, &p->done);
}
