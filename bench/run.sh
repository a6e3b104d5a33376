#!/bin/sh
# bench/run.sh BUILD: pop3d against a private Dovecot, side by side (issue 8).
#
# Run by "make bench" as root.  Installs dovecot-core and dovecot-pop3d
# with apt-get when dovecot is missing (a system-wide Dovecot, if any, is
# neither stopped nor used: ours has its own config, base_dir and ports).
# Everything lives under $BENCH (default BUILD/bench/work): the generated
# mail (kept between runs), both servers' homes (rebuilt every run), logs
# and results.txt (one line per measurement, as popload prints it).
#
# Settings (environment):
#   ROUNDS=3         rounds; the servers alternate who goes first
#   SECONDS_RUN=10   length of each sessions/greet run
#   SCENARIOS="ceiling sessions download tls bigbox retrmem idle"
#                    (bigbox also times a big mailbox carried over from
#                    Dovecot: its dovecot-uidlist, pop3d's warm session);
#                    "mbox100k mboxretr mboxmem", not run by default, add
#                    popa3d and Dovecot's mbox (bench/mbox.sh, issue 19)
#   HASH=yescrypt    password scheme for both servers (or sha512, bcrypt)
#   TLSKEY=ec        both servers' key: EC P-256, or rsa (RSA-2048)
#   IDLE="500 2000"  idle session counts (one round: memory is not noisy)
#   PORT=17110       first of the loopback ports used (PORT .. PORT+5;
#                    PORT+6, PORT+7 for popa3d in the mbox scenarios)
#   POPA3D=path      the mbox scenarios' popa3d (default: fetched, unpacked)
set -eu
BUILD=${1:-build}
TOP=$(pwd)
B=$TOP/$BUILD
BB=$B/bench
BENCH=${BENCH:-$BB/work}
ROUNDS=${ROUNDS:-3}
SECONDS_RUN=${SECONDS_RUN:-10}
SCENARIOS=${SCENARIOS:-ceiling sessions download tls bigbox retrmem idle}
HASH=${HASH:-yescrypt}
IDLE=${IDLE:-500 2000}
PORT=${PORT:-17110}
P_POP=$PORT
P_POPS=$((PORT + 1))
P_DOV=$((PORT + 2))
P_DOVS=$((PORT + 3))
P_NOP=$((PORT + 4))
P_IDLE=$((PORT + 5))
PASS=bench-secret
NSESS=16	# users s0..s15, one per sessions client
NIDLE=2000	# users i0..i1999

if [ "$(id -u)" -ne 0 ]; then
	echo "bench: run as root (it starts two servers that switch users," \
	    "and may install Dovecot)" >&2
	exit 1
fi
if ! command -v dovecot >/dev/null 2>&1; then
	echo "bench: installing dovecot-core and dovecot-pop3d" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y \
	    dovecot-core dovecot-pop3d >&2
fi
for p in tcpserver dovecot; do
	command -v $p >/dev/null 2>&1 || {
		echo "bench: $p is missing" >&2
		exit 1
	}
done

# pop3d's pre-login user, as an install makes it (Dovecot has dovenull):
# without it pop3d falls back to nobody after an NSS lookup per connection.
if ! id pop3d >/dev/null 2>&1; then
	echo "bench: adding the system user pop3d" >&2
	useradd -r -M -d /nonexistent -s /usr/sbin/nologin pop3d
fi

has() { case " $SCENARIOS " in *" $1 "*) return 0 ;; esac; return 1; }
log() { echo "bench: $*" >&2; }

mkdir -p "$BENCH"
chmod 755 "$BENCH"
RES=$BENCH/results.txt
: >"$RES"
uid=$(id -u nobody)
gid=$(id -g nobody)

# The mail: made once, kept (same seed, same bytes).  The manifests are
# *.mh, hashed as bench/mhash.h does; a pool with the older FNV-1a
# *.manifest files is made again.
POOL=$BENCH/pool
mkdir -p "$POOL"
if [ ! -s "$POOL/dl.mh" ]; then
	log "generating the download mailbox (about 170 MB)"
	rm -rf "$POOL/dl"
	"$BB/gen" -s 8 -n 700 -b 20 "$POOL/dl" "$POOL/dl.mh"
fi
if [ ! -s "$POOL/small.mh" ]; then
	rm -rf "$POOL/small"
	"$BB/gen" -s 9 -t 10 "$POOL/small" "$POOL/small.mh"
fi
if has bigbox && [ ! -s "$POOL/big.mh" ]; then
	log "generating the big mailbox (100,000 messages)"
	rm -rf "$POOL/big"
	"$BB/gen" -s 10 -t 100000 "$POOL/big" "$POOL/big.mh"
fi
# One 200 MB message (base64 of zeros, 76-column lines) for retrmem.
HUGE=$POOL/huge/cur/1700000000.B0000000M0P0.huge:2,
if has retrmem && [ ! -s "$HUGE" ]; then
	log "generating a 200 MB message"
	mkdir -p "$POOL/huge/cur"
	{
		printf 'Subject: a 200 MB attachment\nContent-Type: '
		printf 'application/octet-stream\nContent-Transfer-Encoding: '
		printf 'base64\n\n'
		head -c 150000000 /dev/zero | base64 -w 76
	} >"$HUGE.tmp"
	mv "$HUGE.tmp" "$HUGE"
fi
chown -R "$uid:$gid" "$POOL"

# One hash, made by pop3d-users, for every user of both servers.
rm -rf "$BENCH/pop3d" "$BENCH/dovecot"
mkdir -p "$BENCH/pop3d/etc" "$BENCH/pop3d/empty" "$BENCH/dovecot"
chmod 555 "$BENCH/pop3d/empty"
mkdir -m 700 "$BENCH/pop3d/state"
U=$BENCH/pop3d/etc/users
"$B/pop3d-users" -f "$U.tmp" -d "$U.tmp.cdb" add hashsrc "$uid" "$gid" \
    /nonexistent >/dev/null
echo "$PASS" | "$B/pop3d-users" -f "$U.tmp" -d "$U.tmp.cdb" \
    passwd -s -m "$HASH" hashsrc >/dev/null
hash=$(awk -F: '$1 == "hashsrc" { print $2 }' "$U.tmp")
rm -f "$U.tmp" "$U.tmp.cdb"
case $hash in
'$'*) ;;
*) echo "bench: pop3d-users made no hash" >&2; exit 1 ;;
esac
log "password scheme $HASH: ${hash%"${hash##*\$}"}..."

# home SERVER USER POOL: a Maildir of hard links to the pool's files.
home() {
	h=$BENCH/$1/home/$2
	mkdir -p "$h/Maildir/new" "$h/Maildir/tmp"
	if [ -n "$3" ]; then
		cp -al "$POOL/$3/cur" "$h/Maildir/cur"
	else
		mkdir -p "$h/Maildir/cur"
	fi
}
adduser() {	# USER POOL
	home pop3d "$1" "$2"
	home dovecot "$1" "$2"
	echo "$1:$hash:$uid:$gid:$BENCH/pop3d/home/$1:Maildir" >>"$U"
	echo "$1:{CRYPT}$hash:$uid:$gid::$BENCH/dovecot/home/$1::" \
	    >>"$BENCH/dovecot/passwd"
}
: >"$U"
: >"$BENCH/dovecot/passwd"
i=0
while [ $i -lt $NSESS ]; do adduser "s$i" small; i=$((i + 1)); done
i=0
while [ $i -lt 4 ]; do adduser "d$i" dl; i=$((i + 1)); done
adduser b0 ""		# filled afresh for each bigbox round
if has idle; then
	i=0
	while [ $i -lt $NIDLE ]; do adduser "i$i" ""; i=$((i + 1)); done
fi
if has retrmem; then
	adduser ms small	# message 1: 1-3 KB
	adduser mh huge		# message 1: 200 MB
fi
MBOX=
if has mbox100k || has mboxretr || has mboxmem; then
	MBOX=1
	. "$TOP/bench/mbox.sh"
	mbox_setup
fi
"$B/pop3d-users" -f "$U" -d "$U.cdb" compile >/dev/null
# Dovecot reads it as its auth user, "dovecot".
chgrp "$(id -g dovecot)" "$BENCH/dovecot/passwd"
chmod 640 "$BENCH/dovecot/passwd"
chown -R "$uid:$gid" "$BENCH/pop3d/home" "$BENCH/dovecot/home"
[ -z "$MBOX" ] || mbox_homes

# The same certificate for both.
TLSKEY=${TLSKEY:-ec}
TLS_CERT_KEY=$TLSKEY sh "$TOP/tests/tls-cert.sh" "$BENCH/tls-$TLSKEY" \
    localhost >/dev/null
CA=$BENCH/tls-$TLSKEY/localhost.pem

# pop3d: as "make run" serves it (rules, penalty box, APOP off).  Every
# client here logs in as a user of its own.
printf '127.0.0.0/8:allow\n:deny\n' \
    >"$BENCH/pop3d/etc/rules"
"$B/pop3d-rules" -f "$BENCH/pop3d/etc/rules" \
    -d "$BENCH/pop3d/etc/rules.cdb" compile
export POP3D_USERS_CDB="$U.cdb"
export POP3D_CHROOT="$BENCH/pop3d/empty"
export POP3D_RULES="$BENCH/pop3d/etc/rules.cdb"
export POP3D_STATE_DIR="$BENCH/pop3d/state"
export POP3D_TLS_CERT="$CA"
export POP3D_TLS_KEY="$BENCH/tls-$TLSKEY/localhost.key"

# Dovecot: a private instance, its defaults but for paths, ports, the
# passwd-file and process limits high enough for the idle scenario.
D=$BENCH/dovecot
mkdir -p "$D/run" "$D/state"
cat >"$D/dovecot.conf" <<CONF
# pop3d bench: a private Dovecot; defaults unless said here.
base_dir = $D/run
state_dir = $D/state
instance_name = pop3d-bench
log_path = $D/log
protocols = pop3
listen = 127.0.0.1
disable_plaintext_auth = no
ssl = yes
ssl_cert = <$CA
ssl_key = <$BENCH/tls-$TLSKEY/localhost.key
mail_location = maildir:~/Maildir
passdb {
  driver = passwd-file
  args = $D/passwd
}
userdb {
  driver = passwd-file
  args = $D/passwd
}
default_process_limit = 2200
default_client_limit = 4500
service pop3 {
  process_limit = 2200
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = $P_DOV
  }
  inet_listener pop3s {
    address = 127.0.0.1
    port = $P_DOVS
    ssl = yes
  }
}
CONF
[ -z "$MBOX" ] || mbox_conf

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# One process a logged-in session needs FUSE requests that time out
# (pop3d-auth(8)); without, sessions keep two processes.  Set for the
# run, as a site that wants it would set it, and put back after.
FUSE_TIMEOUT=/proc/sys/fs/fuse/max_request_timeout
fuse_saved=
if [ -e /dev/fuse ] && [ -w "$FUSE_TIMEOUT" ]; then
	fuse_saved=$(cat "$FUSE_TIMEOUT")
	echo 60 >"$FUSE_TIMEOUT"
fi
echo "bench: $FUSE_TIMEOUT: $(cat "$FUSE_TIMEOUT" 2>/dev/null || echo none)"
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	[ -z "$fuse_saved" ] || echo "$fuse_saved" >"$FUSE_TIMEOUT"
}
trap cleanup EXIT INT TERM

tcpserver -c 2200 -R -H -l localhost 127.0.0.1 "$P_POP" \
    "$B/pop3d" localhost "$B/pop3d-auth" "$B/pop3d-maildrop" Maildir \
    2>"$BENCH/pop3d/log" &
pop_pid=$!
tcpserver -c 2200 -R -H -l localhost 127.0.0.1 "$P_POPS" \
    "$B/pop3d" -t localhost "$B/pop3d-auth" "$B/pop3d-maildrop" Maildir \
    2>"$BENCH/pop3d/log.tls" &
pops_pid=$!
tcpserver -c 2200 -R -H -l localhost 127.0.0.1 "$P_NOP" "$BB/nop" \
    2>/dev/null &
nop_pid=$!
# The idle scenario's pop3d: the same as the others (a second listener
# so that its 2,000 sessions do not disturb the other scenarios).
tcpserver -c 2200 -R -H -l localhost 127.0.0.1 \
    "$P_IDLE" "$B/pop3d" localhost "$B/pop3d-auth" "$B/pop3d-maildrop" \
    Maildir 2>"$BENCH/pop3d/log.idle" &
idle_pid=$!
dovecot -c "$D/dovecot.conf" -F &
dov_pid=$!
pids="$pop_pid $pops_pid $nop_pid $idle_pid $dov_pid"
sleep 2
for p in $pids; do
	kill -0 "$p" 2>/dev/null || {
		echo "bench: a server did not start; see $BENCH/*/log" >&2
		exit 1
	}
done

L=$BB/popload
run() {	# popload arguments...; the line goes to results.txt and stdout
	out=$("$L" "$@") || { echo "bench: popload $* failed" >&2; return 0; }
	echo "$out" | tee -a "$RES"
}
pop() {	# SERVER: port, TLS port and the root of its process tree
	if [ "$1" = pop3d ]; then
		port=$P_POP tport=$P_POPS root=$pop_pid troot=$pops_pid
	else
		port=$P_DOV tport=$P_DOVS root=$dov_pid troot=$dov_pid
	fi
}
[ -z "$MBOX" ] || mbox_start
order() {	# ROUND: the servers in this round's order
	if [ $(($1 % 2)) -eq 1 ]; then echo "pop3d dovecot"; else
	    echo "dovecot pop3d"; fi
}

# Warm-up, not recorded: Dovecot builds its indexes, pop3d its size
# caches, both get the mail into the page cache.
for s in pop3d dovecot; do
	has download || has sessions || has tls || break
	pop $s
	"$L" -m download -s "$s" -p "$port" -c 4 -U 4 -u d -w "$PASS" \
	    -d 300 -f "$POOL/dl.mh" >/dev/null
	"$L" -m sessions -s "$s" -p "$port" -c $NSESS -U $NSESS -u s \
	    -w "$PASS" -d 2 >/dev/null
done

r=1
while [ "$r" -le "$ROUNDS" ]; do
	log "round $r of $ROUNDS"
	if has ceiling; then
		run -m raw -d 3
		run -m greet -s nop -p "$P_NOP" -c $NSESS -d "$SECONDS_RUN" \
		    -P "$nop_pid"
	fi
	for s in $(order "$r"); do
		pop $s
		if has sessions; then
			run -m sessions -s "$s" -p "$port" -c $NSESS \
			    -U $NSESS -u s -w "$PASS" -d "$SECONDS_RUN" \
			    -P "$root"
		fi
		if has download; then
			for c in 1 4; do
				run -m download -s "$s" -p "$port" -c $c \
				    -U 4 -u d -w "$PASS" -d 300 \
				    -f "$POOL/dl.mh" -P "$root"
			done
		fi
		if has tls; then
			run -m sessions -s "$s" -p "$tport" -T "$CA" \
			    -c $NSESS -U $NSESS -u s -w "$PASS" \
			    -d "$SECONDS_RUN" -P "$troot"
			for c in 1 4; do
				run -m download -s "$s" -p "$tport" -T "$CA" \
				    -c $c -U 4 -u d -w "$PASS" -d 300 \
				    -f "$POOL/dl.mh" -P "$troot"
			done
		fi
		if has bigbox; then
			h=$BENCH/$s/home/b0/Maildir
			rm -rf "$h"
			mkdir -p "$h/new" "$h/tmp"
			cp -al "$POOL/big/cur" "$h/cur"
			chown -R "$uid:$gid" "$h"
			# A mailbox is not made in the second before its
			# first login: pop3d caches a scan only of directories
			# unchanged for 2 s (pop3d-maildrop.8).  Both wait.
			sleep 2
			run -m bigbox -s "$s" -p "$port" -n 2 -u b0 \
			    -w "$PASS"
		fi
		if has retrmem && [ "$r" -eq 1 ]; then
			for u in ms mh; do
				run -m retrmem -s "$s" -p "$port" -u "$u" \
				    -w "$PASS" -P "$root"
			done
		fi
		if has idle && [ "$r" -eq 1 ]; then
			iport=$port iroot=$root
			[ $s = pop3d ] && iport=$P_IDLE iroot=$idle_pid
			for n in $IDLE; do
				run -m idle -s "$s" -p "$iport" -n "$n" \
				    -U $NIDLE -u i -w "$PASS" -d 300 \
				    -P "$iroot"
				sleep 2
			done
		fi
	done
	# The big mailbox carried over from Dovecot (issue 18): the Maildir
	# pop3d is given afresh holds the dovecot-uidlist Dovecot wrote for
	# the same files this round; pop3d's warm session must stay as fast
	# as on a mailbox of its own.
	dl=$BENCH/dovecot/home/b0/Maildir/dovecot-uidlist
	if has bigbox && [ -s "$dl" ]; then
		pop pop3d
		h=$BENCH/pop3d/home/b0/Maildir
		rm -rf "$h"
		mkdir -p "$h/new" "$h/tmp"
		cp -al "$POOL/big/cur" "$h/cur"
		cp "$dl" "$h/dovecot-uidlist"
		chown -R "$uid:$gid" "$h"
		sleep 2
		out=$("$L" -m bigbox -s pop3d -p "$port" -n 2 -u b0 \
		    -w "$PASS") || out=
		echo "$out" | sed 's/^scenario=bigbox /scenario=migrated /' |
		    tee -a "$RES"
	fi
	[ -z "$MBOX" ] || mbox_round "$r"
	r=$((r + 1))
done

log "logs: $BENCH/pop3d/log $D/log; raw lines: $RES"
${PYTHON:-python3} "$TOP/bench/summary.py" "$RES"
