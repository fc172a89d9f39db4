#!/bin/sh
# The store on PostgreSQL: bench_store --pg (bench/bench_store.c) on a private
# PostgreSQL 15 cluster (unix socket, fsync on), the same runs as the SQLite
# table in store.txt, so the two compare line by line. Run by bench/run.sh, or
# alone:  make build/bench/bench_store && sh bench/pg.sh
# Results: bench/results/pg.txt. Environment: SEKISHO_BUILD, SEKISHO_TOP,
# SEKISHO_BENCH_OUT, and PG_BENCH_ADMITS (2000) and PG_BENCH_RIGHTS (20000) per run.
set -eu
SEKISHO_TOP=${SEKISHO_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
SEKISHO_BUILD=${SEKISHO_BUILD:-$SEKISHO_TOP/build}
out=${SEKISHO_BENCH_OUT:-$SEKISHO_TOP/bench/results}
"$SEKISHO_BUILD/bench/bench_store" --pg "${PG_BENCH_ADMITS:-2000}" "${PG_BENCH_RIGHTS:-20000}" \
	> "$out/pg.txt.tmp"
mv "$out/pg.txt.tmp" "$out/pg.txt"
cat "$out/pg.txt"
