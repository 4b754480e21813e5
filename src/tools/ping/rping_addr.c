// SPDX-License-Identifier: BSD-2-Clause
/* rmx-ping, rping mode: addresses, read as rping reads them and printed. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <string.h>

#include "common/msg.h"
#include "rping_conn.h"

void rping_sa_format(const struct sockaddr *sa, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (sa && sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%d", ip, ntohs(in->sin_port));
	} else if (sa && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%d", ip, ntohs(in6->sin6_port));
	} else {
		snprintf(buf, len, "?");
	}
}

int rping_get_addr(const char *host, int port, struct sockaddr_storage *ss)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	int ret;

	ret = getaddrinfo(host, NULL, &hints, &res);
	if (ret) {
		tool_err("cannot resolve \"%s\": %s", host, gai_strerror(ret));
		return -EINVAL;
	}
	memset(ss, 0, sizeof(*ss));
	if (res->ai_family == AF_INET || res->ai_family == AF_INET6) {
		memcpy(ss, res->ai_addr, res->ai_addrlen);
		ret = 0;
	} else {
		tool_err("\"%s\" is not an IP address", host);
		ret = -EAFNOSUPPORT;
	}
	freeaddrinfo(res);
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	else if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
	return ret;
}
