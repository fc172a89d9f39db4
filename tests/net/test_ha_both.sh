#!/bin/sh
# Two failures at the same moment: the database primary killed (kill -9 of the
# pg_auto_failover node, tests/net/lib_pgaf.sh) AND the master gateway's links
# down (tests/net/lib_ha.sh: two gateways sharing the clients' address with
# keepalived). Gateway 2 is then the only gateway left, and its database is
# failing over: its --store check fails, which only lowers its priority, so it
# still takes the addresses (dist/keepalived). Asserted, every trial:
#   - gateway 2 takes both addresses and keeps them throughout the database's
#     failover, and the admitted client's traffic comes back (its kernel set
#     holds the right; nothing needs the database);
#   - its cookie still opens gateway 2's door (cid's cache, then the new primary);
#   - a never-admitted client probing every 100 ms never connects;
#   - new logins at gateway 2 are refused with 503 while there is no primary
#     (or get no answer while no gateway holds the address), then admitted by
#     the new primary without any restart;
#   - the admitted right is still live (synchronous replication);
#   - afterwards gateway 1's links come back, the old primary rejoins as
#     standby, and gateway 1 takes the addresses back.
# Measured, not asserted: the admitted client's traffic downtime (one TCP
# connection every 100 ms, 300 ms timeout) and the admission downtime (from
# the first refused login to the first admitted one, a login every 0.2 s).
#
# HA_TRIALS (default 1) trials, alternating the primary; HA_REPORT=FILE writes
# the figures (mean and max, bench/ha.sh).
. "${SEKISHO_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/net/lib.sh"
. "$SEKISHO_TOP/tests/net/lib_pg.sh"
. "$SEKISHO_TOP/tests/net/lib_system.sh"
. "$SEKISHO_TOP/tests/net/lib_gw.sh"
. "$SEKISHO_TOP/tests/net/lib_pgaf.sh"
. "$SEKISHO_TOP/tests/net/lib_ha.sh"
net_init
trap 'net_cleanup' EXIT
command -v pg_autoctl >/dev/null || { echo "1..0 # SKIP pg_autoctl missing (make deps)"; exit 0; }
command -v /usr/sbin/keepalived >/dev/null || { echo "1..0 # SKIP keepalived missing (make deps)"; exit 0; }

TRIALS=${HA_TRIALS:-1}
USER_ADDR=10.0.9.2
STRANGER=10.0.9.3
NEWCOMER=10.0.9.4   # logs in as u2 over and over

expect() {   # name want got
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "want '$2', got '$3'"; fi
}
ms() { date +%s%3N; }
live() { gw_psql "SELECT count(*) FROM rights r JOIN users u ON u.id = r.user_id
                  WHERE r.ended_at IS NULL AND u.name = 'u1'"; }
only_master() { ha_master "$1" && ! ha_master "$((3 - $1))"; }
set_has() {   # n addr: gateway n's kernel set for lab holds addr
	in_ns "gw$1" nft list set inet sekisho "s${LAB}_v4" 2>/dev/null | grep -Eq "(^|[ {,])$2([ ,}]|$)"
}
resumed() { [ "$(awk -v s=$USER_ADDR '$2 == s { v = $3 } END { print v + 0 }' "$T/probe")" = 1 ]; }
# The longest run of the admitted address's failed attempts, in ms; -1: never back.
downtime() {
	awk -v s=$USER_ADDR '$2 != s { next }
		$3 == 0 && f == 0 { f = $1 }
		$3 == 1 && f != 0 { if ($1 - f > m) m = $1 - f; f = 0 }
		END { print (f != 0) ? -1 : m + 0 }' "$T/probe"
}
stranger_in() { awk -v s=$STRANGER '$2 == s && $3 == 1' "$T/probe" | wc -l; }

# ---- the system ----
check "pg_auto_failover: monitor, primary, synchronous standby" paf_start
gw_add 1 && gw_add 2 && gw_init 1 && ha_lan ||
	{ not_ok "two gateways on the two nodes, their LAN"; tap_done; exit 1; }
in_ns c9 ip addr add $NEWCOMER/24 dev lanc
for u in u1 u2; do gw_ctl 1 user add "$u" --role user --password-file "$T/pw" >/dev/null; done
gw_service lab 2 10
LAB=$(gw_psql "SELECT id FROM services WHERE name = 'lab'")
check "gateway 1 starts on the multi-host conninfo" gw_start 1
check "gateway 2 starts on it too" gw_start 2
ha_start 1 150
ha_start 2 100
check "keepalived makes gateway 1 master of both addresses" wait_for 20 only_master 1
out=$(gw_login 9 $USER_ADDR u1 lab)
expect "a user logs in through the virtual address" 303 "${out%% *}"
COOKIE=$(gw_enter 1 $USER_ADDR "${out#* }")
check "the handoff gives a cookie" test -n "$COOKIE"
check "the admitted address reaches the service" wait_for 5 gw_fw_open 9 $USER_ADDR 2
check "the standby's kernel set holds it" wait_for 5 set_has 2 $USER_ADDR
LIVE0=$(live)

# A login of u2 every 0.2 s through the virtual address: "MS CODE" ("000": no answer).
login_loop() {
	while [ ! -e "$T/stop" ]; do
		t=$(ms)
		# A login in flight when gateway 1 goes is lost with it: 3 s, then the next.
		out=$(GW_LOGIN_TIMEOUT=3 gw_login 9 $NEWCOMER u2 lab)
		echo "$t ${out%% *}"
		sleep 0.2
	done >"$T/logins"
}
# From gateway 2's takeover on, every 0.1 s: does it still hold both addresses?
holds_loop() {
	while [ ! -e "$T/stop" ]; do
		if ha_master 2; then echo yes; else echo no; fi
		sleep 0.1
	done >"$T/holds"
}
admitted_since() { awk -v t="$1" '$1 > t && $2 == 303' "$T/logins" | grep -q .; }
# After t: the answers before the first admission are only 503 or none, with a 503 among them.
refused_then_admitted() {   # t
	awk -v t="$1" '$1 <= t { next } $2 == 303 { done = 1; exit }
		$2 == 503 { r++ } $2 != 503 && $2 != "000" { bad = $2 }
		END { exit !(done && r > 0 && bad == "") }' "$T/logins"
}
admission_gap() {   # t: from the first refused login after t to the first admitted one, ms
	awk -v t="$1" '$1 <= t { next } $2 != 303 && f == 0 { f = $1 } $2 == 303 && f != 0 { print $1 - f; exit }' "$T/logins"
}

trial() {   # prints "TRAFFIC_MS ADMISSION_MS", or "fail: why"
	old=$(paf_primary)
	new=$( [ "$old" = a ] && echo b || echo a)
	rm -f "$T/stop" "$T/probe" "$T/probe.stop"
	bg_start probe c9 "$PY" "$NET_HELPERS/probe.py" 10.9.0.2 80 120 "$T/probe" $USER_ADDR $STRANGER
	wait_for 5 resumed || { bg_stop probe; echo "fail: no traffic before"; return; }
	login_loop & lp=$!
	sleep 1
	t0=$(ms)
	paf_kill "$old" & kp=$!
	ha_link 1 down
	wait $kp
	why=""
	hp=""
	if ! wait_for 15 only_master 2; then why="gateway 2 did not take both addresses"
	else
		holds_loop & hp=$!
		if ! { sleep 0.5; wait_for 10 resumed; }; then why="the admitted traffic did not come back"
		elif ! wait_for 60 paf_primary_is "$new"; then why="the monitor did not promote $new"
		elif ! wait_for 30 admitted_since "$t0"; then why="no login admitted after the failover"
		fi
	fi
	door=$(gw_door 2 lab $USER_ADDR "$COOKIE")
	touch "$T/stop" "$T/probe.stop"
	wait $lp $hp
	grep -q no "$T/holds" && why="$why; gateway 2 gave the addresses up while the database failed over"
	bg_stop probe
	cp "$T/logins" "$T/logins.$t0"
	cp "$T/probe" "$T/probe.$t0"
	refused_then_admitted "$t0" || why="$why; logins after the failure: $(awk -v t="$t0" '$1 > t { print $2 }' "$T/logins" | uniq -c | tr -s ' \n' ' ')"
	s=$(stranger_in)
	l=$(live)
	ha_link 1 up
	paf_run "$old"
	wait_for 90 paf_secondary_ok || why="$why; $old did not rejoin as standby"
	wait_for 30 only_master 1 || why="$why; gateway 1 did not take the addresses back"
	[ "$s" = 0 ] || why="$why; the stranger connected $s times"
	[ "$door" = 204 ] || why="$why; the cookie at gateway 2 gave $door (a new login)"
	[ "$l" = "$LIVE0" ] || why="$why; live rights $LIVE0 before, $l after"
	if [ -n "$why" ]; then echo "fail: ${why#; }"; else echo "$(downtime) $(admission_gap "$t0")"; fi
}

traffic="" admission="" bad=""
t=1
while [ "$t" -le "$TRIALS" ]; do
	r=$(trial)
	case $r in
	fail:*) bad="$bad trial $t: ${r#fail: };" ;;
	*)      traffic="$traffic ${r%% *}" admission="$admission ${r#* }" ;;
	esac
	t=$((t + 1))
done
name="database primary killed and gateway 1's links down at once: gateway 2 carries the admitted user (no new login, no stranger through, no right lost), refuses logins with 503 until the new primary, then admits"
if [ -z "$bad" ]; then ok "$name"; else not_ok "$name" "$bad"; fi
stat_ms() { tr ' ' '\n' | awk 'NF { n++; s += $1; if ($1 > m) m = $1 }
	END { if (n) printf "n=%d mean=%.2fs max=%.2fs", n, s / n / 1000, m / 1000 }'; }
f1=$(echo "$traffic" | stat_ms) f2=$(echo "$admission" | stat_ms)
echo "# admitted traffic downtime: $f1; admission downtime: $f2"
[ -n "${HA_REPORT:-}" ] && {
	echo "both (database primary killed + gateway link down), admitted traffic downtime: $f1"
	echo "both (database primary killed + gateway link down), admission downtime: $f2; live rights $LIVE0 before, $(live) after"
} >>"$HA_REPORT"
expect "the admitted right is still live at the end" "$LIVE0" "$(live)"
tap_done
