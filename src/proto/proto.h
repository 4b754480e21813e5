/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The protocol layer: endpoints and their state, operations, the ordered
 * queue of finished work whose callbacks rmx_progress() runs. It drives a
 * transport through its ops table and never includes a fabric header.
 */
#ifndef RMX_PROTO_H
#define RMX_PROTO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <rmx/rmx.h>

#include "core/config.h"
#include "core/heap.h"
#include "core/list.h"
#include "core/log.h"
#include "mem/reg.h"
#include "proto/pool.h"
#include "proto/wire.h"
#include "transport/transport.h"

enum rmx__done_kind {
	RMX__DONE_OP,
	RMX__DONE_EP,
	RMX__DONE_CALL,		/* an RPC call's response or failure */
	RMX__DONE_RPC_REQ,	/* an RPC request for its handler */
};

/* Something whose callback is due: an operation or an endpoint event. */
struct rmx__done {
	struct rmx__list node;
	uint8_t kind;
};

enum rmx__op_type {
	RMX__OP_SEND,
	RMX__OP_RECV,
	RMX__OP_PUT,
	RMX__OP_GET,
	RMX__OP_CREDIT,		/* internal: a credit message in flight */
	RMX__OP_PUT_IMM,	/* write, then notify the target */
	RMX__OP_FADD,
	RMX__OP_CSWAP,
	RMX__OP_IMM,		/* a notification that arrived */
	RMX__OP_CTRL,		/* internal: a protocol message (ATS) */
	RMX__OP_AM,		/* a message for the active-message callback */
};

struct rmx__op {
	/* Every kind */
	struct rmx__done done;	/* node: in an endpoint list, then done */
	enum rmx__op_type type;
	rmx_comp_cb cb;
	void *arg;
	int status;
	char *buf;
	size_t len;		/* requested; for receives: what arrived */
	bool matched;		/* RECV: met its message (len is its size) */
	/* What the send engine posts (SEND, CTRL, RMA kinds) */
	size_t posted;		/* bytes handed to the transport */
	uint32_t wr_out;	/* work requests in flight */
	bool queued;		/* still on tx_queue: more to post */
	struct rmx__region *reg;
	uint64_t raddr, rkey;	/* RMA kinds, rendezvous reads */
	uint32_t imm;		/* PUT_IMM, IMM */
	/*
	 * Rendezvous: a send waits for its ATS; a read serves a receive.
	 * offered: an exact registration of the message, the peer's only
	 * key to it, gone when the ATS comes (or the operation ends).
	 */
	uint64_t rndv_id;
	bool awaiting_ats;
	struct rmx__tp_mr *offered;
	struct rmx__op *parent;		/* the receive an internal read fills */
	/* Runs when the send engine ends the operation it posted. */
	void (*on_done)(struct rmx_ep *ep, struct rmx__op *op);
	/* CTRL: a protocol message's payload; AM: a rendezvous's RTS. */
	uint8_t ctrl[RMX__RTS_SIZE];
	uint8_t ctrl_type;
	uint8_t ctrl_len;
	/* RPC: the call or request an operation serves, a copy it owns. */
	void *owned;			/* freed when the operation ends */
	struct rmx__rpc_call *call;	/* request sent or response read */
	struct rmx_rpc_req *srv;	/* request read for a handler */
	/* Fields of one kind each; zero for every other kind. */
	union {
		struct {	/* AM: eager data in buf (owned), or an RTS */
			rmx_am_cb am_cb;
			struct rmx__proto *am_p;
			uint32_t am_ep;	/* the endpoint's id, looked up again */
			bool am_rndv, am_taken;
		};
		struct {	/* FADD, CSWAP */
			uint64_t compare_add;
			uint64_t swap;
		};
		rmx_imm_cb imm_cb;	/* IMM */
		struct {	/* SEND of an RPC: its wire type and header */
			uint8_t rpc_type;	/* RMX__MSG_RPC_REQ or _RESP */
			uint8_t rpc_hdr[RMX__RPC_HDR_SIZE];
		};
	};
};

/* A call waiting for its response (rpc.c). */
struct rmx__rpc_call {
	struct rmx__done done;
	struct rmx__list hash;		/* in the endpoint's call table */
	struct rmx__heap_node timer;
	struct rmx_ep *ep;
	uint64_t id;
	rmx_rpc_cb cb;
	void *arg;
	char *resp_buf;			/* the caller's, or NULL */
	size_t resp_cap;
	char *resp;			/* what the callback sees */
	size_t resp_len;
	bool resp_owned;		/* resp is ours to free */
	int status;
	struct rmx__op *send_op;	/* the request, until it is done */
	struct rmx__op *read_op;	/* the response, while it is read */
	int late_status;		/* timed out or cancelled during the read */
};

/* A request for a handler, open until rmx_rpc_respond(). */
struct rmx_rpc_req {
	struct rmx__done done;
	struct rmx__list link;		/* proto->rpc_open once delivered */
	struct rmx__proto *p;
	uint32_t ep_id;
	uint64_t call_id;
	uint16_t rpc_id;
	char *data;
	size_t len;
};

struct rmx__rpc_handler {
	rmx_rpc_handler fn;
	void *arg;
};

/* A one-sided request as the API hands it down. */
struct rmx__rma_req {
	enum rmx__op_type type;
	void *buf;
	size_t len;
	uint64_t raddr, rkey;
	uint32_t imm;
	uint64_t compare_add, swap;
};

/* No send buffer: the slot holds a one-sided operation, or nothing. */
#define RMX__NO_BOUNCE UINT32_MAX

struct rmx__tx_slot {
	struct rmx__op *op;	/* NULL: free */
	uint32_t rma_bytes;	/* RDMA data this work request moves */
	uint32_t bounce;	/* the message's buffer in proto->tx_bufs */
};

struct rmx__arrival {
	uint32_t slot;
	uint32_t len;		/* payload bytes */
	uint8_t type;		/* RMX__MSG_EAGER or RMX__MSG_RTS */
};

enum rmx__ep_ev {
	RMX__EV_CONNECTED = 1 << 0,
	RMX__EV_ACCEPTED = 1 << 1,
	RMX__EV_CLOSED = 1 << 2,
};

/*
 * Decides on a connection request from the peer's connect data, before
 * anything is allocated for it: 0 accepts, a negative errno rejects.
 */
typedef int (*rmx__accept_filter)(void *arg, const void *data, size_t len);

struct rmx_listener {
	struct rmx__proto *p;
	struct rmx__tp_listener *tpl;
	rmx_accept_cb cb;
	void *arg;
	rmx__accept_filter filter;	/* optional */
	void *filter_arg;
	struct rmx__list link;
};

struct rmx_ep {
	struct rmx__proto *p;
	struct rmx__tp_conn *conn;	/* NULL once closed */
	uint32_t id;			/* table index | generation << 16 */
	enum rmx_ep_state state;
	int error;
	bool destroying;
	/*
	 * Destroyed, but its connection outlives it until the BYE that
	 * tells the peer so has gone (deadline_ms bounds the wait): on
	 * proto->lingering, out of the id table, the user's no more.
	 */
	bool lingering;
	bool bye_sent;
	bool handed_out;		/* the user holds it */
	struct rmx_listener *listener;	/* accepted here, not yet handed out */
	rmx_ep_event_cb event_cb;
	void *event_arg;
	rmx_imm_cb imm_cb;
	void *imm_arg;
	rmx_am_cb am_cb;
	void *am_arg;
	struct rmx__done ev;		/* pending events, as ev_bits */
	unsigned int ev_bits;
	int ev_status;
	int64_t deadline_ms;		/* connect, or next liveness step */
	int64_t alive_ms;		/* last completion: the peer's device is there */
	int64_t heard_ms;		/* last arrival: the peer's rmx is there */
	bool probe_out;			/* keepalive: a probe is posted */
	bool ping_sent;			/* RMX_PEER_TIMEOUT_MS: a ping is out */
	bool pong_due;			/* the peer pinged: reply */
	struct rmx__list link;		/* proto->eps */
	char peer[RMX_ADDR_STRLEN];	/* rmx_ep_peer_addr() */
	char local[RMX_ADDR_STRLEN];	/* rmx_ep_local_addr(); "": not yet */
	uint8_t peer_data_len;		/* the peer's rmx_ep_params.connect_data */
	uint8_t peer_data[RMX_CONNECT_DATA_MAX];

	uint32_t eager_max;		/* largest eager payload both sides accept */
	struct rmx__tp_conn_caps caps;

	/* Send slots; a message's takes a buffer of proto->tx_bufs. */
	uint32_t tx_depth;
	struct rmx__tx_slot *tx;
	uint32_t *tx_free;		/* stack of free slot indices */
	uint32_t ntx_free;
	bool tx_waiting;		/* on proto->tx_waiting for a buffer */
	struct rmx__list tx_wait_link;
	struct rmx__list tx_queue;	/* ops with data left to post */
	struct rmx__list tx_active;	/* fully posted, awaiting completion */
	uint64_t rma_inflight;		/* RDMA bytes posted, not completed */

	/*
	 * Credits: a message is sent only into a receive buffer the peer is
	 * known to have posted, so the device never needs RNR retries.
	 */
	uint32_t tx_credits;		/* peer buffers free for us */
	uint32_t peer_rx_max;		/* most the peer ever lends us */
	uint32_t rx_owed;		/* ours reposted, not yet announced */
	uint32_t credit_threshold;	/* owed this many: say so at once */
	struct rmx__op credit_op;	/* marks slots holding credit messages */

	/* Our buffers in proto->rx granted to the peer (rxpool.c). */
	uint32_t rx_grant;
	uint32_t peer_credits;		/* of them, the peer may still use */
	bool rx_wants;			/* the peer is busy and would use more */
	struct rmx__arrival *arrived;	/* ring of unmatched messages */
	uint32_t arr_cap, arr_head, arr_count;
	struct rmx__list recv_posted;
	struct rmx__list reading;	/* receives filled by rendezvous reads */
	uint64_t rndv_next_id;

	/* RPC calls awaiting a response, hashed by id. */
	struct rmx__list *calls;
	uint32_t calls_mask, ncalls;
	uint64_t call_next_id;
};

struct rmx__ep_slot {
	struct rmx_ep *ep;
	uint16_t gen;
	uint32_t next_free;
};

/* Handles a message of one wire type; payload holds hdr->len bytes. */
typedef int (*rmx__msg_fn)(struct rmx_ep *ep, const struct rmx__wire_hdr *hdr,
			   const uint8_t *payload);

/*
 * A layer on top of the core (RPC): the core calls it only through this
 * table and its message handlers, never by name.
 */
struct rmx__proto_upper {
	/* An operation ended (op_finish); the layer's own ones matter to it. */
	void (*op_end)(struct rmx__proto *p, struct rmx__op *op, int status,
		       struct rmx__list *to);
	/* An endpoint closed with status: end what waits on it. */
	void (*ep_closed)(struct rmx_ep *ep, int status, struct rmx__list *to);
	void (*ep_fini)(struct rmx_ep *ep);
	/* Runs a due callback of kind RMX__DONE_CALL or RMX__DONE_RPC_REQ. */
	void (*run)(struct rmx__proto *p, struct rmx__done *d);
	void (*check_deadlines)(struct rmx__proto *p, int64_t now);
	int64_t (*next_deadline)(const struct rmx__proto *p);
	void (*fini)(struct rmx__proto *p);
};

/* Receive buffers every endpoint shares (rxpool.c). */
struct rmx__rxpool {
	struct rmx__bufpool bufs;	/* all posted, or held by an endpoint */
	uint32_t granted;		/* sum of the endpoints' rx_grant */
	uint32_t neps;			/* endpoints holding a grant */
	/* Credits of freed endpoints' peers, until limbo_until. */
	uint32_t limbo;
	int64_t limbo_until;
	uint32_t nwant;			/* endpoints with rx_wants */
};

struct rmx__proto {
	const struct rmx__config *cfg;
	struct rmx__tp *tp;
	struct rmx__mem *mem;
	struct rmx__list eps;
	struct rmx__list lingering;	/* destroyed eps saying goodbye */
	struct rmx__list listeners;
	struct rmx__list done;
	struct rmx__list free_ops;
	uint32_t nconnecting;
	int64_t now_ms;			/* at the start of this progress */
	int64_t next_deadline;		/* no endpoint's is earlier */
	struct rmx__ep_slot *tab;
	uint32_t tab_cap, tab_free;
	struct rmx__list *running;	/* list whose callbacks run now */
	struct rmx_ep *cb_ep;	/* endpoint whose event callback runs */
	struct rmx__loop *loop;	/* its timer wakes rmx_context_fd() at deadlines */
	rmx__msg_fn on_msg[RMX__MSG_NTYPES];	/* ATS, and the upper layer's */
	const struct rmx__proto_upper *upper;	/* NULL: none attached */
	struct rmx__heap call_timers;	/* RPC deadlines, all endpoints */
	struct rmx__rpc_handler *handlers;	/* by rpc id */
	uint32_t nhandlers;
	struct rmx__list rpc_open;	/* requests handed to handlers */
	struct rmx__log_limit refusals[8];	/* by peer address */
	struct rmx__rxpool rx;
	struct rmx__bufpool tx_bufs;	/* every endpoint's messages out */
	bool tx_grow_failed;		/* said so; quiet until it works again */
	struct rmx__list tx_waiting;	/* endpoints waiting for one */
};

extern const struct rmx__tp_upcalls rmx__proto_upcalls;

int rmx__proto_init(struct rmx__proto *p, const struct rmx__config *cfg,
		    struct rmx__loop *loop, struct rmx__tp *tp,
		    struct rmx__mem *mem);
void rmx__proto_fini(struct rmx__proto *p);
int rmx__proto_progress(struct rmx__proto *p);
int rmx__proto_wait(struct rmx__proto *p, int timeout_ms);
/* Arms the wake-up fd; -EAGAIN when work is already due. */
int rmx__proto_arm(struct rmx__proto *p);

/* ep.c */
/* A new endpoint (state CONNECTING) with its rings, in the id table. */
int rmx__ep_new(struct rmx__proto *p, const char *peer, struct rmx_ep **out);
void rmx__ep_free(struct rmx_ep *ep);
/* Endpoints alive, and the bytes the shared message buffers pin. */
void rmx__proto_pinned(const struct rmx__proto *p, size_t *eps,
		       uint64_t *rx_bytes, uint64_t *tx_bytes);
struct rmx_ep *rmx__ep_lookup(struct rmx__proto *p, uint32_t id);
void rmx__ep_set_deadline(struct rmx_ep *ep, int64_t t);
void rmx__ep_notify(struct rmx_ep *ep, unsigned int bits, int status);
/* The error a new operation on a closed endpoint gets. */
int rmx__ep_closed_error(const struct rmx_ep *ep);
/* 0 while the endpoint takes operations, else rmx__ep_closed_error(). */
int rmx__ep_check_open(const struct rmx_ep *ep);
/* Ends every operation of an endpoint whose connection is gone. */
void rmx__ep_cancel_ops(struct rmx_ep *ep, int status, struct rmx__list *to);
/* Stops the endpoint's traffic; its operations end with status on to. */
void rmx__ep_shutdown(struct rmx_ep *ep, int status, struct rmx__list *to);
/* Closes the endpoint with err: its operations end, the user hears. */
void rmx__ep_fail(struct rmx_ep *ep, int err);
/* The peer said BYE: closed with status 0, its operations end. */
void rmx__ep_close_clean(struct rmx_ep *ep);
/*
 * How long a destroyed endpoint's connection waits for its BYE to
 * complete at most: longer than any round trip to a live peer, short
 * enough that rmx_context_destroy() waiting for it is no hang.
 */
#define RMX__LINGER_MS 1000
/* Shuts the endpoint down but keeps its connection for the BYE. */
void rmx__ep_linger(struct rmx_ep *ep, struct rmx__list *to);
/* A lingering endpoint's BYE went, or never will: it goes for good. */
void rmx__ep_linger_end(struct rmx_ep *ep);

/* deadline.c */
/* The endpoint just connected: liveness checks start from now. */
void rmx__ep_liveness_start(struct rmx_ep *ep, int64_t now);
/* The peer's rmx sent something: it and its device are alive. */
void rmx__ep_heard(struct rmx_ep *ep);
/* A keepalive probe completed with status. */
void rmx__ep_probed(struct rmx_ep *ep, int status);
void rmx__ep_check_deadlines(struct rmx__proto *p, int64_t now);
int64_t rmx__ep_next_deadline(struct rmx__proto *p);

/* conn.c */
int rmx__listen(struct rmx__proto *p, const struct sockaddr *sa,
		rmx_accept_cb cb, void *arg, struct rmx_listener **out);
void rmx__listener_destroy(struct rmx_listener *l);
void rmx__listener_set_filter(struct rmx_listener *l, rmx__accept_filter fn,
			      void *arg);
int rmx__connect(struct rmx__proto *p, const struct sockaddr *src,
		 const struct sockaddr *sa,
		 const struct rmx_ep_params *params, struct rmx_ep **out);
void rmx__ep_destroy(struct rmx_ep *ep);

/* callbacks.c */
/* Runs the callbacks on list; returns how many. */
int rmx__proto_run(struct rmx__proto *p, struct rmx__list *list);

/* op.c */
struct rmx__op *rmx__op_new(struct rmx__proto *p, enum rmx__op_type type,
			    void *buf, size_t len, rmx_comp_cb cb, void *arg);
void rmx__op_free(struct rmx__proto *p, struct rmx__op *op);
/* The peer can no longer read what a rendezvous send offered. */
void rmx__op_revoke_offer(struct rmx__proto *p, struct rmx__op *op);
/* Releases what op holds and moves it to the due callbacks on to. */
void rmx__op_finish(struct rmx__proto *p, struct rmx__op *op, int status,
		    struct rmx__list *to);
void rmx__op_complete(struct rmx__proto *p, struct rmx__op *op, int status);

/* ring.c */
/* The endpoint's send slots and arrival ring, and its receive grant. */
int rmx__ring_setup(struct rmx_ep *ep);
void rmx__ring_teardown(struct rmx_ep *ep);
/* Fits the send slots to the queue the connection got. */
void rmx__ring_start(struct rmx_ep *ep);

/* rxpool.c */
void rmx__rxpool_init(struct rmx__proto *p);
void rmx__rxpool_fini(struct rmx__proto *p);
/* The endpoint's grant of RMX_RX_GRANT buffers, growing the pool. */
int rmx__rx_join(struct rmx_ep *ep);
/* Reposts, uncredited, the buffers of arrivals never to be received. */
void rmx__rx_drop(struct rmx_ep *ep);
/* Gives back the endpoint's grant and the buffers it holds. */
void rmx__rx_leave(struct rmx_ep *ep);
/* A message from the peer took a buffer: -EPROTO beyond its credits. */
int rmx__rx_arrived(struct rmx_ep *ep);
/* Reposts a buffer the endpoint is done with; credits the peer. */
int rmx__rx_repost(struct rmx_ep *ep, uint32_t idx);
/* Reposts a buffer no endpoint will credit (closing, or gone). */
void rmx__rx_release(struct rmx__proto *p, uint32_t idx);
/* A receive of a destroyed connection completed: repost its buffer. */
void rmx__rx_orphan(struct rmx__proto *p, uint32_t idx);

static inline char *rmx__rx_buf(const struct rmx__proto *p, uint32_t idx)
{
	return rmx__bufpool_buf(&p->rx.bufs, idx);
}

/* send.c */
/* The peer's handshake: our initial credits, and the most it lends. */
void rmx__send_set_peer_rx(struct rmx_ep *ep, uint32_t credits, uint32_t max);
/*
 * The first block of send buffers, before the first endpoint: one that
 * cannot send at all fails at connect, with the reason.
 */
int rmx__send_setup(struct rmx__proto *p);
/* Send buffers came free: endpoints waiting for one post again. */
void rmx__send_wake(struct rmx__proto *p);
/* Sends a keepalive ping if a slot and the reserved credit allow. */
int rmx__send_ping(struct rmx_ep *ep);
/* Whether a BYE can go on a destroyed endpoint's connection. */
bool rmx__send_bye_ready(const struct rmx_ep *ep);
/* Posts the BYE once a send slot is free. */
int rmx__send_bye(struct rmx_ep *ep);
/* Posts queued operations while send slots, and credits, allow. */
int rmx__send_pump(struct rmx_ep *ep);
/* Posts what may go now; a refusal by the transport closes the endpoint. */
void rmx__send_pump_or_fail(struct rmx_ep *ep);
/* Whether a message queued now is posted (and copied) at once. */
bool rmx__send_now(const struct rmx_ep *ep);
/* Queues op behind the others; the caller pumps. */
void rmx__send_queue(struct rmx_ep *ep, struct rmx__op *op);
/* Queues op and posts what may go. */
int rmx__send_enqueue(struct rmx_ep *ep, struct rmx__op *op);
/* Takes a queued operation that never reached the wire back. */
void rmx__send_unqueue(struct rmx__proto *p, struct rmx__op *op);
/* A send work request completed. */
void rmx__send_on_tx(struct rmx_ep *ep, uint32_t slot, int status);
int rmx__send(struct rmx_ep *ep, const void *buf, size_t len, rmx_comp_cb cb,
	      void *arg);
int rmx__rma(struct rmx_ep *ep, const struct rmx__rma_req *req,
	     rmx_comp_cb cb, void *arg);

/* rndv.c */
/* Queues a rendezvous acknowledgement; the caller pumps. */
int rmx__rndv_queue_ats(struct rmx_ep *ep, uint64_t id, int status);
/* Checks a peer's rendezvous request; -EPROTO when it is malformed. */
int rmx__rndv_check_rts(const struct rmx_ep *ep, const struct rmx__rts *rts);
/* Queues a read of a peer's rendezvous buffer into op->buf. */
void rmx__rndv_queue_read(struct rmx_ep *ep, struct rmx__op *rd,
			  const struct rmx__rts *rts);
/* A rendezvous message met its receive: read it straight in. */
int rmx__rndv_start_read(struct rmx_ep *ep, struct rmx__op *recv,
			 const struct rmx__rts *rts);
/* RMX__MSG_ATS: the sender learns its message was read (or refused). */
int rmx__rndv_on_ats(struct rmx_ep *ep, const struct rmx__wire_hdr *hdr,
		     const uint8_t *payload);

/* recv.c */
int rmx__recv(struct rmx_ep *ep, void *buf, size_t cap, rmx_comp_cb cb,
	      void *arg);
/* rmx_am_recv() and what follows an active-message callback. */
int rmx__am_recv(struct rmx__op *am, void *buf, size_t cap, rmx_comp_cb cb,
		 void *arg);
void rmx__am_done(struct rmx__proto *p, struct rmx__op *am);
/* Hands waiting arrivals to receives or the AM callback; posts queued work. */
int rmx__recv_deliver(struct rmx_ep *ep);
/* A receive work request completed without error. */
void rmx__recv_completion(struct rmx_ep *ep, uint32_t slot,
			  const struct rmx__tp_comp *c);

/* completion.c */
void rmx__proto_completion(void *upctx, const struct rmx__tp_comp *comp);
/* rpc.c */
int rmx__rpc_register(struct rmx__proto *p, uint16_t rpc_id,
		      rmx_rpc_handler fn, void *arg);
int rmx__rpc_call(struct rmx_ep *ep, uint16_t rpc_id, const void *req,
		  size_t len, const struct rmx_rpc_params *params,
		  rmx_rpc_cb cb, void *arg, uint64_t *call_id);
int rmx__rpc_cancel(struct rmx_ep *ep, uint64_t call_id);
int rmx__rpc_respond(struct rmx_rpc_req *req, int status, const void *resp,
		     size_t len, rmx_comp_cb cb, void *arg);
/* Attaches RPC on top of the core: its messages, hooks and deadlines. */
void rmx__rpc_attach(struct rmx__proto *p);

/* A work request completed: the peer's device answered. */
static inline void rmx__ep_alive(struct rmx_ep *ep)
{
	ep->alive_ms = ep->p->now_ms;
}

/* The eager limit: the peer's once known, until then our own. */
static inline uint32_t rmx__ep_eager_max(const struct rmx_ep *ep)
{
	return ep->eager_max ? ep->eager_max : ep->p->cfg->eager_max;
}

#endif
