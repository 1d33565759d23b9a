# Sourced by tests/qemu/run and tests/systemd/run: Debian 12's kernel, a
# busybox initramfs that gives a shell on ttyS0, and typing into a UART's
# console socket. Callers set $cache (the download cache) and $work.

# The kernel of Debian 12's linux-image-amd64, downloaded once into
# $cache/linux; prints the path of its vmlinuz.
linux_fetch_kernel() {
	local dir=$cache/linux pkg
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
	      sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -n 1)
	[ -n "$pkg" ] || return 1
	if [ ! -f "$dir/$pkg/vmlinuz" ]; then
		mkdir -p "$dir/$pkg.tmp" &&
		(cd "$dir/$pkg.tmp" && apt-get download -qq "$pkg" >/dev/null 2>&1 &&
		 dpkg-deb --fsys-tarfile ./*.deb | tar -x ./boot) || return 1
		cp "$dir/$pkg.tmp"/boot/vmlinuz-* "$dir/$pkg.tmp/vmlinuz" &&
		rm -rf "$dir/$pkg.tmp/boot" "$dir/$pkg.tmp"/*.deb &&
		mv "$dir/$pkg.tmp" "$dir/$pkg" || return 1
	fi
	echo "$dir/$pkg/vmlinuz"
}

# $work/initramfs.gz: busybox, "guest: userspace up" on the console, then
# a shell on it for ever.
linux_initramfs() {
	local root=$work/root
	mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/sys"
	cp /bin/busybox "$root/bin/busybox"
	cat >"$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t devtmpfs dev /dev
mount -t proc proc /proc
mount -t sysfs sys /sys
echo "guest: userspace up"
while :; do setsid cttyhack sh; done
INIT
	chmod +x "$root/init"
	linux_initramfs_pack
}

# $work/initramfs.gz from $work/root again, after a caller added commands
# of its own to it (short typed lines lose no characters on a busy host).
linux_initramfs_pack() {
	(cd "$work/root" && find . | cpio -o -H newc --quiet | gzip -1) \
		>"$work/initramfs.gz"
}

# linux_type SOCKET TEXT: sends TEXT to a UART's console socket, as a user
# typing.
linux_type() {
	python3 - "$1" "$2" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
for ch in sys.argv[2].encode():
    s.sendall(bytes([ch]))
    time.sleep(0.01)
time.sleep(0.2)
s.close()
PY
}
