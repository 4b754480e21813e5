// SPDX-License-Identifier: BSD-2-Clause
/*
 * Endpoint deadlines: connection setup, and liveness of connected peers.
 *
 * Keepalive asks the peer's device, not the peer: where the transport can
 * (RMX__TP_CAP_PEER_PROBE), an endpoint with no completion for
 * RMX_KEEPALIVE_MS posts a probe, which a peer busy computing answers as
 * well as an idle one, and which fails only when its process or node is
 * gone. Traffic needs no probe: its own completions say the same.
 *
 * The application-level check (a ping the peer's progress engine answers,
 * closing with -ETIMEDOUT when nothing came for the timeout) runs only
 * when asked for with RMX_PEER_TIMEOUT_MS, or as keepalive itself over a
 * transport that cannot probe.
 */
#include <errno.h>

#include "core/log.h"
#include "proto/proto.h"

/* The application-level timeout in force for ep; 0: none. */
static uint32_t peer_timeout(const struct rmx_ep *ep)
{
	const struct rmx__config *cfg = ep->p->cfg;

	if (cfg->peer_timeout_ms)
		return cfg->peer_timeout_ms;
	/* Without probes, keepalive is the ping: fail after twice its period. */
	if (!(ep->p->tp->caps & RMX__TP_CAP_PEER_PROBE))
		return 2 * cfg->keepalive_ms;
	return 0;
}

static bool probes(const struct rmx_ep *ep)
{
	return ep->p->cfg->keepalive_ms &&
	       ep->p->tp->caps & RMX__TP_CAP_PEER_PROBE;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* A step closed the endpoint, which may be gone: touch it no more. */
#define FAILED INT64_MIN

void rmx__ep_heard(struct rmx_ep *ep)
{
	/* Later than before: the cached earliest deadline stays a bound. */
	ep->heard_ms = ep->alive_ms = ep->p->now_ms;
	ep->ping_sent = false;
}

void rmx__ep_liveness_start(struct rmx_ep *ep, int64_t now)
{
	ep->heard_ms = ep->alive_ms = now;
	ep->deadline_ms = INT64_MAX;
	ep->probe_out = ep->ping_sent = false;
	if (probes(ep))
		ep->deadline_ms = now + ep->p->cfg->keepalive_ms;
	if (peer_timeout(ep))
		ep->deadline_ms = min64(ep->deadline_ms,
					now + peer_timeout(ep) / 2);
	rmx__ep_set_deadline(ep, ep->deadline_ms);
}

void rmx__ep_probed(struct rmx_ep *ep, int status)
{
	ep->probe_out = false;
	if (status) {
		rmx__err("%s: keepalive probe failed: %s", ep->peer,
			 rmx_strerror(status));
		rmx__ep_fail(ep, status);
		return;
	}
	ep->alive_ms = ep->p->now_ms;
	rmx__ep_set_deadline(ep, min64(ep->deadline_ms,
				       ep->alive_ms + ep->p->cfg->keepalive_ms));
}

/* Probes the peer's device when nothing completed for a period. */
static int64_t probe_step(struct rmx_ep *ep, int64_t now)
{
	int64_t due = ep->alive_ms + ep->p->cfg->keepalive_ms;
	int ret;

	if (ep->probe_out)
		return INT64_MAX;	/* its completion sets the next one */
	if (now < due)
		return due;
	ret = ep->p->tp->ops->post_probe(ep->conn, 0);
	if (ret) {
		rmx__err("cannot probe %s: %s", ep->peer, rmx_strerror(ret));
		rmx__ep_fail(ep, ret);
		return FAILED;
	}
	ep->probe_out = true;
	return INT64_MAX;
}

/* The application-level check: ping halfway, then give up. */
static int64_t ping_step(struct rmx_ep *ep, int64_t now, uint32_t timeout)
{
	int64_t ping_at = ep->heard_ms + timeout / 2;
	int ret;

	if (now >= ep->heard_ms + timeout) {
		rmx__err("%s silent for %u ms: closing", ep->peer, timeout);
		rmx__ep_fail(ep, -ETIMEDOUT);
		return FAILED;
	}
	if (ep->ping_sent || now < ping_at)
		return ep->ping_sent ? ep->heard_ms + timeout : ping_at;
	ep->ping_sent = true;
	ret = rmx__send_ping(ep);
	if (ret) {
		rmx__ep_fail(ep, ret);
		return FAILED;
	}
	return ep->heard_ms + timeout;
}

/* A connected endpoint's deadline passed: false when it closed. */
static bool liveness_step(struct rmx_ep *ep, int64_t now)
{
	uint32_t timeout = peer_timeout(ep);
	int64_t next = INT64_MAX, t;

	if (timeout) {
		next = ping_step(ep, now, timeout);
		if (next == FAILED)
			return false;
	}
	if (probes(ep)) {
		t = probe_step(ep, now);
		if (t == FAILED)
			return false;
		next = min64(next, t);
	}
	ep->deadline_ms = next;
	return true;
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
			if (!liveness_step(ep, now))
				continue;
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
