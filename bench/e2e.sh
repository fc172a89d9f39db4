#!/bin/sh
# End-to-end benchmarks of the whole system (run by bench/run.sh as root):
# the topology of tests/net/test_e2e.sh (ipfd, authd, cid on a gateway
# namespace; nginx + the sekisho door + an app on a service namespace; clients
# in their own namespaces), driven by bench/drivers/e2e_client.sh (sh + curl, timed
# by curl's -w). See bench/README.md.
#
#   1. the thesis's Table 1: 1..5 concurrent clients x A accesses each
#   2. scaled: 50, 200, 1000 concurrent clients
#   3. 100 000 live rights: ipfd's rebuild at start and restart, cid's start,
#      admission latency, and a sweep of 100 000 expired rights
#   4. flood: the scaled 1000-client row again, driven by bench/flood (one
#      process, libcurl multi, the login line followed as a browser does)
#      instead of a curl process per request
#
# Results: $SEKISHO_BENCH_OUT/e2e.txt (tables), e2e_table1.dat, e2e_table1.png;
# with another number of accesses A than the default, e2e_A<A>.txt and
# e2e_table1_A<A>.{dat,png}, so a thesis-size run is kept beside the default.
# Environment:
#   SEKISHO_BENCH_E2E_ACCESSES   accesses per client for Table 1 (default 100;
#                                the thesis used 1000: about 30 min on 2 cores)
#   SEKISHO_BENCH_E2E_PARTS      which parts to run (default "table1 scaled bulk flood");
#                                "flood" alone writes e2e_flood.txt instead of e2e.txt
. "${SEKISHO_TOP:-$(cd "$(dirname "$0")/.." && pwd)}/tests/net/lib.sh"
. "$SEKISHO_TOP/tests/net/lib_system.sh"

OUT=${SEKISHO_BENCH_OUT:-$SEKISHO_TOP/bench/results}
A=${SEKISHO_BENCH_E2E_ACCESSES:-100}
PARTS=${SEKISHO_BENCH_E2E_PARTS:-table1 scaled bulk flood}
BULK=${SEKISHO_BENCH_E2E_BULK:-100000}
DRIVER=$SEKISHO_TOP/bench/drivers/e2e_client.sh
mkdir -p "$OUT"
TAG=""
[ "$A" = 100 ] || TAG=_A$A
[ "$PARTS" = flood ] && TAG=_flood
RES=$OUT/e2e$TAG.txt DAT=$OUT/e2e_table1$TAG.dat PNG=$OUT/e2e_table1$TAG.png

# The daemons' defaults, except a sweeper that runs every second so the sweep
# is timed and not waited for.
SYS_CID_TOUCH_MS=1000 SYS_CID_REFRESH_MS=250 SYS_CID_THREADS=2 SYS_SYNC_S=30 SYS_SWEEP_S=1
net_init

# The kernel's neighbour (ARP) table is shared by all namespaces and holds
# 1024 entries by default; the gateway must know 1000 crowd machines at once.
# Raised for the run (never lowered), put back at exit.
NEIGH="net.ipv4.neigh.default.gc_thresh1 net.ipv4.neigh.default.gc_thresh2 net.ipv4.neigh.default.gc_thresh3"
neigh_old=$(for k in $NEIGH; do printf '%s=%s ' "$k" "$(sysctl -n "$k")"; done)
trap 'sysctl -qw $neigh_old; net_cleanup' EXIT
[ "$(sysctl -n net.ipv4.neigh.default.gc_thresh3)" -ge 8192 ] ||
	sysctl -qw net.ipv4.neigh.default.gc_thresh1=2048 net.ipv4.neigh.default.gc_thresh2=4096 \
		net.ipv4.neigh.default.gc_thresh3=8192

say() { printf '%s\n' "$*" | tee -a "$RES"; }
now_ms() { date +%s%3N; }
part() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }

# ---- the system ----
: >"$RES"
sys_init
for n in 1 2 3 4 5; do sys_client "c$n" "$n"; done
sys_crowd crowd 1000
sys_user t1 t2 t3 t4 t5
sys_users_fast w 1000
sys_users_fast f 400
sys_service bench 2 300000 60 30
sys_start_all || { echo "e2e: the system did not start" >&2; exit 1; }
SVC=$(sql "SELECT id FROM services WHERE name = 'bench'")

# run NAME HOST K RETRIES, "ADDR USER" lines on stdin: the clients at once, K
# accesses each. Access lines in $T/NAME.out; wall time (ms) in $T/NAME.wall.
run() {   # name host k retries
	cat >"$T/$1.clients"
	rm -f "$T/$1.out"
	t0=$(now_ms)
	in_ns "$2" sh -c 'while read a u; do
		sh "$0" "$1" "$a" "$u" "$2" bench "$3" "$4.$a" "$5" &
	done <"$4.clients"; wait' "$DRIVER" "$PORTAL" "$SYS_PW" "$3" "$T/$1" "$4"
	echo $(($(now_ms) - t0)) >"$T/$1.wall"
	cat "$T/$1".*.*.*.* >"$T/$1.out" 2>/dev/null
	rm -f "$T/$1".*.*.*.*
}

# Statistics of a run: "n errors meanT1 meanT2 meanT varT p50T p99T maxT retried busy refused"
# (seconds). n counts accesses that reached the service page; retried, those
# that needed more than one attempt; busy, the 503 answers in all; refused,
# the connections authd did not take.
stats() {   # name
	awk '$1 == 303 && $3 == 200 && $5 == 1 { print $2, $4, $2 + $4, $6, $7; next } { print "error", $6, $7 }' \
		"$T/$1.out" >"$T/$1.t"
	grep -v error "$T/$1.t" | cut -d' ' -f3 | sort -n >"$T/$1.sorted"
	awk -v sorted="$T/$1.sorted" '
		{ b = $1 == "error" ? $2 : $4; r = $1 == "error" ? $3 : $5
		  busy += b; refused += r; if (b + r > 0) retried++ }
		$1 == "error" { errors++; next }
		{ n++; s1 += $1; s2 += $2; s += $3; ss += $3 * $3 }
		END {
			if (n == 0) { printf "0 %d - - - - - - - %d %d %d\n", errors, retried, busy, refused; exit }
			m = s / n; v = ss / n - m * m; if (v < 0) v = 0
			for (i = 1; (getline x < sorted) > 0; i++) t[i] = x
			printf "%d %d %.3f %.4f %.3f %.4f %.3f %.3f %.3f %d %d %d\n", n, errors, s1 / n, s2 / n,
				m, v, t[int((n - 1) * 0.50) + 1], t[int((n - 1) * 0.99) + 1], t[n], retried, busy, refused
		}' "$T/$1.t"
}

# ---- 1. Table 1 ----
THESIS_T1="1.025 1.190 1.241 1.327 1.582"
THESIS_T2="0.008 0.010 0.012 0.012 0.010"
THESIS_T="1.033 1.200 1.252 1.339 1.592"
THESIS_V="0.001 0.092 0.099 0.149 0.246"
nth() { echo "$2" | cut -d' ' -f"$1"; }

table1() {
	say "== Table 1, end to end: N concurrent clients x $A accesses each"
	say "   access = POST /login (scrypt N=2^15 r=8 p=1, admission, ipfd kernel ack) -> 303 = T1;"
	say "            handoff 303 + first page through firewall, nginx auth_request, cid = T2; T = T1 + T2"
	say "   seconds; 'thesis' = the Kagawa University thesis's Table 1; var = population variance of T"
	say "   load = the machine's 1-minute load average at the end of the row (other work on it shows there)"
	say "clients   T1 (thesis)      T2 (thesis)      T (thesis)       var T (thesis)    p50 T  p99 T  max T  errors  wall s  load"
	: >"$DAT"
	for n in 1 2 3 4 5; do
		# Each client is its own machine: run from its own namespace.
		rm -f "$T/t1_$n.out"
		t0=$(now_ms) pids=""
		i=1
		while [ $i -le $n ]; do
			in_ns "c$i" sh "$DRIVER" "$PORTAL" "10.0.$i.2" "t$i" "$SYS_PW" bench "$A" "$T/t1_$n.part.$i" &
			pids="$pids $!" i=$((i + 1))
		done
		wait $pids
		echo $(($(now_ms) - t0)) >"$T/t1_$n.wall"
		cat "$T/t1_$n".part.[0-9] >"$T/t1_$n.out"
		set -- $(stats "t1_$n")
		say "$(printf '%-9s %.3f (%s)    %.4f (%s)   %.3f (%s)    %.4f (%s)    %.3f  %.3f  %.3f  %-6s  %-6s  %s' \
			"$n" "$3" "$(nth "$n" "$THESIS_T1")" "$4" "$(nth "$n" "$THESIS_T2")" \
			"$5" "$(nth "$n" "$THESIS_T")" "$6" "$(nth "$n" "$THESIS_V")" "$7" "$8" "$9" "$2" \
			"$(awk -v w="$(cat "$T/t1_$n.wall")" 'BEGIN { printf "%.0f", w / 1000 }')" "$(cut -d' ' -f1 /proc/loadavg)")"
		echo "$n $3 $4 $5 $6 $(nth "$n" "$THESIS_T1") $(nth "$n" "$THESIS_T2") $(nth "$n" "$THESIS_T") $(nth "$n" "$THESIS_V")" \
			>>"$DAT"
	done
	say ""
	plot
}

plot() {
	command -v gnuplot >/dev/null || { say "(gnuplot missing: no plot)"; return 0; }
	gnuplot <<EOF 2>>"$T/gnuplot.err" || say "(gnuplot failed: $(head -n 3 "$T/gnuplot.err"))"
set terminal pngcairo size 1100,450 font "sans,10"
set output "$PNG"
set multiplot layout 1,2 title "sekisho end to end vs the thesis's Table 1 ($A accesses per client)"
set xlabel "concurrent clients"
set xtics 1
set xrange [0.5:5.5]
set key top left
set grid ytics
set ylabel "seconds"
set title "T1 (login + filter) and T = T1 + T2"
plot "$DAT" using 1:6 with linespoints lw 2 title "thesis T1", \
     "" using 1:8 with linespoints lw 2 title "thesis T", \
     "" using 1:2 with linespoints lw 2 title "sekisho T1", \
     "" using 1:4:(sqrt(\$5)) with yerrorlines lw 2 title "sekisho T (+/- 1 sd)"
set title "T2: first service access (firewall + cookie check)"
set ylabel "milliseconds"
plot "$DAT" using 1:(\$7*1000) with linespoints lw 2 title "thesis T2", \
     "" using 1:(\$3*1000) with linespoints lw 2 title "sekisho T2"
unset multiplot
EOF
	[ -s "$PNG" ] && say "plot: bench/results/$(basename "$PNG")"
}

# ---- 2. scaled ----
scaled() {
	say "== Scaled: N concurrent clients (one address and user each, all in one namespace), K accesses each"
	say "   Fewer accesses per client as N grows, to keep the run short. The users share one scrypt hash,"
	say "   so every login still costs one full scrypt. authd answers 503 (Retry-After: 5) to a login that"
	say "   found no free hash worker for 20 s, and a connection it does not answer at all (curl: code 000)"
	say "   counts as refused; the client then waits (Retry-After, or 1 s) and tries again, up to 20"
	say "   times, and T1 counts every attempt and every wait. ok = accesses that reached the service page;"
	say "   retried = accesses that needed more than one try; 503s, refused = how many of each in all."
	say "clients  K  ok     T1 mean  T2 mean  T mean   p50 T    p99 T    max T    retried  503s  refused  failed  wall s  logins/s"
	for nk in 50:4 200:2 1000:1; do
		n=${nk%:*} k=${nk#*:}
		i=0
		while [ $i -lt "$n" ]; do echo "$(crowd_addr $i) w$((i + 1))"; i=$((i + 1)); done |
			run "s$n" crowd "$k" 20
		set -- $(stats "s$n")
		w=$(cat "$T/s$n.wall")
		say "$(printf '%-8s %-2s %-6s %-8s %-8s %-8s %-8s %-8s %-8s %-8s %-5s %-8s %-7s %-7s %s' "$n" "$k" "$1" "$3" "$4" \
			"$5" "$7" "$8" "$9" "${10}" "${11}" "${12}" "$2" "$(awk -v w="$w" 'BEGIN { printf "%.1f", w / 1000 }')" \
			"$(awk -v w="$w" -v n="$1" 'BEGIN { printf "%.1f", n * 1000 / w }')")"
	done
	say ""
}

# ---- 3. 100 000 live rights ----
seed() {   # count: live rights of service bench for users bulkN, addresses 10.64.0.0 + i
	awk -v n="$1" -v svc="$SVC" -v now="$(date +%s)" 'BEGIN {
		print "BEGIN;"
		for (i = 0; i < n; i++)
			printf "INSERT INTO users (id, name, role, pwhash, created_at) VALUES (%d, \047bulk%d\047, 0, \047-\047, %d);\n", 1000000 + i, i, now
		for (i = 0; i < n; i++)
			printf "INSERT INTO rights (sid, user_id, user_name, service_id, service_name, ip, created_at, expires_at, last_seen) VALUES (\047%032x\047, %d, \047bulk%d\047, %d, \047bench\047, X\047%08x\047, %d, %d, %d);\n",
				i + 1, 1000000 + i, i, svc, 167772160 + 4194304 + i, now, now + 3600, now
		print "COMMIT;"
	}' >"$T/seed.sql"
	sql <"$T/seed.sql"
}
bulk_ip() { awk -v i="$1" 'BEGIN { v = 167772160 + 4194304 + i; printf "%d.%d.%d.%d", int(v / 16777216), int(v / 65536) % 256, int(v / 256) % 256, v % 256 }'; }
in_set() { in_ns gw nft get element inet sekisho "s${SVC}_v4" "{ $1 }" >/dev/null 2>&1; }
log_ms() {   # file event: the timestamp (ms since the epoch) of the first line with it
	sed -n "/$2/{s/^\([0-9T:.-]*\)+0000 .*/\1/p;q}" "$1" | sed 's/T/ /' |
		xargs -I{} date -u -d '{}' +%s%3N
}
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1000 }'; }

# Five clients at once, 40 accesses each. relogin: users t1..t5 log in again
# and again (each login replaces the user's previous right, and ipfd is asked
# to drop that right while its address stays in use); first: every access is
# another user's first login (users fBASE+1.., one driver run each).
bulk_admission() {   # label relogin|first base
	label=$1 mode=$2 base=$3
	rm -f "$T/b_$base".part.*
	from=$(wc -l <"$T/authd.log")
	pids="" i=1
	while [ $i -le 5 ]; do
		if [ "$mode" = relogin ]; then
			in_ns "c$i" sh "$DRIVER" "$PORTAL" "10.0.$i.2" "t$i" "$SYS_PW" bench 40 "$T/b_$base.part.$i" &
		else
			in_ns "c$i" sh -c 'j=1; while [ $j -le 40 ]; do
				sh "$0" "$1" "$2" "f$(($3 + ($4 - 1) * 40 + j))" "$5" bench 1 "$6"; j=$((j + 1))
			done' "$DRIVER" "$PORTAL" "10.0.$i.2" "$base" "$i" "$SYS_PW" "$T/b_$base.part.$i" &
		fi
		pids="$pids $!" i=$((i + 1))
	done
	wait $pids
	cat "$T/b_$base".part.[0-9] >"$T/b_$base.out"
	set -- $(stats "b_$base")
	say "$(printf '  %-30s live %-7s T1 %s  T2 %s  T %s  p99 T %s  errors %s' "$label" "$(live bench)" "$3" "$4" "$5" "$8" "$2")"
	# authd's own account of the admissions: store transaction, ipfd round trip, entry code.
	say "$(tail -n +"$((from + 1))" "$T/authd.log" | grep 'event=admit ' |
		sed 's/.*ms_store=\([0-9.]*\) ms_fw=\([0-9.]*\) ms_code=\([0-9.]*\).*/\1 \2 \3/' |
		awk '{ s += $1; f += $2; c += $3; n++ } END { if (n) printf "      authd, mean of %d admissions: store %.2f ms, ipfd %.2f ms, entry code %.2f ms", n, s / n, f / n, c / n }')"
}

# ipfd logs its start after the first full sync's batch was acknowledged by
# the kernel; the spawn -> that line is the rebuild as a client sees it.
ipfd_timed_start() {   # label
	t0=$(now_ms)
	sys_start ipfd
	wait_for 120 grep -q 'event=start' "$T/ipfd.log"
	ts=$(log_ms "$T/ipfd.log" 'event=start')
	sync=$(grep -m1 'event=sync scope=all' "$T/ipfd.log" | sed 's/.*\(elements=[0-9]*\).*\(build_us=[0-9]*\) \(commit_us=[0-9]*\).*/\1 \2 \3/')
	say "  $1: ipfd spawn -> kernel holds every right $(ms "$t0" "$ts") s ($sync)"
	check_set
}
check_set() {
	in_set "$(bulk_ip 0)" && in_set "$(bulk_ip $((BULK - 1)))" ||
		say "    NOT in the kernel: the first or last seeded address"
}

bulk() {
	say "== $BULK live rights (service bench, one address each, fake users)"
	bulk_admission "first logins, before" first 0
	bulk_admission "relogins, before" relogin 0
	for d in authd cid ipfd; do sys_stop "$d"; done
	t0=$(now_ms)
	seed "$BULK"
	say "  seeded $BULK rights with sqlite3 in $(ms "$t0" "$(now_ms)") s; kernel set before ipfd starts: $(set_count bench) addresses"
	mv "$T/ipfd.log" "$T/ipfd.log.0"
	ipfd_timed_start "rebuild at start (set lacks them)"
	say "    kernel set: $(set_count bench) addresses (nft list), store: $(live bench) live rights"
	t0=$(now_ms)
	sys_start cid
	say "  cid start with $(live bench) rights -> healthy: $(ms "$t0" "$(now_ms)") s ($(grep -m1 'event=snapshot' "$T/cid.log" | sed 's/.*event=snapshot //'))"
	sys_start authd
	bulk_admission "first logins, with $BULK" first 200
	bulk_admission "relogins, with $BULK" relogin 200
	sys_stop ipfd && mv "$T/ipfd.log" "$T/ipfd.log.1"
	ipfd_timed_start "restart (set intact)"
	sys_stop ipfd && mv "$T/ipfd.log" "$T/ipfd.log.2"
	in_ns gw nft flush set inet sekisho "s${SVC}_v4"
	ipfd_timed_start "restart (set flushed)"

	# The sweep: every seeded right past its expiry at once.
	tp=$(now_ms); set_count bench >/dev/null; poll=$(ms "$tp" "$(now_ms)")
	before=$(grep -c 'event=sweep ' "$T/authd.log")
	t0=$(now_ms)
	sql "UPDATE rights SET expires_at = unixepoch() - 1 WHERE ended_at IS NULL AND user_id >= 1000000"
	t1=$(now_ms)
	gone() { [ "$(sql "SELECT count(*) FROM rights WHERE ended_at IS NULL AND user_id >= 1000000")" = 0 ]; }
	wait_for 600 gone
	t2=$(now_ms)
	left() { ! in_set "$(bulk_ip 0)" && ! in_set "$(bulk_ip $((BULK - 1)))" && [ "$(set_count bench)" -le "$(live bench)" ]; }
	wait_for 600 left
	t3=$(now_ms)
	passes=$(($(grep -c 'event=sweep ' "$T/authd.log") - before))
	say "  sweep of $BULK expired rights: expiry written in $(ms "$t0" "$t1") s; all ended in the store $(ms "$t1" "$t2") s later"
	say "    (sweeper every 1 s, $passes passes); kernel set emptied of them $(ms "$t1" "$t3") s after expiry"
	say "    (polled with nft list, which takes $poll s on the full set)"
	say "    ($(grep 'event=sweep ' "$T/authd.log" | tail -n +$((before + 1)) | sed 's/.*event=sweep //' | tr '\n' ' '))"
	say ""
}

# ---- 4. the 1000-client row with bench/flood ----
flood_row() {
	say "== Scaled, 1000 concurrent clients again, driven by bench/flood: one process (libcurl multi),"
	say "   one address, user (w1..w1000) and cookie jar per client, all arriving within 1 s, 1 access each."
	say "   A login that cannot be checked at once gets its place in the login line and refreshes"
	say "   /login/wait when its page says, as a browser does; T1 = POST /login sent -> its 303 (the line"
	say "   included), T2 = the 303 followed through the handoff to the service's first page (firewall,"
	say "   nginx auth_request, cid), then /me and logout. Same system and service as the rows above."
	say "   load before: $(cut -d' ' -f1-3 /proc/loadavg)"
	# The prober (GET / every 50 ms) shares the first client's address.
	{ crowd_addr 0; i=0; while [ $i -lt 1000 ]; do crowd_addr $i; i=$((i + 1)); done; } >"$T/flood.addrs"
	t0=$(now_ms)
	in_ns crowd "$SEKISHO_BUILD/bench/flood" --src-file "$T/flood.addrs" --users 1000 \
		--service bench --prefix w --password "$SYS_PW" --portal "$PORTAL" --spread-ms 1000 \
		--usage-s 0 --poll-s 2 --probe-ms 50 --retries 20 --enter 1 --duration-s 1800 \
		>"$T/flood.out" 2>&1
	w=$(($(now_ms) - t0))
	sed 's/^/   /' "$T/flood.out" | tee -a "$RES"
	say "   wall $(awk -v w="$w" 'BEGIN { printf "%.1f", w / 1000 }') s; load after: $(cut -d' ' -f1-3 /proc/loadavg)"
	say ""
}

t_start=$(date +%s)
say "sekisho end-to-end benchmarks, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, commit $(git -C "$SEKISHO_TOP" rev-parse --short HEAD 2>/dev/null || echo "${SEKISHO_COMMIT:-unknown}")"
say "config: the defaults (authd hash_workers 2; cid threads 2, refresh 250 ms) but sweep every 1 s"
say ""
part table1 && table1
part scaled && scaled
part bulk && bulk
part flood && flood_row
say "total: $(($(date +%s) - t_start)) s"
