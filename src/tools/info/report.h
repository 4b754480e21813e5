/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rmx-info: what the probes found, in one report, and the two printers of
 * it. Probing (device.c with libibverbs, host.c, rcache.c asking the
 * library) never prints, printing (print_text.c, print_json.c) never
 * probes, so that text and JSON always say the same.
 */
#ifndef RMX_TOOLS_INFO_REPORT_H
#define RMX_TOOLS_INFO_REPORT_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>

#include <infiniband/verbs.h>
#include <rmx/rmx.h>

#define INFO_MAX_ERRS 16

/* Problems met while probing: reported, never fatal. */
struct info_errs {
	char msg[INFO_MAX_ERRS][192];
	int n;
	int dropped;		/* beyond INFO_MAX_ERRS */
};

struct info_gid {
	uint32_t port;
	uint32_t index;
	uint32_t type;			/* enum ibv_gid_type */
	char addr[INET6_ADDRSTRLEN];
	char ndev[IF_NAMESIZE];		/* "" when the entry has none */
};

struct info_port {
	uint32_t num;
	bool ok;			/* attr was read */
	struct ibv_port_attr attr;
};

struct info_dev {
	char name[IBV_SYSFS_NAME_MAX];
	uint64_t guid;			/* host order */
	enum ibv_transport_type transport;
	enum ibv_node_type node_type;
	bool opened;
	bool attr_ok;
	struct ibv_device_attr_ex attr;	/* odp_caps zero where not reported */
	int64_t max_inline;		/* granted to an RC QP; -1: unknown */
	uint32_t inline_asked;		/* what that QP asked for */
	struct info_port *ports;
	uint32_t nports;
	struct info_gid *gids;		/* valid entries of all ports */
	size_t ngids;
	/* What an rmx context on this device chose to keep registrations coherent. */
	int rcache_mode;		/* enum rmx_rcache_mode, or -errno */
	char rcache_why[320];		/* the library's sentence, or the error */
	struct info_errs errs;
};

/* One way a userfaultfd can be had: 0, or the errno that refused it. */
struct info_uffd {
	int user_mode_only;	/* userfaultfd(UFFD_USER_MODE_ONLY) */
	int all_modes;		/* userfaultfd(0) */
	int dev;		/* /dev/userfaultfd, USERFAULTFD_IOC_NEW */
	int api;		/* UFFDIO_API on the first fd had: 0 or errno */
	uint64_t features;	/* what UFFDIO_API offered */
	int unprivileged;	/* vm.unprivileged_userfaultfd; -1 unreadable */
};

struct info_host {
	struct info_uffd uffd;
	int memlock_err;	/* 0, or getrlimit's errno */
	struct rlimit memlock;
};

/*
 * Whether rmx's userfaultfd monitor starts on this host, as an rmx
 * context found: one that chose it, else one made to try it
 * (RMX_RCACHE_MONITOR=uffd). The library opens the monitor only inside
 * a context, so without a device that opens there is no answer.
 */
struct info_monitor {
	bool asked;		/* false: no context could be opened */
	bool forced;		/* the context was made to try it */
	int status;		/* 0: it started; else why not (-errno) */
	char dev[IBV_SYSFS_NAME_MAX];	/* the device of that context */
};

struct info_report {
	const char *version;
	const char *only;		/* -d DEV, or NULL */
	size_t nfound;			/* devices on the host */
	struct info_dev *devs;		/* those probed: all, or -d's */
	size_t ndevs;
	struct info_host host;
	struct info_monitor monitor;
	struct rmx_knob *knobs;
	size_t nknobs;
	struct info_errs errs;		/* not tied to one device */
};

struct info_flag {
	uint64_t bit;
	const char *name;
};

/* NULL-terminated flag tables, shared by both printers (names.c). */
extern const struct info_flag info_odp_general[];
extern const struct info_flag info_odp_rc[];

struct info_limit {
	const char *name;
	uint64_t value;
};

#define INFO_MAX_LIMITS 16

/* report.c */
__attribute__((format(printf, 2, 3)))
void info_err(struct info_errs *e, const char *fmt, ...);
void info_report_free(struct info_report *r);

/* device.c: what libibverbs says of dev; 0, or -errno if it did not open. */
int info_dev_probe(struct ibv_device *dev, struct info_dev *d);
size_t info_dev_limits(const struct info_dev *d, struct info_limit *out);

/* host.c */
void info_host_probe(struct info_host *h);
/* UFFD_FEATURE_PAGEFAULT_FLAG_WP; the unmap, remove and remap events. */
bool info_uffd_wp(const struct info_uffd *u);
bool info_uffd_events(const struct info_uffd *u);

/* rcache.c: the library's answers, from rmx contexts. */
/* d's registration mode and the library's reason (RMX_DEVICE=d). */
void info_rcache_probe(struct info_dev *d);
/* Whether the uffd monitor starts, after info_rcache_probe() on each device. */
void info_monitor_probe(struct info_report *r);
/* "uffd", "odp"... for enum rmx_rcache_mode; "unknown" for an error. */
const char *info_rcache_mode_str(int mode);

/* names.c */
const char *info_transport_str(enum ibv_transport_type t);
const char *info_gid_type_str(uint32_t type);
const char *info_link_layer_str(uint8_t ll);
const char *info_port_state_str(enum ibv_port_state s);
const char *info_phys_state_str(uint8_t s);
const char *info_atomic_str(enum ibv_atomic_cap a);
const char *info_width_str(uint8_t w);
int info_mtu_bytes(enum ibv_mtu m);
/* Per-lane rate in Gb/s and its name (e.g. "FDR10"); 0 if unknown. */
double info_lane_gbps(uint8_t speed, const char **name);
int info_width_lanes(uint8_t w);
/* "0123:4567:89ab:cdef" */
void info_guid_str(uint64_t guid, char *buf, size_t n);
/* The RC operations that may fault on ODP memory; none without ODP. */
uint64_t info_odp_rc_caps(const struct info_dev *d);

/* print_text.c, print_json.c: 0, or -EIO when the output failed. */
int info_print_text(FILE *f, const struct info_report *r);
int info_print_json(FILE *f, const struct info_report *r);

#endif /* RMX_TOOLS_INFO_REPORT_H */
