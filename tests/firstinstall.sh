#!/bin/sh
# The README's first install, word for word, as on a fresh machine: in
# private mount and network namespaces whose /etc, /usr/local, /var and
# /home are overlays (the host keeps none of it), without the system user
# pop3d, /etc/pop3d, /var/lib/pop3d and /var/empty, the README's commands
# run, then a client logs in as alice over port 110 (issue 17).  Root only;
# skipped when namespaces or overlays are not to be had, or when make
# deps would install packages (into the real /usr, with dpkg's records in
# the overlay).
BUILD=${1:-build}
if [ "$(id -u)" -ne 0 ]; then
	echo "ok - # SKIP the first install needs root"
	exit 0
fi
if [ "$2" != inside ]; then
	for p in $(DEPS_LIST=1 sh tests/deps.sh); do
		if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
		    grep -q 'install ok installed'; then
			echo "ok - # SKIP make deps would install $p"
			exit 0
		fi
	done
	if ! unshare -m -n --propagation private true 2>/dev/null; then
		echo "ok - # SKIP no private namespaces here"
		exit 0
	fi
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	# The README's block under "A real server, on a fresh Debian machine".
	awk '/^A real server, on a fresh Debian machine/ { f = 1; next }
	    f && /^```$/ { if (++n == 2) exit; next }
	    f && n == 1' README.md >"$work/readme.sh"
	WORK=$work unshare -m -n --propagation private sh "$0" "$BUILD" inside
	exit $?
fi

check() {
	if eval "$2"; then
		echo "ok - $1"
	else
		echo "not ok - $1"
		return 1
	fi
}
for d in etc usr/local var home; do
	n=$(echo "$d" | tr / _)
	mkdir -p "$WORK/upper/$n" "$WORK/work/$n"
	if [ ! -d "/$d" ]; then
		echo "ok - # SKIP no /$d to lay an overlay on"
		exit 0
	fi
	o="lowerdir=/$d,upperdir=$WORK/upper/$n,workdir=$WORK/work/$n"
	if ! mount -t overlay overlay -o "$o" "/$d"; then
		echo "ok - # SKIP no overlay for /$d"
		exit 0
	fi
done
if ! ip link set lo up; then
	echo "ok - # SKIP no loopback in the private network"
	exit 0
fi
# A fresh machine: none of what make install prepares.
userdel pop3d 2>/dev/null
userdel -r alice 2>/dev/null
rm -rf /etc/pop3d /var/lib/pop3d /var/empty /usr/local/sbin/pop3d*
check "the README's block is found" "grep -q '^tcpserver ' '$WORK/readme.sh'"
# The commands as written; the server in the background, the password
# (pop3d-users passwd reads a line when stdin is no terminal) on stdin.
sed -e 's/[[:space:]]*#.*$//' -e '/^tcpserver /s/$/ \&/' \
    -e '/^tcpserver /!s/$/ || exit 1/' "$WORK/readme.sh" >"$WORK/run.sh"
echo 'echo $! >"$WORK/server.pid"' >>"$WORK/run.sh"
export PATH="/usr/local/sbin:$PATH" WORK
printf 's3cret\n' | sh "$WORK/run.sh" >"$WORK/out" 2>&1
check "the README's commands succeed" "[ -s '$WORK/server.pid' ]" ||
    sed 's/^/#   /' "$WORK/out" | tail -n 5
check "make install made the system user pop3d" "id pop3d >/dev/null 2>&1"
check "and /etc/pop3d, mode 700" \
    "[ \"\$(stat -c '%a %U' /etc/pop3d)\" = '700 root' ]"
check "pop3d-users compiled /etc/pop3d/users.cdb" "[ -f /etc/pop3d/users.cdb ]"
i=0
while [ $i -lt 100 ] && ! python3 -c 'import socket
socket.create_connection(("127.0.0.1", 110), 1).close()' 2>/dev/null; do
	sleep 0.1
	i=$((i + 1))
done
python3 -c 'import poplib
p = poplib.POP3("127.0.0.1", 110, timeout=30)
p.user("alice")
print(p.pass_("s3cret").decode())
p.quit()' >"$WORK/reply" 2>&1
check "alice logs in, a new account served an empty Maildir" \
    "grep -qx '+OK maildrop has 0 messages (0 octets)' '$WORK/reply'" ||
    sed 's/^/#   /' "$WORK/reply" | tail -n 2
check "made at the first login" "[ -d /home/alice/Maildir/new ]"
if [ -s "$WORK/server.pid" ]; then
	kill "$(cat "$WORK/server.pid")"
fi
