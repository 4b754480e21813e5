/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The transport interface: one backend per fabric behind an ops table,
 * each in its own folder. A backend posts work requests, polls completions
 * and connection events, and reports them upward through rmx__tp_upcalls.
 * It knows nothing of messages, credits or RPC: a posted operation carries
 * an opaque 64-bit context that comes back with its completion. What
 * differs between fabrics is declared in caps, and the layers above read
 * it instead of assuming one fabric's behaviour.
 *
 * Receives are the backend's, not a connection's: one pool of posted
 * buffers serves every connection (a verbs shared receive queue, the
 * receives of a libfabric RDM endpoint), so memory for receives grows
 * with traffic, not with the number of peers.
 *
 * Every backend guarantees, whatever its caps:
 * - each posted work request completes exactly once, through
 *   upcalls->completion from progress() (never from inside a post call),
 *   naming its kind, and for sends its connection, even when it failed;
 *   no send completion arrives for a connection after conn_destroy()
 *   returned;
 * - a receive completion names the connection the data came on, or NULL
 *   when that connection was destroyed meanwhile (the buffer is the
 *   caller's again); a connection's failure or destruction does not
 *   flush shared receives: they stay posted for the others until close();
 * - once a connection fails, its outstanding sends complete with an
 *   error (flushed: -ECANCELED) and no later receive names it;
 * - data a receive completion reports is in the posted buffer.
 * In return, the layer above posts nothing more on a connection after
 * its first error completion or conn_closed: a fabric may never complete
 * such a request (rxe queues a receive on a QP in error and never flushes
 * it; tests/conformance shows both kernels do this).
 */
#ifndef RMX_TRANSPORT_H
#define RMX_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/config.h"
#include "core/loop.h"

struct rmx__tp_ops;

/* What a backend's fabric does; the protocol picks its path by them. */
enum rmx__tp_caps {
	/* Registrations may fault pages in on demand for every RC operation. */
	RMX__TP_CAP_ODP = 1 << 0,
	/* One on-demand registration may cover the whole address space. */
	RMX__TP_CAP_ODP_IMPLICIT = 1 << 1,
	/* 64-bit fetch-add and compare-swap on remote memory. */
	RMX__TP_CAP_ATOMIC = 1 << 2,
	/*
	 * A write with immediate data consumes a posted receive at the
	 * target, which completes with has_imm (verbs). Without it the
	 * notice needs no receive.
	 */
	RMX__TP_CAP_IMM_CONSUMES_RECV = 1 << 3,
	/*
	 * The work requests of one connection take effect at the target in
	 * the order posted: a write's data is in place before a later
	 * send's or the write's own immediate notice is delivered (RC).
	 */
	RMX__TP_CAP_ORDERED = 1 << 4,
	/* Local buffers of sends, receives and RMA must be registered. */
	RMX__TP_CAP_LOCAL_MR = 1 << 5,
	/* The backend caches registrations itself: no cache above it. */
	RMX__TP_CAP_MR_CACHE = 1 << 6,
	/* Connections are the fabric's own, each failing on its own. */
	RMX__TP_CAP_CONNECTED = 1 << 7,
	/*
	 * post_probe() exists: the peer's device answers a probe without
	 * the peer's CPU, so a probe fails only when the peer's process or
	 * node is gone, never because it computes.
	 */
	RMX__TP_CAP_PEER_PROBE = 1 << 8,
};

#define RMX__TP_NOTE_MAX 200

/* Each backend object starts with its common part. */
struct rmx__tp {
	const struct rmx__tp_ops *ops;
	uint64_t max_key;	/* widest remote key the fabric accepts */
	unsigned int caps;	/* enum rmx__tp_caps */
	uint32_t max_priv;	/* bytes of private data a connect carries */
	uint32_t max_recv;	/* shared receives that may be posted at once */
	/* Why ODP the device advertises is not in caps; "" otherwise. */
	char odp_refused[RMX__TP_NOTE_MAX];
};

struct rmx__tp_conn {
	struct rmx__tp *tp;
	void *owner;		/* the protocol's endpoint */
};

struct rmx__tp_listener {
	struct rmx__tp *tp;
	void *owner;
};

struct rmx__tp_mr {
	struct rmx__tp *tp;
	void *addr;
	size_t len;
	uint64_t rkey;		/* what a peer needs to access it */
};

enum rmx__tp_access {
	RMX__TP_LOCAL_WRITE = 1 << 0,
	RMX__TP_REMOTE_READ = 1 << 1,
	RMX__TP_REMOTE_WRITE = 1 << 2,
	RMX__TP_ON_DEMAND = 1 << 3,	/* needs RMX__TP_CAP_ODP */
	RMX__TP_REMOTE_ATOMIC = 1 << 4,
};

enum rmx__tp_rma_op {
	RMX__TP_WRITE,
	RMX__TP_READ,
	RMX__TP_WRITE_IMM,	/* data, then a notice (see RMX__TP_CAP_IMM_CONSUMES_RECV) */
	RMX__TP_FETCH_ADD,	/* 8 bytes; the old value lands in buf */
	RMX__TP_CMP_SWAP,
};

/* One one-sided operation. */
struct rmx__tp_rma {
	enum rmx__tp_rma_op op;
	void *buf;
	uint32_t len;
	struct rmx__tp_mr *mr;	/* NULL: len 0, or a write within max_inline */
	uint64_t raddr, rkey;
	uint32_t imm;		/* RMX__TP_WRITE_IMM */
	uint64_t compare_add;	/* atomics */
	uint64_t swap;
};

enum rmx__tp_comp_kind {
	RMX__TP_COMP_SEND,	/* a send or one-sided operation posted here */
	RMX__TP_COMP_RECV,	/* a shared receive, used (or failed) */
	RMX__TP_COMP_PROBE,	/* a probe (post_probe) */
};

/* A finished work request. */
struct rmx__tp_comp {
	/* Whose it was (owner: the layer above's); receives: see above. */
	struct rmx__tp_conn *conn;
	uint64_t wr_ctx;	/* as posted */
	enum rmx__tp_comp_kind kind;
	int status;		/* 0 or a negative errno */
	uint32_t len;		/* bytes received (receives) */
	bool has_imm;		/* a receive consumed by a write with imm */
	uint32_t imm;		/* host order */
};

/* What the layer above asks of a connection. */
struct rmx__tp_conn_want {
	uint32_t sq_depth;
	/*
	 * The layer above posts a shared receive before each message a
	 * peer may send (credits): a send finding none is an error, to be
	 * reported quickly rather than retried for long.
	 */
	bool recv_guaranteed;
};

/* What a connection was granted. */
struct rmx__tp_conn_caps {
	uint32_t sq_depth;
	uint32_t max_inline;	/* bytes a send or write may carry unregistered */
	uint32_t max_msg;	/* largest single transfer */
};

struct rmx__tp_upcalls {
	void (*completion)(void *upctx, const struct rmx__tp_comp *comp);
	/*
	 * The connection's queues exist and take receives; called before the
	 * connection can deliver anything. Nonzero aborts the connection.
	 */
	int (*conn_ready)(void *upctx, struct rmx__tp_conn *conn);
	/* Established (status 0, peer's private data) or closed (why). */
	void (*conn_established)(void *upctx, struct rmx__tp_conn *conn,
				 const void *priv, size_t priv_len);
	/*
	 * A connection that was never established closes with
	 * -ECONNREFUSED when nobody listens at the address, -EPROTO or
	 * -EPROTONOSUPPORT when the listener's conn_request returned it,
	 * and -ECONNABORTED when it rejected it with any other error: a
	 * peer that is there but refuses (out of resources) is not one
	 * that is absent.
	 */
	void (*conn_closed)(void *upctx, struct rmx__tp_conn *conn,
			    int status);
	/*
	 * A peer asks to connect to a listener. Return 0 after calling
	 * ops->accept() on conn, or a negative errno to reject it (the
	 * peer's conn_closed tells -EPROTO from the rest, see above).
	 */
	int (*conn_request)(void *upctx, struct rmx__tp_listener *listener,
			    struct rmx__tp_conn *conn,
			    const struct sockaddr *peer, const void *priv,
			    size_t priv_len);
};

struct rmx__tp_ops {
	const char *name;
	/* The backend's own RMX_* knobs, read by open() itself. */
	const struct rmx__knob *knobs;
	size_t nknobs;
	/*
	 * Opens the backend and adds the fds that signal its events to
	 * loop; -ENODEV when its fabric has nothing usable here, -ENXIO
	 * when a device its own knob names is not (the user chose this
	 * fabric: RMX_TRANSPORT=auto tries no other).
	 */
	int (*open)(struct rmx__loop *loop, const struct rmx__tp_upcalls *up,
		    void *upctx, struct rmx__tp **out);
	void (*close)(struct rmx__tp *tp);
	/* What the context opened: a device, or a fabric's domain, by name. */
	const char *(*device_name)(const struct rmx__tp *tp);
	/*
	 * An address peers reach this backend at, for listeners others
	 * must find (a job's); -EADDRNOTAVAIL, logged, when there is none.
	 */
	int (*host_addr)(const struct rmx__tp *tp,
			 struct sockaddr_storage *out);

	/* Handles ready events; never blocks. Returns a count or -errno. */
	int (*progress)(struct rmx__tp *tp);
	/*
	 * Makes the next event readable on the loop's fds; -EAGAIN when
	 * events are already waiting (call progress() first).
	 */
	int (*arm)(struct rmx__tp *tp);

	int (*mr_reg)(struct rmx__tp *tp, void *addr, size_t len,
		      unsigned int access, struct rmx__tp_mr **out);
	int (*mr_dereg)(struct rmx__tp_mr *mr);

	int (*listen)(struct rmx__tp *tp, const struct sockaddr *sa,
		      void *owner, struct rmx__tp_listener **out);
	int (*listener_port)(const struct rmx__tp_listener *l);
	void (*listener_close)(struct rmx__tp_listener *l);

	/* src: the local address to connect from; NULL lets the fabric pick. */
	int (*connect)(struct rmx__tp *tp, const struct sockaddr *src,
		       const struct sockaddr *dst,
		       const struct rmx__tp_conn_want *want, const void *priv,
		       size_t priv_len, uint32_t timeout_ms, void *owner,
		       struct rmx__tp_conn **out);
	int (*accept)(struct rmx__tp_conn *conn,
		      const struct rmx__tp_conn_want *want, const void *priv,
		      size_t priv_len, void *owner);
	void (*conn_caps)(const struct rmx__tp_conn *conn,
			  struct rmx__tp_conn_caps *out);
	/*
	 * The connection's own address and its peer's (either may be
	 * NULL); -ENOTCONN while the fabric has not bound it yet.
	 */
	int (*conn_addr)(const struct rmx__tp_conn *conn,
			 struct sockaddr_storage *local,
			 struct sockaddr_storage *peer);
	/* Disconnects if needed and frees; no upcall for conn after this. */
	void (*conn_destroy)(struct rmx__tp_conn *conn);

	/*
	 * Posts a shared receive (at most max_recv at once); it may be
	 * posted before any connection exists.
	 */
	int (*post_recv)(struct rmx__tp *tp, void *buf, uint32_t len,
			 struct rmx__tp_mr *mr, uint64_t wr_ctx);
	/* mr may be NULL when len <= max_inline: the data is copied inline. */
	int (*post_send)(struct rmx__tp_conn *conn, const void *buf,
			 uint32_t len, struct rmx__tp_mr *mr, uint64_t wr_ctx);
	int (*post_rma)(struct rmx__tp_conn *conn,
			const struct rmx__tp_rma *rma, uint64_t wr_ctx);
	/*
	 * RMX__TP_CAP_PEER_PROBE: asks the peer's device whether the peer
	 * is still there; completes like any work request, as kind
	 * RMX__TP_COMP_PROBE, with an error once the peer is gone. One
	 * probe at a time per connection, in room the backend keeps beyond
	 * sq_depth; it takes effect after what was posted before it.
	 */
	int (*post_probe)(struct rmx__tp_conn *conn, uint64_t wr_ctx);
};

/*
 * Opens the backend RMX_TRANSPORT names: "auto" (the first built-in one
 * that has a device), a built-in one, or one added with
 * rmx__tp_register(). -EPROTONOSUPPORT for a backend this build lacks,
 * -EINVAL for a name no backend has.
 */
int rmx__tp_open(const char *name, struct rmx__loop *loop,
		 const struct rmx__tp_upcalls *up, void *upctx,
		 struct rmx__tp **out);
/* The knobs of every built-in backend, in order; NULL past the end. */
const struct rmx__knob *rmx__tp_knob(size_t index);

/*
 * Adds a backend that is not built in, such as the tests' in-memory one,
 * under ops->name: 0, also when ops is already there; -EEXIST when
 * another backend has the name; -ENOSPC when the table is full.
 */
int rmx__tp_register(const struct rmx__tp_ops *ops);

#ifdef RMX_HAVE_VERBS
extern const struct rmx__tp_ops rmx__verbs_ops;
#endif

#endif
