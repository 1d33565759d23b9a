#!/bin/bash
# Real guests on /dev/kvm, served by the real ioregiond through
# ioregion-vmm: every guest, eight VMs at once, the daemon killed mid-run,
# and a VMM killed with SIGKILL.
#
# Where the kernel is stock (the host), every region takes the fallback path.
# tests/kernel/x86_64-guest.sh runs this same script inside the patched
# kernel with KVM_TEST_KERNEL=patched, once as is (in-kernel path) and once
# with KVM_TEST_VMM_ARGS=-f (fallback forced).
set -u
build=${TOP_BUILDDIR:?}
kernel=${KVM_TEST_KERNEL:-stock}
vmm_args=${KVM_TEST_VMM_ARGS:-}
guests=$build/tests/guests
vmm=$build/ioregion-vmm
ctl=$build/ioregionctl
tmp=$(mktemp -d /tmp/ioregion-kvm-XXXXXX)
sock=$tmp/control.sock
daemon_pid=
failures=0
trap 'kill -9 $daemon_pid 2>/dev/null; pkill -9 -f "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT

if [ ! -c /dev/kvm ]; then
	# automake's SKIP; the kernel tier runs these tests inside the patched
	# kernel it boots under QEMU, where nested KVM exists
	echo "SKIP: kvm_test.sh: this machine has no /dev/kvm (no VMX/SVM);" \
		"the kernel tier runs these guests inside the patched kernel"
	exit 77
fi

# What ioregion-vmm must say about the kernel and the path of each region.
case $kernel/$vmm_args in
stock/) want_cap="no (this kernel has no ioregionfd: exits are forwarded)"
	want_path="fallback (exits forwarded)" ;;
patched/) want_cap=yes want_path="in-kernel KVM_SET_IOREGION" ;;
patched/-f) want_cap="yes (fallback forced)" want_path="fallback (exits forwarded)" ;;
*) echo "FAIL: unknown KVM_TEST_KERNEL/KVM_TEST_VMM_ARGS: $kernel/$vmm_args"; exit 1 ;;
esac

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

# Eight VMs, each with a console logged to its own file, a ram, a doorbell
# on interrupt line 5 and a testdev; vm0 and vm1 share a mailbox.
write_config() {
	local i regions=
	for i in 0 1 2 3 4 5 6 7; do
		regions="$regions
  {\"name\": \"con$i\", \"device\": \"uart16550\", \"bus\": \"pio\", \"address\": \"0x3f8\", \"size\": 8,
   \"vms\": [\"vm$i\"], \"options\": {\"output\": \"file\", \"path\": \"$tmp/con$i.txt\"}},
  {\"name\": \"ram$i\", \"device\": \"ram\", \"bus\": \"mmio\", \"address\": \"0xd0000000\", \"size\": 4096, \"vms\": [\"vm$i\"]},
  {\"name\": \"bell$i\", \"device\": \"doorbell\", \"bus\": \"mmio\", \"address\": \"0xd0001000\", \"size\": 4096,
   \"vms\": [\"vm$i\"], \"posted_writes\": true, \"irq\": 5},"
	done
	cat > "$tmp/config.json" <<JSON
{ "regions": [ $regions
  {"name": "mbox", "device": "mailbox", "bus": "mmio", "address": "0xd0003000", "size": 4096, "vms": ["vm0", "vm1"]}
] }
JSON
}

start_daemon() {
	# scripts/check's poll and workers tiers: every test with poll mode
	# on, or on 2 worker threads
	"$build/ioregiond" -c "$tmp/config.json" -s "$sock" \
		${IOREGIOND_TEST_POLL_US:+--poll-us="$IOREGIOND_TEST_POLL_US"} \
		${IOREGIOND_TEST_WORKERS:+--workers="$IOREGIOND_TEST_WORKERS"} \
		2>>"$tmp/daemon.log" &
	daemon_pid=$!
	for _ in $(seq 100); do
		"$ctl" -s "$sock" status >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	fail "daemon did not start"; cat "$tmp/daemon.log"; exit 1
}

stop_daemon() {
	kill "$daemon_pid" && wait "$daemon_pid" || fail "daemon exit status $?"
	daemon_pid=
}

fd_count() { ls "/proc/$daemon_pid/fd" | wc -l; }

# fd_settled: the daemon's fd count once the VMMs that just left are
# closed on its side too (the same count twice, 0.1 s apart)
fd_settled() {
	local n m
	n=$(fd_count)
	for _ in $(seq 50); do
		sleep 0.1
		m=$(fd_count)
		[ "$m" -eq "$n" ] && break
		n=$m
	done
	echo "$n"
}

# attached BEFORE: waits until a VMM started after BEFORE was counted holds
# its regions' fds in the daemon
attached() {
	for _ in $(seq 200); do [ "$(fd_count)" -gt "$1" ] && return 0; sleep 0.05; done
	return 1
}

# run_guest NAME VM [vmm options]: runs to completion, expects exit 0.
run_guest() {
	local guest=$1 vm=$2
	shift 2
	if timeout 60 "$vmm" $vmm_args -q -s "$sock" -n "$vm" "$@" "$guests/$guest.bin" \
		2>"$tmp/$guest.$vm.err"; then
		pass "$guest as $vm"
	else
		fail "$guest as $vm exited $?: $(cat "$tmp/$guest.$vm.err")"
	fi
}

stat_of() { # VM REGION COUNTER
	"$ctl" -s "$sock" --json --vm "$1" stats |
		sed -n "/\"name\": \"$2\"/,/}/p" | grep "\"$3\"" | head -1 | tr -dc 0-9
}

write_config
start_daemon

# Which path each region takes is stated at start.
"$vmm" $vmm_args -s "$sock" -n vm2 "$guests/hello.bin" 2>"$tmp/paths.txt"
grep -qF "region ram2 (ram, mmio 0xd0000000+0x1000): $want_path" "$tmp/paths.txt" &&
	grep -qxF "ioregion-vmm[vm2]: KVM_CAP_IOREGIONFD: $want_cap" "$tmp/paths.txt" &&
	pass "vmm states the path of each region" || fail "paths: $(cat "$tmp/paths.txt")"
grep -qx 'Hello from a KVM guest, printed through ioregiond' "$tmp/con2.txt" &&
	pass "hello printed through the daemon's uart" || fail "hello output: $(cat "$tmp/con2.txt")"

run_guest ramtest vm0
grep -q 'accesses verified' "$tmp/con0.txt" || fail "ramtest printed nothing"

# Not quiet: ioregion-vmm reports the interrupts it received at exit.
if timeout 60 "$vmm" $vmm_args -s "$sock" -n vm0 "$guests/doorbell.bin" \
	2>"$tmp/doorbell.err"; then
	pass "doorbell as vm0"
else
	fail "doorbell as vm0 exited $?: $(cat "$tmp/doorbell.err")"
fi
posted=$(stat_of vm0 bell0 posted)
batches=$(stat_of vm0 bell0 batches)
# The fallback path hands the daemon whole rings of posted writes; on the
# in-kernel path KVM sends them one by one and the daemon drains what has
# queued, so only the count is exact there.
max_batches=2000
[ "$want_path" = "in-kernel KVM_SET_IOREGION" ] && max_batches=20001
if [ "$posted" -eq 20000 ] && [ "$batches" -lt "$max_batches" ]; then
	pass "doorbell: $posted posted writes arrived in $batches batches"
else
	fail "doorbell: posted=$posted batches=$batches"
fi
# The doorbell raises line 5 once per batch of posted rings: the daemon
# counts one edge per batch, ioregion-vmm (no irqchip: it polls the
# eventfd) the wake-ups it received, several close edges making one.
signalled=$(stat_of vm0 bell0 irqs)
received=$(sed -n 's/^ioregion-vmm\[vm0\]: irq 5: \([0-9]*\) interrupts$/\1/p' \
	"$tmp/doorbell.err")
if [ "${received:-0}" -ge 1 ] && [ "${signalled:-0}" -ge "$received" ] &&
   [ "$signalled" -eq "$batches" ]; then
	pass "doorbell interrupts: ioregiond signalled $signalled edges on line 5, ioregion-vmm received $received"
else
	fail "doorbell interrupts: signalled=${signalled:-none} received=${received:-none} batches=$batches"
fi

# Two VMs exchange messages through one shared mailbox.
timeout 60 "$vmm" $vmm_args -q -s "$sock" -n vm0 "$guests/mailbox.bin" 2>"$tmp/mb0.err" &
mb0=$!
run_guest mailbox vm1
wait $mb0 && pass "mailbox vm0 side" || fail "mailbox vm0 exited $?: $(cat "$tmp/mb0.err")"

# A region plugged while the guest runs is registered and used.
timeout 60 "$vmm" $vmm_args -q -s "$sock" -n vm3 "$guests/hotplug.bin" 2>"$tmp/hot.err" &
hot=$!
for _ in $(seq 100); do grep -q waiting "$tmp/con3.txt" 2>/dev/null && break; sleep 0.05; done
"$ctl" -s "$sock" plug '{"name": "hot3", "device": "testdev", "bus": "mmio",
	"address": "0xe0000000", "size": 4096, "vms": ["vm3"]}' || fail "plug refused"
wait $hot && grep -q 'device arrived' "$tmp/con3.txt" && pass "hotplug" ||
	fail "hotplug exited $?: $(cat "$tmp/hot.err")"
"$ctl" -s "$sock" unplug hot3 || fail "unplug refused"

# Eight VMs at once on one daemon.
pids=
for i in 0 1 2 3 4 5 6 7; do
	timeout 60 "$vmm" $vmm_args -q -s "$sock" -n "vm$i" "$guests/ramtest.bin" 2>"$tmp/eight.$i.err" &
	pids="$pids $!"
done
ok=0
for p in $pids; do wait "$p" && ok=$((ok + 1)); done
[ "$ok" -eq 8 ] && pass "8 VMs at once" ||
	fail "only $ok of 8 VMs passed: $(cat "$tmp"/eight.*.err | sort | uniq -c | head -n 5)"

# A VMM killed with SIGKILL: its regions are freed, the others keep going.
before=$(fd_settled)
"$vmm" $vmm_args -q -s "$sock" -n vm0 "$guests/mailbox.bin" 2>/dev/null &
victim=$!
attached "$before"
during=$(fd_count)
kill -9 $victim; wait $victim 2>/dev/null
for _ in $(seq 100); do [ "$(fd_count)" -eq "$before" ] && break; sleep 0.05; done
after=$(fd_count)
[ "$during" -gt "$before" ] && [ "$after" -eq "$before" ] &&
	pass "SIGKILLed VMM: daemon fds $before -> $during -> $after" ||
	fail "fds before=$before during=$during after=$after"
run_guest ramtest vm5

# The daemon killed mid-run, once the VMM has attached and its guest runs
# (it polls the mailbox for an answer that never comes; before that the
# VMM may still be opening regions and lines): the VMM stops with a clear
# error, fast.
before=$(fd_settled)
polls=$(stat_of vm0 mbox reads)
"$vmm" $vmm_args -q -s "$sock" -n vm0 "$guests/mailbox.bin" 2>"$tmp/gone.err" &
orphan=$!
attached "$before" || fail "the VMM to orphan never attached"
for _ in $(seq 200); do
	[ "$(stat_of vm0 mbox reads)" -gt "${polls:-0}" ] && break
	sleep 0.05
done
kill -9 "$daemon_pid"; wait "$daemon_pid" 2>/dev/null; daemon_pid=
# bash reaps the VMM as it exits, so kill -0 fails from then on
start=${EPOCHREALTIME/./}
for _ in $(seq 1000); do kill -0 $orphan 2>/dev/null || break; sleep 0.01; done
wait $orphan; rc=$?
ms=$(((${EPOCHREALTIME/./} - start) / 1000))
# (the VMM sees its control connection close, or on the in-kernel path
# possibly first KVM's failure exit)
if [ "$rc" -eq 70 ] && grep -qE 'ioregiond|IOREGIONFD_FAILURE' "$tmp/gone.err"; then
	pass "daemon killed: VMM exited 70 after ${ms} ms: $(head -1 "$tmp/gone.err")"
else
	fail "daemon killed: VMM exit $rc after ${ms} ms: $(cat "$tmp/gone.err")"
fi

echo "kvm tests: $failures failed"
[ "$failures" -eq 0 ]
