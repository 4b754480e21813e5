// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"

#define KNOB_UINT(n, d, lo, hi, field, h)                              \
	{ .name = n, .def = d, .help = h, .type = RMX__KNOB_UINT,       \
	  .offset = offsetof(struct rmx__config, field), .min = lo, .max = hi }

#define KNOB(n, d, t, field, h)                                         \
	{ .name = n, .def = d, .help = h, .type = t,                     \
	  .offset = offsetof(struct rmx__config, field) }

static const char *const monitor_choices[] = { "auto", "uffd", "odp", "none",
					       NULL };

const struct rmx__knob rmx__knobs[] = {
	{ .name = "RMX_LOG_LEVEL", .def = "warn", .type = RMX__KNOB_LOG_LEVEL,
	  .offset = offsetof(struct rmx__config, log_level),
	  .help = "log verbosity: none, error, warn, info, debug, trace" },
	{ .name = "RMX_TRANSPORT", .def = "auto", .type = RMX__KNOB_STRING,
	  .offset = offsetof(struct rmx__config, transport),
	  .max = RMX__TRANSPORT_NAME_MAX,
	  .help = "transport backend: auto (the first built-in one with a usable device) or a backend's name: verbs, ofi (libfabric)" },
	KNOB_UINT("RMX_CONNECT_TIMEOUT_MS", "5000", 1, 3600000,
		  connect_timeout_ms,
		  "bound on address/route resolution and connection setup"),
	/* Measured in the lab: see bench/README.md and rmx(7). */
	KNOB_UINT("RMX_EAGER_MAX", "16384", 64, 1 << 20, eager_max,
		  "largest message sent eagerly (copied); larger ones go by rendezvous"),
	KNOB_UINT("RMX_TX_DEPTH", "128", 4, 16384, tx_depth,
		  "send queue entries per endpoint"),
	KNOB_UINT("RMX_TX_BUFS", "128", 16, 65536, tx_bufs,
		  "send buffers the context's endpoints share, registered 16 at a time as needed"),
	/*
	 * At least 3: a blocked peer keeps one credit back, and credits are
	 * returned two at a time (proto/send.c), so 2 could leave both
	 * sides waiting.
	 */
	KNOB_UINT("RMX_RX_GRANT", "8", 3, 16384, rx_grant,
		  "receive buffers each peer holds (its credits), pinned per endpoint"),
	KNOB_UINT("RMX_RX_POOL", "128", 0, 65536, rx_pool,
		  "spare receive buffers a context lends to busy peers"),
	KNOB_UINT("RMX_RX_DEPTH", "64", 4, 16384, rx_depth,
		  "receive buffers one busy peer may hold at most"),
	KNOB("RMX_RCACHE", "on", RMX__KNOB_BOOL, rcache,
	     "pin-down registration cache; off registers per operation"),
	KNOB_UINT("RMX_RCACHE_MAX_REGIONS", "0", 0, 1 << 24,
		  rcache_max_regions,
		  "idle cached regions kept before LRU eviction (0: 16384)"),
	KNOB("RMX_RCACHE_MAX_BYTES", "0", RMX__KNOB_SIZE, rcache_max_bytes,
	     "bytes the cache keeps pinned, K/M/G suffix (0: 3/4 of RLIMIT_MEMLOCK)"),
	{ .name = "RMX_RCACHE_MONITOR", .def = "auto", .type = RMX__KNOB_ENUM,
	  .offset = offsetof(struct rmx__config, rcache_monitor),
	  .choices = monitor_choices,
	  .help = "invalidation: auto, uffd, odp or none (none is unsafe: testing only)" },
	KNOB("RMX_RCACHE_CHECK", "0", RMX__KNOB_BOOL, rcache_check,
	     "verify on every cache hit that the pages still map the same frames (needs CAP_SYS_ADMIN)"),
	KNOB("RMX_STATS", "0", RMX__KNOB_BOOL, stats,
	     "print registration cache counters when a context is destroyed"),
	KNOB("RMX_RNDV_EXACT", "on", RMX__KNOB_BOOL, rndv_exact,
	     "a rendezvous peer may read exactly the message, until it acknowledges; off: the cached registration's key (faster, exposes its neighbours)"),
	KNOB("RMX_RPC_MAX", "64M", RMX__KNOB_SIZE, rpc_max,
	     "largest RPC request or response sent or accepted"),
	/*
	 * A probe costs the peer no CPU, so probing often is cheap: a peer
	 * idle this long is asked, and a dead one found within the
	 * transport's retry budget after (see RMX_ACK_TIMEOUT).
	 */
	KNOB_UINT("RMX_KEEPALIVE_MS", "1000", 0, 3600000, keepalive_ms,
		  "probe a connected peer's device after this long without a completion (0: off)"),
	KNOB_UINT("RMX_PEER_TIMEOUT_MS", "0", 0, 3600000, peer_timeout_ms,
		  "close an endpoint whose peer's rmx sent nothing this long, pinging it halfway (0: off)"),
	{ .name = "RMX_JOB_ADDR", .def = "", .type = RMX__KNOB_STRING,
	  .offset = offsetof(struct rmx__config, job_addr),
	  .max = RMX__JOB_ADDR_MAX,
	  .help = "IP address a job's ranks listen on and publish (empty: an address of the context's device)" },
};

const size_t rmx__nknobs = sizeof(rmx__knobs) / sizeof(rmx__knobs[0]);

static const char *plain_getenv(const char *name)
{
	return getenv(name);
}

static int parse_uint(const struct rmx__knob *k, const char *s,
		      uint32_t *out)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')	/* strtoull would skip spaces and signs */
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end != '\0' || v < k->min || v > k->max)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;
	int shift = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end == 'K' || *end == 'k')
		shift = 10;
	else if (*end == 'M' || *end == 'm')
		shift = 20;
	else if (*end == 'G' || *end == 'g')
		shift = 30;
	if (shift)
		end++;
	if (*end || v > (UINT64_MAX >> shift))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "1", "on", "yes", "true" };
	static const char *const no[] = { "0", "off", "no", "false" };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcasecmp(s, yes[i]) || !strcasecmp(s, no[i])) {
			*out = !strcasecmp(s, yes[i]);
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_enum(const struct rmx__knob *k, const char *s, int *out)
{
	int i;

	for (i = 0; k->choices[i]; i++) {
		if (!strcasecmp(s, k->choices[i])) {
			*out = i;
			return 0;
		}
	}
	return -EINVAL;
}

static int apply(void *base, const struct rmx__knob *k, const char *s)
{
	void *field = (char *)base + k->offset;
	int ret;

	switch (k->type) {
	case RMX__KNOB_UINT:
		return parse_uint(k, s, field);
	case RMX__KNOB_SIZE:
		return parse_size(s, field);
	case RMX__KNOB_BOOL:
		return parse_bool(s, field);
	case RMX__KNOB_ENUM:
		return parse_enum(k, s, field);
	case RMX__KNOB_LOG_LEVEL:
		ret = rmx__log_level_parse(s);
		if (ret < 0)
			return ret;
		*(int *)field = ret;
		return 0;
	case RMX__KNOB_STRING:
		if (strlen(s) >= k->max)
			return -ENAMETOOLONG;
		strcpy(field, s);
		return 0;
	}
	return -EINVAL;
}

int rmx__knobs_load(const struct rmx__knob *table, size_t n, void *base,
		    rmx__getenv_fn env)
{
	const struct rmx__knob *k;
	const char *val;
	int ret;

	if (!env)
		env = plain_getenv;
	for (k = table; k < table + n; k++) {
		ret = apply(base, k, k->def);
		if (ret)
			return ret;	/* a bad built-in default is a bug */
		val = env(k->name);
		if (!val)
			continue;
		ret = apply(base, k, val);
		if (ret) {
			if (k->type == RMX__KNOB_UINT)
				rmx__err("%s=\"%s\": expected an integer in [%u, %u]",
					 k->name, val, k->min, k->max);
			else
				rmx__err("%s=\"%s\": %s", k->name, val, k->help);
			return ret;
		}
	}
	return 0;
}

int rmx__config_load(struct rmx__config *cfg, rmx__getenv_fn env)
{
	memset(cfg, 0, sizeof(*cfg));
	return rmx__knobs_load(rmx__knobs, rmx__nknobs, cfg, env);
}
