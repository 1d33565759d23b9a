#!/bin/bash
# ioregion-vmm --save / --restore on /dev/kvm with the real ioregiond: a
# guest stopped at its save point goes on in a new VMM on another daemon
# (its own socket and config) and finds its memory and every device as it
# left them; a daemon that lacks one of its regions refuses, naming it; the
# same file goes on again on the daemon it came from.
set -u
build=${TOP_BUILDDIR:?}
vmm_args=${KVM_TEST_VMM_ARGS:-}
vmm=$build/ioregion-vmm
ctl=$build/ioregionctl
guest=$build/tests/guests/migrate.bin
tmp=$(mktemp -d /tmp/ioregion-migrate-XXXXXX)
pids=
failures=0
trap 'for p in $pids; do kill -9 "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT

if [ ! -c /dev/kvm ]; then
	echo "SKIP: vmm_migrate_test.sh: this machine has no /dev/kvm (no VMX/SVM)"
	exit 77
fi

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

# config NAME [with test0: yes|no]: vm0's console (logged to NAME.con),
# ram, doorbell and testdev at the tiny guests' addresses.
config() {
	local test0=
	[ "$2" = yes ] && test0=',
  {"name": "test0", "device": "testdev", "bus": "mmio", "address": "0xd0002000", "size": 4096, "vms": ["vm0"]}'
	cat > "$tmp/$1.json" <<JSON
{ "regions": [
  {"name": "con0", "device": "uart16550", "bus": "pio", "address": "0x3f8", "size": 8,
   "vms": ["vm0"], "options": {"output": "file", "path": "$tmp/$1.con"}},
  {"name": "ram0", "device": "ram", "bus": "mmio", "address": "0xd0000000", "size": 4096, "vms": ["vm0"]},
  {"name": "bell0", "device": "doorbell", "bus": "mmio", "address": "0xd0001000", "size": 4096,
   "vms": ["vm0"], "posted_writes": true}$test0
] }
JSON
}

# start NAME: a daemon on $tmp/NAME.sock with $tmp/NAME.json
start() {
	# scripts/check's poll and workers tiers: every test with poll mode
	# on, or on 2 worker threads
	"$build/ioregiond" -c "$tmp/$1.json" -s "$tmp/$1.sock" \
		${IOREGIOND_TEST_POLL_US:+--poll-us="$IOREGIOND_TEST_POLL_US"} \
		${IOREGIOND_TEST_WORKERS:+--workers="$IOREGIOND_TEST_WORKERS"} \
		2>>"$tmp/$1.log" &
	pids="$pids $!"
	for _ in $(seq 100); do
		"$ctl" -s "$tmp/$1.sock" status >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	fail "daemon $1 did not start: $(cat "$tmp/$1.log")"
	exit 1
}

config a yes
config b yes
config c no
start a
start b
start c

# On a: run to the save point, save, quit.
if timeout 60 "$vmm" $vmm_args -s "$tmp/a.sock" --save "$tmp/vm0.state" \
	"$guest" 2>"$tmp/save.err" && [ -s "$tmp/vm0.state" ] &&
	grep -q "state saved to $tmp/vm0.state" "$tmp/save.err"; then
	pass "saved at the guest's save point: $(grep -o 'saved [0-9]* regions[^)]*)' "$tmp/save.err")"
else
	fail "save exited $?: $(cat "$tmp/save.err")"
fi
grep -q "migrate: at the save point" "$tmp/a.con" ||
	fail "the guest did not reach its save point on a: $(cat "$tmp/a.con")"
grep -q "going on" "$tmp/a.con" && fail "the guest went on on a after its save point"

# On b, a daemon of its own: the guest goes on and finds everything.
if timeout 60 "$vmm" $vmm_args -s "$tmp/b.sock" --restore "$tmp/vm0.state" \
	2>"$tmp/restore-b.err"; then
	pass "restored on another daemon: $(grep -o 'restored from.*' "$tmp/restore-b.err")"
else
	fail "restore on b exited $?: $(cat "$tmp/restore-b.err")"
fi
grep -q "migrate: every device and the memory came along" "$tmp/b.con" ||
	fail "b's console: $(cat "$tmp/b.con" 2>/dev/null)"

# On c, which has no test0: refused, naming it.
timeout 60 "$vmm" $vmm_args -s "$tmp/c.sock" --restore "$tmp/vm0.state" \
	2>"$tmp/restore-c.err"
rc=$?
if [ "$rc" -eq 71 ] &&
	grep -q 'VM vm0 has no region "test0" on this daemon' "$tmp/restore-c.err"; then
	pass "c lacks test0: $(grep -o 'loading the device state.*' "$tmp/restore-c.err")"
else
	fail "restore on c exited $rc: $(cat "$tmp/restore-c.err")"
fi
[ -s "$tmp/c.con" ] && fail "the guest ran on c: $(cat "$tmp/c.con")"

# Back on a, the daemon it came from (whose devices went on meanwhile).
if timeout 60 "$vmm" $vmm_args -s "$tmp/a.sock" --restore "$tmp/vm0.state" \
	2>"$tmp/restore-a.err" &&
	grep -q "migrate: every device and the memory came along" "$tmp/a.con"; then
	pass "restored on the daemon it came from"
else
	fail "restore on a exited $?: $(cat "$tmp/restore-a.err")"
fi

# ioregionctl: b's vm0 (its VMM gone, so not running) saved and loaded.
for _ in $(seq 50); do
	"$ctl" -s "$tmp/b.sock" save vm0 "$tmp/b.dev" >"$tmp/ctl.out" 2>&1 && break
	sleep 0.1
done
grep -q "^4 regions, [0-9]* bytes" "$tmp/ctl.out" ||
	fail "ioregionctl save: $(cat "$tmp/ctl.out")"
"$ctl" -s "$tmp/b.sock" load vm0 "$tmp/b.dev" >"$tmp/ctl.out" 2>&1 &&
	grep -q "^4 regions loaded" "$tmp/ctl.out" ||
	fail "ioregionctl load: $(cat "$tmp/ctl.out")"
"$ctl" -s "$tmp/c.sock" load vm0 "$tmp/b.dev" >"$tmp/ctl.out" 2>&1
rc=$?
[ "$rc" -eq 1 ] && grep -q 'no region "test0"' "$tmp/ctl.out" &&
	pass "ioregionctl save and load: $(cat "$tmp/ctl.out")" ||
	fail "ioregionctl load on c exited $rc: $(cat "$tmp/ctl.out")"

for p in $pids; do
	kill "$p" && wait "$p" || fail "daemon $p exit status $?"
done
pids=
echo "vmm migrate tests: $failures failed"
[ "$failures" -eq 0 ]
