#!/bin/sh
# authd's and cid's listeners: connections per client address, a request
# deadline that a trickle does not extend, and what each listener serves
# (metrics and health only on the monitor listener, the forward-auth check
# only for the proxies).
#
#   c1: A 10.0.1.2 (the flood), B 10.0.1.3 (everybody else), P 10.0.1.4 (a proxy)
#        |
#   gw 10.0.1.1: authd :8080 (monitor 127.0.0.1:9080), cid :8081 (monitor 127.0.0.1:9081)
#
# [ipfd] enabled = off: the store alone is enough for what is tested here.
. "${SEKISHO_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/net/lib.sh"
net_init

B=$SEKISHO_BUILD
A_IP=10.0.1.2 B_IP=10.0.1.3 P_IP=10.0.1.4 GW_IP=10.0.1.1
PORTAL=http://$GW_IP:8080 CID=http://$GW_IP:8081
for bin in "$B/authd" "$B/cid" "$B/sekishoctl"; do
	[ -x "$bin" ] || { not_ok "build has $bin"; tap_done; exit 1; }
done

write_conf() {   # request_timeout_s
	cat >"$T/sekisho.conf" <<EOF
log_level = info
[db]
path = $T/sekisho.db
[authd]
listen = $GW_IP:8080
base_url = $PORTAL
web_dir = $SEKISHO_TOP/web
trusted_proxies = $P_IP
max_connections = 40
max_connections_per_ip = 8
request_timeout_s = $1
[ipfd]
enabled = off
[cid]
listen = $GW_IP:8081
trusted_proxies = $P_IP
max_connections = 40
max_connections_per_ip = 4
request_timeout_s = $1
refresh_ms = 100
EOF
}
write_conf 60
printf 'root-password-1\n' >"$T/pw"
"$B/sekishoctl" -f "$T/sekisho.conf" init --root-password-file "$T/pw" >/dev/null ||
	{ not_ok "store made"; tap_done; exit 1; }

host_add gw && host_add c1 && link_add c1 "$A_IP/24" gw "$GW_IP/24" || { not_ok "namespaces"; tap_done; exit 1; }
in_ns c1 ip addr add "$B_IP/24" dev to-gw
in_ns c1 ip addr add "$P_IP/24" dev to-gw

status() {   # ns src url [curl-args]: the HTTP status, 000 when there was no answer
	ns=$1 src=$2 url=$3; shift 3
	in_ns "$ns" curl -s --max-time 5 ${src:+--interface "$src"} -o /dev/null -w '%{http_code}' "$@" "$url"
}
is() { [ "$(status "$@")" = 200 ]; }
start_daemons() {
	bg_start authd gw "$B/authd" -d -f "$T/sekisho.conf"
	bg_start cid gw "$B/cid" -d -f "$T/sekisho.conf"
	wait_for 10 is gw "" http://127.0.0.1:9080/healthz && wait_for 10 is gw "" http://127.0.0.1:9081/healthz
}
stop_daemons() { bg_stop authd; bg_stop cid; }
start_daemons && ok "authd and cid start; their monitor listeners answer on the gateway's loopback" ||
	not_ok "authd and cid start; their monitor listeners answer on the gateway's loopback"

# flood NAME SRC PORT COUNT SECONDS MODE: in the background; results under $T/NAME/
flood() {
	mkdir -p "$T/$1"
	bg_start "$1" c1 "$PY" "$SEKISHO_TOP/tests/net/trickle.py" "$2" "$GW_IP" "$3" "$4" "$5" "$6" "$T/$1"
}
held() { cat "$T/$1/held" 2>/dev/null; }
result() { cat "$T/$1/result" 2>/dev/null; }
flood_end() { touch "$T/$1/stop"; wait_for 10 test -f "$T/$1/result"; }

# --- monitor listeners and what the public listeners serve ---
for p in /metrics /healthz; do
	s=$(status c1 "$B_IP" "$PORTAL$p")
	[ "$s" = 404 ] && ok "authd: $p is not served on the portal" || not_ok "authd: $p is not served on the portal" "$s"
	s=$(status c1 "$B_IP" "$CID$p")
	[ "$s" = 404 ] && ok "cid: $p is not served on the service side" || not_ok "cid: $p is not served on the service side" "$s"
done
in_ns gw curl -s http://127.0.0.1:9080/metrics | grep -q '^sekisho_authd_logins_total' &&
	ok "authd: metrics on the monitor listener" || not_ok "authd: metrics on the monitor listener"
in_ns gw curl -s http://127.0.0.1:9081/metrics | grep -q '^sekisho_cid_' &&
	ok "cid: metrics on the monitor listener" || not_ok "cid: metrics on the monitor listener"
[ "$(status gw "" http://127.0.0.1:9080/)" = 404 ] && [ "$(status gw "" http://127.0.0.1:9081/go/x)" = 404 ] &&
	ok "the monitor listeners serve nothing else" || not_ok "the monitor listeners serve nothing else"
[ "$(status c1 "$B_IP" "http://$GW_IP:9080/metrics")" = 000 ] && [ "$(status c1 "$B_IP" "http://$GW_IP:9081/metrics")" = 000 ] &&
	ok "a client cannot reach the monitor ports" || not_ok "a client cannot reach the monitor ports"
s=$(status c1 "$B_IP" "$CID/_sekisho/auth" -H 'X-Sekisho-Service: lab')
[ "$s" = 403 ] && ok "cid: /_sekisho/auth refuses a client (403)" || not_ok "cid: /_sekisho/auth refuses a client (403)" "$s"
s=$(status c1 "$P_IP" "$CID/_sekisho/auth" -H 'X-Sekisho-Service: lab' -H "X-Forwarded-For: $B_IP")
[ "$s" = 401 ] && ok "cid: /_sekisho/auth answers a trusted proxy (401 without a cookie)" ||
	not_ok "cid: /_sekisho/auth answers a trusted proxy (401 without a cookie)" "$s"

# --- one address holds its limit; everybody else is still served ---
flood fa "$A_IP" 8080 60 40 headers
wait_for 15 test -f "$T/fa/held"
[ "$(held fa)" = 8 ] && ok "authd: 60 slow connections from one address, 8 held (its limit)" ||
	not_ok "authd: 60 slow connections from one address, 8 held (its limit)" "held $(held fa)"
s=$(status c1 "$B_IP" "$PORTAL/")
[ "$s" = 200 ] && ok "authd: another address gets the portal page meanwhile" ||
	not_ok "authd: another address gets the portal page meanwhile" "$s"
s=$(status c1 "$A_IP" "$PORTAL/")
[ "$s" = 000 ] && ok "authd: the flooding address gets no further connection" ||
	not_ok "authd: the flooding address gets no further connection" "$s"
grep -q "event=conn_limit server=authd ip=$A_IP" "$T/authd.log" && ok "authd: the refusal is logged" ||
	not_ok "authd: the refusal is logged"
flood_end fa

flood fc "$A_IP" 8081 30 40 headers
flood fp "$P_IP" 8081 10 40 headers
wait_for 15 test -f "$T/fc/held" && wait_for 15 test -f "$T/fp/held"
[ "$(held fc)" = 4 ] && ok "cid: 30 slow connections from one address, 4 held (its limit)" ||
	not_ok "cid: 30 slow connections from one address, 4 held (its limit)" "held $(held fc)"
[ "$(held fp)" = 10 ] && ok "cid: a trusted proxy is not held to the per-address limit" ||
	not_ok "cid: a trusted proxy is not held to the per-address limit" "held $(held fp)"
s=$(status c1 "$B_IP" "$CID/_sekisho/sekisho.css")
[ "$s" = 200 ] && ok "cid: another address is served meanwhile" || not_ok "cid: another address is served meanwhile" "$s"
flood_end fc
flood_end fp

# --- the request deadline: a trickle does not extend it ---
stop_daemons
write_conf 2
start_daemons && ok "restarted with request_timeout_s = 2" || not_ok "restarted with request_timeout_s = 2"
flood dh "$A_IP" 8080 4 25 headers
flood db "$B_IP" 8080 4 25 body
flood dc "$A_IP" 8081 4 25 headers
wait_for 30 test -f "$T/dh/result" && wait_for 30 test -f "$T/db/result" && wait_for 30 test -f "$T/dc/result"
# Each connection sent something every half second for up to 25 s (the idle
# timeout is 30 s): only the deadline can have closed them.
for f in "dh:authd: headers trickled a line every 0.5 s" "db:authd: a body trickled a byte every 0.5 s" \
         "dc:cid: headers trickled a line every 0.5 s"; do
	n=${f%%:*} what=${f#*:}
	set -- $(result "$n")
	[ "${4:-0}" = 4 ] && ok "$what: closed by the deadline" || not_ok "$what: closed by the deadline" "$(result "$n")"
done
s=$(status c1 "$B_IP" "$PORTAL/")
[ "$s" = 200 ] && ok "authd: a prompt request is still answered" || not_ok "authd: a prompt request is still answered" "$s"
stop_daemons
tap_done
