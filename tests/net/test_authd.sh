#!/bin/sh
# authd end to end: a real authd and a real ipfd on a gateway, a temporary
# SQLite store, curl as the browser.
#
#   c1 (10.0.1.2 .. 10.0.1.60) --- gw (authd 10.0.1.1:8080, ipfd, forward) --- srv 10.0.9.2
#                                                                echo on 80..83, one per service
#
# Every client address is a separate "user's machine": curl and the
# connection probe bind to it. The sweeper runs every second; a right is made
# expired or idle by moving its expires_at / last_seen into the past with the
# sqlite3 CLI, which is exactly what time would do to it.
. "${SEKISHO_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/net/lib.sh"

B=$SEKISHO_BUILD
net_init

PORTAL=http://10.0.1.1:8080
DB=$T/db.sqlite
CONF=$T/sekisho.conf
cat >"$CONF" <<EOF
[db]
path = $DB
[authd]
listen = 10.0.1.1:8080
base_url = $PORTAL
web_dir = $SEKISHO_TOP/web
sweep_interval_s = 1
ipfd_timeout_ms = 2000
hash_workers = 2
throttle_ip_burst = 3
throttle_user_burst = 3
throttle_refill_s = 60
[ipfd]
socket = $T/ipfd.sock
group = root
hook = forward
sync_interval_s = 30
enabled = on
EOF

ctl() { "$B/sekishoctl" -f "$CONF" "$@"; }
sql() { sqlite3 -cmd ".timeout 5000" "$DB" "$@"; }
svc_id() { sql "SELECT id FROM services WHERE name = '$1'"; }
live() { sql "SELECT count(*) FROM rights WHERE ended_at IS NULL AND service_name = '$1'"; }
# Addresses held in the kernel set of a service (IPv4).
set_count() { in_ns gw nft list set inet sekisho "s$(svc_id "$1")_v4" | grep -o '10\.0\.1\.[0-9]*' | wc -l; }
set_has() { in_ns gw nft list set inet sekisho "s$(svc_id "$1")_v4" | grep -q "$2[ ,]"; }
set_lacks() { ! set_has "$@"; }
no_live() { [ "$(live "$1")" = 0 ]; }
MON=http://127.0.0.1:9080   # authd's monitor listener, on gw's loopback
healthz_says() { in_ns gw curl -s "$MON/healthz" | grep -q "$1"; }

# 0 when client address $1 can open a TCP connection to guarded port $2 (80) and get an echo.
fw_open() {
	in_ns c1 "$PY" -c 'import socket, sys
s = socket.socket(); s.settimeout(2); s.bind((sys.argv[1], 0))
s.connect(("10.0.9.2", int(sys.argv[2]))); s.sendall(b"x\n"); sys.exit(0 if s.recv(8) else 1)' \
		"$1" "${2:-80}" 2>/dev/null
}
fw_closed() { ! fw_open "$1"; }

# curl as the browser at address $1 (cookie jar per address).
browser() {
	a=$1; shift
	in_ns c1 curl -s --max-time 20 --interface "$a" -b "$T/jar.$a" -c "$T/jar.$a" "$@"
}

# Opens the form at $1 (optional ?query in $2); the hidden csrf value into $T/csrf.$1.
form() {
	browser "$1" -o "$T/form.$1" "$PORTAL/${2:-}" &&
	sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$T/form.$1" | head -n 1 >"$T/csrf.$1"
}

# login ADDR USER PASSWORD SERVICE: form, then POST /login; prints the status code.
# The answer is in $T/head.ADDR and $T/body.ADDR.
login() {
	form "$1"
	browser "$1" -o "$T/body.$1" -D "$T/head.$1" -w '%{http_code}' \
		--data-urlencode "user=$2" --data-urlencode "password=$3" \
		--data-urlencode "service=$4" --data-urlencode "csrf=$(cat "$T/csrf.$1")" "$PORTAL/login"
}

# The login's CSRF token and the first right id shown on /me for address $1.
me() {
	browser "$1" -o "$T/me.$1" "$PORTAL/me"
	sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$T/me.$1" | head -n 1 >"$T/mecsrf.$1"
	sed -n 's/.*name="right" value="\([^"]*\)".*/\1/p' "$T/me.$1" | head -n 1 >"$T/meright.$1"
}

expect() {   # name want got
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "want $2, got $3"; fi
}

# ---- topology ----
for h in c1 gw srv; do host_add $h; done
link_add c1 10.0.1.2/24 gw 10.0.1.1/24
link_add srv 10.0.9.2/24 gw 10.0.9.1/24
i=3
while [ $i -le 60 ]; do in_ns c1 ip addr add "10.0.1.$i/24" dev to-gw; i=$((i + 1)); done
route_add c1 default 10.0.1.1
route_add srv default 10.0.9.1
forward_on gw
bg_start echo srv "$PY" "$NET_HELPERS/tcp.py" serve 80 81 82 83

printf 'root-password\n' >"$T/rootpw"
ctl init --root-password-file "$T/rootpw" >/dev/null
bg_start ipfd gw "$B/ipfd" -d -f "$CONF"
wait_for 5 test -S "$T/ipfd.sock"
printf 'good-password\n' >"$T/pw"
for u in alice bob carol dave erin frank t1 t2; do
	ctl user add "$u" --role user --password-file "$T/pw" >/dev/null
done
i=10
while [ $i -le 29 ]; do ctl user add "r$i" --role user --password-file "$T/pw" >/dev/null; i=$((i + 1)); done
add_service() {   # name cap port
	ctl service add "$1" --url http://10.0.9.2/ --max-usage 60 --max-interval 30 --cap "$2" \
		--admin root --guard "10.0.9.2:$3" >/dev/null
}
add_service lab 10 80
add_service capped 3 81
add_service rush 4 82
add_service sweep 10 83

# ---- start-up ----
check "authd -n accepts the config and its templates" "$B/authd" -n -f "$CONF"
sed "s|^web_dir = .*|web_dir = $T/no-such-dir|" "$CONF" >"$T/bad.conf"
check "authd -n refuses a web_dir without templates" sh -c "! '$B/authd' -n -f '$T/bad.conf' 2>/dev/null"
bg_start authd gw "$B/authd" -d -f "$CONF"
wait_for 10 in_ns gw curl -sf -o /dev/null "$MON/healthz"
check "healthz: store and ipfd answer" healthz_says 'ipfd ok'

# ---- login and admission ----
form 10.0.1.2
check "the form lists services with free places" grep -q 'lab (10 of 10 free)' "$T/form.10.0.1.2"
check "before login the client cannot reach the service" fw_closed 10.0.1.2
expect "login answers 303" 303 "$(login 10.0.1.2 alice good-password lab)"
check "303 goes to the entry handoff on the service's origin" \
	grep -Eq '^Location: http://10\.0\.9\.2/_sekisho/enter\?code=[A-Za-z0-9_-]{43}' "$T/head.10.0.1.2"
check "the portal login cookie is HttpOnly and SameSite=Strict" \
	grep -Eq '^Set-Cookie: sekisho_login=[^;]+; Path=/; Max-Age=[0-9]+; HttpOnly; SameSite=Strict' "$T/head.10.0.1.2"
check "every page carries the security headers" sh -c "
	grep -q '^Content-Security-Policy: default-src .none.; style-src .self.' '$T/head.10.0.1.2' &&
	grep -q '^X-Frame-Options: DENY' '$T/head.10.0.1.2' &&
	grep -q '^X-Content-Type-Options: nosniff' '$T/head.10.0.1.2' &&
	grep -q '^Referrer-Policy: no-referrer' '$T/head.10.0.1.2'"
check "the kernel holds the client's address once login answered" set_has lab 10.0.1.2
check "after login the client reaches the service" fw_open 10.0.1.2
check "another client is still refused" fw_closed 10.0.1.3

expect "a wrong password answers 401" 401 "$(login 10.0.1.3 bob wrong-password lab)"
check "the 401 page says only 'wrong name or password'" grep -q 'Wrong name or password.' "$T/body.10.0.1.3"
expect "an unknown name answers the same 401" 401 "$(login 10.0.1.3 nobody good-password lab)"
check "a failed login opens nothing" fw_closed 10.0.1.3
expect "an unknown service answers 404" 404 "$(login 10.0.1.3 bob good-password nosuch)"

# ---- the cap ----
st=$(login 10.0.1.4 bob good-password capped)
st="$st $(login 10.0.1.5 carol good-password capped)"
st="$st $(login 10.0.1.6 dave good-password capped)"
expect "cap 3: three users are admitted" "303 303 303" "$st"
expect "cap 3: the fourth user gets 503" 503 "$(login 10.0.1.7 erin good-password capped)"
check "the 503 carries Retry-After and the occupancy" sh -c "
	grep -Eq '^Retry-After: [0-9]+' '$T/head.10.0.1.7' && grep -q '(3 of 3)' '$T/body.10.0.1.7'"
expect "cap 3: exactly three live rights" 3 "$(live capped)"
expect "cap 3: exactly three addresses in the set" 3 "$(set_count capped)"
check "an admitted user reaches the capped service" fw_open 10.0.1.4 81
check "the refused user cannot reach it" fw_closed 10.0.1.7 81

# ---- many at once ----
i=10 pids=""
while [ $i -le 29 ]; do
	(echo "$(login "10.0.1.$((i + 20))" "r$i" good-password rush)" >"$T/rush.$i") &
	pids="$pids $!"
	i=$((i + 1))
done
for p in $pids; do wait "$p"; done
expect "20 concurrent logins, cap 4: four 303s" 4 "$(cat "$T"/rush.* | grep -c 303)"
expect "20 concurrent logins, cap 4: the rest 503" 16 "$(cat "$T"/rush.* | grep -c 503)"
expect "20 concurrent logins, cap 4: never more than four live rights" 4 "$(live rush)"
expect "20 concurrent logins, cap 4: four addresses in the set" 4 "$(set_count rush)"

# ---- relogin, release, logout ----
expect "alice logs in again from another machine" 303 "$(login 10.0.1.8 alice good-password lab)"
expect "relogin replaces the old right" 1 "$(sql "SELECT count(*) FROM rights WHERE ended_at IS NULL AND user_name = 'alice' AND service_name = 'lab'")"
check "relogin: the old address leaves the set (sent right after the answer)" wait_for 2 set_lacks lab 10.0.1.2
check "relogin: the old machine is cut off" fw_closed 10.0.1.2
check "relogin: the new machine gets through" fw_open 10.0.1.8

login 10.0.1.9 frank good-password lab >/dev/null
me 10.0.1.9
check "/me lists the right with its release button" sh -c "grep -q '<h2>lab</h2>' '$T/me.10.0.1.9' && test -s '$T/meright.10.0.1.9'"
expect "release without the login's CSRF token is 403" 403 "$(browser 10.0.1.9 -o /dev/null -w '%{http_code}' \
	--data "right=$(cat "$T/meright.10.0.1.9")" "$PORTAL/release")"
check "a refused release leaves the access open" fw_open 10.0.1.9
expect "release answers 303 to /me" 303 "$(browser 10.0.1.9 -o /dev/null -w '%{http_code}' \
	--data "right=$(cat "$T/meright.10.0.1.9")&csrf=$(cat "$T/mecsrf.10.0.1.9")" "$PORTAL/release")"
check "release closes the firewall at once" fw_closed 10.0.1.9
expect "release records the reason (4, released)" 4 "$(sql "SELECT end_reason FROM rights WHERE id = $(cat "$T/meright.10.0.1.9")")"

me 10.0.1.8
expect "logout answers 200" 200 "$(browser 10.0.1.8 -o /dev/null -w '%{http_code}' \
	--data "csrf=$(cat "$T/mecsrf.10.0.1.8")" "$PORTAL/logout")"
check "logout closes the firewall at once" fw_closed 10.0.1.8
expect "after logout /me sends to the form" 303 "$(browser 10.0.1.8 -o /dev/null -w '%{http_code}' "$PORTAL/me")"

# ---- the sweeper ----
login 10.0.1.11 alice good-password sweep >/dev/null
login 10.0.1.12 bob good-password sweep >/dev/null
r_exp=$(sql "SELECT id FROM rights WHERE ended_at IS NULL AND user_name = 'alice' AND service_name = 'sweep'")
r_idle=$(sql "SELECT id FROM rights WHERE ended_at IS NULL AND user_name = 'bob' AND service_name = 'sweep'")
check "sweep: alice's machine is in before" fw_open 10.0.1.11 83
sql "UPDATE rights SET expires_at = strftime('%s','now') - 1 WHERE id = $r_exp"
sql "UPDATE rights SET last_seen = strftime('%s','now') - 31 * 60 WHERE id = $r_idle"
wait_for 5 no_live sweep
expect "the sweeper ends an expired right (reason 1, expired)" 1 "$(sql "SELECT end_reason FROM rights WHERE id = $r_exp")"
expect "the sweeper ends an idle right (reason 2, idle)" 2 "$(sql "SELECT end_reason FROM rights WHERE id = $r_idle")"
in_ns gw nft list set inet sekisho "s$(svc_id sweep)_v4" | grep -o '10\.0\.1\.1[12]' >"$T/sweepset"
check "the swept addresses leave the set" sh -c "! grep -q . '$T/sweepset'"
check "the expired client cannot connect" fw_closed 10.0.1.11 83
check "the idle client cannot connect" fw_closed 10.0.1.12 83

# ---- CSRF, size, throttling ----
form 10.0.1.13
expect "login without a csrf field is 403" 403 "$(browser 10.0.1.13 -o /dev/null -w '%{http_code}' \
	--data 'user=carol&password=good-password&service=lab' "$PORTAL/login")"
expect "login posted from another site is 403" 403 "$(browser 10.0.1.13 -o /dev/null -w '%{http_code}' \
	-H 'Sec-Fetch-Site: cross-site' --data "user=carol&password=good-password&service=lab&csrf=$(cat "$T/csrf.10.0.1.13")" "$PORTAL/login")"
check "a refused form opens nothing" fw_closed 10.0.1.13
head -c 20000 /dev/zero | tr '\0' 'a' | sed 's/^/user=/' >"$T/big"
expect "an oversized body is 413" 413 "$(browser 10.0.1.13 -o /dev/null -w '%{http_code}' \
	--data-binary "@$T/big" "$PORTAL/login")"
expect "an overlong name is 400" 400 "$(login 10.0.1.13 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa x lab)"

expect "t1 logs in from its usual machine" 303 "$(login 10.0.1.52 t1 good-password lab)"
for n in 1 2 3; do login 10.0.1.50 t1 guess-$n lab >/dev/null; done
expect "the fourth failure in a row from one address is 429" 429 "$(login 10.0.1.50 t1 guess-4 lab)"
check "429 carries Retry-After" grep -Eq '^Retry-After: [0-9]+' "$T/head.10.0.1.50"
expect "throttled even with the right password" 429 "$(login 10.0.1.50 t1 good-password lab)"
expect "the account's own machine still logs in during the attack" 303 "$(login 10.0.1.52 t1 good-password lab)"
expect "another account from another address is not slowed" 303 "$(login 10.0.1.53 t2 good-password lab)"

# ---- escaping ----
bad='<script>alert("x")</script>'
form 10.0.1.54 "?service=%3Cscript%3Ealert(%22x%22)%3C%2Fscript%3E"
cp "$T/form.10.0.1.54" "$T/esc.query"
login 10.0.1.54 "$bad" x lab >/dev/null; cp "$T/body.10.0.1.54" "$T/esc.user"
login 10.0.1.54 carol x "$bad" >/dev/null; cp "$T/body.10.0.1.54" "$T/esc.service"
browser 10.0.1.54 -o "$T/esc.404" "$PORTAL/%3Cscript%3E"
browser 10.0.1.54 -o "$T/esc.csrf" --data "user=$bad&password=x&service=lab" "$PORTAL/login"
check "a reflected query value is shown escaped" grep -q '&lt;script&gt;alert(&quot;x&quot;)' "$T/esc.query"
check "a rejected name is shown escaped" grep -q '&lt;script&gt;alert(&quot;x&quot;)' "$T/esc.user"
check "no page carries the raw markup" sh -c "! grep -l '<script' '$T'/esc.*"

# ---- a hash made with weaker parameters is made anew at login ----
# What a store written before the default was raised holds: ln=10 instead of 15.
weak_hash() {
	"$PY" -c 'import base64, hashlib, os, sys
salt = os.urandom(16)
h = hashlib.scrypt(sys.argv[1].encode(), salt=salt, n=1 << 10, r=8, p=1, dklen=32)
b = lambda x: base64.b64encode(x).decode().rstrip("=")
print("$scrypt$ln=10,r=8,p=1$" + b(salt) + "$" + b(h))' "$1"
}
pwhash() { sql "SELECT pwhash FROM users WHERE name = '$1'"; }
ctl user add weak --role user --password-file "$T/pw" >/dev/null
sql "UPDATE users SET pwhash = '$(weak_hash good-password)' WHERE name = 'weak'"
old=$(pwhash weak)
expect "a user with an ln=10 hash logs in" 303 "$(login 10.0.1.56 weak good-password lab)"
new=$(pwhash weak)
check "the stored hash now has the default parameters" sh -c "case '$new' in '\$scrypt\$ln=15,r=8,p=1\$'*) true;; *) false;; esac"
check "and is a new hash, not the old one" test "$new" != "$old"
check "authd logs the rehash" grep -q 'event=rehash user=weak params=ln15,r8,p1' "$T/authd.log"
browser 10.0.1.56 -o "$T/me.weak" -w '%{http_code}' "$PORTAL/me" >"$T/me.weak.code"
expect "/me still answers for the login made with the old hash" 200 "$(cat "$T/me.weak.code")"
expect "the password still works with the new hash" 303 "$(login 10.0.1.56 weak good-password lab)"
expect "and the hash is not made again" "$new" "$(pwhash weak)"

# ---- ipfd down: fail closed ----
bg_stop ipfd
expect "with ipfd down, login answers 503" 503 "$(login 10.0.1.55 carol good-password lab)"
expect "with ipfd down, the right is rolled back" 0 "$(sql "SELECT count(*) FROM rights WHERE ended_at IS NULL AND user_name = 'carol' AND service_name = 'lab'")"
check "healthz reports ipfd unavailable" healthz_says 'ipfd unavailable'
bg_start ipfd gw "$B/ipfd" -d -f "$CONF"
wait_for 5 test -S "$T/ipfd.sock"
expect "with ipfd back, login works again" 303 "$(login 10.0.1.55 carol good-password lab)"
check "with ipfd back, the client gets through" fw_open 10.0.1.55

# ---- metrics, reload, stop ----
expect "metrics count logins by result" 17 "$(in_ns gw curl -s "$MON/metrics" | sed -n 's/^sekisho_authd_logins_total{result="cap_reached"} //p')"
# HTTP workers: 4 per CPU kept, up to 4 per CPU + 2 x 32 (the default) in a burst.
workers=$(in_ns gw curl -s "$MON/metrics" | sed -n 's/^sekisho_authd_http_workers //p')
cpus=$(nproc)
check "metrics count the HTTP workers alive, between those kept and the most" \
	test "${workers:-0}" -ge $((4 * cpus)) -a "${workers:-0}" -le $((4 * cpus + 64))
kill -HUP "$(cat "$T/authd.pid")"
wait_for 5 grep -q 'event=reload' "$T/authd.log"
check "SIGHUP reloads and the portal keeps answering" in_ns c1 curl -sf -o /dev/null "$PORTAL/"
kill -TERM "$(cat "$T/authd.pid")"
wait_for 10 sh -c "! kill -0 $(cat "$T/authd.pid") 2>/dev/null"
check "SIGTERM stops authd cleanly" grep -q 'event=stop$' "$T/authd.log"
check "the firewall outlives authd" fw_open 10.0.1.55

tap_done
