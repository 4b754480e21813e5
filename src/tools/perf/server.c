// SPDX-License-Identifier: BSD-2-Clause
/*
 * rmx-perf server: waits for one client, follows its setup messages (test,
 * size, window) and plays the passive or echoing side of each test until
 * the client says it is done, then exits, as perftest's servers do.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/connect.h"
#include "common/msg.h"
#include "perf.h"

struct server {
	const struct perf_opts *o;
	FILE *out;		/* stdout, or stderr under --json */
	rmx_context_t *ctx;
	rmx_listener_t *listener;
	rmx_ep_t *ep;
	struct tool_conn conn;	/* the client's endpoint: why it closed */
	int err;		/* first failure */
	const char *err_what;
	rmx_rpc_req_t *setup_req;	/* handled from the main loop */
	uint8_t setup_msg[PERF_SETUP_SIZE];
	size_t setup_len;
	rmx_rpc_req_t *done_req;
	int test;		/* -1 until the first setup */
	int window;
	size_t max_size, size;
	char *sbuf, *rbuf;
	rmx_mem_t *mem;
	rmx_remote_t peer;	/* the client's buffer (put_lat) */
	uint8_t expect;		/* put_lat: the last byte of the next ping */
	int put_pending;
	int finishing;		/* done: cancellations are expected now */
	int rounds;
};

static void fail(struct server *s, int status, const char *what)
{
	if (s->finishing && status == -ECANCELED)
		return;
	if (!s->err) {
		s->err = status;
		s->err_what = what;
	}
}

/* One client per run, as perftest: any other peer is turned away. */
static int adopt(struct server *s, rmx_ep_t *ep)
{
	if (!ep || (s->ep && s->ep != ep))
		return 0;
	if (!s->ep) {
		s->ep = ep;
		rmx_ep_set_event_cb(ep, tool_conn_event, &s->conn);
	}
	return 1;
}

static void on_accept(rmx_listener_t *l, rmx_ep_t *ep, void *arg)
{
	(void)l;
	if (!adopt(arg, ep))
		rmx_ep_destroy(ep);
}

/*
 * Requests must come from our client. The first one may come before the
 * accept callback (nothing orders the two), so it may adopt its endpoint.
 */
static int ours(struct server *s, rmx_rpc_req_t *req)
{
	if (adopt(s, rmx_rpc_req_ep(req)))
		return 1;
	rmx_rpc_respond(req, -EBUSY, NULL, 0, NULL, NULL);
	return 0;
}

static void on_setup(void *arg, rmx_rpc_req_t *req, const void *data,
		     size_t len)
{
	struct server *s = arg;

	if (!ours(s, req))
		return;
	if (s->setup_req || len != PERF_SETUP_SIZE) {
		rmx_rpc_respond(req, -EPROTO, NULL, 0, NULL, NULL);
		fail(s, -EPROTO, "malformed setup message");
		return;
	}
	memcpy(s->setup_msg, data, len);
	s->setup_len = len;
	s->setup_req = req;
}

static void on_done(void *arg, rmx_rpc_req_t *req, const void *data,
		    size_t len)
{
	struct server *s = arg;

	(void)data;
	(void)len;
	if (ours(s, req))
		s->done_req = req;
}

static void on_sent(void *arg, int status, size_t len)
{
	(void)len;
	if (status)
		fail(arg, status, "sending");
}

static void on_bench(void *arg, rmx_rpc_req_t *req, const void *data,
		     size_t len)
{
	struct server *s = arg;
	int ret;

	(void)data;
	if (!ours(s, req))
		return;
	if (!s->sbuf || len > s->max_size) {
		rmx_rpc_respond(req, -EMSGSIZE, NULL, 0, NULL, NULL);
		fail(s, -EMSGSIZE, "RPC request larger than the setup said");
		return;
	}
	/* Same size back; sbuf outlives any rendezvous read of it. */
	ret = rmx_rpc_respond(req, 0, s->sbuf, len, on_sent, s);
	if (ret)
		fail(s, ret, "rmx_rpc_respond");
}

static void on_put(void *arg, int status, size_t len)
{
	struct server *s = arg;

	(void)len;
	s->put_pending = 0;
	if (status)
		fail(s, status, "rmx_put");
}

static void on_recv(void *arg, int status, size_t len)
{
	struct server *s = arg;
	int ret;

	if (status) {
		fail(s, status, "rmx_recv");
		return;
	}
	if (s->test == PERF_SEND_LAT) {
		ret = rmx_send(s->ep, s->sbuf, len, on_sent, s);
		if (ret) {
			fail(s, ret, "rmx_send");
			return;
		}
	}
	/* All receives share one buffer: the data is not looked at. */
	ret = rmx_recv(s->ep, s->rbuf, s->max_size, on_recv, s);
	if (ret)
		fail(s, ret, "rmx_recv");
}

/* The first setup fixes the test and sizes the buffers for the whole run. */
static int first_setup(struct server *s, const struct perf_setup *su)
{
	int i, ret = 0;

	s->test = su->test;
	s->window = su->window;
	s->max_size = su->max_size;
	s->sbuf = perf_alloc(s->max_size);
	s->rbuf = perf_alloc(s->max_size);
	if (!s->sbuf || !s->rbuf)
		return -ENOMEM;
	switch (s->test) {
	case PERF_PUT_LAT:
	case PERF_PUT_BW:
	case PERF_GET_LAT:
	case PERF_GET_BW:
		ret = rmx_mem_reg(s->ctx, s->rbuf, s->max_size,
				  RMX_MEM_REMOTE_READ | RMX_MEM_REMOTE_WRITE,
				  &s->mem);
		break;
	case PERF_SEND_LAT:
	case PERF_SEND_BW:
		/* Preposted receives of the largest size serve every round. */
		for (i = 0; !ret && i < s->window; i++)
			ret = rmx_recv(s->ep, s->rbuf, s->max_size, on_recv, s);
		break;
	}
	if (!s->o->json)
		fprintf(s->out, " Client asked for %s, up to %zu bytes\n",
			perf_tests[s->test].name, s->max_size);
	return ret;
}

static int handle_setup(struct server *s)
{
	uint8_t packed[RMX_REMOTE_PACKED_SIZE];
	rmx_rpc_req_t *req = s->setup_req;
	rmx_remote_t mine = { 0 };
	struct perf_setup su;
	int ret;

	s->setup_req = NULL;
	ret = perf_setup_unpack(&su, s->setup_msg, s->setup_len);
	if (ret) {
		s->err_what = "bad setup message from the client";
	} else if (s->o->test >= 0 && (int)su.test != s->o->test) {
		tool_err("the client asked for %s, this server runs %s",
			 perf_tests[su.test].name, perf_tests[s->o->test].name);
		ret = -EINVAL;
		s->err_what = "setup";
	} else if (s->test >= 0 && ((int)su.test != s->test ||
				    su.max_size != s->max_size)) {
		ret = -EINVAL;
		s->err_what = "the client changed the test within a run";
	} else if (s->test < 0) {
		ret = first_setup(s, &su);
		s->err_what = "setting up";
	}
	if (!ret && s->mem)
		ret = rmx_mem_remote(s->mem, &mine);
	if (!ret)
		ret = rmx_remote_pack(&mine, packed, sizeof(packed));
	if (ret) {
		rmx_rpc_respond(req, ret, NULL, 0, NULL, NULL);
		return ret;
	}
	s->size = su.size;
	s->peer = su.remote;
	if (s->test == PERF_PUT_LAT) {
		/* Both sides clear the polled byte and count from 1 again. */
		memset(s->rbuf, 0, s->size);
		s->expect = 1;
	}
	s->rounds++;
	ret = rmx_rpc_respond(req, 0, packed, sizeof(packed), on_sent, s);
	s->err_what = "answering the setup";
	return ret;
}

/* put_lat: write back once the client's write has landed. */
static int pong(struct server *s)
{
	volatile uint8_t *flag = (volatile uint8_t *)s->rbuf + s->size - 1;
	int ret;

	if (s->put_pending || *flag != s->expect)
		return 0;
	s->sbuf[s->size - 1] = s->expect;
	s->expect = s->expect == 255 ? 1 : s->expect + 1;
	ret = rmx_put(s->ep, s->sbuf, s->size, &s->peer, 0, on_put, s);
	s->put_pending = !ret;
	s->err_what = "rmx_put";
	return ret;
}

/* put_lat: watch the polled byte a while between progress calls. */
static void watch_flag(struct server *s)
{
	volatile uint8_t *flag = (volatile uint8_t *)s->rbuf + s->size - 1;
	unsigned int n;
	int ret;

	if (s->put_pending || s->setup_req)
		return;
	for (n = 0; n < 16 && *flag != s->expect; n++)
		;
	ret = pong(s);
	if (ret && !s->err)
		s->err = ret;
}

static int serve(struct server *s)
{
	int64_t end;
	int ret = 0, busy;

	while (!ret && !s->done_req) {
		/*
		 * Echoing tests busy-poll like the client; for one-sided
		 * tests the server has nothing to do but keepalive.
		 */
		busy = s->test == PERF_PUT_LAT || s->test == PERF_SEND_LAT ||
		       s->test == PERF_RPC_LAT || s->test == PERF_SEND_BW ||
		       s->test == PERF_RPC_RATE;
		if (s->test == PERF_PUT_LAT && s->size)
			watch_flag(s);
		ret = busy ? rmx_progress(s->ctx) : rmx_wait(s->ctx, 100);
		if (ret < 0) {
			s->err_what = "rmx_progress";
			break;
		}
		ret = 0;
		if (s->conn.err) {
			s->err_what = "connection to the client lost";
			return s->conn.err;
		}
		if (s->err)
			return s->err;
		if (s->setup_req)
			ret = handle_setup(s);
		else if (s->test == PERF_PUT_LAT && s->size)
			ret = pong(s);
	}
	if (ret)
		return ret;
	s->finishing = 1;
	ret = rmx_rpc_respond(s->done_req, 0, NULL, 0, NULL, NULL);
	/*
	 * The client closes first once it has the answer: closing here
	 * could overtake the answer on its way into the client's hands.
	 */
	end = tool_clock_ns() + 3 * TOOL_NS_PER_S;
	while (!ret && !s->conn.err && tool_clock_ns() < end)
		if (rmx_wait(s->ctx, 10) < 0)
			break;
	return 0;
}

int perf_server(const struct perf_opts *o)
{
	struct server s = { .o = o, .test = -1 };
	char addr[32];
	int ret;

	s.out = o->json ? stderr : stdout;
	ret = rmx_context_create(&s.ctx);
	s.err_what = "rmx_context_create";
	if (!ret)
		ret = rmx_rpc_register(s.ctx, PERF_RPC_SETUP, on_setup, &s);
	if (!ret)
		ret = rmx_rpc_register(s.ctx, PERF_RPC_DONE, on_done, &s);
	if (!ret)
		ret = rmx_rpc_register(s.ctx, PERF_RPC_BENCH, on_bench, &s);
	if (ret)
		goto out;
	/* The IPv6 wildcard takes IPv4 clients too, where the host allows. */
	snprintf(addr, sizeof(addr), "[::]:%d", o->port);
	ret = rmx_listen(s.ctx, addr, on_accept, &s, &s.listener);
	if (ret && ret != -EADDRINUSE) {
		snprintf(addr, sizeof(addr), "0.0.0.0:%d", o->port);
		ret = rmx_listen(s.ctx, addr, on_accept, &s, &s.listener);
	}
	if (ret) {
		s.err_what = addr;
		goto out;
	}
	fprintf(s.out, PERF_RULE " rmx-perf server, test %s, listening on %s\n"
		" Waiting for client to connect...\n",
		o->test >= 0 ? perf_tests[o->test].name : "as the client asks",
		addr);
	fflush(s.out);
	/* Like perftest's servers, wait for a client as long as it takes. */
	s.err_what = "waiting for a client";
	while (!s.ep) {
		ret = rmx_wait(s.ctx, 1000);
		if (ret < 0)
			goto out;
	}
	rmx_listener_destroy(s.listener);
	s.listener = NULL;
	ret = serve(&s);
	if (!ret) {
		fprintf(s.out, " Served %d size%s of %s\n" PERF_RULE,
			s.rounds, s.rounds == 1 ? "" : "s",
			s.test >= 0 ? perf_tests[s.test].name : "nothing");
		fflush(s.out);
	}
out:
	if (ret)
		tool_err("server: %s: %s", s.err_what, rmx_strerror(ret));
	if (s.ep)
		rmx_ep_destroy(s.ep);
	rmx_listener_destroy(s.listener);
	if (s.mem)
		rmx_mem_dereg(s.mem);
	if (s.ctx)
		rmx_context_destroy(s.ctx);
	free(s.sbuf);
	free(s.rbuf);
	return ret ? 1 : 0;
}
