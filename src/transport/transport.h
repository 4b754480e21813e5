/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The transport interface: one backend per fabric behind an ops table.
 * A backend posts work requests, polls completions and connection events,
 * and reports them upward through rmx__tp_upcalls. It knows nothing of
 * messages or protocols: a posted operation carries an opaque 64-bit
 * context that comes back with its completion.
 */
#ifndef RMX_TRANSPORT_H
#define RMX_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/config.h"

struct rmx__tp_ops;

/* Each backend object starts with its common part. */
enum rmx__tp_caps {
	/* 64-bit fetch-add and compare-swap on remote memory. */
	RMX__TP_CAP_ATOMIC = 1 << 2,
	/* Registrations may fault pages in on demand for every RC operation. */
	RMX__TP_CAP_ODP = 1 << 0,
	/* One on-demand registration may cover the whole address space. */
	RMX__TP_CAP_ODP_IMPLICIT = 1 << 1,
};

#define RMX__TP_NOTE_MAX 200

struct rmx__tp {
	const struct rmx__tp_ops *ops;
	uint64_t max_key;	/* widest remote key the fabric accepts */
	unsigned int caps;	/* enum rmx__tp_caps */
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
	RMX__TP_WRITE_IMM,	/* consumes a receive at the target */
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

/* A finished work request. */
struct rmx__tp_comp {
	uint64_t wr_ctx;	/* as posted */
	int status;		/* 0 or a negative errno */
	uint32_t len;		/* bytes received (receives) */
	bool has_imm;		/* a receive consumed by a write with imm */
	uint32_t imm;		/* host order */
};

/* Queue sizes asked for, and granted, per connection. */
struct rmx__tp_conn_caps {
	uint32_t sq_depth;
	uint32_t rq_depth;
	uint32_t max_inline;
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
	void (*conn_closed)(void *upctx, struct rmx__tp_conn *conn,
			    int status);
	/*
	 * A peer asks to connect to a listener. Return 0 after calling
	 * ops->accept() on conn, or a negative errno to reject it.
	 */
	int (*conn_request)(void *upctx, struct rmx__tp_listener *listener,
			    struct rmx__tp_conn *conn,
			    const struct sockaddr *peer, const void *priv,
			    size_t priv_len);
};

struct rmx__tp_ops {
	const char *name;
	int (*open)(const struct rmx__config *cfg,
		    const struct rmx__tp_upcalls *up, void *upctx,
		    struct rmx__tp **out);
	void (*close)(struct rmx__tp *tp);
	const char *(*device_name)(const struct rmx__tp *tp);

	/* Handles ready events; never blocks. Returns a count or -errno. */
	int (*progress)(struct rmx__tp *tp);
	int (*fd)(const struct rmx__tp *tp);
	/* Adds an fd of the layer above to the set fd() waits on. */
	int (*add_fd)(struct rmx__tp *tp, int fd);
	/* Arms fd(); -EAGAIN when events are already waiting. */
	int (*arm)(struct rmx__tp *tp);

	int (*mr_reg)(struct rmx__tp *tp, void *addr, size_t len,
		      unsigned int access, struct rmx__tp_mr **out);
	int (*mr_dereg)(struct rmx__tp_mr *mr);

	int (*listen)(struct rmx__tp *tp, const struct sockaddr *sa,
		      void *owner, struct rmx__tp_listener **out);
	int (*listener_port)(const struct rmx__tp_listener *l);
	void (*listener_close)(struct rmx__tp_listener *l);

	int (*connect)(struct rmx__tp *tp, const struct sockaddr *dst,
		       const struct rmx__tp_conn_caps *want, const void *priv,
		       size_t priv_len, uint32_t timeout_ms, void *owner,
		       struct rmx__tp_conn **out);
	int (*accept)(struct rmx__tp_conn *conn,
		      const struct rmx__tp_conn_caps *want, const void *priv,
		      size_t priv_len, void *owner);
	void (*conn_caps)(const struct rmx__tp_conn *conn,
			  struct rmx__tp_conn_caps *out);
	/* Disconnects if needed and frees; no upcall for conn after this. */
	void (*conn_destroy)(struct rmx__tp_conn *conn);

	int (*post_recv)(struct rmx__tp_conn *conn, void *buf, uint32_t len,
			 struct rmx__tp_mr *mr, uint64_t wr_ctx);
	/* mr may be NULL when len <= max_inline: the data is copied inline. */
	int (*post_send)(struct rmx__tp_conn *conn, const void *buf,
			 uint32_t len, struct rmx__tp_mr *mr, uint64_t wr_ctx);
	int (*post_rma)(struct rmx__tp_conn *conn,
			const struct rmx__tp_rma *rma, uint64_t wr_ctx);
};

/*
 * Opens the backend named `name` (RMX_TRANSPORT): "verbs", or one added
 * with rmx__tp_register(). -EINVAL for a name no backend has.
 */
int rmx__tp_open(const char *name, const struct rmx__config *cfg,
		 const struct rmx__tp_upcalls *up, void *upctx,
		 struct rmx__tp **out);

/*
 * Adds a backend that is not built in, such as the tests' in-memory one,
 * under ops->name: 0, also when ops is already there; -EEXIST when
 * another backend has the name; -ENOSPC when the table is full.
 */
int rmx__tp_register(const struct rmx__tp_ops *ops);

extern const struct rmx__tp_ops rmx__verbs_ops;

#endif
