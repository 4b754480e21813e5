// SPDX-License-Identifier: BSD-2-Clause
/*
 * rmx-example-rpc: an RPC service on rank 0, called by every other rank.
 * The service answers a request with its bytes reversed; requests grow
 * from 1 byte to 256 KiB, so small ones travel eagerly and large ones by
 * rendezvous. Rank 0 serves from inside rmx_job_barrier(), which
 * progresses its context while the other ranks call.
 *
 *   mpirun -np 4 rmx-example-rpc [ITERATIONS]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "example.h"

#define RPC_REVERSE 7
#define MAX_LEN (256u << 10)

struct service {
	const struct example *ex;
	unsigned long served;
};

/* A large response is read by the caller later: its buffer lives until. */
static void response_done(void *arg, int status, size_t len)
{
	(void)status;
	(void)len;
	free(arg);
}

static void reverse(void *arg, rmx_rpc_req_t *req, const void *data,
		    size_t len)
{
	struct service *s = arg;
	const uint8_t *in = data;
	uint8_t *out = malloc(len ? len : 1);
	size_t i;
	int ret;

	if (!out)
		ex_die(s->ex, "malloc", -ENOMEM);
	for (i = 0; i < len; i++)
		out[i] = in[len - 1 - i];
	ret = rmx_rpc_respond(req, 0, out, len, response_done, out);
	if (ret)
		ex_die(s->ex, "rmx_rpc_respond", ret);
	s->served++;
}

struct call {
	const struct example *ex;
	int done;
	size_t len;
};

static void on_reply(void *arg, int status, const void *resp, size_t len)
{
	struct call *c = arg;

	(void)resp;
	if (status)
		ex_die(c->ex, "RPC call", status);
	if (len != c->len)
		ex_die(c->ex, "RPC reply length", -EPROTO);
	c->done++;
}

static size_t length_of(unsigned int iter, uint32_t rank)
{
	/* 1 B, 4 B, ... up to 256 KiB, and a different size per rank. */
	return ((size_t)1 << (iter % 19)) + rank;
}

int main(int argc, char **argv)
{
	unsigned int iters = 24, i;
	struct example ex;
	struct service s;
	uint8_t *req, *resp;
	rmx_ep_t *server;
	size_t k;
	int ret;

	ex_start(&ex, "rmx-example-rpc", argc, argv, 2, &iters);
	s = (struct service){ .ex = &ex };
	req = malloc(MAX_LEN + 1024);
	resp = malloc(MAX_LEN + 1024);
	if (!req || !resp)
		ex_die(&ex, "malloc", -ENOMEM);
	if (ex.rank == 0) {
		ret = rmx_rpc_register(ex.ctx, RPC_REVERSE, reverse, &s);
		if (ret)
			ex_die(&ex, "rmx_rpc_register", ret);
	}
	ret = rmx_job_barrier(ex.job);	/* served before anyone calls */
	if (ret)
		ex_die(&ex, "rmx_job_barrier", ret);
	if (ex.rank != 0) {
		ret = rmx_job_ep(ex.job, 0, &server);
		if (ret)
			ex_die(&ex, "rmx_job_ep", ret);
		for (i = 0; i < iters; i++) {
			struct rmx_rpc_params params = { .timeout_ms = 30000,
							 .resp_buf = resp,
							 .resp_cap = MAX_LEN + 1024 };
			struct call c = { &ex, 0, length_of(i, ex.rank) };
			double t0 = ex_now_us();

			ex_fill(req, c.len, ex.rank, i);
			ret = rmx_rpc_call(server, RPC_REVERSE, req, c.len,
					   &params, on_reply, &c, NULL);
			if (ret)
				ex_die(&ex, "rmx_rpc_call", ret);
			ex_wait(&ex, &c.done, 1);
			for (k = 0; k < c.len; k++)
				if (resp[k] != ex_pattern(ex.rank, i, c.len - 1 - k))
					ex_bad_byte(&ex, "reply", k, resp[k],
						    ex_pattern(ex.rank, i,
							       c.len - 1 - k));
			printf("rmx-example-rpc: rank %u call %u: %zu bytes there and back in %.1f us\n",
			       ex.rank, i, c.len, ex_now_us() - t0);
		}
	}
	free(req);
	free(resp);
	ex_finish(&ex);
	if (ex.rank == 0 && s.served != (unsigned long)iters * (ex.size - 1)) {
		fprintf(stderr, "rmx-example-rpc: served %lu calls, want %lu\n",
			s.served, (unsigned long)iters * (ex.size - 1));
		return 1;
	}
	return 0;
}
