#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# tests/tools/perf.sh: rmx-perf end to end, in the rxe lab.
#
# Usage: ci/rxe-lab -- tests/tools/perf.sh TOOLS_DIR   (e.g. build/src/tools)
#
# For each test a server runs in the background and a client against it on
# 192.0.2.1 (RMX_TEST_ADDR overrides): both must exit 0 and the client must
# print perftest's header and one all-numeric row. Then --json lines must
# parse, bad options must exit 2, a mismatched or missing server must fail,
# and a client whose server is killed mid-run must exit non-zero within 10 s.
# Sizes and counts are small: the lab's guest is emulated (~40 us a message).
set -u

tools=${1:?usage: perf.sh TOOLS_DIR}
perf=$tools/rmx-perf
addr=${RMX_TEST_ADDR:-192.0.2.1}
port=$((18515 + RANDOM % 1000))
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rmx-perf-test.XXXXXX") || exit 1
pids=()
failed=0

cleanup() {
	local p

	for p in "${pids[@]}"; do
		kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
	echo "FAIL: $*"
	failed=1
}

[[ -x $perf ]] || { echo "perf.sh: $perf is not an executable" >&2; exit 1; }

LAT_HEADER=' #bytes #iterations    t_min[usec]    t_max[usec]  t_typical[usec]    t_avg[usec]    t_stdev[usec]   99% percentile[usec]   99.9% percentile[usec] '
BW_HEADER=' #bytes     #iterations    BW peak[MB/sec]    BW average[MB/sec]   MsgRate[Mpps]'

# Starts a server (arguments: its options) on a fresh port; sets $srv, $sout.
start_server() {
	local i

	port=$((port + 1))
	sout=$tmp/server.$port
	"$perf" -p "$port" "$@" >"$sout" 2>&1 &
	srv=$!
	pids+=("$srv")
	for ((i = 0; i < 100; i++)); do
		grep -q 'Waiting for client' "$sout" 2>/dev/null && return 0
		kill -0 "$srv" 2>/dev/null || break
		sleep 0.1
	done
	fail "server $* did not start:"
	cat "$sout"
	return 1
}

# Waits up to $2 seconds for pid $1; its exit status, or 124 on timeout.
wait_pid() {
	local i

	for ((i = 0; i < $2 * 10; i++)); do
		if ! kill -0 "$1" 2>/dev/null; then
			wait "$1"
			return
		fi
		sleep 0.1
	done
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 124
}

# The table after the header: exactly one row of $2 numbers.
check_table() {
	local out=$1 ncols=$2 header=$3 rows

	if ! grep -qxF -- "$header" "$out"; then
		echo "no perftest header"
		return 1
	fi
	rows=$(awk -v h="$header" '$0 == h { on = 1; next } /^-+$/ { on = 0 } on' "$out")
	if [[ $(wc -l <<<"$rows") -ne 1 || -z $rows ]]; then
		echo "expected one row, got: $rows"
		return 1
	fi
	if ! grep -qE '^ *[0-9]+(\.[0-9]+)?( +[0-9]+(\.[0-9]+)?)* *$' <<<"$rows" ||
	   [[ $(awk '{ print NF }' <<<"$rows") -ne $ncols ]]; then
		echo "row is not $ncols numbers: $rows"
		return 1
	fi
	echo "$rows"
}

# One client run against a fresh server: test name, then client options.
run_test() {
	local test=$1 cout rc srv_rc row bytes
	shift

	echo "== $test $*"
	start_server -t "$test" || return
	cout=$tmp/client.$port
	timeout 120 "$perf" -t "$test" -p "$port" "$@" "$addr" >"$cout" 2>&1
	rc=$?
	wait_pid "$srv" 20
	srv_rc=$?
	if ((rc != 0 || srv_rc != 0)); then
		fail "$test: client exit $rc, server exit $srv_rc"
		cat "$cout" "$sout"
		return
	fi
	case $test in
	*_lat) row=$(check_table "$cout" 9 "$LAT_HEADER") ;;
	*) row=$(check_table "$cout" 5 "$BW_HEADER") ;;
	esac || { fail "$test: $row"; cat "$cout"; return; }
	echo "   $row"
	bytes=$(awk '{ print $1 }' <<<"$row")
	[[ -z ${want_bytes:-} || $bytes == "$want_bytes" ]] ||
		fail "$test: a row for $bytes bytes, not $want_bytes"
}

# perftest's -x, -F and -R are taken (and left to rdma_cm).
run_test put_lat -s 8 -n 200 -x 1 -F -R
run_test get_lat -s 8 -n 200
run_test send_lat -s 8 -n 200
run_test rpc_lat -s 64K -n 50		# rendezvous both ways
run_test put_bw -s 64K -n 200
run_test get_bw -s 64K -n 200
run_test send_bw -s 1M -n 40 -q 8	# rendezvous
# A message rate: 8 bytes unless -s says otherwise.
want_bytes=8 run_test rpc_rate -n 1000

# --json: nothing but one object per size on stdout, with the figures.
LAT_KEYS="bytes iterations t_min_us t_max_us t_typical_us t_avg_us t_stdev_us t_p99_us t_p999_us"
BW_KEYS="bytes iterations bw_peak_mbps bw_avg_mbps msg_rate_mpps"

# Test name, expected lines, keys, then client options.
json_test() {
	local test=$1 lines=$2 keys=$3 out rc line k
	shift 3

	echo "== $test --json $*"
	start_server -t "$test" || return
	out=$tmp/json.$port
	timeout 120 "$perf" -t "$test" -p "$port" --json "$@" "$addr" >"$out" 2>"$out.err"
	rc=$?
	wait_pid "$srv" 20 || fail "$test --json: server exit $?"
	if ((rc != 0)); then
		fail "$test --json: client exit $rc"
		cat "$out" "$out.err"
		return
	fi
	[[ $(wc -l <"$out") -eq $lines ]] || fail "$test --json: expected $lines lines"
	if command -v python3 >/dev/null; then
		python3 -c '
import json, sys
keys = sys.argv[1].split()
for l in sys.stdin:
    o = json.loads(l)
    missing = [k for k in keys if not isinstance(o.get(k), (int, float))]
    assert not missing, "missing %s in %s" % (missing, l)
    assert o.get("test") == sys.argv[2], l
' "$keys" "$test" <"$out" || fail "$test --json: output does not parse"
	else
		while read -r line; do
			for k in $keys; do
				grep -qE "\"$k\":[0-9.]+" <<<"$line" ||
					fail "$test --json: no $k in $line"
			done
		done <"$out"
	fi
	sed 's/^/   /' "$out"
}

json_test put_lat 1 "$LAT_KEYS" -s 8 -n 100
json_test send_bw 1 "$BW_KEYS" -s 4K -n 100

echo "== bad options exit 2"
for args in "-t nosuch $addr" "-s 0 -t put_lat $addr" "-s 1X -t put_lat $addr" \
	    "-n 0 -t put_lat $addr" "-D 0 -t put_bw $addr" "-q 0 -t put_bw $addr" \
	    "-p 0 -t put_lat $addr" "-a -s 8 -t put_lat $addr" \
	    "-n 5 -D 1 -t put_lat $addr" "--nosuch" "$addr" "-t put_lat a b"; do
	# shellcheck disable=SC2086
	"$perf" $args >"$tmp/bad.out" 2>&1
	rc=$?
	((rc == 2)) || fail "rmx-perf $args: exit $rc, not 2"
	[[ -s $tmp/bad.out ]] || fail "rmx-perf $args: no message"
done

echo "== a server of another test refuses"
if start_server -t put_lat; then
	timeout 30 "$perf" -t get_lat -p "$port" -n 10 "$addr" >"$tmp/mis.out" 2>&1
	rc=$?
	wait_pid "$srv" 20
	srv_rc=$?
	((rc == 1 && srv_rc == 1)) ||
		fail "mismatch: client exit $rc, server exit $srv_rc"
	grep -q 'asked for get_lat' "$sout" || fail "mismatch: server does not say why"
fi

echo "== no server: the client fails"
timeout 30 "$perf" -t put_lat -p "$((port + 1))" -n 10 "$addr" >"$tmp/none.out" 2>&1
rc=$?
((rc == 1)) || { fail "no server: exit $rc"; cat "$tmp/none.out"; }

echo "== server killed mid-run: the client exits non-zero within 10 s"
if start_server -t put_bw; then
	"$perf" -t put_bw -p "$port" -D 30 -s 64K "$addr" >"$tmp/kill.out" 2>&1 &
	cli=$!
	pids+=("$cli")
	sleep 2
	kill -0 "$cli" 2>/dev/null || fail "peer death: the client ended before the kill"
	kill -9 "$srv"
	start=$(date +%s.%N)
	wait_pid "$cli" 10
	rc=$?
	took=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
	if ((rc == 0 || rc == 124)); then
		fail "peer death: client exit $rc after $took s"
		cat "$tmp/kill.out"
	else
		echo "   client exit $rc after $took s: $(grep rmx-perf: "$tmp/kill.out")"
	fi
fi

if ((failed)); then
	echo "perf.sh: FAILED"
	exit 1
fi
echo "perf.sh: all passed"
