#!/bin/sh
# Runs every benchmark: the C drivers built into BUILD/bench/ and the bench/*.sh
# scripts (which need root for network namespaces). Each writes its table to
# bench/results/NAME.txt; a summary of the machine goes to bench/results/machine.txt.
# Usage: sh bench/run.sh BUILD_DIR [NAME...]   (NAMEs limit the run: store pg ipfd authd cid e2e)
set -u
B=$(cd "${1:-build}" && pwd); shift
top=$(cd "$(dirname "$0")/.." && pwd)
res="$top/bench/results"
mkdir -p "$res"
export SEKISHO_BUILD="$B" SEKISHO_TOP="$top" SEKISHO_BENCH_OUT="$res"

{
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') x $(nproc)"
	echo "memory: $(free -h | awk '/^Mem:/ {print $2}')"
	echo "kernel: $(uname -r)"
	echo "commit: $(git -C "$top" rev-parse --short HEAD 2>/dev/null)"
} > "$res/machine.txt"

selected() {   # name
	[ -z "$names" ] && return 0
	case " $names " in *" $1 "*) return 0 ;; esac
	return 1
}
names="$*"
rc=0
for d in "$B"/bench/bench_*; do
	[ -x "$d" ] || continue
	n=$(basename "$d" | sed 's/^bench_//')
	selected "$n" || continue
	echo "== bench $n"
	"$d" | tee "$res/$n.txt" || rc=1
done
for s in "$top"/bench/*.sh; do
	n=$(basename "$s" .sh)
	[ "$n" = run ] && continue
	selected "$n" || continue
	echo "== bench $n"
	sh "$s" || rc=1
done
echo "results in bench/results/"
exit $rc
