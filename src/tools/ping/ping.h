/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rmx-ping: what the command line decided, shared by its two modes
 * (rping_run.c: rping's protocol; native.c: rmx RPC).
 */
#ifndef RMX_TOOLS_PING_H
#define RMX_TOOLS_PING_H

#include <signal.h>
#include <stddef.h>

#define PING_DEFAULT_PORT 7174		/* rping's */
#define PING_DEFAULT_SIZE 64		/* rping's */
#define PING_DEFAULT_TIMEOUT_MS 5000

struct ping_opts {
	int server;		/* -s: 1, -c: 0 */
	int persistent;		/* -P */
	int verbose;		/* -v */
	int validate;		/* -V */
	int debug;		/* -d */
	const char *addr;	/* -a: server bind address or address to reach */
	const char *src;	/* -I: client source address */
	int port;		/* -p */
	long count;		/* -C: 0 means until interrupted */
	size_t size;		/* -S */
	int timeout_ms;		/* --timeout: longest wait for the peer */
};

/* Set by SIGINT/SIGTERM: stop at the next ping boundary, tidily. */
extern volatile sig_atomic_t ping_stop;

/*
 * rping's ping data: "rdma-ping-<seq>: " then printable ASCII from 'A'
 * to 'z' starting one further on each ping, NUL-terminated at size - 1.
 */
void ping_fill(char *buf, size_t size, long seq);

#endif /* RMX_TOOLS_PING_H */
