# Several gateways on one PostgreSQL, in network namespaces (POSIX sh), sourced
# after lib.sh and lib_pg.sh. For test_gateways.sh and whatever builds on it
# (failover of the database, a shared address for the gateways).
#
#            db  (PostgreSQL on TCP, 10.7.N.10:5432 towards gateway N)
#           /  \
#   cN -- gwN    gwM -- cM        gateway N: ipfd (hook forward), authd on
#           \  /                  10.8.0.1:8080 (its loopback), cid on 10.9.N.1:8081
#            srv                  srv: the services at 10.9.0.K:80 (its loopback),
#                                 reached from gateway N through 10.9.N.2
# Client host cN holds 10.0.N.2 .. 10.0.N.(1+COUNT), routed through gwN.
#
#   gw_db_start                  db host, cluster with TCP, an empty database;
#                                sets GW_URL (conninfo without host) and GW_PGURL (unix socket, for psql)
#   gw_url N                     gateway N's conninfo ([db] url) to db
#   gw_add N [COUNT]             host gwN linked to db and srv, client host cN with COUNT
#                                addresses, its config $T/gwN.conf
#   gw_init N                    sekishoctl init through gateway N (once, on the first)
#   gw_start N [ipfd authd cid]  start gateway N's daemons (all three by default), wait for each
#   gw_stop N NAME               stop one (bg name NAME.N)
#   gw_ctl N ARGS...             sekishoctl with gateway N's config, in its namespace
#   gw_psql SQL                  one statement on the store, unaligned output
#   gw_service NAME K CAP        service at 10.9.0.K:80 on srv (a TCP listener), guarded
#   gw_cut N / gw_uncut N        drop / restore every packet between gateway N and db
#   gw_db_pause / gw_db_resume   stop PostgreSQL keeping its data / start it again
#   gw_login N ADDR USER SERVICE     POST /login at gateway N from ADDR: prints "CODE LOCATION"
#   gw_door N SERVICE ADDR COOKIE    gateway N's cid as nginx would ask it: 204 or 401 (503)
#   gw_enter N ADDR LOCATION     gateway N's cid handoff (the login's Location): prints the cookie
#   gw_fw_open N ADDR K          0 when ADDR (a client of gateway N) reaches 10.9.0.K:80
#   gw_admin_login N ADDR        root logs in to gateway N's admin pages from client ADDR
#                                (its own jar, $T/admin.ADDR): prints the status (303)
#   gw_admin_get N ADDR PATH     GET an admin page into $T/admin.ADDR.page: prints the status
#   gw_admin_post N ADDR PAGE ACTION [curl args]
#                                fetch the form on PAGE, take its csrf value, POST it to
#                                ACTION with the args (--data-urlencode k=v ...): prints the status
#   gw_cleanup                   stops the cluster (call before net_cleanup)

GW_PW=demo-password-1
GW_URL="" GW_PGURL=""
GW_REFRESH_MS=${GW_REFRESH_MS:-5000}   # cid's fallback poll: a missed wake-up shows as this
PGC_PSQL=/usr/lib/postgresql/15/bin/psql

gw_db_start() {
	host_add db || return 1
	pg_out=$(SEKISHO_TEST_PG_LISTEN='*' in_ns db "$PG_TOOL" start) || return 1
	PG_DIR=${pg_out%% *}
	PG_URL=${pg_out#* }
	GW_PGURL=$(pg_createdb) || return 1
	GW_URL="port=${GW_PGURL#* port=}"
}

# Short TCP timeouts: a gateway cut off from db notices within seconds.
gw_url() {   # n
	echo "host=10.7.$1.10 $GW_URL keepalives_idle=1 keepalives_interval=1 keepalives_count=2 tcp_user_timeout=2000 connect_timeout=2"
}

gw_conf() {   # n
	cat <<EOF
log_level = ${GW_LOG_LEVEL:-info}
[db]
url = $(gw_url "$1")
[authd]
listen = 10.8.0.1:8080
base_url = http://10.8.0.1:8080
web_dir = $SEKISHO_TOP/web
sweep_interval_s = 1
hash_workers = 2
ipfd_timeout_ms = 5000
[ipfd]
socket = $T/ipfd.$1.sock
group = root
hook = forward
sync_interval_s = 30
[cid]
listen = 10.9.$1.1:8081
trusted_proxies = 10.9.$1.2
threads = 2
touch_interval_ms = 500
refresh_ms = $GW_REFRESH_MS
EOF
}

gw_add() {   # n [count]
	g=gw$1
	case " $NET_HOSTS " in *" srv "*) ;; *) host_add srv || return 1 ;; esac
	host_add "$g" || return 1
	link_add db "10.7.$1.10/24" "$g" "10.7.$1.1/24" || return 1
	link_add srv "10.9.$1.2/24" "$g" "10.9.$1.1/24" || return 1
	route_add "$g" 10.9.0.0/24 "10.9.$1.2"
	route_add srv "10.0.$1.0/24" "10.9.$1.1"
	in_ns "$g" ip addr add 10.8.0.1/32 dev lo
	forward_on "$g"
	host_add "c$1" && link_add "c$1" "10.0.$1.2/24" "$g" "10.0.$1.1/24" || return 1
	route_add "c$1" default "10.0.$1.1"
	i=3
	while [ "$i" -le "$((1 + ${2:-1}))" ]; do
		in_ns "c$1" ip addr add "10.0.$1.$i/24" dev "to-$g"
		i=$((i + 1))
	done
	gw_conf "$1" >"$T/$g.conf"
	printf '%s\n' "$GW_PW" >"$T/pw"
}

gw_ctl() {   # n args...
	_n=$1; shift
	in_ns "gw$_n" "$SEKISHO_BUILD/sekishoctl" -f "$T/gw$_n.conf" "$@"
}

gw_init() {   # n
	gw_ctl "$1" init --root-password-file "$T/pw" >/dev/null
}

gw_psql() {   # sql
	"$PGC_PSQL" -X -q -At -v ON_ERROR_STOP=1 "$GW_PGURL" -c "$1"
}

gw_up() {   # n what
	case $2 in
	ipfd)  test -S "$T/ipfd.$1.sock" ;;
	authd) in_ns "gw$1" curl -sf -o /dev/null --max-time 2 http://127.0.0.1:9080/healthz ;;
	cid)   in_ns "gw$1" curl -sf -o /dev/null --max-time 2 http://127.0.0.1:9081/healthz ;;
	esac
}

gw_start() {   # n [ipfd authd cid]
	_g=$1; shift
	for p in ${*:-ipfd authd cid}; do
		[ "$p" = ipfd ] && rm -f "$T/ipfd.$_g.sock"
		bg_start "$p.$_g" "gw$_g" "$SEKISHO_BUILD/$p" -d -f "$T/gw$_g.conf"
		wait_for 15 gw_up "$_g" "$p" || return 1
	done
}

gw_stop() { bg_stop "$2.$1"; }

gw_service() {   # name k cap
	in_ns srv ip addr add "10.9.0.$2/32" dev lo 2>/dev/null
	bg_start "app.$2" srv "$PY" -m http.server --bind "10.9.0.$2" 80
	gw_ctl 1 service add "$1" --url "http://10.9.0.$2/" --max-usage 60 --max-interval 30 \
		--cap "$3" --admin root --guard "10.9.0.$2:80" >/dev/null 2>"$T/service.err"   # ipfd may not run yet
}

gw_cut() {   # n
	in_ns db nft -f - <<EOF
table inet gwcut$1 {
	chain in { type filter hook input priority 0; iifname "to-gw$1" drop; }
	chain out { type filter hook output priority 0; oifname "to-gw$1" drop; }
}
EOF
}
gw_uncut() { in_ns db nft delete table inet "gwcut$1"; }

gw_db_pause() { "$PG_TOOL" pause "$PG_DIR"; }
gw_db_resume() { SEKISHO_TEST_PG_LISTEN='*' in_ns db "$PG_TOOL" resume "$PG_DIR"; }

# The login form's CSRF value, once per client address (double submit, with its cookie).
gw_csrf() {   # n addr
	[ -s "$T/csrf.$2" ] && return 0
	in_ns "c$1" curl -s --max-time 10 --interface "$2" -c "$T/jar.$2" -b "$T/jar.$2" \
		-o "$T/form.$2" http://10.8.0.1:8080/ &&
	sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$T/form.$2" | head -n 1 >"$T/csrf.$2"
}

gw_login() {   # n addr user service (GW_LOGIN_TIMEOUT: seconds for the answer, 20)
	gw_csrf "$1" "$2" || { echo "000 -"; return 0; }
	in_ns "c$1" curl -s --max-time "${GW_LOGIN_TIMEOUT:-20}" --interface "$2" -c "$T/jar.$2" -b "$T/jar.$2" \
		-o /dev/null -w '%{http_code} %{redirect_url}\n' \
		--data-urlencode "user=$3" --data-urlencode "password=$GW_PW" \
		--data-urlencode "service=$4" --data-urlencode "csrf=$(cat "$T/csrf.$2")" \
		http://10.8.0.1:8080/login
}

gw_door() {   # n service addr cookie
	in_ns srv curl -s -o /dev/null -w '%{http_code}' --max-time 5 --interface "10.9.$1.2" \
		-H "X-Sekisho-Service: $2" -H "X-Forwarded-For: $3" -b "sekisho=$4" \
		"http://10.9.$1.1:8081/_sekisho/auth"
}

gw_enter() {   # n addr location
	_host=${3#http://}
	in_ns srv curl -s -o /dev/null -D - --max-time 5 --interface "10.9.$1.2" \
		-H "Host: ${_host%%/*}" -H "X-Forwarded-For: $2" \
		"http://10.9.$1.1:8081/_sekisho/${3#*/_sekisho/}" |
	sed -n 's/^[Ss]et-[Cc]ookie: sekisho=\([^;]*\).*/\1/p' | head -n 1
}

gw_fw_open() {   # n addr k
	in_ns "c$1" "$PY" -c 'import socket, sys
s = socket.socket(); s.settimeout(2); s.bind((sys.argv[1], 0))
s.connect((sys.argv[2], 80)); sys.exit(0)' "$2" "10.9.0.$3" 2>/dev/null
}

gw_admin_curl() {   # n addr curl-args...
	_n=$1 _a=$2; shift 2
	in_ns "c$_n" curl -s --max-time 20 --interface "$_a" -c "$T/admin.$_a" -b "$T/admin.$_a" "$@"
}

gw_admin_get() {   # n addr path
	gw_admin_curl "$1" "$2" -o "$T/admin.$2.page" -w '%{http_code}' "http://10.8.0.1:8080$3"
}

# The csrf value of the form on the page last fetched from addr.
gw_admin_csrf() { sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$T/admin.$1.page" | head -n 1; }

gw_admin_login() {   # n addr
	gw_admin_get "$1" "$2" /admin/login >/dev/null
	gw_admin_curl "$1" "$2" -o /dev/null -w '%{http_code}' --data-urlencode "csrf=$(gw_admin_csrf "$2")" \
		--data-urlencode user=root --data-urlencode "password=$GW_PW" http://10.8.0.1:8080/admin/login
}

gw_admin_post() {   # n addr page action [curl args]
	_n=$1 _a=$2 _action=$4
	[ "$(gw_admin_get "$1" "$2" "$3")" = 200 ] || { echo 000; return 0; }
	shift 4
	gw_admin_curl "$_n" "$_a" -o "$T/admin.$_a.reply" -w '%{http_code}' \
		--data-urlencode "csrf=$(gw_admin_csrf "$_a")" "$@" "http://10.8.0.1:8080$_action"
}

gw_cleanup() {
	[ -n "$PG_DIR" ] || return 0
	cp "$PG_DIR/server.log" "$T/postgresql.log" 2>/dev/null
	"$PG_TOOL" stop "$PG_DIR"
	PG_DIR=""
}
