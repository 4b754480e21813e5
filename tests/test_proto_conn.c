// SPDX-License-Identifier: BSD-2-Clause
/*
 * Connections over the loop transport: the peer's identity (addresses,
 * device), a source address, a refusing listener told from an absent
 * one, and how a refused peer that retries is logged; RMX_STATS says
 * what a context still pins when it goes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "proto_test.h"

START_TEST(addresses)
{
	char cl[RMX_ADDR_STRLEN], sp[RMX_ADDR_STRLEN];
	char want[RMX_ADDR_STRLEN], tiny[4];
	struct pt_pair pp;

	pt_setup();
	pt_open(&pp, true, NULL);
	snprintf(want, sizeof(want), "192.0.2.1:%d",
		 rmx_listener_port(pp.listener));
	lab_check_addrs(pp.client, pp.server, want, cl);
	ck_assert_int_eq(rmx_ep_peer_addr(pp.client, tiny, sizeof(tiny)),
			 -ENOSPC);
	ck_assert_str_eq(rmx_context_device(pp.cctx), "loop0");
	/* Still there once the endpoint closed. */
	rmx_ep_destroy(pp.client);
	pp.client = NULL;
	pt_wait_count(&pp, &pp.sev.count[RMX_EP_EVENT_CLOSED], 1, 2000);
	ck_assert_int_eq(rmx_ep_peer_addr(pp.server, sp, sizeof(sp)), 0);
	ck_assert_str_eq(sp, cl);
	pt_close(&pp);
}
END_TEST

struct attempt {
	struct lab_events ev;
	rmx_ep_t *ep;
};

/* Connects client to addr (from src) until the endpoint is up or closed. */
static void connect_once(rmx_context_t *client, rmx_context_t *server,
			 const char *addr, const char *src, struct attempt *r)
{
	struct rmx_ep_params params = { .event_cb = lab_record_event,
					.arg = &r->ev, .src_addr = src };
	struct pt_pair pp = { .cctx = client, .sctx = server };
	int ret;

	memset(&r->ev, 0, sizeof(r->ev));
	ret = rmx_connect(client, addr, &params, &r->ep);
	ck_assert_msg(ret == 0, "rmx_connect: %s", rmx_strerror(ret));
	while (!r->ev.count[RMX_EP_EVENT_CLOSED] &&
	       !r->ev.count[RMX_EP_EVENT_CONNECTED])
		pt_run_pair_for(&pp, 5);
}

static void on_accept(rmx_listener_t *l, rmx_ep_t *ep, void *arg)
{
	(void)l;
	*(rmx_ep_t **)arg = ep;
}

/* A client context and a listening server context. */
struct sides {
	rmx_context_t *c, *s;
	rmx_listener_t *l;
	rmx_ep_t *acc;		/* the latest accepted endpoint */
	char addr[64];		/* the listener's */
};

static void sides_open(struct sides *sd)
{
	memset(sd, 0, sizeof(*sd));
	pt_setup();
	ck_assert_int_eq(rmx_context_create(&sd->s), 0);
	ck_assert_int_eq(rmx_context_create(&sd->c), 0);
	ck_assert_int_eq(rmx_listen(sd->s, "192.0.2.1:0", on_accept, &sd->acc,
				    &sd->l), 0);
	snprintf(sd->addr, sizeof(sd->addr), "192.0.2.1:%d",
		 rmx_listener_port(sd->l));
}

static void sides_close(struct sides *sd)
{
	rmx_ep_destroy(sd->acc);
	rmx_listener_destroy(sd->l);
	rmx_context_destroy(sd->c);
	rmx_context_destroy(sd->s);
}

START_TEST(source_address)
{
	struct rmx_ep_params v6 = { .src_addr = "[::1]" };
	char got[RMX_ADDR_STRLEN];
	struct sides sd;
	struct attempt r;
	rmx_ep_t *ep;

	sides_open(&sd);
	connect_once(sd.c, sd.s, sd.addr, "192.0.2.7:4242", &r);
	ck_assert_int_eq(r.ev.count[RMX_EP_EVENT_CONNECTED], 1);
	ck_assert_int_eq(rmx_ep_local_addr(r.ep, got, sizeof(got)), 0);
	ck_assert_str_eq(got, "192.0.2.7:4242");
	ck_assert_ptr_nonnull(sd.acc);
	ck_assert_int_eq(rmx_ep_peer_addr(sd.acc, got, sizeof(got)), 0);
	ck_assert_str_eq(got, "192.0.2.7:4242");
	rmx_ep_destroy(r.ep);
	/* Malformed, or of another family than the peer's: refused at once. */
	ck_assert_int_eq(rmx_connect(sd.c, sd.addr, &v6, &ep), -EINVAL);
	v6.src_addr = "192.0.2.7:x";
	ck_assert_int_eq(rmx_connect(sd.c, sd.addr, &v6, &ep), -EINVAL);
	sides_close(&sd);
}
END_TEST

/*
 * A listener whose side cannot take the connection (its buffers cannot
 * be registered) is not one that is absent: -ECONNABORTED, not
 * -ECONNREFUSED, so a retry loop on the latter does not spin on it.
 */
START_TEST(refused_for_resources)
{
	struct sides sd;
	struct attempt r;

	sides_open(&sd);
	loop_fail_mr_reg(pt_tp(sd.s), 0, ~0u, -ENOMEM);
	connect_once(sd.c, sd.s, sd.addr, NULL, &r);
	ck_assert_int_eq(r.ev.status, -ECONNABORTED);
	ck_assert_int_eq(rmx_ep_error(r.ep), -ECONNABORTED);
	ck_assert_ptr_null(sd.acc);
	rmx_ep_destroy(r.ep);
	/* Nobody at the port: still -ECONNREFUSED. */
	connect_once(sd.c, sd.s, "192.0.2.1:9", NULL, &r);
	ck_assert_int_eq(r.ev.status, -ECONNREFUSED);
	rmx_ep_destroy(r.ep);
	/* The listener takes the next one once it can. */
	loop_fail_mr_reg(pt_tp(sd.s), 0, 0, 0);
	connect_once(sd.c, sd.s, sd.addr, NULL, &r);
	ck_assert_int_eq(r.ev.count[RMX_EP_EVENT_CONNECTED], 1);
	rmx_ep_destroy(r.ep);
	sides_close(&sd);
}
END_TEST

/* Lines of path that contain what. */
static int count_lines(const char *path, const char *what)
{
	char line[1024];
	FILE *f = fopen(path, "r");
	int n = 0;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, what) != NULL;
	fclose(f);
	return n;
}

/*
 * A refused connection is one line at the listener, with the cause; a
 * peer retrying at once gets no more lines for a second, then one that
 * counts what was held back.
 */
START_TEST(refusals_logged_once)
{
	char path[] = "/tmp/rmx-refusals-XXXXXX";
	int fd = mkstemp(path), saved = dup(2), i, tries = 0;
	struct sides sd;
	struct attempt r;
	long t0;

	ck_assert_int_ge(fd, 0);
	setenv("RMX_LOG_LEVEL", "warn", 1);
	sides_open(&sd);
	loop_fail_mr_reg(pt_tp(sd.s), 0, ~0u, -ENOMEM);
	dup2(fd, 2);
	t0 = pt_now_ms();
	for (i = 0; i < 5 && pt_now_ms() - t0 < 900; i++, tries++) {
		connect_once(sd.c, sd.s, sd.addr, NULL, &r);
		rmx_ep_destroy(r.ep);
	}
	while (pt_now_ms() - t0 < 1100)
		usleep(10000);
	connect_once(sd.c, sd.s, sd.addr, NULL, &r);
	rmx_ep_destroy(r.ep);
	fflush(stderr);
	dup2(saved, 2);
	ck_assert_int_eq(tries, 5);
	ck_assert_int_eq(count_lines(path, "refused a connection from"), 2);
	ck_assert_int_eq(count_lines(path, "message buffers cannot be registered"), 2);
	ck_assert_int_eq(count_lines(path, "and 4 before it from 192.0.2.1"), 1);
	ck_assert_int_eq(count_lines(path, "rmx["), 2);
	unlink(path);
	sides_close(&sd);
}
END_TEST

/* RMX_STATS=1: the destroy names each reason memory is still pinned. */
START_TEST(stats_say_what_is_pinned)
{
	char path[] = "/tmp/rmx-stats-XXXXXX", line[1024];
	int fd = mkstemp(path), saved = dup(2);
	static char buf[8192];
	struct pt_pair pp;
	rmx_mem_t *mem;
	FILE *f;
	int found = 0;

	ck_assert_int_ge(fd, 0);
	setenv("RMX_STATS", "1", 1);
	pt_setup();
	pt_open(&pp, false, NULL);
	ck_assert_int_eq(rmx_mem_reg(pp.sctx, buf, sizeof(buf),
				     RMX_MEM_REMOTE_READ, &mem), 0);
	dup2(fd, 2);
	/* Left open, left registered: the context releases them. */
	rmx_context_destroy(pp.sctx);
	fflush(stderr);
	dup2(saved, 2);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "rmx stats: pinned at destroy: ")) {
			found++;
			ck_assert_msg(strstr(line, "8192 in 1 rmx_mem_reg() regions not deregistered"),
				      "%s", line);
			ck_assert_msg(strstr(line, "in the message buffers 2 endpoints still open share ("), "%s", line);
		}
	fclose(f);
	unlink(path);
	ck_assert_int_eq(found, 1);
	ck_assert_uint_eq(loop_stats.mr_live, 0);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("proto_conn");
	TCase *tc = tcase_create("conn");

	tcase_add_test(tc, addresses);
	tcase_add_test(tc, source_address);
	tcase_add_test(tc, refused_for_resources);
	tcase_add_test(tc, refusals_logged_once);
	tcase_add_test(tc, stats_say_what_is_pinned);
	suite_add_tcase(s, tc);
	return s;
}
