# shellcheck shell=sh disable=SC2153,SC2154
# (SC2153, SC2154: the variables and functions are run.sh's)
# bench/mbox.sh: the mbox scenarios (issue 19), sourced by bench/run.sh
# when SCENARIOS names mbox100k, mboxretr or mboxmem.  Three servers serve
# byte-identical copies of one mbox: pop3d (maildrop field = the mbox
# path), Dovecot (mbox:~/mail:INBOX=PATH, its index in ~/mail) and popa3d
# (Debian's package, unpacked, never installed: it conflicts with
# dovecot-pop3d; run per connection under the same tcpserver, as inetd
# would, but with -D: TCP_NODELAY, which pop3d and Dovecot set
# themselves and popa3d does not; without it every RETR ends in a 40 ms
# stall (Nagle against the client's delayed ACK: its ".\r\n" is a write
# of its own), 5 MB/s here.  That figure, popa3d as inetd runs it, is
# recorded once as server popa3d-inetd in mboxretr; the targets are
# against the faster popa3d).  popa3d authenticates system users through PAM and reads
# /var/mail/USER, so the mbox users are system users (made here once,
# -r, no home, no shell) whose /etc/shadow entry is set to the very hash
# pop3d and Dovecot get.
#
#   mbox100k	100,000 messages of 0.5-3 KB (exim4's layout: From_ line,
#		Received, Delivered-To, ...): two sessions of login, STAT,
#		LIST, UIDL, QUIT; the first on a fresh copy (no server
#		cache or index), the second warm; wall ms and server CPU ms.
#   mboxretr	1,000 messages of 180 KB (184 MB): after one untimed
#		session (indexes made), RETR of every message, checked
#		against the manifest: MB/s and server CPU per GB.
#   mboxmem	the session process's peak RSS (VmHWM) after STAT, LIST,
#		UIDL and RETR 1, on a fresh copy of each mbox: pop3d's
#		pop3d-maildrop, popa3d's popa3d, Dovecot's pop3.  Round 1.
#		Also on a third mbox, the big one's first 1,000 messages:
#		1,000 x 180 KB against 1,000 x 0.5-3 KB is message size
#		alone.  popa3d checks the password in this process: with
#		yescrypt (16 MB) that is its peak; HASH=sha512 shows the
#		mailbox's.
#
# Settings: POPA3D=path (a popa3d binary; default: an installed one, else
# the package fetched with "apt-get download" and unpacked with dpkg -x
# into $BENCH/popa3d).  pop3d's side is reported as not available when
# this pop3d refuses an mbox maildrop (a build before issue 19).

MB_BIG=p3bmbig		# the 100,000-message mbox's user
MB_RETR=p3bmretr	# the 184 MB mbox's user
MB_SMALL=p3bmsmall	# mboxmem: the big one's first 1,000 messages
P_POPA=$((PORT + 6))	# popa3d, tcpserver -D
P_POPI=$((PORT + 7))	# popa3d, as inetd runs it (Nagle on)
MB_POP3D=1		# 0: this pop3d serves no mbox

mbox_popa3d() {	# sets POPA3D, fetching the package when needed
	if [ -n "${POPA3D:-}" ]; then
		:
	elif command -v popa3d >/dev/null 2>&1; then
		POPA3D=$(command -v popa3d)
	else
		POPA3D=$BENCH/popa3d/x/usr/sbin/popa3d
		if [ ! -x "$POPA3D" ]; then
			log "fetching popa3d (apt-get download, dpkg -x;" \
			    "not installed)"
			rm -rf "$BENCH/popa3d"
			mkdir -p "$BENCH/popa3d"
			(cd "$BENCH/popa3d" && apt-get download popa3d >&2 &&
			    dpkg -x popa3d_*.deb x) || {
				echo "bench: could not fetch popa3d" >&2
				exit 1
			}
		fi
	fi
	[ -x "$POPA3D" ] || { echo "bench: $POPA3D: no popa3d" >&2; exit 1; }
	# What the package's postinst and files give it: the user popa3d,
	# its empty chroot (compiled in) and a PAM service.
	if ! id popa3d >/dev/null 2>&1; then
		log "adding the system user popa3d"
		useradd -r -M -d /var/lib/popa3d -s /usr/sbin/nologin popa3d
	fi
	mkdir -p /var/lib/popa3d
	pam=$(dirname "$(dirname "$(dirname "$POPA3D")")")/etc/pam.d/popa3d
	if [ ! -e /etc/pam.d/popa3d ] && [ -f "$pam" ]; then
		log "adding /etc/pam.d/popa3d from the package"
		cp "$pam" /etc/pam.d/popa3d
	fi
}

mbox_user() {	# USER: a system user with the bench hash; homes, spools
	if ! id "$1" >/dev/null 2>&1; then
		log "adding the system user $1 (popa3d's mbox user)"
		useradd -r -M -d /nonexistent -s /usr/sbin/nologin "$1"
	fi
	usermod -p "$hash" "$1"
	mu=$(id -u "$1")
	mg=$(id -g "$1")
	echo "$1:$hash:$mu:$mg:$BENCH/pop3d/home/$1:$BENCH/pop3d/spool/$1" \
	    >>"$U"
	echo "$1:{CRYPT}$hash:$mu:$mg::$BENCH/dovecot/home/$1::userdb_mail=mbox:~/mail:INBOX=$BENCH/dovecot/spool/$1" \
	    >>"$BENCH/dovecot/passwd"
}

mbox_setup() {	# before users.cdb is compiled and Dovecot starts
	mbox_popa3d
	if [ ! -s "$POOL/mbox-big.mh" ]; then
		log "generating the 100,000-message mbox"
		"$BB/gen" -M -s 12 -t 100000 "$POOL/mbox-big" \
		    "$POOL/mbox-big.mh"
	fi
	if [ ! -s "$POOL/mbox-small.mh" ]; then
		"$BB/gen" -M -s 12 -t 1000 "$POOL/mbox-small" \
		    "$POOL/mbox-small.mh"
	fi
	if [ ! -s "$POOL/mbox-retr.mh" ]; then
		log "generating the 184 MB mbox (1,000 messages of 180 KB)"
		"$BB/gen" -M -s 13 -r 1000 "$POOL/mbox-retr" \
		    "$POOL/mbox-retr.mh"
	fi
	# Spools as Debian's /var/mail is: root:mail 2775 (dotlocks through
	# group mail: pop3d's dotlockfile helper, Dovecot's
	# mail_privileged_group).
	for s in pop3d dovecot; do
		mkdir -p "$BENCH/$s/spool"
		chown root:mail "$BENCH/$s/spool"
		chmod 2775 "$BENCH/$s/spool"
	done
	mbox_user "$MB_BIG"
	mbox_user "$MB_RETR"
	mbox_user "$MB_SMALL"
}

mbox_homes() {	# after run.sh gave every home to nobody: the mbox users'
	for u in "$MB_BIG" "$MB_RETR" "$MB_SMALL"; do
		for s in pop3d dovecot; do
			mkdir -p "$BENCH/$s/home/$u"
			chown "$(id -u "$u"):$(id -g "$u")" "$BENCH/$s/home/$u"
			chmod 700 "$BENCH/$s/home/$u"
		done
	done
}

mbox_conf() {	# Dovecot's setting for dotlocks in a root:mail spool
	echo "mail_privileged_group = mail" >>"$D/dovecot.conf"
}

mbox_path() {	# SERVER USER: the mbox file that server reads
	case $1 in
	popa3d) echo "/var/mail/$2" ;;
	*) echo "$BENCH/$1/spool/$2" ;;
	esac
}

# SERVER USER: a fresh copy of the pool's mbox, no cache, no index; 2 s
# old before the login, as bigbox leaves a Maildir (a cache may trust
# only a file unchanged for a while; every server waits the same).
mbox_reset() {
	f=$(mbox_path "$1" "$2")
	case $2 in
	"$MB_BIG") src=$POOL/mbox-big ;;
	"$MB_SMALL") src=$POOL/mbox-small ;;
	*) src=$POOL/mbox-retr ;;
	esac
	rm -f "$f" "$f.lock"
	cp "$src" "$f"
	chown "$(id -u "$2"):mail" "$f"
	chmod 660 "$f"
	h=$BENCH/$1/home/$2
	[ "$1" = popa3d ] || find "$h" -mindepth 1 -delete
	sleep 2
}

mbox_start() {	# after the other servers: popa3d, and pop3d's probe
	tcpserver -c 2200 -R -H -D -l localhost 127.0.0.1 "$P_POPA" \
	    "$POPA3D" 2>"$BENCH/popa3d.log" &
	popa_pid=$!
	tcpserver -c 2200 -R -H -l localhost 127.0.0.1 "$P_POPI" "$POPA3D" \
	    2>"$BENCH/popa3d.log.inetd" &
	popi_pid=$!
	pids="$pids $popa_pid $popi_pid"
	sleep 1
	for p in $popa_pid $popi_pid; do
		kill -0 "$p" 2>/dev/null || {
			echo "bench: popa3d's tcpserver did not start" >&2
			exit 1
		}
	done
	mbox_reset pop3d "$MB_RETR"
	if ! err=$("$L" -m bigbox -s pop3d -p "$P_POP" -n 1 -u "$MB_RETR" \
	    -w "$PASS" 2>&1 >/dev/null); then
		MB_POP3D=0
		log "pop3d serves no mbox here ($err): pop3d's mbox figures" \
		    "are not available"
		echo "scenario=mbox server=pop3d available=0" | tee -a "$RES"
	fi
}

mbox_order() {	# ROUND: the three servers, first place rotating
	case $(($1 % 3)) in
	1) echo "pop3d popa3d dovecot" ;;
	2) echo "popa3d dovecot pop3d" ;;
	*) echo "dovecot pop3d popa3d" ;;
	esac
}

mbox_run() {	# NAME popload-arguments...: the line renamed to scenario=NAME
	name=$1
	shift
	out=$("$L" "$@") || { echo "bench: popload $* failed" >&2; return 0; }
	echo "$out" | sed "s/^scenario=[a-z]*/scenario=$name/" | tee -a "$RES"
}

mbox_round() {	# ROUND
	if has mboxretr && [ "$1" -eq 1 ]; then
		mbox_reset popa3d "$MB_RETR"
		mbox_run mboxretr -m download -s popa3d-inetd -p "$P_POPI" \
		    -c 1 -u "$MB_RETR" -w "$PASS" -d 300 \
		    -f "$POOL/mbox-retr.mh" -P "$popi_pid"
	fi
	for s in $(mbox_order "$1"); do
		[ "$s" = pop3d ] && [ "$MB_POP3D" -eq 0 ] && continue
		case $s in
		pop3d) port=$P_POP root=$pop_pid comm=pop3d-maildrop ;;
		popa3d) port=$P_POPA root=$popa_pid comm=popa3d ;;
		dovecot) port=$P_DOV root=$dov_pid comm=pop3 ;;
		esac
		if has mbox100k; then
			mbox_reset "$s" "$MB_BIG"
			mbox_run mbox100k -m bigbox -s "$s" -p "$port" -n 2 \
			    -u "$MB_BIG" -w "$PASS" -P "$root"
		fi
		if has mboxmem && [ "$1" -eq 1 ]; then
			for u in "$MB_BIG" "$MB_SMALL" "$MB_RETR"; do
				mbox_reset "$s" "$u"
				mbox_run mboxmem -m sessmem -s "$s" \
				    -p "$port" -u "$u" -w "$PASS" \
				    -P "$root" -C "$comm"
			done
		fi
		if has mboxretr; then
			mbox_reset "$s" "$MB_RETR"
			"$L" -m bigbox -s "$s" -p "$port" -n 1 -u "$MB_RETR" \
			    -w "$PASS" >/dev/null || true
			mbox_run mboxretr -m download -s "$s" -p "$port" \
			    -c 1 -u "$MB_RETR" -w "$PASS" -d 300 \
			    -f "$POOL/mbox-retr.mh" -P "$root"
		fi
	done
}
