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

#define PAGE 4096u
#define GUARD_BYTE 0xa5

struct rig {
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_cq *cq;
	struct ibv_qp *qp;
};

static int die(const char *what, int err)
{
	fprintf(stderr, "odp_repro: %s: %s\n", what, strerror(err));
	exit(2);
}

static struct ibv_context *open_device(const char *name)
{
	struct ibv_device **list = ibv_get_device_list(NULL);
	struct ibv_context *ctx = NULL;

	if (!list)
		die("ibv_get_device_list", errno);
	for (int i = 0; list[i] && !ctx; i++)
		if (!name || !strcmp(ibv_get_device_name(list[i]), name))
			ctx = ibv_open_device(list[i]);
	ibv_free_device_list(list);
	if (!ctx)
		die(name ? name : "no RDMA device", ENODEV);
	return ctx;
}

/* RESET -> INIT -> RTR -> RTS, with the QP as its own peer. */
static void connect_self(struct rig *r)
{
	struct ibv_port_attr port;
	union ibv_gid gid;
	struct ibv_qp_attr a;

	if (ibv_query_port(r->ctx, 1, &port) || ibv_query_gid(r->ctx, 1, 0, &gid))
		die("ibv_query_port/gid", errno);
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_INIT;
	a.port_num = 1;
	a.qp_access_flags = IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ;
	if (ibv_modify_qp(r->qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
			  IBV_QP_PORT | IBV_QP_ACCESS_FLAGS))
		die("modify to INIT", errno);
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTR;
	a.path_mtu = port.active_mtu;
	a.dest_qp_num = r->qp->qp_num;
	a.max_dest_rd_atomic = 1;
	a.min_rnr_timer = 12;
	a.ah_attr.is_global = 1;
	a.ah_attr.grh.dgid = gid;
	a.ah_attr.grh.hop_limit = 1;
	a.ah_attr.dlid = port.lid;
	a.ah_attr.port_num = 1;
	if (ibv_modify_qp(r->qp, &a, IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU |
			  IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
			  IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER))
		die("modify to RTR", errno);
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTS;
	a.timeout = 14;
	a.retry_cnt = 7;
	a.rnr_retry = 7;
	a.max_rd_atomic = 1;
	if (ibv_modify_qp(r->qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT |
			  IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN |
			  IBV_QP_MAX_QP_RD_ATOMIC))
		die("modify to RTS", errno);
}

static void setup(struct rig *r, const char *name)
{
	struct ibv_qp_init_attr qa = {
		.qp_type = IBV_QPT_RC,
		.cap = { .max_send_wr = 4, .max_recv_wr = 4,
			 .max_send_sge = 1, .max_recv_sge = 1 },
	};

	r->ctx = open_device(name);
	r->pd = ibv_alloc_pd(r->ctx);
	r->cq = r->pd ? ibv_create_cq(r->ctx, 8, NULL, NULL, 0) : NULL;
	if (!r->cq)
		die("ibv_alloc_pd/create_cq", errno);
	qa.send_cq = qa.recv_cq = r->cq;
	r->qp = ibv_create_qp(r->pd, &qa);
	if (!r->qp)
		die("ibv_create_qp", errno);
	connect_self(r);
}

static bool has_odp(struct rig *r)
{
	const uint32_t need = IBV_ODP_SUPPORT_SEND | IBV_ODP_SUPPORT_RECV |
			      IBV_ODP_SUPPORT_WRITE | IBV_ODP_SUPPORT_READ;
	struct ibv_device_attr_ex ax;

	return !ibv_query_device_ex(r->ctx, NULL, &ax) &&
	       (ax.odp_caps.general_caps & IBV_ODP_SUPPORT) &&
	       (ax.odp_caps.per_transport_caps.rc_odp_caps & need) == need;
}

/* Waits for n completions; returns the first bad status or 0. */
static int reap(struct rig *r, int n)
{
	struct ibv_wc wc;
	int bad = 0;

	while (n) {
		int got = ibv_poll_cq(r->cq, 1, &wc);

		if (got < 0)
			die("ibv_poll_cq", EIO);
		if (!got)
			continue;
		n--;
		if (wc.status && !bad) {
			fprintf(stderr, "  completion: %s\n",
				ibv_wc_status_str(wc.status));
			bad = wc.status;
		}
	}
	return bad;
}

enum op { OP_WRITE, OP_READ, OP_SEND };
static const char *const op_name[] = { "write", "read", "send" };

/* A mapping of len bytes at offset off of its second page, guards around. */
static uint8_t *arena(size_t len, size_t off, size_t *arena_len)
{
	uint8_t *a;

	*arena_len = (off + len + PAGE - 1) / PAGE * PAGE + 2 * PAGE;
	a = mmap(NULL, *arena_len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED)
		die("mmap", errno);
	memset(a, GUARD_BYTE, *arena_len);
	return a + PAGE + off;
}

/*
 * One transfer of len bytes from src to dst, each off bytes past a page
 * boundary. Returns true when the data and every guard byte are right.
 */
static bool transfer(struct rig *r, enum op op, size_t len, size_t off,
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
		die("ibv_reg_mr", errno);
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
			die("ibv_post_recv", errno);
		break;
	}
	if (ibv_post_send(r->qp, &wr, &bad_wr))
		die("ibv_post_send", errno);
	ok = !reap(r, op == OP_SEND ? 2 : 1);
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
	struct rig r;
	int bad = 0, cases = 0;

	setup(&r, argc > 1 ? argv[1] : NULL);
	if (!has_odp(&r)) {
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
	ibv_destroy_qp(r.qp);
	ibv_destroy_cq(r.cq);
	ibv_dealloc_pd(r.pd);
	ibv_close_device(r.ctx);
	return bad ? 1 : 0;
}
