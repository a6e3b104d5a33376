#!/bin/sh
# Runs every test of pop3d and ends with "N passed, N failed".
# BUILD names the build directory (programs and unit testers).
# Each tester prints "ok - ..." / "not ok - ..." lines; they are added up.
#
# The testers run JOBS at a time (default: three times the cores, as most
# of a test's time is spent waiting on the programs it drives), each into
# its own file; the reports are then printed and added up in the fixed
# order below, whatever order they finished in.  They share nothing: each makes
# its own directories and listens on ports the kernel picks.  TMPDIR is a
# directory of this run's own, on a tmpfs when there is one, so that the
# programs' fsyncs cost nothing; it is removed at the end.
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-python3}
export BUILD PYTHON

# The tester that job $1 (a path) is: its command line.
job_run() {
	case $1 in
	*/t_wire) "$1" tests/golden/wire ;;
	*.py) "$PYTHON" "$1" "$BUILD" ;;
	*.sh) sh "$1" "$BUILD" ;;
	*) "$1" ;;
	esac
}

# One job, in a worker: $1 its number, $2 its path; the report into
# $OUT/$1.log, the exit status into $OUT/$1.rc, the seconds taken into
# $OUT/$1.time.
if [ "$1" = --job ]; then
	start=$(date +%s)
	job_run "$3" >"$OUT/$2.log" 2>&1 </dev/null
	echo $? >"$OUT/$2.rc"
	echo "$(($(date +%s) - start)) $3" >"$OUT/$2.time"
	exit 0
fi

if [ -z "$JOBS" ]; then
	JOBS=$(($(nproc 2>/dev/null || echo 1) * 3))
fi
case $JOBS in
'' | *[!0-9]* | 0) echo "run.sh: JOBS must be a number above 0" >&2; exit 2 ;;
esac

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
export OUT
# A tmpfs that takes programs run from it (no noexec), else the default.
if [ -d /dev/shm ] && [ -w /dev/shm ] &&
    tmp=$(mktemp -d /dev/shm/pop3d.XXXXXX 2>/dev/null); then
	printf '#!/bin/sh\nexit 0\n' >"$tmp/x"
	chmod 755 "$tmp/x"
	if "$tmp/x" 2>/dev/null; then
		rm -f "$tmp/x"
		# Like /tmp: the programs under test make files in it as others.
		chmod 1777 "$tmp"
		TMPDIR=$tmp
		export TMPDIR
		trap 'rm -rf "$OUT" "$tmp"' EXIT
	else
		rm -rf "$tmp"
	fi
fi

# Every job, in the order of the report.
{
	for t in "$BUILD"/tests/t_*; do
		echo "$t"
	done
	for t in tests/e2e/test_*.py; do
		echo "$t"
	done
	for t in hardening install firstinstall lint; do
		echo "tests/$t.sh"
	done
} | awk '{ print NR, $0 }' >"$OUT/jobs"

# Longest first (the last run's times; new ones count as long), so that
# no long job starts last and runs alone.
times="$BUILD/tests/times"
mkdir -p "$BUILD/tests"
[ -f "$times" ] || : >"$times"
awk 'FILENAME == ARGV[1] { t[$2] = $1; next }
    { print ($2 in t ? t[$2] : 9999), $1, $2 }' "$times" "$OUT/jobs" |
    sort -k1,1nr -k2,2n | cut -d' ' -f2- |
    xargs -P "$JOBS" -n 2 sh "$0" --job

status=0
: >"$BUILD/tests/results"
: >"$OUT/times"
while read -r n t; do
	case $t in
	*/t_wire) echo "# $t tests/golden/wire" ;;
	*.py) echo "# $PYTHON $t $BUILD" ;;
	*.sh) echo "# sh $t $BUILD" ;;
	*) echo "# $t" ;;
	esac
	log=$OUT/$n.log
	rc=$(cat "$OUT/$n.rc" 2>/dev/null || echo "never ran")
	if [ "$rc" != 0 ]; then
		status=1
		echo "not ok - $t exited with status $rc" >>"$log"
	fi
	grep -E '^(not )?ok' "$log" | grep -v '^ok' || true
	grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1 | sed 's/^/#   /'
	grep -E '^(not )?ok' "$log" >>"$BUILD/tests/results"
	grep -vE '^(not )?ok|^[0-9]+ passed' "$log" | head -20 | sed 's/^/#   | /'
	cat "$OUT/$n.time" >>"$OUT/times" 2>/dev/null
done <"$OUT/jobs"
cp "$OUT/times" "$times"

passed=$(grep -c '^ok' "$BUILD/tests/results")
failed=$(grep -c '^not ok' "$BUILD/tests/results")
[ "$failed" -eq 0 ] || status=1
echo "$passed passed, $failed failed"
exit $status
