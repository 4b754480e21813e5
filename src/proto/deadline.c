// SPDX-License-Identifier: BSD-2-Clause
/* Endpoint deadlines: connection setup, and keepalive of connected peers. */
#include <errno.h>

#include "core/log.h"
#include "proto/proto.h"

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

/* A BYE not completed in time: the peer may see an error close. */
static void check_lingering(struct rmx__proto *p, int64_t now)
{
	struct rmx__list *n, *next;

	for (n = p->lingering.next; n != &p->lingering; n = next) {
		struct rmx_ep *ep = rmx__container_of(n, struct rmx_ep, link);

		next = n->next;
		if (now < ep->deadline_ms) {
			if (ep->deadline_ms < p->next_deadline)
				p->next_deadline = ep->deadline_ms;
			continue;
		}
		rmx__info("goodbye to %s not delivered in %d ms: disconnecting",
			  ep->peer, RMX__LINGER_MS);
		rmx__ep_linger_end(ep);
	}
}

void rmx__ep_check_deadlines(struct rmx__proto *p, int64_t now)
{
	struct rmx__list *n, *next;

	if (now < p->next_deadline)
		return;
	p->next_deadline = INT64_MAX;
	check_lingering(p, now);
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
