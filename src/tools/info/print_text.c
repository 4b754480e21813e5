// SPDX-License-Identifier: BSD-2-Clause
/* rmx-info: the report as text, one "key: value" a line, for people. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "report.h"

#define KEY_WIDTH 24

/* Environment values may hold anything: control bytes are shown escaped. */
static const char *esc(const char *s, char *buf, size_t n)
{
	size_t o = 0;

	/* Room for one more escape, then the "..." of a cut. */
	for (; *s && o + 8 < n; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f)
			o += snprintf(buf + o, n - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	if (*s)
		o += snprintf(buf + o, n - o, "...");
	buf[o] = '\0';
	return buf;
}

__attribute__((format(printf, 4, 5)))
static void kv(FILE *f, int indent, const char *key, const char *fmt, ...)
{
	va_list ap;
	int w = KEY_WIDTH - indent - (int)strlen(key) - 1;

	fprintf(f, "%*s%s:%*s ", indent, "", key, w > 0 ? w : 0, "");
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
}

static void flags(FILE *f, int indent, const char *key, uint64_t v,
		  const struct info_flag *t)
{
	char buf[128] = "";
	size_t o = 0;

	for (; t->name; t++)
		if (v & t->bit)
			o += snprintf(buf + o, sizeof(buf) - o, "%s%s",
				      o ? " " : "", t->name);
	kv(f, indent, key, "%s", o ? buf : "none");
}

static void bytes(char *buf, size_t n, uint64_t v)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB",
					    "PiB", "EiB" };
	int i = -1;
	uint64_t u = v;

	while (u >= 1024 && !(u & 1023) && i < 5) {
		u >>= 10;
		i++;
	}
	if (i < 0)
		snprintf(buf, n, "%" PRIu64, v);
	else
		snprintf(buf, n, "%" PRIu64 " (%" PRIu64 " %s)", v, u, unit[i]);
}

static void errors(FILE *f, int indent, const struct info_errs *e)
{
	int i;

	for (i = 0; i < e->n; i++)
		kv(f, indent, "error", "%s", e->msg[i]);
	if (e->dropped)
		kv(f, indent, "error", "... and %d more", e->dropped);
}

static void port(FILE *f, const struct info_dev *d, const struct info_port *p)
{
	const struct ibv_port_attr *a = &p->attr;
	const char *lane;
	double gbps = info_lane_gbps(a->active_speed, &lane);
	int lanes = info_width_lanes(a->active_width);
	size_t i;

	fprintf(f, "  port %u:\n", p->num);
	kv(f, 4, "state", "%s (%d)", info_port_state_str(a->state), a->state);
	kv(f, 4, "phys_state", "%s (%u)", info_phys_state_str(a->phys_state),
	   a->phys_state);
	kv(f, 4, "active_mtu", "%d (%d)", info_mtu_bytes(a->active_mtu),
	   a->active_mtu);
	kv(f, 4, "max_mtu", "%d (%d)", info_mtu_bytes(a->max_mtu), a->max_mtu);
	kv(f, 4, "link_layer", "%s", info_link_layer_str(a->link_layer));
	if (gbps > 0 && lanes)
		kv(f, 4, "speed", "%.1f Gb/s (%s %.1f Gb/s x %s)", gbps * lanes,
		   lane, gbps, info_width_str(a->active_width));
	else
		kv(f, 4, "speed", "unknown (speed %u, width %u)",
		   a->active_speed, a->active_width);
	if (a->link_layer != IBV_LINK_LAYER_ETHERNET)
		kv(f, 4, "lid", "0x%04x", a->lid);
	kv(f, 4, "gid_tbl_len", "%d", a->gid_tbl_len);
	for (i = 0; i < d->ngids; i++) {
		const struct info_gid *g = &d->gids[i];
		char key[24];

		if (g->port != p->num)
			continue;
		snprintf(key, sizeof(key), "GID[%u]", g->index);
		kv(f, 4, key, "%-6s %s%s%s", info_gid_type_str(g->type),
		   g->addr, g->ndev[0] ? "  " : "", g->ndev);
	}
}

static void device(FILE *f, const struct info_report *r,
		   const struct info_dev *d)
{
	const struct ibv_device_attr *a = &d->attr.orig_attr;
	struct info_limit lim[INFO_MAX_LIMITS];
	char buf[64];
	size_t i, n;
	uint32_t p;

	fprintf(f, "device %s\n", d->name);
	info_guid_str(d->guid, buf, sizeof(buf));
	kv(f, 2, "node_guid", "%s", buf);
	kv(f, 2, "transport", "%s (node type: %s)",
	   info_transport_str(d->transport), ibv_node_type_str(d->node_type));
	if (d->attr_ok) {
		kv(f, 2, "fw_ver", "%s", a->fw_ver[0] ? a->fw_ver : "(none)");
		kv(f, 2, "phys_port_cnt", "%u", a->phys_port_cnt);
	}
	if (d->max_inline >= 0)
		kv(f, 2, "max_inline_data", "%" PRId64 " (RC QP asking for %u)",
		   d->max_inline, d->inline_asked);
	else if (d->opened)
		kv(f, 2, "max_inline_data", "unknown");
	if (d->attr_ok) {
		flags(f, 2, "odp", d->attr.odp_caps.general_caps,
		      info_odp_general);
		flags(f, 2, "odp_rc", info_odp_rc_caps(d), info_odp_rc);
		kv(f, 2, "rcache", "%s", d->rcache_why);
		kv(f, 2, "atomic_cap", "%s (%d)", info_atomic_str(a->atomic_cap),
		   a->atomic_cap);
		n = info_dev_limits(d, lim);
		for (i = 0; i < n; i++) {
			bytes(buf, sizeof(buf), lim[i].value);
			kv(f, 2, lim[i].name, "%s", buf);
		}
	}
	for (p = 0; p < d->nports; p++)
		if (d->ports[p].ok)
			port(f, d, &d->ports[p]);
	errors(f, 2, &d->errs);
	fputc('\n', f);
}

static void uffd_way(char *buf, size_t n, const char *what, int err)
{
	if (err)
		snprintf(buf, n, "%s no (%s)", what, strerror(err));
	else
		snprintf(buf, n, "%s yes", what);
}

/* The library's answer (rcache.c). */
static void monitor(FILE *f, const struct info_monitor *m)
{
	const char *key = "rmx uffd monitor";

	if (!m->asked)
		kv(f, 2, key, "unknown (no rmx context could be opened to ask)");
	else if (!m->status)
		kv(f, 2, key, "usable (an rmx context on %s started it%s)",
		   m->dev, m->forced ? ", with RMX_RCACHE_MONITOR=uffd" : "");
	else
		kv(f, 2, key, "not usable: %s (an rmx context on %s, with RMX_RCACHE_MONITOR=uffd)",
		   rmx_strerror(m->status), m->dev);
}

static void host(FILE *f, const struct info_report *r)
{
	const struct info_host *h = &r->host;
	const struct info_uffd *u = &h->uffd;
	char a[128], b[128], c[128];

	fprintf(f, "host\n");
	uffd_way(a, sizeof(a), "user-mode-only", u->user_mode_only);
	uffd_way(b, sizeof(b), "all modes", u->all_modes);
	uffd_way(c, sizeof(c), "/dev/userfaultfd", u->dev);
	kv(f, 2, "userfaultfd", "%s, %s, %s", a, b, c);
	if (u->api) {
		kv(f, 2, "uffd features", "unknown (%s)",
		   u->api == ENODEV ? "no userfaultfd" : strerror(u->api));
	} else {
		kv(f, 2, "uffd features",
		   "write-protect %s, unmap/remove/remap events %s",
		   info_uffd_wp(u) ? "yes" : "no",
		   info_uffd_events(u) ? "yes" : "no");
	}
	monitor(f, &r->monitor);
	if (u->unprivileged >= 0)
		kv(f, 2, "vm.unprivileged_userfaultfd", "%d", u->unprivileged);
	else
		kv(f, 2, "vm.unprivileged_userfaultfd", "unreadable");
	if (h->memlock_err) {
		kv(f, 2, "memlock", "unknown (%s)", strerror(h->memlock_err));
	} else {
		if (h->memlock.rlim_cur == RLIM_INFINITY)
			snprintf(a, sizeof(a), "unlimited");
		else
			bytes(a, sizeof(a), h->memlock.rlim_cur);
		if (h->memlock.rlim_max == RLIM_INFINITY)
			snprintf(b, sizeof(b), "unlimited");
		else
			bytes(b, sizeof(b), h->memlock.rlim_max);
		kv(f, 2, "memlock", "soft %s, hard %s", a, b);
	}
	kv(f, 2, "rmx version", "%s", r->version);
	fputc('\n', f);
}

/* A table sized to its contents; only an overlong value spills over. */
static void knobs(FILE *f, const struct info_report *r)
{
	int wn = 4, wd = 7, wv = 9, len;
	char buf[256];
	size_t i;

	for (i = 0; i < r->nknobs; i++) {
		const struct rmx_knob *k = &r->knobs[i];

		len = (int)strlen(k->name);
		wn = len > wn ? len : wn;
		len = k->def[0] ? (int)strlen(k->def) : 2;
		wd = len > wd ? len : wd;
		len = k->value ? (int)strlen(esc(k->value, buf, sizeof(buf))) :
				 0;
		wv = len > wv && len <= 24 ? len : wv;
	}
	fprintf(f, "knobs (RMX_* environment, see rmx(7))\n");
	fprintf(f, "  %-*s %-*s %-*s %s\n", wn, "NAME", wd, "DEFAULT", wv,
		"CURRENT", "HELP");
	for (i = 0; i < r->nknobs; i++) {
		const struct rmx_knob *k = &r->knobs[i];

		fprintf(f, "  %-*s %-*s %-*s %s\n", wn, k->name, wd,
			k->def[0] ? k->def : "\"\"", wv,
			k->value ? esc(k->value, buf, sizeof(buf)) :
				   "(default)",
			k->help);
	}
}

int info_print_text(FILE *f, const struct info_report *r)
{
	size_t i;

	if (!r->nfound)
		fprintf(f, "no RDMA devices\n\n");
	else if (!r->ndevs)
		fprintf(f, "no RDMA device named %s\n\n", r->only);
	for (i = 0; i < r->ndevs; i++)
		device(f, r, &r->devs[i]);
	host(f, r);
	knobs(f, r);
	if (r->errs.n) {
		fputc('\n', f);
		errors(f, 0, &r->errs);
	}
	fflush(f);
	return ferror(f) ? -EIO : 0;
}
