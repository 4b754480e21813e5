// SPDX-License-Identifier: BSD-2-Clause
/*
 * rmx-example-ring: a halo exchange. Each rank owns a window with a slot
 * for its left and one for its right neighbour (two of each, by
 * iteration parity), and every iteration writes its halo into both
 * neighbours' windows with rmx_put_imm(); the immediate tells the
 * neighbour which iteration and side just landed. A rank starts
 * iteration i + 1 only when both neighbours' halos of i arrived, so
 * they are done reading i - 1: its parity's slots are free again.
 *
 *   mpirun -np 4 rmx-example-ring [ITERATIONS]
 *   srun --mpi=pmix -n 4 rmx-example-ring [ITERATIONS]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "example.h"

#define HALO 4096	/* bytes per side */
#define FROM_LEFT 0
#define FROM_RIGHT 1

/* Slot of (parity, side) in a window: 4 slots of HALO bytes. */
static size_t slot(unsigned int iter, int side)
{
	return ((size_t)(iter & 1) * 2 + (size_t)side) * HALO;
}

struct ring {
	struct example ex;
	uint8_t *window;
	int arrived[2];		/* per side: iterations landed */
};

static void on_imm(void *arg, uint32_t imm, size_t len)
{
	struct ring *r = arg;
	int side = (int)(imm & 1);

	/* In order per connection, so iteration numbers only grow. */
	if (len != HALO || imm >> 1 != (uint32_t)r->arrived[side])
		ex_die(&r->ex, "halo out of order", -EPROTO);
	r->arrived[side]++;
}

int main(int argc, char **argv)
{
	unsigned int iters = 20, i;
	struct ring r = { 0 };
	uint8_t packed[RMX_REMOTE_PACKED_SIZE], *all;
	uint8_t *halo;
	rmx_remote_t right_win, left_win;
	rmx_ep_t *left, *right;
	rmx_mem_t *mem;
	uint32_t lrank, rrank;
	rmx_remote_t mine;
	int ret;

	ex_start(&r.ex, "rmx-example-ring", argc, argv, 2, &iters);
	lrank = (r.ex.rank + r.ex.size - 1) % r.ex.size;
	rrank = (r.ex.rank + 1) % r.ex.size;
	r.window = calloc(4, HALO);
	halo = malloc(HALO);
	all = malloc((size_t)r.ex.size * sizeof(packed));
	if (!r.window || !halo || !all)
		ex_die(&r.ex, "malloc", -ENOMEM);
	ret = rmx_mem_reg(r.ex.ctx, r.window, 4 * HALO, RMX_MEM_REMOTE_WRITE,
			  &mem);
	if (!ret)
		ret = rmx_mem_remote(mem, &mine);
	if (!ret)
		ret = rmx_remote_pack(&mine, packed, sizeof(packed));
	if (ret < 0)
		ex_die(&r.ex, "registering the window", ret);
	ret = rmx_job_allgather(r.ex.job, packed, sizeof(packed), all);
	if (!ret)
		ret = rmx_remote_unpack(&left_win, all + lrank * sizeof(packed),
					sizeof(packed));
	if (!ret)
		ret = rmx_remote_unpack(&right_win,
					all + rrank * sizeof(packed),
					sizeof(packed));
	if (ret < 0)
		ex_die(&r.ex, "exchanging windows", ret);
	/* Both neighbours connect at once: rmx keeps one connection each. */
	ret = rmx_job_ep(r.ex.job, rrank, &right);
	if (!ret)
		ret = rmx_job_ep(r.ex.job, lrank, &left);
	if (ret)
		ex_die(&r.ex, "rmx_job_ep", ret);
	rmx_ep_set_imm_cb(left, on_imm, &r);
	if (right != left)
		rmx_ep_set_imm_cb(right, on_imm, &r);
	/* Nobody writes before every rank listens for it. */
	ret = rmx_job_barrier(r.ex.job);
	if (ret)
		ex_die(&r.ex, "rmx_job_barrier", ret);

	for (i = 0; i < iters; i++) {
		struct ex_count sent = { &r.ex, "rmx_put_imm", 0 };
		double t0 = ex_now_us();

		ex_fill(halo, HALO, r.ex.rank, i);
		/* I am my right neighbour's left, and my left's right. */
		ret = rmx_put_imm(right, halo, HALO, &right_win,
				  slot(i, FROM_LEFT), i << 1 | FROM_LEFT,
				  ex_counted, &sent);
		if (!ret)
			ret = rmx_put_imm(left, halo, HALO, &left_win,
					  slot(i, FROM_RIGHT),
					  i << 1 | FROM_RIGHT, ex_counted,
					  &sent);
		if (ret)
			ex_die(&r.ex, "rmx_put_imm", ret);
		ex_wait(&r.ex, &sent.n, 2);
		ex_wait(&r.ex, &r.arrived[FROM_LEFT], (int)i + 1);
		ex_wait(&r.ex, &r.arrived[FROM_RIGHT], (int)i + 1);
		ex_check(&r.ex, "halo from the left", r.window + slot(i, FROM_LEFT),
			 HALO, lrank, i);
		ex_check(&r.ex, "halo from the right",
			 r.window + slot(i, FROM_RIGHT), HALO, rrank, i);
		ex_report(&r.ex, i, ex_now_us() - t0, 2 * HALO);
	}
	rmx_mem_dereg(mem);
	free(all);
	free(halo);
	free(r.window);
	ex_finish(&r.ex);
	return 0;
}
