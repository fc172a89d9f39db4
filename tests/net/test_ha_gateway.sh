#!/bin/sh
# Two gateways on one PostgreSQL sharing the clients' address with keepalived
# (tests/net/lib_ha.sh): gateway 1 is master, gateway 2 a warm standby whose
# ipfd and cid follow the store. Each trial fails gateway 1 one way while a
# client probes the service through the virtual address, every 100 ms from
# an admitted address and from one never admitted:
#   link     gateway 1's LAN ports go down (the host is gone)
#   procs    ipfd, authd and cid of gateway 1 are killed (kill -9); keepalived's
#            check (dist/keepalived/sekisho-check.sh) hands the addresses over
#   planned  keepalived on gateway 1 is stopped (maintenance: it gives the
#            addresses up at once, the daemons stay up until they are drained)
#   keepalived  keepalived on gateway 1 killed (kill -9 of all its
#            processes): it sends no last advert and leaves the addresses on
#            gateway 1; gateway 2 takes them when the adverts stop. Then
#            gateway 1's keepalived is started again while the probe goes on:
#            it takes the addresses back (preempt), which must not break the user.
# After each: gateway 2 holds the addresses, the admitted client's traffic
# came back, its cookie still opens the door at gateway 2 (no new login), its
# right is still live, and the stranger never connected. Last, gateway 1 cut
# off from the database: its check fails and keepalived hands over.
#
# HA_TRIALS (default 1) trials of each kind; HA_REPORT=FILE writes the
# downtimes (mean and max, bench/ha.sh). No timing is asserted here.
. "${SEKISHO_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/net/lib.sh"
. "$SEKISHO_TOP/tests/net/lib_pg.sh"
. "$SEKISHO_TOP/tests/net/lib_system.sh"
. "$SEKISHO_TOP/tests/net/lib_gw.sh"
. "$SEKISHO_TOP/tests/net/lib_ha.sh"
net_init
trap 'gw_cleanup; net_cleanup' EXIT
command -v /usr/sbin/keepalived >/dev/null || { echo "1..0 # SKIP keepalived missing (make deps)"; exit 0; }

TRIALS=${HA_TRIALS:-1}
USER_ADDR=10.0.9.2
STRANGER=10.0.9.3

expect() {   # name want got
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "want '$2', got '$3'"; fi
}
live() { gw_psql "SELECT count(*) FROM rights WHERE ended_at IS NULL"; }
set_has() {   # n addr: gateway n's kernel set for lab holds addr
	in_ns "gw$1" nft list set inet sekisho "s${LAB}_v4" 2>/dev/null | grep -Eq "(^|[ {,])$2([ ,}]|$)"
}
stranger_shut() { ! gw_fw_open 9 $STRANGER 2; }
only_master() { ha_master "$1" && ! ha_master "$((3 - $1))"; }

# The probe's log: the admitted address's last attempt connected.
resumed() { [ "$(awk -v s=$USER_ADDR '$2 == s { v = $3 } END { print v + 0 }' "$T/probe")" = 1 ]; }
# The longest run of failed attempts of the admitted address, in ms (from its
# first failure to the next success), among attempts from FROM to TO (unix
# ms); -1 when it never came back.
downtime() {   # [from [to]]
	awk -v s=$USER_ADDR -v a="${1:-0}" -v b="${2:-0}" '$2 != s || $1 < a || (b > 0 && $1 >= b) { next }
		$3 == 0 && f == 0 { f = $1 }
		$3 == 1 && f != 0 { if ($1 - f > m) m = $1 - f; f = 0 }
		END { print (f != 0) ? -1 : m + 0 }' "$T/probe"
}
stranger_in() { awk -v s=$STRANGER '$2 == s && $3 == 1' "$T/probe" | wc -l; }

# ---- the system ----
gw_db_start && gw_add 1 && gw_add 2 && gw_init 1 && ha_lan ||
	{ not_ok "database host, two gateways, their LAN"; tap_done; exit 1; }
gw_ctl 1 user add u1 --role user --password-file "$T/pw" >/dev/null
gw_service lab 2 10
LAB=$(gw_psql "SELECT id FROM services WHERE name = 'lab'")
check "gateway 1 starts" gw_start 1
check "gateway 2 starts on the same database" gw_start 2
check "the check script says healthy on gateway 2" \
	in_ns gw2 "$SEKISHO_TOP/dist/keepalived/sekisho-check.sh"
ha_start 1 150
ha_start 2 100
check "keepalived makes gateway 1 master of both addresses" wait_for 20 only_master 1

# ---- a user admitted through the virtual address ----
out=$(gw_login 9 $USER_ADDR u1 lab)
expect "the user logs in through the virtual address" 303 "${out%% *}"
COOKIE=$(gw_enter 1 $USER_ADDR "${out#* }")
check "the handoff gives a cookie" test -n "$COOKIE"
check "the admitted address reaches the service through the virtual address" \
	wait_for 5 gw_fw_open 9 $USER_ADDR 2
check "the stranger does not" stranger_shut
check "the standby's kernel set already holds the admitted address" wait_for 5 set_has 2 $USER_ADDR
LIVE0=$(live)

fail_gw1() {   # kind
	case $1 in
	link)    ha_link 1 down ;;
	procs)   for p in ipfd authd cid; do kill -9 "$(cat "$T/$p.1.pid")"; done ;;
	planned) ha_stop 1 TERM ;;
	keepalived)   # the VRRP child first: it must not see its parent go and shut down cleanly
		/bin/kill -KILL $(cat "$T/ka.1.vrrp.pid" "$T/ka.1.check.pid" "$T/ka.1.main.pid" 2>/dev/null)
		bg_stop ka.1
		# The orphaned child may stay a zombie here (nobody reaps it), which
		# keepalived would take for a running daemon; a host's init reaps it.
		rm -f "$T/ka.1.vrrp.pid" "$T/ka.1.check.pid" "$T/ka.1.main.pid" ;;
	esac
}
restore_gw1() {   # kind
	case $1 in
	link)    ha_link 1 up ;;
	procs)   for p in ipfd authd cid; do bg_stop "$p.1"; done; gw_start 1 ;;
	planned|keepalived) ha_start 1 150 ;;
	esac
	wait_for 30 only_master 1 && wait_for 5 gw_fw_open 9 $USER_ADDR 2
}
# Gateway 2 holds both addresses (with keepalived killed, gateway 1 may keep its copy).
took_over() {   # kind
	if [ "$1" = keepalived ]; then ha_master 2; else only_master 2; fi
}

# One trial: prints the downtime in ms, or "fail: why". For keepalived, two
# figures: the takeover's downtime and that of gateway 1's keepalived restart
# (the probe goes on across both).
trial() {   # kind
	rm -f "$T/probe" "$T/probe.stop"
	bg_start probe c9 "$PY" "$NET_HELPERS/probe.py" 10.9.0.2 80 90 "$T/probe" $USER_ADDR $STRANGER
	wait_for 5 resumed || { bg_stop probe; echo "fail: no traffic before"; return; }
	fail_gw1 "$1"
	if ! wait_for 15 took_over "$1"; then why="gateway 2 did not take both addresses"
	elif ! { sleep 0.5; wait_for 10 resumed; }; then why="the admitted traffic did not come back"
	else why=""; fi
	door=$(gw_door 2 lab $USER_ADDR "$COOKIE")
	l=$(live)
	t1=$(date +%s%3N)
	if [ "$1" = keepalived ]; then
		restore_gw1 "$1" || why="$why; gateway 1 did not come back as master"
		sleep 1
		wait_for 10 resumed || why="$why; the admitted traffic did not come back after the restart"
	fi
	touch "$T/probe.stop"
	bg_stop probe
	d=$(downtime 0 "$t1")
	[ "$1" = keepalived ] && d="$d $(downtime "$t1")"
	s=$(stranger_in)
	[ "$1" = keepalived ] || restore_gw1 "$1" || why="$why; gateway 1 did not come back as master"
	[ "$s" = 0 ] || why="$why; the stranger connected $s times"
	[ "$door" = 204 ] || why="$why; the cookie at gateway 2 gave $door (a new login)"
	[ "$l" = "$LIVE0" ] || why="$why; live rights $LIVE0 before, $l after"
	if [ -n "$why" ]; then echo "fail: ${why#; }"; else echo "$d"; fi
}

stat_ms() { tr ' ' '\n' | awk 'NF { n++; s += $1; if ($1 > m) m = $1 }
	END { if (n) printf "n=%d mean=%.2fs max=%.2fs", n, s / n / 1000, m / 1000 }'; }

for kind in ${HA_KINDS:-link procs planned keepalived}; do
	times="" times2="" bad=""
	t=1
	while [ "$t" -le "$TRIALS" ]; do
		r=$(trial "$kind")
		case $r in
		fail:*) bad="$bad trial $t: ${r#fail: };" ;;
		*)      times="$times ${r%% *}"; [ "$kind" = keepalived ] && times2="$times2 ${r#* }" ;;
		esac
		t=$((t + 1))
	done
	name="gateway 1 fails ($kind): gateway 2 carries the admitted user with no new login, no stranger through, no right lost"
	[ "$kind" = keepalived ] && name="$name; gateway 1's keepalived restarted takes the addresses back without breaking the user"
	if [ -z "$bad" ]; then ok "$name"; else not_ok "$name" "$bad"; fi
	fig=$(echo "$times" | stat_ms)
	echo "# downtime ($kind): $fig"
	[ -n "${HA_REPORT:-}" ] && echo "gateway $kind: $fig" >>"$HA_REPORT"
	if [ "$kind" = keepalived ]; then
		fig=$(echo "$times2" | stat_ms)
		echo "# downtime (keepalived restarted on gateway 1, it takes the addresses back): $fig"
		[ -n "${HA_REPORT:-}" ] && echo "gateway keepalived restarted: $fig" >>"$HA_REPORT"
	fi
done

# ---- the master cut off from the database hands over ----
unhealthy() { ! in_ns gw1 "$SEKISHO_TOP/dist/keepalived/sekisho-check.sh"; }
gw_cut 1
check "gateway 1 cut off from the database: its check script says unhealthy" wait_for 20 unhealthy
check "and keepalived hands both addresses to gateway 2" wait_for 20 only_master 2
check "the admitted user goes on through gateway 2" wait_for 5 gw_fw_open 9 $USER_ADDR 2
check "the stranger still does not" stranger_shut
gw_uncut 1
check "back on the database, gateway 1 is master again" wait_for 60 only_master 1
check "the admitted right is still live at the end" test "$(live)" = "$LIVE0"
tap_done
