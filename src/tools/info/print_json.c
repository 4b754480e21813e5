// SPDX-License-Identifier: BSD-2-Clause
/*
 * rmx-info --json: the report as one JSON object (RFC 8259), for
 * programs. Strings are escaped and any byte that is not valid UTF-8
 * becomes U+FFFD, so that the output parses whatever the environment holds.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "report.h"

/* The report nests 5 deep at most. */
#define JW_MAX_DEPTH 8

struct jw {
	FILE *f;
	int depth;
	bool first[JW_MAX_DEPTH];	/* nothing written yet at this depth */
};

/* Bytes of the valid UTF-8 sequence at s, or 0. */
static size_t utf8_len(const unsigned char *s)
{
	uint32_t cp;
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	/* A NUL fails the continuation test: no reading past the end. */
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and beyond U+10FFFF. */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static void jw_string(struct jw *w, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n;

	fputc('"', w->f);
	while (*s) {
		switch (*s) {
		case '"':
			fputs("\\\"", w->f);
			break;
		case '\\':
			fputs("\\\\", w->f);
			break;
		case '\n':
			fputs("\\n", w->f);
			break;
		case '\t':
			fputs("\\t", w->f);
			break;
		default:
			if (*s < 0x20) {
				fprintf(w->f, "\\u%04x", *s);
				break;
			}
			n = utf8_len(s);
			if (!n) {
				fputs("\\ufffd", w->f);
				break;
			}
			fwrite(s, 1, n, w->f);
			s += n - 1;
		}
		s++;
	}
	fputc('"', w->f);
}

/* The comma, newline and indent before a value, then its key if any. */
static void jw_item(struct jw *w, const char *key)
{
	if (w->depth) {
		fputs(w->first[w->depth] ? "\n" : ",\n", w->f);
		w->first[w->depth] = false;
		fprintf(w->f, "%*s", 2 * w->depth, "");
	}
	if (key) {
		jw_string(w, key);
		fputs(": ", w->f);
	}
}

static void jw_open(struct jw *w, const char *key, char c)
{
	jw_item(w, key);
	fputc(c, w->f);
	w->first[++w->depth] = true;
}

static void jw_close(struct jw *w, char c)
{
	bool empty = w->first[w->depth];

	w->depth--;
	if (!empty)
		fprintf(w->f, "\n%*s", 2 * w->depth, "");
	fputc(c, w->f);
}

static void jw_str(struct jw *w, const char *key, const char *s)
{
	jw_item(w, key);
	if (s)
		jw_string(w, s);
	else
		fputs("null", w->f);
}

static void jw_u64(struct jw *w, const char *key, uint64_t v)
{
	jw_item(w, key);
	fprintf(w->f, "%" PRIu64, v);
}

static void jw_i64(struct jw *w, const char *key, int64_t v)
{
	jw_item(w, key);
	fprintf(w->f, "%" PRId64, v);
}

static void jw_bool(struct jw *w, const char *key, bool v)
{
	jw_item(w, key);
	fputs(v ? "true" : "false", w->f);
}

static void jw_null(struct jw *w, const char *key)
{
	jw_item(w, key);
	fputs("null", w->f);
}

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

	snprintf(guid, sizeof(guid), "%04x:%04x:%04x:%04x",
		 (unsigned)(d->guid >> 48) & 0xffff,
		 (unsigned)(d->guid >> 32) & 0xffff,
		 (unsigned)(d->guid >> 16) & 0xffff,
		 (unsigned)d->guid & 0xffff);
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
		flags(w, "rc",
		      d->attr.odp_caps.general_caps & IBV_ODP_SUPPORT ?
			      d->attr.odp_caps.per_transport_caps.rc_odp_caps :
			      0,
		      info_odp_rc);
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
	jw_bool(w, "rmx_monitor", info_uffd_monitor_ok(u));
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
