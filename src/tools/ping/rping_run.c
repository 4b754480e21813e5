// SPDX-License-Identifier: BSD-2-Clause
/*
 * rping's protocol, as rdma-core's rping speaks it, over librdmacm and
 * libibverbs directly: rping's messages carry no rmx headers.
 *
 * Each message is a 16-byte send { be64 addr; be32 rkey; be32 len }. Per
 * ping the client sends its source buffer's descriptor, the server RDMA
 * READs the source and answers with a go-ahead (16 bytes, content
 * ignored); the client sends its sink buffer's descriptor, the server RDMA
 * WRITEs the data there and sends a second go-ahead; the client compares
 * (-V). The client ends by disconnecting.
 *
 * One thread serves everything: the CM channel and every connection's CQ
 * channels are polled together, so a persistent server handles clients
 * side by side, and every wait for the peer has a deadline. This file is
 * that loop; rping_conn.h says where the rest is.
 */
#include <errno.h>
#include <stdlib.h>

#include "common/clock.h"
#include "common/msg.h"
#include "rping_conn.h"

static int build_pfds(struct rping *rp)
{
	size_t n = 1;
	struct conn *c;

	for (c = rp->conns; c; c = c->next)
		n += 2;
	if (n > rp->pfd_cap) {
		struct pollfd *p = realloc(rp->pfd, n * 2 * sizeof(*p));

		if (!p)
			return -ENOMEM;
		rp->pfd = p;
		rp->pfd_cap = n * 2;
	}
	n = 0;
	rp->pfd[n++] = (struct pollfd){ .fd = rp->ch->fd, .events = POLLIN };
	for (c = rp->conns; c; c = c->next) {
		if (!c->id || !c->id->qp)
			continue;
		rp->pfd[n++] = (struct pollfd){
			.fd = c->id->send_cq_channel->fd, .events = POLLIN };
		rp->pfd[n++] = (struct pollfd){
			.fd = c->id->recv_cq_channel->fd, .events = POLLIN };
	}
	return (int)n;
}

/* Milliseconds to the nearest deadline, and at most a second. */
static int poll_timeout(struct rping *rp)
{
	/* At least once a second, a look at ping_stop. */
	int64_t now = tool_clock_ns(), t = 1000 * TOOL_NS_PER_MS;
	struct conn *c;

	for (c = rp->conns; c; c = c->next)
		if (c->state != ST_DONE && c->deadline - now < t)
			t = c->deadline - now;
	/* Rounded up: woken before the deadline, the loop only polls again. */
	return t < 0 ? 0 : (int)((t + TOOL_NS_PER_MS - 1) / TOOL_NS_PER_MS);
}

static void check_deadlines(struct rping *rp)
{
	int64_t now = tool_clock_ns();
	struct conn *c;

	for (c = rp->conns; c; c = c->next) {
		if (c->state == ST_DONE || now < c->deadline)
			continue;
		if (c->state == ST_CLOSING) {
			c->state = ST_DONE;	/* the peer may be gone: enough */
		} else if (c->flushed) {
			c->flushed = 0;		/* so that the failure is said */
			rping_conn_fail(c, -ECONNRESET, "connection lost (work requests flushed) while waiting for %s",
					rping_state_what[c->state]);
			c->state = ST_DONE;
		} else {
			rping_conn_fail(c, -ETIMEDOUT, "no answer in %d ms while waiting for %s",
					rp->o->timeout_ms, rping_state_what[c->state]);
		}
	}
}

static void stop_all(struct rping *rp)
{
	struct conn *c;

	for (c = rp->conns; c; c = c->next) {
		/* A client finishes its ping first (rping_client_ping()). */
		if (!rp->o->server && c->state >= ST_GO_READ && !rp->fatal)
			continue;
		rping_conn_close(c);
	}
}

static void reap(struct rping *rp)
{
	struct conn **pp = &rp->conns, *c;

	while ((c = *pp)) {
		if (c->state != ST_DONE) {
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		if (c->status && !rp->status)
			rp->status = c->status;
		if (rp->o->server)
			DBG(rp, "client %s done after %ld pings\n", c->peer, c->pings);
		rping_conn_free(c);
	}
}

static int finished(const struct rping *rp)
{
	if (rp->conns)
		return 0;
	if (!rp->o->server || rp->fatal || ping_stop)
		return 1;
	return !rp->o->persistent && rp->served;
}

static int run(struct rping *rp)
{
	struct conn *c;
	int n, ret;

	for (;;) {
		if (ping_stop || rp->fatal)
			stop_all(rp);
		reap(rp);
		if (finished(rp))
			return 0;
		n = build_pfds(rp);
		if (n < 0)
			return n;
		if (poll(rp->pfd, (nfds_t)n, poll_timeout(rp)) < 0 &&
		    errno != EINTR)
			return -errno;
		for (c = rp->conns; c; c = c->next)
			if (c->id && c->id->qp && c->state != ST_DONE) {
				rping_poll_cq(c, c->id->recv_cq_channel,
					      c->id->recv_cq);
				rping_poll_cq(c, c->id->send_cq_channel,
					      c->id->send_cq);
			}
		ret = rping_cm_events(rp);
		if (ret)
			rp->fatal = ret;
		check_deadlines(rp);
	}
}

int ping_rping_run(const struct ping_opts *o)
{
	struct rping rp = { .o = o };
	int ret;

	rp.ch = rdma_create_event_channel();
	if (!rp.ch) {
		ret = -errno;
		tool_err("rdma_create_event_channel: %s (no RDMA device or rdma_ucm not loaded?)",
			 strerror(errno));
		return ret;
	}
	ret = rping_set_nonblock(rp.ch->fd);
	if (!ret)
		ret = o->server ? rping_server_start(&rp) :
				  rping_client_start(&rp);
	if (!ret)
		ret = run(&rp);
	if (ret)
		rp.fatal = ret;
	/* Whatever is left (an error above): no goodbyes, just free. */
	while (rp.conns) {
		struct conn *c = rp.conns;

		rp.conns = c->next;
		rping_conn_free(c);
	}
	if (rp.listen)
		rdma_destroy_id(rp.listen);
	rdma_destroy_event_channel(rp.ch);
	free(rp.pfd);
	if (rp.fatal)
		return rp.fatal;
	return rp.status;
}
