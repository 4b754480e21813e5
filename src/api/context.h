/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RMX_API_CONTEXT_H
#define RMX_API_CONTEXT_H

#include "core/config.h"
#include "mem/reg.h"
#include "proto/proto.h"
#include "transport/transport.h"

/* A context wires one instance of each layer together. */
struct rmx_context {
	struct rmx__config cfg;
	struct rmx__loop loop;	/* rmx_context_fd(): the backend's fds and timers */
	struct rmx__tp *tp;
	struct rmx__mem mem;
	struct rmx__proto proto;
	struct rmx__list mems;	/* rmx_mem_reg() handles still alive */
};

/* Deregisters what the application left registered, so the PD can go. */
void rmx__api_mem_release_all(struct rmx_context *ctx);
/* The rmx_mem_reg() handles still alive: how many, how many bytes. */
void rmx__api_mem_pinned(struct rmx_context *ctx, size_t *n, uint64_t *bytes);

/* Logs "func: what" and returns -EINVAL: every argument check uses it. */
int rmx__bad_arg(const char *func, const char *what);

#define RMX__CHECK(cond, what)                           \
	do {                                             \
		if (!(cond))                             \
			return rmx__bad_arg(__func__, what); \
	} while (0)

#endif
