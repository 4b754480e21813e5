// SPDX-License-Identifier: BSD-2-Clause
/*
 * Verbs backend: the IP address peers reach the opened device at, which
 * rdma_cm listeners bind to and a job publishes (rmx_job_init).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ifaddrs.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "transport/verbs/verbs.h"

/* RoCE GIDs are IP addresses: IPv4 ones are mapped (::ffff:a.b.c.d). */
static bool gid_is_v4(const union ibv_gid *g)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

	return !memcmp(g->raw, mapped, sizeof(mapped));
}

static bool gid_is_global_v6(const struct ibv_gid_entry *e)
{
	const uint8_t *r = e->gid.raw;

	/* IB GIDs are no IP addresses; fe80::/10 needs a scope. */
	return e->gid_type != IBV_GID_TYPE_IB && !gid_is_v4(&e->gid) &&
	       !(r[0] == 0xfe && (r[1] & 0xc0) == 0x80) &&
	       memcmp(r, (uint8_t[16]){ 0 }, 16);
}

/* From the port's GID table: RoCE, where each IP of the netdev is a GID. */
static int from_gids(const struct verbs_tp *tp, struct sockaddr_storage *out)
{
	struct ibv_device_attr da;
	struct ibv_gid_entry *e, *v6 = NULL;
	ssize_t n, i;
	int ret = -EADDRNOTAVAIL;

	if (ibv_query_device(tp->verbs, &da))
		return -errno;
	e = calloc((size_t)da.phys_port_cnt * 256, sizeof(*e));
	if (!e)
		return -ENOMEM;
	n = ibv_query_gid_table(tp->verbs, e, (size_t)da.phys_port_cnt * 256, 0);
	for (i = 0; i < n; i++) {
		if (e[i].port_num != tp->port || e[i].gid_type == IBV_GID_TYPE_IB)
			continue;
		if (gid_is_v4(&e[i].gid)) {
			struct sockaddr_in *sin = (struct sockaddr_in *)out;

			memset(out, 0, sizeof(*out));
			sin->sin_family = AF_INET;
			memcpy(&sin->sin_addr, e[i].gid.raw + 12, 4);
			ret = 0;
			break;
		}
		if (!v6 && gid_is_global_v6(&e[i]))
			v6 = &e[i];
	}
	if (ret && v6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;

		memset(out, 0, sizeof(*out));
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, v6->gid.raw, 16);
		ret = 0;
	}
	free(e);
	return ret;
}

/* InfiniBand: the IPv4 address of the device's IPoIB netdev. */
static int from_ipoib(const struct verbs_tp *tp, struct sockaddr_storage *out)
{
	char path[PATH_MAX];
	struct ifaddrs *ifs, *ifa;
	struct dirent *d;
	DIR *dir;
	int ret = -EADDRNOTAVAIL;

	snprintf(path, sizeof(path), "/sys/class/infiniband/%s/device/net",
		 ibv_get_device_name(tp->verbs->device));
	dir = opendir(path);
	if (!dir)
		return -EADDRNOTAVAIL;
	if (getifaddrs(&ifs)) {
		closedir(dir);
		return -errno;
	}
	while (ret && (d = readdir(dir))) {
		for (ifa = ifs; ifa; ifa = ifa->ifa_next) {
			if (ifa->ifa_addr && ifa->ifa_addr->sa_family == AF_INET &&
			    !strcmp(ifa->ifa_name, d->d_name)) {
				memset(out, 0, sizeof(*out));
				memcpy(out, ifa->ifa_addr, sizeof(struct sockaddr_in));
				ret = 0;
				break;
			}
		}
	}
	freeifaddrs(ifs);
	closedir(dir);
	return ret;
}

int rmx__verbs_host_addr(const struct rmx__tp *base,
			 struct sockaddr_storage *out)
{
	const struct verbs_tp *tp = (const struct verbs_tp *)base;
	int ret = from_gids(tp, out);

	if (ret == -EADDRNOTAVAIL)
		ret = from_ipoib(tp, out);
	if (ret == -EADDRNOTAVAIL)
		rmx__err("%s port %u has no IP address: give its netdev one (ip addr add ... dev IFACE)",
			 ibv_get_device_name(tp->verbs->device), tp->port);
	return ret;
}
