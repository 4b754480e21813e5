/* SPDX-License-Identifier: BSD-2-Clause */
/* Private to the verbs backend: shared by its device, CM, CQ and ODP files. */
#ifndef RMX_TRANSPORT_VERBS_H
#define RMX_TRANSPORT_VERBS_H

#include <stdbool.h>
#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "transport/transport.h"

#define VERBS_POLL_BATCH 32
/*
 * CQs a context may open: the device's largest holds only so many QPs'
 * send queues (rxe: 32767 entries, about 220 of RMX_TX_DEPTH 128).
 */
#define VERBS_MAX_CQS 8

/*
 * One CQ and what its QPs' queues may put in it: every QP's receives
 * can all complete in any one CQ (the SRQ is shared), so each holds the
 * SRQ's depth besides its QPs' send queues.
 */
struct verbs_cq {
	struct ibv_cq *cq;
	int cap;		/* entries it holds */
	int need;		/* the SRQ's depth and its live send queues */
	unsigned int events;	/* got but not yet acknowledged */
};
/* rdma_cm carries at most 56 bytes of private data in a RoCE REQ. */
#define VERBS_PRIV_MAX 56

/*
 * What a listener's REJ carries (kernel include/rdma/ib_cm.h reasons):
 * its CM rejects with INVALID_SERVICE_ID when nobody listens, the
 * application's rdma_reject() with CONSUMER_DEFINED and private data, in
 * which rmx says why: VERBS_REJ_MAGIC, then the listener's errno.
 */
#define VERBS_REJ_CONSUMER_DEFINED 28
#define VERBS_REJ_MAGIC 0x524d5852u	/* "RMXR" */
#define VERBS_REJ_SIZE 8

/*
 * Marks in a work request's wr_id (cq.c): a shared receive's is the layer
 * above's wr_ctx under VERBS_WR_RECV, a send queue's names its connection,
 * a probe's with VERBS_WR_PROBE. A receive's wr_ctx may not use them.
 */
#define VERBS_WR_RECV (1ull << 63)
#define VERBS_WR_PROBE (1ull << 62)
#define VERBS_WR_MARKS (VERBS_WR_RECV | VERBS_WR_PROBE)

/*
 * Shared receives per backend: enough for many peers' credits. One
 * less than a power of two: rxe on 7.x rounds a queue up to hold one
 * more than asked, so 4096 became 8191, and every CQ reserves it.
 */
#define VERBS_SRQ_MAX_WR 4095

struct verbs_conn;

/*
 * The wr_ctx of each work request a send queue holds, oldest first: an
 * RC queue completes in the order it was posted, flushes included, so a
 * completion takes the oldest (cq.c).
 */
struct verbs_fifo {
	uint64_t *ctx;
	uint32_t cap, head, n;
};

/* Connections by index, with a generation for recycled indices (cq.c). */
struct verbs_slot {
	struct verbs_conn *conn;	/* NULL: free */
	uint32_t gen;
	uint32_t next_free;
};

#define VERBS_DEVICE_NAME_MAX 64

/* The backend's own knobs (verbs_knobs in verbs.c). */
struct verbs_config {
	char device[VERBS_DEVICE_NAME_MAX];	/* "" : first active port */
	uint32_t cq_size;	/* initial completion queue entries */
	uint32_t max_inline;	/* inline data requested per QP */
	uint32_t ack_timeout;	/* IBA local ACK timeout exponent */
	uint32_t retry_count;	/* transport retries before an error */
};

struct verbs_tp {
	struct rmx__tp base;
	const struct rmx__tp_upcalls *up;
	void *upctx;
	struct verbs_config cfg;
	struct rmx__loop *loop;

	struct ibv_context **devices;	/* rdma_cm's list: PD must match ids */
	struct ibv_context *verbs;
	uint8_t port;
	struct ibv_device_attr dev_attr;
	uint32_t max_msg;

	struct ibv_pd *pd;
	struct ibv_srq *srq;	/* every QP's receives (transport.h) */
	struct ibv_comp_channel *chan;	/* every CQ's events */
	struct verbs_cq cqs[VERBS_MAX_CQS];
	int ncqs;
	struct verbs_slot *slots;
	uint32_t nslots, free_slot;
	/* Live QPs by number, for receive completions (cq.c). */
	struct verbs_conn **qpn_tab;
	unsigned int qpn_bits;	/* the table has 1 << qpn_bits chains */
	uint32_t nqpn;

	struct rdma_event_channel *cm;
	bool chan_in_loop, cm_in_loop;
	/* Looking for events costs system calls: only when one may be due. */
	bool armed;		/* a CQ may have raised a channel event */
	bool cm_due;		/* arm() saw connection events waiting */
	int64_t cm_next_ms;	/* otherwise, look once a millisecond */

	/*
	 * Completions polled and not yet delivered, oldest first: by
	 * progress(), by arm() and by conn_destroy() (cq.c).
	 */
	struct ibv_wc *pend;
	uint32_t pend_head, pend_n, pend_cap;
	/* A connection whose last arrivals are being delivered: NULL once destroyed. */
	struct verbs_conn *draining;
};

/* What an rdma_cm id's context points at: tells conns from listeners. */
enum verbs_id_kind {
	VERBS_ID_CONN = 1,
	VERBS_ID_LISTENER,
};

struct verbs_conn {
	struct rmx__tp_conn base;
	enum verbs_id_kind kind;
	struct verbs_tp *tp;
	struct rdma_cm_id *id;
	struct rmx__tp_conn_want want;
	struct rmx__tp_conn_caps caps;
	uint8_t priv[VERBS_PRIV_MAX];
	uint8_t priv_len;
	uint8_t rd_atom_in, rd_atom_out;	/* negotiated RDMA read depth */
	uint32_t timeout_ms;
	struct sockaddr_storage src;	/* asked to connect from; or family 0 */
	bool has_qp;
	struct verbs_cq *cq;	/* its QP's, for sends and receives */
	int cq_sq;		/* entries reserved there for it */
	uint32_t slot, gen;	/* in tp->slots: its work requests' wr_id */
	struct verbs_fifo sq;
	uint32_t qpn;		/* its QP's number, in tp->qpn_tab */
	struct verbs_conn *qpn_next;
	bool connected;
};

struct verbs_listener {
	struct rmx__tp_listener base;
	enum verbs_id_kind kind;
	struct rdma_cm_id *id;
};

/*
 * Whether on-demand regions of tp's device get every byte where it
 * belongs (once per device and process): 0, or an error with why in note.
 */
int rmx__verbs_odp_selftest(struct verbs_tp *tp, char *note, size_t cap);

int rmx__verbs_cm_progress(struct verbs_tp *tp);
int rmx__verbs_cm_pending(struct verbs_tp *tp);

/* cq.c */
int rmx__verbs_cq_open(struct verbs_tp *tp);
void rmx__verbs_cq_close(struct verbs_tp *tp);
/*
 * A CQ with room for a send queue of n entries, grown or opened as
 * needed: -ENOMEM, logged, when all VERBS_MAX_CQS are full.
 */
int rmx__verbs_cq_reserve(struct verbs_tp *tp, int n, struct verbs_cq **out);
void rmx__verbs_cq_release(struct verbs_cq *vcq, int n);
/* Delivers what is pending and up to `batches` polls of the CQs. */
int rmx__verbs_cq_poll(struct verbs_tp *tp, int batches);
/* Requests the next event (sets armed); -EAGAIN when completions are due. */
int rmx__verbs_cq_arm(struct verbs_tp *tp);
void rmx__verbs_cq_drain_channel(struct verbs_tp *tp);
/*
 * From now on, the send-queue requests of c's QP (sq entries) get wr_ids
 * that name it and its receive completions name it / never again: its
 * send completions still queued are dropped, its receives name nobody.
 */
int rmx__verbs_conn_track(struct verbs_tp *tp, struct verbs_conn *c,
			  uint32_t sq);
void rmx__verbs_conn_untrack(struct verbs_tp *tp, struct verbs_conn *c);
/*
 * Before a QP (in error already) is destroyed: keeps what the CQ holds,
 * its receives marked as nobody's, for progress() to deliver.
 */
void rmx__verbs_cq_orphan(struct verbs_tp *tp, struct verbs_cq *vcq,
			  uint32_t qpn);
/*
 * Remembers wr_ctx for a send-queue request of kind (send or probe)
 * about to be posted; its wr_id.
 */
int rmx__verbs_wr_push(struct verbs_conn *c, enum rmx__tp_comp_kind kind,
		       uint64_t wr_ctx, uint64_t *wr_id);
/* Forgets the one just pushed: its post failed. */
void rmx__verbs_wr_unpush(struct verbs_conn *c);
int rmx__verbs_errno_from_wc(enum ibv_wc_status st);

/* addr.c: an IP of the opened port; -EADDRNOTAVAIL when it has none. */
int rmx__verbs_host_addr(const struct rmx__tp *base,
			 struct sockaddr_storage *out);
uint32_t rmx__verbs_lkey(const struct rmx__tp_mr *mr);

/* CM half of the ops table. */
int rmx__verbs_listen(struct rmx__tp *tp, const struct sockaddr *sa,
		      void *owner, struct rmx__tp_listener **out);
int rmx__verbs_listener_port(const struct rmx__tp_listener *l);
void rmx__verbs_listener_close(struct rmx__tp_listener *l);
int rmx__verbs_connect(struct rmx__tp *tp, const struct sockaddr *src,
		       const struct sockaddr *dst,
		       const struct rmx__tp_conn_want *want, const void *priv,
		       size_t priv_len, uint32_t timeout_ms, void *owner,
		       struct rmx__tp_conn **out);
int rmx__verbs_accept(struct rmx__tp_conn *conn,
		      const struct rmx__tp_conn_want *want, const void *priv,
		      size_t priv_len, void *owner);
void rmx__verbs_conn_caps(const struct rmx__tp_conn *conn,
			  struct rmx__tp_conn_caps *out);
int rmx__verbs_conn_addr(const struct rmx__tp_conn *conn,
			 struct sockaddr_storage *local,
			 struct sockaddr_storage *peer);
void rmx__verbs_conn_destroy(struct rmx__tp_conn *conn);
int rmx__verbs_post_recv(struct rmx__tp *tp, void *buf, uint32_t len,
			 struct rmx__tp_mr *mr, uint64_t wr_ctx);
int rmx__verbs_post_send(struct rmx__tp_conn *conn, const void *buf,
			 uint32_t len, struct rmx__tp_mr *mr, uint64_t wr_ctx);
int rmx__verbs_post_rma(struct rmx__tp_conn *conn,
			const struct rmx__tp_rma *rma, uint64_t wr_ctx);
int rmx__verbs_post_probe(struct rmx__tp_conn *conn, uint64_t wr_ctx);

#endif
