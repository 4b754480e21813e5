/* SPDX-License-Identifier: BSD-2-Clause */
/* Private to the verbs backend: shared by its device and CM halves. */
#ifndef RMX_TRANSPORT_VERBS_H
#define RMX_TRANSPORT_VERBS_H

#include <stdbool.h>
#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "transport/transport.h"

#define VERBS_POLL_BATCH 32
/* rdma_cm carries at most 56 bytes of private data in a RoCE REQ. */
#define VERBS_PRIV_MAX 56

struct verbs_conn;

/* One CQ per kind of work request: send (and RMA), receive. */
enum { VERBS_CQ_SEND, VERBS_CQ_RECV, VERBS_NCQ };

struct verbs_cq {
	struct ibv_cq *cq;
	int cap;		/* entries it holds */
	int need;		/* sum of the queue depths of live QPs */
	unsigned int events;	/* got but not yet acknowledged */
};

struct verbs_wc {
	struct ibv_wc wc;
	uint8_t kind;		/* VERBS_CQ_* */
};

/* Live QPs by number, for naming a completion's connection (cq.c). */
struct verbs_qpmap {
	struct verbs_conn **conns;
	uint32_t cap, n;
};

#define VERBS_DEVICE_NAME_MAX 64

/* The backend's own knobs (verbs_knobs in verbs.c). */
struct verbs_config {
	char device[VERBS_DEVICE_NAME_MAX];	/* "" : first active port */
	uint32_t cq_size;	/* initial completion queue entries */
	uint32_t max_inline;	/* inline data requested per QP */
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
	struct ibv_comp_channel *chan;
	struct verbs_cq cq[VERBS_NCQ];
	struct verbs_qpmap qps;

	struct rdma_event_channel *cm;
	bool chan_in_loop, cm_in_loop;
	/* Looking for events costs system calls: only when one may be due. */
	bool armed;		/* the CQ may have raised a channel event */
	bool cm_due;		/* arm() saw connection events waiting */
	int64_t cm_next_ms;	/* otherwise, look once a millisecond */

	/* Completions polled (by arm(), or around a destroyed QP) not yet delivered. */
	struct verbs_wc *pending;
	int npending, pending_cap;
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
	bool has_qp;
	uint32_t qpn;		/* its QP's number, while has_qp */
	int cq_sq, cq_rq;	/* CQ entries reserved for it */
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
int rmx__verbs_cq_open(struct verbs_tp *tp, int entries);
void rmx__verbs_cq_close(struct verbs_tp *tp);
/* Grows the CQs for a QP of sq send and rq receive entries. */
int rmx__verbs_cq_reserve(struct verbs_tp *tp, int sq, int rq);
void rmx__verbs_cq_release(struct verbs_tp *tp, int sq, int rq);
/* Delivers pending completions, then up to `batches` polls of each CQ. */
int rmx__verbs_cq_poll(struct verbs_tp *tp, int batches);
/* Requests the next events; -EAGAIN when completions are already due. */
int rmx__verbs_cq_arm(struct verbs_tp *tp);
void rmx__verbs_cq_drain_channel(struct verbs_tp *tp);
/* The connection's completions name it from now on / never again. */
int rmx__verbs_qp_add(struct verbs_tp *tp, struct verbs_conn *c);
void rmx__verbs_qp_del(struct verbs_tp *tp, struct verbs_conn *c);
int rmx__verbs_errno_from_wc(enum ibv_wc_status st);
uint32_t rmx__verbs_lkey(const struct rmx__tp_mr *mr);

/* CM half of the ops table. */
int rmx__verbs_listen(struct rmx__tp *tp, const struct sockaddr *sa,
		      void *owner, struct rmx__tp_listener **out);
int rmx__verbs_listener_port(const struct rmx__tp_listener *l);
void rmx__verbs_listener_close(struct rmx__tp_listener *l);
int rmx__verbs_connect(struct rmx__tp *tp, const struct sockaddr *dst,
		       const struct rmx__tp_conn_want *want, const void *priv,
		       size_t priv_len, uint32_t timeout_ms, void *owner,
		       struct rmx__tp_conn **out);
int rmx__verbs_accept(struct rmx__tp_conn *conn,
		      const struct rmx__tp_conn_want *want, const void *priv,
		      size_t priv_len, void *owner);
void rmx__verbs_conn_caps(const struct rmx__tp_conn *conn,
			  struct rmx__tp_conn_caps *out);
void rmx__verbs_conn_destroy(struct rmx__tp_conn *conn);
int rmx__verbs_post_recv(struct rmx__tp_conn *conn, void *buf, uint32_t len,
			 struct rmx__tp_mr *mr, uint64_t wr_ctx);
int rmx__verbs_post_send(struct rmx__tp_conn *conn, const void *buf,
			 uint32_t len, struct rmx__tp_mr *mr, uint64_t wr_ctx);
int rmx__verbs_post_rma(struct rmx__tp_conn *conn,
			const struct rmx__tp_rma *rma, uint64_t wr_ctx);

#endif
