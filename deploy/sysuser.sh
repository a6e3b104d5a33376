#!/bin/sh
# The pre-login processes' and TLS relays' own system user, pop3d(8)'s
# POP3D_PREAUTH_USER (default "pop3d"), made when missing as Debian
# packages make theirs with adduser --system: a system uid and group, no
# home, no login shell.  Its uid must be no mail user's (pop3d-auth(8)
# refuses logins to it).  Used by "make install" and by "make test-deps"
# (tests/deps.sh); a package runs it from its postinst.
#   sysuser.sh [name]
name=${1:-pop3d}
if id "$name" >/dev/null 2>&1; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "sysuser: the system user $name is missing; as root:" \
	    "useradd -r -M -d /nonexistent -s /usr/sbin/nologin $name" >&2
	exit 1
fi
echo "sysuser: creating the system user $name"
useradd -r -M -d /nonexistent -s /usr/sbin/nologin "$name"
