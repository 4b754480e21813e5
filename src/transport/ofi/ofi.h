/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Private to the libfabric backend (ofi.c: fabric, CQ, registrations;
 * cm.c: the connection handshake; post.c: work requests).
 *
 * One reliable-datagram endpoint (FI_EP_RDM) per backend carries every
 * connection's data; its untagged receives are the layer above's shared
 * receives. Which rmx connection a message belongs to travels in its
 * remote CQ data (OFI_DATA_IMM below). Connections are a handshake the
 * backend runs itself in tagged messages (OFI_TAG_CTRL), which have
 * receive buffers of their own. A listener is an endpoint of its own,
 * bound at the listening address, that only takes CONNECT requests.
 */
#ifndef RMX_TRANSPORT_OFI_H
#define RMX_TRANSPORT_OFI_H

#include <stdbool.h>
#include <rdma/fabric.h>
#include <rdma/fi_atomic.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_eq.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_rma.h>
#include <rdma/fi_tagged.h>

#include "core/list.h"
#include "transport/transport.h"
#include "transport/ofi/ofi_ops.h"

#define OFI_API_VERSION FI_VERSION(1, 17)
#define OFI_POLL_BATCH 32
/* Private data a CONNECT or an ACCEPT carries. */
#define OFI_PRIV_MAX 256
/* An endpoint name (sockaddr_in6 for tcp, "fi_shm://..." for shm). */
#define OFI_NAME_MAX 128
/* Largest control message: header, name, private data. */
#define OFI_CTRL_MAX (64 + OFI_NAME_MAX + OFI_PRIV_MAX)
#define OFI_CTRL_RX 64		/* control receives of the main endpoint */
#define OFI_LISTEN_RX 16	/* control receives of a listener */
#define OFI_CTRL_TX 64		/* control sends in flight */
/* Inline bytes copied at post; capped by the provider's inject_size. */
#define OFI_INLINE_MAX 256
/* Tag of control messages; data is untagged. */
#define OFI_TAG_CTRL 0x524d58434f4e4eull	/* "RMXCONN" */

/*
 * Remote CQ data of a data message: the receiver's connection token in
 * the low 31 bits, the message's sequence number on its connection in
 * the high 32 (rxm completes a rendezvous message after eager ones sent
 * behind it: the receiver puts them back in order). OFI_DATA_IMM marks
 * the notice of a write with immediate, whose payload is OFI_NOTICE_LEN
 * bytes: the immediate and the write's length, in network order.
 */
#define OFI_DATA_IMM (1ull << 31)
#define OFI_TOKEN_MASK 0x7fffffffu
#define OFI_NOTICE_LEN 8
#define OFI_SLOT_BITS 20	/* token: generation above, slot below */
#define OFI_MAX_CONNS (1u << OFI_SLOT_BITS)

/*
 * Keys rmx chooses (providers without FI_MR_PROV_KEY): a counter, the
 * remote read and atomics permissions, and the region's address, so
 * that a provider addressing by offset (no FI_MR_VIRT_ADDR) gets the
 * offset from the key alone. x86-64 and arm64 user addresses fit in 47
 * bits. The permission bits are what the initiator checks where the
 * provider does not (tcp lets any key read; libfabric has no atomics
 * permission): they catch rmx's mistakes, not a hostile peer's.
 */
#define OFI_KEY_ADDR_MASK ((1ull << 47) - 1)
#define OFI_KEY_ATOMIC (1ull << 47)
#define OFI_KEY_READ (1ull << 48)
#define OFI_KEY_SEQ_SHIFT 49

enum ofi_ctx_kind {
	OFI_CTX_RX = 1,		/* a shared receive of the layer above */
	OFI_CTX_OP,		/* a send or one-sided operation */
	OFI_CTX_CTRL_RX,	/* a control receive buffer */
	OFI_CTX_CTRL_TX,	/* a control message being sent */
};

/* What every libfabric operation context starts with (FI_CONTEXT2). */
struct ofi_ctx {
	struct fi_context2 fctx;
	enum ofi_ctx_kind kind;
	/*
	 * In its peer's backlog: sends and control messages to one peer
	 * wait there, in post order, while the provider says -FI_EAGAIN
	 * (rxm: while it connects to that peer) or one is ahead of them.
	 */
	struct rmx__list pend;
};

/* The libfabric objects of one endpoint, with its own CQ. */
struct ofi_stack {
	struct fi_info *info;
	struct fid_fabric *fabric;
	struct fid_domain *domain;
	struct fid_av *av;
	struct fid_cq *cq;
	struct fid_ep *ep;
	int cq_fd;		/* -1: the CQ has no wait fd (shm) */
	bool in_loop;
	uint8_t name[OFI_NAME_MAX];
	size_t namelen;
	/* Control receive buffers, one registration (FI_MR_LOCAL). */
	struct ofi_ctrl_rx *crx;
	unsigned int ncrx;
	struct fid_mr *crx_mr;
};

struct ofi_ctrl_rx {
	struct ofi_ctx ctx;
	uint8_t buf[OFI_CTRL_MAX];
};

struct ofi_ctrl_tx {
	struct ofi_ctx ctx;
	struct rmx__list node;	/* ctrl_free, or ctrl_heap while in use */
	struct ofi_peer *peer;
	uint32_t token;		/* whose CONNECT/ACCEPT, or 0 */
	bool heap;		/* not from the registered pool */
	uint8_t type;
	uint32_t len;
	uint8_t buf[OFI_CTRL_MAX];
};

/* A remote endpoint in the AV, shared by every connection to it. */
struct ofi_peer {
	struct rmx__list node;
	fi_addr_t fi_addr;
	struct rmx__list backlog;	/* struct ofi_ctx, by pend */
	struct rmx__list busy;		/* in tp->busy while backlogged */
	size_t namelen;
	uint8_t name[OFI_NAME_MAX];
};

/* A shared receive; what its completion said while it waits its turn. */
struct ofi_rx {
	struct ofi_ctx ctx;
	uint64_t wr_ctx;
	const void *buf;
	struct ofi_rx *next_free;	/* free, early or orphaned */
	uint64_t flags, data;
	size_t len;
	int status;
};

enum ofi_op_type {
	OFI_OP_SEND,
	OFI_OP_INJECT,		/* copied into the op, no completion */
	OFI_OP_WRITE,		/* inline too: it must report the target's error */
	OFI_OP_READ,
	OFI_OP_FETCH_ADD,
	OFI_OP_CMP_SWAP,
};

/* A send-queue request, or one half of a write with immediate. */
struct ofi_op {
	struct ofi_ctx ctx;
	struct rmx__list node;	/* its connection's ops, in post order */
	struct ofi_conn *conn;		/* NULL: destroyed, drop the completion */
	uint64_t wr_ctx;
	bool silent;		/* the write of a write with imm: no upcall */
	bool issued, done, in_backlog;
	int status;
	enum ofi_op_type type;
	const void *buf;
	uint32_t len;
	void *desc;
	uint64_t data;		/* remote CQ data of sends */
	uint64_t raddr, key;
	uint64_t operand, compare;	/* atomics */
	struct ofi_op *next_free;
	struct rmx__list all;	/* tp->ops_all: freed at close */
	uint8_t inl[OFI_INLINE_MAX];
};

enum ofi_conn_state {
	OFI_C_START,		/* active: CONNECT not yet sent */
	OFI_C_REQUESTED,	/* active: waiting for ACCEPT */
	OFI_C_REQUEST,		/* passive: in conn_request */
	OFI_C_ACCEPTING,	/* passive: ACCEPT being sent */
	OFI_C_ESTABLISHED,
	OFI_C_CLOSED,		/* conn_closed given, or rejected */
};

struct ofi_conn {
	struct rmx__tp_conn base;
	struct ofi_tp *tp;
	enum ofi_conn_state state;
	bool passive, accepted;
	bool ready;		/* conn_ready was called */
	int failed;		/* first error: later ops are flushed */
	int carry;		/* a silent op's error, for the op after it */
	int start_err;		/* active: the listener's address was bad */
	struct ofi_peer *lpeer;	/* active: the listener's endpoint */
	int probe_fd;		/* active, tcp: is anyone listening? */
	int64_t probe_at;	/* when to ask, INT64_MAX: never */
	struct rmx__list owed;	/* tp->ready: has ops to deliver */
	bool in_ready;
	uint32_t token;		/* ours: the peer puts it in its data */
	uint32_t peer_token;
	uint32_t tx_seq, rx_seq;	/* next message out, next to deliver */
	struct ofi_rx *early;	/* arrived before rx_seq's message */
	/* Passive: the listener's name, its local address (conn_addr). */
	uint8_t lname[OFI_NAME_MAX];
	size_t lnamelen;
	struct ofi_peer *peer;
	struct rmx__list node;	/* tp->conns */
	struct rmx__list ops;	/* struct ofi_op, post order */
	struct rmx__tp_conn_want want;
	uint32_t sq_depth;
	int64_t deadline_ms;	/* active: connect timeout */
	uint8_t priv[OFI_PRIV_MAX];
	uint32_t priv_len;
};

struct ofi_listener {
	struct rmx__tp_listener base;
	struct ofi_tp *tp;
	struct rmx__list node;
	struct ofi_stack st;
	int port;
};

struct ofi_slot {
	struct ofi_conn *conn;	/* NULL: free */
	uint32_t gen;
};

#define OFI_PROV_MAX 64

/* The backend's knobs (ofi_knobs in ofi.c). */
struct ofi_config {
	char provider[OFI_PROV_MAX];	/* "": tcp, then shm, then any */
	char domain[OFI_PROV_MAX];	/* "": the provider's first */
};

struct ofi_tp {
	struct rmx__tp base;
	const struct rmx__tp_upcalls *up;
	void *upctx;
	struct ofi_config cfg;
	struct rmx__loop *loop;

	struct ofi_stack st;	/* the endpoint of every connection */
	char prov[OFI_PROV_MAX];	/* "tcp", "shm": from the provider name */
	char devname[2 * OFI_PROV_MAX + 2];
	bool local_mr, virt_addr, prov_key, mr_endpoint;
	bool str_addr;		/* FI_ADDR_STR names: shm's "ports" */
	uint32_t inject;	/* max_inline */
	uint64_t max_msg;
	uint64_t key_seq;

	/* Wakes the loop for connect deadlines, and to poll a CQ without fd. */
	int timerfd;
	bool timer_in_loop;

	struct ofi_slot *slots;
	uint32_t nslots, nlive;
	struct rmx__list conns;
	struct rmx__list listeners;
	struct rmx__list peers;

	struct ofi_rx *rx, *rx_free;
	/* Arrivals held for a destroyed connection: delivered naming none. */
	struct ofi_rx *orphans;
	struct ofi_op *op_free;
	struct rmx__list ops_all;
	struct rmx__list busy;	/* peers with a backlog (ofi_ctx.pend) */
	/* Connections with completions owed without a CQ entry (injects). */
	struct rmx__list ready;

	struct ofi_ctrl_tx *ctx_pool;
	struct fid_mr *ctx_mr;
	struct rmx__list ctrl_free;
	struct rmx__list ctrl_heap;	/* beyond the pool (no FI_MR_LOCAL) */
};

/* ofi.c */
int rmx__ofi_errno(int fi_err);
void rmx__ofi_stack_close(struct ofi_tp *tp, struct ofi_stack *st);
/*
 * Opens an endpoint of tp's provider and domain, bound at node/service
 * when given (FI_SOURCE), with nrx control receives posted.
 */
int rmx__ofi_stack_open(struct ofi_tp *tp, struct ofi_stack *st,
			const char *node, const char *service,
			unsigned int nrx);
/* Reposts a control receive buffer after its message was handled. */
int rmx__ofi_ctrl_repost(struct ofi_stack *st, struct ofi_ctrl_rx *r);

/* Names: an endpoint name as a socket address and back (cm.c). */
int rmx__ofi_name_to_sa(const struct ofi_tp *tp, const uint8_t *name,
			size_t len, struct sockaddr_storage *out);
int rmx__ofi_sa_to_name(const struct ofi_tp *tp, const struct sockaddr *sa,
			uint8_t *name, size_t *len);
/* shm: the name of a "port" on this node; whether an endpoint holds it. */
void rmx__ofi_port_name(int port, char *buf, size_t len);
bool rmx__ofi_port_taken(int port);
/* shm: a port no endpoint holds, or -EADDRINUSE. */
int rmx__ofi_free_port(void);

/* cm.c */
int rmx__ofi_listen(struct rmx__tp *tp, const struct sockaddr *sa,
		    void *owner, struct rmx__tp_listener **out);
int rmx__ofi_listener_port(const struct rmx__tp_listener *l);
void rmx__ofi_listener_close(struct rmx__tp_listener *l);
int rmx__ofi_connect(struct rmx__tp *tp, const struct sockaddr *src,
		     const struct sockaddr *dst,
		     const struct rmx__tp_conn_want *want, const void *priv,
		     size_t priv_len, uint32_t timeout_ms, void *owner,
		     struct rmx__tp_conn **out);
int rmx__ofi_accept(struct rmx__tp_conn *conn,
		    const struct rmx__tp_conn_want *want, const void *priv,
		    size_t priv_len, void *owner);
void rmx__ofi_conn_caps(const struct rmx__tp_conn *conn,
			struct rmx__tp_conn_caps *out);
int rmx__ofi_conn_addr(const struct rmx__tp_conn *conn,
		       struct sockaddr_storage *local,
		       struct sockaddr_storage *peer);
void rmx__ofi_conn_destroy(struct rmx__tp_conn *conn);
/* A control message arrived on st (the main endpoint or a listener's). */
void rmx__ofi_ctrl_recv(struct ofi_tp *tp, struct ofi_listener *l,
			const uint8_t *buf, size_t len);
/* A control send completed. */
void rmx__ofi_ctrl_sent(struct ofi_tp *tp, struct ofi_ctrl_tx *t, int status);
/* Starts pending connects, sends queued control messages, expires connects. */
int rmx__ofi_cm_progress(struct ofi_tp *tp);
/* The earliest connect deadline, or INT64_MAX. */
int64_t rmx__ofi_cm_deadline(const struct ofi_tp *tp);
struct ofi_conn *rmx__ofi_conn_by_token(struct ofi_tp *tp, uint32_t token);
/* Fails c (first error wins): flushes later ops, tells the peer, closes. */
void rmx__ofi_conn_fail(struct ofi_conn *c, int status, bool tell_peer);
/* Fails every connection to peer: it is gone. */
void rmx__ofi_peer_fail(struct ofi_tp *tp, struct ofi_peer *peer, int status);
void rmx__ofi_cm_close(struct ofi_tp *tp);

/* post.c */
int rmx__ofi_post_recv(struct rmx__tp *tp, void *buf, uint32_t len,
		       struct rmx__tp_mr *mr, uint64_t wr_ctx);
int rmx__ofi_post_send(struct rmx__tp_conn *conn, const void *buf,
		       uint32_t len, struct rmx__tp_mr *mr, uint64_t wr_ctx);
int rmx__ofi_post_rma(struct rmx__tp_conn *conn,
		      const struct rmx__tp_rma *rma, uint64_t wr_ctx);
/* A CQ entry (or error, status < 0) of an op. */
void rmx__ofi_op_done(struct ofi_tp *tp, struct ofi_op *op, int status);
/* Delivers c's completed ops in post order. */
void rmx__ofi_conn_deliver(struct ofi_conn *c);
/* Issues what the tx queue had no room for; injects' owed completions. */
void rmx__ofi_backlog(struct ofi_tp *tp);
/* Queues a control message behind every send to its peer before it. */
void rmx__ofi_ctrl_queue(struct ofi_tp *tp, struct ofi_ctrl_tx *t);
/* Drops what waits for room to peer from connection token (0: none). */
void rmx__ofi_backlog_drop(struct ofi_tp *tp, struct ofi_peer *peer,
			   uint32_t token);
/* Marks c as having completions to deliver from progress. */
void rmx__ofi_conn_owed(struct ofi_conn *c);
/* conn_destroy: its ops' completions are dropped from now on. */
void rmx__ofi_conn_orphan(struct ofi_conn *c);
/* A receive's completion (ofi.c): in its connection's order. */
void rmx__ofi_recv_done(struct ofi_tp *tp, struct ofi_rx *rx);
/* Delivers the arrivals of destroyed connections. */
int rmx__ofi_orphans(struct ofi_tp *tp);
void rmx__ofi_ops_free(struct ofi_tp *tp);
void *rmx__ofi_mr_desc(const struct rmx__tp_mr *mr);

#endif
