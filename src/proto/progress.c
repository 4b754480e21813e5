// SPDX-License-Identifier: BSD-2-Clause
/* The progress engine: transport events in, user callbacks out. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "proto/proto.h"

/* Transport behaviour the protocol cannot do without (yet). */
#define PROTO_NEEDS (RMX__TP_CAP_ORDERED | RMX__TP_CAP_LOCAL_MR)

int rmx__proto_init(struct rmx__proto *p, const struct rmx__config *cfg,
		    struct rmx__loop *loop, struct rmx__tp *tp,
		    struct rmx__mem *mem)
{
	memset(p, 0, sizeof(*p));
	p->cfg = cfg;
	p->loop = loop;
	p->tp = tp;
	p->mem = mem;
	rmx__list_init(&p->eps);
	rmx__list_init(&p->lingering);
	rmx__list_init(&p->listeners);
	rmx__list_init(&p->done);
	rmx__list_init(&p->free_ops);
	p->tab_free = UINT32_MAX;
	p->next_deadline = INT64_MAX;
	p->on_msg[RMX__MSG_ATS] = rmx__rndv_on_ats;
	rmx__list_init(&p->tx_waiting);
	rmx__rxpool_init(p);
	rmx__bufpool_init(&p->tx_bufs, mem, RMX__WIRE_HDR_SIZE + cfg->eager_max,
			  cfg->tx_bufs, 0);
	if (cfg->rx_grant > cfg->rx_depth) {
		rmx__err("RMX_RX_GRANT (%u) is more than RMX_RX_DEPTH (%u), the most a peer may hold; lower it or raise RMX_RX_DEPTH",
			 cfg->rx_grant, cfg->rx_depth);
		return -EINVAL;
	}
	if ((tp->caps & PROTO_NEEDS) != PROTO_NEEDS) {
		rmx__err("transport %s lacks %s%s, which rmx's protocol needs; use another RMX_TRANSPORT",
			 tp->ops->name,
			 tp->caps & RMX__TP_CAP_ORDERED ? "" : "in-order delivery per connection ",
			 tp->caps & RMX__TP_CAP_LOCAL_MR ? "" : "local registrations");
		return -EOPNOTSUPP;
	}
	if (tp->max_priv < RMX__CONN_PRIV_MAX) {
		rmx__err("transport %s carries %u bytes in a connect, rmx's handshake needs %u; use another RMX_TRANSPORT",
			 tp->ops->name, tp->max_priv,
			 (unsigned int)RMX__CONN_PRIV_MAX);
		return -EOPNOTSUPP;
	}
	return 0;
}

/*
 * The BYEs of destroyed endpoints go before their connections do: an
 * application that destroys its endpoints and then the context at once
 * still closes cleanly. Bounded by RMX__LINGER_MS, whatever the peers do.
 */
static void drain_lingering(struct rmx__proto *p)
{
	int64_t end = rmx__now_ms() + RMX__LINGER_MS, left;
	struct rmx__list *n;

	/* Only the transport's fds may wake the sleep below. */
	if (!rmx__list_empty(&p->lingering))
		rmx__loop_set_timer(p->loop, INT64_MAX);
	while (!rmx__list_empty(&p->lingering) &&
	       (left = end - rmx__now_ms()) > 0) {
		if (p->tp->ops->progress(p->tp) < 0)
			break;
		if (!rmx__list_empty(&p->lingering) && !p->tp->ops->arm(p->tp) &&
		    rmx__loop_sleep(p->loop, (int)left))
			break;
	}
	while ((n = p->lingering.next) != &p->lingering)
		rmx__ep_linger_end(rmx__container_of(n, struct rmx_ep, link));
}

void rmx__proto_fini(struct rmx__proto *p)
{
	struct rmx__list *n;

	while ((n = p->listeners.next) != &p->listeners)
		rmx__listener_destroy(
			rmx__container_of(n, struct rmx_listener, link));
	while ((n = p->eps.next) != &p->eps)
		rmx__ep_destroy(rmx__container_of(n, struct rmx_ep, link));
	drain_lingering(p);
	rmx__proto_run(p, &p->done);
	if (p->upper)
		p->upper->fini(p);
	while ((n = rmx__list_pop(&p->free_ops)))
		free(rmx__container_of(n, struct rmx__op, done.node));
	free(p->tab);
	p->tab = NULL;
	/* Still posted to the transport: it is closed after, unpolled. */
	rmx__rxpool_fini(p);
	rmx__bufpool_fini(&p->tx_bufs);
}

int rmx__proto_progress(struct rmx__proto *p)
{
	int n;

	if (p->running) {
		rmx__err("rmx_progress called from a callback");
		return -EDEADLK;
	}
	p->now_ms = rmx__now_ms_coarse();
	n = p->tp->ops->progress(p->tp);
	if (n < 0)
		return n;
	rmx__ep_check_deadlines(p, p->now_ms);
	if (p->upper)
		p->upper->check_deadlines(p, p->now_ms);
	return n + rmx__proto_run(p, &p->done);
}

/* Sets the loop's timer to the next endpoint or call deadline. */
static int arm_timer(struct rmx__proto *p)
{
	int64_t next = rmx__ep_next_deadline(p);
	int64_t call = p->upper ? p->upper->next_deadline(p) : INT64_MAX;

	return rmx__loop_set_timer(p->loop, call < next ? call : next);
}

int rmx__proto_arm(struct rmx__proto *p)
{
	int ret;

	/* Callbacks due without a transport event would never wake the fd. */
	if (!rmx__list_empty(&p->done))
		return -EAGAIN;
	ret = arm_timer(p);
	return ret ? ret : p->tp->ops->arm(p->tp);
}

int rmx__proto_wait(struct rmx__proto *p, int timeout_ms)
{
	int64_t end = timeout_ms < 0 ? INT64_MAX : rmx__now_ms() + timeout_ms;
	int n, ret;

	for (;;) {
		int64_t left;

		n = rmx__proto_progress(p);
		if (n)
			return n;
		ret = rmx__proto_arm(p);
		if (ret == -EAGAIN)
			continue;
		if (ret)
			return ret;
		left = end - rmx__now_ms();
		if (left <= 0)
			return 0;
		ret = rmx__loop_sleep(p->loop,
				      left > 60000 ? 60000 : (int)left);
		if (ret)
			return ret;
	}
}
