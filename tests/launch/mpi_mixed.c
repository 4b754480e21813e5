// SPDX-License-Identifier: BSD-2-Clause
/*
 * An MPI program that also uses rmx: MPI for its own collectives (window
 * descriptors exchanged with MPI_Allgather, checks summed with
 * MPI_Allreduce), rmx for one-sided data. Both initialize PMIx in the
 * same process; rmx's ranks must be MPI's.
 *
 *   mpirun -np 4 test_mpi_mixed
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rmx/rmx.h>

#define LEN (64u << 10)
#define ROUNDS 5

static int rank;

static void die(const char *what, int err)
{
	fprintf(stderr, "test_mpi_mixed rank %d: %s: %s\n", rank, what,
		rmx_strerror(err));
	MPI_Abort(MPI_COMM_WORLD, 1);
}

static void on_put(void *arg, int status, size_t len)
{
	if (status)
		die("rmx_put", status);
	(*(int *)arg)++;
}

static uint8_t pattern(int from, int round, size_t i)
{
	return (uint8_t)(from * 37 + round * 11 + i * 3 + (i >> 8));
}

int main(int argc, char **argv)
{
	uint8_t packed[RMX_REMOTE_PACKED_SIZE], *all, *win, *src;
	int size, right, left, round, bad = 0, total, ret;
	rmx_remote_t mine, theirs;
	rmx_context_t *ctx;
	rmx_mem_t *mem;
	rmx_job_t *job;
	rmx_ep_t *ep;
	size_t i;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	right = (rank + 1) % size;
	left = (rank + size - 1) % size;
	ret = rmx_context_create(&ctx);
	if (ret)
		die("rmx_context_create", ret);
	ret = rmx_job_init(ctx, 0, &job);
	if (ret)
		die("rmx_job_init", ret);
	if ((int)rmx_job_rank(job) != rank || (int)rmx_job_size(job) != size) {
		fprintf(stderr, "rank %d of %d: rmx says %u of %u\n", rank, size,
			rmx_job_rank(job), rmx_job_size(job));
		MPI_Abort(MPI_COMM_WORLD, 1);
	}
	win = calloc(1, LEN);
	src = malloc(LEN);
	all = malloc((size_t)size * sizeof(packed));
	if (!win || !src || !all)
		die("malloc", -12);
	ret = rmx_mem_reg(ctx, win, LEN, RMX_MEM_REMOTE_WRITE, &mem);
	if (!ret)
		ret = rmx_mem_remote(mem, &mine);
	if (!ret)
		ret = rmx_remote_pack(&mine, packed, sizeof(packed));
	if (ret < 0)
		die("window", ret);
	/* MPI's collective, rmx's descriptor. */
	MPI_Allgather(packed, sizeof(packed), MPI_BYTE, all, sizeof(packed),
		      MPI_BYTE, MPI_COMM_WORLD);
	ret = rmx_remote_unpack(&theirs, all + (size_t)right * sizeof(packed),
				sizeof(packed));
	if (ret < 0)
		die("rmx_remote_unpack", ret);
	ret = rmx_job_ep(job, (uint32_t)right, &ep);
	if (ret)
		die("rmx_job_ep", ret);
	for (round = 0; round < ROUNDS; round++) {
		int done = 0;

		for (i = 0; i < LEN; i++)
			src[i] = pattern(rank, round, i);
		ret = rmx_put(ep, src, LEN, &theirs, 0, on_put, &done);
		if (ret)
			die("rmx_put", ret);
		/* An RC write completes once the peer's device has the data. */
		while (!done) {
			ret = rmx_wait(ctx, 1000);
			if (ret < 0)
				die("rmx_wait", ret);
		}
		/*
		 * The left neighbour's write into us completed too once
		 * everyone passed this barrier. The left neighbour may still
		 * be connecting to us: its rmx_job_ep() needs our progress,
		 * so we progress until every rank got here.
		 */
		{
			MPI_Request req;
			int flag = 0;

			MPI_Ibarrier(MPI_COMM_WORLD, &req);
			while (!flag) {
				rmx_progress(ctx);
				MPI_Test(&req, &flag, MPI_STATUS_IGNORE);
			}
		}
		for (i = 0; i < LEN; i++)
			if (win[i] != pattern(left, round, i)) {
				fprintf(stderr, "rank %d round %d: byte %zu is 0x%02x, want 0x%02x\n",
					rank, round, i, win[i],
					pattern(left, round, i));
				bad++;
				break;
			}
		MPI_Allreduce(&bad, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
		if (total)
			break;
		/* Nobody writes round + 1 before everyone checked round. */
		MPI_Barrier(MPI_COMM_WORLD);
	}
	if (rank == 0)
		printf("test_mpi_mixed: %d ranks, %d rounds of %u bytes: %s\n",
		       size, ROUNDS, LEN, total ? "WRONG DATA" : "ok");
	rmx_mem_dereg(mem);
	rmx_job_fini(job);
	rmx_context_destroy(ctx);
	free(all);
	free(src);
	free(win);
	MPI_Finalize();
	return total ? 1 : 0;
}
