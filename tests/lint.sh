#!/bin/sh
# Every man page is mandoc -Tlint clean, and every program has one.
for page in man/*.[1-8]; do
	if out=$(mandoc -Tlint -Wwarning "$page" 2>&1) && [ -z "$out" ]; then
		echo "ok - mandoc -Tlint $page"
	else
		echo "not ok - mandoc -Tlint $page"
		echo "$out"
	fi
done
BUILD=${1:-build}
for bin in "$BUILD"/pop3d*; do
	[ -f "$bin" ] && [ -x "$bin" ] || continue
	prog=${bin##*/}
	if [ -f "man/$prog.8" ]; then
		echo "ok - $prog has a man page"
	else
		echo "not ok - $prog has no man page"
	fi
done
# Every setting a program reads from the environment is in its man page.
for pair in "pop3d:pop3d.c front/*.c policy/access.c" "pop3d-maildrop:maildrop/*.c" \
    "pop3d-auth:auth/pop3d-auth.c" "pop3d-users:auth/pop3d-users.c" \
    "pop3d-rules:policy/pop3d-rules.c" "pop3d-tls:pop3d-tls.c tls/*.c" \
    "pop3d-passwd:passwd/*.c policy/access.c" "pop3d-check:check/*.c"; do
	prog=${pair%%:*}
	src=${pair#*:}
	for v in $(grep -ho '"POP3D_[A-Z_]*"' $src 2>/dev/null | tr -d '"' |
	    sort -u); do
		if grep -q "Ev $v" "man/$prog.8"; then
			echo "ok - $prog.8 documents $v"
		else
			echo "not ok - $prog.8 does not document $v"
		fi
	done
done
