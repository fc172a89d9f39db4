#!/bin/sh
# Runs every test: Criterion unit tests, then the system tests that need root
# (network namespaces, nginx, PostgreSQL), then the browser tests.
# Usage: sh tests/run-all.sh BUILD_DIR
# System and browser tests print TAP lines ("ok - name" / "not ok - name").
# Ends with one line "N passed, N failed" and exits non-zero on any failure.
# A suite still running after SUITE_TIMEOUT_S seconds (default 600) is
# stopped and counted as failed, with the end of its log: a hang shows
# where it hung instead of holding up the whole run.
set -u
B=$(cd "${1:-build}" && pwd)
top=$(cd "$(dirname "$0")/.." && pwd)
export SEKISHO_BUILD="$B" SEKISHO_TOP="$top"
out="$B/test-output"
rm -rf "$out" && mkdir -p "$out"
export SEKISHO_TEST_OUT="$out"

passed=0 failed=0 failed_names=""

# The limits a run may meet, printed first: a browser, PostgreSQL and the
# daemons together need several hundred tasks.
tasks_max() {
	p=$(sed -n 's/^[0-9]*:pids:\(.*\)$/\1/p' /proc/self/cgroup)
	cat "/sys/fs/cgroup/pids$p/pids.max" 2>/dev/null ||
		cat "/sys/fs/cgroup$(sed -n 's/^0::\(.*\)$/\1/p' /proc/self/cgroup)/pids.max" 2>/dev/null ||
		echo "none"
}
echo "# $(nproc) CPUs; tasks: ulimit -p $(ulimit -p 2>/dev/null || echo "?"), cgroup pids.max $(tasks_max); open files $(ulimit -n)"

count_tap() {   # name logfile
	p=$(grep -c '^ok ' "$2"); f=$(grep -c '^not ok ' "$2")
	passed=$((passed + p)); failed=$((failed + f))
	# each failing case with the first lines of what it said (TAP "# "
	# lines, or Criterion's indented YAML block)
	awk -v n="$1" '/^not ok /{print "  " n ": " $0; k=8; next}
	               k>0 && /^(#|[ \t])/{print "      " $0; k--; next} {k=0}' "$2" | head -n 200
	[ "$f" -eq 0 ] || failed_names="$failed_names $1"
}

run_suite() {   # name command...
	name=$1; shift
	log="$out/$name.log"
	mkdir -p "$(dirname "$log")"
	printf '== %s\n' "$name"
	start=$(date +%s)
	timeout --kill-after=30 "${SUITE_TIMEOUT_S:-600}" "$@" >"$log" 2>&1
	rc=$?
	# 124: timeout's TERM ended it; 137 that late: its KILL did
	if [ "$rc" -eq 124 ] || { [ "$rc" -eq 137 ] &&
	   [ $(( $(date +%s) - start )) -ge "${SUITE_TIMEOUT_S:-600}" ]; }; then
		echo "# stopped after ${SUITE_TIMEOUT_S:-600} s (SUITE_TIMEOUT_S)" >>"$log"
		echo "  $name: stopped after ${SUITE_TIMEOUT_S:-600} s; its log ends:"
		tail -n 30 "$log" | sed 's/^/    /'
		failed=$((failed + 1))
		grep -q '^not ok ' "$log" || failed_names="$failed_names $name"
		rc=0
	fi
	if [ -n "${VERBOSE:-}" ]; then cat "$log"; fi
	count_tap "$name" "$log"
	if [ "$rc" -ne 0 ] && ! grep -q '^not ok ' "$log"; then
		echo "  $name: exited $rc without a failing case:"; tail -n 20 "$log" | sed 's/^/    /'
		failed=$((failed + 1)); failed_names="$failed_names $name"
	fi
	echo "   $(grep -c '^ok ' "$log") ok, $(grep -c '^not ok ' "$log") not ok ($(( $(date +%s) - start )) s)"
}

for t in "$B"/tests/test_*; do
	[ -x "$t" ] || continue
	run_suite "unit/$(basename "$t")" "$t" --tap=- -j2
done

if [ "$(id -u)" -ne 0 ]; then
	echo "system and browser tests need root: skipped"
else
	for t in "$top"/tests/net/test_*.sh; do
		[ -f "$t" ] || continue
		run_suite "net/$(basename "$t" .sh)" sh "$t"
	done
	for t in "$top"/tests/web/test_*.mjs; do
		[ -f "$t" ] || continue
		run_suite "web/$(basename "$t" .mjs)" node "$t"
	done
fi

echo
[ -z "$failed_names" ] || echo "failing suites:$failed_names"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
