#!/bin/sh
# authd holds and answers thousands of connections at once: its event-thread
# pool serves them all (the old thread-per-connection portal with 1024
# connections refused the rest), while a trickling client cannot keep a
# thread (test_listen.sh) and one address is still held to its own limit.
#
#   c1 10.0.2.2 (N connections) --- gw 10.0.2.1: authd :8080
#
# [ipfd] enabled = off: the store alone is enough for what is tested here.
. "${SEKISHO_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/net/lib.sh"
net_init

B=$SEKISHO_BUILD
C_IP=10.0.2.2 GW_IP=10.0.2.1
N=2000
[ -x "$B/authd" ] && [ -x "$B/sekishoctl" ] || { not_ok "build has authd and sekishoctl"; tap_done; exit 1; }
ulimit -n 65536 2>/dev/null || ulimit -n 8192 ||
	{ not_ok "fd limit raised for $N connections"; tap_done; exit 1; }

cat >"$T/sekisho.conf" <<CONF
log_level = warn
[db]
path = $T/sekisho.db
[authd]
listen = $GW_IP:8080
base_url = http://$GW_IP:8080
web_dir = $SEKISHO_TOP/web
max_connections_per_ip = 65536
request_timeout_s = 120
[ipfd]
enabled = off
CONF
printf 'root-password-1\n' >"$T/pw"
"$B/sekishoctl" -f "$T/sekisho.conf" init --root-password-file "$T/pw" >/dev/null ||
	{ not_ok "store made"; tap_done; exit 1; }
host_add gw && host_add c1 && link_add c1 "$C_IP/24" gw "$GW_IP/24" ||
	{ not_ok "namespaces"; tap_done; exit 1; }

bg_start authd gw "$B/authd" -d -f "$T/sekisho.conf"
healthy() { [ "$(in_ns gw curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9080/healthz)" = 200 ]; }
wait_for 10 healthy && ok "authd starts with its default connection limit and thread pool" ||
	not_ok "authd starts with its default connection limit and thread pool"

set -- $(in_ns c1 "$PY" "$SEKISHO_TOP/tests/net/conns.py" "$GW_IP" 8080 "$N")
[ "${2:-0}" = "$N" ] && [ "${6:-0}" = "$N" ] &&
	ok "$N connections held open at once: every one answered 200" ||
	not_ok "$N connections held open at once: every one answered 200" "$*"
bg_alive authd && ok "authd still runs" || not_ok "authd still runs"
bg_stop authd
tap_done
