#!/bin/sh
# systemd-analyze verify on the units as built, with the daemon binary they
# name in place.
set -eu
build=${TOP_BUILDDIR:?}
src=${TOP_SRCDIR:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed -e "s|@sbindir@|$build|g" -e "s|@sysconfdir@|$tmp|g" \
    "$src/systemd/ioregiond.service.in" > "$tmp/ioregiond.service"
cp "$src/systemd/ioregiond.socket" "$tmp/"
# verify reports unknown users/groups only at run time; the unit syntax,
# directives and ExecStart binary are what it checks here.
if ! systemd-analyze verify --man=no "$tmp/ioregiond.socket" "$tmp/ioregiond.service" \
	> "$tmp/out" 2>&1; then
	cat "$tmp/out"
	exit 1
fi
cat "$tmp/out"
# The service is Type=notify, sandboxed, and allows only AF_UNIX.
for want in 'Type=notify' 'RestrictAddressFamilies=AF_UNIX' \
	'MemoryDenyWriteExecute=yes' 'SystemCallFilter=@system-service' \
	'PrivateNetwork=yes' 'NoNewPrivileges=yes' 'ProtectSystem=strict'; do
	grep -qx "$want" "$tmp/ioregiond.service" || {
		echo "ioregiond.service lacks $want"; exit 1; }
done
grep -qx 'ListenSequentialPacket=/run/ioregiond/control.sock' "$tmp/ioregiond.socket"
grep -qx 'SocketMode=0660' "$tmp/ioregiond.socket"
echo "systemd units verified"
