#!/bin/sh
# make deps: installs the Debian packages pop3d needs to build and test,
# when they are missing.  A no-op when all are there.  systemd (for
# systemd-analyze and systemd-socket-activate), xinetd and daemontools run
# the deployment kit in tests/e2e/test_deploy.py; none is started.  sslscan
# probes the TLS relay in tests/e2e/test_tls_deadlines.py.
PKGS="gcc make pkg-config libcdb-dev libmd-dev libcrypt-dev libtls-dev
mandoc ucspi-tcp strace curl clang libclang-rt-dev nettle-dev openssl mpop
systemd xinetd daemontools sslscan"

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
