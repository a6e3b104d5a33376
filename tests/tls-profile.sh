#!/bin/sh
# tls-profile.sh BUILD [CERT KEY]: where one TLS relay's start goes
# (issue 21), counted by valgrind's callgrind: BUILD/pop3d-tls from exec to
# the end of a handshake with Python's ssl, as root, the way the front
# starts it.  Prints the inclusive instruction counts of its parts and
# leaves the whole profile in BUILD/tls-profile/callgrind.out for
# callgrind_annotate.  Without CERT and KEY, a P-256 pair of
# tests/tls-cert.sh (TLS_CERT_KEY=rsa: RSA-2048).  Not part of make
# check: a measurement, not a test (pop3d-tls.8, "The cost of a
# connection", quotes it).
#
# valgrind cannot follow the relay into its seccomp filter, chroot and
# resource limits, so tlsprof/shim.c (preloaded) makes those no-ops but
# still builds the filter; its own loading is counted with the loader's.
set -eu
if [ $# -ne 1 ] && [ $# -ne 3 ]; then
	echo "usage: tls-profile.sh build [cert key]" >&2
	exit 2
fi
for tool in valgrind callgrind_annotate; do
	command -v "$tool" >/dev/null || {
		echo "tls-profile.sh: $tool is missing (apt-get install valgrind)" >&2
		exit 1
	}
done
HERE=$(cd "$(dirname "$0")" && pwd)
B=$(cd "$1" && pwd)
OUT=$B/tls-profile
rm -rf "$OUT"
mkdir -p "$OUT/empty"
chmod 755 "$OUT" "$OUT/empty"
if [ $# -eq 3 ]; then
	cert=$2 key=$3
else
	sh "$HERE/tls-cert.sh" "$OUT/certs" >/dev/null
	cert=$OUT/certs/localhost.pem key=$OUT/certs/localhost.key
fi
# shellcheck disable=SC2046
${CC:-cc} -shared -fPIC -O2 -o "$OUT/shim.so" "$HERE/tlsprof/shim.c" \
    $(pkg-config --cflags --libs libseccomp)
# The relay writes its profile after dropping to its user.
: >"$OUT/callgrind.out"
chmod 666 "$OUT/callgrind.out"
SHIM=$OUT/shim.so python3 "$HERE/tlsprof/run.py" "$B/pop3d-tls" "$cert" \
    "$key" "$OUT/empty" valgrind -q --tool=callgrind \
    --callgrind-out-file="$OUT/callgrind.out" 2>"$OUT/log" || {
	echo "tls-profile.sh: the profiled relay failed, see $OUT/log" >&2
	exit 1
}
callgrind_annotate --inclusive=yes --threshold=100 "$OUT/callgrind.out" \
    2>/dev/null |
    awk -v key="$key" '
	function at(label, n) { if (!(label in v)) v[label] = n }
	/PROGRAM TOTALS/ { at("total", $1) }
	!/\[/ { next }		# a call line, not a function
	/rtld.c:_dl_start / { at("ld", $1) }
	/\?\?\?:tls_init / { at("init", $1) }
	/conf.c:tlsconf_read / { at("read", $1) }
	/conf.c:tlsconf_server / { at("server", $1) }
	/\?\?\?:tls_config_set_keypair_file / { at("cert1", $1) }
	/\?\?\?:tls_configure / { at("configure", $1) }
	/\?\?\?:PEM_read_bio_PrivateKey / { at("key", $1) }
	/\?\?\?:tls_handshake / { at("handshake", $1) }
	/privdrop.c:privdrop_apply / { at("drop", $1) }
	END {
		n = split("total ld init read server cert1 configure key" \
		    " handshake drop", k, " ")
		t["total"] = "the relay, exec to the end of the handshake"
		t["ld"] = "  the dynamic loader"
		t["init"] = "  tls_init (OpenSSL'"'"'s first SSL_CTX_new)"
		t["read"] = "  the settings (tlsconf_read)"
		t["server"] = "  the libtls configuration (tlsconf_server)"
		t["cert1"] = "    the certificate, first decode (keypair_file)"
		t["configure"] = "    tls_configure: SSL_CTX, certificate, key"
		t["key"] = "      the key'"'"'s decode"
		t["handshake"] = "  the handshake"
		t["drop"] = "  the privilege drop and seccomp filter"
		print "key: " key
		for (i = 1; i <= n; i++)
			printf "%12s  %s\n", v[k[i]], t[k[i]]
	}'
echo "profile: $OUT/callgrind.out"
