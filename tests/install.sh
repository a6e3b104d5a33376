#!/bin/sh
# make install honours DESTDIR and PREFIX, installs programs and man pages,
# and make uninstall takes them away again.
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
check "install makes the state directory, mode 700" \
    "[ \"\$(stat -c %a '$dest/var/lib/pop3d')\" = 700 ]"
make -s uninstall O="$BUILD" DESTDIR="$dest" PREFIX=/opt/p >/dev/null 2>&1
check "uninstall removes them" \
    "[ -z \"\$(find '$dest' -type f)\" ]"
