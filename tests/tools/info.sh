#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# tests/tools/info.sh: checks rmx-info's report, text and JSON.
#
# Usage: tests/tools/info.sh TOOLS_DIR   (the directory holding rmx-info)
#
# Where rxe0 exists (ci/rxe-lab -- tests/tools/info.sh build/src/tools) it
# checks rxe0 in full; where there is no RDMA device, the no-device path;
# on a host with other devices, only what holds everywhere. Exits non-zero
# on any failure, else 77 (ctest: skipped) if a check could not run here:
# --json's without python3, or rxe0's where it is absent, unless
# RMX_TEST_DEVICE_OPTIONAL=1 (the native unit test, whose claim is what
# holds without rxe0).
#
# Matching is done with bash builtins: under the lab's TCG each exec costs
# a good fraction of a second.
# pass only prints, so "CHECK && pass ... || flunk ..." is an if/else here.
# shellcheck disable=SC2015
set -uo pipefail

dir=${1:?usage: tests/tools/info.sh TOOLS_DIR}
info=$dir/rmx-info
[[ -x $info ]] || { echo "info.sh: $info not found" >&2; exit 2; }
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT

fail=0
skipped=0
pass() { echo "ok: $*"; }
flunk() { echo "FAIL: $*" >&2; fail=1; }
skip() { echo "SKIP: $*"; skipped=1; }

# match RE FILE: the first line matching RE, groups in M.
match() {
	local re=$1 line
	while IFS= read -r line; do
		if [[ $line =~ $re ]]; then
			M=("${BASH_REMATCH[@]}")
			return 0
		fi
	done <"$2"
	return 1
}

expect() {	# expect DESC RE FILE
	if match "$2" "$3"; then pass "$1"; else flunk "$1 (no line matching /$2/ in $3)"; fi
}

# run NAME [ENV=VAL...] -- ARGS: rmx-info's output in $tmp/NAME, status in RC.
run() {
	local name=$1 envs=()
	shift
	while [[ $1 != -- ]]; do envs+=("$1"); shift; done
	shift
	# The lab passes the caller's RMX_* on: the defaults must show.
	env -u RMX_EAGER_MAX -u RMX_RCACHE_MONITOR "${envs[@]}" "$info" "$@" >"$tmp/$name" \
		2>"$tmp/$name.err"
	RC=$?
}

run text -- ; rc_text=$RC
run env RMX_EAGER_MAX=4096 -- ; rc_env=$RC
run json -- --json ; rc_json=$RC
run nosuch -- -d nosuch0 ; rc_nosuch=$RC
run badopt -- --no-such-option ; rc_badopt=$RC

if match '^device (.*)$' "$tmp/text"; then
	if [[ -e /sys/class/infiniband/rxe0 ]]; then
		mode=rxe
	else
		mode=other
	fi
else
	mode=none
fi
echo "mode: $mode"

# ---- common to every host
((rc_text == 0)) && pass "exit status 0" || flunk "exit status $rc_text (stderr: $(<"$tmp/text.err"))"
((rc_env == 0 && rc_json == 0)) && pass "exit status 0 with the environment and --json" ||
	flunk "exit status $rc_env (environment), $rc_json (--json)"
expect "userfaultfd line" '^  userfaultfd: +user-mode-only (yes|no)' "$tmp/text"
expect "memlock line" '^  memlock: +(soft (unlimited|[0-9]+)|unknown)' "$tmp/text"
expect "library version" '^  rmx version: +[0-9]+\.[0-9]+\.[0-9]+$' "$tmp/text"
expect "RMX_EAGER_MAX default 16384, current (default)" \
	'^  RMX_EAGER_MAX +16384 +\(default\) ' "$tmp/text"
expect "RMX_EAGER_MAX=4096 shown as current" \
	'^  RMX_EAGER_MAX +16384 +4096 ' "$tmp/env"
((rc_nosuch == 1)) && pass "-d nosuch0 exits 1" || flunk "-d nosuch0 exited $rc_nosuch"
expect "-d nosuch0 says so" 'no RDMA device named nosuch0' "$tmp/nosuch.err"
((rc_badopt == 1)) && pass "a bad option exits 1" || flunk "a bad option exited $rc_badopt"
expect "a bad option prints the usage" '^usage: rmx-info' "$tmp/badopt.err"

case $mode in
none)
	expect "no-device path says so" '^no RDMA devices$' "$tmp/text"
	# The library starts its monitor only in a context: no one to ask.
	expect "uffd monitor unknown without a device" \
		'^  rmx uffd monitor: +unknown \(no rmx context could be opened to ask\)$' "$tmp/text"
	[[ ${RMX_TEST_DEVICE_OPTIONAL:-} == 1 ]] ||
		skip "rxe0's report: no RDMA device here (ci/rxe-lab has rxe0)"
	;;
other)
	[[ ${RMX_TEST_DEVICE_OPTIONAL:-} == 1 ]] ||
		skip "rxe0's report: devices, but no rxe0 (ci/rxe-lab has rxe0)"
	;;
rxe)
	run one -- -d rxe0 ; rc_one=$RC
	((rc_one == 0)) && pass "-d rxe0 exits 0" || flunk "-d rxe0 exited $rc_one"
	expect "-d rxe0 shows rxe0" '^device rxe0$' "$tmp/one"
	# Only rxe0's section, from its header to the blank line after it.
	sed -n '/^device rxe0$/,/^$/p' "$tmp/text" >"$tmp/rxe0"
	expect "port 1" '^  port 1:$' "$tmp/rxe0"
	expect "PORT_ACTIVE" '^    state: +PORT_ACTIVE \(4\)$' "$tmp/rxe0"
	if match '^    active_mtu: +([0-9]+) ' "$tmp/rxe0" && ((M[1] >= 256)); then
		pass "active MTU ${M[1]}"
	else
		flunk "no active MTU"
	fi
	expect "max MTU" '^    max_mtu: +[0-9]+ ' "$tmp/rxe0"
	expect "link layer Ethernet" '^    link_layer: +Ethernet$' "$tmp/rxe0"
	expect "RoCEv2 GID of 192.0.2.1" \
		'^    GID\[[0-9]+\]: +RoCEv2 +::ffff:192\.0\.2\.1( |$)' "$tmp/rxe0"
	if match '^  max_inline_data: +([0-9]+) ' "$tmp/rxe0" && ((M[1] > 0)); then
		pass "max_inline_data ${M[1]}"
	else
		flunk "max_inline_data missing or 0"
	fi
	expect "ODP line" '^  odp: +' "$tmp/rxe0"
	expect "ODP RC line" '^  odp_rc: +' "$tmp/rxe0"
	# The library's own choice and reason: uffd on rxe, which has no ODP
	# (6.1) or ODP that misplaces data (7.3); RMX_RCACHE_MONITOR shows.
	expect "rcache mode and why" \
		'^  rcache: +uffd: the device( has no on-demand paging|.s on-demand paging failed rmx.s self-test: .* misplaced data)' \
		"$tmp/rxe0"
	run rxe0_uffd RMX_RCACHE_MONITOR=uffd -- -d rxe0
	expect "rcache follows RMX_RCACHE_MONITOR" \
		'^  rcache: +uffd: RMX_RCACHE_MONITOR=uffd$' "$tmp/rxe0_uffd"
	# Whether the monitor starts is the library's answer too: the
	# context that chose it, or with the cache off one made to try it.
	expect "uffd monitor started by rxe0's context" \
		'^  rmx uffd monitor: +usable \(an rmx context on rxe0 started it\)$' "$tmp/one"
	run rxe0_off RMX_RCACHE=0 -- -d rxe0
	expect "rcache off with RMX_RCACHE=0" '^  rcache: +off: RMX_RCACHE=0' "$tmp/rxe0_off"
	expect "uffd monitor tried with RMX_RCACHE_MONITOR=uffd" \
		'^  rmx uffd monitor: +usable \(an rmx context on rxe0 started it, with RMX_RCACHE_MONITOR=uffd\)$' \
		"$tmp/rxe0_off"
	expect "max_qp_wr" '^  max_qp_wr: +[1-9]' "$tmp/rxe0"
	expect "atomic_cap" '^  atomic_cap: +ATOMIC_' "$tmp/rxe0"
	if match '^  error: (.*)' "$tmp/rxe0"; then
		flunk "probe error on rxe0: ${M[1]}"
	else
		pass "no probe errors on rxe0"
	fi
	;;
esac

# ---- JSON: parses, and says what the text said
if command -v python3 >/dev/null; then
	if python3 - "$mode" "$tmp/json" <<'EOF'
import json, sys

mode, path = sys.argv[1], sys.argv[2]
with open(path, encoding="utf-8") as f:
    r = json.load(f)
bad = []
knobs = {k["name"]: k for k in r["knobs"]}
k = knobs.get("RMX_EAGER_MAX")
if not k or k["default"] != "16384" or k["value"] is not None:
    bad.append("RMX_EAGER_MAX: %r" % (k,))
h = r["host"]
u = h["userfaultfd"]
if "user_mode_only" not in u or "memlock" not in h:
    bad.append("host facts missing")
if mode == "none" and r["devices"]:
    bad.append("devices on a host without any")
if mode == "none" and (u["rmx_monitor"] is not None or u["rmx_monitor_device"] is not None):
    bad.append("rmx_monitor without a device: %r" % (u,))
names = [d["name"] for d in r["devices"]]
if mode == "rxe" and (u["rmx_monitor"] is not True or u["rmx_monitor_device"] not in names
                      or u["rmx_monitor_error"] is not None):
    bad.append("rmx_monitor: %r" % (u,))
if mode == "rxe":
    d = [d for d in r["devices"] if d["name"] == "rxe0"]
    if not d:
        bad.append("no rxe0")
    else:
        d = d[0]
        p = d["ports"][0]
        if p["state"] != "PORT_ACTIVE" or p["active_mtu"] < 256:
            bad.append("port: %r" % ({k: p[k] for k in ("state", "active_mtu")},))
        if not any(g["type"] == "RoCEv2" and g["gid"] == "::ffff:192.0.2.1"
                   for g in p["gids"]):
            bad.append("no RoCEv2 GID ::ffff:192.0.2.1: %r" % (p["gids"],))
        if not d["max_inline_data"] or d["max_inline_data"] <= 0:
            bad.append("max_inline_data %r" % (d["max_inline_data"],))
        if d["rcache_mode"] != "uffd" or not d["rcache_why"].startswith("uffd: "):
            bad.append("rcache %r: %r" % (d["rcache_mode"], d["rcache_why"]))
        if d["errors"]:
            bad.append("errors: %r" % (d["errors"],))
for b in bad:
    print("FAIL: json: " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
	then
		pass "--json parses and agrees"
	else
		flunk "--json"
	fi
else
	skip "--json: no python3 to parse it"
fi

if ((fail)); then
	echo "info.sh: FAILED; rmx-info printed:" >&2
	cat "$tmp/text" >&2
	exit 1
fi
if ((skipped)); then
	echo "info.sh: the rest passed ($mode); skipped as said above"
	exit 77
fi
echo "info.sh: all passed ($mode)"
