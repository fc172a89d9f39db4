#!/bin/sh
# ipfd's full resync after its store connection is lost never opens a gap in
# the kernel: a gateway on PostgreSQL (tests/net/lib_gw.sh) has its database
# connections killed (pg_terminate_backend) ROUNDS times while an admitted
# client sends an unbroken UDP stream (a datagram every few microseconds) and
# a stranger one in bursts (tests/net/udp_stream.py) through its firewall to
# the guarded service. After each kill ipfd is asked for a full sync until one
# succeeds: it has reconnected (maybe to another server, as after a database
# failover) and rewritten its whole table from a fresh snapshot.
#
# The verdict is the firewall's own: every refused datagram makes ipfd's
# reject rule send an ICMP error back, and a counter in the gateway's output
# hook counts them per client; and counters in the forward hook just before
# and after ipfd's chains must agree for the admitted client (ICMP errors are
# rate-limited: the counters are not). An admitted address missing from its set for
# even a fraction of a millisecond (a set flushed in one kernel transaction and
# refilled in another) is counted there; the stranger's count shows the
# counter sees refusals, and the service host's own counter shows none of the
# stranger's datagrams got through while the table was rewritten.
. "${SEKISHO_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/net/lib.sh"
. "$SEKISHO_TOP/tests/net/lib_pg.sh"
. "$SEKISHO_TOP/tests/net/lib_system.sh"
. "$SEKISHO_TOP/tests/net/lib_gw.sh"
net_init
trap 'gw_cleanup; net_cleanup' EXIT

ROUNDS=${RESYNC_ROUNDS:-15}
USER_ADDR=10.0.1.2
STRANGER=10.0.1.3

expect() {   # name want got
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "want '$2', got '$3'"; fi
}
counter() {   # host table chain comment: the packets its rule counted
	in_ns "$1" nft list chain inet "$2" "$3" |
		sed -n "s/.*counter packets \([0-9]*\) .*comment \"$4\".*/\1/p"
}
full_syncs() { grep -c 'event=sync scope=all services=' "$T/ipfd.1.log"; }
sync_now() { [ "$("$PY" "$NET_HELPERS/ipc_send.py" "$T/ipfd.1.sock" sync 0)" = "reply 0" ]; }
kill_backends() {   # gateway 1's connections to the database (over TCP from 10.7.1.1)
	gw_psql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
	         WHERE client_addr = '10.7.1.1'"
}

gw_db_start && gw_add 1 2 && gw_init 1 || { not_ok "database host and a gateway"; tap_done; exit 1; }
gw_ctl 1 user add u1 --role user --password-file "$T/pw" >/dev/null
gw_service lab 2 10
check "the gateway starts on PostgreSQL" gw_start 1
out=$(gw_login 1 $USER_ADDR u1 lab)
expect "a client is admitted" 303 "${out%% *}"
check "its address reaches the guarded service" wait_for 5 gw_fw_open 1 $USER_ADDR 2

# ICMP errors the gateway sends (its reject rule) and datagrams the service
# host receives, per client. The kernel rate-limits ICMP errors (and before
# Linux 6.11 the stranger's refusals drained the same global budget), so the
# admitted client's datagrams are also counted in the forward hook just
# before ipfd's chains (priority -10) and just after: what the firewall
# refused is the difference, whatever the kernel sends back.
in_ns gw1 nft -f - <<NFT
table inet watch {
	chain out {
		type filter hook output priority 0
		ip daddr $USER_ADDR icmp type destination-unreachable counter comment "user"
		ip daddr $STRANGER icmp type destination-unreachable counter comment "stranger"
	}
	chain before {
		type filter hook forward priority -20
		ip saddr $USER_ADDR udp dport 80 counter comment "user"
		ip saddr $STRANGER udp dport 80 counter comment "stranger"
	}
	chain after {
		type filter hook forward priority 0
		ip saddr $USER_ADDR udp dport 80 counter comment "user"
		ip saddr $STRANGER udp dport 80 counter comment "stranger"
	}
}
NFT
in_ns srv nft -f - <<NFT
table inet watch {
	chain in {
		type filter hook input priority 0
		ip saddr $USER_ADDR udp dport 80 counter comment "user"
		ip saddr $STRANGER udp dport 80 counter comment "stranger"
	}
}
NFT

bg_start stream.user c1 "$PY" "$NET_HELPERS/udp_stream.py" $USER_ADDR 10.9.0.2 80 "$T/sent.user"
bg_start stream.stranger c1 "$PY" "$NET_HELPERS/udp_stream.py" $STRANGER 10.9.0.2 80 "$T/sent.stranger" 20
sleep 1
syncs0=$(full_syncs)
bad="" r=1
while [ "$r" -le "$ROUNDS" ]; do
	n=$(kill_backends)
	[ "${n:-0}" -ge 1 ] || bad="$bad round $r: no connection of the gateway to kill;"
	wait_for 20 sync_now || bad="$bad round $r: no full sync after the reconnect;"
	r=$((r + 1))
done
sleep 0.5
touch "$T/sent.user.stop" "$T/sent.stranger.stop"
wait_for 10 test -s "$T/sent.user" && wait_for 10 test -s "$T/sent.stranger"
bg_stop stream.user
bg_stop stream.stranger

if [ -z "$bad" ]; then ok "$ROUNDS times: the gateway's database connections killed, ipfd reconnects and rewrites its table"
else not_ok "$ROUNDS times: the gateway's database connections killed, ipfd reconnects and rewrites its table" "$bad"; fi
check "ipfd logged a full sync for each (from a fresh snapshot)" test "$(( $(full_syncs) - syncs0 ))" -ge "$ROUNDS"
check "the admitted client kept sending throughout" test "$(cat "$T/sent.user")" -gt 50000
expect "not one of its datagrams was refused by the firewall across the resyncs" 0 "$(counter gw1 watch out user)"
fw_in=$(counter gw1 watch before user)
check "... nor dropped: the forward hook passed on all it got ($fw_in)" \
	test "${fw_in:-0}" -gt 0 -a "$fw_in" = "$(counter gw1 watch after user)"
check "its datagrams reached the service" test "$(counter srv watch in user)" -gt 0
check "the stranger's datagrams were refused (the counter sees refusals)" test "$(counter gw1 watch out stranger)" -gt 0
check "... and the forward hook's counters see them go in and not out" \
	test "$(counter gw1 watch before stranger)" -gt 0 -a "$(counter gw1 watch after stranger)" = 0
expect "and none of them got through while the table was rewritten" 0 "$(counter srv watch in stranger)"
echo "# datagrams sent: user $(cat "$T/sent.user"), stranger $(cat "$T/sent.stranger");" \
	"received by the service: user $(counter srv watch in user), stranger $(counter srv watch in stranger)"
tap_done
