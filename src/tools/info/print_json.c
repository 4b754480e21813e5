// SPDX-License-Identifier: BSD-2-Clause
/*
 * rmx-info --json: the report as one JSON object (RFC 8259), for
 * programs, written with json_writer.h.
 */
#include <errno.h>
#include <string.h>

#include "json_writer.h"
#include "report.h"

static void flags(struct jw *w, const char *key, uint64_t v,
		  const struct info_flag *t)
{
	jw_open(w, key, '[');
	for (; t->name; t++)
		if (v & t->bit)
			jw_str(w, NULL, t->name);
	jw_close(w, ']');
}

static void errors(struct jw *w, const struct info_errs *e)
{
	char more[48];
	int i;

	jw_open(w, "errors", '[');
	for (i = 0; i < e->n; i++)
		jw_str(w, NULL, e->msg[i]);
	if (e->dropped) {
		snprintf(more, sizeof(more), "... and %d more", e->dropped);
		jw_str(w, NULL, more);
	}
	jw_close(w, ']');
}

static void port(struct jw *w, const struct info_dev *d,
		 const struct info_port *p)
{
	const struct ibv_port_attr *a = &p->attr;
	const char *lane;
	double gbps = info_lane_gbps(a->active_speed, &lane);
	int lanes = info_width_lanes(a->active_width);
	size_t i;

	jw_open(w, NULL, '{');
	jw_u64(w, "port", p->num);
	jw_str(w, "state", info_port_state_str(a->state));
	jw_str(w, "phys_state", info_phys_state_str(a->phys_state));
	jw_i64(w, "active_mtu", info_mtu_bytes(a->active_mtu));
	jw_i64(w, "max_mtu", info_mtu_bytes(a->max_mtu));
	jw_str(w, "link_layer", info_link_layer_str(a->link_layer));
	if (gbps > 0 && lanes) {
		jw_open(w, "speed", '{');
		jw_item(w, "gbps");
		fprintf(w->f, "%.1f", gbps * lanes);
		jw_str(w, "lane", lane);
		jw_str(w, "width", info_width_str(a->active_width));
		jw_close(w, '}');
	} else {
		jw_null(w, "speed");
	}
	jw_u64(w, "lid", a->lid);
	jw_i64(w, "gid_tbl_len", a->gid_tbl_len);
	jw_open(w, "gids", '[');
	for (i = 0; i < d->ngids; i++) {
		const struct info_gid *g = &d->gids[i];

		if (g->port != p->num)
			continue;
		jw_open(w, NULL, '{');
		jw_u64(w, "index", g->index);
		jw_str(w, "type", info_gid_type_str(g->type));
		jw_str(w, "gid", g->addr);
		jw_str(w, "netdev", g->ndev[0] ? g->ndev : NULL);
		jw_close(w, '}');
	}
	jw_close(w, ']');
	jw_close(w, '}');
}

static void device(struct jw *w, const struct info_report *r,
		   const struct info_dev *d)
{
	const struct ibv_device_attr *a = &d->attr.orig_attr;
	struct info_limit lim[INFO_MAX_LIMITS];
	char guid[24];
	size_t i, n;
	uint32_t p;

	info_guid_str(d->guid, guid, sizeof(guid));
	jw_open(w, NULL, '{');
	jw_str(w, "name", d->name);
	jw_str(w, "node_guid", guid);
	jw_str(w, "transport", info_transport_str(d->transport));
	jw_str(w, "node_type", ibv_node_type_str(d->node_type));
	jw_str(w, "fw_ver", d->attr_ok ? a->fw_ver : NULL);
	if (d->max_inline >= 0) {
		jw_i64(w, "max_inline_data", d->max_inline);
		jw_u64(w, "max_inline_data_asked", d->inline_asked);
	} else {
		jw_null(w, "max_inline_data");
		jw_null(w, "max_inline_data_asked");
	}
	if (d->attr_ok) {
		jw_open(w, "odp", '{');
		flags(w, "general", d->attr.odp_caps.general_caps,
		      info_odp_general);
		flags(w, "rc", info_odp_rc_caps(d), info_odp_rc);
		jw_close(w, '}');
		jw_str(w, "rcache_mode", info_rcache_mode_str(d->rcache_mode));
		jw_str(w, "rcache_why", d->rcache_why);
		jw_str(w, "atomic_cap", info_atomic_str(a->atomic_cap));
		jw_open(w, "limits", '{');
		n = info_dev_limits(d, lim);
		for (i = 0; i < n; i++)
			jw_u64(w, lim[i].name, lim[i].value);
		jw_close(w, '}');
	} else {
		jw_null(w, "odp");
		jw_null(w, "rcache_mode");
		jw_null(w, "rcache_why");
		jw_null(w, "atomic_cap");
		jw_null(w, "limits");
	}
	jw_open(w, "ports", '[');
	for (p = 0; p < d->nports; p++)
		if (d->ports[p].ok)
			port(w, d, &d->ports[p]);
	jw_close(w, ']');
	errors(w, &d->errs);
	jw_close(w, '}');
}

static void uffd_way(struct jw *w, const char *key, int err)
{
	jw_open(w, key, '{');
	jw_bool(w, "ok", !err);
	jw_str(w, "error", err ? strerror(err) : NULL);
	jw_close(w, '}');
}

static void limit(struct jw *w, const char *key, rlim_t v)
{
	if (v == RLIM_INFINITY)
		jw_str(w, key, "unlimited");
	else
		jw_u64(w, key, (uint64_t)v);
}

/* The library's answer (rcache.c); nulls when none could be had. */
static void monitor(struct jw *w, const struct info_monitor *m)
{
	if (m->asked)
		jw_bool(w, "rmx_monitor", !m->status);
	else
		jw_null(w, "rmx_monitor");
	jw_str(w, "rmx_monitor_device", m->asked ? m->dev : NULL);
	jw_str(w, "rmx_monitor_error",
	       m->status ? rmx_strerror(m->status) : NULL);
}

static void host(struct jw *w, const struct info_report *r)
{
	const struct info_host *h = &r->host;
	const struct info_uffd *u = &h->uffd;

	jw_open(w, "host", '{');
	jw_open(w, "userfaultfd", '{');
	uffd_way(w, "user_mode_only", u->user_mode_only);
	uffd_way(w, "all_modes", u->all_modes);
	uffd_way(w, "dev", u->dev);
	if (u->api) {
		jw_null(w, "features");
		jw_null(w, "write_protect");
		jw_null(w, "events");
	} else {
		jw_u64(w, "features", u->features);
		jw_bool(w, "write_protect", info_uffd_wp(u));
		jw_bool(w, "events", info_uffd_events(u));
	}
	monitor(w, &r->monitor);
	if (u->unprivileged >= 0)
		jw_i64(w, "unprivileged_userfaultfd", u->unprivileged);
	else
		jw_null(w, "unprivileged_userfaultfd");
	jw_close(w, '}');
	if (h->memlock_err) {
		jw_null(w, "memlock");
	} else {
		jw_open(w, "memlock", '{');
		limit(w, "soft", h->memlock.rlim_cur);
		limit(w, "hard", h->memlock.rlim_max);
		jw_close(w, '}');
	}
	jw_str(w, "rmx_version", r->version);
	jw_close(w, '}');
}

static void knobs(struct jw *w, const struct info_report *r)
{
	size_t i;

	jw_open(w, "knobs", '[');
	for (i = 0; i < r->nknobs; i++) {
		const struct rmx_knob *k = &r->knobs[i];

		jw_open(w, NULL, '{');
		jw_str(w, "name", k->name);
		jw_str(w, "default", k->def);
		jw_str(w, "value", k->value);
		jw_str(w, "help", k->help);
		jw_close(w, '}');
	}
	jw_close(w, ']');
}

int info_print_json(FILE *f, const struct info_report *r)
{
	struct jw w = { .f = f };
	size_t i;

	jw_open(&w, NULL, '{');
	jw_open(&w, "devices", '[');
	for (i = 0; i < r->ndevs; i++)
		device(&w, r, &r->devs[i]);
	jw_close(&w, ']');
	host(&w, r);
	knobs(&w, r);
	errors(&w, &r->errs);
	jw_close(&w, '}');
	fputc('\n', f);
	fflush(f);
	return ferror(f) ? -EIO : 0;
}
