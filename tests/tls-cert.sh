#!/bin/sh
# tls-cert.sh DIR [NAME...]: self-signed certificates for the tests and for
# "make run": DIR/localhost.pem and DIR/localhost.key (the default keypair),
# and DIR/NAME.pem, DIR/NAME.key for each NAME (chosen by SNI).  EC P-256
# keys (the fast choice, pop3d-tls.8), or RSA-2048 with TLS_CERT_KEY=rsa,
# mode 0600; the certificate names its host in subjectAltName, as libtls
# matches it.  A pair already there is kept, whatever its kind.  Prints
# the settings for pop3d-tls.
set -e
if [ $# -lt 1 ]; then
	echo "usage: tls-cert.sh dir [name ...]" >&2
	exit 2
fi
dir=$1
shift
case ${TLS_CERT_KEY:-ec} in
ec)	newkey="-newkey ec -pkeyopt ec_paramgen_curve:P-256" ;;
rsa)	newkey="-newkey rsa:2048" ;;
*)	echo "tls-cert.sh: TLS_CERT_KEY is ec or rsa" >&2
	exit 2 ;;
esac
mkdir -p "$dir"

gen() {
	case $1 in
	''|*[!A-Za-z0-9.-]*|.*|-*)
		echo "tls-cert.sh: $1: not a host name" >&2
		exit 2 ;;
	esac
	[ -s "$dir/$1.pem" ] && [ -s "$dir/$1.key" ] && return 0
	rm -f "$dir/$1.key"
	# $newkey: two or four words, split on purpose.
	# shellcheck disable=SC2086
	(umask 077 && openssl req -x509 $newkey -nodes -days 3650 -subj "/CN=$1" \
	    -addext "subjectAltName=DNS:$1" -keyout "$dir/$1.key" \
	    -out "$dir/$1.pem" 2>/dev/null) || {
		echo "tls-cert.sh: openssl failed for $1" >&2
		exit 1
	}
	chmod 600 "$dir/$1.key"
	chmod 644 "$dir/$1.pem"
}

gen localhost
pairs=
for name in "$@"; do
	gen "$name"
	pairs="$pairs${pairs:+ }$dir/$name.pem:$dir/$name.key"
done
echo "POP3D_TLS_CERT='$dir/localhost.pem'"
echo "POP3D_TLS_KEY='$dir/localhost.key'"
[ -z "$pairs" ] || echo "POP3D_TLS_KEYPAIRS='$pairs'"
