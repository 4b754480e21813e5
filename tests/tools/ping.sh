#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# tests/tools/ping.sh: rmx-ping against rdma-core's rping in both
# directions, a persistent server, the --rmx mode, and failures.
#
# Usage: tests/tools/ping.sh TOOLS_DIR   (the directory holding rmx-ping)
#
# Needs an RDMA device with address $RMX_PING_ADDR (default 192.0.2.1, the
# lab's), and rping (rdmacm-utils):
#     ci/rxe-lab -- tests/tools/ping.sh build/src/tools
# Without a device only the usage checks run; if they pass it exits 77
# (ctest: skipped), or 0 with RMX_TEST_DEVICE_OPTIONAL=1 (the native unit
# test, whose claim is the usage checks). Every process started is
# bounded by a watchdog and killed on exit. Exits non-zero on any failure.
#
# Matching uses bash builtins: under the lab's TCG each exec costs a good
# fraction of a second.
# pass only prints, so "CHECK && pass ... || flunk ..." is an if/else here.
# shellcheck disable=SC2015
set -uo pipefail

dir=${1:?usage: tests/tools/ping.sh TOOLS_DIR}
ping=$dir/rmx-ping
addr=${RMX_PING_ADDR:-192.0.2.1}
[[ -x $ping ]] || { echo "ping.sh: $ping not found" >&2; exit 2; }
tmp=$(mktemp -d) || exit 2
pids=()
dogs=()

# shellcheck disable=SC2317 # run from the EXIT trap
cleanup() {
	local p
	for p in "${pids[@]}" "${dogs[@]}"; do
		kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

fail=0
pass() { echo "ok: $*"; }
flunk() {
	echo "FAIL: $*" >&2
	fail=1
}

now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }

# show NAME: a failed step's output, for the log.
show() {
	local f
	for f in "$tmp/$1.out" "$tmp/$1.err"; do
		[[ -s $f ]] && sed -n '1,5p;$p' "$f" | sed "s|^|    $1: |" >&2
	done
}

# start NAME LIMIT CMD...: CMD in the background (output in $tmp/NAME.*),
# killed after LIMIT seconds; its pid in BG.
start() {
	local name=$1 limit=$2
	shift 2
	"$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	BG=$!
	pids+=("$BG")
	{ sleep "$limit"; kill -9 "$BG"; } >/dev/null 2>&1 &
	dogs+=($!)
	disown $!	# no "Killed" notices when cleanup ends it
}

# run NAME LIMIT CMD...: CMD in the foreground; status in RC (137 if the
# watchdog had to kill it), milliseconds taken in MS.
run() {
	local t0
	t0=$(now_ms)
	start "$@"
	finish "$BG"
	MS=$(($(now_ms) - t0))
}

# finish PID: waits for a background process; status in RC. (Quietly:
# bash tells of processes killed by a signal as it reaps them.)
finish() {
	wait "$1" 2>/dev/null
	RC=$?
}

# listening PORT: waits (up to 10 s) for a connection manager listener.
listening() {
	local i out line
	if ! command -v rdma >/dev/null; then
		sleep 2
		return 0
	fi
	for ((i = 0; i < 50; i++)); do
		out=$(rdma res show cm_id 2>/dev/null)
		while IFS= read -r line; do
			[[ $line == *"state LISTEN"*":$1 "* ]] && return 0
		done <<<"$out"
		sleep 0.2
	done
	flunk "no listener on port $1"
	return 1
}

# count RE FILE: number of lines matching RE, in N.
count() {
	local line
	N=0
	while IFS= read -r line; do
		[[ $line =~ $1 ]] && N=$((N + 1))
	done <"$2"
}

# until_line RE FILE SECS: waits for a line matching RE in FILE. Stops at
# the first match: a pinging client's output grows fast, and reading all
# of it line by line over the lab's 9p root took longer than the client's
# whole run, which then ended (status 0) before the test could kill its
# server.
until_line() {
	local i
	for ((i = 0; i < $3 * 5; i++)); do
		grep -qE -m1 -- "$1" "$2" 2>/dev/null && return 0
		sleep 0.2
	done
	return 1
}

# ---- usage errors: no device needed -----------------------------------

run u_none 10 "$ping"
[[ $RC == 2 ]] && pass "no -s/-c: status 2" || flunk "no -s/-c: status $RC, expected 2"
run u_size 10 "$ping" -c -a "$addr" -S 10
count 'invalid size' "$tmp/u_size.err"
[[ $RC == 2 && $N == 1 ]] && pass "-S 10: status 2, says why" ||
	flunk "-S 10: status $RC, expected 2 with \"invalid size\""
run u_addr 10 "$ping" -c
[[ $RC == 2 ]] && pass "client without -a: status 2" || flunk "client without -a: status $RC"
run u_both 10 "$ping" -s -c
[[ $RC == 2 ]] && pass "-s with -c: status 2" || flunk "-s with -c: status $RC"

devs=(/sys/class/infiniband/*)
if [[ ! -e ${devs[0]} ]]; then
	((fail)) && exit 1
	if [[ ${RMX_TEST_DEVICE_OPTIONAL:-} == 1 ]]; then
		echo "ping.sh: usage checks passed; no RDMA device, and none needed here"
		exit 0
	fi
	echo "SKIP: no RDMA device: only the usage checks ran (run under ci/rxe-lab for the rest)"
	exit 77
fi
command -v rping >/dev/null || { flunk "rping not found (package rdmacm-utils)"; exit 1; }

# ---- 1. rmx-ping server, rping client ---------------------------------

start s1 60 "$ping" -s -a "$addr" -p 7181 -v
s1=$BG
if listening 7181; then
	run c1 60 rping -c -a "$addr" -p 7181 -V -C 10 -S 100
	[[ $RC == 0 ]] && pass "rping -c -V -C 10 -S 100 against rmx-ping -s" ||
		{ flunk "rping client: status $RC"; show c1; }
	finish "$s1"
	count '^server ping data: rdma-ping-[0-9]+: ' "$tmp/s1.out"
	[[ $RC == 0 && $N == 10 ]] && pass "rmx-ping server: status 0, 10 pings read" ||
		{ flunk "rmx-ping server: status $RC, $N pings read"; show s1; }
fi

# ---- 2. rping server, rmx-ping client (bound with -I); 3. -v output -----

start s2 60 rping -s -a "$addr" -p 7182 -V
s2=$BG
if listening 7182; then
	run c2 60 "$ping" -c -a "$addr" -I "$addr" -p 7182 -V -v -C 10
	[[ $RC == 0 ]] && pass "rmx-ping -c -V -C 10 against rping -s" ||
		{ flunk "rmx-ping client: status $RC"; show c2; }
	finish "$s2"
	[[ $RC == 0 ]] && pass "rping server: status 0" || { flunk "rping server: status $RC"; show s2; }
	# rping's -v line: the ping's number, then 'A'..'z' (with [\]^_`),
	# starting one further each ping.
	data_re='^ping data: rdma-ping-[0-9]+: []A-Za-z[\^_`]+$'
	count "$data_re" "$tmp/c2.out"
	n=$N
	count '^ping data: rdma-ping-9: JKLMNOPQRSTUVWXYZ' "$tmp/c2.out"
	[[ $n == 10 && $N == 1 ]] && pass "-v: 10 \"ping data: rdma-ping-N: ...\" lines as rping's" ||
		{ flunk "-v: $n well-formed lines (10 expected), ping 9's $N"; show c2; }
fi

# ---- 4. persistent server: two clients in a row, then two at once ------

start s4 90 "$ping" -s -P -p 7184
s4=$BG
if listening 7184; then
	run c4a 60 rping -c -a "$addr" -p 7184 -V -C 5
	[[ $RC == 0 ]] && pass "-P: first client (rping)" || { flunk "-P: first client: status $RC"; show c4a; }
	run c4b 60 "$ping" -c -a "$addr" -p 7184 -V -C 5
	[[ $RC == 0 ]] && pass "-P: second client (rmx-ping)" || { flunk "-P: second client: status $RC"; show c4b; }
	start c4c 60 rping -c -a "$addr" -p 7184 -V -C 20
	c4c=$BG
	run c4d 60 "$ping" -c -a "$addr" -p 7184 -V -C 20
	rc_d=$RC
	finish "$c4c"
	[[ $RC == 0 && $rc_d == 0 ]] && pass "-P: two clients at once" ||
		{ flunk "-P: two at once: status $RC and $rc_d"; show c4c; show c4d; }
	if kill -0 "$s4" 2>/dev/null; then
		kill -TERM "$s4"
		finish "$s4"
		[[ $RC == 0 ]] && pass "-P: still serving, SIGTERM ends it with status 0" ||
			{ flunk "-P server: status $RC after SIGTERM"; show s4; }
	else
		finish "$s4"
		flunk "-P server exited by itself (status $RC)"
		show s4
	fi
fi

# ---- 5. --rmx: eager and rendezvous, with round-trip times -------------

start s5 90 "$ping" --rmx -s -P -p 7185
s5=$BG
if listening 7185; then
	run c5a 60 "$ping" --rmx -c -a "$addr" -p 7185 -V -C 5 -S 64
	count '^64 bytes from [^ ]+: seq=[0-9]+ time=[0-9.]+ ms$' "$tmp/c5a.out"
	n=$N
	count '^rtt min/avg/max/mdev = [0-9.]+/[0-9.]+/[0-9.]+/[0-9.]+ ms$' "$tmp/c5a.out"
	[[ $RC == 0 && $n == 5 && $N == 1 ]] && pass "--rmx -S 64 -V: 5 RTT lines and a summary" ||
		{ flunk "--rmx -S 64: status $RC, $n RTT lines, $N summaries"; show c5a; }
	run c5b 90 "$ping" --rmx -c -a "$addr" -p 7185 -V -C 3 -S 1048576
	count '^1048576 bytes from [^ ]+: seq=[0-9]+ time=[0-9.]+ ms$' "$tmp/c5b.out"
	n=$N
	count 'rendezvous' "$tmp/c5b.out"
	[[ $RC == 0 && $n == 3 && $N == 1 ]] && pass "--rmx -S 1MiB -V: rendezvous, 3 RTT lines" ||
		{ flunk "--rmx -S 1MiB: status $RC, $n RTT lines, rendezvous $N"; show c5b; }
	# -I as rping's: the banner names where from, and the device.
	run c5c 60 "$ping" --rmx -c -a "$addr" -I "$addr" -p 7185 -C 1
	count "^RMX-PING $addr:7185 from $addr:[0-9]+ on rxe0: " "$tmp/c5c.out"
	[[ $RC == 0 && $N == 1 ]] && pass "--rmx -I $addr: connected from there" ||
		{ flunk "--rmx -I: status $RC, $N banners naming the source"; show c5c; }
	run c5d 30 "$ping" --rmx -c -a "$addr" -I 127.0.0.1 -p 7185 -C 1
	count 'is not on an RDMA device' "$tmp/c5d.err"
	[[ $RC == 1 && $N == 1 ]] && pass "--rmx -I 127.0.0.1: status 1, one line says why" ||
		{ flunk "--rmx -I 127.0.0.1: status $RC, $N lines saying why"; show c5d; }
	kill -TERM "$s5"
	finish "$s5"
	[[ $RC == 0 ]] && pass "--rmx -P server: status 0 after SIGTERM" ||
		{ flunk "--rmx server: status $RC"; show s5; }
fi

# ---- 6. no server: quick failure --------------------------------------

run c6 30 "$ping" -c -a "$addr" -p 7186 -C 3
[[ $RC == 1 ]] && ((MS < 5000)) && pass "no server: status 1 in $MS ms" ||
	{ flunk "no server: status $RC after $MS ms"; show c6; }
run c6r 30 "$ping" --rmx -c -a "$addr" -p 7186 -C 3
[[ $RC == 1 ]] && ((MS < 5000)) && pass "--rmx, no server: status 1 in $MS ms" ||
	{ flunk "--rmx, no server: status $RC after $MS ms"; show c6r; }

# No RDMA device behind the address: one line names the fix.
run c6l 30 "$ping" --rmx -c -a 127.0.0.1 -p 7186 -C 1
count 'is not on an RDMA device' "$tmp/c6l.err"
[[ $RC == 1 && $N == 1 ]] && pass "--rmx to 127.0.0.1: status 1, one line says why" ||
	{ flunk "--rmx to 127.0.0.1: status $RC, $N lines saying why"; show c6l; }

# ---- 7. the server killed -9 mid-run ----------------------------------

# killed NAME PORT SERVER... -- CLIENT...: the client must fail within 10 s.
killed() {
	local name=$1 port=$2 s c t0 srv=()
	shift 2
	while [[ $1 != -- ]]; do srv+=("$1"); shift; done
	shift
	start "${name}_s" 90 "${srv[@]}" -p "$port"
	s=$BG
	listening "$port" || return
	start "$name" 90 "$@" -p "$port" -C 100000
	c=$BG
	if ! until_line "$cli_re" "$tmp/$name.out" 20; then
		flunk "$name: no pings before the kill"
		show "$name"
		return
	fi
	kill -9 "$s"
	t0=$(now_ms)
	finish "$c"
	MS=$(($(now_ms) - t0))
	wait "$s" 2>/dev/null
	[[ $RC == 1 ]] && ((MS < 10000)) && pass "$name: client failed (status 1) $MS ms after the kill" ||
		{ flunk "$name: client status $RC, $MS ms after the kill"; show "$name"; }
}

cli_re='^ping data: rdma-ping-'
killed k_rmx 7187 "$ping" -s -- "$ping" -c -a "$addr" -v
killed k_rping 7188 rping -s -- "$ping" -c -a "$addr" -v
cli_re=' bytes from '
killed k_native 7189 "$ping" --rmx -s -- "$ping" --rmx -c -a "$addr"

if ((fail)); then
	echo "ping.sh: FAILED"
else
	echo "ping.sh: all passed"
fi
exit "$fail"
