# The whole system in network namespaces, for test_e2e.sh and bench/e2e.sh.
# Sourced after lib.sh (which gives hosts, links, bg_*, wait_for, TAP).
#
#   client c1 10.0.1.2 ---\
#   client c2 10.0.2.2 ----- gw ---------------------- srv
#   crowd 10.1.x.y ... ---/  ipfd (hook forward)       nginx: one server per service
#                            authd 10.8.0.1:8080         address 10.9.0.N:80, auth_request
#                            cid   10.9.0.1:8081         to cid; the app on 127.0.0.1:9000
#
# Clients reach the services only through gw's forward hook. The portal
# listens on an address of gw's loopback (10.8.0.1), reachable from every
# client by its default route.
#
#   sys_init                     config, topology core (gw, srv), store with root
#                                (the store at $SYS_DB, default $T/db.sqlite; ipfd's
#                                socket at $SYS_SOCK, default $T/ipfd.sock)
#   sys_client NAME N            a client host NAME at 10.0.N.2 (N in 1..199)
#   sys_crowd NAME COUNT         one host with COUNT addresses, crowd_addr I gives the I-th
#   sys_user NAME...             users with password $SYS_PW (scrypt, default parameters)
#   sys_users_fast PREFIX COUNT  users PREFIX1..PREFIXCOUNT sharing one hash (sqlite3; benches)
#   sys_service NAME N CAP [USE INTERVAL]   service at 10.9.0.N:80, guarded, behind nginx
#   sys_start ipfd|authd|cid|nginx          start one part and wait until it answers
#   sys_stop NAME                SIGTERM and wait
#   sys_restart NAME             stop, keep its log as NAME.log.K, start
#   within_ms MS CMD...          retry CMD every 50 ms for at most MS milliseconds
#
# Browser (curl with one cookie jar per client address, $T/jar.ADDR):
#   web_login HOST ADDR USER SERVICE [PASSWORD]
#                                the whole flow: form, POST /login, follow the 303s
#                                to the service; prints "CODE REDIRECTS EFFECTIVE_URL",
#                                the page is in $T/page.ADDR
#   web_get HOST ADDR URL        GET with the jar; prints the status (000: no connection)
#   web_bare HOST ADDR URL [ARGS]  the same without the jar (cookies only from ARGS)
#   web_cookie ADDR SERVICE_N    the access cookie the jar holds for that service
#   svc_url N                    http://10.9.0.N/
#   door SERVICE ADDR COOKIE     ask cid as nginx would (from srv): 204 or 401
#   fw_open HOST ADDR N          0 when ADDR can open a TCP connection to 10.9.0.N:80
#   hammer_start NAME HOST ADDR N STOPFILE
#                                connect to 10.9.0.N:80 over and over until STOPFILE
#                                exists, then "tries T connected C" in $T/NAME.log
#
# The store is a SQLite file at $DB; sql runs the sqlite3 CLI on it.

# lib.sh's check keeps the name in "n", which the commands it runs may reuse
# (bg_start does); this one keeps it apart.
check() {   # name cmd...
	_check_name=$1; shift
	if "$@" >"$T/check.out" 2>&1; then
		ok "$_check_name"
	else
		not_ok "$_check_name" "$(tail -n 3 "$T/check.out" | tr '\n' ' ')"
	fi
}

PORTAL=http://10.8.0.1:8080
CID_URL=http://10.9.0.1:8081
PORTAL_MON=http://127.0.0.1:9080   # monitor listeners, on gw's loopback
CID_MON=http://127.0.0.1:9081
SYS_PW=demo-password-1
SYS_SERVICES=""
SYS_AS_CTL=${SYS_AS_CTL:-} SYS_AS_IPFD=${SYS_AS_IPFD:-} SYS_AS_AUTHD=${SYS_AS_AUTHD:-} SYS_AS_CID=${SYS_AS_CID:-}
B=$SEKISHO_BUILD
# The installed layout's parts, the source tree's by default (test_package.sh sets them).
SEKISHO_WEB=${SEKISHO_WEB:-$SEKISHO_TOP/web}
SEKISHO_NGINX_SNIPPET=${SEKISHO_NGINX_SNIPPET:-$SEKISHO_TOP/dist/nginx/sekisho-door.conf}

sys_conf() {
	cat <<EOF
log_level = ${SYS_LOG_LEVEL:-info}
[db]
path = $DB
[authd]
listen = 10.8.0.1:8080
base_url = $PORTAL
web_dir = $SEKISHO_WEB
sweep_interval_s = ${SYS_SWEEP_S:-1}
hash_workers = ${SYS_HASH_WORKERS:-2}
ipfd_timeout_ms = 5000
[ipfd]
socket = $SOCK
group = ${SYS_IPFD_GROUP:-root}
hook = forward
sync_interval_s = ${SYS_SYNC_S:-30}
[cid]
listen = 10.9.0.1:8081
trusted_proxies = 10.9.0.2,10.9.0.3,10.9.0.4,10.9.0.5,10.9.0.6,10.9.0.7,10.9.0.8
threads = ${SYS_CID_THREADS:-4}
touch_interval_ms = ${SYS_CID_TOUCH_MS:-500}
refresh_ms = ${SYS_CID_REFRESH_MS:-100}
EOF
}

# SYS_AS_CTL, SYS_AS_IPFD, SYS_AS_AUTHD, SYS_AS_CID: a command prefix to run that
# program under (e.g. setpriv with a user and capabilities); empty: as root.
ctl() { $SYS_AS_CTL "$B/sekishoctl" -f "$CONF" "$@"; }
sql() { sqlite3 -cmd ".timeout 10000" "$DB" "$@"; }

sys_init() {
	DB=${SYS_DB:-$T/db.sqlite} SOCK=${SYS_SOCK:-$T/ipfd.sock}
	CONF=$T/sekisho.conf
	sys_conf >"$CONF"
	host_add gw && host_add srv || return 1
	link_add srv 10.9.0.2/24 gw 10.9.0.1/24 || return 1
	in_ns gw ip addr add 10.8.0.1/32 dev lo
	route_add srv default 10.9.0.1
	forward_on gw
	printf '%s\n' "$SYS_PW" >"$T/pw"
	ctl init --root-password-file "$T/pw" >/dev/null
}

sys_client() {   # name n
	host_add "$1" && link_add "$1" "10.0.$2.2/24" gw "10.0.$2.1/24" && route_add "$1" default "10.0.$2.1"
}

crowd_addr() {   # i (0-based) -> 10.1.X.Y
	echo "10.1.$(($1 / 200 + 1)).$(($1 % 200 + 10))"
}

sys_crowd() {   # name count
	host_add "$1" && link_add "$1" 10.1.0.2/16 gw 10.1.0.1/16 && route_add "$1" default 10.1.0.1 || return 1
	i=0
	while [ "$i" -lt "$2" ]; do
		echo "addr add $(crowd_addr "$i")/16 dev to-gw"
		i=$((i + 1))
	done >"$T/crowd.$1.batch"
	in_ns "$1" ip -batch "$T/crowd.$1.batch"
}

sys_user() {   # name...
	for u in "$@"; do
		ctl user add "$u" --role user --password-file "$T/pw" >/dev/null || return 1
	done
}

# Many users at once: the first gets a real scrypt hash, the others copy it.
sys_users_fast() {   # prefix count
	sys_user "${1}1" || return 1
	sql "WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < $2)
	     INSERT INTO users (name, role, pwhash, created_at)
	     SELECT '$1' || i, 0, (SELECT pwhash FROM users WHERE name = '${1}1'), unixepoch() FROM n;"
}

svc_url() { echo "http://10.9.0.$1/"; }

sys_service() {   # name n cap [max-usage-min max-interval-min]
	in_ns srv ip addr add "10.9.0.$2/24" dev to-gw 2>/dev/null
	mkdir -p "$T/www/$1"
	[ -f "$T/www/index.html" ] || echo "app" >"$T/www/index.html"
	cat >"$T/www/$1/index.html" <<EOF
<!doctype html><title>$1</title>
<p>service $1 user <!--# echo var="http_x_remote_user" default="nobody" --></p>
EOF
	SYS_SERVICES="$SYS_SERVICES $1:$2"
	ctl service add "$1" --url "$(svc_url "$2")" --max-usage "${4:-60}" --max-interval "${5:-30}" \
		--cap "$3" --admin root --guard "10.9.0.$2:80" 2>"$T/service.err" >/dev/null ||
		{ cat "$T/service.err" >&2; return 1; }
}

# nginx in srv: the door of every service (the shipped snippet) and the app.
sys_nginx_conf() {
	mkdir -p "$T/nginx"
	cat <<EOF
daemon off;
worker_processes 2;
pid $T/nginx.pid;
error_log $T/nginx-error.log warn;
events { worker_connections 4096; }
http {
	include $SEKISHO_TOP/dist/nginx/sekisho-log.conf;
	access_log $T/nginx-access.log sekisho_door;
	client_body_temp_path $T/nginx/body;
	proxy_temp_path $T/nginx/proxy;
	fastcgi_temp_path $T/nginx/fastcgi;
	uwsgi_temp_path $T/nginx/uwsgi;
	scgi_temp_path $T/nginx/scgi;
	upstream sekisho_cid { server 10.9.0.1:8081; keepalive 32; }
	server {
		listen 127.0.0.1:9000;
		root $T/www;
		ssi on;
	}
EOF
	for s in $SYS_SERVICES; do
		cat <<EOF
	server {
		listen 10.9.0.${s#*:}:80;
		set \$sekisho_service ${s%%:*};
		set \$sekisho_portal $PORTAL;
		include $SEKISHO_NGINX_SNIPPET;
		location / {
			include $SEKISHO_TOP/dist/nginx/sekisho-app.conf;
			proxy_pass http://127.0.0.1:9000/${s%%:*}/;
		}
	}
EOF
	done
	echo "}"
}

portal_up() { in_ns gw curl -sf -o /dev/null --max-time 2 "$PORTAL_MON/healthz"; }
cid_up() { in_ns gw curl -sf -o /dev/null --max-time 2 "$CID_MON/healthz"; }
app_up() { in_ns srv curl -sf -o /dev/null --max-time 2 http://127.0.0.1:9000/; }

sys_start() {   # ipfd|authd|cid|nginx
	case $1 in
	ipfd)
		rm -f "$SOCK"
		bg_start ipfd gw $SYS_AS_IPFD "$B/ipfd" -d -f "$CONF"
		wait_for 10 test -S "$SOCK" ;;
	authd)
		bg_start authd gw $SYS_AS_AUTHD "$B/authd" -d -f "$CONF"
		wait_for 10 portal_up ;;
	cid)
		bg_start cid gw $SYS_AS_CID "$B/cid" -d -f "$CONF"
		wait_for 10 cid_up ;;
	nginx)
		sys_nginx_conf >"$T/nginx.conf"
		bg_start nginx srv nginx -c "$T/nginx.conf" -p "$T/nginx"
		wait_for 10 app_up ;;
	esac
}

sys_stop() { bg_stop "$1"; }

sys_restart() {   # name
	sys_stop "$1"
	k=1
	while [ -e "$T/$1.log.$k" ]; do k=$((k + 1)); done
	mv "$T/$1.log" "$T/$1.log.$k"
	sys_start "$1"
}

sys_start_all() {
	sys_start ipfd && sys_start authd && sys_start cid && sys_start nginx
}

# Like wait_for, with a deadline in milliseconds (wait_for's is whole seconds).
within_ms() {   # ms cmd...
	_deadline=$(( $(date +%s%3N) + $1 )); shift
	while ! "$@" >/dev/null 2>&1; do
		[ "$(date +%s%3N)" -ge "$_deadline" ] && return 1
		sleep 0.05
	done
}

# ---- the browser ----

web_curl() {   # host addr curl-args...
	h=$1 a=$2; shift 2
	in_ns "$h" curl -s --max-time 20 --connect-timeout 3 --interface "$a" \
		-b "$T/jar.$a" -c "$T/jar.$a" "$@"
}

web_get() {   # host addr url [curl-args...]
	h=$1 a=$2 u=$3; shift 3
	web_curl "$h" "$a" -o "$T/page.$a" -w '%{http_code}' "$@" "$u"
}

# Without the jar: only the cookies given as arguments.
web_bare() {   # host addr url [curl-args...]
	h=$1 a=$2 u=$3; shift 3
	in_ns "$h" curl -s --max-time 20 --connect-timeout 3 --interface "$a" -o /dev/null \
		-w '%{http_code}' "$@" "$u"
}

# The login form once per jar: its CSRF value (double submit with a cookie).
web_csrf() {   # host addr
	[ -s "$T/csrf.$2" ] && return 0
	web_curl "$1" "$2" -o "$T/form.$2" "$PORTAL/" &&
	sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$T/form.$2" | head -n 1 >"$T/csrf.$2"
}

web_login() {   # host addr user service [password]
	web_csrf "$1" "$2" || { echo "000 0 form"; return 0; }
	web_curl "$1" "$2" -L -o "$T/page.$2" -D "$T/head.$2" -w '%{http_code} %{num_redirects} %{url_effective}' \
		--data-urlencode "user=$3" --data-urlencode "password=${5:-$SYS_PW}" \
		--data-urlencode "service=$4" --data-urlencode "csrf=$(cat "$T/csrf.$2")" "$PORTAL/login"
}

web_cookie() {   # addr n
	[ -f "$T/jar.$1" ] || return 0
	awk -v d="10.9.0.$2" '($1 == d || $1 == "#HttpOnly_" d) && $6 == "sekisho" { print $7 }' "$T/jar.$1"
}

door() {   # service client-addr cookie -> cid's answer to nginx
	in_ns srv curl -s -o /dev/null -w '%{http_code}' --max-time 5 --interface 10.9.0.2 \
		-H "X-Sekisho-Service: $1" -H "X-Forwarded-For: $2" -b "sekisho=$3" "$CID_URL/_sekisho/auth"
}

fw_open() {   # host addr n
	in_ns "$1" "$PY" -c 'import socket, sys
s = socket.socket(); s.settimeout(2); s.bind((sys.argv[1], 0))
s.connect((sys.argv[2], 80)); sys.exit(0)' "$2" "10.9.0.$3" 2>/dev/null
}
fw_closed() { ! fw_open "$@"; }

# Connects from ADDR to DEST:80 over and over until the file STOP exists;
# prints "tries T connected C" at the end. Args: ADDR DEST STOP.
HAMMER_PY='import os, socket, sys, time
tries = connected = 0
while not os.path.exists(sys.argv[3]):
    tries += 1
    s = socket.socket(); s.settimeout(0.2); s.bind((sys.argv[1], 0))
    try:
        s.connect((sys.argv[2], 80)); connected += 1
    except OSError:
        time.sleep(0.001)
    s.close()
print("tries %d connected %d" % (tries, connected))'
hammer_start() {   # name host addr n stop-file
	bg_start "$1" "$2" "$PY" -c "$HAMMER_PY" "$3" "10.9.0.$4" "$5"
}

right_of() {   # user service -> id of the live right
	sql "SELECT id FROM rights WHERE ended_at IS NULL AND user_name = '$1' AND service_name = '$2'"
}
live() { sql "SELECT count(*) FROM rights WHERE ended_at IS NULL AND service_name = '$1'"; }
set_count() {   # service -> addresses in its IPv4 set
	id=$(sql "SELECT id FROM services WHERE name = '$1'")
	in_ns gw nft list set inet sekisho "s${id}_v4" 2>/dev/null | grep -Eo '10\.[0-9]+\.[0-9]+\.[0-9]+' | wc -l
}
in_any_set() {   # addr: is it in any of sekisho's sets?
	in_ns gw nft list table inet sekisho | grep -Eq "(^|[ {,])$1([ ,}]|$)"
}
