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

# kernel_vars ARCH: sets karch, cross, target, image_path for ARCH
kernel_vars() {
	case $1 in
	x86_64) karch=x86 cross= target=bzImage image_path=arch/x86/boot/bzImage ;;
	arm64) karch=arm64 cross=aarch64-linux-gnu- target=Image
		image_path=arch/arm64/boot/Image ;;
	ppc64le) karch=powerpc cross=powerpc64le-linux-gnu- target=vmlinux
		image_path=vmlinux ;;
	esac
}

# The patched source tree, unpacked once per run and only when a kernel
# has to be built.
kernel_source_tree() {
	src=$work/linux-source-6.12
	[ -d "$src" ] && return 0
	kernel_log "unpacking $kernel_tarball and applying kernel-patch/series"
	tar -C "$work" -xf "$kernel_tarball" || return 1
	while read -r patch; do
		patch -d "$src" -p1 -s --no-backup-if-mismatch \
			<"$top/kernel-patch/$patch" ||
			{ kernel_log "$patch does not apply"; return 1; }
	done <"$top/kernel-patch/series"
}

# kernel_key ARCH: what a cached kernel (and its selftest and init) depends on
kernel_key() {
	{
		while read -r p; do
			grep -v '^From [0-9a-f]\{40\} ' "$top/kernel-patch/$p"
		done <"$top/kernel-patch/series"
		cat "$kernel_here/$1.config" "$kernel_here/init.c"
		dpkg-query -W -f='${Version}\n' linux-source-6.12
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
# ioregion_test for ARCH, building them unless cached. Two runs that want
# the same kernel at once build it once: the second waits on the lock.
kernel_build() {
	local arch=$1 rc
	kernel_vars "$arch"
	mkdir -p "$kernel_cache"
	kdir=$kernel_cache/$arch-$(kernel_key "$arch")
	exec 9>"$kdir.lock"
	flock 9
	kernel_build_locked "$arch"
	rc=$?
	exec 9>&-
	return $rc
}

kernel_build_locked() {
	local arch=$1 t0 o pid
	if [ -f "$kdir/done" ]; then
		kernel_log "$arch kernel: cached ($kdir)"
		return 0
	fi
	kernel_source_tree || return 1
	t0=$(kernel_now)
	rm -rf "$kdir" && mkdir -p "$kdir"
	o=$kdir/build
	kernel_log "$arch kernel: building into $kdir (a few minutes on 2 cores)"
	{
		make -C "$src" O="$o" ARCH=$karch CROSS_COMPILE=$cross tinyconfig &&
		"$src/scripts/kconfig/merge_config.sh" -m -O "$o" "$o/.config" \
			"$kernel_here/$arch.config" &&
		make -C "$src" O="$o" ARCH=$karch CROSS_COMPILE=$cross olddefconfig
	} >"$kdir/build.log" 2>&1 || { tail -20 "$kdir/build.log"; return 1; }
	kernel_config_check "$kernel_here/$arch.config" "$o/.config" || return 1
	make -C "$src" O="$o" ARCH=$karch CROSS_COMPILE=$cross -j"$(nproc)" \
		"$target" >>"$kdir/build.log" 2>&1 &
	pid=$!
	kernel_make_progress "$kdir/build.log" $pid "$arch kernel"
	wait $pid || { grep -E 'error|Error' "$kdir/build.log" | head -20; return 1; }
	make -C "$src" O="$o" ARCH=$karch CROSS_COMPILE=$cross headers_install \
		INSTALL_HDR_PATH="$kdir/headers" >>"$kdir/build.log" 2>&1 ||
		{ tail -20 "$kdir/build.log"; return 1; }
	"${cross}gcc" -static -O2 -Wall -Werror -I"$kdir/headers/include" \
		-I"$src/tools/testing/selftests" \
		"$src/tools/testing/selftests/kvm/ioregion_test.c" -lpthread \
		-o "$kdir/ioregion_test" || return 1
	"${cross}gcc" -static -O2 -Wall -Werror "$kernel_here/init.c" \
		-o "$kdir/init" || return 1
	cp "$o/$image_path" "$kdir/image" && cp "$o/.config" "$kdir/config"
	rm -rf "$o"
	kernel_log "$arch kernel: built in $(($(kernel_now) - t0)) s"
	touch "$kdir/done"
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
	(cd "$r" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"$work/$t.cpio.gz"
}

# kernel_x86_userspace ROOT: busybox and bash, ioregiond, ioregionctl and
# ioregion-vmm with their libraries, the guests and benchmark guests, and
# /build laid out like a build tree so that the host's test scripts
# (tests/integration/kvm_test.sh) and scripts/demo-guests run unchanged
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
	make -C "$build" -s tests/guests/hello.bin tests/guests/ramtest.bin \
		tests/guests/doorbell.bin tests/guests/mailbox.bin \
		tests/guests/hotplug.bin bench/kread_unclaimed.bin \
		bench/kread_daemon.bin bench/kpost.bin >/dev/null || return 1
	cp "$build"/tests/guests/*.bin "$r/build/tests/guests/"
	cp "$build"/bench/k*.bin "$r/bench/"
	cp "$kernel_here/x86_64-guest.sh" "$top/tests/integration/kvm_test.sh" \
		"$top/scripts/demo-guests" "$r/"
	kernel_x86_qemu "$r"
}

# kernel_x86_qemu ROOT: the patched QEMU (client/qemu/build, cached), its
# firmware and the PVH builds of the tiny guests, for tests/qemu/tiny-guests
# on the in-kernel path
kernel_x86_qemu() {
	local r=$1 q
	q=$("$top/client/qemu/build") || { kernel_log "client/qemu/build failed"; return 1; }
	kernel_copy_with_libs "$q" "$r" && strip "$r/bin/qemu-system-x86_64" || return 1
	mkdir -p "$r/share/qemu"
	cp /usr/share/seabios/bios-256k.bin /usr/share/qemu/pvh.bin \
		/usr/share/qemu/kvmvapic.bin "$r/share/qemu/" || return 1
	make -C "$build" -s tests/guests/hello-pvh.elf tests/guests/ramtest-pvh.elf \
		tests/guests/gone-pvh.elf >/dev/null || return 1
	cp "$build"/tests/guests/*-pvh.elf "$r/build/tests/guests/"
	cp "$top/tests/qemu/tiny-guests" "$r/"
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
	*) return 1 ;;
	esac
}

# kernel_boot TARGET SECONDS RUN [ARG...]: boots TARGET's kernel and
# initramfs, /init running RUN (a path inside the initramfs) with the extra
# kernel arguments ARG...; the console goes to stdout, carriage returns
# removed, line by line as it comes. Returns QEMU's status (124: timeout).
kernel_boot() {
	local t=$1 limit=$2 run=$3
	shift 3
	kernel_qemu "$t" || { kernel_log "unknown target $t"; return 1; }
	# shellcheck disable=SC2086
	timeout "$limit" $qemu -m 1024 -smp 2 -nographic -no-reboot \
		-kernel "$kdir/image" -initrd "$work/$t.cpio.gz" \
		-append "quiet panic=-1 $append IOREGION_RUN=$run $*" </dev/null 2>&1 |
		sed -u 's/\r$//'
	return "${PIPESTATUS[0]}"
}
