/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RMX_CORE_CONFIG_H
#define RMX_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RMX__TRANSPORT_NAME_MAX 32
#define RMX__JOB_ADDR_MAX 64

/*
 * Everything a context reads from the RMX_* environment, validated. Each
 * transport backend reads its own knobs (its ops->knobs) the same way.
 */
struct rmx__config {
	int log_level;
	char transport[RMX__TRANSPORT_NAME_MAX];	/* RMX_TRANSPORT */
	uint32_t connect_timeout_ms;
	uint32_t eager_max;	/* largest message payload */
	uint32_t tx_depth;	/* send work requests per endpoint */
	uint32_t tx_bufs;	/* send buffers per context, at most */
	uint32_t rx_depth;	/* receive buffers one peer may hold, at most */
	uint32_t rx_grant;	/* receive buffers each peer holds */
	uint32_t rx_pool;	/* spare receive buffers lent to busy peers */
	bool rcache;		/* pin-down cache on */
	uint32_t rcache_max_regions;	/* 0: derived default */
	uint64_t rcache_max_bytes;	/* 0: derived from RLIMIT_MEMLOCK */
	int rcache_monitor;	/* enum rmx__monitor_kind */
	bool rcache_check;	/* verify frames on every hit */
	bool stats;		/* print counters at context destroy */
	bool rndv_exact;	/* rendezvous keys cover the message only */
	uint32_t keepalive_ms;	/* probe an idle peer this often; 0: off */
	uint32_t peer_timeout_ms;	/* application-level check; 0: off */
	uint64_t rpc_max;	/* largest RPC payload either way */
	char job_addr[RMX__JOB_ADDR_MAX];	/* RMX_JOB_ADDR */
};

enum rmx__monitor_kind {
	RMX__MONITOR_AUTO,
	RMX__MONITOR_UFFD,
	RMX__MONITOR_ODP,
	RMX__MONITOR_NONE,
};

enum rmx__knob_type {
	RMX__KNOB_UINT,
	RMX__KNOB_SIZE,		/* bytes, with an optional K, M or G suffix */
	RMX__KNOB_BOOL,		/* 0/1, on/off, yes/no, true/false */
	RMX__KNOB_ENUM,		/* one of choices[], stored as its index */
	RMX__KNOB_STRING,	/* max: the field's size, NUL included */
	RMX__KNOB_LOG_LEVEL,
};

/* One RMX_* variable: the single source for parsing, docs and rmx-info. */
struct rmx__knob {
	const char *name;
	const char *def;
	const char *help;
	enum rmx__knob_type type;
	size_t offset;		/* into the table's struct */
	uint32_t min, max;	/* RMX__KNOB_UINT bounds */
	const char *const *choices;	/* RMX__KNOB_ENUM, NULL-terminated */
};

extern const struct rmx__knob rmx__knobs[];
extern const size_t rmx__nknobs;

typedef const char *(*rmx__getenv_fn)(const char *name);

/*
 * Fills the struct at base from table's defaults and the environment
 * (getenv when env is NULL). A malformed or out-of-range value is an error
 * naming the variable, never silently replaced by the default.
 */
int rmx__knobs_load(const struct rmx__knob *table, size_t n, void *base,
		    rmx__getenv_fn env);
/* The core table into cfg. */
int rmx__config_load(struct rmx__config *cfg, rmx__getenv_fn env);

#endif
