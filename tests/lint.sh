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
