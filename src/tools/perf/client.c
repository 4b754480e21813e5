// SPDX-License-Identifier: BSD-2-Clause
/*
 * rmx-perf client: connects, tells the server each size's setup, runs the
 * test and prints one result per size. Latency tests run one operation at
 * a time and busy-poll; bandwidth tests keep a window of operations out.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/connect.h"
#include "common/hostport.h"
#include "common/msg.h"
#include "output.h"
#include "perf.h"
#include "stats.h"
#include "timer.h"

struct client {
	const struct perf_opts *o;
	rmx_context_t *ctx;
	rmx_ep_t *ep;
	struct tool_conn conn;	/* up, or why it closed */
	int op_err;		/* first failed completion */
	const char *op_name;	/* of the test's operation */
	const char *stage;	/* what failed, for the message */
	char stage_buf[320];
	int refused;		/* the server answered a setup with an error */
	char *sbuf, *rbuf;	/* max_size each; rbuf is polled (put_lat) */
	size_t max_size, size;
	rmx_mem_t *mem;
	rmx_remote_t remote;	/* the server's buffer */
	int window;
	uint64_t iters;
	int outstanding;
	uint64_t completed;
	int mark;		/* the completion that ends a latency sample */
	uint8_t seq;		/* put_lat: last byte of this round's write */
	int reply_done, reply_status;
	size_t reply_len;
	uint8_t reply[RMX_REMOTE_PACKED_SIZE];
	double *samples;
	uint64_t nsamples, cap;
};

/* A busy-poll loop's bound: PERF_STALL_MS without a completion of ours. */
struct spin {
	double deadline;
	uint64_t seen;		/* completions when last armed */
	unsigned int n;
};

static void fail_op(struct client *c, int status)
{
	if (!c->op_err)
		c->op_err = status;
}

static void account(struct client *c, int status, size_t len)
{
	c->outstanding--;
	if (status)
		fail_op(c, status);
	else if (len != c->size)
		fail_op(c, -EBADMSG);	/* a short transfer is a bug */
	else
		c->completed++;
}

static void on_op(void *arg, int status, size_t len)
{
	account(arg, status, len);
}

static void on_mark(void *arg, int status, size_t len)
{
	struct client *c = arg;

	account(c, status, len);
	c->mark = 1;
}

static void on_rpc(void *arg, int status, const void *resp, size_t len)
{
	struct client *c = arg;

	(void)resp;
	account(c, status, len);
	c->mark = 1;
}

static void on_ctl(void *arg, int status, const void *resp, size_t len)
{
	struct client *c = arg;

	(void)resp;	/* it is c->reply */
	c->reply_done = 1;
	c->reply_status = status;
	c->reply_len = len;
}

static void spin_arm(struct client *c, struct spin *s)
{
	s->deadline = perf_now_us() + PERF_STALL_MS * 1e3;
	s->seen = c->completed;
	s->n = 0;
}

/* One turn of a busy-poll loop: progress, then every way it can end badly. */
static int spin_step(struct client *c, struct spin *s)
{
	int ret = rmx_progress(c->ctx);

	if (ret < 0)
		return ret;
	if (c->conn.err)
		return c->conn.err;
	if (c->op_err)
		return c->op_err;
	if (c->completed != s->seen)
		spin_arm(c, s);
	/* The clock costs more than a poll of an idle queue: look rarely. */
	else if (++s->n % 256 == 0 && perf_now_us() > s->deadline)
		return -ETIMEDOUT;
	return 0;
}

static int spin_idle(struct client *c, struct spin *s)
{
	int ret = 0;

	while (!ret && c->outstanding)
		ret = spin_step(c, s);
	return ret;
}

/* Posts the test's operation; cb says whether it ends a latency sample. */
static int post(struct client *c, rmx_comp_cb cb)
{
	struct rmx_rpc_params p = { .resp_buf = c->rbuf, .resp_cap = c->size };
	int ret;

	switch (c->o->test) {
	case PERF_PUT_LAT:
	case PERF_PUT_BW:
		ret = rmx_put(c->ep, c->sbuf, c->size, &c->remote, 0, cb, c);
		break;
	case PERF_GET_LAT:
	case PERF_GET_BW:
		ret = rmx_get(c->ep, c->rbuf, c->size, &c->remote, 0, cb, c);
		break;
	case PERF_SEND_LAT:
	case PERF_SEND_BW:
		ret = rmx_send(c->ep, c->sbuf, c->size, cb, c);
		break;
	default:
		ret = rmx_rpc_call(c->ep, PERF_RPC_BENCH, c->sbuf, c->size, &p,
				   on_rpc, c, NULL);
		break;
	}
	if (!ret)
		c->outstanding++;
	return ret;
}

/* One latency sample, in microseconds. */
static int lat_one(struct client *c, double *us)
{
	volatile uint8_t *flag = (volatile uint8_t *)c->rbuf + c->size - 1;
	struct spin s;
	double t0, t1;
	unsigned int n;
	int ret = 0;

	c->mark = 0;
	spin_arm(c, &s);
	if (c->o->test == PERF_PUT_LAT) {
		c->seq = c->seq == 255 ? 1 : c->seq + 1;
		c->sbuf[c->size - 1] = c->seq;
		t0 = perf_now_us();
		ret = post(c, on_op);
		/*
		 * The server writes back once it saw our last byte land. Like
		 * ib_write_lat, watch the byte itself and progress (for our
		 * own completions) only now and then.
		 */
		for (n = 0; !ret && *flag != c->seq; n++)
			if (n % 16 == 15)
				ret = spin_step(c, &s);
	} else {
		/* The receive for the pong is posted outside the timing. */
		if (c->o->test == PERF_SEND_LAT) {
			ret = rmx_recv(c->ep, c->rbuf, c->size, on_mark, c);
			c->outstanding += !ret;
		}
		t0 = perf_now_us();
		if (!ret)
			ret = post(c, c->o->test == PERF_SEND_LAT ? on_op : on_mark);
		while (!ret && !c->mark)
			ret = spin_step(c, &s);
	}
	t1 = perf_now_us();
	/* Our own send's completion, if later: its buffer is reused next. */
	if (!ret)
		ret = spin_idle(c, &s);
	*us = (t1 - t0) / (perf_tests[c->o->test].half_rtt ? 2 : 1);
	return ret;
}

static int lat_size(struct client *c, struct perf_lat_result *r)
{
	double end = 0, us;
	int i, ret = 0;

	for (i = 0; !ret && i < PERF_LAT_WARMUP; i++)
		ret = lat_one(c, &us);
	c->nsamples = 0;
	if (c->o->duration)
		end = perf_now_us() + c->o->duration * 1e6;
	while (!ret) {
		if (c->o->duration ? perf_now_us() >= end : c->nsamples == c->iters)
			break;
		if (c->nsamples == c->cap) {
			uint64_t cap = c->cap ? 2 * c->cap : 65536;
			double *p = realloc(c->samples, cap * sizeof(*p));

			if (!p)
				return -ENOMEM;
			c->samples = p;
			c->cap = cap;
		}
		ret = lat_one(c, &c->samples[c->nsamples]);
		c->nsamples += !ret;
	}
	if (ret)
		return ret;
	if (!c->nsamples)
		return -ETIME;	/* -D shorter than one round trip */
	r->bytes = c->size;
	perf_lat_stats(c->samples, c->nsamples, r);
	return 0;
}

static int bw_size(struct client *c, struct perf_bw_result *r)
{
	uint64_t total = c->o->duration ? UINT64_MAX : c->iters, posted = 0;
	uint64_t seen = 0;
	int window = c->window, stop = 0, i, ret = 0;
	double t0, now, last, end = 0;
	struct perf_peak peak;
	struct spin s;

	if (total < (uint64_t)window)
		window = (int)total;
	/* Warm-up: one window, so registrations and queues are in place. */
	spin_arm(c, &s);
	for (i = 0; !ret && i < window; i++)
		ret = post(c, on_op);
	if (!ret)
		ret = spin_idle(c, &s);
	if (ret)
		return ret;
	c->completed = 0;
	t0 = last = now = perf_now_us();
	if (c->o->duration)
		end = t0 + c->o->duration * 1e6;
	perf_peak_start(&peak, t0, window);
	for (;;) {
		while (!stop && c->outstanding < window && posted < total) {
			ret = post(c, on_op);
			if (ret)
				return ret;
			posted++;
		}
		ret = spin_step(c, &s);
		if (ret)
			return ret;
		now = perf_now_us();
		if (c->completed != seen) {
			seen = c->completed;
			last = now;
			perf_peak_update(&peak, now, seen);
		}
		if (c->o->duration && now >= end)
			stop = 1;
		if (!c->outstanding && (stop || posted == total))
			break;
	}
	perf_bw_stats(c->size, c->completed, last - t0, &peak, r);
	return 0;
}

/* A control call to the server, answered into c->reply. */
static int ctl_call(struct client *c, uint16_t id, const void *req,
		    size_t len)
{
	struct rmx_rpc_params p = {
		.timeout_ms = PERF_STALL_MS,
		.resp_buf = c->reply,
		.resp_cap = sizeof(c->reply),
	};
	struct spin s;
	int ret;

	c->reply_done = 0;
	c->reply_len = 0;
	ret = rmx_rpc_call(c->ep, id, req, len, &p, on_ctl, c, NULL);
	spin_arm(c, &s);
	/* The reply counts even when the server closed right after it. */
	while (!ret && !c->reply_done)
		ret = spin_step(c, &s);
	if (!c->reply_done)
		return ret;
	/* A refusal, as opposed to a lost server, is told apart for the message. */
	c->refused = c->reply_status && !c->conn.err &&
		     rmx_ep_state(c->ep) == RMX_EP_CONNECTED;
	return c->reply_status;
}

static int setup_size(struct client *c)
{
	struct perf_setup su = {
		.test = c->o->test,
		.window = c->window,
		.size = c->size,
		.max_size = c->max_size,
	};
	uint8_t msg[PERF_SETUP_SIZE];
	int ret = 0;

	if (c->mem) {
		memset(c->rbuf, 0, c->size);
		c->seq = 0;
		ret = rmx_mem_remote(c->mem, &su.remote);
	}
	if (!ret)
		ret = perf_setup_pack(&su, msg, sizeof(msg));
	if (!ret)
		ret = ctl_call(c, PERF_RPC_SETUP, msg, sizeof(msg));
	if (!ret && c->reply_len != RMX_REMOTE_PACKED_SIZE)
		ret = -EPROTO;
	if (!ret)
		ret = rmx_remote_unpack(&c->remote, c->reply, c->reply_len);
	return ret;
}

/* Operations kept outstanding at size bytes. */
static int window_for(const struct perf_opts *o, size_t size)
{
	size_t w = PERF_MAX_INFLIGHT / size;

	if (!perf_tests[o->test].bw)
		return 1;
	if (o->window_set || w >= (size_t)o->window)
		return o->window;
	return w ? (int)w : 1;
}

static int run(struct client *c, const char *addr, size_t min_size)
{
	const struct perf_test_info *t = &perf_tests[c->o->test];
	struct perf_banner b = {
		.peer = addr,
		.min_size = min_size,
		.max_size = c->max_size,
		.iters = c->o->duration ? 0 : c->iters,
		.warmup = PERF_LAT_WARMUP,
		.window = window_for(c->o, min_size),
	};
	char *stage = c->stage_buf;
	size_t size;
	int ret;

	c->stage = "rmx_context_create";
	ret = rmx_context_create(&c->ctx);
	if (ret)
		return ret;
	c->stage = "allocating buffers";
	c->sbuf = perf_alloc(c->max_size);
	c->rbuf = perf_alloc(c->max_size);
	if (!c->sbuf || !c->rbuf)
		return -ENOMEM;
	if (!c->o->duration && !t->bw) {
		c->samples = malloc(c->iters * sizeof(*c->samples));
		if (!c->samples)
			return -ENOMEM;
		c->cap = c->iters;
	}
	if (c->o->test == PERF_PUT_LAT) {
		c->stage = "rmx_mem_reg";
		ret = rmx_mem_reg(c->ctx, c->rbuf, c->max_size,
				  RMX_MEM_REMOTE_WRITE, &c->mem);
		if (ret)
			return ret;
	}
	snprintf(stage, sizeof(c->stage_buf), "connecting to %s", addr);
	c->stage = stage;
	/* The library's connect timeout ends this; the clock is a backstop. */
	ret = tool_connect(c->ctx, addr, NULL, 0, 3 * PERF_STALL_MS, NULL, &c->conn,
			   &c->ep);
	if (ret)
		return ret;
	rmx_ep_max_msg(c->ep, &b.eager);
	for (size = min_size; size <= c->max_size; size *= 2)
		b.nsizes++;
	perf_print_banner(c->o, &b);
	for (size = min_size; size <= c->max_size; size *= 2) {
		struct perf_lat_result lr;
		struct perf_bw_result br;

		c->size = size;
		c->window = window_for(c->o, size);
		snprintf(stage, sizeof(c->stage_buf), "setup of %zu bytes", size);
		ret = setup_size(c);
		if (ret)
			return ret;
		snprintf(stage, sizeof(c->stage_buf), "%s at %zu bytes", t->name, size);
		if (t->bw)
			ret = bw_size(c, &br);
		else
			ret = lat_size(c, &lr);
		if (ret)
			return ret;
		if (t->bw)
			perf_print_bw(c->o, &br);
		else
			perf_print_lat(c->o, &lr);
	}
	c->stage = "finishing";
	ret = ctl_call(c, PERF_RPC_DONE, NULL, 0);
	if (!ret)
		perf_print_footer(c->o);
	return ret;
}

int perf_client(const struct perf_opts *o)
{
	const struct perf_test_info *t = &perf_tests[o->test];
	struct client c = { .o = o };
	size_t min_size;
	char addr[300];
	int ret;

	c.op_name = o->test == PERF_PUT_LAT || o->test == PERF_PUT_BW ? "rmx_put" :
		    o->test == PERF_GET_LAT || o->test == PERF_GET_BW ? "rmx_get" :
		    o->test == PERF_SEND_LAT || o->test == PERF_SEND_BW ? "rmx_send/rmx_recv" :
		    "rmx_rpc_call";
	c.iters = o->iters ? o->iters : t->bw ? 5000 : 1000;
	if (o->all) {
		min_size = PERF_ALL_MIN;
		c.max_size = PERF_ALL_MAX;
	} else {
		min_size = c.max_size = o->size ? o->size : t->def_size;
	}
	tool_host_port(addr, sizeof(addr), o->server, o->port);
	ret = run(&c, addr, min_size);
	if (ret) {
		if (c.conn.err && c.conn.up)
			tool_err("%s: connection to the server lost: %s", c.stage,
				 rmx_strerror(c.conn.err));
		else if (c.conn.err)
			tool_err("%s: %s", c.stage, rmx_strerror(c.conn.err));
		else if (c.refused)
			tool_err("%s: the server refused: %s (its output says why)",
				 c.stage, rmx_strerror(ret));
		else if (c.op_err)
			tool_err("%s: %s failed: %s", c.stage, c.op_name,
				 rmx_strerror(c.op_err));
		else if (ret == -ETIME)
			tool_err("%s: no iteration finished within -D %g s",
				 c.stage, o->duration);
		else if (ret == -ETIMEDOUT)
			tool_err("%s: %s (no progress for %d s)", c.stage,
				 rmx_strerror(ret), PERF_STALL_MS / 1000);
		else
			tool_err("%s: %s", c.stage, rmx_strerror(ret));
	}
	/* Pending operations end with -ECANCELED here and are not counted. */
	if (c.ep)
		rmx_ep_destroy(c.ep);
	if (c.mem)
		rmx_mem_dereg(c.mem);
	if (c.ctx)
		rmx_context_destroy(c.ctx);
	free(c.sbuf);
	free(c.rbuf);
	free(c.samples);
	return ret ? 1 : 0;
}
