#!/bin/sh
# Runs as IOREGION_RUN inside the patched x86_64 kernel that tests/kernel/run
# boots: the KVM selftest with the series' trace events, then the host's KVM guest tests (ioregiond
# serving real guests through ioregion-vmm) on the in-kernel
# KVM_SET_IOREGION path and on the fallback path, a save with an access
# in flight (vmm_pending_test.sh), the patched QEMU with
# the tiny guests and with an access in flight at a migration
# (pending-migration) on the in-kernel path, then the benchmark of both paths. Prints TAP-like "ok"/"not ok" lines and exits with the number of
# failures.
export PATH=/bin LD_LIBRARY_PATH=/lib
sock=/run/ioregiond.sock
failures=0
pass() { echo "ok - $*"; }
fail() { echo "not ok - $*"; failures=$((failures + 1)); }

# start_daemon [SOCKET [LOG]]: ioregiond on SOCKET (default $sock), its
# output in LOG (default /run/daemon.out), its pid in $daemon; waits until
# it answers.
start_daemon() {
	ssock=${1:-$sock} slog=${2:-/run/daemon.out}
	ioregiond -s "$ssock" >"$slog" 2>&1 &
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

# The series' trace events, recorded while the selftest runs: each kind
# must show up, and the failure exits the selftest provokes (a
# non-blocking socket, a closed peer, a short SOCK_SEQPACKET message)
# with their errors.
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
	for e in -11 -32 -5; do
		grep -q " kvm_ioregion_failure: vcpu .* error $e\$" "$t" && errors="$errors $e"
	done
	if [ "$cmd" -gt 0 ] && [ "$done_n" -gt 0 ] && [ "$errors" = " -11 -32 -5" ]; then
		pass "trace events: $cmd kvm_ioregion_cmd, $done_n kvm_ioregion_done, $failure kvm_ioregion_failure (errors$errors)"
	else
		fail "trace events: $cmd kvm_ioregion_cmd, $done_n kvm_ioregion_done, $failure kvm_ioregion_failure (errors${errors:- none}, want -11 -32 -5)"
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

# -- issue 20: a failure exit with -EAGAIN is a busy daemon, not a dead one
# The patched QEMU runs the busy guest with ram0 in KVM. ioregiond is
# stopped (SIGSTOP) after QEMU's region sockets were made non-blocking
# (nonblock, through pidfd_getfd): KVM fails the guest's reads of ram0 with
# KVM_EXIT_IOREGIONFD_FAILURE, error -EAGAIN. QEMU must log a busy daemon
# and keep ram0 with KVM (no take-back); once the sockets block again and
# the daemon runs, the guest's reads of ram0 are answered again.
busy_checks() {
	d=/run/busy
	mkdir -p $d
	echo "== QEMU: KVM_EXIT_IOREGIONFD_FAILURE with -EAGAIN keeps the region"
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
	sleep 1
	# the one QEMU running (busybox's timeout execs it: $rqemu)
	qpid=
	for p in /proc/[0-9]*; do
		grep -q '^qemu-system' $p/comm 2>/dev/null && qpid=${p#/proc/}
	done
	# KVM reads O_NONBLOCK when an access starts: set it first
	nonblock "$qpid" on
	kill -STOP $rdaemon
	for _ in $(seq 300); do
		grep -q 'the daemon is busy' $d/qemu.out && break
		sleep 0.1
	done
	sleep 1
	nonblock "$qpid" off
	kill -CONT $rdaemon
	for _ in $(seq 1200); do
		kill -0 $rqemu 2>/dev/null || break
		sleep 0.1
	done
	kill $rqemu 2>/dev/null
	wait $rqemu
	rc=$?
	if [ $rc -eq 1 ] && grep -q 'busy: ram0 answers again' $d/daemon.out; then
		pass "busy: after reads failed with -EAGAIN, ram0 answered the guest again (QEMU exited 1: guest code 0)"
	else
		fail "busy: QEMU exited $rc (2c+1: guest code c; 124: timed out): $(tail -n 5 $d/qemu.out)"
	fi
	grep -q 'vm vm0 region ram0: KVM could not complete a 4-byte read at 0xd0000000: the daemon is busy (Resource temporarily unavailable); the region stays with KVM' $d/qemu.out &&
		pass "busy: QEMU logged: $(grep -m1 -o 'region ram0: KVM could not.*' $d/qemu.out)" ||
		fail "busy: QEMU did not log a busy daemon for ram0: $(grep 'ioregiond\|kvm_ioregion' $d/qemu.out | tail -n 5)"
	grep -q 'ioregiond_region_take_back vm vm0 region ram0' $d/qemu.out &&
		fail "busy: QEMU took ram0 back from KVM: $(grep -m1 -o 'ioregiond_region_take_back.*' $d/qemu.out)" ||
		pass "busy: ram0 stayed with KVM ($(grep -c kvm_ioregion_failure $d/qemu.out) failure exits, no take-back)"
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

# ns per iteration of a benchmark guest, best of 3
per_iter() {
	best=
	for _ in 1 2 3; do
		ns=$(ioregion-vmm -q -t -s "$sock" -n vm0 "$@" 2>&1 |
			sed -n 's/.*guest ran \([0-9]*\) ns.*/\1/p')
		[ -n "$ns" ] || { echo 0; return; }
		[ -z "$best" ] || [ "$ns" -lt "$best" ] && best=$ns
	done
	echo $((best / BENCH_ITERS))
}

# counts per access of one untimed run of a benchmark guest, from trace
# events, which do not depend on TCG's timing: exits to userspace (one per
# KVM_RUN the VMM makes), passes through the architecture's KVM_RUN (each
# loads the guest FPU: a vcpu_load/vcpu_put pair), guest exits, commands
# KVM sent, and context switches away from the VMM's threads and from the
# daemon.  Prints "uexit archrun gexit cmds vmm_cs daemon_cs".
count_run() {
	t=$tracing
	echo 0 >"$t/tracing_on"
	echo >"$t/trace"
	for e in kvm/kvm_userspace_exit kvm/kvm_fpu kvm/kvm_exit \
		kvm/kvm_ioregion_cmd sched/sched_switch; do
		echo 1 >"$t/events/$e/enable" 2>/dev/null
	done
	echo 1 >"$t/tracing_on"
	ioregion-vmm -q -s "$sock" -n vm0 "$@" >/dev/null 2>&1
	echo 0 >"$t/tracing_on"
	for e in kvm/kvm_fpu kvm/kvm_exit sched/sched_switch; do
		echo 0 >"$t/events/$e/enable" 2>/dev/null
	done
	awk -v n="$BENCH_ITERS" '
		/ kvm_userspace_exit: / { u++ }
		/ kvm_fpu: load/ { f++ }
		/ kvm_exit: / { g++ }
		/ kvm_ioregion_cmd: / { c++ }
		/ sched_switch: prev_comm=ioregion-vmm / { v++ }
		/ sched_switch: prev_comm=ioregiond / { d++ }
		END { printf "%.2f %.2f %.2f %.2f %.2f %.2f\n", u / n, f / n,
			g / n, c / n, v / n, d / n }' "$t/trace"
}

echo "== benchmark (nested KVM under TCG: compare ratios only)"
start_daemon && {
	plain=$(per_iter /bench/kread_unclaimed.bin)
	kread=$(per_iter /bench/kread_daemon.bin)
	fread=$(per_iter -f /bench/kread_daemon.bin)
	kpost=$(per_iter /bench/kpost.bin)
	fpost=$(per_iter -f /bench/kpost.bin)
	fpost1=$(per_iter -f --no-coalesce /bench/kpost.bin)
	# the same read with the vCPU polling up to 200 us before it sleeps
	poll_ns=/sys/module/kvm/parameters/ioregion_poll_ns
	echo 200000 >"$poll_ns"
	kreadp=$(per_iter /bench/kread_daemon.bin)
	echo 0 >"$poll_ns"
	stop_daemon
	ratio() { awk "BEGIN { if ($2 > 0) printf \"%.2f\", $1 / $2; else print \"n/a\" }"; }
	echo "bench: iterations per run: $BENCH_ITERS, best of 3"
	echo "bench: KVM_EXIT_MMIO read answered by the VMM        $plain ns"
	echo "bench: read via ioregiond, in-kernel path            $kread ns"
	echo "bench: read via ioregiond, fallback path             $fread ns"
	echo "bench: read, in-kernel, ioregion_poll_ns=200000      $kreadp ns"
	echo "bench: posted write, in-kernel path                  $kpost ns"
	echo "bench: posted write, fallback, coalesced ring        $fpost ns"
	echo "bench: posted write, fallback, one exit each         $fpost1 ns"
	echo "bench: ratio read fallback / in-kernel               $(ratio "$fread" "$kread")"
	echo "bench: ratio read in-kernel / plain VMM exit         $(ratio "$kread" "$plain")"
	echo "bench: ratio read fallback / in-kernel polling       $(ratio "$fread" "$kreadp")"
	echo "bench: ratio posted fallback (ring) / in-kernel      $(ratio "$fpost" "$kpost")"
	echo "bench: ratio posted fallback (exits) / in-kernel     $(ratio "$fpost1" "$kpost")"
	[ "$kread" -gt 0 ] && [ "$fread" -gt 0 ] && [ "$kpost" -gt 0 ] &&
		pass "benchmark ran" || fail "benchmark guests did not run"
}
echo "== counts per access (one untimed run each, from trace events)"
start_daemon && {
	echo "count: path                           uexit archrun  gexit   cmds vmm_cs dmn_cs"
	for c in "read, in-kernel|/bench/kread_daemon.bin" \
		"read, fallback|-f /bench/kread_daemon.bin" \
		"posted, in-kernel|/bench/kpost.bin" \
		"posted, fallback ring|-f /bench/kpost.bin" \
		"posted, fallback exits|-f --no-coalesce /bench/kpost.bin"; do
		# shellcheck disable=SC2086
		set -- $(count_run ${c#*|})
		printf 'count: %-30s %6s %7s %6s %6s %6s %6s\n' "${c%%|*}" \
			"$1" "$2" "$3" "$4" "$5" "$6"
	done
	echo 200000 >"$poll_ns"
	# shellcheck disable=SC2046
	set -- $(count_run /bench/kread_daemon.bin)
	echo 0 >"$poll_ns"
	printf 'count: %-30s %6s %7s %6s %6s %6s %6s\n' "read, in-kernel, polling" \
		"$1" "$2" "$3" "$4" "$5" "$6"
	stop_daemon
}
echo "guest checks: $failures failed"
exit $failures
