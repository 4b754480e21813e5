// SPDX-License-Identifier: BSD-2-Clause
/*
 * rmx-bench-odp: what on-demand paging costs against pinning, in plain
 * libibverbs on one RC queue pair connected to itself:
 *
 *	ci/rxe-lab --kernel new -- build/bench/rmx-bench-odp [--json] [--iters N] [DEVICE]
 *
 * Per size and mode, a fresh buffer (written by the CPU first, as an
 * application's would be) is registered and used once: "first use" is
 * registration plus that first transfer, which for ODP includes the
 * device's page faults. "steady" is the median of the next transfers on
 * the same registration. Modes: pinned; odp; odp with ibv_advise_mr()
 * prefetch queued before the transfer (async); odp with a synchronous
 * prefetch (IBV_ADVISE_MR_FLAG_FLUSH). Directions: "send" times an RDMA
 * write out of the buffer, "recv" an RDMA read into it; the other side is
 * a pinned buffer.
 *
 * Data is not checked: this measures speed. Whether the device places
 * data right under ODP is tests/odp_repro.c's question.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bench_time.h"
#include "selfqp.h"

#define PAGE 4096u
#define STEADY 15
#define MAX_ITERS 1000

enum mode { PINNED, ODP, ODP_PREFETCH, ODP_PREFETCH_SYNC, NMODES };
static const char *const mode_name[] = { "pinned", "odp", "odp+prefetch",
					 "odp+prefetch-sync" };

struct cell {
	double first_med, first_min, first_max, steady_med;
};

struct rig {
	struct selfqp q;
	uint8_t *peer;		/* pinned, the other end of every transfer */
	struct ibv_mr *peer_mr;
	bool can_prefetch;
};

static const int access_flags = IBV_ACCESS_LOCAL_WRITE |
				IBV_ACCESS_REMOTE_WRITE |
				IBV_ACCESS_REMOTE_READ;

static void transfer(struct rig *r, bool recv, uint8_t *buf, size_t len,
		     struct ibv_mr *mr)
{
	struct ibv_sge sge = { .addr = (uintptr_t)buf, .length = (uint32_t)len,
			       .lkey = mr->lkey };
	struct ibv_send_wr wr = { .sg_list = &sge, .num_sge = 1,
				  .send_flags = IBV_SEND_SIGNALED }, *bad;

	wr.opcode = recv ? IBV_WR_RDMA_READ : IBV_WR_RDMA_WRITE;
	wr.wr.rdma.remote_addr = (uintptr_t)r->peer;
	wr.wr.rdma.rkey = r->peer_mr->rkey;
	if (ibv_post_send(r->q.qp, &wr, &bad))
		selfqp_die(&r->q, "ibv_post_send", errno);
	if (selfqp_reap(&r->q, 1))
		selfqp_die(&r->q, "transfer", EIO);
}

static int prefetch(struct rig *r, bool recv, uint8_t *buf, size_t len,
		    struct ibv_mr *mr, bool sync)
{
	struct ibv_sge sge = { .addr = (uintptr_t)buf, .length = (uint32_t)len,
			       .lkey = mr->lkey };

	return ibv_advise_mr(r->q.pd,
			     recv ? IBV_ADVISE_MR_ADVICE_PREFETCH_WRITE :
				    IBV_ADVISE_MR_ADVICE_PREFETCH,
			     sync ? IBV_ADVISE_MR_FLAG_FLUSH : 0, &sge, 1);
}

/* One first use and STEADY more transfers; returns the first-use ns. */
static double one(struct rig *r, enum mode m, bool recv, size_t len,
		  int seed, double *steady)
{
	size_t maplen = (len + PAGE - 1) / PAGE * PAGE;
	double t[STEADY];
	struct ibv_mr *mr;
	uint8_t *buf;
	uint64_t t0;
	double first;

	buf = mmap(NULL, maplen, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		selfqp_die(&r->q, "mmap", errno);
	memset(buf, seed, maplen);
	t0 = now_ns();
	mr = ibv_reg_mr(r->q.pd, buf, len,
			access_flags | (m == PINNED ? 0 : IBV_ACCESS_ON_DEMAND));
	if (!mr)
		selfqp_die(&r->q, "ibv_reg_mr", errno);
	if ((m == ODP_PREFETCH || m == ODP_PREFETCH_SYNC) &&
	    prefetch(r, recv, buf, len, mr, m == ODP_PREFETCH_SYNC))
		selfqp_die(&r->q, "ibv_advise_mr", errno);
	transfer(r, recv, buf, len, mr);
	first = (double)(now_ns() - t0);
	for (int i = 0; i < STEADY; i++) {
		t0 = now_ns();
		transfer(r, recv, buf, len, mr);
		t[i] = (double)(now_ns() - t0);
	}
	qsort(t, STEADY, sizeof(t[0]), cmp_double);
	*steady = t[STEADY / 2];
	ibv_dereg_mr(mr);
	munmap(buf, maplen);
	return first;
}

static void measure(struct rig *r, enum mode m, bool recv, size_t len,
		    int iters, struct cell *c)
{
	double first[MAX_ITERS], steady[MAX_ITERS];

	for (int i = 0; i < iters; i++)
		first[i] = one(r, m, recv, len, i + 1, &steady[i]);
	qsort(first, (size_t)iters, sizeof(first[0]), cmp_double);
	qsort(steady, (size_t)iters, sizeof(steady[0]), cmp_double);
	c->first_med = first[iters / 2] / 1e3;
	c->first_min = first[0] / 1e3;
	c->first_max = first[iters - 1] / 1e3;
	c->steady_med = steady[iters / 2] / 1e3;
}

/* Whether the device takes prefetch advice on an ODP registration. */
static bool probe_prefetch(struct rig *r)
{
	uint8_t *buf = malloc(PAGE);
	struct ibv_mr *mr;
	int ret;

	mr = buf ? ibv_reg_mr(r->q.pd, buf, PAGE,
			      access_flags | IBV_ACCESS_ON_DEMAND) : NULL;
	if (!mr)
		selfqp_die(&r->q, "ibv_reg_mr(ON_DEMAND)", errno);
	ret = prefetch(r, false, buf, PAGE, mr, true);
	if (ret)
		printf("# ibv_advise_mr: %s: prefetch modes skipped\n",
		       strerror(ret));
	ibv_dereg_mr(mr);
	free(buf);
	return !ret;
}

static void usage(void)
{
	fprintf(stderr, "usage: rmx-bench-odp [--json] [--iters N (1..%d)] [DEVICE]\n",
		MAX_ITERS);
	exit(2);
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = { 8, 4096, 65536, 1048576 };
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "iters", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	int iters = 10, json = 0, opt;
	struct rig r;
	char *end;

	while ((opt = getopt_long(argc, argv, "jn:", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = 1;
			break;
		case 'n':
			iters = (int)strtol(optarg, &end, 10);
			if (*end || iters < 1 || iters > MAX_ITERS)
				usage();
			break;
		default:
			usage();
		}
	}
	selfqp_open(&r.q, "rmx-bench-odp", optind < argc ? argv[optind] : NULL);
	if (!selfqp_has_odp(&r.q)) {
		printf("rmx-bench-odp: %s has no RC ODP for send, recv, write and read\n",
		       ibv_get_device_name(r.q.ctx->device));
		return 77;
	}
	r.peer = mmap(NULL, sizes[3], PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r.peer == MAP_FAILED)
		selfqp_die(&r.q, "mmap", errno);
	r.peer_mr = ibv_reg_mr(r.q.pd, r.peer, sizes[3], access_flags);
	if (!r.peer_mr)
		selfqp_die(&r.q, "ibv_reg_mr", errno);
	r.can_prefetch = probe_prefetch(&r);
	if (!json)
		printf("# %s, %d buffers per row; us: first use (registration + first transfer) median [min..max], steady median\n%-5s %8s %-18s %26s %10s\n",
		       ibv_get_device_name(r.q.ctx->device), iters, "dir",
		       "bytes", "mode", "first use", "steady");
	/* Modes interleaved per size, so drift hits all of them alike. */
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
		for (int recv = 0; recv < 2; recv++)
			for (int m = PINNED; m < NMODES; m++) {
				struct cell c;

				if (m >= ODP_PREFETCH && !r.can_prefetch)
					continue;
				measure(&r, m, recv, sizes[s], iters, &c);
				if (json)
					printf("{\"dir\":\"%s\",\"bytes\":%zu,\"mode\":\"%s\",\"first_us\":%.1f,\"first_min_us\":%.1f,\"first_max_us\":%.1f,\"steady_us\":%.1f}\n",
					       recv ? "recv" : "send", sizes[s],
					       mode_name[m], c.first_med,
					       c.first_min, c.first_max,
					       c.steady_med);
				else
					printf("%-5s %8zu %-18s %9.1f [%6.1f..%7.1f] %10.1f\n",
					       recv ? "recv" : "send", sizes[s],
					       mode_name[m], c.first_med,
					       c.first_min, c.first_max,
					       c.steady_med);
				fflush(stdout);
			}
	ibv_dereg_mr(r.peer_mr);
	selfqp_close(&r.q);
	return 0;
}
