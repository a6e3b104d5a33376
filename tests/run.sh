#!/bin/sh
# Runs every test of pop3d and ends with "N passed, N failed".
# BUILD names the build directory (programs and unit testers).
# Each tester prints "ok - ..." / "not ok - ..." lines; they are added up.
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-python3}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0

run() {
	echo "# $*"
	"$@" >"$log" 2>&1
	rc=$?
	if [ $rc -ne 0 ]; then
		status=1
		echo "not ok - $* exited with status $rc" >>"$log"
	fi
	grep -E '^(not )?ok' "$log" | grep -v '^ok' || true
	grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1 | sed 's/^/#   /'
	grep -E '^(not )?ok' "$log" >>"$BUILD/tests/results"
	grep -vE '^(not )?ok|^[0-9]+ passed' "$log" | head -20 | sed 's/^/#   | /'
}

mkdir -p "$BUILD/tests"
: >"$BUILD/tests/results"
for t in "$BUILD"/tests/t_*; do
	case $t in
	*/t_wire) run "$t" tests/golden/wire ;;
	*) run "$t" ;;
	esac
done
for t in tests/e2e/test_*.py; do
	run "$PYTHON" "$t" "$BUILD"
done
run sh tests/hardening.sh "$BUILD"
run sh tests/install.sh "$BUILD"
run sh tests/firstinstall.sh "$BUILD"
run sh tests/lint.sh "$BUILD"

passed=$(grep -c '^ok' "$BUILD/tests/results")
failed=$(grep -c '^not ok' "$BUILD/tests/results")
[ "$failed" -eq 0 ] || status=1
echo "$passed passed, $failed failed"
exit $status
