#!/bin/sh
# Two gateways on one PostgreSQL (tests/net/lib_gw.sh): a database host, gateways
# 1 and 2 each with ipfd, authd and cid in front of the same service host, and
# clients behind each. One cap across both, one change log, one key ring.
#
# cid's fallback poll (refresh_ms) is 5 s here, so a change that reaches the
# other gateway within the 2 s deadlines below came by the store's
# notification, not by polling: a missed wake-up fails the case. The
# resyncs after a cut or a restart have longer deadlines (20 s): they wait for
# TCP timeouts (1-2 s here) and reconnect retries, on a shared, loaded machine.
#
# The revocation and the new service are made the way an operator makes them:
# root logs in to gateway 1's admin pages, fetches the form, posts it with its
# csrf value. Gateway 2's reaction to them is waited for with a generous bound
# and its time printed ("# ... ms"), not asserted: the figures are
# bench/gateways.sh's.
. "${SEKISHO_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/net/lib.sh"
. "$SEKISHO_TOP/tests/net/lib_pg.sh"
. "$SEKISHO_TOP/tests/net/lib_system.sh"
. "$SEKISHO_TOP/tests/net/lib_gw.sh"
net_init
trap 'gw_cleanup; net_cleanup' EXIT

BURST=4        # logins per gateway per run
CAP=3
RUNS=10
DEADLINE_MS=2000
SPREAD_BOUND_MS=20000   # generous: the time is printed, bench/gateways.sh measures it
ADMIN=10.0.1.5          # root's browser, a client address of gateway 1

V4="get_byte(ip, 0) || '.' || get_byte(ip, 1) || '.' || get_byte(ip, 2) || '.' || get_byte(ip, 3)"   # rights.ip is bytea

expect() {   # name want got
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "want '$2', got '$3'"; fi
}
live_in() { gw_psql "SELECT count(*) FROM rights WHERE ended_at IS NULL AND service_id = (SELECT id FROM services WHERE name = '$1')"; }
svc_id() {   # name (remembered: the database may be away when it is asked again)
	[ -s "$T/id.$1" ] || gw_psql "SELECT id FROM services WHERE name = '$1'" >"$T/id.$1"
	cat "$T/id.$1"
}
set_has() {   # n service addr: gateway n's kernel set holds addr
	in_ns "gw$1" nft list set inet sekisho "s$(svc_id "$2")_v4" 2>/dev/null | grep -Eq "(^|[ {,])$3([ ,}]|$)"
}
set_lacks() { ! set_has "$@"; }
set_addrs() {   # n service: the addresses in gateway n's set, sorted
	in_ns "gw$1" nft list set inet sekisho "s$(svc_id "$2")_v4" 2>/dev/null |
		grep -Eo '10\.[0-9]+\.[0-9]+\.[0-9]+' | sort | tr '\n' ' '
}
store_addrs() {   # service: the addresses of its live rights, sorted
	gw_psql "SELECT $V4 FROM rights WHERE ended_at IS NULL AND service_id =
	         (SELECT id FROM services WHERE name = '$1') ORDER BY 1" | sort | tr '\n' ' '
}
set_matches() { [ "$(set_addrs "$1" "$2")" = "$(store_addrs "$2")" ]; }   # n service
fw_shut() { ! gw_fw_open "$@"; }
has_chain() { in_ns "gw$1" nft list chain inet sekisho "s$2" >/dev/null 2>&1; }
door_is() { [ "$(gw_door "$1" "$2" "$3" "$4")" = "$5" ]; }
now_ms() { date +%s%3N; }
reaches() {   # t0 name cmd...: gateway 2 comes to CMD within the bound; prints the time since t0
	_t0=$1 _name=$2; shift 2
	check "$_name" within_ms "$SPREAD_BOUND_MS" "$@"
	echo "# $_name: $(( $(now_ms) - _t0 )) ms after the admin page's answer"
}
admitted() { grep -c '^303 .*/_sekisho/enter?code=' "$@" 2>/dev/null | awk -F: '{ s += $NF } END { print s + 0 }'; }

# ---- the system ----
gw_db_start && gw_add 1 "$BURST" && gw_add 2 "$BURST" && gw_init 1 ||
	{ not_ok "database host and two gateways"; tap_done; exit 1; }
i=1
while [ "$i" -le $((2 * BURST)) ]; do gw_ctl 1 user add "u$i" --role user --password-file "$T/pw" >/dev/null; i=$((i + 1)); done
gw_service lab 2 "$CAP"
check "gateway 1 starts (ipfd, authd, cid on PostgreSQL over TCP)" gw_start 1
check "gateway 2 starts on the same database" gw_start 2

# ---- one cap across both gateways ----
burst() {   # run: BURST logins at each gateway at once; prints how many were admitted
	rm -f "$T"/burst.*
	pids=""
	for g in 1 2; do
		i=2
		while [ "$i" -le $((1 + BURST)) ]; do
			u=u$(( (g - 1) * BURST + i - 1 ))
			(gw_login "$g" "10.0.$g.$i" "$u" lab >"$T/burst.$g.$i") &
			pids="$pids $!"
			i=$((i + 1))
		done
	done
	wait $pids
	admitted "$T"/burst.*
}
bad=""
r=1
while [ "$r" -le "$RUNS" ]; do
	n=$(burst)
	l=$(live_in lab)
	[ "$n" = "$CAP" ] && [ "$l" = "$CAP" ] || bad="$bad run $r: admitted $n, live $l;"
	gw_psql "UPDATE rights SET ended_at = extract(epoch FROM now())::bigint, end_reason = $END_REVOKED
	         WHERE ended_at IS NULL" >/dev/null
	r=$((r + 1))
done
if [ -z "$bad" ]; then ok "$RUNS bursts of $((2 * BURST)) logins split across both gateways admit exactly cap=$CAP each"
else not_ok "$RUNS bursts of $((2 * BURST)) logins split across both gateways admit exactly cap=$CAP each" "$bad"; fi

# ---- one change log, one key ring ----
loc1=$(gw_login 1 10.0.1.2 u1 lab)
loc2=$(gw_login 2 10.0.2.2 u5 lab)
expect "a login at gateway 1 is admitted" 303 "${loc1%% *}"
expect "a login at gateway 2 is admitted" 303 "${loc2%% *}"
cookie1=$(gw_enter 1 10.0.1.2 "${loc1#* }")
cookie2=$(gw_enter 2 10.0.2.2 "${loc2#* }")
check "gateway 1's cid hands over an access cookie" test -n "$cookie1"
check "a cookie issued through gateway 1 is accepted by gateway 2's cid (one key ring)" \
	within_ms "$DEADLINE_MS" door_is 2 lab 10.0.1.2 "$cookie1" 204
check "gateway 2's firewall lets its client through" gw_fw_open 2 10.0.2.2 2
check "gateway 1's kernel set gets gateway 2's admission from the log" \
	within_ms "$DEADLINE_MS" set_has 1 lab 10.0.2.2
check "gateway 2's cid accepts its own client's cookie" door_is 2 lab 10.0.2.2 "$cookie2" 204
rid=$(gw_psql "SELECT r.id FROM rights r JOIN users u ON u.id = r.user_id WHERE u.name = 'u5' AND r.ended_at IS NULL")
expect "root logs in to gateway 1's admin pages" 303 "$(gw_admin_login 1 "$ADMIN")"
lab=$(svc_id lab)
code=$(gw_admin_post 1 "$ADMIN" "/admin/rights?service=$lab" /admin/rights/revoke \
	--data-urlencode "right=$rid" --data-urlencode "service=$lab")
t0=$(now_ms)
check "gateway 1's live access page offers to revoke u5's right (made at gateway 2)" \
	grep -q "name=\"right\" value=\"$rid\"" "$T/admin.$ADMIN.page"
expect "root revokes it on gateway 1's admin page (303)" 303 "$code"
expect "... which the audit log records as root's" "root right=$rid" \
	"$(gw_psql "SELECT actor || ' ' || split_part(detail, ' ', 1) FROM audit WHERE action = 'right.revoke' ORDER BY id DESC LIMIT 1")"
reaches "$t0" "a revocation on gateway 1's admin page empties gateway 2's kernel set" \
	set_lacks 2 lab 10.0.2.2
reaches "$t0" "... so gateway 2's firewall closes" fw_shut 2 10.0.2.2 2
reaches "$t0" "... and gateway 2's cid refuses the cookie" door_is 2 lab 10.0.2.2 "$cookie2" 401
check "gateway 1's client keeps its access at gateway 2's door" door_is 2 lab 10.0.1.2 "$cookie1" 204
code=$(gw_admin_post 1 "$ADMIN" /admin/services/new /admin/services/new \
	--data-urlencode name=wiki --data-urlencode url=http://10.9.0.3/ \
	--data-urlencode max_usage=60 --data-urlencode max_interval=30 --data-urlencode cap=2 \
	--data-urlencode admin=root --data-urlencode guards=10.9.0.3:80 --data-urlencode entry_url=)
t0=$(now_ms)
expect "root registers a service on gateway 1's admin page (303)" 303 "$code"
expect "... which the audit log records as root's" root \
	"$(gw_psql "SELECT actor FROM audit WHERE action = 'service.add' AND service = 'wiki'")"
wiki=$(svc_id wiki)
reaches "$t0" "a service registered on gateway 1's admin page is guarded by gateway 2" \
	has_chain 2 "$wiki"

# ---- gateway 2 cut off from the database ----
loc3=$(gw_login 1 10.0.1.3 u2 lab)
expect "(setup) a second client admitted at gateway 1" 303 "${loc3%% *}"
check "(setup) gateway 2's set has it" within_ms "$DEADLINE_MS" set_has 2 lab 10.0.1.3
gw_cut 2
out=$(gw_login 2 10.0.2.3 u6 lab)
check "cut off from the database, gateway 2 admits nobody" test "${out%% *}" != 303
expect "... and the store holds no right for its client" 0 \
	"$(gw_psql "SELECT count(*) FROM rights WHERE ended_at IS NULL AND $V4 = '10.0.2.3'")"
out=$(gw_login 1 10.0.1.4 u3 lab)
expect "gateway 1 is unaffected: it admits (the last free slot)" 303 "${out%% *}"
rid=$(gw_psql "SELECT r.id FROM rights r JOIN users u ON u.id = r.user_id WHERE u.name = 'u2' AND r.ended_at IS NULL")
gw_ctl 1 right revoke "$rid" >/dev/null 2>&1
gw_uncut 2
check "reconnected, gateway 2 resyncs: its kernel set matches the store" \
	within_ms 20000 set_matches 2 lab

# ---- PostgreSQL stopped, then started again ----
login_page() {   # n addr user: the portal's answer (code) with the page body in $T/down.page
	gw_csrf "$1" "$2"
	in_ns "c$1" curl -s --max-time 20 --interface "$2" -c "$T/jar.$2" -b "$T/jar.$2" \
		-o "$T/down.page" -w '%{http_code}' --data-urlencode "user=$3" \
		--data-urlencode "password=$GW_PW" --data-urlencode "service=lab" \
		--data-urlencode "csrf=$(cat "$T/csrf.$2")" http://10.8.0.1:8080/login
}
login_ok() { out=$(gw_login "$@"); [ "${out%% *}" = 303 ]; }
gw_db_pause
expect "PostgreSQL stopped: gateway 1 admits nobody (503)" 503 "$(login_page 1 10.0.1.5 u4)"
check "... with a page that says the service is unavailable" grep -qi unavailable "$T/down.page"
expect "... nor does gateway 2" 503 "$(login_page 2 10.0.2.4 u7)"
check "... an admitted client keeps its way through gateway 1's firewall" gw_fw_open 1 10.0.1.2 2
check "... and through gateway 2's (it was admitted at gateway 1)" set_has 2 lab 10.0.1.2
check "sekishoctl status fails naming the database host" \
	sh -c "! $SEKISHO_BUILD/sekishoctl -f $T/gw1.conf status 2>$T/status.err" 
check "... (its message names 10.7.1.10)" grep -q 10.7.1.10 "$T/status.err"
check "PostgreSQL starts again" gw_db_resume
check "PostgreSQL back: gateway 2 admits again without a daemon restart" within_ms 20000 login_ok 2 10.0.2.4 u7 lab
check "... gateway 2's cid accepts gateway 1's cookie again" within_ms 15000 door_is 2 lab 10.0.1.2 "$cookie1" 204
check "... and gateway 1's kernel set has gateway 2's new client" within_ms 15000 set_has 1 lab 10.0.2.4
for p in ipfd authd cid; do
	for g in 1 2; do bg_alive "$p.$g" || not_ok "$p on gateway $g still runs"; done
done
tap_done
