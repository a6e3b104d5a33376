#!/bin/sh
# make run: the whole chain on 127.0.0.1 port 1110 (STLS offered) and port
# 1995 (implicit TLS) under tcpserver, with a demo account "demo" (password
# "demo", APOP secret "demo-apop"), a Maildir holding a welcome message and
# a self-signed certificate for localhost, all under build/demo.
set -e
BUILD=${1:-build}
PORT=${PORT:-1110}
TLSPORT=${TLSPORT:-1995}
TOP=$(pwd)
DEMO=$TOP/$BUILD/demo
B=$TOP/$BUILD
rm -rf "$DEMO"
mkdir -p "$DEMO/home/Maildir/cur" "$DEMO/home/Maildir/new" \
    "$DEMO/home/Maildir/tmp" "$DEMO/etc" "$DEMO/empty"
now=$(date +%s)
cat >"$DEMO/home/Maildir/new/$now.M1P$$.demo" <<MSG
From: postmaster@localhost
To: demo@localhost
Subject: Welcome to pop3d

This message came through the whole chain: pop3d (the front), pop3d-auth
(the user database) and pop3d-maildrop (this Maildir).
.A line starting with a dot, to see dot-stuffing at work.
MSG
if [ "$(id -u)" -eq 0 ]; then
	# The mail belongs to nobody; the pre-login jail to root alone, and
	# its processes to their own user (pop3d-auth refuses their uid).
	sh "$TOP/deploy/sysuser.sh" pop3d || exit 1
	uid=$(id -u nobody)
	gid=$(id -g nobody)
	chown -R "$uid:$gid" "$DEMO/home"
	chmod 555 "$DEMO/empty"
	if ! setpriv --reuid="$uid" --regid="$gid" --clear-groups \
	    test -x "$DEMO/home/Maildir"; then
		echo "run: user nobody cannot reach $DEMO/home;" \
		    "use a checkout under a directory others can enter" >&2
		exit 1
	fi
else
	uid=$(id -u)
	gid=$(id -g)
fi
users() { "$B/pop3d-users" -f "$DEMO/etc/users" -d "$DEMO/etc/users.cdb" "$@"; }
users add demo "$uid" "$gid" "$DEMO/home" >/dev/null
echo demo | users passwd -s demo >/dev/null
echo demo-apop | users apop -s demo >/dev/null
users compile >/dev/null

# Access rules: loopback only, everything else refused (pop3d-rules(5)).
cat >"$DEMO/etc/rules" <<RULES
# make run's access rules
127.0.0.0/8:allow
::1:allow
:deny
RULES
"$B/pop3d-rules" -f "$DEMO/etc/rules" -d "$DEMO/etc/rules.cdb" compile
mkdir -m 700 "$DEMO/state"
sh "$TOP/tests/tls-cert.sh" "$DEMO/tls" localhost >/dev/null

export POP3D_USERS_CDB="$DEMO/etc/users.cdb"
export POP3D_CHROOT="$DEMO/empty"
export POP3D_APOP=1
export POP3D_RULES="$DEMO/etc/rules.cdb"
export POP3D_STATE_DIR="$DEMO/state"
export POP3D_TLS_CERT="$DEMO/tls/localhost.pem"
export POP3D_TLS_KEY="$DEMO/tls/localhost.key"
cat <<TXT
pop3d serving the demo account on 127.0.0.1:$PORT (STLS) and
127.0.0.1:$TLSPORT (implicit TLS); Ctrl-C stops both
  curl -u demo:demo pop3://127.0.0.1:$PORT/1
  curl -u demo:demo --ssl-reqd --cacert $DEMO/tls/localhost.pem pop3://localhost:$PORT/1
  curl -u demo:demo --cacert $DEMO/tls/localhost.pem pop3s://localhost:$TLSPORT/1
  openssl s_client -quiet -connect 127.0.0.1:$TLSPORT -CAfile $DEMO/tls/localhost.pem
  python3 -c 'import poplib; p = poplib.POP3("127.0.0.1", $PORT); p.user("demo"); p.pass_("demo"); print(p.stat()); p.quit()'
  nc -C 127.0.0.1 $PORT      (then USER demo, PASS demo, LIST, RETR 1, QUIT)
  $B/pop3d-rules -d $DEMO/etc/rules.cdb -s $DEMO/state query 127.0.0.1
TXT
tcpserver -v -R -H -l localhost -c 40 -b 40 127.0.0.1 "$TLSPORT" \
    "$B/pop3d" -t localhost "$B/pop3d-auth" "$B/pop3d-maildrop" Maildir &
tls=$!
trap 'kill $tls 2>/dev/null' EXIT INT TERM
tcpserver -v -R -H -l localhost -c 40 -b 40 127.0.0.1 "$PORT" \
    "$B/pop3d" localhost "$B/pop3d-auth" "$B/pop3d-maildrop" Maildir
