#!/bin/sh
# The whole of sekisho on one machine, in network namespaces ("make demo").
#
#   this host (the client)          gateway namespace             service namespace
#   198.18.1.1 ---- veth ---------- 198.18.1.2  authd :8080       nginx, auth_request to cid
#                                    ipfd (nftables, forward) ---- 198.18.2.2:80  "lab"  (cap 2)
#                                    cid 198.18.2.1:8081           198.18.2.3:80  "wiki" (cap 3)
#                                    monitor 127.0.0.1:9080/9081
#
# Exposure (docs/security.md): the host reaches the gateway itself only at the
# portal (:8080); cid's port answers only the service side's proxies; metrics
# and health stay on the gateway's loopback. A table of the demo's own
# (inet demo_exposure) enforces it beside ipfd's.
#
# The host reaches the services only through the gateway's forward hook, so
# the firewall is real: before login the services refuse the connection.
# The daemons run as the units in dist/ run them: each as its own user
# (sekisho-authd, sekisho-cid, sekisho-ipfd, made with systemd-sysusers from
# dist/sekisho.sysusers if missing; they stay), with its groups, the units'
# capabilities (CAP_NET_ADMIN for ipfd, nothing for the others) and UMask.
#
# Usage (as root): sh dist/demo.sh BUILD_DIR
#   Stays up until Ctrl-C or SIGTERM, then removes every namespace, link,
#   route and process it made. Leftovers of an interrupted run are removed
#   at start.
# Environment:
#   SEKISHO_DEMO_SMOKE=1    run the flow once with curl, print the result, exit
#                           (0 when it worked)
#   SEKISHO_DEMO_PREFIX     names of namespaces and the host link (default skdemo)
#   SEKISHO_DEMO_NET        third octet of the host link's 198.18.N.0/24; the
#                           service side is N+1 (default 1)
set -eu

B=$(cd "${1:-build}" && pwd)
TOP=$(cd "$(dirname "$0")/.." && pwd)
P=${SEKISHO_DEMO_PREFIX:-skdemo}
N=${SEKISHO_DEMO_NET:-1}
RUN=/run/sekisho-$P
GW=$P-gw SRV=$P-srv HOSTIF=${P}0
NET=198.18.$N SNET=198.18.$((N + 1))
HOST_IP=$NET.1 GW_IP=$NET.2 GW_SIP=$SNET.1 LAB_IP=$SNET.2 WIKI_IP=$SNET.3
PORTAL=http://$GW_IP:8080
PW_ROOT=demo-root-pw PW_ADMIN=demo-admin-pw PW_USER=demo-user-pw

say() { printf '%s\n' "$*"; }
die() { say "demo: $*" >&2; exit 1; }

# Removes whatever a run with this prefix made; safe to call any number of times.
cleanup() {
	set +e
	for f in "$RUN"/*.pid; do
		[ -f "$f" ] || continue
		case $f in */demo.pid) continue ;; esac
		kill -TERM "$(cat "$f")" 2>/dev/null
	done
	i=0
	while [ $i -lt 30 ] && [ -n "$(ip netns pids "$GW" 2>/dev/null)$(ip netns pids "$SRV" 2>/dev/null)" ]; do
		sleep 0.1
		i=$((i + 1))
	done
	for ns in "$GW" "$SRV"; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
	done
	ip link del "$HOSTIF" 2>/dev/null
	rm -rf "$RUN"
	return 0
}

# A live (not zombie) process running this script.
demo_running() {   # pid
	[ -r "/proc/$1/stat" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat")" != Z ] &&
		grep -qa 'demo\.sh' "/proc/$1/cmdline"
}

preflight() {
	[ "$(id -u)" = 0 ] || die "needs root (network namespaces, nftables)"
	for b in authd ipfd cid sekishoctl; do
		[ -x "$B/$b" ] || die "$B/$b missing: run 'make' first"
	done
	for t in ip nft nginx curl setpriv systemd-sysusers; do
		command -v "$t" >/dev/null || die "$t missing: run 'make deps'"
	done
	if [ -f "$RUN/demo.pid" ] && demo_running "$(cat "$RUN/demo.pid")"; then
		die "a demo is already running (pid $(cat "$RUN/demo.pid")); stop it first"
	fi
	if [ -d "$RUN" ] || ip netns list | grep -q "^$P-"; then
		say "demo: removing leftovers of an earlier run"
		cleanup
	fi
}

topology() {
	ip netns add "$GW"
	ip netns add "$SRV"
	ip -n "$GW" link set lo up
	ip -n "$SRV" link set lo up
	ip link add "$HOSTIF" type veth peer name to-host netns "$GW"
	ip addr add "$HOST_IP/24" dev "$HOSTIF"
	ip link set "$HOSTIF" up
	ip -n "$GW" addr add "$GW_IP/24" dev to-host
	ip -n "$GW" link set to-host up
	ip link add to-srv netns "$GW" type veth peer name to-gw netns "$SRV"
	ip -n "$GW" addr add "$GW_SIP/24" dev to-srv
	ip -n "$GW" link set to-srv up
	ip -n "$SRV" addr add "$LAB_IP/24" dev to-gw
	ip -n "$SRV" addr add "$WIKI_IP/24" dev to-gw
	ip -n "$SRV" link set to-gw up
	ip -n "$SRV" route add default via "$GW_SIP"
	ip route add "$SNET.0/24" via "$GW_IP" dev "$HOSTIF"
	ip netns exec "$GW" sysctl -qw net.ipv4.ip_forward=1
}

config() {
	cat >"$RUN/sekisho.conf" <<EOF
; written by dist/demo.sh; everything else is the default (sekisho.conf.example)
[db]
path = $RUN/lib/sekisho.db
[authd]
listen = $GW_IP:8080
base_url = $PORTAL
web_dir = $TOP/web
sweep_interval_s = 5
[ipfd]
socket = $RUN/run/ipfd.sock
group = sekisho-ctl
hook = forward
[cid]
listen = $GW_SIP:8081
trusted_proxies = $LAB_IP,$WIKI_IP
EOF
}

# What the gateway itself answers: the portal to clients, cid to the proxies.
# Monitoring listens on loopback (monitor_listen) and needs no rule.
exposure() {
	ip netns exec "$GW" nft -f - <<EOF
table inet demo_exposure {
	chain input {
		type filter hook input priority 0; policy accept;
		ct state established,related accept
		iifname "to-host" tcp dport 8080 accept
		iifname "to-host" meta l4proto icmp accept
		iifname "to-host" reject
		iifname "to-srv" ip saddr { $LAB_IP, $WIKI_IP } tcp dport 8081 accept
		iifname "to-srv" tcp dport 8081 reject
	}
}
EOF
}

ctl() { "$B/sekishoctl" -f "$RUN/sekisho.conf" "$@"; }

# The users and groups of dist/sekisho.sysusers, and the store's and the
# socket's directories as dist/sekisho.tmpfiles makes them.
accounts() {
	systemd-sysusers "$TOP/dist/sekisho.sysusers" >/dev/null
	install -d -o root -g sekisho -m 2770 "$RUN/lib"
	install -d -o sekisho-ipfd -g sekisho-ctl -m 2750 "$RUN/run"
}

# A command prefix that runs a daemon as its unit does.
as_unit() {   # authd|cid|ipfd
	caps=-all
	[ "$1" != ipfd ] || caps=-all,+net_admin
	printf 'setpriv --reuid sekisho-%s --regid sekisho-%s --init-groups --no-new-privs ' "$1" "$1"
	printf -- '--bounding-set %s --inh-caps %s' "$caps" "$caps"
	[ "$1" != ipfd ] || printf -- ' --ambient-caps %s' "$caps"
}

store() {
	printf '%s\n' "$PW_ROOT" >"$RUN/pw.root"
	printf '%s\n' "$PW_ADMIN" >"$RUN/pw.admin"
	printf '%s\n' "$PW_USER" >"$RUN/pw.user"
	ctl init --root-password-file "$RUN/pw.root" >/dev/null
	ctl user add admin --role admin --password-file "$RUN/pw.admin" >/dev/null
	for u in alice bob carol dave; do
		ctl user add "$u" --role user --password-file "$RUN/pw.user" >/dev/null
	done
	# ipfd is not up yet: sekishoctl says so, ipfd reads the services at start.
	ctl service add lab --url "http://$LAB_IP/" --max-usage 10 --max-interval 3 --cap 2 \
		--admin admin --guard "$LAB_IP:80" >/dev/null 2>&1
	ctl service add wiki --url "http://$WIKI_IP/" --max-usage 30 --max-interval 5 --cap 3 \
		--admin admin --guard "$WIKI_IP:80" >/dev/null 2>&1
	rm -f "$RUN"/pw.*
}

# The demo service: static pages with SSI, behind the sekisho door.
site() {
	for s in lab wiki; do
		mkdir -p "$RUN/www/$s"
		cat >"$RUN/www/$s/index.html" <<EOF
<!doctype html>
<html><head><meta charset="utf-8"><title>$s</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>$s</h1>
<p>Welcome, <b><!--# echo var="http_x_remote_user" default="?" --></b>.
You passed the gateway's firewall and the cookie check at this door.</p>
<p>Your access ends in <!--# echo var="http_x_sekisho_remaining" default="?" --> s,
or earlier when you are idle too long.</p>
<p><a href="$PORTAL/me">Your access rights</a> (release this one there).</p>
</body></html>
EOF
	done
	mkdir -p "$RUN/nginx"
	{
		cat <<EOF
daemon off;
worker_processes 1;
pid $RUN/nginx.pid.nginx;
error_log $RUN/nginx-error.log warn;
events { worker_connections 1024; }
http {
	include $TOP/dist/nginx/sekisho-log.conf;
	access_log $RUN/nginx-access.log sekisho_door;
	client_body_temp_path $RUN/nginx/body;
	proxy_temp_path $RUN/nginx/proxy;
	fastcgi_temp_path $RUN/nginx/fastcgi;
	uwsgi_temp_path $RUN/nginx/uwsgi;
	scgi_temp_path $RUN/nginx/scgi;
	upstream sekisho_cid { server $GW_SIP:8081; keepalive 16; }
	server {
		listen 127.0.0.1:9000;
		root $RUN/www;
		ssi on;
	}
EOF
		for s in "lab $LAB_IP" "wiki $WIKI_IP"; do
			cat <<EOF
	server {
		listen ${s#* }:80;
		set \$sekisho_service ${s% *};
		set \$sekisho_portal $PORTAL;
		include $TOP/dist/nginx/sekisho-door.conf;
		location / {
			include $TOP/dist/nginx/sekisho-app.conf;
			proxy_pass http://127.0.0.1:9000/${s% *}/;
		}
	}
EOF
		done
		echo "}"
	} >"$RUN/nginx.conf"
}

start() {   # name namespace cmd...
	n=$1 ns=$2; shift 2
	ip netns exec "$ns" "$@" >"$RUN/$n.log" 2>&1 &
	echo $! >"$RUN/$n.pid"
}

# Retries CMD every 0.1 s for up to S seconds.
wait_for() {   # seconds cmd...
	i=$(($1 * 10)); shift
	while ! "$@" >/dev/null 2>&1; do
		i=$((i - 1))
		[ "$i" -gt 0 ] || return 1
		sleep 0.1
	done
}

alive() { kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

up() {   # name: says why a part is not running, and ends the demo
	say "demo: $1 is not running; the end of its log:" >&2
	tail -n 20 "$RUN/$1.log" >&2
	exit 1
}

start_all() {
	umask 0027
	start ipfd "$GW" $(as_unit ipfd) "$B/ipfd" -d -f "$RUN/sekisho.conf"
	wait_for 10 test -S "$RUN/run/ipfd.sock" || up ipfd
	start authd "$GW" $(as_unit authd) "$B/authd" -d -f "$RUN/sekisho.conf"
	wait_for 10 ip netns exec "$GW" curl -sf -o /dev/null http://127.0.0.1:9080/healthz || up authd
	start cid "$GW" $(as_unit cid) "$B/cid" -d -f "$RUN/sekisho.conf"
	wait_for 10 ip netns exec "$GW" curl -sf -o /dev/null http://127.0.0.1:9081/healthz || up cid
	umask 0022
	start nginx "$SRV" nginx -c "$RUN/nginx.conf" -p "$RUN/nginx"
	wait_for 10 ip netns exec "$SRV" curl -sf -o /dev/null "http://127.0.0.1:9000/lab/" || up nginx
}

# One browser: a cookie jar, the login form's CSRF value, then POST /login
# following the 303s to the service. Prints "STATUS URL" of the last answer.
browse() {   # user service password
	jar=$RUN/jar.$1
	csrf=$(curl -s -c "$jar" -b "$jar" "$PORTAL/" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -n 1)
	curl -s -L -c "$jar" -b "$jar" -o "$RUN/page.$1" -w '%{http_code} %{url_effective}' \
		--data-urlencode "user=$1" --data-urlencode "password=$3" \
		--data-urlencode "service=$2" --data-urlencode "csrf=$csrf" "$PORTAL/login"
}

smoke() {
	fails=0
	got=$(curl -s -o /dev/null -w '%{http_code}' --connect-timeout 2 "http://$LAB_IP/" || true)
	report "before login, lab refuses the connection (firewall)" 000 "$got"
	got=$(browse alice lab "$PW_USER")
	report "alice logs in to lab and lands on its page" "200 http://$LAB_IP/" "$got"
	grep -q 'Welcome, <b>alice</b>' "$RUN/page.alice" && ok=yes || ok=no
	report "lab's page greets alice (the user cid named)" yes "$ok"
	got=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://$LAB_IP/")
	report "without the cookie lab sends to the portal" "302 $PORTAL/?service=lab" "$got"
	got=$(browse bob lab "$PW_USER")
	report "bob logs in to lab (2 of 2)" "200 http://$LAB_IP/" "$got"
	got=$(browse carol lab "$PW_USER")
	report "carol is refused: lab's cap is 2" "503 $PORTAL/login" "$got"
	got=$(browse carol wiki "$PW_USER")
	report "carol logs in to wiki instead" "200 http://$WIKI_IP/" "$got"
	got=$(curl -s -o /dev/null -w '%{http_code}' --connect-timeout 2 "http://$GW_SIP:8081/_sekisho/auth" || true)
	report "the host cannot reach cid's port on the gateway" 000 "$got"
	got=$(curl -s -o /dev/null -w '%{http_code}' "$PORTAL/metrics")
	report "the portal does not serve /metrics" 404 "$got"
	got=$(ip netns exec "$GW" curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9080/metrics)
	report "metrics on the gateway's loopback" 200 "$got"
	ctl status
	[ "$fails" -eq 0 ] && say "demo: smoke run passed" || say "demo: smoke run FAILED ($fails)"
	return "$fails"
}

report() {   # what want got
	if [ "$2" = "$3" ]; then
		say "  ok    $1"
	else
		say "  FAIL  $1: want '$2', got '$3'"
		fails=$((fails + 1))
	fi
}

banner() {
	admin_ui=""
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$PORTAL/admin")" = 404 ] || admin_ui=yes
	cat <<EOF

sekisho demo is up.

  Portal (log in, pick a service):  $PORTAL/
  Service "lab"  (cap 2):           http://$LAB_IP/
  Service "wiki" (cap 3):           http://$WIKI_IP/
EOF
	[ -z "$admin_ui" ] || say "  Admin UI:                         $PORTAL/admin"
	cat <<EOF

  Users alice, bob, carol, dave     password $PW_USER
  Admin "admin" (owns both)         password $PW_ADMIN
  Root "root"                       password $PW_ROOT

Open a service first: the connection is refused (the gateway's firewall).
Log in on the portal and you are sent through the door to the service.
All browsers on this host share one address, so the firewall opens for the
host once one user is in; the cookie check still tells users apart.

Watch and act from another terminal:
  $B/sekishoctl -f $RUN/sekisho.conf status
  $B/sekishoctl -f $RUN/sekisho.conf right list
  $B/sekishoctl -f $RUN/sekisho.conf right revoke ID
  ip netns exec $GW nft list table inet sekisho
  ip netns exec $GW curl -s http://127.0.0.1:9080/metrics   (authd; cid: 9081)
Logs: $RUN/*.log

Ctrl-C stops the demo and removes everything it made.
EOF
}

preflight
trap 'cleanup; say "demo: stopped; namespaces, link, route and processes removed"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -p "$RUN"
echo $$ >"$RUN/demo.pid"
topology
exposure
accounts
config
store
site
start_all

if [ "${SEKISHO_DEMO_SMOKE:-}" = 1 ]; then
	smoke
	exit $?
fi
banner
while :; do
	for n in ipfd authd cid nginx; do
		alive "$n" || up "$n"
	done
	sleep 1
done
