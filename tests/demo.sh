#!/bin/sh
# make run: a demo Maildir and pop3d-maildrop on 127.0.0.1 port 1110 under
# tcpserver.  pop3d-maildrop is the stage after login, so the demo session
# starts in the TRANSACTION state: type STAT, LIST, RETR 1, QUIT.
set -e
BUILD=${1:-build}
PORT=${PORT:-1110}
DEMO=$(pwd)/$BUILD/demo
rm -rf "$DEMO"
mkdir -p "$DEMO/Maildir/cur" "$DEMO/Maildir/new" "$DEMO/Maildir/tmp"
now=$(date +%s)
for i in 1 2 3; do
	cat >"$DEMO/Maildir/new/$((now + i)).M${i}P$$.demo" <<MSG
From: demo@example.org
To: you@example.org
Subject: demo message $i

This is demo message $i, served by pop3d-maildrop.
.A line starting with a dot, to see dot-stuffing.
MSG
done
uid=$(id -u)
set --
if [ "$uid" -eq 0 ]; then
	# Never as root: the demo mailbox belongs to nobody.
	chown -R nobody:nogroup "$DEMO"
	set -- -u "$(id -u nobody)" -g "$(id -g nobody)"
fi
echo "pop3d-maildrop serving $DEMO/Maildir on 127.0.0.1:$PORT"
echo "try: nc -C 127.0.0.1 $PORT   (then STAT, LIST, RETR 1, QUIT; Ctrl-C here stops)"
exec tcpserver -v -R -H -l localhost "$@" 127.0.0.1 "$PORT" \
    "$(pwd)/$BUILD/pop3d-maildrop" "$DEMO/Maildir"
