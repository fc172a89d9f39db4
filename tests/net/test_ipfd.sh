#!/bin/sh
# ipfd against the real kernel, with real packets.
#
#   c1 (10.0.1.2) ---\                    /--- srv 10.0.9.2, fd00:9::2
#   c2 (10.0.2.2) ----- gw (ipfd, forward) ---- echo servers on 80 (guarded),
#   c6 (fd00:6::2) --/                          8080 (never guarded), 8443
#
# Rights are made with sekishoctl against a temporary SQLite store; with
# [ipfd] enabled, grant and revoke go through ipfd before they return.
# The 3-second case shortens a right's expires_at with the sqlite3 CLI and
# lets ipfd resync (SIGHUP), which is how a right near its end looks to the
# kernel; ipfd is then stopped and the kernel alone must end the access.
. "${SEKISHO_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/net/lib.sh"

B=$SEKISHO_BUILD
net_init

CONF=$T/sekisho.conf
cat >"$CONF" <<EOF
[db]
path = $T/db.sqlite
[authd]
ipfd_timeout_ms = 5000
[ipfd]
socket = $T/ipfd.sock
group = root
hook = forward
sync_interval_s = 2
batch_window_us = 500
enabled = on
EOF
# The same store, but sekishoctl does not tell ipfd: ipfd must find changes by itself.
sed 's/^enabled = on/enabled = off/' "$CONF" >"$T/quiet.conf"

ctl() { "$B/sekishoctl" -f "$CONF" "$@"; }
ctl_quiet() { "$B/sekishoctl" -f "$T/quiet.conf" "$@"; }
grant() {   # user service ip -> prints the right id
	ctl grant "$@" | sed -n 's/^granted right \([0-9]*\):.*/\1/p'
}
nft_gw() { in_ns gw nft "$@"; }
# The table without counters and countdowns, for before/after comparisons.
table_shape() { nft_gw -s list table inet sekisho | sed -e 's/ expires [^,}]*//g' -e 's/ timeout [0-9][0-9dhms]*//g'; }   # time values move on their own
set_has() { nft_gw list set inet sekisho "$1" | grep -q "$2 "; }

ipfd_start() {
	rm -f "$T/ipfd.sock"
	bg_start ipfd gw "$B/ipfd" -d -f "$CONF"
	wait_for 5 test -S "$T/ipfd.sock"
}

refused() { ! tcp_ok "$@"; }
udp_ok() { in_ns "$1" "$PY" "$NET_HELPERS/tcp.py" udp "$2" "$3" 2>/dev/null; }
udp_refused() { ! udp_ok "$@"; }
no_chain() { ! nft_gw list chain inet sekisho "$1" >/dev/null 2>&1; }
not_in_set() { ! set_has "$@"; }
starts_with() { case $1 in "$2"*) return 0 ;; esac; return 1; }
ipfd_serves() { bg_alive ipfd && [ "$(ctl status --json | json_field ipfd.state)" = up ]; }
syncs() { grep -c 'event=sync scope=all' "$T/ipfd.log"; }
# SIGHUP: ipfd re-reads the config and rebuilds from the store; returns after that sync.
ipfd_resync() {
	n=$(syncs)
	kill -HUP "$(cat "$T/ipfd.pid")"
	wait_for 5 test_more_syncs "$n"
}
test_more_syncs() { [ "$(syncs)" -gt "$1" ]; }
set_count() { nft_gw list set inet sekisho "$1" | grep -o '10\.0\.[0-9]*\.2' | wc -l; }

# ---- topology ----
for h in c1 c2 c6 gw srv; do host_add $h; done
link_add c1 10.0.1.2/24 gw 10.0.1.1/24 fd00:1::2/64 fd00:1::1/64
link_add c2 10.0.2.2/24 gw 10.0.2.1/24 fd00:2::2/64 fd00:2::1/64
link_add c6 10.0.6.2/24 gw 10.0.6.1/24 fd00:6::2/64 fd00:6::1/64
link_add srv 10.0.9.2/24 gw 10.0.9.1/24 fd00:9::2/64 fd00:9::1/64
for h in c1 c2 c6 srv; do
	n=$(in_ns $h ip -4 route show dev to-gw | sed -n 's/^\([0-9.]*\)\.0\/24.*/\1/p')
	route_add $h default "$n.1"
done
route_add c1 default fd00:1::1
route_add c2 default fd00:2::1
route_add c6 default fd00:6::1
route_add srv default fd00:9::1
forward_on gw
bg_start echo srv "$PY" "$NET_HELPERS/tcp.py" serve 80 8080 8443

printf 'test-password-1\n' >"$T/pw"
ctl init --root-password-file "$T/pw" >/dev/null
for u in alice bob carol dave erin; do ctl user add $u --role user --password-file "$T/pw" >/dev/null; done
ctl service add web --url http://10.0.9.2/ --max-usage 1 --max-interval 1 --cap 10 --admin root \
	--guard 10.0.9.2:80 --guard '[fd00:9::2]:80' >/dev/null 2>&1

check "topology: the service answers on its unguarded port before ipfd runs" wait_tcp c1 10.0.9.2 8080
check "ipfd -n refuses a group that does not exist" sh -c \
	"sed 's/^group = root/group = no-such-group-$$/' '$CONF' >'$T/badgroup.conf' &&
	 ! '$B/ipfd' -n -f '$T/badgroup.conf' 2>'$T/badgroup.err' && grep -q 'no such group' '$T/badgroup.err'"
if ! ipfd_start; then
	not_ok "ipfd starts" "$(cat "$T/ipfd.log")"
	echo "Bail out! ipfd does not start"
	exit 1
fi
check "ipfd starts and builds its table" nft_gw list chain inet sekisho s1

# ---- admission ----
check "a client not admitted cannot connect to the guarded port" refused c1 10.0.9.2 80
check "a client not admitted gets no UDP through to the guarded port" udp_refused c1 10.0.9.2 80
check "the unguarded port stays reachable" tcp_ok c1 10.0.9.2 8080
r_alice=$(grant alice web 10.0.1.2)
check "grant returns only once the kernel holds the address" set_has s1_v4 10.0.1.2
check "an admitted client can connect to the guarded port" tcp_ok c1 10.0.9.2 80
check "an admitted client gets UDP through to the guarded port" udp_ok c1 10.0.9.2 80
check "admitting one client opens nothing for another" refused c2 10.0.9.2 80

# ---- revoke cuts an established connection ----
mkdir -p "$T/hold" && chmod 777 "$T/hold"
bg_start hold c1 "$PY" "$NET_HELPERS/tcp.py" hold 10.0.9.2 80 "$T/hold"
if wait_for 5 grep -q up "$T/hold/state"; then
	ctl right revoke "$r_alice" >/dev/null
	touch "$T/hold/go"
	wait_for 5 grep -q -e alive -e cut "$T/hold/state"
	check "revoke cuts an established TCP connection" grep -q '^cut' "$T/hold/state"
else
	not_ok "revoke cuts an established TCP connection" "the connection never came up"
fi
bg_stop hold
check "a revoked client cannot connect again" refused c1 10.0.9.2 80

# ---- NAT: two rights, one address ----
r_bob=$(grant bob web 10.0.2.2)
r_carol=$(grant carol web 10.0.2.2)
ctl right revoke "$r_bob" >/dev/null
check "NAT: revoking one of two rights on one address keeps it open" tcp_ok c2 10.0.9.2 80
ctl right revoke "$r_carol" >/dev/null
check "NAT: revoking the last right on the address closes it" refused c2 10.0.9.2 80

# ---- IPv6 ----
check "IPv6: a client not admitted is refused" refused c6 fd00:9::2 80
check "IPv6: the unguarded port stays reachable" tcp_ok c6 fd00:9::2 8080
r_v6=$(grant alice web fd00:6::2)
check "IPv6: an admitted client can connect" tcp_ok c6 fd00:9::2 80
check "IPv6: its v4 address is not admitted by the v6 right" refused c6 10.0.9.2 80
ctl right revoke "$r_v6" >/dev/null
check "IPv6: revoke closes it again" refused c6 fd00:9::2 80

# ---- restart: fail closed, rights come back from the store ----
r_dave=$(grant dave web 10.0.1.2)
bg_start hammer c2 "$PY" "$NET_HELPERS/tcp.py" hammer 10.0.9.2 80 4
sleep 0.3
bg_stop ipfd
check "ipfd's exit keeps the table (fail closed)" nft_gw list chain inet sekisho s1
nft_gw flush set inet sekisho s1_v4   # the kernel forgets; only the store remembers
check "with ipfd down and its set emptied, the admitted client is shut out" refused c1 10.0.9.2 80
ipfd_start
check "after a restart the rights come back from the store" wait_tcp c1 10.0.9.2 80
wait_for 8 grep -q tries "$T/hammer.log"
check "nothing is open during the restart (a prober never connected)" grep -q 'connected 0$' "$T/hammer.log"
ctl right revoke "$r_dave" >/dev/null

# ---- the kernel ends access on time with ipfd stopped ----
r_erin=$(grant erin web 10.0.2.2)
sqlite3 "$T/db.sqlite" "UPDATE rights SET expires_at = unixepoch() + 3 WHERE id = $r_erin"
ipfd_resync   # a full sync reads the shortened right
short_timeout() { nft_gw list set inet sekisho s1_v4 | grep -Eq '10\.0\.2\.2 timeout [0-3]s'; }
check "a right with 3 s left is pushed with a 3 s timeout" short_timeout
bg_stop ipfd
check "right before the end the client still connects (ipfd stopped)" tcp_ok c2 10.0.9.2 80
sleep 3.5
check "the kernel drops the right on time with ipfd stopped" refused c2 10.0.9.2 80
check "the expired address left the set" not_in_set s1_v4 10.0.2.2
ipfd_start

# ---- services added, removed while ipfd runs ----
check "port 8443 is open before a service guards it" tcp_ok c1 10.0.9.2 8443
ctl_quiet service add extra --url http://10.0.9.2:8443/ --max-usage 5 --max-interval 5 --cap 1 \
	--admin root --guard 10.0.9.2:8443 >/dev/null
check "a service added while ipfd runs gets its sets and rules at the next sync" \
	wait_for 6 nft_gw list set inet sekisho s2_v4
check "the new service's port is guarded" refused c1 10.0.9.2 8443
r_x=$(grant alice extra 10.0.1.2)
check "the new service admits its client" tcp_ok c1 10.0.9.2 8443
ctl grant bob extra 10.0.2.2 >/dev/null 2>&1
check "the store refuses past the cap and nothing opens" refused c2 10.0.9.2 8443
ctl service edit extra --disable >/dev/null
check "a disabled service keeps its chain (fail closed)" nft_gw list chain inet sekisho s2
check "a disabled service's set is empty" not_in_set s2_v4 10.0.1.2
check "a disabled service refuses its formerly admitted client" refused c1 10.0.9.2 8443
check "a disabled service refuses everyone else" refused c2 10.0.9.2 8443
ipfd_resync
check "a full sync keeps a disabled service closed" refused c1 10.0.9.2 8443
ctl service edit extra --enable >/dev/null
r_x=$(grant alice extra 10.0.1.2)
check "a re-enabled service admits again" tcp_ok c1 10.0.9.2 8443
ctl service del extra >/dev/null
check "a deleted service loses its chain and sets" no_chain s2
check "a deleted service's port is open again" tcp_ok c2 10.0.9.2 8443

# ---- defence in depth: ipfd holds no more addresses than the cap ----
# The store is bent behind ipfd's back (sqlite3, sekishoctl without ipfd) so it
# holds two live rights for a cap of one, as after a lowered cap or a store bug.
ctl service add small --url http://10.0.9.2:8443/ --max-usage 5 --max-interval 5 --cap 1 \
	--admin root --guard 10.0.9.2:8443 >/dev/null
small=$(sqlite3 "$T/db.sqlite" "SELECT id FROM services WHERE name = 'small'")
r_s1=$(grant alice small 10.0.1.2)
sqlite3 "$T/db.sqlite" "UPDATE services SET cap = 2 WHERE name = 'small'"
r_s2=$(ctl_quiet grant bob small 10.0.2.2 | sed -n 's/^granted right \([0-9]*\):.*/\1/p')
sqlite3 "$T/db.sqlite" "UPDATE services SET cap = 1 WHERE name = 'small'"
got=$("$PY" "$NET_HELPERS/ipc_send.py" "$T/ipfd.sock" admit "$r_s2")
check "ipfd refuses an admission that would exceed the service's cap" test "$got" = "reply 3"
check "the refused client stays shut out" refused c2 10.0.9.2 8443
ipfd_resync
check "a full sync never puts more addresses in a set than the cap" test "$(set_count "s${small}_v4")" -eq 1
check "the earliest admitted keeps the place" tcp_ok c1 10.0.9.2 8443
check "the later one is left out" refused c2 10.0.9.2 8443
ctl service del small >/dev/null

# ---- rights written straight into the store file ----
# Whoever can write the file (the store's group) can insert live rights around
# store_admit and then ask for them (ADMIT) or wait for a rebuild. ipfd
# re-checks each right in the store: its user exists under its name and is
# enabled, its service exists and is enabled, the store's live rights of the
# service are within the cap. c6 (10.0.6.2) has never been admitted.
sql() { sqlite3 -cmd ".timeout 5000" "$T/db.sqlite" "$@"; }
id_of() { sql "SELECT id FROM $1 WHERE name = '$2'"; }
forge() {   # sid user_id user_name service_name -> id of a live right for 10.0.6.2
	sql "INSERT INTO rights (sid, user_id, user_name, service_id, service_name, ip,
	     created_at, expires_at, last_seen) VALUES ('$1', $2, '$3', $(id_of services "$4"), '$4',
	     x'0a000602', unixepoch(), unixepoch() + 600, unixepoch()) RETURNING id"
}
admit_raw() { "$PY" "$NET_HELPERS/ipc_send.py" "$T/ipfd.sock" admit "$1"; }
ctl user disable dave >/dev/null
got=$(admit_raw "$(forge forged1 9999 ghost web)")
check "ipfd refuses ADMIT of a right whose user does not exist (not live)" test "$got" = "reply 2"
got=$(admit_raw "$(forge forged2 "$(id_of users dave)" dave web)")
check "ipfd refuses ADMIT of a right of a disabled user" test "$got" = "reply 2"
ctl user add frank --role user --password-file "$T/pw" >/dev/null
got=$(admit_raw "$(forge forged3 "$(id_of users frank)" root web)")
check "ipfd refuses ADMIT of a right naming another user than its id" test "$got" = "reply 2"
check "the firewall stays closed for the forged rights' address" refused c6 10.0.6.2 80
ipfd_resync
check "a rebuild leaves the forged rights out of the set" not_in_set s1_v4 10.0.6.2
check "after the rebuild the firewall is still closed for them" refused c6 10.0.6.2 80
check "ipfd logged the rights it refused" grep -q 'event=right_refused right_id=.* user_id=9999' "$T/ipfd.log"
sql "DELETE FROM rights WHERE sid LIKE 'forged%'"
# Two rights behind one address fill a cap of 2 while the set holds one address.
ctl service add pair --url http://10.0.9.2:8443/ --max-usage 5 --max-interval 5 --cap 2 \
	--admin root --guard 10.0.9.2:8443 >/dev/null
pair=$(id_of services pair)
grant alice pair 10.0.1.2 >/dev/null
grant bob pair 10.0.1.2 >/dev/null
got=$(admit_raw "$(forge forged4 "$(id_of users carol)" carol pair)")
check "ipfd refuses ADMIT when the store holds more live rights than the cap" test "$got" = "reply 3"
check "the address of the right past the cap stays shut out" refused c6 10.0.9.2 8443
ipfd_resync
check "a rebuild counts rights, not addresses, against the cap" not_in_set "s${pair}_v4" 10.0.6.2
check "the rights within the cap keep their place" tcp_ok c1 10.0.9.2 8443
sql "DELETE FROM rights WHERE sid LIKE 'forged%'"
ctl service del pair >/dev/null

# ---- garbage on the control socket ----
r_g=$(grant alice web 10.0.1.2)
before=$(table_shape)
for kind in random truncated long huge magic version type zero_right; do
	got=$(in_ns gw "$PY" "$NET_HELPERS/ipc_send.py" "$T/ipfd.sock" $kind "$r_g")
	check "control socket: $kind message closes the connection" test "$got" = closed
done
got=$(runuser -u nobody -- "$PY" "$NET_HELPERS/ipc_send.py" "$T/ipfd.sock" status)
check "control socket: another uid cannot even open the socket (mode 0660)" starts_with "$got" refused
chmod 666 "$T/ipfd.sock"
got=$(runuser -u nobody -- "$PY" "$NET_HELPERS/ipc_send.py" "$T/ipfd.sock" status)
chmod 660 "$T/ipfd.sock"
check "control socket: a peer outside the group is dropped on its credentials" test "$got" = closed
check "ipfd logged the refused peer" grep -q 'event=ctl_refused reason=peer uid=65534' "$T/ipfd.log"
check "ipfd logged the garbage" grep -q 'event=ctl_garbage' "$T/ipfd.log"
got=$("$PY" "$NET_HELPERS/ipc_send.py" "$T/ipfd.sock" admit 999999)
check "admitting an unknown right is refused (not live)" test "$got" = "reply 2"
after=$(table_shape)
check "garbage changed nothing in the kernel" test "$before" = "$after"
check "ipfd keeps serving after garbage" ipfd_serves
check "the admitted client is still served" tcp_ok c1 10.0.9.2 80

# ---- SIGHUP re-reads the hook ----
sed -i 's/^hook = forward/hook = both/' "$CONF"
ipfd_resync
check "SIGHUP: hook = both adds an input chain" nft_gw list chain inet sekisho input
check "SIGHUP: the forward chain still guards" tcp_ok c1 10.0.9.2 80
sed -i 's/^hook = both/hook = forward/' "$CONF"
ipfd_resync
check "SIGHUP: hook = forward drops the input chain" no_chain input
check "SIGHUP: an unadmitted client is still refused" refused c2 10.0.9.2 80

# ---- others changing the table: repaired at once, not at the next sync ----
sed -i 's/^sync_interval_s = 2/sync_interval_s = 3600/' "$CONF"
ipfd_resync   # from here on no periodic sync may repair the table
n=$(syncs)
r_h=$(grant bob web 10.0.2.2)
ctl right revoke "$r_h" >/dev/null
sleep 0.3
check "ipfd's own batches do not make it resync" test "$(syncs)" -eq "$n"
nft_gw flush ruleset
check "nft flush ruleset: ipfd rebuilds its table from the store at once" \
	wait_for 3 nft_gw list chain inet sekisho s1
check "the flush is logged as a change by another process" \
	grep -q 'event=table_changed by=another_process effect=sync' "$T/ipfd.log"
check "after the flush the admitted client still connects" tcp_ok c1 10.0.9.2 80
check "after the flush the others are refused again" refused c2 10.0.9.2 80
nft_gw delete table inet sekisho
check "a table deleted behind ipfd's back is rebuilt at once" wait_for 3 nft_gw list chain inet sekisho s1
r_h=$(grant bob web 10.0.2.2)
check "ipfd still admits after the rebuild" tcp_ok c2 10.0.9.2 80
check "the rebuilt table keeps earlier rights" tcp_ok c1 10.0.9.2 80
check "the rebuilt table still refuses the others" refused c6 10.0.9.2 80
nft_gw add element inet sekisho s1_v6 '{ fd00:6::2 timeout 1h }'
check "an address another process put in a set is taken out at once" \
	wait_for 3 not_in_set s1_v6 fd00:6::2
check "and its client is refused" refused c6 fd00:9::2 80
# A rebuild this large is committed with the subscription dropped (the kernel
# would make an event per element) and takes it back after.
sqlite3 "$T/db.sqlite" "UPDATE services SET cap = 5000 WHERE name = 'web';
	WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
	INSERT INTO users (id, name, role, pwhash, created_at)
	SELECT 100000 + i, printf('bulk%05d', i), 0, '-', unixepoch() FROM n;
	WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
	INSERT INTO rights (sid, user_id, user_name, service_id, service_name, ip,
	                      created_at, expires_at, last_seen)
	SELECT printf('bulk%05d', i), 100000 + i, printf('bulk%05d', i), s.id, s.name,
	       CAST(char(10, 64 + i / 127, 1 + i % 127, 2) AS BLOB), unixepoch(), unixepoch() + 600, unixepoch()
	FROM n, services s WHERE s.name = 'web'"
changed=$(grep -c 'event=table_changed' "$T/ipfd.log")
ipfd_resync
bulk_count() { nft_gw list set inet sekisho s1_v4 | grep -Eo '10\.(6[4-9]|[78][0-9])\.[0-9]+\.2' | wc -l; }
check "a rebuild of 3000 rights puts them all in the set" test "$(bulk_count)" -eq 3000
check "ipfd's own large rebuild is not taken for a change by another process" \
	test "$(grep -c 'event=table_changed' "$T/ipfd.log")" -eq "$changed"
nft_gw flush ruleset
check "after a large rebuild ipfd still sees nft flush ruleset at once" \
	wait_for 3 nft_gw list chain inet sekisho s1
check "and the rebuilt table keeps the admitted client" tcp_ok c1 10.0.9.2 80
sqlite3 "$T/db.sqlite" "UPDATE rights SET ended_at = unixepoch(), end_reason = $END_REVOKED WHERE sid LIKE 'bulk%';
	UPDATE services SET cap = 10 WHERE name = 'web'"
ipfd_resync

# ---- clean exit ----
bg_stop ipfd
check "SIGTERM: ipfd exits cleanly and removes its socket" sh -c "! test -e '$T/ipfd.sock' && grep -q 'event=stop table=kept' '$T/ipfd.log'"
tap_done
