#!/bin/sh
# The login throttle end to end (docs/security.md, "Login throttling"): a real
# authd over a temporary SQLite store (ipfd off), curl as the browsers, one
# address per machine and one cookie jar per browser.
#
#   c1 (10.0.1.2 .. 10.0.1.70) --- gw (authd 10.0.1.1:8080)
#
# Backoffs start at 600 s so that nothing the test expects to be refused comes
# back while it runs; nothing here waits for time to pass.
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
hash_workers = 2
throttle_ip_burst = 10
throttle_user_burst = 3
throttle_account_burst = 6
throttle_refill_s = 600
[ipfd]
socket = $T/ipfd.sock
enabled = off
EOF

ctl() { "$B/sekishoctl" -f "$CONF" "$@"; }

# curl as browser $1 (its cookie jar $T/jar.$1) at address $2.
browser() {
	j=$1 a=$2; shift 2
	in_ns c1 curl -s --max-time 30 --interface "$a" -b "$T/jar.$j" -c "$T/jar.$j" "$@"
}

# login BROWSER ADDR USER PASSWORD: the form, then POST /login; prints the status code.
login() {
	browser "$1" "$2" -o "$T/form.$1" "$PORTAL/"
	csrf=$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$T/form.$1" | head -n 1)
	browser "$1" "$2" -o "$T/body.$1" -D "$T/head.$1" -w '%{http_code}' \
		--data-urlencode "user=$3" --data-urlencode "password=$4" \
		--data-urlencode "service=lab" --data-urlencode "csrf=$csrf" "$PORTAL/login"
}

# guesses BROWSER ADDR USER N: N wrong passwords; prints their status codes, space-separated.
guesses() {
	k=1 codes=""
	while [ "$k" -le "$4" ]; do codes="$codes $(login "$1" "$2" "$3" "wrong-$k")"; k=$((k + 1)); done
	echo $codes
}

expect() {   # name want got
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "want $2, got $3"; fi
}

# flood ADDR COUNT: COUNT login posts with made-up names from ADDR (valid CSRF),
# over as few connections as authd allows; prints "STATUS xCOUNT ...".
flood() {
	browser flood "$1" -o "$T/form.flood" "$PORTAL/"
	csrf=$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$T/form.flood" | head -n 1)
	in_ns c1 "$PY" -c 'import http.client, sys, urllib.parse, collections
addr, n, csrf = sys.argv[1], int(sys.argv[2]), sys.argv[3]
seen = collections.Counter(); c = None
for i in range(n):
    body = urllib.parse.urlencode({"user": "nobody%d" % i, "password": "x", "service": "lab", "csrf": csrf})
    for attempt in (0, 1):
        try:
            if c is None:
                c = http.client.HTTPConnection("10.0.1.1", 8080, timeout=30, source_address=(addr, 0))
            c.request("POST", "/login", body, {"Cookie": "sekisho_csrf=" + csrf,
                      "Content-Type": "application/x-www-form-urlencoded"})
            r = c.getresponse(); r.read(); seen[r.status] += 1
            if (r.getheader("Connection") or "").lower() == "close": c.close(); c = None
            break
        except (http.client.HTTPException, OSError):
            c = None
print(" ".join("%d x%d" % kv for kv in sorted(seen.items())))' "$1" "$2" "$csrf"
}

# ---- topology, store, authd ----
host_add c1; host_add gw
link_add c1 10.0.1.2/24 gw 10.0.1.1/24
i=3
while [ $i -le 70 ]; do in_ns c1 ip addr add "10.0.1.$i/24" dev to-gw; i=$((i + 1)); done

printf 'root-password\n' >"$T/rootpw"
ctl init --root-password-file "$T/rootpw" >/dev/null
printf 'good-password\n' >"$T/pw"
for u in victim other; do ctl user add "$u" --role user --password-file "$T/pw" >/dev/null; done
ctl service add lab --url http://10.0.9.2/ --max-usage 60 --max-interval 30 --cap 50 \
	--admin root >/dev/null
bg_start authd gw "$B/authd" -d -f "$CONF"
wait_for 10 in_ns gw curl -sf -o /dev/null http://127.0.0.1:9080/healthz   # the monitor listener

# The victim logs in before the attack: at its desk (10.0.1.60; the browser
# "desk" keeps its device cookie) and from home (10.0.1.61; cookies thrown away).
expect "the victim logs in at its desk" 303 "$(login desk 10.0.1.60 victim good-password)"
check "a login hands out a device cookie" \
	grep -Eq '^Set-Cookie: sekisho_device=[A-Za-z0-9_-]{43}; Path=/; Max-Age=[0-9]+; HttpOnly; SameSite=Strict' \
	"$T/head.desk"
expect "the victim logs in from home" 303 "$(login home 10.0.1.61 victim good-password)"
rm -f "$T/jar.home"

# ---- item 2: a stranger's guesses slow the stranger, not the user ----
expect "a stranger's wrong guesses: 401 up to the burst, then 429" "401 401 401 429" \
	"$(guesses x1 10.0.1.50 victim 4)"
check "429 carries Retry-After" grep -Eq '^Retry-After: [0-9]+' "$T/head.x1"
expect "the stranger's right password is refused as well" 429 \
	"$(login x1 10.0.1.50 victim good-password)"
expect "the user at an address it never used is not locked out by it" 303 \
	"$(login travel 10.0.1.62 victim good-password)"

# ---- items 1 and 9b: a flood of made-up names resets nothing ----
for k in 1 2 3 4 5 6 7 8 9 10; do login x2 10.0.1.51 "made-up-$k" x >/dev/null; done
flood 10.0.1.51 4200 >"$T/flood.out"
expect "4200 more made-up names from one address are all refused" "429 x4200" "$(cat "$T/flood.out")"
expect "after the flood the stranger is still refused" 429 "$(login x1 10.0.1.50 victim wrong-5)"
check "the refused flood left no rows for its names" \
	sh -c "[ \"\$(sqlite3 '$DB' \"SELECT count(*) FROM lockouts WHERE name LIKE 'nobody%'\")\" = 0 ]"

# ---- item 2: many addresses lock the account for sources the user never used ----
for a in 52 53 54; do login "x$a" "10.0.1.$a" victim "wrong-$a" >/dev/null; done
expect "with the account under attack, an unknown address waits even with the password" 429 \
	"$(login newcomer 10.0.1.63 victim good-password)"
expect "an address the user logged in from before still gets in" 303 \
	"$(login home2 10.0.1.61 victim good-password)"
cp "$T/jar.desk" "$T/jar.laptop"
expect "the user's device cookie gets in from an unknown address" 303 \
	"$(login laptop 10.0.1.64 victim good-password)"

# ---- item 2: a NAT neighbour at the user's known address gets no free guesses ----
expect "a neighbour at the known address: 3 x 401, then 429" "401 401 401 429 429 429" \
	"$(guesses neighbour 10.0.1.60 victim 6)"
expect "the user at that address with its device cookie still gets in" 303 \
	"$(login desk 10.0.1.60 victim good-password)"
expect "another account is not slowed by any of it" 303 "$(login o1 10.0.1.65 other good-password)"

# ---- a restart remembers counts and known addresses ----
bg_stop authd
bg_start authd gw "$B/authd" -d -f "$CONF"
wait_for 10 in_ns gw curl -sf -o /dev/null http://127.0.0.1:9080/healthz   # the monitor listener
expect "after a restart the stranger is still refused" 429 "$(login x1 10.0.1.50 victim good-password)"
expect "after a restart the known address still gets in" 303 \
	"$(login home3 10.0.1.61 victim good-password)"

# ---- sekishoctl lockout list|clear ----
ctl lockout list victim >"$T/locks"
check "lockout list shows the stranger's address" grep -Eq '^victim +10\.0\.1\.50 +[0-9]+' "$T/locks"
check "lockout list shows the account's count" grep -Eq '^victim +\* +[0-9]+' "$T/locks"
expect "lockout list refuses a bad name (exit 2)" 2 "$(ctl lockout list 'no such' 2>/dev/null; echo $?)"
# ---- the admin pages: users see their own, root sees and clears everyone's ----
# page_csrf BROWSER ADDR PATH: GET the page into $T/page.BROWSER; prints its form's csrf value.
page_csrf() {
	browser "$1" "$2" -o "$T/page.$1" "$PORTAL$3"
	sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$T/page.$1" | head -n 1
}
clear_form() {   # BROWSER ADDR USER [SOURCE]: POST /admin/lockouts/clear; prints the status code
	c=$(page_csrf "$1" "$2" /admin/lockouts)
	browser "$1" "$2" -o "$T/clear.$1" -w '%{http_code}' --data-urlencode "csrf=$c" \
		--data-urlencode "user=$3" ${4:+--data-urlencode "source=$4"} "$PORTAL/admin/lockouts/clear"
}
page_csrf desk 10.0.1.60 /admin/lockouts >/dev/null
check "the user sees the failed logins on its account" grep -q '10\.0\.1\.50' "$T/page.desk"
login o2 10.0.1.66 other wrong-1 >/dev/null
login o2 10.0.1.66 other good-password >/dev/null
page_csrf o2 10.0.1.66 /admin/lockouts >/dev/null
check "another user does not see them" sh -c "! grep -q 'victim' '$T/page.o2'"
expect "another user may not clear them (403)" 403 "$(clear_form o2 10.0.1.66 victim)"
check "... because they are not its own" grep -q 'of your own account only' "$T/clear.o2"
c=$(page_csrf root 10.0.1.68 /admin/login)
browser root 10.0.1.68 -o /dev/null --data-urlencode "csrf=$c" --data-urlencode "user=root" \
	--data-urlencode "password=root-password" "$PORTAL/admin/login"
page_csrf root 10.0.1.68 /admin/lockouts >/dev/null
check "root sees every account's failed logins" \
	sh -c "grep -q '10\.0\.1\.50' '$T/page.root' && grep -q '<td data-label=\"User\">other</td>' '$T/page.root'"
expect "root clears one source from the admin page" 303 "$(clear_form root 10.0.1.68 victim 10.0.1.50)"
page_csrf root 10.0.1.68 /admin/lockouts >/dev/null
check "the cleared source is gone from the page" sh -c "! grep -q '10\.0\.1\.50' '$T/page.root'"
expect "the user clears its own account's count from the admin page" 303 \
	"$(clear_form desk 10.0.1.60 victim '*')"
expect "after that an unknown address of the user gets in" 303 \
	"$(login newcomer 10.0.1.63 victim good-password)"
expect "and the stranger's address may try again" 401 "$(login x1 10.0.1.50 victim wrong-again)"
check "clearing from the admin page is audited" sh -c "'$B/sekishoctl' -f '$CONF' audit | grep -q 'lockout.clear'"

# ---- sekishoctl lockout clear ----
guesses x3 10.0.1.69 victim 4 >/dev/null
expect "a fresh stranger is refused" 429 "$(login x3 10.0.1.69 victim good-password)"
ctl lockout clear victim >"$T/cleared"
check "lockout clear reports what it cleared" grep -Eq '^cleared [1-9][0-9]* lockout rows? of victim' "$T/cleared"
expect "after lockout clear that address gets in" 303 "$(login x3 10.0.1.69 victim good-password)"
check "lockout clear is audited with the unix user" \
	sh -c "sqlite3 '$DB' \"SELECT detail FROM audit WHERE action = 'lockout.clear' AND actor = 'sekishoctl'\" | grep -q 'by='"

tap_done
