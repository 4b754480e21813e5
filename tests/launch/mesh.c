// SPDX-License-Identifier: BSD-2-Clause
/*
 * A full mesh: every rank connects to every other (RMX_JOB_CONNECT_ALL),
 * then sends each one a message and checks what each sent it. Run as
 * many ranks as the test wants, e.g. under a small memlock limit:
 *
 *   mpirun -np 16 test_mesh [BYTES]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <rmx/rmx.h>

static uint32_t rank;

static void die(const char *what, int err)
{
	fprintf(stderr, "test_mesh rank %u: %s: %s\n", rank, what,
		rmx_strerror(err));
	exit(1);
}

static void count(void *arg, int status, size_t len)
{
	if (status)
		die("a send or receive", status);
	(void)len;
	(*(int *)arg)++;
}

static uint8_t pattern(uint32_t from, uint32_t to, size_t i)
{
	return (uint8_t)(from * 29 + to * 13 + i * 5 + (i >> 10));
}

int main(int argc, char **argv)
{
	size_t len = argc > 1 ? strtoul(argv[1], NULL, 0) : 4096, i;
	struct rmx_rcache_stats st;
	uint8_t *out, *in;
	rmx_context_t *ctx;
	uint32_t size, r;
	rmx_job_t *job;
	int done = 0, ret;

	ret = rmx_context_create(&ctx);
	if (ret)
		die("rmx_context_create", ret);
	ret = rmx_job_init(ctx, RMX_JOB_CONNECT_ALL, &job);
	if (ret)
		die("rmx_job_init", ret);
	rank = rmx_job_rank(job);
	size = rmx_job_size(job);
	out = malloc(len * size);
	in = malloc(len * size);
	if (!out || !in || !len)
		die("malloc", -ENOMEM);
	for (r = 0; r < size; r++) {
		rmx_ep_t *ep;

		if (r == rank)
			continue;
		ret = rmx_job_ep(job, r, &ep);
		if (ret)
			die("rmx_job_ep", ret);
		for (i = 0; i < len; i++)
			out[r * len + i] = pattern(rank, r, i);
		ret = rmx_recv(ep, in + r * len, len, count, &done);
		if (!ret)
			ret = rmx_send(ep, out + r * len, len, count, &done);
		if (ret)
			die("posting", ret);
	}
	while (done < 2 * (int)(size - 1)) {
		ret = rmx_wait(ctx, 1000);
		if (ret < 0)
			die("rmx_wait", ret);
	}
	for (r = 0; r < size; r++)
		for (i = 0; r != rank && i < len; i++)
			if (in[r * len + i] != pattern(r, rank, i)) {
				fprintf(stderr, "test_mesh rank %u: byte %zu from rank %u is 0x%02x, want 0x%02x\n",
					rank, i, r, in[r * len + i],
					pattern(r, rank, i));
				return 1;
			}
	ret = rmx_job_barrier(job);
	if (ret)
		die("rmx_job_barrier", ret);
	rmx_rcache_stats(ctx, &st);
	if (rank == 0)
		printf("test_mesh: %u ranks, %u endpoints each, %zu bytes to each: ok (rank 0 pinned %llu bytes in its cache)\n",
		       size, size - 1, len, (unsigned long long)st.bytes_pinned);
	rmx_job_fini(job);
	rmx_context_destroy(ctx);
	free(out);
	free(in);
	return 0;
}
