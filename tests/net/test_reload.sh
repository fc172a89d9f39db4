#!/bin/sh
# Signals: SIGTERM stops a daemon at once, whatever it was waiting for; SIGHUP
# rereads the config file, applies what can change live and names each key
# that waits for a restart. One namespace "gw" with ipfd, cid and authd on
# loopback, and a store made by sekishoctl.
. "${SEKISHO_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/net/lib.sh"
net_init

B=$SEKISHO_BUILD
CONF=$T/sekisho.conf
STOPS=100               # SIGTERM rounds against ipfd
STOP_BOUND_MS=1000      # a lost wake-up waits for the next sync instead: an hour here
SYNC_S=3600
CID=http://127.0.0.1:8081
PORTAL=http://127.0.0.1:8080
CID_MON=http://127.0.0.1:9081     # monitor listeners: /healthz
AUTHD_MON=http://127.0.0.1:9080

# The config, with extra lines under [cid] (host_map, threads ...).
write_conf() {   # extra [cid] lines
	cat >"$CONF" <<EOF
[db]
path = $T/db.sqlite
[authd]
listen = 127.0.0.1:8080
base_url = $PORTAL
web_dir = $SEKISHO_TOP/web
[ipfd]
socket = $T/ipfd.sock
group = root
hook = forward
sync_interval_s = $SYNC_S
enabled = off
[cid]
listen = 127.0.0.1:8081
trusted_proxies = 127.0.0.1
$1
EOF
}
write_conf ""
printf 'root-password-1\n' >"$T/pw"
"$B/sekishoctl" -f "$CONF" init --root-password-file "$T/pw" >/dev/null
"$B/sekishoctl" -f "$CONF" service add lab --url "http://lab.test/" --max-usage 60 --max-interval 10 \
	--cap 10 --admin root >/dev/null
# More services make each resync longer: a wider window for a signal to land in.
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
	"$B/sekishoctl" -f "$CONF" service add "s$i" --url "http://10.0.9.2:$((8000 + i))/" --max-usage 60 \
		--max-interval 10 --cap 10 --admin root >/dev/null
done
host_add gw

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# 0 when process pid ends within STOP_BOUND_MS of SIGTERM. The SIGTERM
# follows a SIGHUP, so it often lands while ipfd rereads and resyncs: after
# its loop looked at the flags and before it waits again.
stops_in_bound() {   # pid
	kill -HUP "$1"
	sleep 0.00$((round % 10))
	deadline=$(( $(now_ms) + STOP_BOUND_MS ))
	kill -TERM "$1"
	while kill -0 "$1" 2>/dev/null; do
		[ "$(now_ms)" -ge "$deadline" ] && return 1
		sleep 0.01
	done
}
ipfd_up() {
	rm -f "$T/ipfd.sock"
	bg_start ipfd gw "$B/ipfd" -d -f "$CONF"
	wait_for 5 test -S "$T/ipfd.sock"
}
reloads() { grep -c 'event=reload result=ok file=' "$T/$1.log"; }
more_reloads() { [ "$(reloads "$1")" -gt "$2" ]; }
hup() {   # name: SIGHUP, then wait for its reload line
	n=$(reloads "$1")
	kill -HUP "$(cat "$T/$1.pid")"
	wait_for 5 more_reloads "$1" "$n"
}

# ---- ipfd: SIGTERM during a long sync interval ----
late=0 round=0
while [ $round -lt $STOPS ]; do
	round=$((round + 1))
	ipfd_up || { late=-1; break; }
	stops_in_bound "$(cat "$T/ipfd.pid")" || late=$((late + 1))
	bg_stop ipfd KILL
done
check "SIGTERM stops ipfd within $STOP_BOUND_MS ms, $STOPS times out of $STOPS (late: $late)" \
	[ "$late" -eq 0 ]

# ---- ipfd: SIGHUP ----
ipfd_up
sed -i "s/^group = root/group = daemon/; s/^hook = forward/hook = input/" "$CONF"
hup ipfd
check "ipfd's SIGHUP names ipfd.group, which waits for a restart" \
	grep -q 'event=reload result=needs_restart keys=ipfd.group ' "$T/ipfd.log"
check "ipfd's SIGHUP applies the new hook at once" \
	wait_for 5 in_ns gw nft list chain inet sekisho input
bg_stop ipfd

# ---- cid: host_map and a restart key ----
write_conf ""
bg_start cid gw "$B/cid" -d -f "$CONF"
cid_status() {   # Host header -> HTTP status of a check without a cookie, asked as the proxy
	in_ns gw curl -s -o /dev/null -w '%{http_code}' --max-time 2 -H "Host: $1" "$CID/_sekisho/auth"
}
wait_for 5 in_ns gw curl -sf -o /dev/null "$CID_MON/healthz"
check "before SIGHUP cid knows no host lab.test (400)" [ "$(cid_status lab.test)" = 400 ]
write_conf "host_map = lab.test=lab
threads = 3"
hup cid
check "after SIGHUP cid maps host lab.test to lab (401: no cookie)" [ "$(cid_status lab.test)" = 401 ]
check "cid's SIGHUP names cid.threads, which waits for a restart" \
	grep -q 'event=reload result=needs_restart keys=cid.threads ' "$T/cid.log"
echo "host_map = broken" >>"$CONF"
kill -HUP "$(cat "$T/cid.pid")"
check "a config that no longer loads is refused with file:line, the old one stays" \
	wait_for 5 grep -q "event=reload result=failed file=$CONF error=\"$CONF:[0-9]*: " "$T/cid.log"
check "... and lab.test still maps to lab" [ "$(cid_status lab.test)" = 401 ]
bg_stop cid

# ---- authd: a restart key ----
write_conf ""
bg_start authd gw "$B/authd" -d -f "$CONF"
wait_for 10 in_ns gw curl -sf -o /dev/null "$AUTHD_MON/healthz"
sed -i "s/^listen = 127.0.0.1:8080/listen = 127.0.0.1:8090/" "$CONF"
hup authd
check "authd's SIGHUP names authd.listen, which waits for a restart" \
	grep -q 'event=reload result=needs_restart keys=authd.listen ' "$T/authd.log"
check "... and authd still answers where it listened" in_ns gw curl -sf -o /dev/null "$PORTAL/"
bg_stop authd

tap_done
