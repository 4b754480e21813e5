/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Helpers for the protocol suites (test_proto_*.c): contexts on the
 * loop transport (loop_tp.h), opened through the public API, and the
 * ways to reach under them that fault injection needs.
 */
#ifndef RMX_TESTS_PROTO_TEST_H
#define RMX_TESTS_PROTO_TEST_H

#include <stdbool.h>

#include <rmx/rmx.h>

#include "lab.h"
#include "loop_tp.h"

/*
 * Registers the loop backend and sets the environment of the contexts
 * created next: RMX_TRANSPORT=loop, RMX_RX_DEPTH=8, RMX_TX_DEPTH=16,
 * RMX_EAGER_MAX=256, RMX_KEEPALIVE_MS=0, RMX_LOG_LEVEL=none unless set.
 * A test may change any of them before opening a pair.
 */
void pt_setup(void);

/* A client and a server endpoint, connected. */
struct pt_pair {
	rmx_context_t *cctx, *sctx;	/* the same context, or two */
	rmx_listener_t *listener;
	rmx_ep_t *client, *server;
	int accepts;
	struct lab_events cev, sev;	/* client's, server's */
};

/*
 * Opens the server's context (and the client's, when two), listens,
 * connects and progresses until both endpoints are up. RMX_* variables
 * in sctx_env ("NAME=value", NULL-terminated, may be NULL) apply to the
 * server's context only.
 */
void pt_open(struct pt_pair *pp, bool two, const char *const *sctx_env);
/* The same without waiting: the client is still connecting. */
void pt_start(struct pt_pair *pp, bool two, const char *const *sctx_env);
/* pt_start(), the client sending len bytes of connect data. */
void pt_start_data(struct pt_pair *pp, bool two, const char *const *sctx_env,
		   const void *data, size_t len);
void pt_close(struct pt_pair *pp);

/*
 * Progresses both contexts (one when skip is it) until *count reaches
 * want; fails the test after ms. Sleeps on the contexts' descriptors
 * (rmx_arm) when neither has work.
 */
void pt_wait_count(struct pt_pair *pp, const int *count, int want, int ms);
void pt_wait_count_one(rmx_context_t *ctx, const int *count, int want,
		       int ms);
/* Progresses both until neither has anything to do. */
void pt_settle(struct pt_pair *pp);
/* Drains ctx as rmx_arm(3) says: rmx_progress() until it returns 0. */
void pt_drain(rmx_context_t *ctx);
/* Progresses ctx alone for ms milliseconds, sleeping when idle. */
void pt_run_for(rmx_context_t *ctx, int ms);
/* Progresses both for ms milliseconds, sleeping when neither has work. */
void pt_run_pair_for(struct pt_pair *pp, int ms);

/* What lies under the public handles. */
struct rmx__tp *pt_tp(rmx_context_t *ctx);
struct rmx__tp_conn *pt_conn(rmx_ep_t *ep);

/* Milliseconds of CLOCK_MONOTONIC. */
long pt_now_ms(void);

/* A completion of an RPC call, with a copy of the response. */
struct pt_call {
	int done;
	int status;
	size_t len;
	unsigned char resp[256];
	const void *resp_ptr;
};

/* An rmx_rpc_handler that keeps the request in *(rmx_rpc_req_t **)arg. */
void pt_hold(void *arg, rmx_rpc_req_t *req, const void *data, size_t len);

/* An rmx_rpc_cb recording into the struct pt_call at arg. */
void pt_call_cb(void *arg, int status, const void *resp, size_t len);

#endif
