#!/bin/sh
# The switch-over experiment (docs/tls.md, results/tls.txt), as root in
# network namespaces: clients c1 open new HTTPS connections at a steady rate,
# each offering its saved TLS session, to nginx on gateway A; after PHASE
# seconds A stops and the clients go to gateway B. Counted at B over the next
# PHASE seconds: connections, full handshakes (nginx's $ssl_session_reused),
# how many came from clients never seen before, and the CPU of B's nginx
# (master and worker, utime + stime from /proc/PID/stat). Run twice in one
# go: B with the ring shared through the store ("ring"), and B with keys of
# its own ("own"). A share NEW of connections is from new clients. Both
# with an RSA-2048 and an RSA-4096 certificate (the full handshake's cost is
# mostly the server's signature: 4096 makes it weigh as in the source's figures).
# Environment: SEKISHO_BUILD, SEKISHO_BENCH_OUT, TLS_BENCH_CLIENTS (2000),
# TLS_BENCH_RATE (80 connections/s), TLS_BENCH_PHASE (30 s), TLS_BENCH_NEW (0.05).
SEKISHO_TOP=${SEKISHO_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
. "$SEKISHO_TOP/tests/net/lib.sh"
. "$SEKISHO_TOP/tests/net/lib_tls.sh"
net_init

B=$SEKISHO_BUILD
OUT=${SEKISHO_BENCH_OUT:-$SEKISHO_TOP/bench/results}
CLIENTS=${TLS_BENCH_CLIENTS:-2000}
RATE=${TLS_BENCH_RATE:-80}
PHASE=${TLS_BENCH_PHASE:-30}
NEW=${TLS_BENCH_NEW:-0.05}
A_IP=10.0.6.1
B_IP=10.0.7.1
HZ=$(getconf CLK_TCK)

cat >"$T/sekisho.conf" <<EOF
[db]
path = $T/sekisho.db
[ipfd]
enabled = off
EOF
printf 'root-password-1\n' >"$T/pw"
"$B/sekishoctl" -f "$T/sekisho.conf" init --root-password-file "$T/pw" >/dev/null || exit 1
host_add ga && host_add gb && host_add c1 && link_add c1 10.0.6.2/24 ga "$A_IP/24" &&
	link_add c1 10.0.7.2/24 gb "$B_IP/24" || exit 1

ticks() {   # gw: utime + stime of nginx's master and its children
	m=$(cat "$T/$1/nginx.pid")
	for p in $m $(pgrep -P "$m"); do
		awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null
	done | awk '{s += $1} END {print s + 0}'
}

run() {   # mode: ring | own
	mode=$1
	rm -rf "$T/ga" "$T/gb" "$T/switch"
	tls_nginx_conf ga "$A_IP" && tls_nginx_conf gb "$B_IP"
	"$B/sekishoctl" -f "$T/sekisho.conf" tls-keys sync --nginx "$T/ga/nginx" >/dev/null || exit 1
	if [ "$mode" = ring ]; then
		"$B/sekishoctl" -f "$T/sekisho.conf" tls-keys sync --nginx "$T/gb/nginx" >/dev/null || exit 1
	else
		for i in 0 1 2; do openssl rand 80 >"$T/gb/nginx/ticket.$i.key"; done
		chmod 600 "$T"/gb/nginx/*.key
	fi
	tls_nginx_start ga && tls_nginx_start gb || exit 1
	sleep 1
	in_ns c1 "$PY" "$SEKISHO_TOP/bench/tls_switch.py" "$A_IP" "$B_IP" 443 "$CLIENTS" "$RATE" \
		$((2 * PHASE)) "$NEW" "$T/switch" >"$T/$mode.out" &
	drv=$!
	sleep "$PHASE"
	tls_nginx_stop ga
	t0=$(ticks gb)
	touch "$T/switch"
	wait "$drv"
	t1=$(ticks gb)
	tls_nginx_stop gb
	awk -v mode="$mode" -v cpu="$(( (t1 - t0) * 1000 / HZ ))" -v phase="$PHASE" '
		$2 == "A" { a++; af += !$3 }
		$2 == "B" && $4 { b++; bf += !$3; bn += $5 }
		$2 == "B" && !$4 { be++ }
		END { printf "%-5s  A: %5d conn %5d full | B: %5d conn %5d full %5d from new clients %3d failed | B CPU %5.2f s = %4.1f%% of one CPU\n",
		      mode, a, af, b, bf, bn, be, cpu / 1000, cpu / 10 / phase }' "$T/$mode.out"
	printf '       B access log: %s full handshakes (".")\n' "$(grep -c ' \.$' "$T/gb/logs/access.log")"
}

{
	echo "# bench/tls.sh $(date -u +%Y-%m-%dT%H:%MZ) commit $(git -C "$SEKISHO_TOP" rev-parse --short HEAD 2>/dev/null)"
	echo "# $CLIENTS clients, $RATE new connections/s, ${PHASE}s at A then ${PHASE}s at B, new-client share $NEW"
	echo "# nginx $(nginx -v 2>&1 | sed 's|.*/||'), 1 worker each, TLS 1.2/1.3 (client default: TLS 1.3)"
	echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg); CPUs: $(nproc)"
	for bits in 2048 4096; do
		openssl req -x509 -newkey "rsa:$bits" -nodes -keyout "$T/key.pem" -out "$T/cert.pem" \
			-days 2 -subj /CN=gw.test >/dev/null 2>&1 || exit 1
		echo "## RSA-$bits certificate; load average $(cut -d' ' -f1-3 /proc/loadavg)"
		run ring
		run own
	done
	echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$T/tls.txt"
mkdir -p "$OUT" && cp "$T/tls.txt" "$OUT/tls.txt"
net_cleanup
