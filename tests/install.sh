#!/bin/sh
# make install honours DESTDIR and PREFIX, installs programs, man pages and
# the deployment kit (deploy/), and make uninstall takes them away again.
BUILD=${1:-build}
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
check() {
	if eval "$2"; then echo "ok - $1"; else echo "not ok - $1"; fi
}
note=$(make -s install O="$BUILD" DESTDIR="$dest" PREFIX=/opt/p 2>&1)
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
    service/pop3s/log/run sysuser.sh; do
	check "the kit's $f is executable" "[ -x '$kit/$f' ]"
done
check "install puts the tmpfiles.d snippet in PREFIX/lib/tmpfiles.d" \
    "[ -f '$dest/opt/p/lib/tmpfiles.d/pop3d.conf' ]"
check "install makes the pre-login chroot /var/empty, mode 555" \
    "[ \"\$(stat -c %a '$dest/var/empty')\" = 555 ]"
check "install makes the state directory, mode 700" \
    "[ \"\$(stat -c %a '$dest/var/lib/pop3d')\" = 700 ]"
# Issue 17: the README's first command wants /etc/pop3d.
check "install makes the configuration directory, mode 700" \
    "[ \"\$(stat -c %a '$dest/etc/pop3d')\" = 700 ]"
check "a DESTDIR install says it made nothing outside DESTDIR" \
    "printf '%s' \"\$note\" | grep -q 'nothing was made outside $dest'"
check "and what the package must do: the system user pop3d" \
    "printf '%s' \"\$note\" | grep -q 'create the system user pop3d when'"
# make deps is for a production host: no test tool; make test-deps adds them.
deps=" $(DEPS_LIST=1 sh tests/deps.sh) "
tdeps=" $(DEPS_LIST=1 sh tests/deps.sh test) "
for p in xinetd daemontools clang mpop fetchmail sslscan strace dovecot-core \
    dovecot-pop3d bindfs; do
	check "make deps leaves out $p" "! echo '$deps' | grep -q ' $p '"
	check "make test-deps installs $p" "echo '$tdeps' | grep -q ' $p '"
done
for p in gcc libcdb-dev libtls-dev ucspi-tcp; do
	check "make deps installs $p" "echo '$deps' | grep -q ' $p '"
done
make -s uninstall O="$BUILD" DESTDIR="$dest" PREFIX=/opt/p >/dev/null 2>&1
check "uninstall removes them" \
    "[ -z \"\$(find '$dest' -type f)\" ]"
check "uninstall removes the kit's folders" \
    "[ ! -e '$dest/opt/p/share/pop3d' ]"

# As root, a real install (no DESTDIR) into a temporary PREFIX, with the
# system directories moved there too and a throwaway pre-login user: it is
# made when missing, and the README's first command then works.
if [ "$(id -u)" -ne 0 ]; then
	echo "ok - # SKIP a real install needs root"
	exit 0
fi
real=$(mktemp -d)
who=p3dinst$$
trap 'rm -rf "$dest" "$real"; userdel "$who" 2>/dev/null' EXIT
out=$(make -s install O="$BUILD" PREFIX="$real/usr" CONFDIR="$real/etc/pop3d" \
    STATEDIR="$real/var/lib/pop3d" CHROOTDIR="$real/var/empty" \
    PREAUTH_USER="$who" 2>&1)
check "a real install succeeds" "[ -x '$real/usr/sbin/pop3d-users' ]"
check "it makes the missing pre-login user $who" "id '$who' >/dev/null 2>&1"
check "a system account, with no login shell" \
    "[ \"\$(id -u '$who')\" -lt 1000 ] &&
    getent passwd '$who' | grep -q ':/usr/sbin/nologin\$'"
check "it says so" "printf '%s' \"\$out\" | grep -q 'creating the system user'"
check "the configuration directory, root's, mode 700" \
    "[ \"\$(stat -c '%a %U' '$real/etc/pop3d')\" = '700 root' ]"
check "the state directory, mode 700" \
    "[ \"\$(stat -c '%a %U' '$real/var/lib/pop3d')\" = '700 root' ]"
check "the chroot, root's, mode 555" \
    "[ \"\$(stat -c '%a %U' '$real/var/empty')\" = '555 root' ]"
POP3D_USERS_FILE=$real/etc/pop3d/users POP3D_USERS_CDB=$real/etc/pop3d/users.cdb
export POP3D_USERS_FILE POP3D_USERS_CDB
check "the README's first command then works" \
    "'$real/usr/sbin/pop3d-users' add alice 1000 1000 /home/alice"
check "and its users.cdb is written at once" \
    "[ -f '$real/etc/pop3d/users.cdb' ]"
out=$(make -s install O="$BUILD" PREFIX="$real/usr" CONFDIR="$real/etc/pop3d" \
    STATEDIR="$real/var/lib/pop3d" CHROOTDIR="$real/var/empty" \
    PREAUTH_USER="$who" 2>&1)
check "a second install leaves the user as it is" \
    "! printf '%s' \"\$out\" | grep -q 'creating'"
