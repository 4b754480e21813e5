/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rmx-ping's rping mode, inside: one connection's state and what the
 * files of the mode call in each other. rping_run.c runs the loop,
 * rping_events.c turns completions and CM events into the client's
 * (rping_client.c) and the server's (rping_server.c) steps, on
 * connections rping_conn.c sets up and winds down; rping_wire.c and
 * rping_addr.c are the message and the addresses.
 */
#ifndef RMX_TOOLS_PING_RPING_CONN_H
#define RMX_TOOLS_PING_RPING_CONN_H

#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include <rdma/rdma_cma.h>
#include <rdma/rdma_verbs.h>

#include "rping.h"

#define INFO_LEN 16		/* struct rping_rdma_info */
#define RECV_LEN 64		/* > INFO_LEN: a wrong size is named, not LEN_ERR */
#define SQ_DEPTH 16		/* rping's */
#define RQ_DEPTH 2
#define DATA_LEN (RPING_MAX_SIZE + 1)	/* server: any client size, plus NUL */
#define CLOSE_WAIT_MS 1000	/* for DISCONNECTED after our disconnect */

enum wr_kind { WR_RECV = 1, WR_SEND, WR_READ, WR_WRITE };

enum state {
	ST_RESOLVING,	/* client: address and route */
	ST_CONNECTING,	/* client: connect request sent */
	ST_WAIT_SRC,	/* server: for the source descriptor */
	ST_READING,	/* server: RDMA READ posted */
	ST_WAIT_SINK,	/* server: for the sink descriptor */
	ST_WRITING,	/* server: RDMA WRITE posted */
	ST_GO_READ,	/* client: source sent, for the first go-ahead */
	ST_GO_WRITE,	/* client: sink sent, for the second */
	ST_CLOSING,	/* we disconnected: for DISCONNECTED, briefly */
	ST_DONE,	/* finished; status says how */
};

/* What a connection in each state waits for, for messages. */
extern const char *const rping_state_what[];

struct rping;

struct conn {
	struct rping *rp;
	struct conn *next;
	struct rdma_cm_id *id;
	enum state state;
	int status;		/* 0, or the first error (negative errno) */
	int established;
	int flushed;		/* the QP is in error; the CM says why */
	int64_t deadline;	/* tool_clock_ns() */
	long pings;		/* completed */
	char peer[INET6_ADDRSTRLEN + 8];

	/* Client: a step needs both the go-ahead and our send's completion. */
	int got_go, send_done;

	uint8_t recv_buf[RECV_LEN];
	uint8_t send_buf[2][INFO_LEN];	/* client: source, sink; server: go-ahead */
	char *start;			/* client: source */
	char *data;			/* client: sink; server: what it read */
	struct ibv_mr *recv_mr, *send_mr, *start_mr, *data_mr;

	uint64_t raddr;		/* server: the client's last descriptor */
	uint32_t rkey, rlen;
	uint32_t dlen;		/* server: bytes read */
};

struct rping {
	const struct ping_opts *o;
	struct rdma_event_channel *ch;
	struct rdma_cm_id *listen;
	struct conn *conns;
	int served;		/* server: connections accepted */
	int status;		/* first failure, of any connection */
	int fatal;		/* the run itself failed: wind down */
	struct pollfd *pfd;
	size_t pfd_cap;
};

/* rping's connection parameters, both sides. */
extern const struct rdma_conn_param rping_conn_param;

#define DBG(rp, ...)					\
	do {						\
		if ((rp)->o->debug)			\
			printf(__VA_ARGS__);		\
	} while (0)

/* rping_wire.c: the 16-byte buffer descriptor each message carries. */
void rping_info_encode(uint8_t *b, const void *addr, uint32_t rkey,
		       uint32_t len);
void rping_info_decode(const uint8_t *b, uint64_t *addr, uint32_t *rkey,
		       uint32_t *len);

/* rping_addr.c */
/* "ip:port" or "[ip6]:port" of sa, or "?". */
void rping_sa_format(const struct sockaddr *sa, char *buf, size_t len);
/* host (numeric or a name) and port into *ss, as rping's get_addr(). */
int rping_get_addr(const char *host, int port, struct sockaddr_storage *ss);

/* rping_conn.c */
int rping_set_nonblock(int fd);
struct conn *rping_conn_new(struct rping *rp);
void rping_conn_free(struct conn *c);
/* QP, CQs (librdmacm's, one channel each), buffers, first receive. */
int rping_conn_setup(struct conn *c);
/* The peer was heard from: its deadline moves on. */
void rping_conn_progress(struct conn *c);
/* Sends the disconnect, or finishes at once when there is no connection. */
void rping_conn_close(struct conn *c);
/* Records the first error, says it, and winds the connection down. */
__attribute__((format(printf, 3, 4)))
void rping_conn_fail(struct conn *c, int err, const char *fmt, ...);
int rping_post_recv(struct conn *c);
int rping_post_send(struct conn *c, int which);

/* rping_client.c */
int rping_client_start(struct rping *rp);
/* The next ping, or the disconnect after the last. */
void rping_client_ping(struct conn *c);
/* Both the go-ahead and our send's completion are in: the next step. */
void rping_client_step(struct conn *c);

/* rping_server.c */
int rping_server_start(struct rping *rp);
void rping_server_accept(struct rping *rp, struct rdma_cm_id *id);
void rping_server_read(struct conn *c);
void rping_server_read_done(struct conn *c);
void rping_server_write(struct conn *c);
void rping_server_write_done(struct conn *c);

/* rping_events.c */
/* Takes the channel's notifications, re-arms, then drains the CQ. */
void rping_poll_cq(struct conn *c, struct ibv_comp_channel *ch,
		   struct ibv_cq *cq);
/* Every CM event waiting: 0, or -errno when the channel failed. */
int rping_cm_events(struct rping *rp);

#endif /* RMX_TOOLS_PING_RPING_CONN_H */
