#!/bin/sh
# systemd-analyze verify on the units as make built them, with the daemon
# and ioregionctl they name taken from the build tree. tests/systemd/run
# installs them and starts them under a real systemd.
set -eu
build=${TOP_BUILDDIR:?}
src=${TOP_SRCDIR:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed -e "s,^\(Exec[A-Za-z]*=\)[^ ]*/\(ioregiond\|ioregionctl\) ,\1$build/\2 ," \
    "$build/systemd/ioregiond.service" > "$tmp/ioregiond.service"
cp "$src/systemd/ioregiond.socket" "$tmp/"
grep -q "^ExecStart=$build/ioregiond --config /" "$tmp/ioregiond.service"
grep -q "^ExecReload=$build/ioregionctl reload" "$tmp/ioregiond.service"
# verify reports unknown users/groups only at run time; the unit syntax,
# directives and Exec binaries are what it checks here.
if ! systemd-analyze verify --man=no "$tmp/ioregiond.socket" "$tmp/ioregiond.service" \
	> "$tmp/out" 2>&1; then
	cat "$tmp/out"
	exit 1
fi
cat "$tmp/out"
# The service is Type=notify, sandboxed, and allows only AF_UNIX.
for want in 'Type=notify' 'RestrictAddressFamilies=AF_UNIX' \
	'MemoryDenyWriteExecute=yes' 'SystemCallFilter=@system-service' \
	'PrivateNetwork=yes' 'NoNewPrivileges=yes' 'ProtectSystem=strict' \
	'User=ioregiond' 'Group=ioregiond'; do
	grep -qx "$want" "$tmp/ioregiond.service" || {
		echo "ioregiond.service lacks $want"; exit 1; }
done
grep -qx 'ListenSequentialPacket=/run/ioregiond/control.sock' "$tmp/ioregiond.socket"
grep -qx 'SocketMode=0660' "$tmp/ioregiond.socket"
# systemd-sysusers reads only *.conf files.
case $(basename "$src"/systemd/sysusers.d/*) in
*.conf) ;;
*) echo "sysusers file is not a .conf"; exit 1 ;;
esac
# The sysusers file makes the service's user and puts it in the group of
# the socket (ExecReload connects as it): applied to an empty root.
mkdir -p "$tmp/root/etc"
systemd-sysusers --root="$tmp/root" "$src"/systemd/sysusers.d/ioregiond.conf
grep -q '^ioregiond:x:[0-9]*:[0-9]*:[^:]*:/:/usr/sbin/nologin$' "$tmp/root/etc/passwd" || {
	echo "sysusers: no ioregiond user"; cat "$tmp/root/etc/passwd"; exit 1; }
grep -q '^ioregion:x:[0-9]*:ioregiond$' "$tmp/root/etc/group" || {
	echo "sysusers: ioregiond is not in group ioregion"; cat "$tmp/root/etc/group"; exit 1; }
echo "systemd units verified"
