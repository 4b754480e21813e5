// SPDX-License-Identifier: BSD-2-Clause
/*
 * rmx-bench-conn: what connections cost. For each count N, a server and
 * a client context in this process, N endpoints between them: the time
 * to connect all N at once, and the memory they pin (VmPin of
 * /proc/self/status: both contexts, so 2 N endpoints), after one message
 * each way on every endpoint. Public API only, so the same source
 * measures older builds of rmx:
 *   ci/rxe-lab -- build/bench/rmx-bench-conn [IP] [N...]
 * (defaults: 192.0.2.1, the lab's address; 1 8 64 256). A count that
 * fails prints why, never a number.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rmx/rmx.h>

struct side {
	rmx_context_t *ctx;
	rmx_ep_t **eps;
	int n, failed, err;
};

static struct side server, client;
static int got;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static long vm_pin_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmPin: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

static void on_accept(rmx_listener_t *l, rmx_ep_t *ep, void *arg)
{
	(void)l;
	(void)arg;
	server.eps[server.n++] = ep;
}

static void on_event(rmx_ep_t *ep, enum rmx_ep_event ev, int status,
		     void *arg)
{
	(void)arg;
	(void)ep;
	if (ev == RMX_EP_EVENT_CONNECTED) {
		client.n++;
	} else if (ev == RMX_EP_EVENT_CLOSED && status) {
		client.failed++;
		client.err = status;
	}
}

static void on_comp(void *arg, int status, size_t len)
{
	(void)arg;
	(void)len;
	if (status) {
		fprintf(stderr, "rmx-bench-conn: a message: %s\n",
			rmx_strerror(status));
		exit(1);
	}
	got++;
}

/* Progresses both until *count reaches want or ms pass: 0 or -1. */
static int spin(const int *count, int want, double ms)
{
	double end = now_ms() + ms;

	while (*count < want && !client.failed) {
		if (rmx_progress(server.ctx) < 0 || rmx_progress(client.ctx) < 0)
			return -1;
		if (now_ms() > end)
			return -1;
	}
	return client.failed ? -1 : 0;
}

static int run(const char *ip, int n)
{
	/* All at once: the CM takes them one by one (slowly under TCG). */
	struct rmx_ep_params params = { .event_cb = on_event,
					.timeout_ms = 120000 };
	char addr[96], out[8] = "ping", in[2][8];
	double t0, t1;
	long pin0, pin1;
	rmx_listener_t *l;
	int i, ret;

	memset(&server, 0, sizeof(server));
	memset(&client, 0, sizeof(client));
	server.eps = calloc((size_t)n, sizeof(*server.eps));
	client.eps = calloc((size_t)n, sizeof(*client.eps));
	pin0 = vm_pin_kib();
	ret = rmx_context_create(&server.ctx);
	if (!ret)
		ret = rmx_context_create(&client.ctx);
	snprintf(addr, sizeof(addr), "%s:0", ip);
	if (!ret)
		ret = rmx_listen(server.ctx, addr, on_accept, NULL, &l);
	if (ret) {
		printf("%6d  failed: setup: %s\n", n, rmx_strerror(ret));
		return 1;
	}
	snprintf(addr, sizeof(addr), "%s:%d", ip, rmx_listener_port(l));
	t0 = now_ms();
	for (i = 0; i < n && !ret; i++)
		ret = rmx_connect(client.ctx, addr, &params, &client.eps[i]);
	if (ret || spin(&client.n, n, 120000) || spin(&server.n, n, 10000)) {
		printf("%6d  failed: %d of %d connected: %s\n", n, client.n, n,
		       rmx_strerror(ret ? ret : client.err));
		return 1;
	}
	t1 = now_ms();
	/* One message each way: every endpoint has sent and received. */
	got = 0;
	for (i = 0; i < n; i++) {
		rmx_recv(server.eps[i], in[0], sizeof(in[0]), on_comp, NULL);
		rmx_recv(client.eps[i], in[1], sizeof(in[1]), on_comp, NULL);
		rmx_send(client.eps[i], out, sizeof(out), on_comp, NULL);
		rmx_send(server.eps[i], out, sizeof(out), on_comp, NULL);
	}
	if (spin(&got, 4 * n, 60000)) {
		printf("%6d  failed: messages: %d of %d\n", n, got, 4 * n);
		return 1;
	}
	pin1 = vm_pin_kib();
	printf("%6d  %10.1f  %8.2f  %10ld  %8.1f\n", n, t1 - t0, (t1 - t0) / n,
	       pin1 - pin0, (double)(pin1 - pin0) / (2.0 * n));
	for (i = 0; i < n; i++) {
		rmx_ep_destroy(client.eps[i]);
		rmx_ep_destroy(server.eps[i]);
	}
	rmx_listener_destroy(l);
	rmx_context_destroy(client.ctx);
	rmx_context_destroy(server.ctx);
	free(server.eps);
	free(client.eps);
	return 0;
}

int main(int argc, char **argv)
{
	static const int def[] = { 1, 8, 64, 256 };
	const char *ip = argc > 1 ? argv[1] : "192.0.2.1";
	int i, n, ret = 0;

	printf("# %6s  %10s  %8s  %10s  %8s\n", "eps", "connect_ms", "ms/ep",
	       "pinned_KiB", "KiB/ep");
	if (argc > 2) {
		for (i = 2; i < argc; i++) {
			n = atoi(argv[i]);
			ret |= n > 0 ? run(ip, n) : 1;
		}
		return ret;
	}
	for (i = 0; i < (int)(sizeof(def) / sizeof(def[0])); i++)
		ret |= run(ip, def[i]);
	return ret;
}
