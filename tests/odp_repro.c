// SPDX-License-Identifier: BSD-2-Clause
/*
 * odp_repro: does the device's on-demand paging place data correctly?
 * Plain libibverbs, no rmx, so a kernel developer can run it alone:
 *
 *	odp_repro [DEVICE]
 *
 * One RC QP connected to itself moves a pattern between two buffers by
 * RDMA write, RDMA read and send/receive, with each side pinned or
 * registered IBV_ACCESS_ON_DEMAND, at page-aligned and unaligned starts
 * (a heap buffer's is 16 bytes past a page boundary at best). Each buffer
 * sits in its own mapping with a guard page on either side, so a
 * misplaced write hits the guards, not the program; every byte of the
 * destination and of the guards is checked. Exit status: 0 when every
 * case is right, 1 when a case is wrong (the first bad offset is printed),
 * 77 when the device has no ODP, 2 on setup errors.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <infiniband/verbs.h>

#include "selfqp.h"

#define PAGE 4096u
#define GUARD_BYTE 0xa5

enum op { OP_WRITE, OP_READ, OP_SEND };
static const char *const op_name[] = { "write", "read", "send" };

/* A mapping of len bytes at offset off of its second page, guards around. */
static uint8_t *arena(size_t len, size_t off, size_t *arena_len)
{
	uint8_t *a;

	*arena_len = (off + len + PAGE - 1) / PAGE * PAGE + 2 * PAGE;
	a = mmap(NULL, *arena_len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED) {
		perror("odp_repro: mmap");
		exit(2);
	}
	memset(a, GUARD_BYTE, *arena_len);
	return a + PAGE + off;
}

/*
 * One transfer of len bytes from src to dst, each off bytes past a page
 * boundary. Returns true when the data and every guard byte are right.
 */
static bool transfer(struct selfqp *r, enum op op, size_t len, size_t off,
		     bool src_odp, bool dst_odp)
{
	const int acc = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
			IBV_ACCESS_REMOTE_READ;
	size_t alen, i, first_bad = SIZE_MAX, wrong = 0;
	uint8_t *src = arena(len, off, &alen), *dst = arena(len, off, &alen);
	uint8_t *dbase = dst - PAGE - off;
	struct ibv_mr *smr, *dmr;
	struct ibv_sge sge, rsge;
	struct ibv_send_wr wr = { .sg_list = &sge, .num_sge = 1,
				  .send_flags = IBV_SEND_SIGNALED }, *bad_wr;
	struct ibv_recv_wr rwr = { .num_sge = 1 }, *bad_rwr;
	bool ok;

	for (i = 0; i < len; i++)
		src[i] = (uint8_t)(i * 7 + i / 251 + 1);
	smr = ibv_reg_mr(r->pd, src, len, acc | (src_odp ? IBV_ACCESS_ON_DEMAND : 0));
	dmr = ibv_reg_mr(r->pd, dst, len, acc | (dst_odp ? IBV_ACCESS_ON_DEMAND : 0));
	if (!smr || !dmr)
		selfqp_die(r, "ibv_reg_mr", errno);
	/* A read goes the other way: the local (dst) buffer is the sink. */
	sge = (struct ibv_sge){ .addr = (uintptr_t)(op == OP_READ ? dst : src),
				.length = len,
				.lkey = op == OP_READ ? dmr->lkey : smr->lkey };
	switch (op) {
	case OP_WRITE:
		wr.opcode = IBV_WR_RDMA_WRITE;
		wr.wr.rdma.remote_addr = (uintptr_t)dst;
		wr.wr.rdma.rkey = dmr->rkey;
		break;
	case OP_READ:
		wr.opcode = IBV_WR_RDMA_READ;
		wr.wr.rdma.remote_addr = (uintptr_t)src;
		wr.wr.rdma.rkey = smr->rkey;
		break;
	case OP_SEND:
		wr.opcode = IBV_WR_SEND;
		rsge = (struct ibv_sge){ .addr = (uintptr_t)dst, .length = len,
					 .lkey = dmr->lkey };
		rwr.sg_list = &rsge;
		if (ibv_post_recv(r->qp, &rwr, &bad_rwr))
			selfqp_die(r, "ibv_post_recv", errno);
		break;
	}
	if (ibv_post_send(r->qp, &wr, &bad_wr))
		selfqp_die(r, "ibv_post_send", errno);
	ok = !selfqp_reap(r, op == OP_SEND ? 2 : 1);
	for (i = 0; i < alen; i++) {
		uint8_t *p = dbase + i;
		uint8_t want = p >= dst && p < dst + len ? src[p - dst] :
							    GUARD_BYTE;

		if (*p != want) {
			wrong++;
			if (first_bad == SIZE_MAX)
				first_bad = i;
		}
	}
	if (wrong) {
		ok = false;
		printf("  %-5s %6zu B at page+%-4zu src %-6s dst %-6s: %zu bytes wrong, first at offset %zd\n",
		       op_name[op], len, off, src_odp ? "odp" : "pinned",
		       dst_odp ? "odp" : "pinned", wrong,
		       (ssize_t)first_bad - (ssize_t)(PAGE + off));
	}
	ibv_dereg_mr(smr);
	ibv_dereg_mr(dmr);
	munmap(src - PAGE - off, alen);
	munmap(dbase, alen);
	return ok;
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = { 8, 1000, 1024, 4096, 5000, 65536 };
	static const size_t offs[] = { 0, 16, 1000 };
	struct selfqp r;
	int bad = 0, cases = 0;

	selfqp_open(&r, "odp_repro", argc > 1 ? argv[1] : NULL);
	if (!selfqp_has_odp(&r)) {
		printf("odp_repro: %s has no RC ODP for send, recv, write and read\n",
		       ibv_get_device_name(r.ctx->device));
		return 77;
	}
	printf("odp_repro: %s\n", ibv_get_device_name(r.ctx->device));
	for (int op = OP_WRITE; op <= OP_SEND; op++)
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
			for (size_t o = 0; o < sizeof(offs) / sizeof(offs[0]); o++)
				for (int mode = 0; mode < 4; mode++) {
					cases++;
					bad += !transfer(&r, op, sizes[s],
							 offs[o], mode & 1,
							 mode & 2);
				}
	printf("odp_repro: %d of %d cases wrong\n", bad, cases);
	selfqp_close(&r);
	return bad ? 1 : 0;
}
