#!/bin/sh
# The TLS session-ticket ring shared by terminators on two hosts: real nginx
# and HAProxy on each, keys written by "sekishoctl tls-keys sync" (nginx
# reloaded by SIGHUP, HAProxy updated through its runtime API), sessions
# saved and resumed with openssl s_client.
#
#   ga 10.0.4.1 --- c1 --- gb 10.0.5.1     nginx :443, HAProxy :8443 on each
. "${SEKISHO_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/net/lib.sh"
. "$SEKISHO_TOP/tests/net/lib_tls.sh"
net_init

B=$SEKISHO_BUILD
A_IP=10.0.4.1
B_IP=10.0.5.1
for bin in "$B/sekishoctl" /usr/sbin/nginx /usr/sbin/haproxy; do
	[ -x "$bin" ] || { not_ok "$bin installed"; tap_done; exit 1; }
done
cat >"$T/sekisho.conf" <<EOF
[db]
path = $T/sekisho.db
[authd]
tls_ticket_rotate_min = 60
tls_ticket_previous = 1
[ipfd]
enabled = off
EOF
printf 'root-password-1\n' >"$T/pw"
"$B/sekishoctl" -f "$T/sekisho.conf" init --root-password-file "$T/pw" >/dev/null ||
	{ not_ok "store made"; tap_done; exit 1; }
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 2 \
	-subj /CN=gw.test >/dev/null 2>&1 || { not_ok "certificate made"; tap_done; exit 1; }
cat "$T/cert.pem" "$T/key.pem" >"$T/combined.pem"
host_add ga && host_add gb && host_add c1 && link_add c1 10.0.4.2/24 ga "$A_IP/24" &&
	link_add c1 10.0.5.2/24 gb "$B_IP/24" || { not_ok "namespaces"; tap_done; exit 1; }

sync_gw() {   # gw [extra options]
	g=$1; shift
	"$B/sekishoctl" -f "$T/sekisho.conf" tls-keys sync --nginx "$T/$g/nginx" \
		--haproxy "$T/$g/haproxy.keys" "$@" >"$T/sync.$g.out" 2>&1
}
sync_live() {   # gw: reloads nginx and pushes to HAProxy, then waits for nginx's new workers
	old=$(pgrep -P "$(cat "$T/$1/nginx.pid")" | sort | tr '\n' ' ')
	sync_gw "$1" --nginx-pid "$T/$1/nginx.pid" --haproxy-socket "$T/$1/haproxy.sock" || return 1
	grep -q reloaded "$T/sync.$1.out" || return 0
	wait_for 20 workers_replaced "$1" "$old"
}
workers_replaced() {   # gw "old worker pids"
	now=$(pgrep -P "$(cat "$T/$1/nginx.pid")" | sort | tr '\n' ' ')
	[ -n "$now" ] && for p in $2; do case " $now " in *" $p "*) return 1 ;; esac; done
}

start_gw() {   # gw ip
	g=$1 ip=$2
	tls_nginx_conf "$g" "$ip" && sync_gw "$g" || return 1
	cat >"$T/$g/haproxy.cfg" <<EOF
global
	stats socket $T/$g/haproxy.sock mode 600 level admin
	log stdout format raw local0
defaults
	mode http
	timeout connect 5s
	timeout client 10s
	timeout server 10s
	log global
EOF
	sed -e "s|192.0.2.10:443|$ip:8443|" -e "s|/etc/haproxy/site.pem|$T/combined.pem|" \
		-e "s|/run/sekisho-tls/haproxy.keys|$T/$g/haproxy.keys|" \
		"$SEKISHO_TOP/dist/haproxy/sekisho-tls.cfg" >>"$T/$g/haproxy.cfg"
	tls_nginx_start "$g" || return 1
	bg_start "haproxy-$g" "$g" haproxy -db -f "$T/$g/haproxy.cfg"
	wait_for 10 port_open "$ip" 443 && wait_for 10 port_open "$ip" 8443
}
port_open() {   # ip port
	in_ns c1 "$PY" -c "import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 2)" "$1" "$2" 2>/dev/null
}

# session: c1 connects to ip:port with protocol, saving (out) or offering (in) a session file.
tls_get() {   # ip port proto out|in file
	case $4 in out) so="-sess_out $5" ;; in) so="-sess_in $5" ;; esac
	# shellcheck disable=SC2086
	printf 'GET / HTTP/1.0\r\n\r\n' | in_ns c1 timeout 10 openssl s_client -connect "$1:$2" \
		"-$3" $so -ign_eof 2>/dev/null
}
resumes() {   # ip port proto file: 0 when the session in file is resumed
	tls_get "$1" "$2" "$3" in "$4" | grep -q "^Reused, TLSv1"
}
fresh_session() {   # ip port proto file
	rm -f "$4"
	tls_get "$1" "$2" "$3" out "$4" >/dev/null && [ -s "$4" ]
}

start_gw ga "$A_IP" && start_gw gb "$B_IP" || {
	not_ok "terminators start" "$(cat "$T"/g?/logs/error.log "$T"/haproxy-g?.log "$T"/sync.*.out 2>/dev/null | tail -n 5)"
	tap_done; exit 1; }
ok "nginx and HAProxy start on two hosts with the ring's keys"
mode=$(stat -c %a "$T/ga/nginx/ticket.0.key") hmode=$(stat -c %a "$T/ga/haproxy.keys")
[ "$mode" = 600 ] && [ "$hmode" = 600 ] && [ "$(stat -c %s "$T/ga/nginx/ticket.0.key")" = 80 ] &&
	[ "$(wc -l <"$T/ga/haproxy.keys")" = 3 ] &&
	ok "key files: mode 0600, 80 bytes per nginx file, 3 lines for HAProxy" ||
	not_ok "key files: mode 0600, 80 bytes per nginx file, 3 lines for HAProxy" "$mode $hmode"
cmp -s "$T/ga/haproxy.keys" "$T/gb/haproxy.keys" && ok "both gateways wrote the same ring" ||
	not_ok "both gateways wrote the same ring"
grep -q "$(od -An -tx1 "$T/ga/nginx/ticket.0.key" | tr -d ' \n' | cut -c1-16)" "$T"/sync.*.out &&
	not_ok "sync prints no key material" || ok "sync prints no key material"

for t in "nginx 443" "HAProxy 8443"; do
	set -- $t
	for proto in tls1_2 tls1_3; do
		fresh_session "$A_IP" "$2" "$proto" "$T/s" && resumes "$B_IP" "$2" "$proto" "$T/s" &&
			ok "$1 $proto: a session saved at A resumes at B" ||
			not_ok "$1 $proto: a session saved at A resumes at B"
	done
done

# Control: a terminator with keys of its own does not resume A's sessions.
mkdir -p "$T/own/nginx"
openssl rand 80 >"$T/own/k" && cp "$T/gb/nginx/ticket.0.key" "$T/own/saved0" &&
	cp "$T/own/k" "$T/gb/nginx/ticket.0.key" && cp "$T/own/k" "$T/gb/nginx/ticket.1.key" &&
	cp "$T/own/k" "$T/gb/nginx/ticket.2.key"
old=$(pgrep -P "$(cat "$T/gb/nginx.pid")" | tr '\n' ' ')
kill -HUP "$(cat "$T/gb/nginx.pid")" && wait_for 20 workers_replaced gb "$old"
fresh_session "$A_IP" 443 tls1_2 "$T/s" && ! resumes "$B_IP" 443 tls1_2 "$T/s" &&
	ok "control: B with keys of its own makes a full handshake" ||
	not_ok "control: B with keys of its own makes a full handshake"
sync_live gb && resumes "$B_IP" 443 tls1_2 "$T/s" &&
	ok "sync puts the ring back at B (files rewritten, nginx reloaded)" ||
	not_ok "sync puts the ring back at B (files rewritten, nginx reloaded)" "$(cat "$T/sync.gb.out")"

# Rotation: a ticket of the previous key still resumes; older than the window it does not.
fresh_session "$A_IP" 443 tls1_2 "$T/n0" && fresh_session "$A_IP" 8443 tls1_2 "$T/h0" ||
	not_ok "tickets saved before the rotation"
sleep 1   # keys are ordered by their second of activation
"$B/sekishoctl" -f "$T/sekisho.conf" tls-keys rotate >/dev/null && sync_live ga && sync_live gb ||
	not_ok "rotation synced" "$(cat "$T"/sync.*.out)"
grep -q "1 pushed\|2 pushed\|3 pushed" "$T/sync.gb.out" && ok "HAProxy got the rotation by its runtime API" ||
	not_ok "HAProxy got the rotation by its runtime API" "$(cat "$T/sync.gb.out")"
resumes "$B_IP" 443 tls1_2 "$T/n0" && ok "nginx: after a rotation a previous key's ticket resumes at B" ||
	not_ok "nginx: after a rotation a previous key's ticket resumes at B"
resumes "$B_IP" 8443 tls1_2 "$T/h0" && ok "HAProxy: after a rotation a previous key's ticket resumes at B" ||
	not_ok "HAProxy: after a rotation a previous key's ticket resumes at B"
sleep 1
"$B/sekishoctl" -f "$T/sekisho.conf" tls-keys rotate >/dev/null && sync_live ga && sync_live gb ||
	not_ok "second rotation synced"
resumes "$B_IP" 443 tls1_2 "$T/n0" && not_ok "nginx: a ticket older than the window gets a full handshake" ||
	ok "nginx: a ticket older than the window gets a full handshake"
resumes "$B_IP" 8443 tls1_2 "$T/h0" && not_ok "HAProxy: a ticket older than the window gets a full handshake" ||
	ok "HAProxy: a ticket older than the window gets a full handshake"

# B misses a rotation: A's new tickets use the key B already holds as next.
sleep 1
"$B/sekishoctl" -f "$T/sekisho.conf" tls-keys rotate >/dev/null && sync_live ga ||
	not_ok "third rotation synced at A"
for t in "nginx 443" "HAProxy 8443"; do
	set -- $t
	fresh_session "$A_IP" "$2" tls1_3 "$T/m" && resumes "$B_IP" "$2" tls1_3 "$T/m" &&
		ok "$1: B that missed a rotation resumes A's new tickets (next key provisioned)" ||
		not_ok "$1: B that missed a rotation resumes A's new tickets (next key provisioned)"
done
grep -q " TLSv1.3 TLS_AES_256_GCM_SHA384 r$" "$T/gb/logs/access.log" &&
	grep -q " TLSv1.2 ECDHE-[A-Z0-9-]* \.$" "$T/gb/logs/access.log" &&
	ok "shipped nginx log: protocol, cipher and reuse" || not_ok "shipped nginx log: protocol, cipher and reuse" \
	"$(tail -n 3 "$T/gb/logs/access.log")"
grep -q " TLSv1.3 TLS_AES_256_GCM_SHA384 1$" "$T/haproxy-gb.log" &&
	grep -q " TLSv1.2 ECDHE-[A-Z0-9-]* 0$" "$T/haproxy-gb.log" &&
	ok "shipped HAProxy log: protocol, cipher and reuse" ||
	not_ok "shipped HAProxy log: protocol, cipher and reuse" "$(tail -n 3 "$T/haproxy-gb.log")"
printf 'GET /_sekisho/enter?code=secret-code-1 HTTP/1.0\r\n\r\n' |
	in_ns c1 timeout 10 openssl s_client -connect "$B_IP:443" -ign_eof >/dev/null 2>&1
printf 'GET /_sekisho/enter?code=secret-code-2 HTTP/1.0\r\n\r\n' |
	in_ns c1 timeout 10 openssl s_client -connect "$B_IP:8443" -ign_eof >/dev/null 2>&1
grep -q '/_sekisho/enter' "$T/gb/logs/access.log" && grep -q '/_sekisho/enter' "$T/haproxy-gb.log" &&
	! grep -q 'secret-code' "$T/gb/logs/access.log" "$T/haproxy-gb.log" &&
	ok "shipped TLS logs never record an entry code (no query string)" ||
	not_ok "shipped TLS logs never record an entry code (no query string)" \
	"$(grep '/_sekisho/enter' "$T/gb/logs/access.log" "$T/haproxy-gb.log")"
"$B/sekishoctl" -f "$T/sekisho.conf" tls-versions "$T/gb/logs/access.log" "$T/haproxy-gb.log" >"$T/versions.out" 2>&1
n12=$(cat "$T/gb/logs/access.log" "$T/haproxy-gb.log" | grep -c " TLSv1\.2 ")
n13=$(cat "$T/gb/logs/access.log" "$T/haproxy-gb.log" | grep -c " TLSv1\.3 ")
grep -qx "TLSv1.2 $n12" "$T/versions.out" && grep -qx "TLSv1.3 $n13" "$T/versions.out" &&
	ok "sekishoctl tls-versions counts connections per TLS version in both logs" ||
	not_ok "sekishoctl tls-versions counts connections per TLS version in both logs" \
	"want $n12 and $n13: $(cat "$T/versions.out")"

tls_nginx_stop ga
tls_nginx_stop gb
tap_done
