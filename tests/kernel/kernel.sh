# Builds, caches, packs and boots the patched kernel of kernel-patch/.
# Sourced by tests/kernel/run (which judges the boots) and scripts/demo
# (which shows one to the user on a machine without /dev/kvm); bash. The
# functions return non-zero on failure and expect no errexit (call them as
# "kernel_build ARCH || ...").
#
# The caller sets: top (the source tree), build (a built tree with
# ioregiond & co), work (a scratch directory it removes).
# Environment:
#   IOREGION_KERNEL_CACHE  built kernels, one directory per architecture and
#                          hash of every input (default
#                          /var/cache/ioregiond/kernel)
kernel_here=$top/tests/kernel
kernel_cache=${IOREGION_KERNEL_CACHE:-/var/cache/ioregiond/kernel}
# a config fragment added to the architecture's, when set (tests/kernel/run
# --race): a kernel of its own, with no upstream selftests
kernel_extra=
kernel_tarball=/usr/src/linux-source-6.12.tar.xz

kernel_now() { date +%s; }
kernel_log() { echo "tests/kernel: $*"; }

# kernel_arch_of TARGET: the kernel architecture a boot target runs
kernel_arch_of() {
	case $1 in
	x86_64) echo x86_64 ;;
	arm64) echo arm64 ;;
	ppc64le-*) echo ppc64le ;;
	*) return 1 ;;
	esac
}

# kernel_vars ARCH: sets karch, cross, target, image_path for ARCH, and
# selftest_arch, the ARCH the KVM selftests' Makefile takes for it
kernel_vars() {
	case $1 in
	x86_64) karch=x86 cross= target=bzImage image_path=arch/x86/boot/bzImage
		selftest_arch=x86_64 ;;
	arm64) karch=arm64 cross=aarch64-linux-gnu- target=Image
		image_path=arch/arm64/boot/Image selftest_arch=arm64 ;;
	ppc64le) karch=powerpc cross=powerpc64le-linux-gnu- target=vmlinux
		image_path=vmlinux selftest_arch= ;;
	esac
}

# kernel_source_tree: sets src to the patched source tree. It lives at a
# fixed path in the cache, so that ccache finds the objects of an earlier
# build whatever changed in the series; it is unpacked again unless it is
# already patched with this series (kernel_series_stamp).
kernel_source_tree() {
	src=$kernel_cache/src/linux-source-6.12
	[ "$(cat "$kernel_cache/src/patched" 2>/dev/null)" = "$(kernel_series_stamp)" ] &&
		return 0
	kernel_log "unpacking $kernel_tarball and applying kernel-patch/series"
	rm -rf "$kernel_cache/src" && mkdir -p "$kernel_cache/src" &&
		tar -C "$kernel_cache/src" -xf "$kernel_tarball" &&
		kernel_series_patch
}

# kernel_series_stamp: what the source tree holds once patched (a patch's
# "From <commit>" line says nothing about what it changes)
kernel_series_stamp() {
	{
		dpkg-query -W -f='${Version}\n' linux-source-6.12
		while read -r p; do
			grep -v '^From [0-9a-f]\{40\} ' "$top/kernel-patch/$p"
		done <"$top/kernel-patch/series"
	} | sha256sum | cut -c1-16
}

# kernel_series_patch [-R]: applies kernel-patch/series to $src, or with -R
# takes it out again (last patch first); the stamp says which
kernel_series_patch() {
	local patch patches
	rm -f "$kernel_cache/src/patched"
	patches=$(cat "$top/kernel-patch/series")
	[ $# -eq 0 ] || patches=$(echo "$patches" | tac)
	for patch in $patches; do
		patch -d "$src" -p1 -s --no-backup-if-mismatch "$@" \
			<"$top/kernel-patch/$patch" ||
			{ kernel_log "$patch does not apply $*"; return 1; }
	done
	[ $# -ne 0 ] || kernel_series_stamp >"$kernel_cache/src/patched"
}

# kernel_upstream_tests ARCH: the lines of tests/kernel/upstream-selftests
# for ARCH, without it: "PROGRAM [ARGUMENTS]"
kernel_upstream_tests() {
	[ -n "$kernel_extra" ] || sed -n "s|^$1 ||p" "$kernel_here/upstream-selftests"
}

# kernel_key ARCH: what a cached kernel (and its selftest and init) depends on
kernel_key() {
	{
		kernel_series_stamp
		cat "$kernel_here/$1.config" $kernel_extra "$kernel_here/init.c"
		[ "$1" != ppc64le ] || cat "$kernel_here/ioregion_test_ppc.c"
		kernel_upstream_tests "$1"
		"${cross}gcc" --version | head -1
	} | sha256sum | cut -c1-16
}

# kernel_make_progress LOG PID WHAT: a line every 20 s while the build PID
# runs, so that someone watching sees it move
kernel_make_progress() {
	local s=0
	while kill -0 "$2" 2>/dev/null; do
		sleep 1
		s=$((s + 1))
		if [ $((s % 20)) -eq 0 ]; then
			kernel_log "$3: $(grep -c '^  CC ' "$1") files compiled, $s s"
		fi
	done
}

# kernel_build ARCH: sets kdir to a directory with image, headers/ and
# ioregion_test for ARCH, building them unless cached. Builds share the
# source tree and ccache's directory: one at a time, the others wait on
# the lock (two runs that want the same kernel build it once).
kernel_build() {
	local arch=$1 rc
	kernel_vars "$arch"
	mkdir -p "$kernel_cache"
	kdir=$kernel_cache/$arch-$(kernel_key "$arch")
	exec 9>"$kernel_cache/build.lock"
	flock 9
	kernel_build_locked "$arch"
	rc=$?
	exec 9>&-
	return $rc
}

kernel_build_locked() {
	local arch=$1 t0 o=$kernel_cache/build-$1 pid
	if [ -f "$kdir/done" ]; then
		kernel_log "$arch kernel: cached ($kdir)"
		return 0
	fi
	kernel_source_tree || return 1
	t0=$(kernel_now)
	rm -rf "$kdir" "$o" && mkdir -p "$kdir"
	kernel_ccache -z >/dev/null
	kernel_log "$arch kernel: building into $kdir (a few minutes on 2 cores)"
	{
		kernel_make tinyconfig &&
		"$src/scripts/kconfig/merge_config.sh" -m -O "$o" "$o/.config" \
			"$kernel_here/$arch.config" $kernel_extra &&
		kernel_make olddefconfig
	} || { tail -20 "$kdir/build.log"; return 1; }
	kernel_config_check "$kernel_here/$arch.config" "$o/.config" || return 1
	[ -z "$kernel_extra" ] || kernel_config_check "$kernel_extra" "$o/.config" ||
		return 1
	kernel_make -j"$(nproc)" "$target" &
	pid=$!
	kernel_make_progress "$kdir/build.log" $pid "$arch kernel"
	wait $pid || { grep -E 'error|Error' "$kdir/build.log" | head -20; return 1; }
	kernel_make headers_install INSTALL_HDR_PATH="$kdir/headers" ||
		{ tail -20 "$kdir/build.log"; return 1; }
	kernel_selftests_build "$arch" || return 1
	"${cross}gcc" -static -O2 -Wall -Werror "$kernel_here/init.c" \
		-o "$kdir/init" || return 1
	cp "$o/$image_path" "$kdir/image" && cp "$o/.config" "$kdir/config"
	kernel_log "$arch kernel: built in $(($(kernel_now) - t0)) s ($(kernel_ccache_hits))"
	if [ -n "$(kernel_upstream_tests "$arch")" ]; then
		kernel_unpatched_build "$arch" || return 1
	fi
	rm -rf "$o"
	kernel_prune "$arch"
	touch "$kdir/done"
}

# kernel_make TARGET...: make in the build directory $o, logged; the
# compiler goes through ccache where there is one
kernel_make() {
	local cc=${cross}gcc
	command -v ccache >/dev/null && cc="ccache $cc"
	CCACHE_DIR=$kernel_cache/ccache CCACHE_MAXSIZE=4G \
		make -C "$src" O="$o" ARCH=$karch CROSS_COMPILE=$cross CC="$cc" \
		"$@" >>"$kdir/build.log" 2>&1
}

# kernel_ccache ARG...: ccache on the kernels' cache directory
kernel_ccache() {
	command -v ccache >/dev/null && CCACHE_DIR=$kernel_cache/ccache ccache "$@"
}

# kernel_ccache_hits: how many compilations of this build ccache answered
kernel_ccache_hits() {
	kernel_ccache --print-stats 2>/dev/null |
		awk -F'\t' '$1 ~ /^(direct|preprocessed)_cache_hit$/ { h += $2 }
			$1 == "cache_miss" { m = $2 }
			END { if (NR) printf "ccache: %d hits, %d misses", h, m
			      else printf "no ccache" }'
}

# kernel_prune ARCH: keeps the three newest cached kernels of ARCH
kernel_prune() {
	ls -dt "$kernel_cache/$1"-*/ 2>/dev/null | tail -n +4 | xargs -r rm -rf
	find "$kernel_cache" -maxdepth 1 -name "$1-*.lock" -delete
}

# kernel_selftests_build ARCH: $kdir/ioregion_test for ARCH, and where
# tests/kernel/upstream-selftests names some, the upstream KVM selftests
# in $kdir/upstream with the list /init runs. They are built by the KVM
# selftests' Makefile, on kvm_util, against the headers of this kernel;
# kvm_util has no powerpc, where ioregion_test is tests/kernel's
# raw-ioctl ioregion_test_ppc.c.
kernel_selftests_build() {
	local arch=$1 st=$kdir/upstream prog args progs=
	mkdir -p "$st"
	while read -r prog args; do
		progs="$progs $st/$prog"
		echo "/upstream/$prog${args:+ $args}" >>"$st/list"
	done < <(kernel_upstream_tests "$arch")
	if [ -z "$selftest_arch" ]; then
		"${cross}gcc" -static -O2 -Wall -Werror -I"$kdir/headers/include" \
			-I"$src/tools/testing/selftests" \
			"$kernel_here/ioregion_test_ppc.c" -lpthread \
			-o "$kdir/ioregion_test"
		return
	fi
	# shellcheck disable=SC2086
	make -C "$src/tools/testing/selftests/kvm" -j"$(nproc)" \
		ARCH="$selftest_arch" CROSS_COMPILE=$cross OUTPUT="$st" \
		LINUX_HDR_PATH="$kdir/headers/include" \
		KHDR_INCLUDES="-isystem $kdir/headers/include" LDFLAGS=-static \
		$progs "$st/ioregion_test" >>"$kdir/build.log" 2>&1 ||
		{ kernel_log "$arch KVM selftests do not build"; tail -20 "$kdir/build.log"; return 1; }
	mv "$st/ioregion_test" "$kdir/ioregion_test"
	find "$st" -name '*.[od]' -delete
}

# kernel_unpatched_build ARCH: the same kernel without the series as
# $kdir/image-unpatched, for the upstream selftests to compare. The series
# is taken out of $src and the build in $o redone, so only what the series
# touches is compiled again; then the series goes back in.
kernel_unpatched_build() {
	local arch=$1 t0
	t0=$(kernel_now)
	kernel_series_patch -R || return 1
	{
		kernel_make olddefconfig &&
		kernel_config_check "$kernel_here/$arch.config" "$o/.config" &&
		kernel_make -j"$(nproc)" "$target" &&
		cp "$o/$image_path" "$kdir/image-unpatched"
	} || { tail -20 "$kdir/build.log"; kernel_series_patch; return 1; }
	kernel_series_patch || return 1
	kernel_log "$arch kernel without the series: built in $(($(kernel_now) - t0)) s"
}

# kernel_config_check FRAGMENT CONFIG: every option of the fragment took effect
kernel_config_check() {
	local bad
	bad=$(grep '^CONFIG_' "$1" | while read -r line; do
		grep -qx "$line" "$2" || echo "$line"
	done)
	[ -z "$bad" ] || { kernel_log "config options that did not apply: $bad"; return 1; }
}

# kernel_copy_with_libs FILE DEST: FILE into DEST/bin, the libraries it
# needs into DEST/lib (kernel_qemu puts LD_LIBRARY_PATH=/lib on the x86_64
# kernel command line), and its ELF interpreter at the path the binary names
kernel_copy_with_libs() {
	local interp
	cp "$1" "$2/bin/"
	ldd "$1" | sed -n 's|.*=> \(/[^ ]*\).*|\1|p' | xargs -r cp -L -t "$2/lib/"
	interp=$(ldd "$1" | sed -n 's|^[[:space:]]*\(/[^ ]*\) .*|\1|p')
	mkdir -p "$2$(dirname "$interp")" && cp -L "$interp" "$2$interp"
}

# kernel_initramfs TARGET: packs $work/TARGET.cpio.gz with init and the
# selftest, and on x86_64 the userspace of kernel_x86_userspace
kernel_initramfs() {
	local t=$1 r
	r=$work/root-$t
	rm -rf "$r"
	mkdir -p "$r/bin" "$r/lib"
	cp "$kdir/init" "$r/init"
	cp "$kdir/ioregion_test" "$r/ioregion_test"
	if [ "$(kernel_arch_of "$t")" = x86_64 ]; then
		kernel_x86_userspace "$r" || return 1
	fi
	kernel_cpio "$r" "$work/$t.cpio.gz"
}

# kernel_cpio ROOT FILE: packs ROOT as the gzipped initramfs FILE
kernel_cpio() {
	(cd "$1" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"$2"
}

# kernel_upstream_initramfs TARGET: packs $work/TARGET-upstream.cpio.gz
# with init and the upstream selftests of kernel_selftests_build
kernel_upstream_initramfs() {
	local r=$work/root-$1-upstream
	rm -rf "$r" && mkdir -p "$r" &&
	cp "$kdir/init" "$r/init" && cp -r "$kdir/upstream" "$r/upstream" &&
	kernel_cpio "$r" "$work/$1-upstream.cpio.gz"
}

# kernel_x86_userspace ROOT: busybox and bash, ioregiond, ioregionctl and
# ioregion-vmm with their libraries, the guests and benchmark guests, and
# /build laid out like a build tree so that the host's test scripts
# (tests/integration/kvm_test.sh, vmm_pending_test.sh) and
# scripts/demo-guests run unchanged
kernel_x86_userspace() {
	local r=$1 stage=$work/stage a
	cp /bin/busybox "$r/bin/busybox"
	for a in $(/bin/busybox --list); do
		[ -e "$r/bin/$a" ] || ln -s busybox "$r/bin/$a"
	done
	rm -f "$r/bin/bash" "$r/bin/sh"
	kernel_copy_with_libs /bin/bash "$r" && ln -s bash "$r/bin/sh"
	rm -rf "$stage"
	make -C "$build" -s install DESTDIR="$stage" >/dev/null 2>&1 ||
		{ kernel_log "make install of $build failed"; return 1; }
	mkdir -p "$r/build/tests/guests" "$r/bench"
	for a in ioregiond ioregionctl ioregion-vmm; do
		rm -f "$r/bin/$a"
		LD_LIBRARY_PATH=$(dirname "$(find "$stage" -name 'libioregion.so*' | head -1)") \
			kernel_copy_with_libs "$(find "$stage" -path "*/bin/$a" -o -path "*/sbin/$a" | head -1)" "$r" ||
			return 1
		ln -s "/bin/$a" "$r/build/$a"
	done
	# reopen_test, linked with libioregion (a libtool wrapper when shared)
	make -C "$build" -s tests/integration/reopen_test >/dev/null || return 1
	a=$build/tests/integration/.libs/reopen_test
	[ -f "$a" ] || a=$build/tests/integration/reopen_test
	LD_LIBRARY_PATH=$(dirname "$(find "$stage" -name 'libioregion.so*' | head -1)") \
		kernel_copy_with_libs "$a" "$r" || return 1
	make -C "$build" -s tests/guests/hello.bin tests/guests/ramtest.bin \
		tests/guests/doorbell.bin tests/guests/mailbox.bin \
		tests/guests/hotplug.bin tests/guests/pending.bin \
		bench/kread_unclaimed.bin \
		bench/kread_daemon.bin bench/kpost.bin >/dev/null || return 1
	cp "$build"/tests/guests/*.bin "$r/build/tests/guests/"
	cp "$build"/bench/k*.bin "$r/bench/"
	cp "$kernel_here/x86_64-guest.sh" "$kernel_here/x86_64-lib.sh" \
		"$kernel_here/x86_64-bench.sh" "$top/tests/integration/kvm_test.sh" \
		"$top/tests/integration/vmm_pending_test.sh" \
		"$top/scripts/demo-guests" "$r/"
	kernel_x86_qemu "$r"
}

# kernel_x86_qemu ROOT: the patched QEMU (client/qemu/build, cached), its
# firmware and the PVH builds of the tiny guests, for tests/qemu/tiny-guests
# and tests/qemu/pending-migration on the in-kernel path
kernel_x86_qemu() {
	local r=$1 q
	q=$("$top/client/qemu/build") || { kernel_log "client/qemu/build failed"; return 1; }
	kernel_copy_with_libs "$q" "$r" && strip "$r/bin/qemu-system-x86_64" || return 1
	mkdir -p "$r/share/qemu"
	cp /usr/share/seabios/bios-256k.bin /usr/share/qemu/pvh.bin \
		/usr/share/qemu/kvmvapic.bin "$r/share/qemu/" || return 1
	make -C "$build" -s tests/guests/hello-pvh.elf tests/guests/ramtest-pvh.elf \
		tests/guests/gone-pvh.elf tests/guests/pending-pvh.elf \
		tests/guests/reconnect-pvh.elf tests/guests/busy-pvh.elf >/dev/null || return 1
	cp "$build"/tests/guests/*-pvh.elf "$r/build/tests/guests/"
	cp "$top/tests/qemu/tiny-guests" "$top/tests/qemu/pending-migration" "$r/"
}

# kernel_qemu TARGET: sets qemu (the command line) and append (kernel
# arguments) to boot TARGET
kernel_qemu() {
	case $1 in
	x86_64)
		qemu="qemu-system-x86_64 -accel tcg -cpu qemu64,+svm"
		# the libraries kernel_x86_userspace copied, bash's included
		append="console=ttyS0 LD_LIBRARY_PATH=/lib" ;;
	arm64)
		qemu="qemu-system-aarch64 -M virt,virtualization=on,gic-version=3 -cpu max -accel tcg"
		append="console=ttyAMA0" ;;
	ppc64le-pr)
		qemu="qemu-system-ppc64 -M pseries -cpu POWER9 -accel tcg"
		append="disable_radix IOREGION_TEST_VM_TYPE=2" ;;
	ppc64le-hv)
		qemu="qemu-system-ppc64 -M pseries,cap-nested-hv=on -cpu POWER9 -accel tcg"
		append="IOREGION_TEST_VM_TYPE=1" ;;
	ppc64le-pr-powernv)
		# the kernel as the hypervisor of a bare-metal POWER9: there the
		# guest's "sc 1" reaches KVM-PR (under pseries QEMU answers it)
		qemu="qemu-system-ppc64 -M powernv9 -accel tcg"
		append="disable_radix IOREGION_TEST_VM_TYPE=2" ;;
	*) return 1 ;;
	esac
}

# kernel_boot TARGET SECONDS RUN [ARG...]: boots TARGET's kernel and
# initramfs, /init running RUN (a path inside the initramfs) with the extra
# kernel arguments ARG...; the console goes to stdout, carriage returns
# removed, line by line as it comes. Returns QEMU's status (124: timeout).
# boot_image and boot_initrd, when set, name another kernel and initramfs.
kernel_boot() {
	local t=$1 limit=$2 run=$3
	shift 3
	kernel_qemu "$t" || { kernel_log "unknown target $t"; return 1; }
	# shellcheck disable=SC2086
	timeout "$limit" $qemu -m 1024 -smp 2 -nographic -no-reboot \
		-kernel "${boot_image:-$kdir/image}" \
		-initrd "${boot_initrd:-$work/$t.cpio.gz}" \
		-append "quiet panic=-1 $append IOREGION_RUN=$run $*" </dev/null 2>&1 |
		sed -u 's/\r$//'
	return "${PIPESTATUS[0]}"
}
