#!/bin/sh
# The benchmark of the in-kernel path against the fallback inside the
# patched x86_64 kernel (nested KVM under TCG: only ratios mean anything):
# ns per guest access, best of 3, and counts per access from trace events.
# x86_64-guest.sh sources it and runs bench_times and bench_counts; booted
# as IOREGION_RUN itself (tests/kernel/run --bench) it runs both alone.

poll_ns=/sys/module/kvm/parameters/ioregion_poll_ns

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

# ns per access of each path, and their ratios
bench_times() {
	echo "== benchmark (nested KVM under TCG: compare ratios only)"
	start_daemon && {
		plain=$(per_iter /bench/kread_unclaimed.bin)
		kread=$(per_iter /bench/kread_daemon.bin)
		fread=$(per_iter -f /bench/kread_daemon.bin)
		kpost=$(per_iter /bench/kpost.bin)
		fpost=$(per_iter -f /bench/kpost.bin)
		fpost1=$(per_iter -f --no-coalesce /bench/kpost.bin)
		# the same read with the vCPU polling up to 200 us before it sleeps
		echo 200000 >"$poll_ns"
		kreadp=$(per_iter /bench/kread_daemon.bin)
		echo 0 >"$poll_ns"
		stop_daemon
		# a polling daemon, and a VMM that spins before it blocks (issue 22's
		# poll mode), on both paths
		start_daemon "$sock" /run/daemon-poll.out --poll-us 100 || return
		export IOREGION_SPIN_US=50
		fpollr=$(per_iter -f /bench/kread_daemon.bin)
		unset IOREGION_SPIN_US
		echo 200000 >"$poll_ns"
		kpollr=$(per_iter /bench/kread_daemon.bin)
		echo 0 >"$poll_ns"
		stop_daemon
		ratio() { awk "BEGIN { if ($2 > 0) printf \"%.2f\", $1 / $2; else print \"n/a\" }"; }
		echo "bench: iterations per run: $BENCH_ITERS, best of 3"
		echo "bench: KVM_EXIT_MMIO read answered by the VMM        $plain ns"
		echo "bench: read via ioregiond, in-kernel path            $kread ns"
		echo "bench: read via ioregiond, fallback path             $fread ns"
		echo "bench: read, in-kernel, ioregion_poll_ns=200000      $kreadp ns"
		echo "bench: read, fallback, daemon polls, VMM spins       $fpollr ns"
		echo "bench: read, in-kernel, daemon polls, kernel polls   $kpollr ns"
		echo "bench: posted write, in-kernel path                  $kpost ns"
		echo "bench: posted write, fallback, coalesced ring        $fpost ns"
		echo "bench: posted write, fallback, one exit each         $fpost1 ns"
		echo "bench: ratio read fallback / in-kernel               $(ratio "$fread" "$kread")"
		echo "bench: ratio read in-kernel / plain VMM exit         $(ratio "$kread" "$plain")"
		echo "bench: ratio read fallback / in-kernel polling       $(ratio "$fread" "$kreadp")"
		echo "bench: ratio read fallback, all poll / VMM exit      $(ratio "$fpollr" "$plain")"
		echo "bench: ratio read in-kernel, all poll / VMM exit     $(ratio "$kpollr" "$plain")"
		echo "bench: ratio posted fallback (ring) / in-kernel      $(ratio "$fpost" "$kpost")"
		echo "bench: ratio posted fallback (exits) / in-kernel     $(ratio "$fpost1" "$kpost")"
		[ "$kread" -gt 0 ] && [ "$fread" -gt 0 ] && [ "$kpost" -gt 0 ] &&
			pass "benchmark ran" || fail "benchmark guests did not run"
	}
}

# counts per access of each path
bench_counts() {
	echo "== counts per access (one untimed run each, from trace events)"
	start_daemon && {
		echo "count: path                           uexit archrun  gexit   cmds vmm_cs dmn_cs"
		for c in "read, in-kernel|/bench/kread_daemon.bin" \
			"read, fallback|-f /bench/kread_daemon.bin" \
			"posted, in-kernel|/bench/kpost.bin" \
			"posted, fallback ring|-f /bench/kpost.bin" \
			"posted, fallback exits|-f --no-coalesce /bench/kpost.bin"; do
			# shellcheck disable=SC2046,SC2086
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
}

case $0 in
*x86_64-bench.sh)
	# shellcheck source=tests/kernel/x86_64-lib.sh
	. /x86_64-lib.sh
	tracing=/sys/kernel/tracing
	mount -t tracefs nodev "$tracing" || fail "cannot mount $tracing"
	bench_times
	bench_counts
	exit $failures ;;
esac
