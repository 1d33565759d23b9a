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

start_daemon() {
	ioregiond -s "$sock" >/run/daemon.out 2>&1 &
	daemon=$!
	for _ in $(seq 100); do
		ioregionctl -s "$sock" status >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "ioregiond did not start: $(cat /run/daemon.out)"
	return 1
}

stop_daemon() {
	kill "$daemon" && wait "$daemon" || fail "ioregiond exit status $?"
}

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
