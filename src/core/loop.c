// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/loop.h"

int rmx__loop_init(struct rmx__loop *loop)
{
	int ret;

	loop->timerfd = -1;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0)
		return -errno;
	loop->timerfd = timerfd_create(CLOCK_MONOTONIC,
				       TFD_NONBLOCK | TFD_CLOEXEC);
	ret = loop->timerfd < 0 ? -errno : rmx__loop_add(loop, loop->timerfd);
	if (ret)
		rmx__loop_fini(loop);
	return ret;
}

void rmx__loop_fini(struct rmx__loop *loop)
{
	if (loop->timerfd >= 0)
		close(loop->timerfd);
	if (loop->epfd >= 0)
		close(loop->epfd);
	loop->timerfd = loop->epfd = -1;
}

int rmx__loop_fd(const struct rmx__loop *loop)
{
	return loop->epfd;
}

int rmx__loop_add(struct rmx__loop *loop, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

void rmx__loop_del(struct rmx__loop *loop, int fd)
{
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
}

int rmx__loop_set_timer(struct rmx__loop *loop, int64_t deadline_ms)
{
	struct itimerspec its = { { 0, 0 }, { 0, 0 } };
	uint64_t expirations;

	/* Consume a past expiry so the fd stops reading as ready. */
	if (read(loop->timerfd, &expirations, sizeof(expirations)) < 0 &&
	    errno != EAGAIN)
		return -errno;
	if (deadline_ms != INT64_MAX) {
		if (deadline_ms <= rmx__now_ms())
			return -EAGAIN;
		its.it_value.tv_sec = deadline_ms / 1000;
		its.it_value.tv_nsec = (deadline_ms % 1000) * 1000000;
	}
	if (timerfd_settime(loop->timerfd, TFD_TIMER_ABSTIME, &its, NULL))
		return -errno;
	return 0;
}

int rmx__loop_sleep(struct rmx__loop *loop, int timeout_ms)
{
	struct epoll_event ev;

	if (epoll_wait(loop->epfd, &ev, 1, timeout_ms) < 0 && errno != EINTR)
		return -errno;
	return 0;
}
