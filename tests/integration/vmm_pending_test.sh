#!/bin/bash
# The pending-access rule on the in-kernel path (KVM_SET_IOREGION, inside
# the patched kernel): ioregion-vmm is asked to save (SIGUSR2) while its
# vCPU waits on the testdev of a daemon that is stopped (SIGSTOP), so the
# access is in flight in KVM. While the device stays silent past
# --save-wait the save is refused, no file is written and the guest runs
# on; when the daemon goes on (SIGCONT) within the bound, the save finishes
# the access first. Restored on another daemon, the guest (pending.c)
# finds that the testdev counted each of its reads and writes exactly once.
set -u
build=${TOP_BUILDDIR:?}
vmm=$build/ioregion-vmm
ctl=$build/ioregionctl
guest=$build/tests/guests/pending.bin
wait_ms=4000
tmp=$(mktemp -d /tmp/ioregion-pending-XXXXXX)
pids=
failures=0
trap 'for p in $pids; do kill -CONT "$p" 2>/dev/null; kill -9 "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT

if [ ! -c /dev/kvm ]; then
	echo "SKIP: vmm_pending_test.sh: this machine has no /dev/kvm"
	exit 77
fi

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

# config NAME [go0: yes|no]: vm0's console (logged to NAME.con) and the
# testdev; go0, the guest's signal to finish, only where it may.
config() {
	local go0=
	[ "$2" = yes ] && go0=',
  {"name": "go0", "device": "testdev", "bus": "mmio", "address": "0xd0005000", "size": 4096, "vms": ["vm0"]}'
	cat >"$tmp/$1.json" <<JSON
{ "regions": [
  {"name": "con0", "device": "uart16550", "bus": "pio", "address": "0x3f8", "size": 8,
   "vms": ["vm0"], "options": {"output": "file", "path": "$tmp/$1.con"}},
  {"name": "test0", "device": "testdev", "bus": "mmio", "address": "0xd0002000", "size": 4096, "vms": ["vm0"]}$go0
] }
JSON
}

# start NAME: a daemon on $tmp/NAME.sock, its pid in daemon
start() {
	"$build/ioregiond" -c "$tmp/$1.json" -s "$tmp/$1.sock" 2>>"$tmp/$1.log" &
	daemon=$!
	pids="$pids $!"
	for _ in $(seq 100); do
		"$ctl" -s "$tmp/$1.sock" status >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	fail "daemon $1 did not start: $(cat "$tmp/$1.log")"
	exit 1
}

# wait_for FILE PATTERN [COUNT]: until FILE has COUNT lines matching
wait_for() {
	for _ in $(seq 600); do
		n=$(grep -c "$2" "$1" 2>/dev/null)
		[ "${n:-0}" -ge "${3:-1}" ] && return 0
		kill -0 "$vmm_pid" 2>/dev/null || break
		sleep 0.1
	done
	n=$(grep -c "$2" "$1" 2>/dev/null)
	[ "${n:-0}" -ge "${3:-1}" ]
}

# test0_reads NAME: reads daemon NAME served on test0
test0_reads() {
	"$ctl" -s "$tmp/$1.sock" stats | awk '$2 == "test0" { print $4 }'
}

config a no
config b yes
start a
daemon_a=$daemon
start b
daemon_b=$daemon

"$vmm" -s "$tmp/a.sock" --save "$tmp/vm0.state" --save-wait "$wait_ms" \
	"$guest" 2>"$tmp/save.err" &
vmm_pid=$!
pids="$pids $vmm_pid"
if ! wait_for "$tmp/a.con" "pending: looping"; then
	fail "the guest did not start: $(cat "$tmp/save.err" "$tmp/a.con")"
	exit 1
fi
if ! grep -q "region test0 .*: in-kernel KVM_SET_IOREGION" "$tmp/save.err"; then
	echo "SKIP: vmm_pending_test.sh: test0 is not on the in-kernel path: $(grep 'region test0' "$tmp/save.err")"
	exit 77
fi

# A silent device: the save is refused and the VM runs on.
kill -STOP "$daemon_a"
sleep 0.5
kill -USR2 "$vmm_pid"
if wait_for "$tmp/save.err" "not saving: vcpu 0's .* (region test0) got no answer within $wait_ms ms; the VM runs on" &&
	grep -q "vcpu 0: a .* (region test0) is in flight: completing it before saving" "$tmp/save.err" &&
	[ ! -e "$tmp/vm0.state" ] && [ ! -e "$tmp/vm0.state.tmp" ]; then
	pass "refused while the device is silent: $(grep -o 'not saving.*' "$tmp/save.err")"
else
	fail "save with a silent device: $(cat "$tmp/save.err")"
fi
kill -CONT "$daemon_a"
r1=$(test0_reads a)
sleep 1
r2=$(test0_reads a)
if kill -0 "$vmm_pid" 2>/dev/null && [ -n "$r1" ] && [ -n "$r2" ] && [ "$r2" -gt "$r1" ]; then
	pass "the VM runs on after the refusal (test0 reads $r1, then $r2)"
else
	fail "the VM after the refusal: test0 reads '$r1' then '$r2': $(cat "$tmp/save.err")"
fi

# The device answers within the bound: the save completes the access.
kill -STOP "$daemon_a"
sleep 0.5
kill -USR2 "$vmm_pid"
wait_for "$tmp/save.err" "is in flight: completing it before saving" 2
kill -CONT "$daemon_a"
for _ in $(seq 600); do
	kill -0 "$vmm_pid" 2>/dev/null || break
	sleep 0.1
done
# a save refused again leaves the VM running
kill "$vmm_pid" 2>/dev/null
wait "$vmm_pid"
rc=$?
if [ "$rc" -eq 0 ] && [ -s "$tmp/vm0.state" ] &&
	[ "$(grep -c "is in flight: completing it before saving" "$tmp/save.err")" -eq 2 ] &&
	grep -q "vcpu 0: the .* (region test0) completed" "$tmp/save.err" &&
	grep -q "state saved to $tmp/vm0.state" "$tmp/save.err"; then
	pass "saved once the device answered: $(grep -o 'vcpu 0: the .* completed' "$tmp/save.err")"
else
	fail "save exited $rc: $(cat "$tmp/save.err")"
fi

# On b: go0 is there, so the guest checks its counts once more and ends.
timeout 120 "$vmm" -s "$tmp/b.sock" --restore "$tmp/vm0.state" 2>"$tmp/restore.err"
rc=$?
if [ "$rc" -eq 0 ] && grep -q "every access counted once" "$tmp/b.con"; then
	pass "restored on another daemon: $(grep -o 'pending: go.*' "$tmp/b.con")"
else
	fail "restore on b exited $rc (20: a read of test0 done twice or lost, 21: a write): $(cat "$tmp/restore.err" "$tmp/b.con" 2>/dev/null)"
fi

for p in $daemon_a $daemon_b; do
	kill "$p" && wait "$p" || fail "daemon $p exit status $?"
done
pids=
echo "vmm pending tests: $failures failed"
[ "$failures" -eq 0 ]
