#!/bin/sh
# Runs the fuzz targets built under DIR. SECONDS > 0: fuzz each target that
# long from its seeds (tests/fuzz/corpus/NAME) and what earlier runs found
# (DIR/corpus/NAME). SECONDS = 0: replay only the seed files, once each.
# A crash leaves its input in DIR/crash/NAME-*; the exit status is then 1.
# Usage: sh tests/fuzz/run.sh DIR SECONDS NAME...
set -u
dir=$1 secs=$2
shift 2
rc=0
for name in "$@"; do
	seeds=tests/fuzz/corpus/$name
	mkdir -p "$dir/crash"
	log=$dir/$name.log
	if [ "$secs" -gt 0 ]; then
		mkdir -p "$dir/corpus/$name"
		"$dir/fuzz_$name" -max_total_time="$secs" -print_final_stats=1 \
			-artifact_prefix="$dir/crash/$name-" "$dir/corpus/$name" "$seeds" >"$log" 2>&1
	else
		"$dir/fuzz_$name" -artifact_prefix="$dir/crash/$name-" "$seeds"/* >"$log" 2>&1
	fi
	st=$?
	if [ $st -ne 0 ]; then
		echo "fuzz_$name: FAILED (exit $st), see $log"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|.*contract broken|.*runtime error|artifact_prefix|Test unit written)' "$log" | head -n 8
		rc=1
		continue
	fi
	if [ "$secs" -gt 0 ]; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
		cov=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$log" | tail -n 1 | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
		echo "fuzz_$name: ok, ${runs:-?} runs in ${secs} s (${speed:-?}/s), cov ${cov:-?}"
	else
		n=$(ls "$seeds" | wc -l)
		echo "fuzz_$name: ok, $n seeds"
	fi
done
exit $rc
