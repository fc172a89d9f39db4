#!/bin/sh
# Load-aware admission benchmark (docs/adaptive.md), in a private network
# namespace (root). Run by bench/run.sh, or alone:
#   make && make build/bench/capsvc && sh bench/adaptive.sh
#
# The service is bench/capsvc with WORKERS workers of SERVICE_MS each (its
# capacity: WORKERS * 1000 / SERVICE_MS requests/s). Simulated users
# (bench/drivers/adaptive_users.py) arrive at RATE/s, faster than the service
# can serve them, are admitted with sekishoctl grant (the store's admission,
# read by the same cap authd's prober writes), request the service in a
# closed loop (think THINK s) for HOLD s, and leave; a refused user goes away.
# authd runs with its prober (probe every 200 ms, timeout 350 ms: ten probes per
# AIMD period, 5 requests/s, 2.5 % of the service) and ipfd off.
#
#   fixed    one run per cap of CAPS, RUN_S s each: admitted users, service
#            p99 after WARMUP_S s; the best fixed cap is the one admitting the
#            most with its median p99 within TARGET_MS
#   rounds   ROUNDS rounds of the sweep and an adaptive run (no halving),
#            interleaved; medians over the rounds
#   adaptive cap = 200, cap_min = 2, target TARGET_MS, ADAPT_S s; at HALVE_S
#            the service's workers are halved (SIGUSR1)
# Results: bench/results/adaptive.txt, adaptive.dat (the adaptive run, per
# second), adaptive.png.
SEKISHO_TOP=${SEKISHO_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
. "$SEKISHO_TOP/tests/net/lib.sh"

B=$SEKISHO_BUILD
OUT=${SEKISHO_BENCH_OUT:-$SEKISHO_TOP/bench/results}
WORKERS=${ADAPT_WORKERS:-4}
SERVICE_MS=${ADAPT_SERVICE_MS:-20}
RATE=${ADAPT_RATE:-8}
HOLD=${ADAPT_HOLD:-20}
THINK=${ADAPT_THINK:-0.2}
TARGET_MS=${ADAPT_TARGET_MS:-100}
CAPS=${ADAPT_CAPS:-"20 30 40 50 60 100"}
RUN_S=${ADAPT_RUN_S:-60}
ROUNDS=${ADAPT_ROUNDS:-2}
WARMUP_S=${ADAPT_WARMUP_S:-25}
ADAPT_S=${ADAPT_S:-120}
HALVE_S=${ADAPT_HALVE_S:-60}
RES=$OUT/adaptive.txt DAT=$OUT/adaptive.dat PNG=$OUT/adaptive.png

[ -x "$B/bench/capsvc" ] || { echo "adaptive bench: $B/bench/capsvc missing" >&2; exit 1; }
net_init
mkdir -p "$OUT"
host_add gw
in_ns gw ip addr add 10.200.0.1/16 dev lo
CONF=$T/sekisho.conf
cat >"$CONF" <<EOF
[db]
path = $T/db.sqlite
[authd]
listen = 127.0.0.1:8080
base_url = http://127.0.0.1:8080
web_dir = $SEKISHO_TOP/web
sweep_interval_s = 5
[ipfd]
enabled = off
EOF
ctl() { in_ns gw "$B/sekishoctl" -f "$CONF" "$@"; }
sql() { sqlite3 -cmd ".timeout 10000" "$T/db.sqlite" "$@"; }
say() { echo "$*" | tee -a "$RES"; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }

printf 'root-password\n' >"$T/rootpw"
printf 'user-password\n' >"$T/pw"
ctl init --root-password-file "$T/rootpw" >/dev/null
ctl user add u1 --role user --password-file "$T/pw" >/dev/null
NUSERS=$(awk -v r="$RATE" -v d="$ADAPT_S" 'BEGIN { print int(r * d * 2) + 100 }')
sql "WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < $NUSERS)
     INSERT INTO users (name, role, pwhash, created_at)
     SELECT 'u' || i, 0, (SELECT pwhash FROM users WHERE name = 'u1'), unixepoch() FROM n;"
bg_start capsvc gw "$B/bench/capsvc" 127.0.0.1 8000 "$WORKERS" "$SERVICE_MS"
bg_start authd gw "$B/authd" -d -f "$CONF"
wait_for 10 in_ns gw curl -sf -o /dev/null http://127.0.0.1:9080/healthz || {
	echo "authd did not start" >&2; cat "$T/authd.log" >&2; exit 1; }

# One run on a fresh service (no rights left over): prints the driver's summary.
run() {   # name cap duration [halve_at] [adaptive]
	ctl service add "$1" --url http://127.0.0.1:8000/ --max-usage 60 --max-interval 30 \
		--cap "$2" --admin root >/dev/null
	[ -n "${5:-}" ] && ctl service load "$1" --probe http://127.0.0.1:8000/health \
		--interval-ms 200 --timeout-ms 350 --cap-mode adaptive --cap-min 2 --target-ms "$TARGET_MS" >/dev/null
	sleep 3
	in_ns gw python3 "$SEKISHO_TOP/bench/drivers/adaptive_users.py" \
		--ctl "$B/sekishoctl -f $CONF" --service "$1" --url http://127.0.0.1:8000/ \
		--duration "$3" --rate "$RATE" --hold "$HOLD" --think "$THINK" --warmup "$WARMUP_S" \
		--halve-at "${4:-0}" --capsvc-pid "$(cat "$T/capsvc.pid")" --series "$T/$1.dat" |
		tail -n 1
	ctl service edit "$1" --disable >/dev/null
	sleep 2
}

: >"$RES"
say "# adaptive: load-aware admission against fixed caps (bench/adaptive.sh)"
say "# service: capsvc, $WORKERS workers x $SERVICE_MS ms = $((WORKERS * 1000 / SERVICE_MS)) req/s;" \
    "users arrive at $RATE/s, hold $HOLD s, think ${THINK}s; target p99 $TARGET_MS ms"
say "# figures after a ${WARMUP_S}s warm-up (users_in: mean users admitted at once);" \
    "admitted = users admitted over the whole run, warm-up included"
say "# date $(date -u +%FT%TZ), commit $(git -C "$SEKISHO_TOP" rev-parse --short HEAD 2>/dev/null)," \
    "load $(cut -d' ' -f1-3 /proc/loadavg) (2 CPUs shared with other builds)"
say ""
say "round mode      cap  run_s  admitted  refused  users_in  req/s   p50_ms   p99_ms"
row() {   # round mode cap driver-line: one table row, and "mode cap users_in p99" for the medians
	say "$(printf '%5d %-8s %4s  %5d  %8d  %7d  %8s  %6s  %7s  %7s' "$1" "$2" "$3" "$RUN_S" \
		"$(echo "$4" | field admitted)" "$(echo "$4" | field refused)" \
		"$(echo "$4" | field mean_in)" "$(echo "$4" | field req_s)" \
		"$(echo "$4" | field p50_ms)" "$(echo "$4" | field p99_ms)")"
	echo "$2 $3 $(echo "$4" | field mean_in) $(echo "$4" | field p99_ms)" >>"$T/rows"
}
# Rounds of the whole sweep and the adaptive run without halving (over the
# same time as a fixed run), interleaved so that the load from elsewhere
# falls on all of them alike.
: >"$T/rows"
for r in $(seq 1 "$ROUNDS"); do
	for cap in $CAPS; do
		row "$r" fixed "$cap" "$(run "fixed${cap}r$r" "$cap" "$RUN_S")"
	done
	row "$r" adaptive AIMD "$(run "adaptiver$r" 200 "$RUN_S" 0 adaptive)"
	cp "$T/adaptiver$r.dat" "$OUT/adaptive_steady.dat"
done
# Medians over the rounds, per mode and cap: "mode cap users_in p99".
awk '{ k = $1 " " $2; n[k]++; u[k, n[k]] = $3; p[k, n[k]] = $4 }
     function med(a, k, m,   i, j, t, v) {
         for (i = 1; i <= m; i++) v[i] = a[k, i]
         for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
         return m % 2 ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2 }
     END { for (k in n) printf "%s %.1f %.1f\n", k, med(u, k, n[k]), med(p, k, n[k]) }' \
	"$T/rows" | sort -k1,1 -k2,2n >"$T/medians"
say ""
say "medians over $ROUNDS rounds (users_in, p99_ms):"
while read -r mode cap inn p99; do
	say "$(printf '  %-8s %4s  %8s  %7s' "$mode" "$cap" "$inn" "$p99")"
done <"$T/medians"
best=$(awk -v t="$TARGET_MS" '$1 == "fixed" && $4 <= t && $3 > b { b = $3; c = $2 } END { print c + 0, b + 0 }' "$T/medians")
best_cap=${best% *} best=${best#* }
inn=$(awk '$1 == "adaptive" { print $3 }' "$T/medians")
p99=$(awk '$1 == "adaptive" { print $4 }' "$T/medians")
say ""
say "best fixed cap within target (most users in at once, median p99 <= $TARGET_MS ms): $best_cap" \
    "($best users in); adaptive: $inn users in =" \
    "$(awk -v a="$inn" -v b="$best" 'BEGIN { if (b) printf "%.0f", 100 * a / b; else print "-" }') % of it," \
    "median p99 $p99 ms"

# Halving: capacity halves at HALVE_S.
line=$(run halving 200 "$ADAPT_S" "$HALVE_S" adaptive)
cp "$T/halving.dat" "$DAT"
pre=$(awk -v h="$HALVE_S" '$1 >= h - 10 && $1 < h { s += $3; n++ } END { if (n) printf "%.1f", s / n }' "$DAT")
follow=$(awk -v h="$HALVE_S" -v p="$pre" '$1 >= h && $3 <= p * 0.6 { print $1 - h; exit }' "$DAT")
post=$(awk -v d="$ADAPT_S" '$1 > d - 20 { s += $3; n++ } END { if (n) printf "%.1f", s / n }' "$DAT")
say ""
say "halving at ${HALVE_S}s of ${ADAPT_S}s: mean effective cap ${pre} in the 10 s before;"
say "  the cap is at or below 60 % of it ${follow:-never} s after the halving; mean ${post} in the last 20 s"
say "  service p99 in the last 20 s: $(echo "$line" | field p99_last20_ms) ms (target $TARGET_MS)"
say "  series: adaptive.dat (t users_in cap_now requests p50_ms p99_ms), plot adaptive.png"
say ""
say "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"

command -v gnuplot >/dev/null || { say "(gnuplot missing: no plot)"; exit 0; }
gnuplot <<EOF 2>"$T/gnuplot.err" || say "(gnuplot failed: $(head -n 3 "$T/gnuplot.err"))"
set terminal pngcairo size 1000,600 font "sans,10"
set output "$PNG"
set multiplot layout 2,1 title "adaptive cap, capacity halved at ${HALVE_S} s ($WORKERS -> $((WORKERS / 2)) workers of $SERVICE_MS ms)"
set xlabel "seconds"
set grid ytics
set key top right
set ylabel "users"
plot "$DAT" using 1:3 with steps lw 2 title "effective cap", "" using 1:2 with lines lw 2 title "users admitted, inside"
set ylabel "ms"
set logscale y
plot "$DAT" using 1:(\$6 > 0 ? \$6 : 1/0) with lines lw 2 title "service p99 (per second)", \
     $TARGET_MS with lines dt 2 lw 2 title "target"
unset multiplot
EOF
