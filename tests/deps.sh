#!/bin/sh
# make deps: installs the Debian packages pop3d needs to build and run,
# when they are missing; "make test-deps" (deps.sh test) those the tests
# need too.  A no-op when all are there.
#
# Build: the compiler, pkg-config and the libraries' -dev packages; run:
# ucspi-tcp (tcpserver, the README's spawner) and openssl (the README's
# certificate commands).  mandoc is for make lint, and the man pages.
# liblockfile-dev (build) and liblockfile-bin (run: dotlockfile, the
# setgid-mail helper that makes an mbox's dotlock in /var/mail).
PKGS="gcc make pkg-config libcdb-dev libcrypt-dev libtls-dev
libseccomp-dev nettle-dev liblockfile-dev liblockfile-bin ucspi-tcp openssl
mandoc"
# Tests only, never on a production mail host: strace, curl, mpop and
# fetchmail drive the chain; clang and libclang-rt-dev build the fuzzers
# (make fuzz); systemd (systemd-analyze, systemd-socket-activate), xinetd
# and daemontools run the deployment kit in tests/e2e/test_deploy.py, none
# started; sslscan probes the TLS relay in tests/e2e/test_tls_deadlines.py;
# python3-cryptography makes expired certificates for tests/e2e/test_check.py.
# dovecot-core (with dovecot-lda) and dovecot-pop3d: the UIDLs a real Dovecot
# reports, which tests/e2e/test_migrate.py checks pop3d carries over (run
# privately on a free port, never the system's service).  haproxy sends the
# PROXY protocol to the front in tests/e2e/test_proxy.py (run privately on
# a free port, never the system's service).  bindfs mounts a FUSE file
# system, whose locks pop3d warns about, in tests/e2e/test_shared.py.
# bsd-mailx: a local mail reader rewriting an mbox pop3d serves
# (test_mbox_clients.py).
TEST_PKGS="strace curl clang libclang-rt-dev mpop systemd xinetd daemontools
fetchmail sslscan python3-cryptography dovecot-core dovecot-pop3d haproxy
bindfs bsd-mailx"
if [ "$1" = test ]; then
	PKGS="$PKGS $TEST_PKGS"
	# exim4-daemon-light: the real MTA that delivers the mboxes
	# tests/e2e/test_mbox_clients.py serves (exim4 -odi: no daemon
	# needed).  exim4-config's unattended default is local delivery
	# only, to /var/mail/USER; where systemd runs, its daemon starts,
	# on 127.0.0.1 and ::1 port 25 only, which no test uses.  Left out
	# where another MTA gives /usr/sbin/sendmail, which installing it
	# would remove (the test then skips), and where exim4-daemon-heavy
	# does, which serves as well.
	if dpkg-query -W -f='${Status}\n' exim4-daemon-heavy 2>/dev/null |
	    grep -q 'ok installed'; then
		:
	elif [ -e /usr/sbin/exim4 ] || [ ! -e /usr/sbin/sendmail ]; then
		PKGS="$PKGS exim4-daemon-light"
	elif [ -z "$DEPS_LIST" ]; then
		echo "deps: exim4-daemon-light left out: another MTA gives" \
		    "/usr/sbin/sendmail" >&2
	fi
fi
# DEPS_LIST=1: print the list and stop (tests/install.sh checks it).
if [ -n "$DEPS_LIST" ]; then
	echo $PKGS
	exit 0
fi

# For the tests, the pre-login processes' and TLS relays' own system user,
# as make install makes it (deploy/sysuser.sh): without it they run as
# nobody, the tests' mail user, whose logins pop3d-auth then refuses
# (POP3D_PREAUTH_UID).
if [ "$1" = test ] && [ "$(id -u)" -eq 0 ]; then
	sh "$(dirname "$0")/../deploy/sysuser.sh" pop3d || exit 1
fi

missing=
for p in $PKGS; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
	    grep -q 'install ok installed' || missing="$missing $p"
done
if [ "$1" = test ] && ! command -v python3 >/dev/null 2>&1; then
	missing="$missing python3"
fi

if [ -z "$missing" ]; then
	echo "deps: everything needed is installed"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing:$missing" >&2
	echo "deps: run 'make ${1:+test-}deps' as root, or:" \
	    "apt-get install$missing" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $missing
