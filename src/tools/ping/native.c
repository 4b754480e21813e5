// SPDX-License-Identifier: BSD-2-Clause
/*
 * rmx-ping --rmx: pings through rmx itself, public API only. Each ping is
 * an rmx_rpc_call() carrying -S bytes of rping-style data; the server's
 * handler echoes them. rmx picks eager or rendezvous by size both ways,
 * so a large -S exercises rendezvous and the registration cache. The
 * client times each round trip and ends with ping(8)'s summary.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rmx/rmx.h>

#include "common/clock.h"
#include "common/connect.h"
#include "common/hostport.h"
#include "common/msg.h"
#include "native.h"

#define PING_RPC_ID 1		/* handler tables grow to the largest id */
#define RPC_HDR_LEN 16		/* rmx_rpc_respond(3): payload + this fits eager */
/* Busy-poll a ping this long, then sleep. */
#define SPIN_NS (10 * TOOL_NS_PER_MS)
#define WAIT_SLICE_MS 200	/* longest sleep before looking at ping_stop */

static int open_context(const struct ping_opts *o, rmx_context_t **ctx)
{
	int ret;

	/* -d: rmx says what it does, unless RMX_LOG_LEVEL already asks. */
	if (o->debug)
		setenv("RMX_LOG_LEVEL", "info", 0);
	ret = rmx_context_create(ctx);
	if (ret)
		tool_err("cannot open an RDMA device: %s", rmx_strerror(ret));
	return ret;
}

/* ---- server ---------------------------------------------------------- */

struct server {
	const struct ping_opts *o;
	rmx_context_t *ctx;
	rmx_ep_t **eps;		/* clients being served */
	size_t neps, cap;
	int served;
	int failed;		/* replies that never reached their client */
};

/* A reply owns its copy: rendezvous reads it after the handler returns. */
struct reply {
	struct server *s;
	char data[];
};

static void on_reply_done(void *arg, int status, size_t len)
{
	struct reply *r = arg;

	(void)len;
	if (status < 0) {
		r->s->failed++;
		tool_err("a reply did not reach its client: %s",
			 rmx_strerror(status));
	}
	free(r);
}

static void on_request(void *arg, rmx_rpc_req_t *req, const void *data,
		       size_t len)
{
	struct server *s = arg;
	struct reply *r = malloc(sizeof(*r) + len);
	int ret;

	if (!r) {
		rmx_rpc_respond(req, -ENOMEM, NULL, 0, NULL, NULL);
		return;
	}
	r->s = s;
	memcpy(r->data, data, len);
	if (s->o->verbose)
		printf("server ping data: %.*s\n", (int)strnlen(r->data, len),
		       r->data);
	ret = rmx_rpc_respond(req, 0, r->data, len, on_reply_done, r);
	if (ret) {
		/* No callback follows a refused call. */
		s->failed++;
		tool_err("cannot reply: %s", rmx_strerror(ret));
		free(r);
	}
}

static void on_accept(rmx_listener_t *l, rmx_ep_t *ep, void *arg)
{
	struct server *s = arg;

	(void)l;
	if ((!s->o->persistent && s->served) || ping_stop) {
		rmx_ep_destroy(ep);	/* one client, as rping's server */
		return;
	}
	if (s->neps == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4;
		rmx_ep_t **p = realloc(s->eps, cap * sizeof(*p));

		if (!p) {
			rmx_ep_destroy(ep);
			return;
		}
		s->eps = p;
		s->cap = cap;
	}
	s->eps[s->neps++] = ep;
	s->served++;
	if (s->o->debug) {
		char peer[RMX_ADDR_STRLEN] = "?";

		rmx_ep_peer_addr(ep, peer, sizeof(peer));
		printf("client %d connected from %s\n", s->served, peer);
	}
}

/* Frees the endpoints whose clients left; outside any callback. */
static void reap_clients(struct server *s)
{
	size_t i = 0;

	while (i < s->neps) {
		rmx_ep_t *ep = s->eps[i];

		if (rmx_ep_state(ep) != RMX_EP_CLOSED) {
			i++;
			continue;
		}
		if (s->o->debug)
			printf("a client left: %s\n", rmx_strerror(rmx_ep_error(ep)));
		rmx_ep_destroy(ep);
		s->eps[i] = s->eps[--s->neps];
	}
}

static int run_server(const struct ping_opts *o)
{
	struct server s = { .o = o };
	rmx_listener_t *l = NULL;
	char addr[300];
	size_t i;
	int ret;

	ret = open_context(o, &s.ctx);
	if (ret)
		return ret;
	ret = rmx_rpc_register(s.ctx, PING_RPC_ID, on_request, &s);
	tool_host_port(addr, sizeof(addr), o->addr ? o->addr : "0.0.0.0",
		       o->port);
	if (!ret)
		ret = rmx_listen(s.ctx, addr, on_accept, &s, &l);
	if (ret) {
		tool_err("cannot listen on %s: %s", addr, rmx_strerror(ret));
		goto out;
	}
	if (o->debug)
		printf("listening on %s\n", addr);
	while (!ping_stop) {
		ret = rmx_wait(s.ctx, WAIT_SLICE_MS);
		if (ret < 0) {
			tool_err("%s", rmx_strerror(ret));
			goto out;
		}
		reap_clients(&s);
		if (!o->persistent && s.served && !s.neps)
			break;
	}
	ret = s.failed ? -EIO : 0;
out:
	for (i = 0; i < s.neps; i++)
		rmx_ep_destroy(s.eps[i]);
	rmx_listener_destroy(l);
	rmx_context_destroy(s.ctx);	/* replies still out: their cb frees */
	free(s.eps);
	return ret;
}

/* ---- client ---------------------------------------------------------- */

struct client {
	rmx_context_t *ctx;
	struct tool_conn conn;	/* the endpoint: up, or why it closed */
	int done, status;
	size_t len;
};

static void on_response(void *arg, int status, const void *resp, size_t len)
{
	struct client *c = arg;

	(void)resp;		/* it is in our sink already: resp_buf */
	c->done = 1;
	c->status = status;
	c->len = len;
}

/*
 * Waits for the call to complete: busy-polls for precise times, then
 * sleeps. The call's own deadline ends it; `limit` only backs that up.
 */
static int wait_response(struct client *c, int64_t t0, int64_t limit)
{
	int ret;

	while (!c->done) {
		int64_t t = tool_clock_ns();

		if (t - t0 > limit)
			return -ETIMEDOUT;
		ret = t - t0 < SPIN_NS ? rmx_progress(c->ctx) :
					 rmx_wait(c->ctx, WAIT_SLICE_MS);
		if (ret < 0)
			return ret;
	}
	return 0;
}

struct stats {
	long sent, ok;
	double min, max, sum, sumsq;	/* ms */
};

static void stats_print(const struct stats *st, const char *addr,
			double total_ms)
{
	double avg, mdev;

	printf("--- %s rmx-ping statistics ---\n", addr);
	printf("%ld pings transmitted, %ld received, %g%% loss, time %.0fms\n",
	       st->sent, st->ok,
	       st->sent ? (double)(st->sent - st->ok) * 100 / (double)st->sent : 0.0,
	       total_ms);
	if (!st->ok)
		return;
	avg = st->sum / (double)st->ok;
	mdev = sqrt(fmax(st->sumsq / (double)st->ok - avg * avg, 0.0));
	printf("rtt min/avg/max/mdev = %.3f/%.3f/%.3f/%.3f ms\n", st->min, avg,
	       st->max, mdev);
}

static int connect_server(struct client *c, const struct ping_opts *o,
			  const char *addr, rmx_ep_t **ep)
{
	/* The connect timeout ends a failed attempt; a second backs it up. */
	int ret = tool_connect(c->ctx, addr, o->src, o->timeout_ms,
			       o->timeout_ms + 1000, &ping_stop, &c->conn, ep);

	if (ret && ret != -EINTR)
		tool_err("cannot connect to %s: %s", addr, rmx_strerror(ret));
	return ret;
}

static int one_ping(struct client *c, const struct ping_opts *o,
		    rmx_ep_t *ep, char *start, char *sink, long seq,
		    double *rtt_ms)
{
	struct rmx_rpc_params params = {
		.timeout_ms = o->timeout_ms,
		.resp_buf = sink,
		.resp_cap = o->size,
	};
	int64_t t0;
	int ret;

	ping_fill(start, o->size, seq);
	if (o->validate)
		memset(sink, 0, o->size);	/* so -V proves this echo */
	c->done = 0;
	t0 = tool_clock_ns();
	ret = rmx_rpc_call(ep, PING_RPC_ID, start, o->size, &params,
			   on_response, c, NULL);
	if (!ret)
		ret = wait_response(c, t0,
				    (o->timeout_ms + 2000) * TOOL_NS_PER_MS);
	*rtt_ms = (double)(tool_clock_ns() - t0) / 1e6;
	if (!ret)
		ret = c->status;
	if (ret) {
		tool_err("ping %ld: %s", seq, rmx_strerror(ret));
		return ret;
	}
	if (c->len != o->size) {
		tool_err("ping %ld: %zu bytes came back, not %zu", seq, c->len,
			 o->size);
		return -EBADMSG;
	}
	if (o->validate && memcmp(start, sink, o->size)) {
		tool_err("data mismatch in ping %ld!", seq);
		return -EBADMSG;
	}
	return 0;
}

static int run_client(const struct ping_opts *o)
{
	struct client c = { 0 };
	struct stats st = { .min = INFINITY };
	char *start = NULL, *sink = NULL, addr[300], local[RMX_ADDR_STRLEN];
	rmx_ep_t *ep = NULL;
	size_t eager = 0;
	double rtt;
	int64_t t0;
	long seq;
	int ret;

	tool_host_port(addr, sizeof(addr), o->addr, o->port);
	start = malloc(o->size);
	sink = malloc(o->size);
	if (!start || !sink) {
		free(start);
		free(sink);
		return -ENOMEM;
	}
	ret = open_context(o, &c.ctx);
	if (ret)
		goto out_free;
	ret = connect_server(&c, o, addr, &ep);
	if (ret)
		goto out;
	rmx_ep_max_msg(ep, &eager);
	if (rmx_ep_local_addr(ep, local, sizeof(local)))
		snprintf(local, sizeof(local), "?");
	printf("RMX-PING %s from %s on %s: %zu data bytes per ping, %s (eager limit %zu)\n",
	       addr, local, rmx_context_device(c.ctx), o->size,
	       o->size + RPC_HDR_LEN <= eager ? "eager" : "rendezvous", eager);
	t0 = tool_clock_ns();
	for (seq = 0; !ping_stop && (!o->count || seq < o->count); seq++) {
		st.sent++;
		ret = one_ping(&c, o, ep, start, sink, seq, &rtt);
		if (ret)
			break;
		st.ok++;
		st.sum += rtt;
		st.sumsq += rtt * rtt;
		st.min = fmin(st.min, rtt);
		st.max = fmax(st.max, rtt);
		printf("%zu bytes from %s: seq=%ld time=%.3f ms\n", o->size,
		       addr, seq, rtt);
		if (o->verbose)
			printf("ping data: %.*s\n", (int)strnlen(sink, o->size),
			       sink);
	}
	stats_print(&st, addr, (double)(tool_clock_ns() - t0) / 1e6);
out:
	/* Before the buffers go: it cancels a call still reading them. */
	rmx_ep_destroy(ep);
	rmx_context_destroy(c.ctx);
out_free:
	free(start);
	free(sink);
	return ret;
}

int ping_native_run(const struct ping_opts *o)
{
	return o->server ? run_server(o) : run_client(o);
}
