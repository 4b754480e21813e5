// SPDX-License-Identifier: BSD-2-Clause
/*
 * rmx-example-rndv: 1 MiB messages around the ring. Each iteration every
 * rank sends to its right neighbour with rmx_send() and receives from
 * its left with rmx_recv(); a message this large goes by zero-copy
 * rendezvous (the receiver reads the sender's buffer).
 *
 *   mpirun -np 4 rmx-example-rndv [ITERATIONS]
 */
#include <errno.h>
#include <stdlib.h>

#include "example.h"

#define MSG (1u << 20)

int main(int argc, char **argv)
{
	unsigned int iters = 10, i;
	struct example ex;
	rmx_ep_t *left, *right;
	uint8_t *out, *in;
	int ret;

	ex_start(&ex, "rmx-example-rndv", argc, argv, 2, &iters);
	out = malloc(MSG);
	in = malloc(MSG);
	if (!out || !in)
		ex_die(&ex, "malloc", -ENOMEM);
	ret = rmx_job_ep(ex.job, (ex.rank + 1) % ex.size, &right);
	if (!ret)
		ret = rmx_job_ep(ex.job, (ex.rank + ex.size - 1) % ex.size,
				 &left);
	if (ret)
		ex_die(&ex, "rmx_job_ep", ret);
	for (i = 0; i < iters; i++) {
		struct ex_count sent = { &ex, "rmx_send", 0 };
		struct ex_count got = { &ex, "rmx_recv", 0 };
		double t0 = ex_now_us();

		ex_fill(out, MSG, ex.rank, i);
		ret = rmx_recv(left, in, MSG, ex_counted, &got);
		if (!ret)
			ret = rmx_send(right, out, MSG, ex_counted, &sent);
		if (ret)
			ex_die(&ex, "posting", ret);
		ex_wait(&ex, &got.n, 1);
		ex_wait(&ex, &sent.n, 1);
		ex_check(&ex, "message from the left", in, MSG,
			 (ex.rank + ex.size - 1) % ex.size, i);
		ex_report(&ex, i, ex_now_us() - t0, MSG);
	}
	free(out);
	free(in);
	ex_finish(&ex);
	return 0;
}
