/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A client endpoint and the wait for it to come up: what rmx-demo,
 * rmx-perf and rmx-ping --rmx each did by hand.
 */
#ifndef RMX_TOOLS_COMMON_CONNECT_H
#define RMX_TOOLS_COMMON_CONNECT_H

#include <signal.h>

#include <rmx/rmx.h>

/* An endpoint's state as its events told it. */
struct tool_conn {
	int up;		/* RMX_EP_EVENT_CONNECTED came */
	int err;	/* why it closed, a negative errno; 0 while open */
};

/* An rmx_ep_event_cb keeping a struct tool_conn (arg) up to date. */
void tool_conn_event(rmx_ep_t *ep, enum rmx_ep_event ev, int status,
		     void *arg);

/*
 * rmx_connect() to addr ("host:port") from src (NULL: any, see
 * rmx_ep_params.src_addr) with tool_conn_event keeping *c,
 * then progress until the endpoint is up. timeout_ms is the connect
 * timeout (0: RMX_CONNECT_TIMEOUT_MS); the library ends a failed attempt
 * with it, and wait_ms only backs that up. Returns 0, or why not: the
 * endpoint's close status, -ETIMEDOUT after wait_ms, -EINTR once *stop
 * (optional) is set, or rmx_connect()'s or rmx_wait()'s error. *ep is
 * the endpoint, also on failure (NULL when rmx_connect() failed): the
 * caller destroys it.
 */
int tool_connect(rmx_context_t *ctx, const char *addr, const char *src,
		 int timeout_ms, int wait_ms, const volatile sig_atomic_t *stop,
		 struct tool_conn *c, rmx_ep_t **ep);

#endif /* RMX_TOOLS_COMMON_CONNECT_H */
