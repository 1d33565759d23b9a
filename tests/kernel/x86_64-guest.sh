#!/bin/sh
# Runs as IOREGION_RUN inside the patched x86_64 kernel that tests/kernel/run
# boots: the KVM selftest with the series' trace events, then the host's KVM guest tests (ioregiond
# serving real guests through ioregion-vmm) on the in-kernel
# KVM_SET_IOREGION path and on the fallback path, a save with an access
# in flight (vmm_pending_test.sh), the patched QEMU with
# the tiny guests and with an access in flight at a migration
# (pending-migration) on the in-kernel path, then the benchmark of both paths. Prints TAP-like "ok"/"not ok" lines and exits with the number of
# failures.
# shellcheck source=tests/kernel/x86_64-lib.sh
. /x86_64-lib.sh

# The series' trace events, recorded while the selftest runs: each kind
# must show up, and the failure exits the selftest provokes (a closed
# peer, a short SOCK_SEQPACKET message) with their errors.
tracing=/sys/kernel/tracing
trace_start() {
	mount -t tracefs nodev "$tracing" || return 1
	echo 16384 >"$tracing/buffer_size_kb"
	for e in cmd done failure; do
		echo 1 >"$tracing/events/kvm/kvm_ioregion_$e/enable" || return 1
	done
}
trace_check() {
	echo 0 >"$tracing/tracing_on"
	t=$tracing/trace
	cmd=$(grep -c ' kvm_ioregion_cmd: vcpu ' "$t")
	done_n=$(grep -c ' kvm_ioregion_done: vcpu ' "$t")
	failure=$(grep -c ' kvm_ioregion_failure: vcpu ' "$t")
	errors=
	for e in -32 -5; do
		grep -q " kvm_ioregion_failure: vcpu .* error $e\$" "$t" && errors="$errors $e"
	done
	if [ "$cmd" -gt 0 ] && [ "$done_n" -gt 0 ] && [ "$errors" = " -32 -5" ]; then
		pass "trace events: $cmd kvm_ioregion_cmd, $done_n kvm_ioregion_done, $failure kvm_ioregion_failure (errors$errors)"
	else
		fail "trace events: $cmd kvm_ioregion_cmd, $done_n kvm_ioregion_done, $failure kvm_ioregion_failure (errors${errors:- none}, want -32 -5)"
		grep ' kvm_ioregion_failure: ' "$t" | head -5
	fi
}

echo "== KVM selftest"
trace_start || fail "trace events: cannot enable kvm_ioregion_* in $tracing"
/ioregion_test && pass "ioregion_test" || fail "ioregion_test exited $?"
trace_check

# The KVM guest tests of the host (tests/integration/kvm_test.sh) on this
# kernel: once on the in-kernel path, once with the fallback forced, so
# that a machine without /dev/kvm loses none of their coverage.
kvm_tests() {
	echo "== tests/integration/kvm_test.sh, $1"
	TOP_BUILDDIR=/build KVM_TEST_KERNEL=patched KVM_TEST_VMM_ARGS=$2 \
		/kvm_test.sh && pass "kvm_test.sh, $1" || fail "kvm_test.sh, $1"
}
kvm_tests "in-kernel KVM_SET_IOREGION path" ""
kvm_tests "fallback path forced" "-f"

# The pending-access rule: a save asked while the vCPU waits on a stopped
# daemon completes the access once, or is refused while the device stays
# silent (a skip here, the in-kernel path missing, is a failure).
echo "== tests/integration/vmm_pending_test.sh, in-kernel path"
TOP_BUILDDIR=/build /vmm_pending_test.sh &&
	pass "vmm_pending_test.sh: an access in flight at a save is completed exactly once" ||
	fail "vmm_pending_test.sh exited $?"

# The patched QEMU runs the tiny guests with this kernel's KVM: their
# regions must be handed to KVM_SET_IOREGION, QEMU out of the loop.
echo "== tests/qemu/tiny-guests in the patched QEMU, KVM"
QEMU=/bin/qemu-system-x86_64 GUESTS=/build/tests/guests IOREGIOND=/bin/ioregiond \
	IOREGIONCTL=/bin/ioregionctl QEMU_FIRMWARE=/share/qemu \
	/tiny-guests kvm "in-kernel KVM_SET_IOREGION" &&
	pass "QEMU's tiny guests on the in-kernel path" ||
	fail "QEMU's tiny guests on the in-kernel path"

# The pending-access rule in QEMU: a vCPU stopped while its device is
# silent keeps the access and is not migrated; one whose device answers
# in time completes it before it stops, and is migrated to a file.
echo "== tests/qemu/pending-migration in the patched QEMU, KVM"
QEMU=/bin/qemu-system-x86_64 GUESTS=/build/tests/guests IOREGIOND=/bin/ioregiond \
	IOREGIONCTL=/bin/ioregionctl QEMU_FIRMWARE=/share/qemu \
	/pending-migration &&
	pass "QEMU completes an access in flight before a migration, or refuses it" ||
	fail "QEMU and an access in flight at a migration"

# -- issue 20: the fallback of a region KVM refuses, through libioregion
# KVM_SET_IOREGION fails with EEXIST over an ioeventfd, libioregion closes
# the region with CloseRegion, and the region opens again at once for
# forwarding: no EBUSY from a channel the daemon has not freed yet.
reopen_checks() {
	d=/run/reopen
	mkdir -p $d
	echo "== libioregion: re-open for forwarding after EEXIST"
	start_daemon $d/control.sock $d/daemon.out
	rdaemon=$daemon
	out=$(reopen_test $d/control.sock)
	rc=$?
	[ $rc -eq 0 ] && pass "$out" || fail "reopen_test exited $rc: $out"
	kill $rdaemon
	wait $rdaemon
}
reopen_checks

# -- issue 20: a daemon that does not answer is waited for, not a failure
# The patched QEMU runs the busy guest with ram0 in KVM. ioregiond is
# stopped (SIGSTOP) while the guest reads ram0 in a loop: the vCPU waits in
# KVM (kernel v7 has no O_NONBLOCK switch that would fail the access), so
# QEMU sees no failure exit and keeps ram0 with KVM; once the daemon runs
# again every read is answered, and none returned anything else.
busy_checks() {
	d=/run/busy
	mkdir -p $d
	echo "== QEMU: a stopped daemon is waited for on the in-kernel path"
	start_daemon $d/control.sock $d/daemon.out
	rdaemon=$daemon
	timeout 300 /bin/qemu-system-x86_64 -accel kvm -nodefaults \
		-display none -no-reboot -m 64 -L /share/qemu \
		-kernel /build/tests/guests/busy-pvh.elf \
		-device isa-debug-exit,iobase=0xf4,iosize=1 \
		-object ioregiond,id=ior0,path=$d/control.sock,vm=vm0 \
		-trace enable=ioregiond_region_add \
		-trace enable=ioregiond_region_take_back \
		-trace enable=kvm_ioregion_failure >$d/qemu.out 2>&1 &
	rqemu=$!
	for _ in $(seq 1200); do
		grep -q 'busy: reading ram0' $d/daemon.out && break
		sleep 0.1
	done
	kill -STOP $rdaemon
	sleep 2
	# the guest cannot finish while the daemon is stopped
	kill -0 $rqemu 2>/dev/null && waited=yes || waited=no
	kill -CONT $rdaemon
	for _ in $(seq 1200); do
		kill -0 $rqemu 2>/dev/null || break
		sleep 0.1
	done
	kill $rqemu 2>/dev/null
	wait $rqemu
	rc=$?
	if [ $waited = yes ] && [ $rc -eq 1 ] &&
		grep -q 'busy: every read of ram0 answered' $d/daemon.out; then
		pass "busy: the guest waited 2 s for the stopped daemon, then every read of ram0 was answered (QEMU exited 1: guest code 0)"
	else
		fail "busy: QEMU exited $rc (2c+1: guest code c; 124: timed out), still running during the stop: $waited: $(tail -n 5 $d/qemu.out)"
	fi
	if grep -q 'kvm_ioregion_failure\|ioregiond_region_take_back' $d/qemu.out; then
		fail "busy: a failure exit or a take-back while the daemon was stopped: $(grep -m1 'kvm_ioregion_failure\|ioregiond_region_take_back' $d/qemu.out)"
	else
		pass "busy: no failure exit, ram0 stayed with KVM"
	fi
	kill $rdaemon
	wait $rdaemon
}
busy_checks

# -- issue 20: QEMU reconnects to a restarted ioregiond on the in-kernel path
# The patched QEMU runs the reconnect guest with its regions in KVM
# (KVM_SET_IOREGION), no systemd: ioregiond is killed (-9) while the guest
# reads ram0, and started again on the same socket. QEMU must log the
# loss, reconnect, register the VM's regions with KVM_SET_IOREGION again
# and log that; the guest then finds ram0 working (a write reads back) and
# prints on the new daemon's UART.
qemu_reconnect_checks() {
	d=/run/reconnect
	rsock=$d/control.sock
	mkdir -p $d
	echo "== QEMU reconnects to a restarted ioregiond, in-kernel path"
	start_daemon $rsock $d/daemon1.out
	rdaemon=$daemon
	timeout 300 /bin/qemu-system-x86_64 -accel kvm -nodefaults \
		-display none -no-reboot -m 64 -L /share/qemu \
		-kernel /build/tests/guests/reconnect-pvh.elf \
		-device isa-debug-exit,iobase=0xf4,iosize=1 \
		-object ioregiond,id=ior0,path=$rsock,vm=vm0 \
		-trace enable=ioregiond_region_add \
		-trace enable=ioregiond_reconnect >$d/qemu.out 2>&1 &
	rqemu=$!
	for _ in $(seq 1200); do
		grep -q 'reconnect: reading ram0' $d/daemon1.out && break
		sleep 0.1
	done
	sleep 1
	kill -9 $rdaemon
	wait $rdaemon 2>/dev/null
	for _ in $(seq 300); do
		grep -q 'vm vm0: lost the connection' $d/qemu.out && break
		sleep 0.1
	done
	sleep 1
	ioregiond -s $rsock >$d/daemon2.out 2>&1 &
	rdaemon=$!
	for _ in $(seq 1200); do
		kill -0 $rqemu 2>/dev/null || break
		sleep 0.1
	done
	kill $rqemu 2>/dev/null
	wait $rqemu
	rc=$?
	if [ $rc -eq 1 ] && grep -q 'reconnect: ram0 works again' $d/daemon2.out; then
		pass "reconnect: the guest found ram0 working on the new ioregiond and printed on its UART (QEMU exited 1: guest code 0)"
	else
		fail "reconnect: QEMU exited $rc (2c+1: guest code c; 124: timed out): $(tail -n 5 $d/qemu.out)"
	fi
	grep -q 'vm vm0: lost the connection to .*until it reconnects' $d/qemu.out &&
		pass "reconnect: QEMU logged the loss: $(grep -m1 -o 'lost the connection.*' $d/qemu.out)" ||
		fail "reconnect: QEMU did not log the lost connection"
	grep -q 'vm vm0: reconnected to .* after [0-9]* ms; its regions are mapped again' $d/qemu.out &&
		pass "reconnect: QEMU logged: $(grep -m1 -o 'reconnected to .*' $d/qemu.out)" ||
		fail "reconnect: QEMU did not log a reconnect: $(grep ioregiond $d/qemu.out | tail -n 5)"
	# ioregiond_region_add traces every region QEMU maps: ram0 and
	# console0 twice each (start, reconnect), each time in KVM.
	n=$(grep -c 'region ram0: .*in-kernel KVM_SET_IOREGION' $d/qemu.out)
	m=$(grep -c 'region console0: .*in-kernel KVM_SET_IOREGION' $d/qemu.out)
	[ "$n" -eq 2 ] && [ "$m" -eq 2 ] &&
		pass "reconnect: ram0 and console0 registered with KVM_SET_IOREGION at start and again after the reconnect" ||
		fail "reconnect: ram0 in KVM $n times, console0 $m times (want 2 each): $(grep 'region ram0:\|region console0:' $d/qemu.out)"
	reads=$(ioregionctl -s $rsock stats | awk '$2 == "ram0" { print $4 }')
	[ "${reads:-0}" -gt 0 ] 2>/dev/null &&
		pass "reconnect: the new ioregiond served ram0 ($reads reads)" ||
		fail "reconnect: the new ioregiond saw no read of ram0"
	kill $rdaemon
	wait $rdaemon
}
qemu_reconnect_checks

# shellcheck source=tests/kernel/x86_64-bench.sh
. /x86_64-bench.sh
bench_times
bench_counts
echo "guest checks: $failures failed"
exit $failures
