#!/bin/sh
# make deps: installs the Debian packages pop3d needs to build and test,
# when they are missing.  A no-op when all are there.  systemd (for
# systemd-analyze and systemd-socket-activate), xinetd and daemontools run
# the deployment kit in tests/e2e/test_deploy.py; none is started.  sslscan
# probes the TLS relay in tests/e2e/test_tls_deadlines.py.
PKGS="gcc make pkg-config libcdb-dev libmd-dev libcrypt-dev libtls-dev
libseccomp-dev mandoc ucspi-tcp strace curl clang libclang-rt-dev nettle-dev
openssl mpop systemd xinetd daemontools fetchmail python3-cryptography
sslscan"

# The pre-login processes' and TLS relays' own system user, as an install
# makes it (deploy/README): without it they run as nobody, the tests' mail
# user, whose logins pop3d-auth then refuses (POP3D_PREAUTH_UID).
if [ "$(id -u)" -eq 0 ] && ! id pop3d >/dev/null 2>&1; then
	echo "deps: creating the system user pop3d"
	useradd -r -M -d /nonexistent -s /usr/sbin/nologin pop3d || exit 1
fi

missing=
for p in $PKGS; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
	    grep -q 'install ok installed' || missing="$missing $p"
done
command -v python3 >/dev/null 2>&1 || missing="$missing python3"

if [ -z "$missing" ]; then
	echo "deps: everything needed is installed"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing:$missing" >&2
	echo "deps: run 'make deps' as root, or: apt-get install$missing" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $missing
