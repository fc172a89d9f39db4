#!/bin/sh
# PostgreSQL's group commit (commit_delay, commit_siblings) against the two
# gateways / one ratio at the store: bench_store --pg --gateways (a fresh
# private cluster, fsync on, synchronous_commit on) with the settings given to
# every session through PGOPTIONS (commit_delay needs a superuser: the bench
# connects as the cluster's owner). Rounds alternate over the settings so each
# sees the same load on a shared machine; per setting, the median over the
# rounds of each bench_store figure (itself a median of 5 alternating runs).
# The section replaces its earlier self at the end of bench/results/pg.txt:
# bench/pg.sh runs this after its own tables when PG_BENCH_GROUP_COMMIT=1,
# or run it alone afterwards:  sh bench/drivers/pg_group_commit.sh
# Environment: SEKISHO_BUILD, SEKISHO_TOP, SEKISHO_BENCH_OUT; PG_GC_ADMITS
# (600) admissions per run, PG_GC_ROUNDS (3), PG_GC_SETTINGS (delay/siblings
# pairs, default "0/5 10/5 100/5 1000/5 100/1").
set -eu
SEKISHO_TOP=${SEKISHO_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
SEKISHO_BUILD=${SEKISHO_BUILD:-$SEKISHO_TOP/build}
out=${SEKISHO_BENCH_OUT:-$SEKISHO_TOP/bench/results}
admits=${PG_GC_ADMITS:-600}
rounds=${PG_GC_ROUNDS:-3}
settings=${PG_GC_SETTINGS:-"0/5 10/5 100/5 1000/5 100/1"}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
load() { cut -d' ' -f1-3 /proc/loadavg; }
l0=$(load)
r=1
while [ "$r" -le "$rounds" ]; do
	for s in $settings; do
		d=${s%/*} n=${s#*/}
		PGOPTIONS="-c commit_delay=$d -c commit_siblings=$n" \
			"$SEKISHO_BUILD/bench/bench_store" --pg --gateways "$admits" > "$tmp/run.txt"
		# one line per run: 1gw-one 2gw-one 1gw-own 2gw-own ratio-one ratio-own
		awk -v s="$s" '
			/^1 gateway, one service/           { a = $(NF-4) }
			/^2 gateways, one service/          { b = $(NF-4) }
			/^1 gateway, its own services/      { c = $(NF-4) }
			/^2 gateways, each its own services/ { d = $(NF-4) }
			/one service .*, each its own services/ {
				x = $0; sub(/.*one service /, "", x); sub(/,.*/, "", x)
				y = $0; sub(/.*each its own services /, "", y)
			}
			END { print s, a, b, c, d, x, y }' "$tmp/run.txt" >> "$tmp/all.txt"
	done
	r=$((r + 1))
done
median() {   # setting column
	awk -v s="$1" -v c="$2" '$1 == s { print $c }' "$tmp/all.txt" | sort -g |
		awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
{
	echo "GROUP COMMIT (bench/drivers/pg_group_commit.sh): commit_delay and commit_siblings given to every"
	echo "session, bench_store --pg --gateways $admits, $rounds rounds alternating over the settings;"
	echo "per setting the median over the rounds (each a median of 5 alternating runs), admissions/s"
	printf '%-16s %9s %9s %6s   %9s %9s %6s\n' "delay us/sibl" "1gw one" "2gw one" "ratio" "1gw own" "2gw own" "ratio"
	for s in $settings; do
		printf '%-16s %9s %9s %6s   %9s %9s %6s\n' "$s" "$(median "$s" 2)" "$(median "$s" 3)" \
			"$(median "$s" 6)" "$(median "$s" 4)" "$(median "$s" 5)" "$(median "$s" 7)"
	done
	echo "(one: both gateways admit to one service; own: each gateway to its own services)"
	echo "every run: $(tr '\n' ';' < "$tmp/all.txt")"
	echo "load average before: $l0, after: $(load)"
} > "$tmp/section.txt"
touch "$out/pg.txt"
sed '/^GROUP COMMIT/,$d' "$out/pg.txt" > "$tmp/pg.txt"
cat "$tmp/pg.txt" "$tmp/section.txt" > "$out/pg.txt.tmp"
mv "$out/pg.txt.tmp" "$out/pg.txt"
cat "$tmp/section.txt"
