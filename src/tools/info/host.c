// SPDX-License-Identifier: BSD-2-Clause
/*
 * rmx-info: host facts behind how rmx registers memory: each way a
 * userfaultfd can be had (those the library tries, one after the other,
 * for its invalidation monitor), what the kernel offers on it, and the
 * locked-memory limit that bounds the registration cache. Facts for
 * whoever reads the report; whether the monitor starts is the library's
 * to say (rcache.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "report.h"

/* Linux 6.1 and 5.11; older headers lack them. */
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

#define UFFD_EVENTS (UFFD_FEATURE_EVENT_UNMAP | UFFD_FEATURE_EVENT_REMOVE | \
		     UFFD_FEATURE_EVENT_REMAP)

/* UFFDIO_API works once per fd, so the first fd had answers it. */
static void handshake(struct info_uffd *u, int fd, bool *asked)
{
	struct uffdio_api api = { .api = UFFD_API, .features = 0 };

	if (*asked)
		return;
	*asked = true;
	if (ioctl(fd, UFFDIO_API, &api)) {
		u->api = errno;
		return;
	}
	u->api = 0;
	u->features = api.features;
}

static int try_syscall(struct info_uffd *u, int flags, bool *asked)
{
#ifdef SYS_userfaultfd
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | flags);

	if (fd < 0)
		return errno;
	handshake(u, fd, asked);
	close(fd);
	return 0;
#else
	(void)u;
	(void)flags;
	(void)asked;
	return ENOSYS;
#endif
}

static int try_dev(struct info_uffd *u, bool *asked)
{
	int dev, fd, err;

	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return errno;
	fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
	err = errno;
	close(dev);
	if (fd < 0)
		return err;
	handshake(u, fd, asked);
	close(fd);
	return 0;
}

static void probe_uffd(struct info_uffd *u)
{
	bool asked = false;
	FILE *f;

	u->api = ENODEV;	/* until an fd was had */
	u->user_mode_only = try_syscall(u, UFFD_USER_MODE_ONLY, &asked);
	u->all_modes = try_syscall(u, 0, &asked);
	u->dev = try_dev(u, &asked);
	u->unprivileged = -1;
	f = fopen("/proc/sys/vm/unprivileged_userfaultfd", "r");
	if (f) {
		if (fscanf(f, "%d", &u->unprivileged) != 1)
			u->unprivileged = -1;
		fclose(f);
	}
}

bool info_uffd_wp(const struct info_uffd *u)
{
	return u->api == 0 && (u->features & UFFD_FEATURE_PAGEFAULT_FLAG_WP);
}

bool info_uffd_events(const struct info_uffd *u)
{
	return u->api == 0 && (u->features & UFFD_EVENTS) == UFFD_EVENTS;
}

void info_host_probe(struct info_host *h)
{
	memset(h, 0, sizeof(*h));
	probe_uffd(&h->uffd);
	if (getrlimit(RLIMIT_MEMLOCK, &h->memlock))
		h->memlock_err = errno;
}
