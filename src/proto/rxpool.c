// SPDX-License-Identifier: BSD-2-Clause
/*
 * Receive buffers every endpoint of a context shares, posted to the
 * transport's shared receive queue, and the credits lent from them.
 *
 * Credits stay exact: a peer sends only into buffers counted as its own,
 * so the shared queue never runs dry whatever the other peers do. Each
 * endpoint holds a grant: RMX_RX_GRANT buffers at least, the part of the
 * pinned memory that grows with the number of peers. A peer that runs
 * down to the credit it keeps for credit messages is busy: it is lent
 * more from the context's spare (RMX_RX_POOL), up to RMX_RX_DEPTH, and
 * while another busy peer waits for some, lent buffers its messages free
 * go to that one instead of back to it. For every endpoint
 *   rx_grant = peer_credits + rx_owed + buffers it holds unreposted,
 * and the grants of all never exceed the buffers posted.
 */
#include <errno.h>

#include "core/log.h"
#include "proto/proto.h"

/*
 * How long credits of a freed endpoint's peer stay reserved: messages it
 * sent into them may still arrive (within the transport's retries).
 */
#define LIMBO_MS 3000

/* Buffers posted (or held by an endpoint): new ones not yet posted are not. */
static uint32_t posted(const struct rmx__rxpool *rx)
{
	return rx->bufs.n - rx->bufs.nfree;
}

static uint32_t spare(const struct rmx__rxpool *rx)
{
	return posted(rx) - rx->granted - rx->limbo;
}

static int post(struct rmx__proto *p, uint32_t idx)
{
	struct rmx__bufpool *bp = &p->rx.bufs;

	return p->tp->ops->post_recv(p->tp, rmx__bufpool_buf(bp, idx),
				     bp->size, rmx__bufpool_mr(bp, idx), idx);
}

void rmx__rxpool_init(struct rmx__proto *p)
{
	rmx__bufpool_init(&p->rx.bufs, p->mem,
			  RMX__WIRE_HDR_SIZE + p->cfg->eager_max,
			  p->tp->max_recv, RMX__TP_LOCAL_WRITE);
}

void rmx__rxpool_fini(struct rmx__proto *p)
{
	rmx__bufpool_fini(&p->rx.bufs);
}

/* Posts the buffers grow() just added. */
static int post_new(struct rmx__proto *p)
{
	struct rmx__bufpool *bp = &p->rx.bufs;
	int ret;

	while (bp->nfree) {
		ret = post(p, bp->free[bp->nfree - 1]);
		if (ret) {
			rmx__err("posting a shared receive: %s",
				 rmx_strerror(ret));
			return -EIO;
		}
		bp->nfree--;
	}
	return 0;
}

int rmx__rx_join(struct rmx_ep *ep)
{
	struct rmx__proto *p = ep->p;
	struct rmx__rxpool *rx = &p->rx;
	uint32_t base = p->cfg->rx_grant;
	/* What the grant needs, and the context's spare on top. */
	uint32_t need = rx->granted + rx->limbo + base;
	uint32_t keep = p->cfg->rx_pool + (rx->neps + 1) * base + rx->limbo;
	int ret;

	if (rx->limbo && p->now_ms >= rx->limbo_until)
		rx->limbo = 0;
	ret = rmx__bufpool_grow(&rx->bufs, need > keep ? need : keep);
	/* What grow() added, even if it failed later; a post error wins. */
	ret = post_new(p) ?: ret;
	/* Less spare than RMX_RX_POOL asks is no reason to refuse a peer. */
	if (ret && ret != -EIO && posted(rx) >= need)
		ret = 0;
	if (ret == -ENOSPC) {
		rmx__err("%s's shared receive queue holds %u buffers, all granted to %u endpoints; lower RMX_RX_GRANT (%u) or RMX_RX_POOL (%u)",
			 p->tp->ops->device_name(p->tp), rx->bufs.max, rx->neps,
			 base, p->cfg->rx_pool);
		return -ENOMEM;
	}
	if (ret && ret != -EIO) {
		rmx__err("message buffers cannot be registered beyond %llu bytes for receives: %s; raise the locked-memory limit (ulimit -l), or lower RMX_RX_GRANT (%u each endpoint), RMX_RX_POOL (%u) or RMX_EAGER_MAX (%u)",
			 (unsigned long long)rmx__bufpool_bytes(&rx->bufs),
			 rmx_strerror(ret), base, p->cfg->rx_pool,
			 p->cfg->eager_max);
	}
	if (ret)
		return ret;	/* a refused post said so itself */
	ep->rx_grant = ep->peer_credits = base;
	rx->granted += base;
	rx->neps++;
	return 0;
}

void rmx__rx_release(struct rmx__proto *p, uint32_t idx)
{
	int ret = post(p, idx);

	/* Only a broken device refuses: the queue has room for all. */
	if (ret)
		rmx__err("reposting a shared receive: %s; its buffer is lost",
			 rmx_strerror(ret));
}

void rmx__rx_drop(struct rmx_ep *ep)
{
	while (ep->arr_count) {
		rmx__rx_release(ep->p, ep->arrived[ep->arr_head].slot);
		ep->arr_head = (ep->arr_head + 1) % ep->arr_cap;
		ep->arr_count--;
	}
}

void rmx__rx_leave(struct rmx_ep *ep)
{
	struct rmx__rxpool *rx = &ep->p->rx;

	if (!ep->rx_grant)
		return;		/* never joined */
	rmx__rx_drop(ep);
	rx->granted -= ep->rx_grant;
	rx->neps--;
	if (ep->rx_wants)
		rx->nwant--;
	if (ep->peer_credits) {
		rx->limbo += ep->peer_credits;
		rx->limbo_until = ep->p->now_ms + LIMBO_MS;
	}
	ep->rx_grant = ep->peer_credits = 0;
	ep->rx_wants = false;
}

void rmx__rx_orphan(struct rmx__proto *p, uint32_t idx)
{
	if (p->rx.limbo)
		p->rx.limbo--;
	rmx__rx_release(p, idx);
}

/*
 * Lends the peer more buffers, as many as the context has to spare up
 * to RMX_RX_GRANT at a time; short of that it waits for more (rx_wants).
 */
static void lend(struct rmx_ep *ep)
{
	struct rmx__proto *p = ep->p;
	struct rmx__rxpool *rx = &p->rx;
	uint32_t want = p->cfg->rx_grant, room = p->cfg->rx_depth - ep->rx_grant;
	uint32_t k;

	if (rx->limbo && p->now_ms >= rx->limbo_until)
		rx->limbo = 0;
	if (want > room)
		want = room;
	k = want < spare(rx) ? want : spare(rx);
	ep->rx_grant += k;
	rx->granted += k;
	ep->rx_owed += k;
	if (k < want && !ep->rx_wants) {
		ep->rx_wants = true;
		rx->nwant++;
	} else if (k == want && ep->rx_wants) {
		ep->rx_wants = false;
		rx->nwant--;
	}
}

int rmx__rx_arrived(struct rmx_ep *ep)
{
	if (!ep->peer_credits) {
		rmx__err("%s sent a message beyond its credits: closing",
			 ep->peer);
		return -EPROTO;
	}
	/* Down to the credit it keeps for credit messages: it is busy. */
	if (--ep->peer_credits <= 1 && ep->rx_grant < ep->p->cfg->rx_depth)
		lend(ep);
	return 0;
}

/*
 * Peers that wait for buffers get one taken back from `from`, in the
 * order they connected; from itself may be waiting, but not for its own.
 */
static void lend_to_waiting(struct rmx__proto *p, struct rmx_ep *from)
{
	struct rmx__list *n, *next;

	for (n = p->eps.next; n != &p->eps && spare(&p->rx); n = next) {
		struct rmx_ep *w = rmx__container_of(n, struct rmx_ep, link);

		/* Failing may free w (an endpoint not yet handed out). */
		next = n->next;
		if (!w->rx_wants || w == from)
			continue;
		lend(w);
		/* Its peer waits for these credits: tell it now. */
		rmx__send_pump_or_fail(w);
	}
}

int rmx__rx_repost(struct rmx_ep *ep, uint32_t idx)
{
	struct rmx__proto *p = ep->p;
	int ret = post(p, idx);

	if (ret)
		return ret;
	/* Another busy peer waits: a lent buffer goes to it instead. */
	if (p->rx.nwant > (ep->rx_wants ? 1u : 0u) &&
	    ep->rx_grant > p->cfg->rx_grant) {
		ep->rx_grant--;
		p->rx.granted--;
		lend_to_waiting(p, ep);
		return 0;
	}
	ep->rx_owed++;
	return 0;
}
