// SPDX-License-Identifier: BSD-2-Clause
/*
 * rmx-demo: two endpoints in one process exchange messages and an RDMA
 * write through a real device, printing what they do. Links the public
 * API only.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rmx/rmx.h>

#include "common/args.h"
#include "common/clock.h"
#include "common/msg.h"

const char tool_name[] = "rmx-demo";

static const struct tool_num count_opt = {
	"-n", "count", "messages", 1, INT_MAX, false };

struct demo {
	rmx_context_t *ctx;
	rmx_ep_t *client, *server;
	int connected;
	int done, status;
	size_t len;
};

static void on_comp(void *arg, int status, size_t len)
{
	struct demo *d = arg;

	d->done++;
	d->status = status;
	d->len = len;
}

static void on_accept(rmx_listener_t *l, rmx_ep_t *ep, void *arg)
{
	struct demo *d = arg;

	(void)l;
	d->server = ep;
}

static void on_event(rmx_ep_t *ep, enum rmx_ep_event ev, int status,
		     void *arg)
{
	struct demo *d = arg;

	(void)ep;
	if (ev == RMX_EP_EVENT_CONNECTED)
		d->connected = 1;
	else
		d->status = status;
}

/* Waits for `want` completions; 0 or the first error. */
static int wait_for(struct demo *d, int want)
{
	int ret;

	while (d->done < want) {
		ret = rmx_wait(d->ctx, 5000);
		if (ret < 0)
			return ret;
		if (ret == 0)
			return -ETIMEDOUT;
		if (d->status < 0)
			return d->status;
	}
	d->done = 0;
	return d->status;
}

static int ping_pong(struct demo *d, int count)
{
	char out[64], in[64], back[64];
	int i, ret;

	for (i = 1; i <= count; i++) {
		double t0 = tool_clock_us();

		snprintf(out, sizeof(out), "ping %d", i);
		ret = rmx_recv(d->server, in, sizeof(in), on_comp, d);
		if (!ret)
			ret = rmx_recv(d->client, back, sizeof(back), on_comp, d);
		if (!ret)
			ret = rmx_send(d->client, out, strlen(out) + 1, on_comp, d);
		/* The server echoes once its receive completed. */
		if (!ret)
			ret = wait_for(d, 2);
		if (!ret)
			ret = rmx_send(d->server, in, d->len, on_comp, d);
		if (!ret)
			ret = wait_for(d, 2);
		if (ret)
			return ret;
		if (strcmp(back, out)) {
			tool_err("echo mismatch: \"%s\"", back);
			return -EIO;
		}
		printf("client -> server -> client: \"%s\" (%zu bytes), round trip %.1f us\n",
		       back, strlen(back) + 1, tool_clock_us() - t0);
	}
	return 0;
}

static int rdma_write(struct demo *d)
{
	static const char greeting[] = "hello from rmx over RDMA write";
	uint8_t packed[RMX_REMOTE_PACKED_SIZE], got[RMX_REMOTE_PACKED_SIZE];
	char *window = calloc(1, 4096);
	rmx_remote_t mine, theirs;
	rmx_mem_t *mem = NULL;
	int ret;

	if (!window)
		return -ENOMEM;
	/* The server exposes a window and sends its descriptor. */
	ret = rmx_mem_reg(d->ctx, window, 4096, RMX_MEM_REMOTE_WRITE, &mem);
	if (!ret)
		ret = rmx_mem_remote(mem, &mine);
	if (!ret)
		ret = rmx_remote_pack(&mine, packed, sizeof(packed));
	if (!ret)
		ret = rmx_recv(d->client, got, sizeof(got), on_comp, d);
	if (!ret)
		ret = rmx_send(d->server, packed, sizeof(packed), on_comp, d);
	if (!ret)
		ret = wait_for(d, 2);
	if (!ret)
		ret = rmx_remote_unpack(&theirs, got, sizeof(got));
	if (ret)
		goto out;
	printf("server exported %llu bytes at 0x%llx, key 0x%llx\n",
	       (unsigned long long)theirs.len, (unsigned long long)theirs.addr,
	       (unsigned long long)theirs.key);
	ret = rmx_put(d->client, greeting, sizeof(greeting), &theirs, 128,
		      on_comp, d);
	if (!ret)
		ret = wait_for(d, 1);
	if (ret)
		goto out;
	printf("client wrote %zu bytes by RDMA write; server's memory now holds \"%s\"\n",
	       sizeof(greeting), window + 128);
	if (strcmp(window + 128, greeting))
		ret = -EIO;
out:
	if (mem)
		rmx_mem_dereg(mem);
	free(window);
	return ret;
}

/* Busy-polls: for measuring, rmx_progress() beats sleeping in rmx_wait(). */
static int spin_for(struct demo *d, int want)
{
	double end = tool_clock_us() + 10e6;
	int ret;

	while (d->done < want) {
		ret = rmx_progress(d->ctx);
		if (ret < 0)
			return ret;
		if (d->status < 0)
			return d->status;
		if (tool_clock_us() > end)
			return -ETIMEDOUT;
	}
	d->done = 0;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* A short benchmark: 8-byte ping-pong latency, 64 KiB RDMA write rate. */
static int bench(struct demo *d)
{
	enum { ITERS = 1000, PUTS = 400, WINDOW = 16, SZ = 65536 };
	double *lat = calloc(ITERS, sizeof(*lat)), t0, secs;
	char *src = malloc(SZ), *dst = malloc(SZ), ping[8] = "latency", in[8];
	rmx_mem_t *mem = NULL;
	rmx_remote_t r;
	int i, ret = -ENOMEM, posted;

	if (!lat || !src || !dst)
		goto out;
	for (i = 0; i < ITERS; i++) {
		t0 = tool_clock_us();
		ret = rmx_recv(d->server, in, sizeof(in), on_comp, d);
		if (!ret)
			ret = rmx_send(d->client, ping, sizeof(ping), on_comp, d);
		if (!ret)
			ret = spin_for(d, 2);
		if (ret)
			goto out;
		lat[i] = tool_clock_us() - t0;
	}
	qsort(lat, ITERS, sizeof(*lat), cmp_double);
	printf("bench: 8-byte message, post to both completions: median %.1f us, 99%% %.1f us (%d samples)\n",
	       lat[ITERS / 2], lat[ITERS * 99 / 100], ITERS);

	memset(src, 0x42, SZ);
	ret = rmx_mem_reg(d->ctx, dst, SZ, RMX_MEM_REMOTE_WRITE, &mem);
	if (!ret)
		ret = rmx_mem_remote(mem, &r);
	t0 = tool_clock_us();
	for (posted = 0; !ret && posted < PUTS; posted += WINDOW) {
		for (i = 0; !ret && i < WINDOW; i++)
			ret = rmx_put(d->client, src, SZ, &r, 0, on_comp, d);
		if (!ret)
			ret = spin_for(d, WINDOW);
	}
	if (ret)
		goto out;
	secs = (tool_clock_us() - t0) / 1e6;
	printf("bench: %d RDMA writes of %d KiB, %d in flight: %.1f MB/s\n",
	       PUTS, SZ / 1024, WINDOW, (double)PUTS * SZ / secs / 1e6);
	ret = memcmp(dst, src, SZ) ? -EIO : 0;
out:
	if (mem)
		rmx_mem_dereg(mem);
	free(lat);
	free(src);
	free(dst);
	return ret;
}

static int run(struct demo *d, const char *ip, int count)
{
	struct rmx_ep_params params = { .event_cb = on_event, .arg = d };
	rmx_listener_t *l = NULL;
	char addr[96];
	int ret;

	ret = rmx_context_create(&d->ctx);
	if (ret)
		return ret;
	snprintf(addr, sizeof(addr), "%s:0", ip);
	ret = rmx_listen(d->ctx, addr, on_accept, d, &l);
	if (ret)
		goto out;
	snprintf(addr, sizeof(addr), "%s:%d", ip, rmx_listener_port(l));
	printf("listening on %s; connecting to it\n", addr);
	ret = rmx_connect(d->ctx, addr, &params, &d->client);
	while (!ret && (!d->connected || !d->server) && d->status == 0) {
		ret = rmx_wait(d->ctx, 10000);
		ret = ret == 0 ? -ETIMEDOUT : ret < 0 ? ret : 0;
	}
	if (!ret)
		ret = d->status;
	if (ret)
		goto out;
	printf("connected: client and server endpoints are up\n");
	ret = ping_pong(d, count);
	if (!ret)
		ret = rdma_write(d);
	if (!ret)
		ret = bench(d);
out:
	rmx_ep_destroy(d->client);
	rmx_ep_destroy(d->server);
	rmx_listener_destroy(l);
	rmx_context_destroy(d->ctx);
	return ret;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: rmx-demo [-a IP] [-n COUNT]\n"
		   "  -a IP     address of the local RDMA device (default 192.0.2.1)\n"
		   "  -n COUNT  messages to bounce (default 5)\n");
}

int main(int argc, char **argv)
{
	struct demo d = { 0 };
	const char *ip = "192.0.2.1";
	int count = 5, opt, ret;
	uint64_t v;

	while ((opt = getopt(argc, argv, "a:n:h")) != -1) {
		switch (opt) {
		case 'a':
			ip = optarg;
			break;
		case 'n':
			if (tool_parse_num(&count_opt, optarg, &v))
				return 2;
			count = (int)v;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	ret = run(&d, ip, count);
	if (ret) {
		tool_err("%s", rmx_strerror(ret));
		return 1;
	}
	printf("rmx-demo: all done\n");
	return 0;
}
