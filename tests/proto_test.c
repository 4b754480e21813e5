// SPDX-License-Identifier: BSD-2-Clause
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/context.h"
#include "proto/proto.h"
#include "proto_test.h"

void pt_setup(void)
{
	ck_assert_int_eq(loop_tp_register(), 0);
	setenv("RMX_TRANSPORT", LOOP_TP_NAME, 1);
	setenv("RMX_RX_DEPTH", "8", 1);
	setenv("RMX_TX_DEPTH", "16", 1);
	setenv("RMX_EAGER_MAX", "256", 1);
	setenv("RMX_KEEPALIVE_MS", "0", 1);
	setenv("RMX_LOG_LEVEL", "none", 0);
}

long pt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct rmx__tp *pt_tp(rmx_context_t *ctx)
{
	return ctx->tp;
}

struct rmx__tp_conn *pt_conn(rmx_ep_t *ep)
{
	return ep->conn;
}

static void on_accept(rmx_listener_t *l, rmx_ep_t *ep, void *arg)
{
	struct pt_pair *pp = arg;

	(void)l;
	pp->accepts++;
	pp->server = ep;
	ck_assert_int_eq(rmx_ep_state(ep), RMX_EP_CONNECTED);
	rmx_ep_set_event_cb(ep, lab_record_event, &pp->sev);
}

static rmx_context_t *context_with(const char *const *env)
{
	char saved[8][80];
	rmx_context_t *ctx;
	int i, ret;

	for (i = 0; env && env[i]; i++) {
		const char *eq = strchr(env[i], '=');
		char name[64];
		const char *old;

		ck_assert(eq && i < 8 && (size_t)(eq - env[i]) < sizeof(name));
		snprintf(name, sizeof(name), "%.*s", (int)(eq - env[i]),
			 env[i]);
		old = getenv(name);
		snprintf(saved[i], sizeof(saved[i]), "%s", old ? old : "");
		setenv(name, eq + 1, 1);
	}
	ret = rmx_context_create(&ctx);
	ck_assert_msg(ret == 0, "rmx_context_create: %s", rmx_strerror(ret));
	/* Back as it was: the other context takes the common settings. */
	for (i = 0; env && env[i]; i++) {
		char name[64];

		snprintf(name, sizeof(name), "%.*s",
			 (int)(strchr(env[i], '=') - env[i]), env[i]);
		if (*saved[i])
			setenv(name, saved[i], 1);
		else
			unsetenv(name);
	}
	return ctx;
}

void pt_start(struct pt_pair *pp, bool two, const char *const *sctx_env)
{
	pt_start_data(pp, two, sctx_env, NULL, 0);
}

void pt_start_data(struct pt_pair *pp, bool two, const char *const *sctx_env,
		   const void *data, size_t len)
{
	struct rmx_ep_params params = { .event_cb = lab_record_event,
					.arg = &pp->cev, .connect_data = data,
					.connect_data_len = len };
	char addr[64];
	int ret;

	memset(pp, 0, sizeof(*pp));
	pp->sctx = context_with(sctx_env);
	pp->cctx = two ? context_with(NULL) : pp->sctx;
	ret = rmx_listen(pp->sctx, "192.0.2.1:0", on_accept, pp,
			 &pp->listener);
	ck_assert_msg(ret == 0, "rmx_listen: %s", rmx_strerror(ret));
	snprintf(addr, sizeof(addr), "192.0.2.1:%d",
		 rmx_listener_port(pp->listener));
	ret = rmx_connect(pp->cctx, addr, &params, &pp->client);
	ck_assert_msg(ret == 0, "rmx_connect: %s", rmx_strerror(ret));
}

void pt_open(struct pt_pair *pp, bool two, const char *const *sctx_env)
{
	pt_start(pp, two, sctx_env);
	pt_wait_count(pp, &pp->cev.count[RMX_EP_EVENT_CONNECTED], 1, 2000);
	pt_wait_count(pp, &pp->accepts, 1, 2000);
	ck_assert_int_eq(rmx_ep_state(pp->client), RMX_EP_CONNECTED);
}

void pt_close(struct pt_pair *pp)
{
	rmx_ep_destroy(pp->client);
	rmx_ep_destroy(pp->server);
	rmx_listener_destroy(pp->listener);
	if (pp->cctx != pp->sctx)
		rmx_context_destroy(pp->cctx);
	rmx_context_destroy(pp->sctx);
	ck_assert_uint_eq(loop_stats.mr_live, 0);
}

static int progress(rmx_context_t *ctx)
{
	int n = rmx_progress(ctx);

	if (n < 0)
		ck_abort_msg("rmx_progress: %s", rmx_strerror(n));
	return n;
}

/*
 * Progresses each context of ctxs until one round handles nothing, then
 * arms them all and sleeps up to ms on their descriptors. Returns whether
 * anything was handled.
 */
static bool step(rmx_context_t *const *ctxs, int n, int ms)
{
	struct pollfd pfd[2];
	int i, handled = 0;

	for (i = 0; i < n; i++)
		handled += progress(ctxs[i]);
	if (handled)
		return true;
	for (i = 0; i < n; i++) {
		int ret = rmx_arm(ctxs[i]);

		if (ret == -EAGAIN)
			return true;
		ck_assert_msg(ret == 0, "rmx_arm: %s", rmx_strerror(ret));
		pfd[i] = (struct pollfd){ .fd = rmx_context_fd(ctxs[i]),
					  .events = POLLIN };
	}
	if (ms > 0 && poll(pfd, (nfds_t)n, ms) < 0)
		ck_abort_msg("poll failed");
	return false;
}

static void wait_count(rmx_context_t *const *ctxs, int n, const int *count,
		       int want, int ms)
{
	long end = pt_now_ms() + ms;

	while (*count < want) {
		long left = end - pt_now_ms();

		if (left <= 0)
			ck_abort_msg("timed out after %d ms (%d of %d)", ms,
				     *count, want);
		step(ctxs, n, left < 20 ? (int)left : 20);
	}
}

static int contexts(const struct pt_pair *pp, rmx_context_t **ctxs)
{
	ctxs[0] = pp->cctx;
	ctxs[1] = pp->sctx;
	return pp->cctx == pp->sctx ? 1 : 2;
}

void pt_wait_count(struct pt_pair *pp, const int *count, int want, int ms)
{
	rmx_context_t *ctxs[2];
	int n = contexts(pp, ctxs);

	wait_count(ctxs, n, count, want, ms);
}

void pt_wait_count_one(rmx_context_t *ctx, const int *count, int want, int ms)
{
	wait_count(&ctx, 1, count, want, ms);
}

void pt_settle(struct pt_pair *pp)
{
	rmx_context_t *ctxs[2];
	int n = contexts(pp, ctxs), rounds;

	for (rounds = 0; step(ctxs, n, 0); rounds++)
		ck_assert_msg(rounds < 100000, "the pair never went idle");
}

void pt_drain(rmx_context_t *ctx)
{
	while (progress(ctx))
		;
}

static void run_for(rmx_context_t *const *ctxs, int n, int ms)
{
	long end = pt_now_ms() + ms, left;

	while ((left = end - pt_now_ms()) > 0)
		step(ctxs, n, left < 20 ? (int)left : 20);
}

void pt_run_for(rmx_context_t *ctx, int ms)
{
	run_for(&ctx, 1, ms);
}

void pt_run_pair_for(struct pt_pair *pp, int ms)
{
	rmx_context_t *ctxs[2];
	int n = contexts(pp, ctxs);

	run_for(ctxs, n, ms);
}

void pt_hold(void *arg, rmx_rpc_req_t *req, const void *data, size_t len)
{
	(void)data;
	(void)len;
	*(rmx_rpc_req_t **)arg = req;
}

void pt_call_cb(void *arg, int status, const void *resp, size_t len)
{
	struct pt_call *c = arg;

	c->done++;
	c->status = status;
	c->len = len;
	c->resp_ptr = resp;
	if (!status && resp)
		memcpy(c->resp, resp,
		       len < sizeof(c->resp) ? len : sizeof(c->resp));
}
