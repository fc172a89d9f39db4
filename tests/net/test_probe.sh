#!/bin/sh
# Load-aware admission end to end (docs/adaptive.md): a real authd (its
# prober) and ipfd on a gateway, bench/capsvc as the service, curl as the
# browser.
#
#   c1 (10.0.1.2 ..) --- gw (authd 10.0.1.1:8080, ipfd, forward) --- srv 10.0.9.2
#                                                          capsvc on 8000 (guarded)
#
# The service "stops answering" by SIGSTOP: the kernel still completes TCP
# handshakes, but no HTTP answer comes, exactly like a hung application.
# The two deadlines below are correctness bounds with a margin for a loaded
# machine, not performance figures (those are in bench/results/adaptive.txt).
. "${SEKISHO_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/net/lib.sh"

B=$SEKISHO_BUILD
net_init

PORTAL=http://10.0.1.1:8080
MON=http://127.0.0.1:9080
DB=$T/db.sqlite
CONF=$T/sekisho.conf
cat >"$CONF" <<EOF
[db]
path = $DB
[authd]
listen = 10.0.1.1:8080
base_url = $PORTAL
web_dir = $SEKISHO_TOP/web
sweep_interval_s = 1
ipfd_timeout_ms = 2000
hash_workers = 2
[ipfd]
socket = $T/ipfd.sock
group = root
hook = forward
sync_interval_s = 30
EOF

ctl() { "$B/sekishoctl" -f "$CONF" "$@"; }
sql() { sqlite3 -cmd ".timeout 5000" "$DB" "$@"; }
svc_id() { sql "SELECT id FROM services WHERE name = '$1'"; }
live() { sql "SELECT count(*) FROM rights WHERE ended_at IS NULL AND service_name = '$1'"; }
set_has() { in_ns gw nft list set inet sekisho "s$(svc_id "$1")_v4" | grep -q "$2[ ,]"; }
health_is() { ctl service show "$1" | grep -q "^health: *$2\$"; }
cap_now() { ctl service show "$1" --json | sed -n 's/.*"cap_now":\([0-9]*\).*/\1/p'; }
expect() {   # name want got
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "want $2, got $3"; fi
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# Waits up to $1 ms for cmd...; prints the ms it took, or fails.
took_ms() {
	limit=$1; shift
	t0=$(now_ms)
	while :; do
		if "$@"; then echo $(($(now_ms) - t0)); return 0; fi
		[ $(($(now_ms) - t0)) -gt "$limit" ] && return 1
		sleep 0.05
	done
}
browser() {
	a=$1; shift
	in_ns c1 curl -s --max-time 20 --interface "$a" -b "$T/jar.$a" -c "$T/jar.$a" "$@"
}
login() {   # ADDR USER SERVICE: prints the status; the page in $T/body.ADDR
	browser "$1" -o "$T/form.$1" "$PORTAL/"
	csrf=$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$T/form.$1" | head -n 1)
	browser "$1" -o "$T/body.$1" -w '%{http_code}' --data-urlencode "user=$2" \
		--data-urlencode "password=good-password" --data-urlencode "service=$3" \
		--data-urlencode "csrf=$csrf" "$PORTAL/login"
}
capsvc_signal() { kill -"$1" "$(cat "$T/capsvc.pid")"; }

# ---- topology ----
for h in c1 gw srv; do host_add $h; done
link_add c1 10.0.1.2/24 gw 10.0.1.1/24
link_add srv 10.0.9.2/24 gw 10.0.9.1/24
for i in 3 4 5 6; do in_ns c1 ip addr add "10.0.1.$i/24" dev to-gw; done
route_add c1 default 10.0.1.1
route_add srv default 10.0.9.1
forward_on gw
# 8 workers, 5 ms each: far from loaded. Port 8001: a second instance for the adaptive cap.
bg_start capsvc srv "$B/bench/capsvc" 10.0.9.2 8000 8 5
bg_start slowsvc srv "$B/bench/capsvc" 10.0.9.2 8001 1 150
# Port 8002: a service that hangs (stopped below); nothing listens on 8009.
bg_start hangsvc srv "$B/bench/capsvc" 10.0.9.2 8002 1 5
# Port 8003: one worker, with its own gauge (capsvc_inflight) on 9103.
bg_start gaugesvc srv "$B/bench/capsvc" 10.0.9.2 8003 1 5 9103

printf 'root-password\n' >"$T/rootpw"
ctl init --root-password-file "$T/rootpw" >/dev/null
bg_start ipfd gw "$B/ipfd" -d -f "$CONF"
wait_for 5 test -S "$T/ipfd.sock"
printf 'good-password\n' >"$T/pw"
for u in alice bob carol u1 u2 u3 u4 u5 u6; do
	ctl user add "$u" --role user --password-file "$T/pw" >/dev/null
done
ctl service add app --url http://10.0.9.2:8000/ --max-usage 60 --max-interval 30 --cap 10 \
	--admin root --guard 10.0.9.2:8000 >/dev/null
ctl service add lab --url http://10.0.9.2:8001/ --max-usage 60 --max-interval 30 --cap 8 \
	--admin root --guard 10.0.9.2:8001 >/dev/null

# ---- settings are checked ----
check "service load refuses a probe by host name" sh -c \
	"! '$B/sekishoctl' -f '$CONF' service load app --probe http://example.org/ 2>/dev/null"
check "service load refuses adaptive without a probe" sh -c \
	"! '$B/sekishoctl' -f '$CONF' service load lab --cap-mode adaptive 2>/dev/null"
check "service load refuses cap-min above the cap" sh -c \
	"! '$B/sekishoctl' -f '$CONF' service load lab --probe tcp://10.0.9.2:8001 --cap-min 11 2>/dev/null"
check "service load sets an HTTP probe" sh -c \
	"'$B/sekishoctl' -f '$CONF' service load app --probe http://10.0.9.2:8000/health >/dev/null"
bg_start authd gw "$B/authd" -d -f "$CONF"
wait_for 10 in_ns gw curl -sf -o /dev/null "$MON/healthz"

# ---- health ----
# The guard on 8000 drops clients without a right; the gateway's own probe is
# output traffic, not forwarded, so the forward hook does not filter it.
probes_ok() { in_ns gw curl -s "$MON/metrics" | grep -q 'sekisho_service_probes_total{service="app",result="ok"} [1-9]'; }
wait_for 5 probes_ok
check "the probe from the gateway reaches a guarded port" health_is app up
expect "alice is admitted while the service is up" 303 "$(login 10.0.1.3 alice app)"
check "alice's address is in the set" set_has app 10.0.1.3

capsvc_signal STOP
# interval 1000 + 3 x 500 ms = 2500 ms; 5000 allows for a loaded machine yet
# fails a prober that waits a full interval between misses (>= 3500) twice over.
if ms=$(took_ms 5000 health_is app down); then
	ok "a service that stops answering is down within the bound ($ms ms)"
else
	not_ok "a service that stops answering is down within the bound" "still $(ctl service show app | grep health)"
fi
expect "a login to a down service gets 503" 503 "$(login 10.0.1.4 bob app)"
check "the page says unavailable, not full" grep -q "Service unavailable" "$T/body.10.0.1.4"
check "the page does not say the limit is reached" sh -c "! grep -q 'Limit reached' '$T/body.10.0.1.4'"
expect "bob got no right" 1 "$(live app)"
check "alice keeps her right in the set" set_has app 10.0.1.3
check "the portal lists the service as unavailable" sh -c \
	"ip netns exec '$NET_PREFIX-c1' curl -s --interface 10.0.1.5 '$PORTAL/' | grep -q 'app (unavailable)'"
check "sekishoctl status shows it down" sh -c "'$B/sekishoctl' -f '$CONF' status | grep -Eq '^  [0-9]+ +app .* down'"
check "the transition is audited" sh -c "'$B/sekishoctl' -f '$CONF' audit --service app | grep -q 'service.down'"
check "metrics count the transition" sh -c "ip netns exec '$NET_PREFIX-gw' curl -s '$MON/metrics' | grep -q 'sekisho_service_health_transitions_total{service=\"app\",to=\"down\"} 1'"
check "metrics say the service is not up" sh -c "ip netns exec '$NET_PREFIX-gw' curl -s '$MON/metrics' | grep -Eq 'sekisho_service_up\\{service=\"app\",id=\"[0-9]+\"\\} 0\$'"

capsvc_signal CONT
# Two answers one interval apart: about 1-2 s; 5000 allows for load.
if ms=$(took_ms 5000 health_is app up); then
	ok "the service is up again after two answers ($ms ms)"
else
	not_ok "the service is up again after two answers"
fi
expect "a login is admitted again" 303 "$(login 10.0.1.4 bob app)"
check "the way back is audited" sh -c "'$B/sekishoctl' -f '$CONF' audit --service app | grep -q 'service.up'"

# ---- adaptive cap ----
# lab: one worker; 1 ms per request (fast) or 150 ms (slow, above 60 % of the 100 ms
# target). An adaptive cap starts at cap_min (3) and only rises while most of
# it is in use.
svc_time() { in_ns gw curl -s -o /dev/null --max-time 5 "http://10.0.9.2:8001/_capsvc/time?ms=$1"; }
svc_time 1
ctl service load lab --probe http://10.0.9.2:8001/ --cap-mode adaptive --cap-min 3 \
	--target-ms 100 --timeout-ms 1000 >/dev/null
cap_is() { [ "$(cap_now lab)" = "$1" ]; }
cap_above() { [ "$(cap_now lab)" -gt "$1" ]; }
check "an adaptive cap starts at cap_min" wait_for 5 cap_is 3
for i in 1 2 3; do ctl grant "u$i" lab "10.0.1.$((i + 2))" >/dev/null; done
check "the effective cap rises when latency is below target and the cap is used" \
	wait_for 15 cap_above 3
for i in 4 5 6; do ctl grant "u$i" lab "10.0.1.$((i + 2))" >/dev/null 2>&1 || \
	{ sleep 2; ctl grant "u$i" lab "10.0.1.$((i + 2))" >/dev/null; }; done
check "it reaches the configured cap and not beyond" wait_for 15 cap_is 8
# Now the service slows down: every probe is above target.
svc_time 150
seen_caps=""
for i in $(seq 1 80); do
	c=$(cap_now lab); seen_caps="$seen_caps $c"
	[ "$c" = 3 ] && break
	sleep 0.5
done
check "the effective cap falls while latency is above target, to cap_min" cap_is 3
check "it stayed within [cap_min, cap] on the way ($seen_caps)" sh -c \
	"for c in $seen_caps; do [ \$c -ge 3 ] && [ \$c -le 8 ] || exit 1; done"
expect "lowering the cap evicted no one" 6 "$(live lab)"
check "a grant is refused while 6 are in and the cap is 3" sh -c \
	"! '$B/sekishoctl' -f '$CONF' grant carol lab 10.0.1.2 >/dev/null 2>&1"
sleep 5
expect "it stays at cap_min under sustained overload" 3 "$(cap_now lab)"
svc_time 1
check "it rises again once latency is back below target" wait_for 15 cap_above 3
check "cap changes are logged" grep -q "event=cap_effective service=lab" "$T/authd.log"
# ---- probes run in parallel ----
# hang accepts connections (the kernel does) but never answers: its probe
# waits its full 30 s timeout. A service that goes down meanwhile must get
# its verdict while that probe is still out: a prober probing one service
# after the other would first wait for hang's probe to end (and count it).
probes_of() {   # SERVICE: its probes ended so far (ok + miss)
	in_ns gw curl -s "$MON/metrics" | sed -n "s/^sekisho_service_probes_total{service=\"$1\",result=\"[a-z]*\"} //p" |
		awk '{ n += $1 } END { print n + 0 }'
}
watched() { in_ns gw curl -s "$MON/metrics" | grep -q "sekisho_service_probes_total{service=\"$1\""; }
kill -STOP "$(cat "$T/hangsvc.pid")"
ctl service add hang --url http://10.0.9.2:8002/ --max-usage 60 --max-interval 30 --cap 10 \
	--admin root >/dev/null
ctl service add dead --url http://10.0.9.2:8009/ --max-usage 60 --max-interval 30 --cap 10 \
	--admin root >/dev/null
ctl service load hang --probe http://10.0.9.2:8002/ --interval-ms 20000 --timeout-ms 30000 >/dev/null
check "the prober has taken up the hanging service" wait_for 10 watched hang
app_before=$(probes_of app)
ctl service load dead --probe tcp://10.0.9.2:8009 --interval-ms 200 --timeout-ms 200 >/dev/null
check "a dead service is found down while another's probe hangs" wait_for 10 health_is dead down
app_went_on() { [ "$(probes_of app)" -ge $((app_before + 2)) ]; }
check "the other services' probes went on meanwhile" wait_for 8 app_went_on
expect "the hanging service's first probe has not ended yet" 0 "$(probes_of hang)"
kill -CONT "$(cat "$T/hangsvc.pid")"
ctl service load hang --no-probe >/dev/null
ctl service load dead --no-probe >/dev/null

# ---- a gauge from the service's own metrics ----
# gsvc is probed by TCP connect, which the kernel answers at once however
# long the queue: its latency stays far under the 1000 ms target. Only the
# service's own gauge (capsvc_inflight: requests accepted, not yet answered;
# at its limit at 4; the probes' own connections count too) can say it is
# overloaded.
ctl service add gsvc --url http://10.0.9.2:8003/ --max-usage 60 --max-interval 30 --cap 10 \
	--admin root >/dev/null
check "service load refuses a gauge without a metric" sh -c \
	"! '$B/sekishoctl' -f '$CONF' service load gsvc --gauge http://10.0.9.2:9103/metrics --gauge-target 2 2>/dev/null"
check "service load refuses a gauge target that is not a number" sh -c \
	"! '$B/sekishoctl' -f '$CONF' service load gsvc --gauge http://10.0.9.2:9103/metrics --gauge-metric capsvc_inflight --gauge-target lots 2>/dev/null"
ctl service load gsvc --probe tcp://10.0.9.2:8003 --interval-ms 250 --timeout-ms 400 \
	--cap-mode adaptive --cap-min 2 --target-ms 1000 --gauge http://10.0.9.2:9103/metrics \
	--gauge-metric capsvc_inflight --gauge-target 4 >/dev/null
check "service show names the gauge" sh -c \
	"'$B/sekishoctl' -f '$CONF' service show gsvc | grep -q '^gauge: *http://10.0.9.2:9103/metrics capsvc_inflight, target 4\$'"
gcap() { [ "$(cap_now gsvc)" "$1" "$2" ]; }
gauge_read() { in_ns gw curl -s "$MON/metrics" | grep -Eq "^sekisho_service_gauge\{service=\"gsvc\"\} $1\$"; }
ctl grant u1 gsvc 10.0.1.3 >/dev/null
ctl grant u2 gsvc 10.0.1.4 >/dev/null
check "the gauge is read (nothing in flight: 0)" wait_for 10 gauge_read 0
check "an idle gauge and a fast probe let the cap rise" wait_for 15 gcap -gt 2
# One slow request after another: 4 x 5 s of work for one worker (the TCP
# probes' own connections then wait in the accept queue too, and count).
in_ns gw curl -s -o /dev/null --max-time 5 "http://10.0.9.2:8003/_capsvc/time?ms=5000"
slow=""
for i in 1 2 3 4; do
	ip netns exec "$NET_PREFIX-gw" curl -s -o /dev/null --max-time 40 http://10.0.9.2:8003/ &
	slow="$slow $!"
done
check "the gauge reads the requests in flight" wait_for 10 gauge_read "([3-9]|[1-9][0-9]+)"
check "the cap falls to cap_min on the gauge alone" wait_for 15 gcap -eq 2
line=$(grep 'event=cap_effective service=gsvc cap_effective=2 ' "$T/authd.log" | tail -n 1)
if echo "$line" | grep -Eq 'latency_ms=[0-9]{1,3}\.[0-9] target_ms=1000 gauge=([3-9]|[1-9][0-9]+) gauge_target=4 '; then
	ok "the change was logged with the gauge and a probe latency within target"
else
	not_ok "the change was logged with the gauge and a probe latency within target" "$line"
fi
ctl service load gsvc --no-gauge --no-probe --cap-mode fixed >/dev/null
kill $slow 2>/dev/null

# ---- one prober for several gateways ----
# A second authd on the same store (as a second gateway would be) follows:
# it does not probe while the first holds the lease, and shows its verdicts.
sed -e 's|^listen = 10.0.1.1:8080|listen = 10.0.1.1:8081|' "$CONF" >"$T/second.conf"
sed -i 's|^\[authd\]$|[authd]\nmonitor_listen = 127.0.0.1:9081|' "$T/second.conf"
bg_start authd2 gw "$B/authd" -d -f "$T/second.conf"
wait_for 10 in_ns gw curl -sf -o /dev/null "http://127.0.0.1:9081/healthz"
sleep 3
check "the first gateway leads the probes" grep -q "event=prober_leads" "$T/authd.log"
check "the second follows" grep -q "event=prober_follows" "$T/authd2.log"
check "the follower probes nothing" sh -c "! ip netns exec '$NET_PREFIX-gw' curl -s http://127.0.0.1:9081/metrics | grep -q 'sekisho_service_probes_total{service=\"app\",result=\"ok\"} [1-9]'"
check "the follower shows the leader's verdict" sh -c "ip netns exec '$NET_PREFIX-gw' curl -s http://127.0.0.1:9081/metrics | grep -Eq 'sekisho_service_up\\{service=\"app\",id=\"[0-9]+\"\\} 1\$'"
bg_stop authd
check "the follower takes over when the leader stops" wait_for 15 grep -q "event=prober_leads" "$T/authd2.log"
check "metrics show the effective cap" sh -c "ip netns exec '$NET_PREFIX-gw' curl -s 'http://127.0.0.1:9081/metrics' | grep -Eq 'sekisho_service_cap_effective\\{service=\"lab\",id=\"[0-9]+\"\\} [0-9]'"

tap_done
