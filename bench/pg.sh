#!/bin/sh
# The store on PostgreSQL beside SQLite: bench_store --pg and bench_store
# (bench/bench_store.c) with the same runs, one after the other in the same
# invocation, each with the load average before and after (the machine is
# shared). PostgreSQL is a private cluster (unix socket, fsync on). Run by
# bench/run.sh, or alone:  make build/bench/bench_store && sh bench/pg.sh
# Results: bench/results/pg.txt. Environment: SEKISHO_BUILD, SEKISHO_TOP,
# SEKISHO_BENCH_OUT, and PG_BENCH_ADMITS (2000) and PG_BENCH_RIGHTS (20000) per run.
# PG_BENCH_BASELINE: a bench_store built from an older commit (bench/README.md);
# its gateway pairs (--pg --gateways) run first, then this build's, the same
# admissions per run, so the two designs are compared under the same load.
# PG_BENCH_GROUP_COMMIT=1: then bench/drivers/pg_group_commit.sh (commit_delay
# and commit_siblings against the two gateways / one ratio) appends its section.
set -eu
SEKISHO_TOP=${SEKISHO_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
SEKISHO_BUILD=${SEKISHO_BUILD:-$SEKISHO_TOP/build}
out=${SEKISHO_BENCH_OUT:-$SEKISHO_TOP/bench/results}
args="${PG_BENCH_ADMITS:-2000} ${PG_BENCH_RIGHTS:-20000}"
load() { cut -d' ' -f1-3 /proc/loadavg; }
{
	if [ -n "${PG_BENCH_BASELINE:-}" ]; then
		l0=$(load)
		echo "BASELINE $PG_BENCH_BASELINE"
		"$PG_BENCH_BASELINE" --pg --gateways "${PG_BENCH_ADMITS:-2000}"
		echo "load average before: $l0, after: $(load)"
		echo
	fi
	for backend in --pg ""; do
		l0=$(load)
		# shellcheck disable=SC2086
		"$SEKISHO_BUILD/bench/bench_store" $backend $args
		echo "load average before: $l0, after: $(load)"
		echo
	done
} > "$out/pg.txt.tmp"
mv "$out/pg.txt.tmp" "$out/pg.txt"
if [ "${PG_BENCH_GROUP_COMMIT:-0}" = 1 ]; then
	SEKISHO_TOP="$SEKISHO_TOP" SEKISHO_BUILD="$SEKISHO_BUILD" SEKISHO_BENCH_OUT="$out" \
		sh "$SEKISHO_TOP/bench/drivers/pg_group_commit.sh" >/dev/null
fi
cat "$out/pg.txt"
