#!/bin/sh
# Dual stack: authd and cid each listen on an IPv4 and an IPv6 address at
# once; the admin pages live only on their own listener (admin_listen); a
# client who reached the portal over one address family for a service guarded
# only on the other is told which family to use, and nothing is admitted.
#
#   c1 10.0.1.2 fd00:1::2 --- gw 10.0.1.1 fd00:1::1: authd :8080 (admin 127.0.0.1:8090), cid :8081
#
# [ipfd] enabled = off: the store alone decides admissions here.
. "${SEKISHO_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/net/lib.sh"
net_init

B=$SEKISHO_BUILD
CONF=$T/sekisho.conf DB=$T/sekisho.db
P4=http://10.0.1.1:8080 P6=http://[fd00:1::1]:8080 ADMIN=http://127.0.0.1:8090
write_conf() {   # authd.admin_listen
	cat >"$CONF" <<EOF
[db]
path = $DB
[authd]
listen = 10.0.1.1:8080, [fd00:1::1]:8080
admin_listen = $1
base_url = $P4
web_dir = $SEKISHO_TOP/web
[ipfd]
enabled = off
[cid]
listen = 10.0.1.1:8081,[fd00:1::1]:8081
EOF
}
write_conf 127.0.0.1:8090
ctl() { "$B/sekishoctl" -f "$CONF" "$@"; }
sql() { sqlite3 -cmd ".timeout 5000" "$DB" "$@"; }
expect() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "want $2, got $3"; fi; }

# ---- configuration errors name the file and line ----
refuses() {   # name key-line pattern
	sed "s|^$2 = .*|$2 = $3|" "$CONF" >"$T/bad.conf"
	"$B/authd" -n -f "$T/bad.conf" 2>"$T/bad.err" && { not_ok "$1" "accepted"; return; }
	grep -q "bad.conf:[0-9]*:" "$T/bad.err" && ok "$1" || not_ok "$1" "$(cat "$T/bad.err")"
}
refuses "admin_listen on a public listen address is refused with file:line" admin_listen 10.0.1.1:8080
refuses "admin_listen on the monitor address is refused with file:line" admin_listen 127.0.0.1:9080
refuses "five listen addresses are refused with file:line" listen "1.1.1.1:1,1.1.1.2:1,1.1.1.3:1,1.1.1.4:1,1.1.1.5:1"
refuses "an empty listen is refused with file:line" listen ""
refuses "a listen entry without a port is refused with file:line" listen "10.0.1.1:8080,fd00:1::1"
check "authd -n accepts two listen addresses and admin_listen" "$B/authd" -n -f "$CONF"

printf 'root-password-1\n' >"$T/pw"
ctl init --root-password-file "$T/pw" >/dev/null || { not_ok "store made"; tap_done; exit 1; }
printf 'good-password\n' >"$T/upw"
ctl user add alice --role user --password-file "$T/upw" >/dev/null
add_service() {   # name guard...
	n=$1; shift
	g=""; for e in "$@"; do g="$g --guard $e"; done
	# shellcheck disable=SC2086
	ctl service add "$n" --url http://10.0.9.2/ --max-usage 60 --max-interval 30 --cap 5 \
		--admin root $g >/dev/null
}
add_service v4only 10.0.9.2:80
add_service v6only "[fd00:9::2]:80"
add_service both 10.0.9.2:81 "[fd00:9::2]:81"

host_add gw && host_add c1 &&
	link_add c1 10.0.1.2/24 gw 10.0.1.1/24 fd00:1::2/64 fd00:1::1/64 ||
	{ not_ok "namespaces"; tap_done; exit 1; }
in_ns gw ip link set lo up
bg_start authd gw "$B/authd" -d -f "$CONF"
bg_start cid gw "$B/cid" -d -f "$CONF"
code() { in_ns "$1" curl -s -g --max-time 5 -o /dev/null -w '%{http_code}' "$2"; }
is200() { [ "$(code "$@")" = 200 ]; }
wait_for 10 is200 c1 "$P4/" && wait_for 10 is200 c1 "$P6/" &&
	ok "the portal answers on its IPv4 and its IPv6 address at once" ||
	not_ok "the portal answers on its IPv4 and its IPv6 address at once" "$(cat "$T/authd.log")"
# cid's service side: without a trusted proxy it refuses the check, but it answers.
check "cid answers on its IPv4 and its IPv6 address at once" sh -c "
	[ \"\$(ip netns exec $NET_PREFIX-c1 curl -s -o /dev/null -w '%{http_code}' http://10.0.1.1:8081/_sekisho/auth)\" != 000 ] &&
	[ \"\$(ip netns exec $NET_PREFIX-c1 curl -s -g -o /dev/null -w '%{http_code}' 'http://[fd00:1::1]:8081/_sekisho/auth')\" != 000 ]"

# ---- admin pages only on admin_listen ----
expect "the public IPv4 listener has no admin pages" 404 "$(code c1 "$P4/admin/login")"
expect "the public IPv6 listener has no admin pages" 404 "$(code c1 "$P6/admin/login")"
expect "the admin listener serves the admin login" 200 "$(code gw "$ADMIN/admin/login")"
expect "the admin listener serves no portal login" 404 "$(code gw "$ADMIN/me")"
expect "the admin listener serves the stylesheet" 200 "$(code gw "$ADMIN/static/sekisho.css")"

# ---- the address family of the portal and of the service ----
# login URL SERVICE: GET / for the CSRF value, then POST /login; prints the status.
login() {
	jar=$T/jar.$(echo "$1" | tr -c 'a-z0-9' _)
	in_ns c1 curl -s -g -b "$jar" -c "$jar" -o "$T/form" "$1/"
	csrf=$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$T/form" | head -n 1)
	in_ns c1 curl -s -g -b "$jar" -c "$jar" -o "$T/body" -w '%{http_code}' \
		--data-urlencode user=alice --data-urlencode password=good-password \
		--data-urlencode "service=$2" --data-urlencode "csrf=$csrf" "$1/login"
}
live() { sql "SELECT count(*) FROM rights WHERE ended_at IS NULL AND service_name = '$1'"; }
expect "over IPv6 to a service guarded only on IPv4: 409" 409 "$(login "$P6" v4only)"
check "... and the page says to use IPv4" grep -q "reachable over IPv4 only" "$T/body"
expect "... and nothing was admitted" 0 "$(live v4only)"
expect "over IPv4 to a service guarded only on IPv6: 409" 409 "$(login "$P4" v6only)"
check "... and the page says to use IPv6" grep -q "reachable over IPv6 only" "$T/body"
expect "... and nothing was admitted" 0 "$(live v6only)"
expect "over IPv4 to the IPv4 service: admitted (303)" 303 "$(login "$P4" v4only)"
expect "over IPv6 to the IPv6 service: admitted (303)" 303 "$(login "$P6" v6only)"
expect "over IPv6 to a service guarded on both: admitted (303)" 303 "$(login "$P6" both)"
check "authd counts the refusal as login result wrong_family" sh -c "
	ip netns exec $NET_PREFIX-gw curl -s http://127.0.0.1:9080/metrics |
	grep -qx 'sekisho_authd_logins_total{result=\"wrong_family\"} 2'"

# ---- without admin_listen the admin pages stay on the portal ----
bg_stop authd
write_conf ""
bg_start authd gw "$B/authd" -d -f "$CONF"
wait_for 10 is200 c1 "$P6/admin/login" &&
	ok "admin_listen empty: the admin pages are on the portal's listeners" ||
	not_ok "admin_listen empty: the admin pages are on the portal's listeners"
bg_stop authd
bg_stop cid
tap_done
