# SPDX-License-Identifier: BSD-2-Clause
# shellcheck shell=bash
# bench/pairs.sh: sourced by bench/compare and bench/ab. Runs a benchmark's
# server and client on the lab's address and reads perftest-style tables.
# Uses $addr and $port (incremented per pair); shellcheck sees them here.
: "${addr:?}" "${port:?}"

# Runs a server and its client; the client's output lands in $3.
run_pair() {
	local server=$1 client=$2 file=$3 spid rc=0

	port=$((port + 1))
	$server -p "$port" >"$file.server" 2>&1 &
	spid=$!
	sleep 1
	# $client is a command line: its words are meant to split.
	# shellcheck disable=SC2086
	timeout 300 $client -p "$port" "$addr" >"$file" 2>&1 || rc=$?
	if ! timeout 20 tail --pid="$spid" -f /dev/null; then
		kill -9 "$spid" 2>/dev/null || true
	fi
	wait "$spid" 2>/dev/null || true
	if [ "$rc" != 0 ]; then
		echo "${0##*/}: '$client' failed ($rc):" >&2
		tail -5 "$file" >&2
		return 1
	fi
}

# Column $2 of the first data row after the perftest-style header.
figure() {
	awk -v col="$2" '/#bytes/ { hdr = 1; next }
		hdr && $1 ~ /^[0-9]+$/ { print $col; exit }' "$1"
}
