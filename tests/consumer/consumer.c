// SPDX-License-Identifier: BSD-2-Clause
/*
 * An application outside the tree, built against an installed rmx. With
 * an address (in the lab) it also talks to itself over the device: one
 * RPC whose request and response are large enough for rendezvous.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rmx/rmx.h>

#define LEN (256 * 1024)

static int done, status;
static size_t got;
static unsigned char req[LEN], resp[LEN];

static void on_accept(rmx_listener_t *l, rmx_ep_t *ep, void *arg)
{
	(void)l;
	(void)ep;
	(void)arg;
}

static void echo(void *arg, rmx_rpc_req_t *r, const void *data, size_t len)
{
	static unsigned char copy[LEN];

	(void)arg;
	memcpy(copy, data, len);
	rmx_rpc_respond(r, 0, copy, len, NULL, NULL);
}

static void on_resp(void *arg, int st, const void *data, size_t len)
{
	(void)arg;
	(void)data;
	status = st;
	got = len;
	done = 1;
}

static int fail(const char *what, int ret)
{
	fprintf(stderr, "consumer: %s: %s\n", what, rmx_strerror(ret));
	return 1;
}

static int talk(const char *ip)
{
	struct rmx_rpc_params params = { .timeout_ms = 20000,
					 .resp_buf = resp, .resp_cap = LEN };
	rmx_context_t *ctx;
	rmx_listener_t *l;
	rmx_ep_t *ep;
	char addr[80];
	size_t i;
	int ret;

	for (i = 0; i < LEN; i++)
		req[i] = (unsigned char)(i * 7 + 1);
	snprintf(addr, sizeof(addr), "%s:0", ip);
	ret = rmx_context_create(&ctx);
	if (ret)
		return fail("context", ret);
	ret = rmx_rpc_register(ctx, 1, echo, NULL);
	if (!ret)
		ret = rmx_listen(ctx, addr, on_accept, NULL, &l);
	if (ret)
		return fail("listen", ret);
	snprintf(addr, sizeof(addr), "%s:%d", ip, rmx_listener_port(l));
	ret = rmx_connect(ctx, addr, NULL, &ep);
	if (!ret)
		ret = rmx_rpc_call(ep, 1, req, LEN, &params, on_resp, NULL,
				   NULL);
	if (ret)
		return fail("call", ret);
	while (!done)
		if ((ret = rmx_wait(ctx, 1000)) < 0)
			return fail("wait", ret);
	if (status)
		return fail("rpc", status);
	if (got != LEN || memcmp(req, resp, LEN)) {
		fprintf(stderr, "consumer: the echo came back wrong\n");
		return 1;
	}
	rmx_context_destroy(ctx);
	printf("consumer: %d-byte RPC echo over %s verified\n", LEN, ip);
	return 0;
}

int main(int argc, char **argv)
{
	int major;
	const char *v = rmx_version(&major, NULL, NULL);

	if (major != RMX_VERSION_MAJOR || strcmp(rmx_strerror(-EPROTO),
						 "Protocol error")) {
		fprintf(stderr, "consumer: header and library disagree\n");
		return 1;
	}
	printf("consumer: linked rmx %s\n", v);
	return argc > 1 ? talk(argv[1]) : 0;
}
