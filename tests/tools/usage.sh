#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# tests/tools/usage.sh: a bad option value, in every tool that takes
# numbers, exits with the usage status (2) and one line that names the
# option, the value and what the option takes, then the hint to -h.
# Needs no device: the tools stop before opening one.
#
# Usage: tests/tools/usage.sh TOOLS_DIR   (the directory holding rmx-*)
set -uo pipefail

dir=${1:?usage: tests/tools/usage.sh TOOLS_DIR}
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
fail=0

# check TOOL 'EXPECTED LINE' ARGS...: status 2, that line, then the hint.
check() {
	local tool=$1 want=$2 rc
	shift 2

	"$dir/$tool" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if ((rc != 2)); then
		echo "FAIL: $tool $*: exit $rc, not 2" >&2
		fail=1
	elif [[ $(head -n1 "$tmp/err") != "$tool: $want" ]]; then
		echo "FAIL: $tool $*: said \"$(head -n1 "$tmp/err")\", not \"$tool: $want\"" >&2
		fail=1
	elif [[ $(sed -n 2p "$tmp/err") != "Try '$tool -h' for the options." ]]; then
		echo "FAIL: $tool $*: no hint to -h after the message" >&2
		fail=1
	else
		echo "ok: $tool $*"
	fi
}

sizes="with an optional K, M or G suffix"
check rmx-perf "invalid size '1X' for -s: not a number; give a whole number from 1 to 1G bytes, $sizes" \
	-t put_lat -s 1X 192.0.2.1
check rmx-perf "invalid size '0' for -s: too small; give a whole number from 1 to 1G bytes, $sizes" \
	-t put_lat -s 0 192.0.2.1
check rmx-perf "invalid size '2G' for -s: too large; give a whole number from 1 to 1G bytes, $sizes" \
	-t put_lat -s 2G 192.0.2.1
check rmx-perf "invalid iteration count '-5' for -n: too small; give a whole number from 1 to 1000000000" \
	-t put_lat -n -5 192.0.2.1
check rmx-perf "invalid duration '0' for -D: too small; give seconds, more than 0 and at most 86400" \
	-t put_bw -D 0 192.0.2.1
check rmx-perf "invalid duration '1s' for -D: not a number; give seconds, more than 0 and at most 86400" \
	-t put_bw -D 1s 192.0.2.1
check rmx-perf "invalid tx depth '1025' for -q: too large; give a whole number from 1 to 1024 operations" \
	-t put_bw -q 1025 192.0.2.1
check rmx-perf "invalid port '99999999999999999999' for -p: too large; give a whole number from 1 to 65535" \
	-p 99999999999999999999
check rmx-perf "invalid GID index '300' for -x: too large; give a whole number from 0 to 255" \
	-t put_lat -x 300 192.0.2.1
check rmx-perf "invalid test 'nosuch' for -t: give one of put_lat, get_lat, send_lat, rpc_lat, put_bw, get_bw, send_bw, rpc_rate" \
	-t nosuch

check rmx-ping "invalid size '10' for -S: too small; give a whole number from 23 to 65535 bytes" \
	-c -a 192.0.2.1 -S 10
check rmx-ping "invalid size '100000000' for -S: too large; give a whole number from 1 to 67108864 bytes" \
	--rmx -c -a 192.0.2.1 -S 100000000
check rmx-ping "invalid port '0' for -p: too small; give a whole number from 1 to 65535" \
	-s -p 0
check rmx-ping "invalid count ' 3' for -C: not a number; give a whole number from 0 to 2147483647" \
	-c -a 192.0.2.1 -C ' 3'
check rmx-ping "invalid timeout '0' for --timeout: too small; give a whole number from 1 to 3600000 ms" \
	-s --timeout 0

check rmx-demo "invalid count 'five' for -n: not a number; give a whole number from 1 to 2147483647 messages" \
	-n five
check rmx-demo "invalid count '0' for -n: too small; give a whole number from 1 to 2147483647 messages" \
	-n 0

((fail)) && { echo "usage.sh: FAILED" >&2; exit 1; }
echo "usage.sh: all passed"
