#!/bin/sh
# The captive-portal habit, with real packets: a client who opens a captive
# service's URL before logging in is redirected (ipfd's nat prerouting DNAT
# to cid's redirect responder) to the portal with the service preselected;
# after admission it reaches the service; its other guarded ports, and
# services not marked captive, stay rejected.
#
#   c1 10.0.1.2, 10.0.1.3 --- gw 10.0.1.1 (ipfd forward + captive, authd :8080,   --- srv 10.0.9.2, 10.0.9.3
#                                           cid responder 10.0.1.1:8082)              HTTP :80, echo :81
#   lab:   guards 10.0.9.2:80 and 10.0.9.2:81, captive
#   plain: guard 10.0.9.3:80, not captive
. "${SEKISHO_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/net/lib.sh"
net_init

B=$SEKISHO_BUILD
CONF=$T/sekisho.conf DB=$T/sekisho.db PORTAL=http://10.0.1.1:8080
write_conf() {   # ipfd.captive
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
captive = $1
captive_port = 80
[cid]
listen = 127.0.0.1:8081
captive_listen = 10.0.1.1:8082, [fd00:1::1]:8082
refresh_ms = 50
EOF
}
write_conf lab
ctl() { "$B/sekishoctl" -f "$CONF" "$@"; }
expect() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "want $2, got $3"; fi; }

# ---- configuration ----
refuses() {   # name sed-expression
	sed "$2" "$CONF" >"$T/bad.conf"
	"$B/ipfd" -n -f "$T/bad.conf" 2>"$T/bad.err" && { not_ok "$1" "accepted"; return; }
	grep -q "bad.conf:[0-9]*:" "$T/bad.err" && ok "$1" || not_ok "$1" "$(cat "$T/bad.err")"
}
refuses "ipfd.captive without cid.captive_listen is refused with file:line" 's/^captive_listen = .*/captive_listen =/'
refuses "a wildcard captive_listen is refused with file:line" 's/^captive_listen = .*/captive_listen = 0.0.0.0:8082/'
refuses "two IPv4 captive_listen addresses are refused with file:line" 's/^captive_listen = .*/captive_listen = 10.0.1.1:8082,10.0.1.1:8083/'
refuses "a captive entry that is no service name is refused with file:line" 's/^captive = .*/captive = lab,no such/'

printf 'root-password-1\n' >"$T/pw"
ctl init --root-password-file "$T/pw" >/dev/null || { not_ok "store made"; tap_done; exit 1; }
printf 'good-password\n' >"$T/upw"
ctl user add alice --role user --password-file "$T/upw" >/dev/null
ctl service add lab --url http://10.0.9.2/ --max-usage 60 --max-interval 30 --cap 5 --admin root \
	--guard 10.0.9.2:80 --guard 10.0.9.2:81 --guard "[fd00:9::2]:80" >/dev/null 2>&1
ctl service add plain --url http://10.0.9.3/ --max-usage 60 --max-interval 30 --cap 5 --admin root \
	--guard 10.0.9.3:80 >/dev/null 2>&1

for h in c1 gw srv; do host_add $h || { not_ok "namespaces"; tap_done; exit 1; }; done
link_add c1 10.0.1.2/24 gw 10.0.1.1/24 fd00:1::2/64 fd00:1::1/64
link_add srv 10.0.9.2/24 gw 10.0.9.1/24 fd00:9::2/64 fd00:9::1/64
in_ns c1 ip addr add 10.0.1.3/24 dev to-gw
in_ns srv ip addr add 10.0.9.3/24 dev to-gw
route_add c1 default 10.0.1.1
route_add srv default 10.0.9.1
route_add c1 default fd00:1::1
route_add srv default fd00:9::1
forward_on gw
mkdir -p "$T/www/page"
echo "the lab service" >"$T/www/index.html"
echo "a page of the lab" >"$T/www/page/index.html"
bg_start web srv "$PY" -m http.server 80 --bind :: --directory "$T/www"
bg_start echo srv "$PY" "$NET_HELPERS/tcp.py" serve 81
bg_start ipfd gw "$B/ipfd" -d -f "$CONF"
wait_for 5 test -S "$T/ipfd.sock"
bg_start authd gw "$B/authd" -d -f "$CONF"
bg_start cid gw "$B/cid" -d -f "$CONF"
answers() { [ "$(in_ns "$1" curl -s -o /dev/null -w '%{http_code}' "$2")" != 000 ]; }
wait_for 5 answers srv http://10.0.9.2/ && wait_for 5 answers gw http://10.0.1.1:8082/ &&
	wait_for 5 answers gw "$PORTAL/" ||
	{ not_ok "everything starts"; tap_done; exit 1; }

# ---- the kernel's rules ----
in_ns gw nft list chain inet sekisho captive >"$T/captive.nft" 2>&1
check "ipfd made the captive chain: nat, prerouting, priority dstnat - 10" \
	grep -Eq 'type nat hook prerouting priority (-110|dstnat - 10)' "$T/captive.nft"
check "... with lab's HTTP endpoint sent to the responder unless admitted" \
	grep -Eq 'ip daddr 10\.0\.9\.2 .*tcp dport 80 ip saddr != @s[0-9]+_v4 .*dnat ip to 10\.0\.1\.1:8082' "$T/captive.nft"
check "... and for its IPv6 endpoint to the IPv6 responder" \
	grep -Eq 'ip6 daddr fd00:9::2 .*tcp dport 80 ip6 saddr != @s[0-9]+_v6 .*dnat ip6 to \[fd00:1::1\]:8082' "$T/captive.nft"
check "... and nothing for lab's port 81 or for plain" sh -c "! grep -Eq 'dport 81|10\.0\.9\.3' '$T/captive.nft'"

# ---- before login ----
get() {   # address url: "CODE LOCATION"
	in_ns c1 curl -s --max-time 5 --interface "$1" -o "$T/body" -w '%{http_code} %{redirect_url}' "$2"
}
expect "unadmitted: the lab's URL answers 302 to the portal with lab preselected" \
	"302 $PORTAL/?service=lab" "$(get 10.0.1.2 http://10.0.9.2/page/)"
in_ns c1 curl -s --max-time 5 --interface 10.0.1.2 -L -o "$T/portal" http://10.0.9.2/
check "... and following it shows the portal's form with lab selected" \
	grep -q 'option value="lab" selected' "$T/portal"
tcp_open() {   # address port: 0 when a connection to 10.0.9.2:port is accepted and echoes
	in_ns c1 "$PY" -c 'import socket, sys
s = socket.socket(); s.settimeout(2); s.bind((sys.argv[1], 0))
s.connect(("10.0.9.2", int(sys.argv[2]))); s.sendall(b"x\n"); sys.exit(0 if s.recv(8) else 1)' "$1" "$2" 2>/dev/null
}
if tcp_open 10.0.1.2 81; then not_ok "unadmitted: lab's port 81 refuses the connection"; else ok "unadmitted: lab's port 81 refuses the connection"; fi
expect "unadmitted over IPv6: the lab's IPv6 URL answers 302 to the portal with lab" \
	"302 $PORTAL/?service=lab" "$(in_ns c1 curl -s -g --max-time 5 -o /dev/null -w '%{http_code} %{redirect_url}' 'http://[fd00:9::2]/')"
expect "a service not marked captive is still a plain reset" "000 " "$(get 10.0.1.2 http://10.0.9.3/)"
expect "the responder reached directly answers with the portal itself" "302 $PORTAL/" \
	"$(get 10.0.1.2 http://10.0.1.1:8082/)"

# ---- after admission ----
login() {   # address service: the status
	in_ns c1 curl -s --interface "$1" -b "$T/jar.$1" -c "$T/jar.$1" -o "$T/form" "$PORTAL/"
	csrf=$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$T/form" | head -n 1)
	in_ns c1 curl -s --interface "$1" -b "$T/jar.$1" -c "$T/jar.$1" -o /dev/null -w '%{http_code}' \
		--data-urlencode user=alice --data-urlencode password=good-password \
		--data-urlencode "service=$2" --data-urlencode "csrf=$csrf" "$PORTAL/login"
}
expect "alice logs in to lab from 10.0.1.2" 303 "$(login 10.0.1.2 lab)"
expect "admitted: the lab's URL reaches the service itself" "200 " "$(get 10.0.1.2 http://10.0.9.2/)"
check "... whose page it is" grep -q "the lab service" "$T/body"
check "admitted: port 81 is open too" tcp_open 10.0.1.2 81
expect "another address, not admitted, is still redirected" "302 $PORTAL/?service=lab" \
	"$(get 10.0.1.3 http://10.0.9.2/)"
ctl right revoke "$(sqlite3 "$DB" "SELECT id FROM rights WHERE ended_at IS NULL AND service_name = 'lab'")" >/dev/null
expect "after a revocation the lab's URL redirects again" "302 $PORTAL/?service=lab" \
	"$(get 10.0.1.2 http://10.0.9.2/)"

# ---- captive off again ----
write_conf ""
kill -HUP "$(cat "$T/ipfd.pid")"
gone() { ! in_ns gw nft list chain inet sekisho captive >/dev/null 2>&1; }
wait_for 5 gone && ok "SIGHUP with no captive service: ipfd removes the captive chain" ||
	not_ok "SIGHUP with no captive service: ipfd removes the captive chain"
expect "... and an unadmitted client's HTTP connection is reset again (cid still listens)" "000 " \
	"$(get 10.0.1.2 http://10.0.9.2/)"
tap_done
