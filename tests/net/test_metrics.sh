#!/bin/sh
# Metrics and status: per-service series with a service label on authd's and
# cid's /metrics, ipfd's counters exported through authd (ipfd has no HTTP),
# and sekishoctl status naming authd's and cid's health and the service ids.
#
#   c1 10.0.1.2 .. 10.0.1.4 --- gw 10.0.1.1: ipfd (forward), authd :8080, cid 127.0.0.1:8081
. "${SEKISHO_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/net/lib.sh"
net_init

B=$SEKISHO_BUILD
CONF=$T/sekisho.conf DB=$T/sekisho.db PORTAL=http://10.0.1.1:8080
cat >"$CONF" <<EOF
[db]
path = $DB
[authd]
listen = 10.0.1.1:8080
base_url = $PORTAL
web_dir = $SEKISHO_TOP/web
[ipfd]
socket = $T/ipfd.sock
group = root
hook = forward
sync_interval_s = 600
[cid]
listen = 127.0.0.1:8081
trusted_proxies = 127.0.0.1
refresh_ms = 50
EOF
ctl() { "$B/sekishoctl" -f "$CONF" "$@"; }
# sekishoctl on the gateway, where the monitor listeners are (127.0.0.1 there).
gwctl() { in_ns gw "$B/sekishoctl" -f "$CONF" "$@"; }
expect() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "want $2, got $3"; fi; }

printf 'root-password-1\n' >"$T/pw"
ctl init --root-password-file "$T/pw" >/dev/null || { not_ok "store made"; tap_done; exit 1; }
printf 'good-password\n' >"$T/upw"
ctl user add alice --role user --password-file "$T/upw" >/dev/null
for s in lab:2:80 other:3:81; do
	IFS=: read -r n cap port <<EOF
$s
EOF
	ctl service add "$n" --url http://10.0.9.2/ --max-usage 60 --max-interval 30 --cap "$cap" \
		--admin root --guard "10.0.9.2:$port" >/dev/null 2>&1
done
LAB=$(sqlite3 "$DB" "SELECT id FROM services WHERE name = 'lab'")

host_add gw && host_add c1 && link_add c1 10.0.1.2/24 gw 10.0.1.1/24 ||
	{ not_ok "namespaces"; tap_done; exit 1; }
in_ns c1 ip addr add 10.0.1.3/24 dev to-gw
in_ns gw ip link set lo up
bg_start ipfd gw "$B/ipfd" -d -f "$CONF"
wait_for 5 test -S "$T/ipfd.sock"
bg_start authd gw "$B/authd" -d -f "$CONF"
bg_start cid gw "$B/cid" -d -f "$CONF"
up() { in_ns gw curl -sf -o /dev/null "$1"; }
wait_for 10 up http://127.0.0.1:9080/healthz && wait_for 10 up http://127.0.0.1:9081/healthz ||
	{ not_ok "daemons start"; tap_done; exit 1; }

login() {   # address password service: prints the status
	in_ns c1 curl -s --interface "$1" -b "$T/jar.$1" -c "$T/jar.$1" -o "$T/form" "$PORTAL/"
	csrf=$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$T/form" | head -n 1)
	in_ns c1 curl -s --interface "$1" -b "$T/jar.$1" -c "$T/jar.$1" -o /dev/null -w '%{http_code}' \
		--data-urlencode user=alice --data-urlencode "password=$2" \
		--data-urlencode "service=$3" --data-urlencode "csrf=$csrf" "$PORTAL/login"
}
metric() {   # monitor-port series: its value, "absent" when the page lacks it
	in_ns gw curl -s "http://127.0.0.1:$1/metrics" >"$T/metrics"
	v=$(grep -F "$2 " "$T/metrics" | grep -F -v '#' | head -n 1 | awk '{ print $NF }')
	echo "${v:-absent}"
}

expect "admitted to lab" 303 "$(login 10.0.1.2 good-password lab)"
expect "a wrong password for lab" 401 "$(login 10.0.1.3 wrong-password lab)"
expect "authd: lab's occupancy with its service label and id" 1 \
	"$(metric 9080 "sekisho_service_active{service=\"lab\",id=\"$LAB\"}")"
expect "authd: lab's cap" 2 "$(metric 9080 "sekisho_service_cap{service=\"lab\",id=\"$LAB\"}")"
expect "authd: lab's free places" 1 "$(metric 9080 "sekisho_service_free{service=\"lab\",id=\"$LAB\"}")"
expect "authd: other's occupancy is its own" 0 \
	"$(metric 9080 "sekisho_service_active{service=\"other\",id=\"$((LAB + 1))\"}")"
expect "authd: lab's logins by result: admitted" 1 \
	"$(metric 9080 'sekisho_service_logins_total{service="lab",result="admitted"}')"
expect "authd: lab's refusals by reason: bad_credentials" 1 \
	"$(metric 9080 'sekisho_service_logins_total{service="lab",result="bad_credentials"}')"
expect "authd: an unknown service name gets no series of its own" 404 "$(login 10.0.1.3 good-password nosuch)"
check "... and none appears" sh -c "! grep -q 'service=\"nosuch\"' '$T/metrics'"

# ipfd's counters, through authd.
expect "ipfd up, through authd" 1 "$(metric 9080 sekisho_ipfd_up)"
expect "ipfd: one address held" 1 "$(metric 9080 sekisho_ipfd_elements)"
check "ipfd: batches and the start-up rebuild counted" sh -c "
	[ \"$(metric 9080 sekisho_ipfd_batches_total)\" -ge 2 ] && [ \"$(metric 9080 sekisho_ipfd_rebuilds_total)\" -ge 1 ]"
expect "ipfd: no table watch repair yet" 0 "$(metric 9080 sekisho_ipfd_watch_repairs_total)"
in_ns gw nft flush ruleset
repaired() { [ "$(metric 9080 sekisho_ipfd_watch_repairs_total)" = 1 ]; }
wait_for 10 repaired && ok "ipfd: a flushed table is repaired and the repair counted" ||
	not_ok "ipfd: a flushed table is repaired and the repair counted" "$(metric 9080 sekisho_ipfd_watch_repairs_total)"
expect "ipfd: the failure counter is exported" 0 "$(metric 9080 sekisho_ipfd_batch_failures_total)"

# cid's checks per service, by result.
auth() { in_ns gw curl -s -o /dev/null -w '%{http_code}' -H "X-Sekisho-Service: $1" http://127.0.0.1:8081/_sekisho/auth; }
wait_for 5 sh -c "[ \"\$(ip netns exec $NET_PREFIX-gw curl -s -o /dev/null -w '%{http_code}' -H 'X-Sekisho-Service: lab' http://127.0.0.1:8081/_sekisho/auth)\" = 401 ]"
auth lab >/dev/null
auth nosuch >/dev/null
check "cid: lab's checks by result (no_cookie) with its service label" sh -c "
	[ \"$(metric 9081 'sekisho_cid_service_checks_total{service="lab",result="no_cookie"}')\" -ge 2 ]"
check "cid: checks of an unknown service get no series of their own" sh -c "! grep -q 'service=\"nosuch\"' '$T/metrics'"

# The Grafana dashboard asks only for series the daemons export.
in_ns gw curl -s http://127.0.0.1:9080/metrics >"$T/all.metrics"
in_ns gw curl -s http://127.0.0.1:9081/metrics >>"$T/all.metrics"
"$PY" -c 'import json, re, sys
d = json.load(open(sys.argv[1]))
have = {l.split("{")[0].split(" ")[0] for l in open(sys.argv[2]) if l[:1] not in ("#", "")}
want = {m for p in d["panels"] for t in p["targets"] for m in re.findall(r"sekisho_[a-z0-9_]+", t["expr"])}
missing = sorted(want - have)
print(" ".join(missing)); sys.exit(1 if missing or not want else 0)' \
	"$SEKISHO_TOP/dist/grafana/sekisho-dashboard.json" "$T/all.metrics" >"$T/missing" &&
	ok "dist/grafana/sekisho-dashboard.json: every series it queries is exported" ||
	not_ok "dist/grafana/sekisho-dashboard.json: every series it queries is exported" "missing: $(cat "$T/missing")"

# sekishoctl status.
gwctl status >"$T/status"
check "status: authd is ok on its monitor listener" grep -q '^authd: *ok at 127.0.0.1:9080 (store ok, ipfd ok)' "$T/status"
check "status: cid is ok on its monitor listener" grep -q '^cid: *ok at 127.0.0.1:9081' "$T/status"
check "status: services with their ids" grep -Eq "^  $LAB +lab +1/2 +enabled" "$T/status"
expect "status --json: authd.state" ok "$(gwctl status --json | json_field authd.state)"
expect "status --json: ipfd.watch_repairs" 1 "$(gwctl status --json | json_field ipfd.watch_repairs)"
bg_stop cid
expect "status --json: a stopped cid is unreachable" unreachable "$(gwctl status --json | json_field cid.state)"
bg_stop ipfd
expect "status --json: authd with ipfd gone is unhealthy" unhealthy "$(gwctl status --json | json_field authd.state)"
gwctl status >"$T/status"
check "status: ... and says why" grep -q '^authd: *unhealthy: 503 at 127.0.0.1:9080 (store ok, ipfd unavailable)' "$T/status"
expect "authd: ipfd down is sekisho_ipfd_up 0" 0 "$(metric 9080 sekisho_ipfd_up)"
bg_stop authd
tap_done
