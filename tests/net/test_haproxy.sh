#!/bin/sh
# cid as the SPOE agent of a real HAProxy (Debian's haproxy), with the
# shipped dist/haproxy/sekisho-door.cfg and sekisho-spoe.conf: the layout of
# tests/net/lib_proxy.sh, HAProxy on 127.0.0.1:8080, cid's agent on :8083.
. "${SEKISHO_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/net/lib.sh"
net_init
. "$NET_HELPERS/lib_proxy.sh"
command -v haproxy >/dev/null || { not_ok "haproxy installed (make deps)"; tap_done; exit 1; }

px_setup "spoe_listen = 127.0.0.1:8083"

# Debian's global/defaults (without chroot, user and the stats socket), then
# the shipped frontend with this test's addresses.
D=$SEKISHO_TOP/dist/haproxy
{
	printf 'global\n\tmaxconn 256\n'
	printf 'defaults\n\tmode http\n\ttimeout connect 5s\n\ttimeout client 30s\n\ttimeout server 30s\n'
	sed -e "s|/etc/haproxy/sekisho-spoe.conf|$D/sekisho-spoe.conf|" \
	    -e 's|192\.0\.2\.10:80|127.0.0.1:8080|' -e 's|192\.0\.2\.1:|127.0.0.1:|' "$D/sekisho-door.cfg"
} >"$T/haproxy.cfg"
check "the shipped HAProxy configuration is valid" haproxy -c -q -f "$T/haproxy.cfg"
bg_start haproxy gw haproxy -db -f "$T/haproxy.cfg"
haproxy_up() { [ "$(px_status 127.0.0.1 "$LAB/")" = 302 ]; }
check "haproxy answers" wait_for 10 haproxy_up

px_door_cases haproxy

# The agent speaks SPOP only to HAProxy: garbage gets a DISCONNECT, a log line, a closed connection.
printf '\000\000\000\010\001\000\000\000\001\000\000\377' >"$T/bad.bin"
in_ns gw socat -t 2 - TCP:127.0.0.1:8083 <"$T/bad.bin" >"$T/bad.out" 2>&1
grep -q 'event=spoe result=disconnect' "$T/cid.log" &&
	ok "a malformed SPOE frame is logged and the connection closed" ||
	not_ok "a malformed SPOE frame is logged and the connection closed" "$(cat "$T/bad.out")"
s=$(px_status 127.0.0.6 "$LAB/")
[ "$s" = 302 ] && ok "the agent still answers after a bad peer" || not_ok "the agent still answers after a bad peer" "$s"

# cid gone: HAProxy gets no answer and lets nobody in.
check "bob's handoff" px_enter 127.0.0.6 bob
bg_stop cid
s=$(px_status 127.0.0.6 "$LAB/" -b "sekisho=$(cat "$T/bob.cookie")")
[ "$s" = 503 ] && ok "haproxy: cid unreachable: 503, nobody passes" ||
	not_ok "haproxy: cid unreachable: 503, nobody passes" "$s"

tap_done
