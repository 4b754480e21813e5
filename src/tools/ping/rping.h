/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rmx-ping's default mode: rdma-core's rping protocol over librdmacm and
 * libibverbs, so that rmx-ping and rping interoperate either way round.
 */
#ifndef RMX_TOOLS_PING_RPING_H
#define RMX_TOOLS_PING_RPING_H

#include "ping.h"

/* rping's limits: its format with INT_MAX's name fits; 64 KiB less one. */
#define RPING_MIN_SIZE 23
#define RPING_MAX_SIZE 65535

/* Runs the server or client; 0 on success, a negative errno on failure. */
int ping_rping_run(const struct ping_opts *o);

#endif /* RMX_TOOLS_PING_RPING_H */
