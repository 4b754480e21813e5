// SPDX-License-Identifier: BSD-2-Clause
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "core/log.h"

#define HOST_MAX 256

static int split_host_port(const char *str, char *host, const char **port)
{
	const char *colon;
	size_t hlen;

	if (str[0] == '[') {
		const char *close = strchr(str, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		hlen = (size_t)(close - str - 1);
		str++;
		colon = close + 1;
	} else {
		colon = strrchr(str, ':');
		/* A bare IPv6 address needs brackets to carry a port. */
		if (!colon || memchr(str, ':', (size_t)(colon - str)))
			return -EINVAL;
		hlen = (size_t)(colon - str);
	}
	if (hlen == 0 || hlen >= HOST_MAX)
		return -EINVAL;
	memcpy(host, str, hlen);
	host[hlen] = '\0';
	*port = colon + 1;
	return 0;
}

static int parse_port(const char *s)
{
	char *end;
	long v;

	if (!*s || *s < '0' || *s > '9')
		return -EINVAL;
	v = strtol(s, &end, 10);
	if (*end || v > 65535)
		return -EINVAL;
	return (int)v;
}

static int resolve(const char *host, int p, struct sockaddr_storage *ss)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	char portstr[12];
	int ret;

	snprintf(portstr, sizeof(portstr), "%d", p);
	hints.ai_flags = AI_NUMERICSERV;
	ret = getaddrinfo(host, portstr, &hints, &res);
	if (ret) {
		rmx__err("cannot resolve \"%s\": %s", host, gai_strerror(ret));
		return ret == EAI_SYSTEM ? -errno : -EHOSTUNREACH;
	}
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

int rmx__addr_parse(const char *str, struct sockaddr_storage *ss)
{
	char host[HOST_MAX];
	const char *port;
	int ret, p;

	if (!str || !ss)
		return -EINVAL;
	ret = split_host_port(str, host, &port);
	p = ret ? ret : parse_port(port);
	if (p < 0) {
		rmx__err("bad address \"%s\": expected ip:port, [ipv6]:port or host:port",
			 str);
		return -EINVAL;
	}
	return resolve(host, p, ss);
}

int rmx__addr_parse_src(const char *str, struct sockaddr_storage *ss)
{
	const char *colon = str ? strchr(str, ':') : NULL;
	size_t len = str ? strlen(str) : 0;
	char host[HOST_MAX];

	if (!str || !ss)
		return -EINVAL;
	if (!len)
		goto bad;
	/* With a port, as rmx__addr_parse() takes it. */
	if ((str[0] == '[' && str[len - 1] != ']') ||
	    (str[0] != '[' && colon && !strchr(colon + 1, ':')))
		return rmx__addr_parse(str, ss);
	/* Without: "ip", "host", "[ipv6]" or a bare IPv6 address. */
	if (str[0] == '[')
		len -= 2;
	if (len == 0 || len >= HOST_MAX)
		goto bad;
	memcpy(host, str + (str[0] == '['), len);
	host[len] = '\0';
	return resolve(host, 0, ss);
bad:
	rmx__err("bad source address \"%s\": expected ip, ip:port, [ipv6] or [ipv6]:port",
		 str);
	return -EINVAL;
}

void rmx__addr_format(const struct sockaddr *sa, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		port = ntohs(in->sin_port);
		snprintf(buf, len, "%s:%d", ip, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		port = ntohs(in6->sin6_port);
		snprintf(buf, len, "[%s]:%d", ip, port);
	} else {
		snprintf(buf, len, "<family %d>", sa->sa_family);
	}
}
