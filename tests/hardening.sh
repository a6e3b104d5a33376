#!/bin/sh
# The programs are built hardened: PIE, full RELRO, stack protector, and
# (outside the sanitizer build) _FORTIFY_SOURCE.
BUILD=${1:-build}
check() {
	if eval "$2"; then echo "ok - $1"; else echo "not ok - $1"; fi
}
for prog in "$BUILD"/pop3d*; do
	[ -f "$prog" ] && [ -x "$prog" ] || continue
	name=${prog##*/}
	check "$name is PIE" \
	    "readelf -h '$prog' | grep -q 'Type:.*DYN'"
	check "$name has full RELRO (GNU_RELRO and BIND_NOW)" \
	    "readelf -l '$prog' | grep -q GNU_RELRO &&
	     readelf -d '$prog' | grep -Eq 'BIND_NOW|FLAGS_1.*NOW'"
	check "$name has the stack protector" \
	    "readelf -s --wide '$prog' | grep -q __stack_chk_fail"
	if readelf -s --wide "$prog" | grep -q __asan_init; then
		continue	# ASan replaces the fortified functions
	fi
	check "$name is built with _FORTIFY_SOURCE" \
	    "readelf -s --wide '$prog' | grep -Eq '__(memcpy|memset|snprintf|vsnprintf|read|printf|fprintf)_chk'"
done
