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
for pair in "pop3d:front/*.c policy/access.c" "pop3d-maildrop:maildrop/*.c" \
    "pop3d-auth:auth/pop3d-auth.c" "pop3d-users:auth/pop3d-users.c" \
    "pop3d-rules:policy/pop3d-rules.c" "pop3d-tls:tls/*.c" \
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
# DESIGN.md stays true about the layout: every source file it names (a
# word ending in .c, .h, .mk, .sh, .py or .md, or a man/ page) exists,
# read as a path from the top of the tree; every folder of its layout
# table (the "| `name/` |" rows of its Layout section) exists, and every
# folder of the tree has a row.
# An absolute path (/etc/...) is no source file and is left alone.
word='(^|[^A-Za-z0-9_./-])[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_.-]+)*'
word="$word"'\.(c|h|mk|sh|py|md)([^A-Za-z0-9_]|$)|man/[a-z0-9-]+\.[1-8]'
if [ ! -f DESIGN.md ]; then
	echo "not ok - DESIGN.md is missing"
else
	bad=0
	for p in $(grep -oE "$word" DESIGN.md |
	    sed -E 's/^[^A-Za-z0-9_]//; s/[^A-Za-z0-9_]$//' | sort -u); do
		if [ ! -f "$p" ]; then
			echo "not ok - DESIGN.md names $p, which does not exist"
			bad=1
		fi
	done
	rows=$(sed -n '/^## Layout/,/^## /p' DESIGN.md |
	    grep -oE '^\| `[A-Za-z0-9_.-]+/` \|' |
	    sed -E 's/^\| `//; s/\/` \|$//' | sort -u)
	for d in $rows; do
		if [ ! -d "$d" ]; then
			echo "not ok - DESIGN.md's layout has $d/, which does not exist"
			bad=1
		fi
	done
	tree=$(git ls-files 2>/dev/null | sed -n 's,^\([^./][^/]*\)/.*,\1,p' |
	    sort -u)
	[ -n "$tree" ] || tree=$(ls -d */ | tr -d / | grep -vx build)
	for d in $tree; do
		if ! echo "$rows" | grep -qx "$d"; then
			echo "not ok - DESIGN.md's layout has no row for $d/"
			bad=1
		fi
	done
	[ $bad -eq 1 ] || echo "ok - DESIGN.md names only files and folders that exist"
fi
