#!/bin/sh
# What the scripts run inside the patched x86_64 kernel share (sourced by
# x86_64-guest.sh and x86_64-bench.sh): TAP-like results and starting and
# stopping ioregiond.
export PATH=/bin LD_LIBRARY_PATH=/lib
sock=/run/ioregiond.sock
failures=0
pass() { echo "ok - $*"; }
fail() { echo "not ok - $*"; failures=$((failures + 1)); }

# start_daemon [SOCKET [LOG [ARG...]]]: ioregiond on SOCKET (default
# $sock) with the options ARG..., its output in LOG (default
# /run/daemon.out), its pid in $daemon; waits until it answers.
start_daemon() {
	ssock=${1:-$sock} slog=${2:-/run/daemon.out}
	shift $(($# < 2 ? $# : 2))
	ioregiond -s "$ssock" "$@" >"$slog" 2>&1 &
	daemon=$!
	for _ in $(seq 100); do
		ioregionctl -s "$ssock" status >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "ioregiond did not start: $(cat "$slog")"
	return 1
}

stop_daemon() {
	kill "$daemon" && wait "$daemon" || fail "ioregiond exit status $?"
}
