/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rmx - RDMA verbs messaging middleware.
 *
 * The one public header. Every handle is opaque; every call that can fail
 * returns 0 (or a count) on success and a negative errno on failure, which
 * rmx_strerror() turns into text. Completion callbacks run only from inside
 * rmx_progress() or rmx_wait() (and, for cancellations, rmx_ep_destroy()),
 * never from the call that posted the work. Callbacks may post new work
 * but must not call rmx_progress() or rmx_wait() (-EDEADLK).
 *
 * Threading: a context and everything created from it belong to one thread
 * at a time; use one context per thread for parallelism. See rmx(7).
 */
#ifndef RMX_RMX_H
#define RMX_RMX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define RMX_EXPORT __attribute__((visibility("default")))
#else
#define RMX_EXPORT
#endif

#define RMX_VERSION_MAJOR 0
#define RMX_VERSION_MINOR 1
#define RMX_VERSION_PATCH 0

typedef struct rmx_context rmx_context_t;
typedef struct rmx_listener rmx_listener_t;
typedef struct rmx_ep rmx_ep_t;
typedef struct rmx_mem rmx_mem_t;

/* Library version as "MAJOR.MINOR.PATCH"; the numbers through the pointers. */
RMX_EXPORT const char *rmx_version(int *major, int *minor, int *patch);

/* Text for a negative errno returned by any rmx call (never NULL). */
RMX_EXPORT const char *rmx_strerror(int err);

/* ---- configuration ---------------------------------------------------- */

/* One RMX_* environment variable the library reads (see rmx(7)). */
struct rmx_knob {
	const char *name;	/* e.g. "RMX_EAGER_MAX" */
	const char *def;	/* the default, as it would be written */
	const char *help;	/* one line */
	const char *value;	/* as set in the environment now, or NULL */
};

/* Describes the index-th knob, from 0; -ENOENT past the last. */
RMX_EXPORT int rmx_knob_get(size_t index, struct rmx_knob *out);

/* ---- context ---------------------------------------------------------- */

/*
 * Opens the RDMA device named by RMX_DEVICE, or the first device with an
 * active port, and the resources shared by all endpoints of the context.
 * Configuration comes from the RMX_* environment (see rmx(7)).
 */
RMX_EXPORT int rmx_context_create(rmx_context_t **ctx);

/*
 * Destroys every endpoint and listener still open (pending operations end
 * with -ECANCELED), deregisters memory left registered, then the context.
 */
RMX_EXPORT void rmx_context_destroy(rmx_context_t *ctx);

/*
 * Polls for completions and connection events and runs their callbacks.
 * Never blocks. Returns the number of events handled, or a negative errno
 * if the context itself failed.
 */
RMX_EXPORT int rmx_progress(rmx_context_t *ctx);

/*
 * A file descriptor that becomes readable when rmx_progress() may have work,
 * for epoll/poll/select. It only wakes after rmx_arm() returned 0; see
 * rmx_arm(3) for the drain, arm, re-check, wait discipline.
 */
RMX_EXPORT int rmx_context_fd(rmx_context_t *ctx);

/*
 * Requests a wake-up on rmx_context_fd() for the next event or connection
 * deadline. Returns 0 when armed, -EAGAIN when work is already due (call
 * rmx_progress() again before sleeping).
 */
RMX_EXPORT int rmx_arm(rmx_context_t *ctx);

/*
 * Progresses until at least one event was handled or timeout_ms passed
 * (-1: no limit). Returns the number of events handled, 0 on timeout, or a
 * negative errno.
 */
RMX_EXPORT int rmx_wait(rmx_context_t *ctx, int timeout_ms);

/* ---- connections ------------------------------------------------------ */

enum rmx_ep_state {
	RMX_EP_CONNECTING = 1,
	RMX_EP_CONNECTED = 2,
	RMX_EP_CLOSED = 3,	/* disconnected or failed: see rmx_ep_error() */
};

enum rmx_ep_event {
	RMX_EP_EVENT_CONNECTED = 1,
	RMX_EP_EVENT_CLOSED = 2,	/* status: why, a negative errno */
};

typedef void (*rmx_ep_event_cb)(rmx_ep_t *ep, enum rmx_ep_event event,
				int status, void *arg);

/* Called from rmx_progress() with an endpoint that is already connected. */
typedef void (*rmx_accept_cb)(rmx_listener_t *listener, rmx_ep_t *ep,
			      void *arg);

/* Completion of a send, receive, put or get. len: bytes transferred. */
typedef void (*rmx_comp_cb)(void *arg, int status, size_t len);

/* Bytes of connect data an rmx_connect() may carry to the listener. */
#define RMX_CONNECT_DATA_MAX 32

/* Zero it first ({0}): fields are only ever added at the end. */
struct rmx_ep_params {
	rmx_ep_event_cb event_cb;	/* optional */
	void *arg;			/* passed to event_cb */
	int timeout_ms;			/* connect timeout; 0: RMX_CONNECT_TIMEOUT_MS */
	/* Connect from: "ip", "ip:port", "[ipv6]", "[ipv6]:port"; NULL: any. */
	const char *src_addr;
	/* Who is calling, for the accepting side's rmx_ep_peer_data(). */
	const void *connect_data;
	size_t connect_data_len;	/* at most RMX_CONNECT_DATA_MAX */
};

/*
 * Listens on "ip:port", "[ipv6]:port" or "host:port" (port 0 picks a free
 * port; see rmx_listener_port()).
 */
RMX_EXPORT int rmx_listen(rmx_context_t *ctx, const char *addr,
			  rmx_accept_cb cb, void *arg, rmx_listener_t **out);

/* The bound port (> 0), or a negative errno. */
RMX_EXPORT int rmx_listener_port(const rmx_listener_t *listener);

RMX_EXPORT void rmx_listener_destroy(rmx_listener_t *listener);

/*
 * Starts connecting to "host:port" and returns the endpoint at once, in
 * RMX_EP_CONNECTING. Operations may be posted before the connection is up;
 * they start when it is. params may be NULL.
 */
RMX_EXPORT int rmx_connect(rmx_context_t *ctx, const char *addr,
			   const struct rmx_ep_params *params, rmx_ep_t **out);

/*
 * The connect data the peer sent (an accepted endpoint: its
 * rmx_ep_params.connect_data; *len 0 when it sent none). Valid while ep
 * lives.
 */
RMX_EXPORT int rmx_ep_peer_data(const rmx_ep_t *ep, const void **data,
				size_t *len);

/* Replaces the event callback (e.g. of an accepted endpoint). */
RMX_EXPORT int rmx_ep_set_event_cb(rmx_ep_t *ep, rmx_ep_event_cb cb,
				   void *arg);

RMX_EXPORT enum rmx_ep_state rmx_ep_state(const rmx_ep_t *ep);

/* 0 while connecting or connected; the negative errno that closed it. */
RMX_EXPORT int rmx_ep_error(const rmx_ep_t *ep);

/*
 * Disconnects and frees the endpoint; no event follows. Its pending
 * operations complete with -ECANCELED before this returns; when called
 * from a callback, they join the callbacks being run and complete before
 * that rmx_progress() returns. Other endpoints' callbacks are not run.
 */
RMX_EXPORT void rmx_ep_destroy(rmx_ep_t *ep);

/* ---- identity: addresses and device ----------------------------------- */

/* Room for any address the calls below write, NUL included. */
#define RMX_ADDR_STRLEN 64

/*
 * The peer's address as rmx_connect() takes it ("ip:port", "[ipv6]:port")
 * into buf (len bytes, NUL-terminated): the address connected to, or the
 * one an accepted connection came from. -ENOSPC when it does not fit.
 */
RMX_EXPORT int rmx_ep_peer_addr(const rmx_ep_t *ep, char *buf, size_t len);

/*
 * This side's address of the connection, the same way; -ENOTCONN until
 * it is bound (early in connecting). Both stay readable once closed.
 */
RMX_EXPORT int rmx_ep_local_addr(const rmx_ep_t *ep, char *buf, size_t len);

/*
 * The device the context opened, by the name RMX_DEVICE takes ("rxe0");
 * valid while ctx lives. NULL for a NULL ctx.
 */
RMX_EXPORT const char *rmx_context_device(const rmx_context_t *ctx);

/* ---- two-sided messages ---------------------------------------------- */

/*
 * Largest message rmx_send() sends eagerly (copied) on this endpoint: the
 * smaller of both sides' RMX_EAGER_MAX once the peer's is known, until
 * then the local one. Larger messages go by zero-copy rendezvous.
 */
RMX_EXPORT int rmx_ep_max_msg(const rmx_ep_t *ep, size_t *len);

/*
 * Sends len bytes. buf must stay valid and unchanged until cb runs.
 * Above rmx_ep_max_msg() the peer reads buf directly (rendezvous).
 */
RMX_EXPORT int rmx_send(rmx_ep_t *ep, const void *buf, size_t len,
			rmx_comp_cb cb, void *arg);

/*
 * Posts a receive for the next message, in order. cb gets the message
 * length; a message longer than cap completes the receive with -EMSGSIZE
 * (len: the message size), writes nothing into buf and is discarded.
 */
RMX_EXPORT int rmx_recv(rmx_ep_t *ep, void *buf, size_t cap, rmx_comp_cb cb,
			void *arg);

/*
 * Active-message receives, for when sizes are known only on arrival: with
 * a callback set, each message that finds no posted rmx_recv() goes to
 * it, in order, from rmx_progress(). A message up to rmx_ep_max_msg()
 * bytes comes with its data (valid during the callback); a larger one
 * comes with data NULL, and the callback takes it with rmx_am_recv() or
 * leaves it (the sender's completion then gets -ECANCELED).
 */
typedef struct rmx_am rmx_am_t;
typedef void (*rmx_am_cb)(void *arg, rmx_am_t *msg, const void *data,
			  size_t len);

RMX_EXPORT int rmx_ep_set_am_cb(rmx_ep_t *ep, rmx_am_cb cb, void *arg);

/*
 * Inside an rmx_am_cb, for a message that came without data: reads it
 * into buf (cap bytes; -EMSGSIZE through cb if too small), then cb runs.
 */
RMX_EXPORT int rmx_am_recv(rmx_am_t *msg, void *buf, size_t cap,
			   rmx_comp_cb cb, void *arg);

/* ---- remote procedure calls ------------------------------------------ */

/*
 * RPC: a caller sends a request to a handler registered under a 16-bit
 * id on the peer's context and gets back one response, matched by a
 * 64-bit call id. Requests and responses of any size up to RMX_RPC_MAX
 * travel eagerly or by rendezvous, whichever fits.
 */
typedef struct rmx_rpc_req rmx_rpc_req_t;

/*
 * Runs from rmx_progress() for each request to its id. data is valid
 * during the call only; the request stays open until rmx_rpc_respond(),
 * which may come later from anywhere on the context's thread.
 */
typedef void (*rmx_rpc_handler)(void *arg, rmx_rpc_req_t *req,
				const void *data, size_t len);

/*
 * Completion of a call, exactly once: status 0 with the response, or a
 * negative errno: the handler's status, -ETIMEDOUT, -ECANCELED, -ENOSYS
 * (no handler), -EMSGSIZE (len: the response size), or the endpoint's
 * error. resp is valid during the callback; it is params->resp_buf when
 * one was given.
 */
typedef void (*rmx_rpc_cb)(void *arg, int status, const void *resp,
			   size_t len);

struct rmx_rpc_params {
	int timeout_ms;		/* > 0: fail with -ETIMEDOUT after; 0: never */
	void *resp_buf;		/* optional: the response lands here */
	size_t resp_cap;
};

/* Serves rpc_id on every endpoint of ctx; handler NULL stops serving it. */
RMX_EXPORT int rmx_rpc_register(rmx_context_t *ctx, uint16_t rpc_id,
				rmx_rpc_handler handler, void *arg);

/*
 * Calls rpc_id on the peer with len bytes of req. A request that fits
 * a message is copied at once; a larger one is read from req by the peer
 * and req must stay valid and unchanged until cb runs. params may be
 * NULL. *call_id (optional) names the call for rmx_rpc_cancel().
 */
RMX_EXPORT int rmx_rpc_call(rmx_ep_t *ep, uint16_t rpc_id, const void *req,
			    size_t len, const struct rmx_rpc_params *params,
			    rmx_rpc_cb cb, void *arg, uint64_t *call_id);

/*
 * Completes the call with -ECANCELED, from rmx_progress(); its response,
 * if one comes, is dropped. -ENOENT when the call has already completed.
 */
RMX_EXPORT int rmx_rpc_cancel(rmx_ep_t *ep, uint64_t call_id);

/*
 * Answers req, exactly once, with status 0 and len bytes of resp, or a
 * negative errno status (no data) for the caller. A response that fits
 * a message is copied at once; a larger one is read by the caller and
 * resp must stay valid until cb (optional) runs. req is freed either way.
 */
RMX_EXPORT int rmx_rpc_respond(rmx_rpc_req_t *req, int status,
			       const void *resp, size_t len, rmx_comp_cb cb,
			       void *arg);

/* The endpoint a request came on; NULL once that endpoint is gone. */
RMX_EXPORT rmx_ep_t *rmx_rpc_req_ep(const rmx_rpc_req_t *req);

/* ---- memory and one-sided operations --------------------------------- */

enum rmx_mem_flags {
	RMX_MEM_REMOTE_READ = 1 << 0,
	RMX_MEM_REMOTE_WRITE = 1 << 1,
	RMX_MEM_REMOTE_ATOMIC = 1 << 2,
};

/* A remotely accessible region, as the peer must name it. */
typedef struct rmx_remote {
	uint64_t addr;
	uint64_t len;
	uint64_t key;
} rmx_remote_t;

/*
 * Bytes rmx_remote_pack() writes: a versioned header, addr, len, and room
 * for the widest key a transport may define (raw keys up to 32 bytes).
 */
#define RMX_REMOTE_PACKED_SIZE 56

/* Registers [addr, addr + len) for remote access by connected peers. */
RMX_EXPORT int rmx_mem_reg(rmx_context_t *ctx, void *addr, size_t len,
			   unsigned int flags, rmx_mem_t **out);

RMX_EXPORT int rmx_mem_dereg(rmx_mem_t *mem);

/* Describes the registration for a peer. */
RMX_EXPORT int rmx_mem_remote(const rmx_mem_t *mem, rmx_remote_t *out);

/* Byte-order independent encoding of a descriptor, for sending to a peer. */
RMX_EXPORT int rmx_remote_pack(const rmx_remote_t *remote, void *buf,
			       size_t len);
RMX_EXPORT int rmx_remote_unpack(rmx_remote_t *remote, const void *buf,
				 size_t len);

/*
 * RDMA write of len bytes from buf to remote->addr + offset. buf needs no
 * registration and must stay valid until cb runs. -ERANGE if the range
 * falls outside the descriptor.
 */
RMX_EXPORT int rmx_put(rmx_ep_t *ep, const void *buf, size_t len,
		       const rmx_remote_t *remote, uint64_t offset,
		       rmx_comp_cb cb, void *arg);

/* RDMA read of len bytes from remote->addr + offset into buf. */
RMX_EXPORT int rmx_get(rmx_ep_t *ep, void *buf, size_t len,
		       const rmx_remote_t *remote, uint64_t offset,
		       rmx_comp_cb cb, void *arg);

/*
 * Notification of an rmx_put_imm() that landed: its 32-bit value and the
 * bytes written (the last piece's, when rmx split the write).
 */
typedef void (*rmx_imm_cb)(void *arg, uint32_t imm, size_t len);

/* Sets who hears of rmx_put_imm() writes into this endpoint's memory. */
RMX_EXPORT int rmx_ep_set_imm_cb(rmx_ep_t *ep, rmx_imm_cb cb, void *arg);

/*
 * rmx_put(), then a notification carrying imm to the peer's rmx_imm_cb,
 * after all the data (RDMA write with immediate). It uses one of the
 * peer's receive buffers, under the same flow control as a message.
 */
RMX_EXPORT int rmx_put_imm(rmx_ep_t *ep, const void *buf, size_t len,
			   const rmx_remote_t *remote, uint64_t offset,
			   uint32_t imm, rmx_comp_cb cb, void *arg);

/*
 * 64-bit atomics on the 8 bytes at remote->addr + offset (8-aligned,
 * registered with RMX_MEM_REMOTE_ATOMIC), in the peer's byte order. The
 * value found there lands in *old (valid when cb runs, len 8).
 */
RMX_EXPORT int rmx_atomic_fadd(rmx_ep_t *ep, const rmx_remote_t *remote,
			       uint64_t offset, uint64_t add, uint64_t *old,
			       rmx_comp_cb cb, void *arg);
/* Stores swap if the value equals compare. */
RMX_EXPORT int rmx_atomic_cswap(rmx_ep_t *ep, const rmx_remote_t *remote,
				uint64_t offset, uint64_t compare,
				uint64_t swap, uint64_t *old, rmx_comp_cb cb,
				void *arg);

/* ---- registration cache ---------------------------------------------- */

/* Counters of the context's pin-down registration cache. */
struct rmx_rcache_stats {
	uint64_t gets;			/* lookups */
	uint64_t hits;			/* served without registering */
	uint64_t misses;
	uint64_t merges;		/* neighbours folded into a new region */
	uint64_t evictions;		/* idle regions dropped for the limits */
	uint64_t invalidation_events;	/* unmaps/remaps the monitor reported */
	uint64_t regions_invalidated;
	uint64_t registrations;		/* device registrations made */
	uint64_t deregistrations;
	uint64_t bytes_pinned;		/* registered now */
	uint64_t bytes_pinned_peak;
};

RMX_EXPORT int rmx_rcache_stats(rmx_context_t *ctx,
				struct rmx_rcache_stats *out);

/* How a context keeps its registrations coherent with the address space. */
enum rmx_rcache_mode {
	RMX_RCACHE_OFF,		/* registered and deregistered per operation */
	RMX_RCACHE_UFFD,	/* pinned, cached, watched by userfaultfd */
	RMX_RCACHE_ODP,		/* on-demand paging, cached */
	RMX_RCACHE_ODP_IMPLICIT,	/* one on-demand registration for all */
	RMX_RCACHE_UNWATCHED,	/* cached, nothing watching (testing only) */
};

/*
 * Returns the context's enum rmx_rcache_mode, or a negative errno; *why
 * (optional) gets a sentence naming the choice and its reason, valid
 * while ctx lives.
 */
RMX_EXPORT int rmx_rcache_mode(rmx_context_t *ctx, const char **why);

/* ---- jobs: ranks started together by a launcher ----------------------- */

/*
 * A process started by a PMIx launcher (mpirun, srun --mpi=pmix, prterun)
 * learns its rank and the job's size, and gets an endpoint to any other
 * rank by its number. Each rank listens on its context's device and
 * publishes the address through the launcher; connections are made on
 * first use (or all at once), one per pair of ranks even when both call
 * at the same moment. rmx_job_init() and the calls that wait for other
 * ranks progress ctx while they wait, so they must not be called from a
 * callback (-EDEADLK). Needs librmx's PMIx module (built when PMIx is
 * found); without it -EPROTONOSUPPORT. See rmx_job_init(3).
 */
typedef struct rmx_job rmx_job_t;

enum rmx_job_flags {
	RMX_JOB_CONNECT_ALL = 1 << 0,	/* rmx_job_connect_all() in init */
};

/* Joins the job: every rank of it must call this, once, collectively. */
RMX_EXPORT int rmx_job_init(rmx_context_t *ctx, unsigned int flags,
			    rmx_job_t **out);

/* Destroys the job's endpoints and listener; ctx stays. Not collective. */
RMX_EXPORT void rmx_job_fini(rmx_job_t *job);

RMX_EXPORT uint32_t rmx_job_rank(const rmx_job_t *job);
RMX_EXPORT uint32_t rmx_job_size(const rmx_job_t *job);

/* The ranks on this node, this one included, ascending. */
RMX_EXPORT int rmx_job_local_ranks(const rmx_job_t *job,
				   const uint32_t **ranks, size_t *n);

/*
 * The endpoint to rank, connected: made on first use, progressing ctx
 * until it is up (the peer must progress too) or RMX_CONNECT_TIMEOUT_MS
 * passes. The job owns it: do not rmx_ep_destroy() it. Once it closed,
 * its error. Not to this rank itself (-EINVAL).
 */
RMX_EXPORT int rmx_job_ep(rmx_job_t *job, uint32_t rank, rmx_ep_t **ep);

/* Connects to every rank; collective. */
RMX_EXPORT int rmx_job_connect_all(rmx_job_t *job);

/* The rank at the other end of a job endpoint, or -ENOENT. */
RMX_EXPORT int rmx_job_ep_rank(const rmx_job_t *job, const rmx_ep_t *ep);

/* Returns when every rank has called it; progresses ctx meanwhile. */
RMX_EXPORT int rmx_job_barrier(rmx_job_t *job);

/*
 * Collective: every rank gives len bytes (the same len everywhere); all
 * receives size * len bytes, rank r's at all + r * len. For exchanging
 * rmx_remote_pack() descriptors, say.
 */
RMX_EXPORT int rmx_job_allgather(rmx_job_t *job, const void *mine, size_t len,
				 void *all);

#ifdef __cplusplus
}
#endif

#endif /* RMX_RMX_H */
