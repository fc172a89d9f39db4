#!/bin/sh
# cid's forward-auth throughput and latency, with wrk on loopback inside a
# private network namespace. Three targets, interleaved, RUNS x DUR each:
#
#   ceiling  nginx -> auth_request -> a trivial upstream that answers 204
#   nginx    nginx -> auth_request -> cid, valid cookie
#   direct   cid's /_sekisho/auth hit directly, valid cookie
#
# Both nginx targets serve the same small static file after the check and
# use the same keepalive upstream settings, so the ratio nginx/ceiling is the
# price of cid itself. Reports medians. Results: bench/results/cid.txt.
# Usage: sh bench/cid.sh   (root; SEKISHO_BUILD, RUNS, DUR, CONNS may be set)
set -u
SEKISHO_TOP=${SEKISHO_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
. "$SEKISHO_TOP/tests/net/lib.sh"
RUNS=${RUNS:-5}
DUR=${DUR:-5}
CONNS=${CONNS:-64}
OUT=${SEKISHO_BENCH_OUT:-$SEKISHO_TOP/bench/results}/cid.txt
B=$SEKISHO_BUILD
net_init
CONF=$T/sekisho.conf
CTL="$B/sekishoctl -f $CONF"

for bin in "$B/cid" "$B/sekishoctl" "$B/tests/tools/mkcode"; do
	[ -x "$bin" ] || { echo "bench/cid.sh: missing $bin (make all build/tests/tools/mkcode)" >&2; exit 1; }
done
command -v wrk >/dev/null && command -v nginx >/dev/null || { echo "bench/cid.sh: needs wrk and nginx" >&2; exit 1; }

cat >"$CONF" <<EOF
log_level = warn
[db]
path = $T/sekisho.db
[authd]
base_url = http://portal.test
web_dir = $SEKISHO_TOP/web
[ipfd]
enabled = off
[cid]
listen = 127.0.0.1:8081
trusted_proxies = 127.0.0.1
EOF

auth_location() {   # path upstream
	cat <<EOF
		location = $1 {
			internal;
			proxy_pass http://$2;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_method GET;
			proxy_pass_request_body off;
			proxy_set_header Content-Length "";
			proxy_set_header X-Sekisho-Service lab;
			proxy_set_header X-Forwarded-For \$remote_addr;
		}
EOF
}

mkdir -p "$T/www" "$T/nginx"
echo "ok" >"$T/www/index.html"
cat >"$T/nginx.conf" <<EOF
daemon off;
worker_processes 2;
pid $T/nginx.pid;
error_log $T/nginx-error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	keepalive_requests 1000000;
	client_body_temp_path $T/nginx/body;
	proxy_temp_path $T/nginx/proxy;
	fastcgi_temp_path $T/nginx/fastcgi;
	uwsgi_temp_path $T/nginx/uwsgi;
	scgi_temp_path $T/nginx/scgi;
	upstream cid { server 127.0.0.1:8081; keepalive 64; }
	upstream trivial { server 127.0.0.1:8091; keepalive 64; }
	server {
		listen 127.0.0.1:8080;
		root $T/www;
$(auth_location /_sekisho/auth cid)
		location / { auth_request /_sekisho/auth; }
	}
	server {
		listen 127.0.0.1:8090;
		root $T/www;
$(auth_location /_trivial/auth trivial)
		location / { auth_request /_trivial/auth; }
	}
	server {
		listen 127.0.0.1:8091;
		keepalive_requests 100000;
		location / { return 204; }
	}
}
EOF

printf 'bench-password-1\n' >"$T/pw"
{
	$CTL init --root-password-file "$T/pw" &&
	$CTL user add w --role user --password-file "$T/pw" &&
	$CTL service add lab --url http://127.0.0.1:8080/ --max-usage 600 --max-interval 60 --cap 10 --admin root &&
	$CTL grant w lab 127.0.0.1
} >"$T/setup.log" 2>&1 || { cat "$T/setup.log" >&2; exit 1; }

host_add gw
bg_start cid gw "$B/cid" -d -f "$CONF"
bg_start nginx gw nginx -c "$T/nginx.conf" -p "$T/nginx"
healthy() { [ "$(in_ns gw curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9081/healthz)" = 200 ]; }
wait_for 10 healthy || { echo "bench/cid.sh: cid did not start" >&2; cat "$T/cid.log" >&2; exit 1; }
code=$("$B/tests/tools/mkcode" -f "$CONF" w lab) && code=${code#* }
cookie=$(in_ns gw curl -s -D - -o /dev/null -H 'X-Sekisho-Service: lab' \
	"http://127.0.0.1:8081/_sekisho/enter?code=$code" | tr -d '\r' | sed -n 's/^Set-Cookie: sekisho=\([^;]*\);.*/\1/p')
[ -n "$cookie" ] || { echo "bench/cid.sh: no cookie from the handoff" >&2; exit 1; }
for u in http://127.0.0.1:8080/ http://127.0.0.1:8090/; do
	s=$(in_ns gw curl -s -o /dev/null -w '%{http_code}' -b "sekisho=$cookie" "$u")
	[ "$s" = 200 ] || { echo "bench/cid.sh: $u answers $s" >&2; exit 1; }
done
s=$(in_ns gw curl -s -o /dev/null -w '%{http_code}' -b "sekisho=$cookie" -H 'X-Sekisho-Service: lab' \
	http://127.0.0.1:8081/_sekisho/auth)
[ "$s" = 204 ] || { echo "bench/cid.sh: direct check answers $s" >&2; exit 1; }

# wrk's "Latency" percentile lines in ms.
to_ms() { awk '{ v = $1; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
	if (u == "us") v /= 1000; else if (u == "s") v *= 1000; else if (u == "m") v *= 60000; printf "%.3f\n", v }'; }
# CPU time (clock ticks, user + system) of processes: a measure other load on the machine skews less.
ticks() { for p in "$@"; do awk '{ print $14 + $15 }' "/proc/$p/stat"; done | awk '{ s += $1 } END { print s + 0 }'; }
CID_PID=$(cat "$T/cid.pid")
NGINX_PIDS="$(cat "$T/nginx.pid") $(pgrep -P "$(cat "$T/nginx.pid")" | tr '\n' ' ')"
HZ=$(getconf CLK_TCK)
run_wrk() {   # name url [header]
	name=$1 url=$2; shift 2
	f="$T/$name.$run.wrk"
	c0=$(ticks "$CID_PID") n0=$(ticks $NGINX_PIDS)
	in_ns gw wrk -t2 -c"$CONNS" -d"${DUR}s" --latency -H "Cookie: sekisho=$cookie" "$@" "$url" >"$f" 2>&1
	c1=$(ticks "$CID_PID") n1=$(ticks $NGINX_PIDS)
	rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$f")
	reqs=$(sed -n 's/^ *\([0-9][0-9]*\) requests in.*/\1/p' "$f")
	p50=$(sed -n 's/^ *50% *//p' "$f" | to_ms)
	p99=$(sed -n 's/^ *99% *//p' "$f" | to_ms)
	bad=$(sed -n 's/^ *Non-2xx or 3xx responses: *//p' "$f")
	cpu=$(awk -v c=$((c1 - c0)) -v n=$((n1 - n0)) -v r="${reqs:-1}" -v hz="$HZ" \
		'BEGIN { printf "%.2f %.2f", c * 1e6 / hz / r, n * 1e6 / hz / r }')
	echo "$name $run ${rps:-0} ${p50:-0} ${p99:-0} ${bad:-0} $cpu" >>"$T/runs"
}
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$T/runs"
for run in $(seq 1 "$RUNS"); do
	run_wrk ceiling http://127.0.0.1:8090/
	run_wrk nginx http://127.0.0.1:8080/
	run_wrk direct http://127.0.0.1:8081/_sekisho/auth -H 'X-Sekisho-Service: lab'
done

# Open loop: a fixed offered rate, latency counted from when each request was due.
LOAD=$B/bench/cidload
fixed() {   # name port path rate [header]
	name=$1 port=$2 path=$3 rate=$4; shift 4
	[ -x "$LOAD" ] || return 0
	line=$(in_ns gw "$LOAD" 127.0.0.1 "$port" "$path" "$rate" "$CONNS" "$DUR" "Cookie: sekisho=$cookie" "$@")
	echo "$name@$rate $run $(echo "$line" | sed 's/[a-z0-9_]*=//g')" >>"$T/fixed"
}
: >"$T/fixed"
for run in $(seq 1 "$RUNS"); do
	for rate in 10000 20000 40000; do
		fixed direct 8081 /_sekisho/auth "$rate" 'X-Sekisho-Service: lab'
	done
	for rate in 5000 10000; do
		fixed nginx 8080 / "$rate"
	done
done

median() {   # name column
	awk -v n="$1" -v c="$2" '$1 == n { print $c }' "$T/runs" | sort -n |
		awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
mkdir -p "$(dirname "$OUT")"
{
	echo "cid forward-auth benchmark ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, commit $(git -C "$SEKISHO_TOP" rev-parse --short HEAD 2>/dev/null))"
	echo "wrk -t2 -c$CONNS -d${DUR}s --latency, $RUNS runs per target, interleaved; one valid cookie;"
	echo "nginx $(nginx -v 2>&1 | sed 's/.*\///'), 2 workers; cid threads = 2; everything on one machine's loopback."
	echo "load average before the runs: $LOAD_BEFORE (other work on the machine skews every figure)"
	echo
	printf '%-8s %11s %8s %8s %8s %9s %9s  %s\n' target "req/s(med)" "p50 ms" "p99 ms" non-2xx \
		"cid us/r" "ngx us/r" "req/s per run"
	for n in ceiling nginx direct; do
		printf '%-8s %11s %8s %8s %8s %9s %9s  %s\n' "$n" "$(median "$n" 3)" "$(median "$n" 4)" \
			"$(median "$n" 5)" "$(awk -v n="$n" '$1 == n { s += $6 } END { print s + 0 }' "$T/runs")" \
			"$(median "$n" 7)" "$(median "$n" 8)" "$(awk -v n="$n" '$1 == n { printf "%s ", $3 }' "$T/runs")"
	done
	echo "(us/r: CPU microseconds, user + system, that cid and nginx (all workers) spent per request;"
	echo " in the ceiling, nginx's figure includes the trivial 204 upstream)"
	echo
	if [ -s "$T/fixed" ]; then
		echo "open loop (bench/cidload): fixed offered rate over $CONNS connections, latency from when each"
		echo "request was due (queueing included); medians of $RUNS runs of ${DUR}s"
		printf '%-14s %10s %9s %9s %9s %9s %8s\n' target achieved "p50 ms" "p90 ms" "p99 ms" "p99.9 ms" non-2xx
		for n in $(awk '{ print $1 }' "$T/fixed" | awk '!seen[$0]++'); do
			awk -v n="$n" '$1 == n' "$T/fixed" >"$T/fixed.one"
			m() { awk -v c="$1" '{ print $c }' "$T/fixed.one" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
			printf '%-14s %10s %9.3f %9.3f %9.3f %9.3f %8s\n' "$n" "$(m 7)" "$(m 8)e-3" "$(m 9)e-3" "$(m 10)e-3" \
				"$(m 11)e-3" "$(awk '{ s += $6 } END { print s + 0 }' "$T/fixed.one")"
		done
		echo
	fi
	c=$(median ceiling 3) g=$(median nginx 3) d=$(median direct 3) p=$(median direct 5) pn=$(median nginx 5)
	awk -v c="$c" -v g="$g" -v d="$d" -v p="$p" -v pn="$pn" 'BEGIN {
		printf "nginx->cid / nginx->trivial 204 = %.2f   (goal >= 0.80: %s)\n", g / c, (g / c >= 0.8) ? "met" : "NOT met"
		printf "direct checks/s = %.0f                (goal >= 40000: %s)\n", d, (d >= 40000) ? "met" : "NOT met"
		printf "direct p99 = %.3f ms                  (goal < 1 ms at 64 connections: %s)\n", p, (p < 1) ? "met" : "NOT met"
		printf "  (closed loop at saturation: by Little'"'"'s law the mean latency is 64 / throughput)\n"
		printf "through nginx p99 = %.3f ms\n", pn
	}'
	if [ -s "$T/fixed" ]; then
		awk '$1 == "direct@40000" { print $10 }' "$T/fixed" | sort -n |
			awk '{ v[NR] = $1 } END { if (NR) printf "direct p99 at 40000 checks/s offered, open loop = %.3f ms (goal < 1 ms: %s)\n", v[int((NR + 1) / 2)] / 1000, (v[int((NR + 1) / 2)] < 1000) ? "met" : "NOT met" }'
	fi
} | tee "$OUT"
