#!/bin/sh
# Runs only the Criterion unit tests (no root needed).
set -u
B=${1:-build}
rc=0
for t in "$B"/tests/test_*; do
	[ -x "$t" ] || continue
	"$t" -j2 || rc=1
done
exit $rc
