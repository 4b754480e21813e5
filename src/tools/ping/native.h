/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rmx-ping --rmx: each ping is an rmx RPC whose request the server echoes,
 * through rmx's eager or rendezvous path by size; round trips are timed.
 */
#ifndef RMX_TOOLS_PING_NATIVE_H
#define RMX_TOOLS_PING_NATIVE_H

#include "ping.h"

/* Largest -S: RMX_RPC_MAX's default (64 MiB). */
#define NATIVE_MAX_SIZE (64 << 20)

/* Runs the server or client; 0 on success, a negative errno on failure. */
int ping_native_run(const struct ping_opts *o);

#endif /* RMX_TOOLS_PING_NATIVE_H */
