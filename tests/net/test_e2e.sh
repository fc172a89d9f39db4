#!/bin/sh
# The whole system, end to end (the thesis's steps 1-9 with real parts):
# ipfd, authd and cid on a gateway namespace; nginx with auth_request to cid
# (the shipped dist/nginx/sekisho-door.conf) in front of a small app on a
# service namespace; clients in their own namespaces, curl as the browser.
# Topology and helpers: tests/net/lib_system.sh.
#
# Time is moved, not waited for: a right's expiry or idleness is made by
# setting its expires_at / last_seen in the past with the sqlite3 CLI, exactly
# what time would do to the row; the sweeper (every second here) then ends it
# and tells ipfd, and cid follows the store's change log.
. "${SEKISHO_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/net/lib.sh"
. "$SEKISHO_TOP/tests/net/lib_system.sh"
net_init

LAB=$(svc_url 2) WIKI=$(svc_url 3) RUSH=$(svc_url 4) TEMP=$(svc_url 5)

expect() {   # name want got
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "want '$2', got '$3'"; fi
}
page_says() { grep -q "service $2 user $3" "$T/page.$1"; }
reason_of() { sql "SELECT end_reason FROM rights WHERE id = $1"; }
ended() { [ -n "$(sql "SELECT 1 FROM rights WHERE id = $1 AND ended_at IS NOT NULL")" ]; }
not_in_any_set() { ! in_any_set "$1"; }
door_refuses() { [ "$(door "$1" "$2" "$3")" = 401 ]; }

# ---- the system ----
sys_init || { not_ok "topology and store"; tap_done; exit 1; }
for n in 1 2 3 4; do sys_client "c$n" "$n"; done
sys_client probe 199
sys_crowd crowd 20
sys_user alice bob carol dave
sys_users_fast r 20
sys_service lab 2 3
sys_service wiki 3 2
sys_service rush 4 5
sys_service temp 5 10
check "ipfd, authd, cid and nginx start on the store" sys_start_all

# ---- steps 1-9: three clients log in at once and use the service ----
check "before any login no client reaches the service (firewall)" fw_closed c1 10.0.1.2 2
expect "without a right, the door answers 302 to the portal" "302 $PORTAL/?service=lab" \
	"$(in_ns gw curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$LAB")"
pids=""
for n in 1 2 3; do
	u=$(echo alice bob carol | cut -d' ' -f$n)
	(web_login "c$n" "10.0.$n.2" "$u" lab >"$T/flow.$n") &
	pids="$pids $!"
done
wait $pids
for n in 1 2 3; do
	u=$(echo alice bob carol | cut -d' ' -f$n)
	expect "$u: login, 303 to the handoff, 303 to the service, the page" "200 2 $LAB" "$(cat "$T/flow.$n")"
done
check "the first 303 goes to <service origin>/_sekisho/enter?code=" \
	grep -Eq '^Location: http://10\.9\.0\.2/_sekisho/enter\?code=[A-Za-z0-9_-]+' "$T/head.10.0.1.2"
code_logged() {   # the code of alice's handoff appears in nginx's access log
	c=$(tr -d '\r' <"$T/head.10.0.1.2" | sed -n 's/^Location: .*[?&]code=\([A-Za-z0-9_-]*\).*/\1/p')
	[ -n "$c" ] && grep -qF -- "$c" "$T/nginx-access.log"
}
check "nginx logs the handoff (shipped sekisho_door format)" \
	grep -q '"GET /_sekisho/enter HTTP/1.1" 303 ' "$T/nginx-access.log"
code_not_logged() { ! code_logged; }
check "... without its entry code" code_not_logged
check "the service saw the user cid named (alice)" page_says 10.0.1.2 lab alice
check "the service saw the user cid named (carol)" page_says 10.0.3.2 lab carol
expect "three live rights in the store" 3 "$(live lab)"
expect "three addresses in the kernel set" 3 "$(set_count lab)"
ALICE=$(web_cookie 10.0.1.2 2) BOB=$(web_cookie 10.0.2.2 2) CAROL=$(web_cookie 10.0.3.2 2)
check "each browser holds its access cookie" test -n "$ALICE" -a -n "$BOB" -a -n "$CAROL"
uses=""
for i in 1 2 3 4 5 6 7 8 9 10; do
	for n in 1 2 3; do uses="$uses$(web_get "c$n" "10.0.$n.2" "$LAB")"; done
done
expect "thirty further requests pass firewall and door without the portal" \
	"$(printf '200%.0s' $(seq 30))" "$uses"

expect "cap 3: a fourth user gets 503 (limit reached)" "503 0 $PORTAL/login" "$(web_login c4 10.0.4.2 dave lab)"
check "the limit page says so" grep -qi 'limit' "$T/page.10.0.4.2"
check "the refused user cannot reach the service" fw_closed c4 10.0.4.2 2

# ---- both checks are enforced ----
expect "alice's cookie from a non-admitted address: no connection (firewall)" 000 \
	"$(web_bare c4 10.0.4.2 "$LAB" -b "sekisho=$ALICE")"
expect "cid itself refuses that cookie from that address" 401 "$(door lab 10.0.4.2 "$ALICE")"
expect "an admitted address without the cookie: 302 to the portal (door)" 302 \
	"$(web_bare c1 10.0.1.2 "$LAB")"
expect "an admitted address with another user's cookie: 302 (cookie bound to its address)" 302 \
	"$(web_bare c2 10.0.2.2 "$LAB" -b "sekisho=$ALICE")"
expect "a forged cookie from an admitted address: 302" 302 \
	"$(web_bare c1 10.0.1.2 "$LAB" -b "sekisho=$(echo "$ALICE" | tr 'A-Za-z' 'B-ZAb-za')")"
expect "admitted to lab is not admitted to wiki (firewall)" 000 "$(web_get c1 10.0.1.2 "$WIKI")"

# ---- logging in again from the same machine ----
old=$(right_of alice lab)
expect "alice logs in again from the same address" "200 2 $LAB" "$(web_login c1 10.0.1.2 alice lab)"
new=$(right_of alice lab)
check "the new right replaced the old one" sh -c "[ -n '$new' ] && [ '$new' != '$old' ] && [ \$(sqlite3 '$DB' 'SELECT end_reason FROM rights WHERE id = $old') = $END_REPLACED ]"
expect "the old cookie is refused" 401 "$(door lab 10.0.1.2 "$ALICE")"
ALICE=$(web_cookie 10.0.1.2 2)
expect "the replacement kept the address open and the new cookie works" 200 "$(web_get c1 10.0.1.2 "$LAB")"

# ---- a burst of concurrent logins against cap 5 ----
i=0 pids=""
while [ $i -lt 20 ]; do
	(web_login crowd "$(crowd_addr $i)" "r$((i + 1))" rush; echo) >"$T/rush.$i" &
	pids="$pids $!" i=$((i + 1))
done
wait $pids
expect "20 concurrent logins, cap 5: five reach the service page" 5 "$(cat "$T"/rush.* | grep -c "^200 2 $RUSH\$")"
expect "20 concurrent logins, cap 5: fifteen get 503" 15 "$(cat "$T"/rush.* | grep -c '^503 ')"
expect "exactly five live rights" 5 "$(live rush)"
expect "exactly five addresses in the kernel set" 5 "$(set_count rush)"
opened=0 i=0
while [ $i -lt 20 ]; do
	fw_open crowd "$(crowd_addr $i)" 4 && opened=$((opened + 1))
	i=$((i + 1))
done
expect "exactly five of the twenty machines can connect" 5 "$opened"

# ---- restart each daemon in turn while users are active ----
# Three loops run throughout: alice using lab with her cookie, bob's machine
# without any cookie, and a stranger's machine that was never admitted.
loop() {   # name host addr [curl-args]: one status per line into $T/NAME.out until $T/stop
	n=$1 h=$2 a=$3; shift 3
	bg_start "$n" "$h" sh -c 'a=$1; shift; while [ ! -e "$0/stop" ]; do
		curl -s -o /dev/null -w "%{http_code}\n" --connect-timeout 1 --max-time 3 --interface "$a" "$@" '"$LAB"'
		sleep 0.02
	done >"$0/'"$n"'.out"' "$T" "$a" "$@"
}
lines() { wc -l <"$T/$1.out"; }
segment() { sed -n "$(($2 + 1)),$3p" "$T/$1.out" | sort | uniq -c | awk '{printf "%s%s:%s", s, $2, $1; s=" "}'; }
only() {   # name from to allowed-codes...: every status in the segment is one of them
	n=$1 f=$2 t=$3; shift 3
	bad=$(sed -n "$((f + 1)),${t}p" "$T/$n.out" | grep -cvx -e "$(echo "$@" | sed 's/ /\\|/g')")
	[ "$bad" -eq 0 ] && [ "$t" -gt "$f" ]
}
before=$(sql "SELECT group_concat(id) FROM (SELECT id FROM rights WHERE ended_at IS NULL ORDER BY id)")
rm -f "$T/stop"
loop user c1 10.0.1.2 -b "sekisho=$ALICE"
loop nocookie c2 10.0.2.2
loop stranger probe 10.0.199.2
hammer_start hammer probe 10.0.199.2 2 "$T/stop"
sleep 1
u0=$(lines user) s0=$(lines stranger) n0=$(lines nocookie)
sys_restart ipfd
sleep 0.5
u1=$(lines user)
check "ipfd restarted" bg_alive ipfd
check "during the ipfd restart alice was served every time ($(segment user "$u0" "$u1"))" only user "$u0" "$u1" 200
sys_restart authd
sleep 0.5
u2=$(lines user)
check "authd restarted" portal_up
check "during the authd restart alice was served every time ($(segment user "$u1" "$u2"))" only user "$u1" "$u2" 200
sys_restart cid
sleep 1
u3=$(lines user)
check "cid restarted" cid_up
# While cid is down nginx cannot ask, and answers 500: closed, never open.
check "during the cid restart alice got the page or a 500, never the portal ($(segment user "$u2" "$u3"))" \
	only user "$u2" "$u3" 200 500
sys_restart nginx
touch "$T/stop"
sleep 1
for n in user nocookie stranger; do bg_stop "$n"; done
wait_for 3 grep -q tries "$T/hammer.log"
check "a prober connecting as fast as it can never got through ($(cat "$T/hammer.log"))" \
	grep -q 'tries [1-9][0-9]* connected 0$' "$T/hammer.log"
check "the stranger's machine never connected ($(segment stranger "$s0" "$(lines stranger)"))" \
	only stranger "$s0" "$(lines stranger)" 000
check "bob's machine without a cookie never got the page ($(segment nocookie "$n0" "$(lines nocookie)"))" \
	only nocookie "$n0" "$(lines nocookie)" 302 500 502 000
expect "after the restarts alice is served" 200 "$(web_get c1 10.0.1.2 "$LAB")"
expect "after the restarts bob is served" 200 "$(web_get c2 10.0.2.2 "$LAB")"
expect "after the restarts carol is served" 200 "$(web_get c3 10.0.3.2 "$LAB")"
expect "the same rights are live as before (nobody lost one, nobody got one)" "$before" \
	"$(sql "SELECT group_concat(id) FROM (SELECT id FROM rights WHERE ended_at IS NULL ORDER BY id)")"
expect "the kernel set still holds exactly the three" 3 "$(set_count lab)"
check "a machine that never logged in still cannot connect" fw_closed c4 10.0.4.2 2
expect "the cap still holds after the restarts" 503 "$(web_login c4 10.0.4.2 dave lab | cut -d' ' -f1)"

# ---- someone's "nft flush ruleset" (a reload of /etc/nftables.conf) ----
in_ns gw nft flush ruleset
kill -HUP "$(cat "$T/ipfd.pid")"   # what the unit's ReloadPropagatedFrom=nftables.service does
table_back() { in_ns gw nft list set inet sekisho "s$(sql "SELECT id FROM services WHERE name = 'lab'")_v4" | grep -q 10.0.1.2; }
check "after a flushed ruleset, ipfd's reload rebuilds the table from the store" wait_for 5 table_back
check "the stranger is refused again" fw_closed probe 10.0.199.2 2
expect "alice is served again" 200 "$(web_get c1 10.0.1.2 "$LAB")"

# ---- every way a right ends closes both the firewall and the door ----
sleep 1   # cid has written the last uses; nothing below touches these rights again
r=$(right_of alice lab)
sql "UPDATE rights SET expires_at = unixepoch() - 1 WHERE id = $r"
check "max usage time: the sweeper ends alice's right" wait_for 5 ended "$r"
expect "max usage time: the reason is 'expired' (1)" 1 "$(reason_of "$r")"
check "max usage time: alice's address left the kernel set" not_in_any_set 10.0.1.2
check "max usage time: alice's machine cannot connect" fw_closed c1 10.0.1.2 2
check "max usage time: cid refuses alice's cookie" wait_for 2 door_refuses lab 10.0.1.2 "$ALICE"

r=$(right_of bob lab)
sql "UPDATE rights SET last_seen = unixepoch() - 30 * 60 - 1 WHERE id = $r"
check "max usage interval: the sweeper ends bob's idle right" wait_for 5 ended "$r"
expect "max usage interval: the reason is 'idle' (2)" 2 "$(reason_of "$r")"
check "max usage interval: bob's machine cannot connect" fw_closed c2 10.0.2.2 2
check "max usage interval: cid refuses bob's cookie" wait_for 2 door_refuses lab 10.0.2.2 "$BOB"

r=$(right_of carol lab)
ctl right revoke "$r" >/dev/null
t0=$(date +%s%3N)
check "revocation by an admin: carol's machine is cut off at once" fw_closed c3 10.0.3.2 2
if within_ms 1000 door_refuses lab 10.0.3.2 "$CAROL"; then
	ok "revocation by an admin: cid refuses carol's cookie within a second ($(( $(date +%s%3N) - t0 )) ms)"
else
	not_ok "revocation by an admin: cid refuses carol's cookie within a second" "still $(door lab 10.0.3.2 "$CAROL") after 1 s"
fi
expect "revocation by an admin: the reason is 'revoked' (5)" 5 "$(reason_of "$r")"
expect "the freed places admit again" "200 2 $LAB" "$(web_login c4 10.0.4.2 dave lab)"

expect "dave uses wiki" "200 2 $WIKI" "$(web_login c4 10.0.4.2 dave wiki)"
DAVE_WIKI=$(web_cookie 10.0.4.2 3)
r=$(right_of dave wiki)
ctl service edit wiki --disable >/dev/null
expect "disabling a service ends its rights (reason 8)" 8 "$(reason_of "$r")"
check "disabling a service: its users' machines are cut off" fw_closed c4 10.0.4.2 3
check "disabling a service: a stranger stays shut out (the guard stays)" fw_closed probe 10.0.199.2 3
check "disabling a service: cid refuses its cookies" wait_for 2 door_refuses wiki 10.0.4.2 "$DAVE_WIKI"

expect "dave uses temp" "200 2 $TEMP" "$(web_login c4 10.0.4.2 dave temp)"
DAVE_TEMP=$(web_cookie 10.0.4.2 5)
r=$(right_of dave temp) tid=$(sql "SELECT id FROM services WHERE name = 'temp'")
ctl service del temp >/dev/null
expect "deleting a service ends its rights (reason 7)" 7 "$(reason_of "$r")"
check "deleting a service: cid refuses its cookies" wait_for 2 door_refuses temp 10.0.4.2 "$DAVE_TEMP"
got=$(web_get c4 10.0.4.2 "$TEMP")
check "deleting a service: its former user gets no page ($got)" test "$got" != 200
got=$(web_bare probe 10.0.199.2 "$TEMP")
check "deleting a service: nor does anyone else ($got)" test "$got" != 200
no_set() { ! in_ns gw nft list set inet sekisho "s${1}_v4" >/dev/null 2>&1; }
check "deleting a service: its set is gone from the kernel" no_set "$tid"
# Deleted, the endpoint is no longer sekisho's to guard: ipfd drops its rules,
# so only the door (nginx + cid) still refuses, as checked above. (Disabling
# is the way to close a service; docs/deploy.md says so.)
expect "other services keep their users" 200 "$(web_get c4 10.0.4.2 "$LAB")"

tap_done
