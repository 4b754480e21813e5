// SPDX-License-Identifier: BSD-2-Clause
/*
 * Verbs backend: is the device's on-demand paging to be trusted?
 *
 * Advertised ODP is not always correct ODP. rxe in Linux 7.3 (it gained
 * ODP in 6.15) places data of an on-demand region at the wrong offset
 * whenever a transfer does not start on a page boundary or spans more
 * than one packet: the bytes land up to a page before the buffer, on
 * malloc's chunk headers (tests/odp_repro.c shows it with plain verbs).
 * A library that trusted the capability bits would corrupt its caller's
 * heap. So before ODP is offered to the registration layer, a queue pair
 * connected to itself moves a pattern by RDMA write, RDMA read and send
 * from pinned into on-demand memory and back, at unaligned starts, across
 * pages and packets, inside a private mapping with guard bytes; every
 * byte is checked. One side is always pinned, and the two start at
 * different page offsets, so that the same error on both sides cannot
 * cancel out. The verdict is kept per device for the life of the process.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "core/clock.h"
#include "core/log.h"
#include "transport/verbs/verbs.h"

#define PAGE 4096u
#define SRC_OFFSET 16u		/* where a heap buffer starts at best */
#define DST_OFFSET 1000u
#define LEN (2 * PAGE + 100)	/* several packets at any MTU, three pages */
#define GUARD_BYTE 0xa5
#define WAIT_MS 2000		/* a correct device answers in microseconds */

struct selftest {
	struct verbs_tp *tp;
	struct ibv_cq *cq;
	struct ibv_qp *qp;
	uint8_t *map;		/* two arenas: source, then sink */
	size_t map_len;
	uint8_t *src, *dst;
	/* Each buffer twice: [0] pinned, [1] on demand. */
	struct ibv_mr *src_mr[2], *dst_mr[2];
};

/* The QP answers itself: its own number and address as the peer's. */
static int connect_self(struct selftest *t)
{
	struct verbs_tp *tp = t->tp;
	struct ibv_port_attr pa;
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_INIT,
				 .port_num = tp->port,
				 .qp_access_flags = IBV_ACCESS_REMOTE_WRITE |
						    IBV_ACCESS_REMOTE_READ };
	union ibv_gid gid;

	if (ibv_query_port(tp->verbs, tp->port, &pa) ||
	    ibv_modify_qp(t->qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
					     IBV_QP_PORT | IBV_QP_ACCESS_FLAGS))
		return -errno;
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTR;
	a.path_mtu = pa.active_mtu;
	a.dest_qp_num = t->qp->qp_num;
	a.max_dest_rd_atomic = 1;
	a.min_rnr_timer = 1;
	a.ah_attr.port_num = tp->port;
	a.ah_attr.dlid = pa.lid;
	if (pa.link_layer == IBV_LINK_LAYER_ETHERNET) {
		if (ibv_query_gid(tp->verbs, tp->port, 0, &gid))
			return -errno;
		a.ah_attr.is_global = 1;
		a.ah_attr.grh.dgid = gid;
		a.ah_attr.grh.hop_limit = 1;
	}
	if (ibv_modify_qp(t->qp, &a, IBV_QP_STATE | IBV_QP_AV |
					     IBV_QP_PATH_MTU | IBV_QP_DEST_QPN |
					     IBV_QP_RQ_PSN |
					     IBV_QP_MAX_DEST_RD_ATOMIC |
					     IBV_QP_MIN_RNR_TIMER))
		return -errno;
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTS;
	a.timeout = 14;
	a.retry_cnt = 1;
	a.rnr_retry = 1;
	a.max_rd_atomic = 1;
	if (ibv_modify_qp(t->qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT |
					     IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
					     IBV_QP_SQ_PSN |
					     IBV_QP_MAX_QP_RD_ATOMIC))
		return -errno;
	return 0;
}

static int setup(struct selftest *t)
{
	const int acc = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
			IBV_ACCESS_REMOTE_READ;
	struct ibv_qp_init_attr qa = {
		.qp_type = IBV_QPT_RC,
		.cap = { .max_send_wr = 2, .max_recv_wr = 1,
			 .max_send_sge = 1, .max_recv_sge = 1 },
	};
	size_t arena = (DST_OFFSET + LEN + PAGE - 1) / PAGE * PAGE + 2 * PAGE;
	int odp;

	t->map_len = 2 * arena;
	t->map = mmap(NULL, t->map_len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (t->map == MAP_FAILED) {
		t->map = NULL;
		return -errno;
	}
	t->src = t->map + PAGE + SRC_OFFSET;
	t->dst = t->map + arena + PAGE + DST_OFFSET;
	t->cq = ibv_create_cq(t->tp->verbs, 4, NULL, NULL, 0);
	if (!t->cq)
		return -errno;
	qa.send_cq = qa.recv_cq = t->cq;
	t->qp = ibv_create_qp(t->tp->pd, &qa);
	if (!t->qp)
		return -errno;
	for (odp = 0; odp < 2; odp++) {
		int a = acc | (odp ? IBV_ACCESS_ON_DEMAND : 0);

		t->src_mr[odp] = ibv_reg_mr(t->tp->pd, t->src, LEN, a);
		if (!t->src_mr[odp])
			return -errno;
		t->dst_mr[odp] = ibv_reg_mr(t->tp->pd, t->dst, LEN, a);
		if (!t->dst_mr[odp])
			return -errno;
	}
	return connect_self(t);
}

static void teardown(struct selftest *t)
{
	int i;

	if (t->qp)
		ibv_destroy_qp(t->qp);
	for (i = 0; i < 2; i++) {
		if (t->dst_mr[i])
			ibv_dereg_mr(t->dst_mr[i]);
		if (t->src_mr[i])
			ibv_dereg_mr(t->src_mr[i]);
	}
	if (t->cq)
		ibv_destroy_cq(t->cq);
	if (t->map)
		munmap(t->map, t->map_len);
}

/* Waits for n successful completions; -ETIMEDOUT or -EIO otherwise. */
static int reap(struct selftest *t, int n)
{
	int64_t deadline = rmx__now_ms() + WAIT_MS;
	struct ibv_wc wc;

	while (n) {
		int got = ibv_poll_cq(t->cq, 1, &wc);

		if (got < 0)
			return -EIO;
		if (got) {
			if (wc.status != IBV_WC_SUCCESS)
				return -EIO;
			n--;
		} else if (rmx__now_ms() > deadline) {
			return -ETIMEDOUT;
		}
	}
	return 0;
}

enum move { MOVE_WRITE, MOVE_READ, MOVE_SEND };
static const char *const move_name[] = { "RDMA write", "RDMA read", "send" };

/* One transfer src -> dst of LEN bytes; the side dst_odp says is on demand. */
static int move(struct selftest *t, enum move m, bool dst_odp)
{
	struct ibv_mr *smr = t->src_mr[!dst_odp], *dmr = t->dst_mr[dst_odp];
	struct ibv_sge sge = { .length = LEN };
	struct ibv_send_wr wr = { .sg_list = &sge, .num_sge = 1,
				  .send_flags = IBV_SEND_SIGNALED }, *bad;
	struct ibv_sge rsge = { .addr = (uintptr_t)t->dst, .length = LEN,
				.lkey = dmr->lkey };
	struct ibv_recv_wr rwr = { .sg_list = &rsge, .num_sge = 1 }, *rbad;

	if (m == MOVE_READ) {
		/* The sink pulls from the source. */
		sge.addr = (uintptr_t)t->dst;
		sge.lkey = dmr->lkey;
		wr.opcode = IBV_WR_RDMA_READ;
		wr.wr.rdma.remote_addr = (uintptr_t)t->src;
		wr.wr.rdma.rkey = smr->rkey;
	} else {
		sge.addr = (uintptr_t)t->src;
		sge.lkey = smr->lkey;
		wr.opcode = m == MOVE_WRITE ? IBV_WR_RDMA_WRITE : IBV_WR_SEND;
		wr.wr.rdma.remote_addr = (uintptr_t)t->dst;
		wr.wr.rdma.rkey = dmr->rkey;
	}
	if (m == MOVE_SEND && ibv_post_recv(t->qp, &rwr, &rbad))
		return -errno;
	if (ibv_post_send(t->qp, &wr, &bad))
		return -errno;
	return reap(t, m == MOVE_SEND ? 2 : 1);
}

/* Offset of the first wrong byte in the sink's arena, or -1. */
static long first_wrong(const struct selftest *t)
{
	const uint8_t *arena = t->dst - PAGE - DST_OFFSET;
	size_t i, n = t->map_len / 2;

	for (i = 0; i < n; i++) {
		const uint8_t *p = arena + i;
		uint8_t want = p >= t->dst && p < t->dst + LEN ?
				       t->src[p - t->dst] : GUARD_BYTE;

		if (*p != want)
			return (long)(p - t->dst);
	}
	return -1;
}

/*
 * Runs the moves; 0 when every byte is right, else why not in note.
 * Errors setting up say nothing about ODP: they are returned as such.
 */
static int run(struct verbs_tp *tp, char *note, size_t cap)
{
	struct selftest t = { .tp = tp };
	long bad;
	int ret, i;

	ret = setup(&t);
	if (ret) {
		snprintf(note, cap, "could not be tested (%s)", strerror(-ret));
		teardown(&t);
		return ret;
	}
	for (i = 0; i < 6 && !ret; i++) {
		enum move m = (enum move)(i / 2);
		bool dst_odp = i % 2;
		size_t j;

		memset(t.map, GUARD_BYTE, t.map_len);
		for (j = 0; j < LEN; j++)
			t.src[j] = (uint8_t)(j * 7 + j / 251 + i + 1);
		ret = move(&t, m, dst_odp);
		if (ret) {
			snprintf(note, cap, "%s of %u bytes %s on-demand memory %s",
				 move_name[m], LEN, dst_odp ? "into" : "out of",
				 ret == -ETIMEDOUT ? "never completed" :
						     "completed with an error");
			break;
		}
		bad = first_wrong(&t);
		if (bad >= 0) {
			snprintf(note, cap, "%s of %u bytes %s on-demand memory at page offset %u misplaced data (first wrong byte at offset %ld)",
				 move_name[m], LEN, dst_odp ? "into" : "out of",
				 dst_odp ? DST_OFFSET : SRC_OFFSET, bad);
			ret = -EIO;
		}
	}
	teardown(&t);
	return ret;
}

/* Verdicts by device, for every context of the process. */
#define KNOWN_MAX 8
static struct {
	char dev[IBV_SYSFS_NAME_MAX];
	__be64 guid;
	int verdict;
	char note[RMX__TP_NOTE_MAX];
} known[KNOWN_MAX];
static int nknown;
static pthread_mutex_t known_lock = PTHREAD_MUTEX_INITIALIZER;

int rmx__verbs_odp_selftest(struct verbs_tp *tp, char *note, size_t cap)
{
	const char *dev = ibv_get_device_name(tp->verbs->device);
	__be64 guid = ibv_get_device_guid(tp->verbs->device);
	int i, ret;

	pthread_mutex_lock(&known_lock);
	for (i = 0; i < nknown; i++) {
		if (known[i].guid == guid && !strcmp(known[i].dev, dev)) {
			snprintf(note, cap, "%s", known[i].note);
			ret = known[i].verdict;
			pthread_mutex_unlock(&known_lock);
			return ret;
		}
	}
	note[0] = '\0';
	ret = run(tp, note, cap);
	if (ret)
		rmx__info("%s: on-demand paging not used: %s", dev, note);
	if (nknown < KNOWN_MAX) {
		snprintf(known[nknown].dev, sizeof(known[nknown].dev), "%s", dev);
		known[nknown].guid = guid;
		known[nknown].verdict = ret;
		snprintf(known[nknown].note, sizeof(known[nknown].note), "%s",
			 note);
		nknown++;
	}
	pthread_mutex_unlock(&known_lock);
	return ret;
}
