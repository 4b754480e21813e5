// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stddef.h>

#include "common/clock.h"
#include "common/connect.h"

/* Longest sleep before *stop and the backstop are looked at again. */
#define SLICE_MS 100

void tool_conn_event(rmx_ep_t *ep, enum rmx_ep_event ev, int status,
		     void *arg)
{
	struct tool_conn *c = arg;

	(void)ep;
	if (ev == RMX_EP_EVENT_CONNECTED)
		c->up = 1;
	else
		c->err = status < 0 ? status : -ECONNRESET;
}

int tool_connect(rmx_context_t *ctx, const char *addr, const char *src,
		 int timeout_ms, int wait_ms, const volatile sig_atomic_t *stop,
		 struct tool_conn *c, rmx_ep_t **ep)
{
	struct rmx_ep_params p = {
		.event_cb = tool_conn_event,
		.arg = c,
		.timeout_ms = timeout_ms,
		.src_addr = src,
	};
	int64_t end = tool_clock_ns() + wait_ms * TOOL_NS_PER_MS;
	int ret;

	c->up = 0;
	c->err = 0;
	*ep = NULL;
	ret = rmx_connect(ctx, addr, &p, ep);
	while (!ret && !c->up && !c->err) {
		if (stop && *stop)
			return -EINTR;
		if (tool_clock_ns() > end)
			return -ETIMEDOUT;
		ret = rmx_wait(ctx, SLICE_MS);
		ret = ret < 0 ? ret : 0;
	}
	return ret ? ret : c->err;
}
