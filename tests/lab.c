// SPDX-License-Identifier: BSD-2-Clause
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>

#include "lab.h"

const char *lab_addr(void)
{
	const char *a = getenv("RMX_TEST_ADDR");

	return a && *a ? a : "192.0.2.1";
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void lab_wait_flag(rmx_context_t *ctx, const volatile int *flag, int ms)
{
	lab_wait_count(ctx, flag, 1, ms);
}

void lab_wait_count(rmx_context_t *ctx, const volatile int *count, int want,
		    int ms)
{
	long end = now_ms() + ms;
	int ret;

	/*
	 * Check records the place of every assertion, in CK_FORK=no mode a
	 * write to its temporary file (on the lab's 9p root: slow), so loops
	 * assert only when they fail.
	 */
	while (*count < want) {
		ret = rmx_wait(ctx, 50);
		if (ret < 0)
			ck_abort_msg("rmx_wait: %s", rmx_strerror(ret));
		if (now_ms() >= end)
			ck_abort_msg("timed out after %d ms", ms);
	}
}

int lab_sleep_until(rmx_context_t *ctx, const int *flag, int ms)
{
	struct pollfd pfd = { .fd = rmx_context_fd(ctx), .events = POLLIN };
	int wakeups = 0, ret;

	ck_assert_int_ge(pfd.fd, 0);
	while (!*flag) {
		while ((ret = rmx_progress(ctx)) > 0)
			;
		ck_assert_int_ge(ret, 0);
		if (*flag)
			break;
		ret = rmx_arm(ctx);
		if (ret == -EAGAIN)
			continue;
		ck_assert_int_eq(ret, 0);
		ret = poll(&pfd, 1, ms);
		ck_assert_msg(ret == 1, "no wake-up within %d ms", ms);
		wakeups++;
	}
	return wakeups;
}

void lab_spin(rmx_context_t *ctx, int ms)
{
	long end = now_ms() + ms;

	do {
		int ret = rmx_progress(ctx);

		if (ret < 0)
			ck_abort_msg("rmx_progress: %s", rmx_strerror(ret));
	} while (now_ms() < end);
}

void lab_comp_cb(void *arg, int status, size_t len)
{
	struct lab_comp *c = arg;

	c->done++;
	c->status = status;
	c->len = len;
}

void lab_record_event(rmx_ep_t *ep, enum rmx_ep_event ev, int status,
			 void *arg)
{
	struct lab_events *e = arg;

	(void)ep;
	e->count[ev]++;
	if (ev == RMX_EP_EVENT_CLOSED)
		e->status = status;
}

static void on_accept(rmx_listener_t *l, rmx_ep_t *ep, void *arg)
{
	struct lab_pair *lp = arg;

	(void)l;
	lp->accepts++;
	lp->server = ep;
	ck_assert_int_eq(rmx_ep_state(ep), RMX_EP_CONNECTED);
	ck_assert_int_eq(rmx_ep_set_event_cb(ep, lab_record_event, &lp->sev), 0);
}

void lab_pair_open(struct lab_pair *lp)
{
	struct rmx_ep_params params = { .event_cb = lab_record_event,
					.arg = &lp->cev };
	char addr[80];
	int ret, port;

	memset(lp, 0, sizeof(*lp));
	ret = rmx_context_create(&lp->ctx);
	ck_assert_msg(ret == 0, "rmx_context_create: %s", rmx_strerror(ret));
	snprintf(addr, sizeof(addr), "%s:0", lab_addr());
	ret = rmx_listen(lp->ctx, addr, on_accept, lp, &lp->listener);
	ck_assert_msg(ret == 0, "rmx_listen: %s", rmx_strerror(ret));
	port = rmx_listener_port(lp->listener);
	ck_assert_int_gt(port, 0);
	snprintf(addr, sizeof(addr), "%s:%d", lab_addr(), port);
	ret = rmx_connect(lp->ctx, addr, &params, &lp->client);
	ck_assert_msg(ret == 0, "rmx_connect: %s", rmx_strerror(ret));
	lab_wait_flag(lp->ctx, &lp->cev.count[RMX_EP_EVENT_CONNECTED],
		      10000);
	lab_wait_flag(lp->ctx, &lp->accepts, 10000);
	ck_assert_int_eq(rmx_ep_state(lp->client), RMX_EP_CONNECTED);
}

void lab_pair_close(struct lab_pair *lp)
{
	rmx_ep_destroy(lp->client);
	rmx_ep_destroy(lp->server);
	rmx_listener_destroy(lp->listener);
	rmx_context_destroy(lp->ctx);
}

static uint8_t pattern(size_t off, uint32_t seed)
{
	uint32_t x = (uint32_t)off * 2654435761u ^ seed * 40503u;

	return (uint8_t)(x ^ x >> 13 ^ x >> 24);
}

void lab_fill(void *buf, size_t len, uint32_t seed)
{
	uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = pattern(i, seed);
}

size_t lab_check(const void *buf, size_t len, uint32_t seed)
{
	const uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != pattern(i, seed))
			return i;
	return len;
}

void lab_check_addrs(rmx_ep_t *client, rmx_ep_t *server, const char *listened,
		     char *local)
{
	char cp[RMX_ADDR_STRLEN], sl[RMX_ADDR_STRLEN], sp[RMX_ADDR_STRLEN];

	ck_assert_int_eq(rmx_ep_peer_addr(client, cp, sizeof(cp)), 0);
	ck_assert_str_eq(cp, listened);
	ck_assert_int_eq(rmx_ep_local_addr(client, local, RMX_ADDR_STRLEN), 0);
	ck_assert_int_eq(rmx_ep_peer_addr(server, sp, sizeof(sp)), 0);
	ck_assert_int_eq(rmx_ep_local_addr(server, sl, sizeof(sl)), 0);
	ck_assert_str_eq(local, sp);
	ck_assert_str_eq(sl, cp);
}

void lab_drop_ipc_lock(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	ck_assert_int_eq(syscall(SYS_capget, &hdr, data), 0);
	data[0].effective &= ~(1u << CAP_IPC_LOCK);
	ck_assert_int_eq(syscall(SYS_capset, &hdr, data), 0);
}

void *lab_map(void *at, size_t len, int prot)
{
	void *p = mmap(at, len, prot,
		       MAP_PRIVATE | MAP_ANONYMOUS | (at ? MAP_FIXED : 0), -1,
		       0);

	ck_assert_msg(p != MAP_FAILED, "mmap of %zu bytes failed", len);
	return p;
}

void *lab_map_anon(void *at, size_t len)
{
	return lab_map(at, len, PROT_READ | PROT_WRITE);
}

size_t lab_first_not(const void *buf, size_t len, uint8_t byte)
{
	const uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len && p[i] == byte; i++)
		;
	return i;
}
