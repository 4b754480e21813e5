// SPDX-License-Identifier: BSD-2-Clause
/*
 * rmx-info: the names of what libibverbs reports, as ibv_devinfo(1)
 * prints them, for both printers.
 */
#include <stdio.h>

#include "report.h"

const struct info_flag info_odp_general[] = {
	{ IBV_ODP_SUPPORT, "SUPPORT" },
	{ IBV_ODP_SUPPORT_IMPLICIT, "IMPLICIT" },
	{ 0, NULL },
};

const struct info_flag info_odp_rc[] = {
	{ IBV_ODP_SUPPORT_SEND, "SEND" },
	{ IBV_ODP_SUPPORT_RECV, "RECV" },
	{ IBV_ODP_SUPPORT_WRITE, "WRITE" },
	{ IBV_ODP_SUPPORT_READ, "READ" },
	{ IBV_ODP_SUPPORT_ATOMIC, "ATOMIC" },
	{ IBV_ODP_SUPPORT_SRQ_RECV, "SRQ_RECV" },
	{ 0, NULL },
};

const char *info_transport_str(enum ibv_transport_type t)
{
	switch (t) {
	case IBV_TRANSPORT_IB:
		return "InfiniBand";
	case IBV_TRANSPORT_IWARP:
		return "iWARP";
	case IBV_TRANSPORT_USNIC:
		return "usNIC";
	case IBV_TRANSPORT_USNIC_UDP:
		return "usNIC UDP";
	case IBV_TRANSPORT_UNSPECIFIED:
		return "unspecified";
	default:
		return "unknown";
	}
}

const char *info_gid_type_str(uint32_t type)
{
	switch (type) {
	case IBV_GID_TYPE_IB:
		return "IB";
	case IBV_GID_TYPE_ROCE_V1:
		return "RoCEv1";
	case IBV_GID_TYPE_ROCE_V2:
		return "RoCEv2";
	default:
		return "unknown";
	}
}

const char *info_link_layer_str(uint8_t ll)
{
	switch (ll) {
	/* Old kernels leave it unset on InfiniBand ports. */
	case IBV_LINK_LAYER_UNSPECIFIED:
	case IBV_LINK_LAYER_INFINIBAND:
		return "InfiniBand";
	case IBV_LINK_LAYER_ETHERNET:
		return "Ethernet";
	default:
		return "unknown";
	}
}

/* As ibv_devinfo(1) names them (ibv_port_state_str() says "active"). */
const char *info_port_state_str(enum ibv_port_state s)
{
	switch (s) {
	case IBV_PORT_NOP:
		return "PORT_NOP";
	case IBV_PORT_DOWN:
		return "PORT_DOWN";
	case IBV_PORT_INIT:
		return "PORT_INIT";
	case IBV_PORT_ARMED:
		return "PORT_ARMED";
	case IBV_PORT_ACTIVE:
		return "PORT_ACTIVE";
	case IBV_PORT_ACTIVE_DEFER:
		return "PORT_ACTIVE_DEFER";
	default:
		return "unknown";
	}
}

const char *info_phys_state_str(uint8_t s)
{
	static const char *const names[] = {
		[1] = "SLEEP", [2] = "POLLING", [3] = "DISABLED",
		[4] = "PORT_CONFIGURATION_TRAINING", [5] = "LINK_UP",
		[6] = "LINK_ERROR_RECOVERY", [7] = "PHY_TEST",
	};

	if (s < sizeof(names) / sizeof(names[0]) && names[s])
		return names[s];
	return "unknown";
}

const char *info_atomic_str(enum ibv_atomic_cap a)
{
	switch (a) {
	case IBV_ATOMIC_NONE:
		return "ATOMIC_NONE";
	case IBV_ATOMIC_HCA:
		return "ATOMIC_HCA";
	case IBV_ATOMIC_GLOB:
		return "ATOMIC_GLOB";
	default:
		return "unknown";
	}
}

int info_mtu_bytes(enum ibv_mtu m)
{
	return m >= IBV_MTU_256 && m <= IBV_MTU_4096 ? 128 << m : 0;
}

int info_width_lanes(uint8_t w)
{
	switch (w) {
	case 1:
		return 1;
	case 2:
		return 4;
	case 4:
		return 8;
	case 8:
		return 12;
	case 16:
		return 2;
	default:
		return 0;
	}
}

const char *info_width_str(uint8_t w)
{
	switch (info_width_lanes(w)) {
	case 1:
		return "1X";
	case 2:
		return "2X";
	case 4:
		return "4X";
	case 8:
		return "8X";
	case 12:
		return "12X";
	default:
		return "unknown";
	}
}

/* Nominal rates, as ibv_devinfo(1) prints them. */
double info_lane_gbps(uint8_t speed, const char **name)
{
	static const struct {
		uint8_t code;
		double gbps;
		const char *name;
	} t[] = {
		{ 1, 2.5, "SDR" }, { 2, 5.0, "DDR" }, { 4, 10.0, "QDR" },
		{ 8, 10.0, "FDR10" }, { 16, 14.0, "FDR" }, { 32, 25.0, "EDR" },
		{ 64, 50.0, "HDR" }, { 128, 100.0, "NDR" },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (t[i].code == speed) {
			*name = t[i].name;
			return t[i].gbps;
		}
	}
	*name = "unknown";
	return 0;
}

void info_guid_str(uint64_t guid, char *buf, size_t n)
{
	snprintf(buf, n, "%04x:%04x:%04x:%04x", (unsigned)(guid >> 48) & 0xffff,
		 (unsigned)(guid >> 32) & 0xffff, (unsigned)(guid >> 16) & 0xffff,
		 (unsigned)guid & 0xffff);
}

uint64_t info_odp_rc_caps(const struct info_dev *d)
{
	const struct ibv_odp_caps *odp = &d->attr.odp_caps;

	/* The per-transport bits mean nothing without ODP itself. */
	return odp->general_caps & IBV_ODP_SUPPORT ?
		       odp->per_transport_caps.rc_odp_caps : 0;
}
