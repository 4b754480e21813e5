// SPDX-License-Identifier: BSD-2-Clause
/*
 * rmx-bench-msg: message round trip per size, to place RMX_EAGER_MAX.
 * Run it twice in the lab, once all eager and once all rendezvous:
 *   RMX_EAGER_MAX=1048576 ci/rxe-lab -- build/bench/rmx-bench-msg
 *   RMX_EAGER_MAX=64 ci/rxe-lab -- build/bench/rmx-bench-msg
 * Public API only; busy-polls rmx_progress().
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rmx/rmx.h>

struct state {
	rmx_context_t *ctx;
	rmx_ep_t *client, *server;
	int done;
};

static void on_comp(void *arg, int status, size_t len)
{
	struct state *s = arg;

	(void)len;
	if (status) {
		fprintf(stderr, "rmx-bench-msg: %s\n", rmx_strerror(status));
		exit(1);
	}
	s->done++;
}

static void on_accept(rmx_listener_t *l, rmx_ep_t *ep, void *arg)
{
	(void)l;
	((struct state *)arg)->server = ep;
}

static void spin(struct state *s, int want)
{
	while (s->done < want)
		if (rmx_progress(s->ctx) < 0)
			exit(1);
	s->done = 0;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	const char *ip = argc > 1 ? argv[1] : "192.0.2.1";
	struct state s = { 0 };
	rmx_listener_t *l;
	char addr[96], *a, *b;
	size_t len, max;
	int iters = 200, i;
	double *t = calloc((size_t)iters, sizeof(double));

	snprintf(addr, sizeof(addr), "%s:0", ip);
	if (rmx_context_create(&s.ctx) ||
	    rmx_listen(s.ctx, addr, on_accept, &s, &l))
		return 1;
	snprintf(addr, sizeof(addr), "%s:%d", ip, rmx_listener_port(l));
	if (rmx_connect(s.ctx, addr, NULL, &s.client))
		return 1;
	while (!s.server || rmx_ep_state(s.client) != RMX_EP_CONNECTED)
		if (rmx_wait(s.ctx, 1000) < 0)
			return 1;
	rmx_ep_max_msg(s.client, &max);
	a = malloc(1 << 20);
	b = malloc(1 << 20);
	memset(a, 1, 1 << 20);
	printf("# eager limit %zu bytes; round trip = send + echo back\n", max);
	printf("%10s %12s %12s\n", "bytes", "rtt_med[us]", "MB/s");
	for (len = 1024; len <= (1u << 20); len *= 2) {
		for (i = 0; i < iters; i++) {
			double t0 = now_us();

			rmx_recv(s.server, b, len, on_comp, &s);
			rmx_send(s.client, a, len, on_comp, &s);
			spin(&s, 2);
			rmx_recv(s.client, b, len, on_comp, &s);
			rmx_send(s.server, b, len, on_comp, &s);
			spin(&s, 2);
			t[i] = now_us() - t0;
		}
		qsort(t, (size_t)iters, sizeof(*t), cmp);
		printf("%10zu %12.1f %12.1f\n", len, t[iters / 2],
		       2.0 * len / t[iters / 2]);
	}
	rmx_context_destroy(s.ctx);
	free(a);
	free(b);
	free(t);
	return 0;
}
