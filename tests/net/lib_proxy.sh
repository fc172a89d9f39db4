# The common part of the tests of cid behind a real proxy other than nginx
# (test_haproxy.sh, test_caddy.sh). Sourced after lib.sh and net_init.
#
#   client 127.0.0.x --> the proxy on 127.0.0.1:8080 (service "lab")
#                          /_sekisho/*  --> cid 127.0.0.1:8081 (entry handoff)
#                          anything else: checked by cid, then the echo app
#                                         127.0.0.1:9000 (tests/net/echo_app.py)
#
#   px_setup [CID_CONF_LINES]   config, store (alice from 127.0.0.5, bob from
#                               127.0.0.6, both on lab), namespace gw, cid, app
#   px_enter CLIENT USER        the entry handoff through the proxy; cookie in
#                               $T/USER.cookie, right id in $T/USER.id
#   cu CLIENT CURL-ARGS...      curl from one loopback address inside gw
#   px_door_cases NAME          the cases every proxy must pass (TAP); a refusal
#                               is the redirect $PX_REFUSED (default 302)

B=$SEKISHO_BUILD
CONF=$T/sekisho.conf
CTL="$B/sekishoctl -f $CONF"
PORTAL=http://portal.test
LAB=http://127.0.0.1:8080
MON=http://127.0.0.1:9081

px_setup() {   # extra [cid] lines
	for bin in "$B/cid" "$B/sekishoctl" "$B/tests/tools/mkcode"; do
		[ -x "$bin" ] || { not_ok "build has $bin"; tap_done; exit 1; }
	done
	cat >"$CONF" <<EOC
log_level = info
[db]
path = $T/sekisho.db
[authd]
base_url = $PORTAL
web_dir = $SEKISHO_TOP/web
[ipfd]
enabled = off
[cid]
listen = 127.0.0.1:8081
trusted_proxies = 127.0.0.1
touch_interval_ms = 200
refresh_ms = 100
${1:-}
EOC
	printf 'root-password-1\n' >"$T/pw"
	check "store set up with sekishoctl (users, service, grants)" px_store
	host_add gw
	bg_start app gw "$PY" "$NET_HELPERS/echo_app.py" 127.0.0.1 9000
	bg_start cid gw "$B/cid" -d -f "$CONF"
	wait_for 10 px_cid_up
}

px_store() {
	$CTL init --root-password-file "$T/pw" &&
	$CTL user add alice --role user --password-file "$T/pw" &&
	$CTL user add bob --role user --password-file "$T/pw" &&
	$CTL service add lab --url "$LAB/" --max-usage 60 --max-interval 10 --cap 100 --admin root &&
	$CTL grant alice lab 127.0.0.5 && $CTL grant bob lab 127.0.0.6
} >/dev/null

cu() {   # client-ip curl-args...
	_ip=$1; shift
	in_ns gw curl -s --max-time 5 --interface "$_ip" "$@"
}
px_status() {   # client-ip url [curl-args...]
	_ip=$1 _url=$2; shift 2
	cu "$_ip" -o /dev/null -w '%{http_code}' "$@" "$_url"
}
px_cid_up() { [ "$(px_status 127.0.0.1 "$MON/healthz")" = 200 ]; }

px_enter() {   # client-ip user
	_c=$("$B/tests/tools/mkcode" -f "$CONF" "$2" lab) || return 1
	echo "${_c%% *}" >"$T/$2.id"
	cu "$1" -o /dev/null -D "$T/$2.hdr" "$LAB/_sekisho/enter?code=${_c#* }"
	tr -d '\r' <"$T/$2.hdr" | sed -n 's/^[Ss]et-[Cc]ookie: sekisho=\([^;]*\);.*/\1/p' >"$T/$2.cookie"
	[ -s "$T/$2.cookie" ]
}

px_refused_within() {   # seconds client cookie: polls every 50 ms
	_end=$(( $(date +%s%N) + $1 * 1000000000 ))
	while [ "$(date +%s%N)" -lt "$_end" ]; do
		[ "$(px_status "$2" "$LAB/" -b "sekisho=$3")" = "${PX_REFUSED:-302}" ] && return 0
		sleep 0.05
	done
	return 1
}

# $1: the proxy's name in the case names.
px_door_cases() {
	_p=$1 _r=${PX_REFUSED:-302}
	loc=$(cu 127.0.0.5 -o /dev/null -w '%{http_code} %{redirect_url}' "$LAB/")
	[ "$loc" = "$_r $PORTAL/?service=lab" ] && ok "$_p: no cookie: redirected to the portal with ?service=lab" ||
		not_ok "$_p: no cookie: redirected to the portal with ?service=lab" "$loc"
	check "$_p: the entry handoff through the proxy sets the cookie" px_enter 127.0.0.5 alice
	ALICE=$(cat "$T/alice.cookie")
	cu 127.0.0.5 -b "other=1; sekisho=$ALICE; last=2" -H 'X-Sekisho-User: mallory' \
		-H 'X-Remote-User: mallory' -H 'X-Sekisho-Remaining: 99999' -H 'X-Sekisho-Service: mallory' "$LAB/page" >"$T/app.out"
	head -1 "$T/app.out" | grep -qx app && ok "$_p: valid cookie: the app is reached" ||
		not_ok "$_p: valid cookie: the app is reached" "$(head -3 "$T/app.out" | tr '\n' ' ')"
	[ "$(grep -c '^x-sekisho-user: ' "$T/app.out")" = 1 ] && grep -qx 'x-sekisho-user: alice' "$T/app.out" &&
		ok "$_p: X-Sekisho-User is set by the proxy; the client's is dropped" ||
		not_ok "$_p: X-Sekisho-User is set by the proxy; the client's is dropped" "$(grep '^x-sekisho-user' "$T/app.out" | tr '\n' ' ')"
	! grep -q 'mallory\|99999' "$T/app.out" &&
		ok "$_p: client-sent X-Sekisho-* and X-Remote-User do not reach the app" ||
		not_ok "$_p: client-sent X-Sekisho-* and X-Remote-User do not reach the app" "$(grep 'mallory\|99999' "$T/app.out" | tr '\n' ' ')"
	cookie=$(grep '^cookie: ' "$T/app.out")
	! grep -q 'sekisho=' "$T/app.out" && echo "$cookie" | grep -q 'other=1' && echo "$cookie" | grep -q 'last=2' &&
		ok "$_p: the sekisho cookie does not reach the app; the app's own cookies do" ||
		not_ok "$_p: the sekisho cookie does not reach the app; the app's own cookies do" "$cookie"
	[ "$(px_status 127.0.0.9 "$LAB/" -b "sekisho=$ALICE")" = "$_r" ] &&
		ok "$_p: a cookie used from another client address is refused" ||
		not_ok "$_p: a cookie used from another client address is refused"
	[ "$(px_status 127.0.0.9 "$LAB/" -b "sekisho=$ALICE" -H 'X-Forwarded-For: 127.0.0.5')" = "$_r" ] &&
		ok "$_p: a client-sent X-Forwarded-For is not believed" ||
		not_ok "$_p: a client-sent X-Forwarded-For is not believed"
	[ "$(px_status 127.0.0.5 "$LAB/" -b "sekisho=$ALICE; sekisho=$ALICE")" = "$_r" ] &&
		ok "$_p: a repeated cookie is refused" || not_ok "$_p: a repeated cookie is refused"
	s=$(px_status 127.0.0.5 "$LAB/_sekisho/auth" -b "sekisho=$ALICE")
	case $s in 4*) ok "$_p: clients cannot reach the check path ($s)" ;;
	*) not_ok "$_p: clients cannot reach the check path" "$s" ;; esac
	$CTL right revoke "$(cat "$T/alice.id")" >/dev/null
	px_refused_within 2 127.0.0.5 "$ALICE" && ok "$_p: a revoked right is refused" ||
		not_ok "$_p: a revoked right is refused"
}
