/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A plain-libibverbs RC queue pair connected to itself, for programs that
 * probe a device without rmx (odp_repro, rmx-bench-odp). Setup errors
 * print what failed and exit with status 2.
 */
#ifndef RMX_TESTS_SELFQP_H
#define RMX_TESTS_SELFQP_H

#include <stdbool.h>

#include <infiniband/verbs.h>

struct selfqp {
	const char *prog;	/* names the program in error messages */
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_cq *cq;
	struct ibv_qp *qp;
};

_Noreturn void selfqp_die(const struct selfqp *r, const char *what, int err);
/* Opens device name (NULL: the first) and connects its QP to itself. */
void selfqp_open(struct selfqp *r, const char *prog, const char *name);
void selfqp_close(struct selfqp *r);
/* RC on-demand paging for send, receive, RDMA write and read. */
bool selfqp_has_odp(const struct selfqp *r);
/* Waits for n completions; returns the first bad status (printed) or 0. */
int selfqp_reap(struct selfqp *r, int n);

#endif
