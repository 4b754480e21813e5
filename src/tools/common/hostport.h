/* SPDX-License-Identifier: BSD-2-Clause */
/* The address form rmx_listen() and rmx_connect() take. */
#ifndef RMX_TOOLS_COMMON_HOSTPORT_H
#define RMX_TOOLS_COMMON_HOSTPORT_H

#include <stddef.h>

/* "host:port", a bare IPv6 address in brackets: "[fd00::1]:7174". */
void tool_host_port(char *buf, size_t len, const char *host, int port);

#endif /* RMX_TOOLS_COMMON_HOSTPORT_H */
