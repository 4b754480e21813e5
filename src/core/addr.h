/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RMX_CORE_ADDR_H
#define RMX_CORE_ADDR_H

#include <sys/socket.h>

/*
 * Parses "ipv4:port", "[ipv6]:port" or "hostname:port" into a socket
 * address (port 0 allowed). -EINVAL for malformed text, -EHOSTUNREACH
 * when a host name does not resolve.
 */
int rmx__addr_parse(const char *str, struct sockaddr_storage *ss);

/*
 * A local address to bind: as rmx__addr_parse() takes it, or without
 * the port ("ip", "host", "[ipv6]", a bare IPv6 address): port 0.
 */
int rmx__addr_parse_src(const char *str, struct sockaddr_storage *ss);

/* "ip:port" for logs; always NUL-terminated. */
void rmx__addr_format(const struct sockaddr *sa, char *buf, size_t len);

#endif
