/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The event loop's file descriptors: one epoll set that rmx_context_fd()
 * returns, and one timer for the protocol's deadlines. The loop owns both;
 * a backend adds the fds that signal its events (completion channels,
 * connection managers) and removes them before closing them. Work is not
 * dispatched per fd: a wake-up means "call progress", which polls every
 * source, so the loop only has to make a sleeping caller return.
 */
#ifndef RMX_CORE_LOOP_H
#define RMX_CORE_LOOP_H

#include <stdint.h>

struct rmx__loop {
	int epfd;
	int timerfd;
};

int rmx__loop_init(struct rmx__loop *loop);
void rmx__loop_fini(struct rmx__loop *loop);
/* Readable when a source has events or the timer expired. */
int rmx__loop_fd(const struct rmx__loop *loop);
int rmx__loop_add(struct rmx__loop *loop, int fd);
void rmx__loop_del(struct rmx__loop *loop, int fd);
/*
 * Wakes the loop at deadline_ms (rmx__now_ms() clock; INT64_MAX: never),
 * consuming an earlier expiry. -EAGAIN when the deadline has passed.
 */
int rmx__loop_set_timer(struct rmx__loop *loop, int64_t deadline_ms);
/* Sleeps until an fd is readable or timeout_ms (-1: no limit) passed. */
int rmx__loop_sleep(struct rmx__loop *loop, int timeout_ms);

#endif
