#!/bin/sh
# make install honours DESTDIR and PREFIX, installs programs, man pages and
# the deployment kit (deploy/), and make uninstall takes them away again.
BUILD=${1:-build}
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
check() {
	if eval "$2"; then echo "ok - $1"; else echo "not ok - $1"; fi
}
make -s install O="$BUILD" DESTDIR="$dest" PREFIX=/opt/p >/dev/null 2>&1
for bin in "$BUILD"/pop3d*; do
	[ -f "$bin" ] && [ -x "$bin" ] || continue
	prog=${bin##*/}
	check "install puts $prog in PREFIX/sbin" \
	    "[ -x '$dest/opt/p/sbin/$prog' ]"
	check "install puts its man page in PREFIX/share/man/man8" \
	    "[ -f '$dest/opt/p/share/man/man8/$prog.8' ]"
done
# The deployment kit (deploy/deploy.mk): units where systemd looks, with
# the programs' installed paths; the rest as examples.
units=$dest/opt/p/lib/systemd/system
for u in pop3d.socket pop3d@.service pop3s.socket pop3s@.service; do
	check "install puts $u in PREFIX/lib/systemd/system" "[ -f '$units/$u' ]"
done
check "the installed service runs PREFIX/sbin/pop3d" \
    "grep -q '^ExecStart=/opt/p/sbin/pop3d %H /opt/p/sbin/pop3d-auth /opt/p/sbin/pop3d-maildrop Maildir\$' '$units/pop3d@.service'"
check "no /usr/local/sbin is left in any installed kit file" \
    "! grep -rq /usr/local/sbin '$units' '$dest/opt/p/share/pop3d/deploy'"
kit=$dest/opt/p/share/pop3d/deploy
for f in inetd.conf xinetd.d/pop3d pop3d.env systemd/pop3s@.service \
    tmpfiles.d/pop3d.conf; do
	check "install puts the kit's $f in PREFIX/share/pop3d/deploy" \
	    "[ -f '$kit/$f' ]"
done
for f in service/pop3d/run service/pop3d/log/run service/pop3s/run \
    service/pop3s/log/run; do
	check "the kit's $f is executable" "[ -x '$kit/$f' ]"
done
check "install puts the tmpfiles.d snippet in PREFIX/lib/tmpfiles.d" \
    "[ -f '$dest/opt/p/lib/tmpfiles.d/pop3d.conf' ]"
check "install makes the pre-login chroot /var/empty, mode 555" \
    "[ \"\$(stat -c %a '$dest/var/empty')\" = 555 ]"
check "install makes the state directory, mode 700" \
    "[ \"\$(stat -c %a '$dest/var/lib/pop3d')\" = 700 ]"
make -s uninstall O="$BUILD" DESTDIR="$dest" PREFIX=/opt/p >/dev/null 2>&1
check "uninstall removes them" \
    "[ -z \"\$(find '$dest' -type f)\" ]"
check "uninstall removes the kit's folders" \
    "[ ! -e '$dest/opt/p/share/pop3d' ]"
