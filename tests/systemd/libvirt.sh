# Sourced by tests/systemd/run: the Linux guest under libvirt's own daemon.
# A fresh container with Debian's libvirt (libvirtd under systemd) and the
# ioregiond .deb; the domain is docs/qemu.md's ("Under libvirt"), its
# <emulator> the patched QEMU, its console ioregiond's UART. Checks that
# QEMU, as libvirt runs it (user libvirt-qemu, its own mount namespace,
# cgroups, no AppArmor: the host kernel has none), reaches the control
# socket once the operator does what docs/qemu.md says and not before;
# that virsh start boots the guest, whose output comes through ioregiond's
# console socket and which answers a line typed into it; that virsh save
# and restore carry its devices' state, its TPM's included; that virsh
# reset reaches the daemon as ResetVm; that virsh destroy and undefine
# leave nothing behind.

# Debian 12's libvirt (9.0): it probes QEMU 10.0 and runs it (see
# docs/qemu.md). iptables: libvirt-daemon-system's first alternative,
# named so the root is the same whatever apt would pick.
LIBVIRT_PACKAGES="libvirt-daemon-system libvirt-clients iptables"

# The code blocks of a section of a markdown file, numbered from 1, as
# readme_block does for README.md: doc_block FILE SECTION N
doc_block() {
	awk -v sec="## $2" -v want="$3" '
		/^## / { on = ($0 == sec); next }
		!on { next }
		/^    / { if (!inblock) { n++; inblock = 1 }
			if (n == want) print substr($0, 5); next }
		/^$/ { next }
		{ inblock = 0 }' "$1"
}

virsh_ct() { in_ct "virsh -q -c qemu:///system $1"; }

# The console: one client on the UART's socket for the whole test,
# started from this side through the container's root.
console_start() {
	rm -f "$work/console.out" "$work/console.in"
	mkfifo "$work/console.in"
	"$top/tests/systemd/console-client" "$1" "$work/console.out" \
		"$work/console.in" 2>"$work/console.err" &
	console_pid=$!
}

console_stop() {
	[ -n "${console_pid:-}" ] || return 0
	kill "$console_pid" 2>/dev/null
	wait "$console_pid" 2>/dev/null
	console_pid=
}

console_type() { printf '%s\n' "$1" >"$work/console.in"; }

# console_wait SECONDS PATTERN [COUNT]: until the console has shown
# PATTERN (a grep -E) on COUNT lines (default 1)
console_wait() {
	local i n
	for i in $(seq $(($1 * 10))); do
		n=$(tr -d '\r' <"$work/console.out" 2>/dev/null | grep -cE "$2")
		[ "$n" -ge "${3:-1}" ] && return 0
		kill -0 "$console_pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# The domain of docs/qemu.md with this test's emulator, and -L for its
# firmware (the host's, bound in: the patched QEMU is not installed).
libvirt_domain_xml() {
	doc_block "$top/docs/qemu.md" "Under libvirt" 4 |
		sed -e "s|<emulator>.*</emulator>|<emulator>$qemu</emulator>|" \
		    -e "s|^\( *\)</qemu:commandline>|\1  <qemu:arg value='-L'/><qemu:arg value='/usr/share/qemu'/>\n\1  <qemu:arg value='-L'/><qemu:arg value='/usr/share/seabios'/>\n&|"
}

libvirt_checks() {
	local out ct=/proc/$leader/root v n t0 qemu_pid

	v=$(in_ct "dpkg-query -W -f='\${Version}' libvirt-daemon-driver-qemu")
	in_ct "install -m 0644 /mnt/work/valid.json /etc/ioregiond/ioregiond.json && ioregionctl list >/dev/null" ||
		{ fail "$lv: ioregiond did not start on the test config"; return; }
	# The kernel and initramfs where docs/qemu.md's domain has them.
	in_ct "install -D -m 0644 /mnt/work/vmlinuz /var/lib/libvirt/boot/vmlinuz && install -m 0644 /mnt/work/initramfs.gz /var/lib/libvirt/boot/initrd.img"

	if out=$(in_ct "virsh -c qemu:///system domcapabilities --emulatorbin $qemu --virttype qemu --arch x86_64" 2>&1) &&
		echo "$out" | grep -q '<machine>pc-i440fx-10\.0</machine>'; then
		pass "$lv: libvirt $v ($(in_ct 'for d in libvirtd virtqemud; do systemctl is-active -q $d && echo $d; done' | head -1) under systemd) probed the patched QEMU 10.0: domcapabilities for $qemu with machine pc-i440fx-10.0"
	else
		echo "$out" | tail -5
		in_ct "journalctl -u libvirtd --no-pager -n 20"
		fail "$lv: libvirt $v could not probe the patched QEMU"
		return
	fi

	libvirt_domain_xml >"$work/linux1.xml"
	if ! out=$(virsh_ct "define /mnt/work/linux1.xml" 2>&1); then
		echo "$out"
		fail "$lv: virsh define of docs/qemu.md's domain: $out"
		return
	fi
	pass "$lv: virsh define of docs/qemu.md's domain ($(grep -c . "$work/linux1.xml") lines, <emulator> the patched QEMU)"

	# Before the operator's step QEMU, as libvirt-qemu, may not connect.
	if out=$(virsh_ct "start linux1" 2>&1); then
		fail "$lv: virsh start succeeded before libvirt-qemu was allowed on the control socket"
		virsh_ct "destroy linux1" >/dev/null 2>&1
	elif echo "$out" | grep -q 'control.sock.*Permission denied\|Permission denied.*control.sock'; then
		pass "$lv: before docs/qemu.md's step, virsh start fails with QEMU's message: $(echo "$out" | grep -m1 'Permission denied' | sed 's/^ *//')"
	else
		echo "$out"
		fail "$lv: virsh start before the operator's step failed otherwise: $(echo "$out" | tail -1)"
	fi

	note "the operator's lines of docs/qemu.md:"
	run_readme_lines /root "$lv" < <(doc_block "$top/docs/qemu.md" "Under libvirt" 1) ||
		return

	# docs/qemu.md's access section holds libvirt's QEMUs to linux1: the
	# same with vm0 for linux1 refuses linux1, the documented one lets it.
	doc_block "$top/docs/qemu.md" "Under libvirt" 3 >"$work/access.txt"
	python3 - "$work/valid.json" "$work" <<'ACCESS' || fail "$lv: docs/qemu.md's access section is no JSON"
import json, sys
cfg = json.load(open(sys.argv[1]))
access = json.loads("{" + open(sys.argv[2] + "/access.txt").read() + "}")["access"]
json.dump(dict(cfg, access=access), open(sys.argv[2] + "/access-linux1.json", "w"))
for rule in access:
    if rule.get("user") == "libvirt-qemu":
        rule["vms"] = ["vm0"]
json.dump(dict(cfg, access=access), open(sys.argv[2] + "/access-vm0.json", "w"))
ACCESS
	in_ct "install -m 0644 /mnt/work/access-vm0.json /etc/ioregiond/ioregiond.json && systemctl reload ioregiond" ||
		fail "$lv: reload with an access rule for libvirt-qemu"
	if out=$(virsh_ct "start linux1" 2>&1); then
		fail "$lv: virsh start succeeded though the access rule grants libvirt-qemu vm0 only"
		virsh_ct "destroy linux1" >/dev/null 2>&1
	elif echo "$out" | grep -q 'ioregiond:.*linux1'; then
		pass "$lv: with an access rule granting libvirt-qemu vm0 only, virsh start linux1 fails: $(echo "$out" | grep -m1 -o 'ioregiond:.*')"
	else
		echo "$out"
		fail "$lv: virsh start under a rule for vm0 failed otherwise: $(echo "$out" | tail -1)"
	fi
	in_ct "install -m 0644 /mnt/work/access-linux1.json /etc/ioregiond/ioregiond.json && systemctl reload ioregiond" ||
		fail "$lv: reload with docs/qemu.md's access rule for libvirt-qemu"

	console_start "$ct/run/ioregiond/console/linux1.sock"
	t0=$(date +%s)
	if ! out=$(virsh_ct "start linux1" 2>&1); then
		echo "$out"
		in_ct "tail -20 /var/log/libvirt/qemu/linux1.log"
		fail "$lv: virsh start linux1: $(echo "$out" | tail -1)"
		console_stop
		return
	fi
	# QEMU as libvirt ran it: its user, arguments, mount namespace, cgroup
	# (the container has no ps: /proc)
	out=$(in_ct 'p=$(cat /run/libvirt/qemu/linux1.pid) &&
		stat -c %U /proc/$p && tr "\0" " " </proc/$p/cmdline && echo &&
		[ "$(readlink /proc/$p/ns/mnt)" != "$(readlink /proc/1/ns/mnt)" ] && echo own-mount-namespace;
		grep -m1 -o "machine.slice/.*" /proc/$p/cgroup')
	if [ "$(echo "$out" | sed -n 1p)" = libvirt-qemu ] &&
		echo "$out" | sed -n 2p | grep -q -- "-name guest=linux1[, ].*-object ioregiond,id=ior0,path=/run/ioregiond/control.sock " &&
		echo "$out" | grep -q '^own-mount-namespace$' &&
		[ "$(virsh_ct "domstate linux1")" = running ]; then
		pass "$lv: virsh start under docs/qemu.md's access section: linux1 running; QEMU runs as libvirt-qemu in its own mount namespace$(echo "$out" | sed -n 4p | sed 's/^/, cgroup /') with -object ioregiond from <qemu:commandline>, no vm= (the VM is -name guest=linux1)"
	else
		echo "$out"
		fail "$lv: after virsh start: $(virsh_ct "domstate linux1"), QEMU not as expected"
	fi
	if console_wait 600 '^guest: userspace up'; then
		pass "$lv: the guest booted in $(($(date +%s) - t0)) s; its kernel log and 'guest: userspace up' came through ioregiond's console socket: $(tr -d '\r' <"$work/console.out" | grep -m1 -o 'ttyS0 at I/O 0x3f8.*')"
	else
		tail -5 "$work/console.out" "$work/console.err" 2>/dev/null
		in_ct "tail -20 /var/log/libvirt/qemu/linux1.log"
		fail "$lv: no 'guest: userspace up' on ioregiond's console socket"
		console_stop
		virsh_ct "destroy linux1" >/dev/null 2>&1
		return
	fi
	# The shell echoes what is typed; only the shell can print 42.
	console_type 'echo virt:$((6*7)) $(cat /sys/class/tpm/tpm0/tpm_version_major)'
	if console_wait 60 '^virt:42 2$'; then
		pass "$lv: a line typed into the console socket reached the guest's shell and its answer came back (virt:42, TPM 2 on ioregiond's tpm-tis)"
	else
		tail -5 "$work/console.out"
		fail "$lv: the guest did not answer on its console"
	fi

	# virsh save is a migration to a file: the device state travels in
	# the stream (patch 0019), linux1's TPM (its swtpm's state blobs)
	# with it; virsh restore starts a new QEMU that loads it into the
	# daemon, and the guest goes on where it was: same PCR 10 (a TPM
	# left behind would not answer: its new swtpm never started up), its
	# console answering.
	console_type 'echo pcr:$(cat /sys/class/tpm/tpm0/pcr-sha256/10)'
	console_wait 60 '^pcr:[0-9A-F]{64}$' ||
		fail "$lv: the guest reads no PCR 10 from its TPM"
	out=$(tr -d '\r' <"$work/console.out" | grep -m1 -E '^pcr:[0-9A-F]{64}$')
	if virsh_ct "save linux1 /var/lib/libvirt/images/linux1.save" >/dev/null &&
		[ "$(virsh_ct "domstate linux1")" = "shut off" ] &&
		in_ct "journalctl -u ioregiond --no-pager -o cat | grep -q 'vm linux1: state saved for'"; then
		pass "$lv: virsh save: linux1 shut off, its device state saved by ioregiond ($(in_ct "journalctl -u ioregiond --no-pager -o cat" | grep -m1 -o 'vm linux1: state saved for.*'))"
	else
		in_ct "tail -5 /var/log/libvirt/qemu/linux1.log"
		fail "$lv: virsh save: domain $(virsh_ct "domstate linux1")"
	fi
	if virsh_ct "restore /var/lib/libvirt/images/linux1.save" >/dev/null &&
		[ "$(virsh_ct "domstate linux1")" = running ] &&
		wait_for 20 "journalctl -u ioregiond --no-pager -o cat | grep -q 'vm linux1: state loaded by'"; then
		console_type 'echo pcr2:$(cat /sys/class/tpm/tpm0/pcr-sha256/10)'
		if console_wait 60 '^pcr2:' && [ "$(tr -d '\r' <"$work/console.out" | grep -m1 '^pcr2:' | cut -c6-)" = "${out#pcr:}" ]; then
			pass "$lv: virsh restore: the guest goes on, its console answers and its TPM's PCR 10 is the one before the save (${out#pcr:}); $(in_ct "journalctl -u ioregiond --no-pager -o cat" | grep -m1 -o 'vm linux1: state loaded by.*')"
		else
			fail "$lv: after virsh restore: PCR 10 $(tr -d '\r' <"$work/console.out" | grep -m1 '^pcr2:'), before it $out"
		fi
	else
		in_ct "tail -5 /var/log/libvirt/qemu/linux1.log"
		fail "$lv: virsh restore: domain $(virsh_ct "domstate linux1")"
	fi

	# virsh reset: QEMU's system_reset, which sends the daemon ResetVm;
	# the UART's scratch register (port 0x3ff) goes back to 0.
	console_type 'printf "\\252" | dd of=/dev/port bs=1 seek=1023 count=1 2>/dev/null; echo scr:$(dd if=/dev/port bs=1 skip=1023 count=1 2>/dev/null | od -An -tu1 | tr -d " ")'
	if ! console_wait 60 '^scr:170$'; then
		tail -3 "$work/console.out"
		fail "$lv: the guest could not set the UART's scratch register"
	fi
	if virsh_ct "reset linux1" >/dev/null &&
		console_wait 600 '^guest: userspace up' 2 &&
		wait_for 10 "journalctl -u ioregiond --no-pager -o cat | grep -q 'vm linux1: reset by qemu: [0-9]* regions back to power-on state'"; then
		pass "$lv: virsh reset reached ioregiond as ResetVm ($(in_ct "journalctl -u ioregiond --no-pager -o cat" | grep -m1 -o 'vm linux1: reset by qemu.*')); the guest booted again on the console"
		console_type 'echo scr:$(dd if=/dev/port bs=1 skip=1023 count=1 2>/dev/null | od -An -tu1 | tr -d " ")'
		if console_wait 60 '^scr:0$'; then
			pass "$lv: the UART's scratch register, 170 before virsh reset, reads 0 after it; the console answers"
		else
			fail "$lv: after virsh reset: $(tr -d '\r' <"$work/console.out" | grep '^scr:' | tail -1)"
		fi
	else
		tail -5 "$work/console.out"
		in_ct "journalctl -u ioregiond --no-pager -o cat -n 10"
		fail "$lv: virsh reset: no reboot on the console or no ResetVm in the daemon's journal"
	fi

	n=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["regions"]))' "$work/valid.json")
	qemu_pid=$(in_ct "cat /run/libvirt/qemu/linux1.pid")
	if [ -z "$qemu_pid" ] || [ "$(svc StatusText)" != "serving $n regions to 1 client" ]; then
		fail "$lv: before virsh destroy: QEMU PID '$qemu_pid', ioregiond $(svc StatusText)"
	fi
	if virsh_ct "destroy linux1" >/dev/null &&
		wait_for 20 "[ ! -e /proc/$qemu_pid ] && [ \"\$(systemctl show -p StatusText --value ioregiond.service)\" = 'serving $n regions to 0 clients' ]" &&
		[ "$(virsh_ct "domstate linux1")" = "shut off" ]; then
		pass "$lv: virsh destroy: QEMU gone, linux1 shut off, ioregiond serving $n regions to 0 clients"
	else
		fail "$lv: virsh destroy: $(virsh_ct "domstate linux1"), $(svc StatusText)"
	fi
	console_stop
	if virsh_ct "undefine linux1" >/dev/null &&
		[ -z "$(virsh_ct "list --all --name")" ] &&
		in_ct "systemctl is-active -q ioregiond.service"; then
		pass "$lv: virsh undefine: no domain left; ioregiond still running"
	else
		fail "$lv: virsh undefine: $(virsh_ct "list --all --name")"
	fi
}

# The container root: bookworm with Debian 12's libvirt (9.0), or with
# libvirt's packages (source libvirt) from bookworm-backports (11.x) and
# everything else from bookworm. Built once per list, as root_for does.
libvirt_root() {
	local from=$1 packages key dir
	if [ "$from" = bookworm ]; then
		root_for libvirt "$2"
		return
	fi
	packages=$(echo $2 | tr ' ' '\n' | sort | tr '\n' ',')
	key=$( (echo "bookworm minbase $packages libvirt from $from"; mmdebstrap --version) |
		sha256sum | cut -c1-16)
	dir=$cache/root-libvirtbpo-$key
	if [ ! -d "$dir" ]; then
		note "building the libvirt root with $from's libvirt (mmdebstrap, once)" >&2
		rm -rf "$cache"/root-libvirtbpo-* && mkdir -p "$cache" &&
		nice -n 19 mmdebstrap --quiet --variant=minbase \
			--include="${packages%,}" \
			--setup-hook="printf 'Package: src:libvirt\nPin: release n=$from\nPin-Priority: 990\n' >\"\$1/etc/apt/preferences.d/libvirt\"" \
			bookworm "$dir.tmp" \
			"deb http://deb.debian.org/debian bookworm main" \
			"deb http://deb.debian.org/debian $from main" \
			>"$work/mmdebstrap.log" 2>&1 &&
		mv "$dir.tmp" "$dir" || { cat "$work/mmdebstrap.log"; return 1; }
	fi
	echo "$dir"
}

# libvirt_tier bookworm|bookworm-backports
libvirt_tier() {
	local from=$1 root t0
	t0=$(date +%s)
	lv=libvirt
	[ "$from" = bookworm ] || lv="libvirt ($from)"
	if [ -z "$qemu" ]; then
		fail "$lv: no patched QEMU (client/qemu/build failed)"
		return
	fi
	nice -n 19 "$top/scripts/deb" >"$work/deb.log" 2>&1 || {
		cat "$work/deb.log"; fail "$lv: scripts/deb"; return; }
	root=$(libvirt_root "$from" "$BASE_PACKAGES $(deb_depends) $LIBVIRT_PACKAGES") ||
		{ fail "$lv: the container root"; return; }
	# Its own network namespace: libvirt's default network, were it
	# started, stays in the container. The console read into nspawn's
	# log: with libvirt's units systemd writes more to it than a pty
	# holds, and, nobody reading a passive console, would block at
	# shutdown (seen: systemd-shutdown in n_tty_write for ever).
	container_start "$root" "${binds[@]}" --private-network --console=read-only || {
		cat "$work/nspawn.log"; container_stop
		skip "$lv: systemd did not boot in the container"; return 77; }
	if in_ct "dpkg -i /src/build/deb/ioregiond_*.deb /src/build/deb/libioregion0_*.deb" >"$work/dpkg.log" 2>&1; then
		libvirt_checks
	else
		cat "$work/dpkg.log"
		fail "$lv: installing the .deb"
	fi
	console_stop
	container_stop
	note "$lv: $(($(date +%s) - t0)) s"
}

# Debian 12's libvirt 9.0, what a Debian 12 host has.
systemd_tier_libvirt() { libvirt_tier bookworm; }
# bookworm-backports' libvirt 11.x, the generation that knows QEMU 10.0
# (Debian 13 pairs the two).
systemd_tier_libvirt_bpo() { libvirt_tier bookworm-backports; }
