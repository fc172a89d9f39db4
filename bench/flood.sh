#!/bin/sh
# The flood benchmark (run by bench/run.sh as root): N users arriving within
# one second at one service with cap 100 and a short usage time, driven by
# BUILD/bench/flood (libcurl multi: one process, one source address and one
# cookie jar per user). authd and ipfd on a gateway namespace; the users on
# one client namespace holding an address each (10.1.0.10 and up, /16).
#
#   1. the waiting room on (authd.queue = on), FLOOD_USERS users (default 1000)
#   2. the same arrival without the waiting room (503 + Retry-After, retried)
#
# Results: $SEKISHO_BENCH_OUT/flood.txt, flood_<run>.dat (second, in the
# waiting room, using, admitted so far, in the login line) and flood_<run>.png.
# Environment: FLOOD_USERS (default "1000"; e.g. "1000 10000"), FLOOD_USAGE_S
# (5), FLOOD_CAP (100), FLOOD_REFRESH_S (2), FLOOD_KEEP_LOGS (a directory for
# the daemons' logs), FLOOD_COMPARE (1: also the run without the waiting room),
# FLOOD_APPEND (1: add to flood.txt instead of starting it anew), FLOOD_HTTP_THREADS
# (authd.http_threads; unset: authd's default).
. "${SEKISHO_TOP:-$(cd "$(dirname "$0")/.." && pwd)}/tests/net/lib.sh"

B=$SEKISHO_BUILD
OUT=${SEKISHO_BENCH_OUT:-$SEKISHO_TOP/bench/results}
USERS=${FLOOD_USERS:-1000}
USAGE=${FLOOD_USAGE_S:-5}
CAP=${FLOOD_CAP:-100}
REFRESH=${FLOOD_REFRESH_S:-2}
RES=$OUT/flood.txt
mkdir -p "$OUT"
net_init
# Ten thousand users hold a socket each in the driver and in authd (the
# packaged unit allows authd 65536 descriptors; a shell's default is 1024).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

NEIGH="net.ipv4.neigh.default.gc_thresh1 net.ipv4.neigh.default.gc_thresh2 net.ipv4.neigh.default.gc_thresh3"
neigh_old=$(for k in $NEIGH; do printf '%s=%s ' "$k" "$(sysctl -n "$k")"; done)
trap 'sysctl -qw $neigh_old; net_cleanup' EXIT
sysctl -qw net.ipv4.neigh.default.gc_thresh1=16384 net.ipv4.neigh.default.gc_thresh2=32768 \
	net.ipv4.neigh.default.gc_thresh3=65536

say() { printf '%s\n' "$*" | tee -a "$RES"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

# hashes/s this machine computes now with the store's scrypt parameters
# (ln=15, r=8, p=1: the default), one process per CPU for FLOOD_HASH_S
# seconds: the hash capacity, one of the two bounds of the flood's throughput.
hash_capacity() {
	python3 - "$(nproc)" "${FLOOD_HASH_S:-10}" <<'PY'
import hashlib, multiprocessing, sys, time
def run(secs):
    n, end = 0, time.monotonic() + secs
    while time.monotonic() < end:
        hashlib.scrypt(b"bench-password", salt=b"0123456789abcdef", n=1 << 15, r=8, p=1,
                       maxmem=64 << 20, dklen=32)
        n += 1
    return n
cpus, secs = int(sys.argv[1]), float(sys.argv[2])
t = time.monotonic()
with multiprocessing.Pool(cpus) as p:
    n = sum(p.map(run, [secs] * cpus))
print("%.1f" % (n / (time.monotonic() - t)))
PY
}
ctl() { "$B/sekishoctl" -f "$CONF" "$@"; }
sql() { sqlite3 -cmd ".timeout 10000" "$DB" "$@"; }

max=1000
for n in $USERS; do [ "$n" -gt "$max" ] && max=$n; done
host_add c1 && host_add gw
link_add c1 10.1.0.2/16 gw 10.1.0.1/16
route_add c1 default 10.1.0.1
i=0
while [ $i -le "$max" ]; do   # 10.1.0.9 (the GET / prober), then one per user
	echo "addr add 10.1.$(((i + 9) / 256)).$(((i + 9) % 256))/16 dev to-gw"
	i=$((i + 1))
done >"$T/addrs.batch"
in_ns c1 ip -batch "$T/addrs.batch"

# conf QUEUE: the daemons' config with the waiting room on or off.
conf() {
	cat <<EOF
log_level = warn
[db]
path = $DB
[authd]
listen = 10.1.0.1:8080
base_url = http://10.1.0.1:8080
web_dir = $SEKISHO_TOP/web
max_connections = $((max + 1000))
${FLOOD_HTTP_THREADS:+http_threads = $FLOOD_HTTP_THREADS}
hash_queue_max = $((max + 1000))
queue = $1
queue_max = $((max + 1000))
queue_lapse_s = 60
queue_refresh_s = $REFRESH
throttle_ip_burst = 1000
throttle_checks_per_s = 100000
sweep_interval_s = 1
[ipfd]
socket = $T/ipfd.sock
group = root
hook = forward
EOF
}

# Kendall's tau of line order (queue.join audit ids) against the order of
# turns, over the users whose admit row carries turn_at=T (sql/013).
TURN_TAU="
WITH w AS (SELECT j.id AS jn, (SELECT min(a.id) FROM audit a WHERE a.action = 'admit'
           AND a.target = j.target AND a.id > j.id) AS ad
           FROM audit j WHERE j.action = 'queue.join'),
     v AS (SELECT w.jn, w.ad, CAST(substr(a.detail, instr(a.detail, ' turn_at=') + 9) AS INTEGER) AS t
           FROM w JOIN audit a ON a.id = w.ad WHERE instr(a.detail, ' turn_at=') > 0)
SELECT CASE WHEN count(*) = 0 THEN 'n/a' ELSE printf('%.4f over %d users',
       1.0 * (sum(x.t < y.t OR (x.t = y.t AND x.ad < y.ad)) -
              sum(x.t > y.t OR (x.t = y.t AND x.ad > y.ad))) / count(*),
       (SELECT count(*) FROM v)) END
FROM v x JOIN v y ON x.jn < y.jn"

# run NAME USERS QUEUE [SECONDS]: a fresh store, the daemons, the flood; the report into $RES.
run() {
	DB=$T/$1.sqlite CONF=$T/$1.conf
	conf "$3" >"$CONF"
	printf 'root-password\n' >"$T/rootpw"
	printf 'bench-password\n' >"$T/pw"
	ctl init --root-password-file "$T/rootpw" >/dev/null
	ctl user add f1 --role user --password-file "$T/pw" >/dev/null
	sql "WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < $2)
	     INSERT INTO users (name, role, pwhash, created_at)
	     SELECT 'f' || i, 0, (SELECT pwhash FROM users WHERE name = 'f1'), unixepoch() FROM n;"
	ctl service add bench --url http://10.9.0.2/ --max-usage 60 --max-interval 30 --cap "$CAP" \
		--admin root --guard 10.9.0.2:80 >/dev/null
	bg_start "ipfd.$1" gw "$B/ipfd" -d -f "$CONF"
	wait_for 5 test -S "$T/ipfd.sock"
	bg_start "authd.$1" gw "$B/authd" -d -f "$CONF"
	wait_for 10 in_ns gw curl -sf -o /dev/null http://127.0.0.1:9080/healthz
	say ""
	say "== $1: $2 users within 1 s, cap $CAP, usage ${USAGE} s, waiting room $3, refresh ${REFRESH} s"
	say "load before: $(load); hash capacity now: $(hash_capacity) hashes/s (scrypt ln=15 r=8 p=1, $(nproc) processes); cap turnover bound: $CAP places / ${USAGE} s usage = $((CAP / USAGE)) admissions/s (less the time from a place freed to the next poll)"
	in_ns c1 "$B/bench/flood" --src 10.1.0.9 --users "$2" --service bench --prefix f \
		--password bench-password --portal http://10.1.0.1:8080 --spread-ms 1000 \
		--usage-s "$USAGE" --poll-s "$REFRESH" --probe-ms 50 --retries 1000 \
		--duration-s "${4:-${FLOOD_DURATION_S:-900}}" --timeline "$OUT/flood_$1.dat" \
		--order "$T/$1.order" | tee -a "$RES"
	say "store: $(sql "SELECT count(*) FROM audit WHERE action = 'queue.join'") queue joins, $(sql "SELECT count(*) FROM audit WHERE action = 'admit'") admissions, $(sql "SELECT count(*) FROM audit WHERE action = 'queue.lapse'") lapse records"
	# The line's own order: Kendall's tau between the order users joined the
	# line (audit ids of queue.join) and the order they were admitted.
	say "kendall tau (queue join vs admission, users who waited in line): $(sql "
	     WITH w AS (SELECT j.target AS u, j.id AS jn, (SELECT min(a.id) FROM audit a
	                WHERE a.action = 'admit' AND a.target = j.target AND a.id > j.id) AS ad
	                FROM audit j WHERE j.action = 'queue.join'),
	          v AS (SELECT * FROM w WHERE ad IS NOT NULL)
	     SELECT CASE WHEN count(*) = 0 THEN 'n/a' ELSE printf('%.4f over %d users',
	            1.0 * (sum(x.ad < y.ad) - sum(x.ad > y.ad)) / count(*),
	            (SELECT count(*) FROM v)) END
	     FROM v x JOIN v y ON x.jn < y.jn")"
	# The order of turns against the line's: Kendall's tau between the order
	# users joined the line and the order their turns came (turn_at from the
	# admit rows' detail, ties within a second broken by admission order).
	# The first tau less this one is what polling after the turn costs.
	say "kendall tau (queue join vs turn, users admitted with a turn): $(sql "$TURN_TAU")"
	# Admission order against arrival order, from the store: Kendall's tau
	# between the order the users sent their first POST /login (the driver's
	# --order) and the order of their first admission (audit ids), free of
	# the refresh a browser waits before it sees its admission.
	tr ' ' ',' <"$T/$1.order" >"$T/$1.order.csv"
	sql "CREATE TABLE arrival (rank INTEGER, u INTEGER);" ".mode csv" ".import $T/$1.order.csv arrival"
	say "kendall tau (login sent vs admission in the store): $(sql "
	     WITH a AS (SELECT r.rank AS rk, min(au.id) AS ad FROM audit au
	                JOIN arrival r ON r.u = CAST(substr(au.target, 2) AS INTEGER)
	                WHERE au.action = 'admit' GROUP BY au.target)
	     SELECT printf('%.4f over %d users', 1.0 * (sum(x.ad < y.ad) - sum(x.ad > y.ad)) / count(*),
	            (SELECT count(*) FROM a))
	     FROM a x JOIN a y ON x.rk < y.rk")"
	say "load after: $(load)"
	bg_stop "authd.$1"
	bg_stop "ipfd.$1"
	[ -n "${FLOOD_KEEP_LOGS:-}" ] && cp "$T/authd.$1.log" "$T/ipfd.$1.log" "$FLOOD_KEEP_LOGS/"
	if command -v gnuplot >/dev/null 2>&1; then
		gnuplot <<EOF
set terminal png size 900,500 noenhanced
set output "$OUT/flood_$1.png"
set title "$1: $2 users within 1 s, cap $CAP, usage $USAGE s"
set xlabel "seconds"
set ylabel "users"
set key top right
plot "$OUT/flood_$1.dat" using 1:5 with lines title "in the login line (password not yet checked)", \
     "$OUT/flood_$1.dat" using 1:2 with lines title "in the waiting room", \
     "$OUT/flood_$1.dat" using 1:3 with lines title "admitted (using)", \
     "$OUT/flood_$1.dat" using 1:(\$4/10) with lines title "admitted so far / 10"
EOF
	fi
}

[ "${FLOOD_APPEND:-0}" = 1 ] || : >"$RES"
say ""
say "flood benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, commit $(git -C "$SEKISHO_TOP" rev-parse --short HEAD 2>/dev/null)"
for n in $USERS; do run "queue_$n" "$n" on; done
if [ "${FLOOD_COMPARE:-1}" = 1 ]; then
	run "noqueue_1000" 1000 off "${FLOOD_NOQUEUE_S:-300}"
fi
