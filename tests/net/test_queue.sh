#!/bin/sh
# The waiting room end to end: a real authd and a real ipfd on a gateway, a
# temporary SQLite store, curl as the browser (one cookie jar per address).
#
#   c1 (10.0.1.2 .. 10.0.1.80) --- gw (authd 10.0.1.1:8080, ipfd, forward) --- srv 10.0.9.2
#                                         cid 127.0.0.1:8081              echo on 80, 81
#
# cid is the service's door: its checks are asked from gw's 127.0.0.1 (a
# trusted proxy, as nginx would) with the browser's address in
# X-Forwarded-For and the browser's cookies.
#
# A place is made to lapse by moving its last_poll into the past with the
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
hash_workers = 2
queue = on
queue_max = 3
queue_lapse_s = 60
queue_refresh_s = 5
throttle_ip_burst = 100
throttle_checks_per_s = 1000
[cid]
listen = 127.0.0.1:8081
trusted_proxies = 127.0.0.1
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
set_count() { in_ns gw nft list set inet sekisho "s$(svc_id "$1")_v4" | grep -o '10\.0\.1\.[0-9]*' | wc -l; }
MON=http://127.0.0.1:9080

fw_open() {
	in_ns c1 "$PY" -c 'import socket, sys
s = socket.socket(); s.settimeout(2); s.bind((sys.argv[1], 0))
s.connect(("10.0.9.2", int(sys.argv[2]))); s.sendall(b"x\n"); sys.exit(0 if s.recv(8) else 1)' \
		"$1" "${2:-80}" 2>/dev/null
}
fw_closed() { ! fw_open "$@"; }

browser() {
	a=$1; shift
	in_ns c1 curl -s --max-time 30 --interface "$a" -b "$T/jar.$a" -c "$T/jar.$a" "$@"
}
form() {
	browser "$1" -o "$T/form.$1" "$PORTAL/" &&
	sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$T/form.$1" | head -n 1 >"$T/csrf.$1"
}
# login ADDR USER PASSWORD SERVICE: prints the status; answer in $T/head.ADDR, $T/body.ADDR.
login() {
	form "$1"
	browser "$1" -o "$T/body.$1" -D "$T/head.$1" -w '%{http_code}' \
		--data-urlencode "user=$2" --data-urlencode "password=$3" \
		--data-urlencode "service=$4" --data-urlencode "csrf=$(cat "$T/csrf.$1")" "$PORTAL/login"
}
# poll ADDR SERVICE: the waiting page's refresh; prints the status.
poll() {
	browser "$1" -o "$T/body.$1" -D "$T/head.$1" -w '%{http_code}' "$PORTAL/queue?service=$2"
}
# The position the last answer to ADDR showed (page and header agree), or "-".
position() {
	p=$(sed -n 's/.*<strong id="position">\([0-9]*\)<.*/\1/p' "$T/body.$1")
	h=$(sed -n 's/^X-Sekisho-Queue-Position: \([0-9]*\).*/\1/p' "$T/head.$1" | tr -d '\r')
	if [ -n "$p" ] && [ "$p" = "$h" ]; then echo "$p"; else echo "-"; fi
}
# door ADDR [COOKIE]: cid's verdict on ADDR's request to lab with the browser's
# cookies (from its jar), or with COOKIE given; prints the status.
CID=http://127.0.0.1:8081
jar_cookies() {
	sed 's/^#HttpOnly_//' "$T/jar.$1" 2>/dev/null | grep -v '^#' |
		awk -F'\t' 'NF >= 7 { printf "%s%s=%s", sep, $6, $7; sep = "; " }'
}
door() {
	in_ns gw curl -s --max-time 5 -o /dev/null -w '%{http_code}' -H 'X-Sekisho-Service: lab' \
		-H "X-Forwarded-For: $1" -H "Cookie: ${2:-$(jar_cookies "$1")}" "$CID/_sekisho/auth"
}
# enter ADDR: redeems the entry code of ADDR's last answer at cid; prints the access cookie.
enter() {
	code=$(tr -d '\r' <"$T/head.$1" | sed -n 's/^Location: .*_sekisho\/enter?code=\(.*\)$/\1/p')
	in_ns gw curl -s --max-time 5 -o /dev/null -D - -H 'X-Sekisho-Service: lab' \
		-H "X-Forwarded-For: $1" "$CID/_sekisho/enter?code=$code" |
		tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: sekisho=\([^;]*\);.*/\1/p'
}
expect() {   # name want got
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "want $2, got $3"; fi
}

# ---- topology ----
for h in c1 gw srv; do host_add $h; done
link_add c1 10.0.1.2/24 gw 10.0.1.1/24
link_add srv 10.0.9.2/24 gw 10.0.9.1/24
i=3
while [ $i -le 80 ]; do in_ns c1 ip addr add "10.0.1.$i/24" dev to-gw; i=$((i + 1)); done
route_add c1 default 10.0.1.1
route_add srv default 10.0.9.1
forward_on gw
bg_start echo srv "$PY" "$NET_HELPERS/tcp.py" serve 80 81

printf 'root-password\n' >"$T/rootpw"
ctl init --root-password-file "$T/rootpw" >/dev/null
bg_start ipfd gw "$B/ipfd" -d -f "$CONF"
wait_for 5 test -S "$T/ipfd.sock"
printf 'good-password\n' >"$T/pw"
for u in u1 u2 u3 u4 u5 u6 u7; do
	ctl user add "$u" --role user --password-file "$T/pw" >/dev/null
done
ctl service add lab --url http://10.0.9.2/ --max-usage 60 --max-interval 30 --cap 2 \
	--admin root --guard 10.0.9.2:80 >/dev/null
bg_start authd gw "$B/authd" -d -f "$CONF"
wait_for 10 in_ns gw curl -sf -o /dev/null "$MON/healthz"
bg_start cid gw "$B/cid" -d -f "$CONF"
wait_for 10 in_ns gw curl -sf -o /dev/null http://127.0.0.1:9081/healthz

# ---- cap 2, five users ----
st=""
for n in 1 2 3 4 5; do st="$st $(login "10.0.1.$((n + 1))" "u$n" good-password lab)"; done
expect "cap 2, five logins: two admitted (303), three waiting (200)" " 303 303 200 200 200" "$st"
expect "the three waiting see positions 1, 2, 3" "1 2 3" \
	"$(position 10.0.1.4) $(position 10.0.1.5) $(position 10.0.1.6)"
check "the waiting page refreshes itself to GET /queue, without JavaScript" sh -c "
	grep -q '<meta http-equiv=\"refresh\" content=\"5; url=/queue?service=lab\">' '$T/body.10.0.1.6' &&
	! grep -qi '<script' '$T/body.10.0.1.6'"
check "the head's page refreshes after 1 s (its turn comes with the next departure)" grep -q \
	'<meta http-equiv="refresh" content="1; url=/queue?service=lab">' "$T/body.10.0.1.4"
check "the page says how many are ahead" grep -q '<span id="ahead">2</span> ahead of you' "$T/body.10.0.1.6"
expect "the line is kept in the store" 3 "$(sql "SELECT count(*) FROM queue")"
expect "two live rights, two addresses in the set" "2 2" "$(live lab) $(set_count lab)"
check "a queued user cannot reach the service" fw_closed 10.0.1.4
check "the queued user's browser holds cookies (its portal login)" test -n "$(jar_cookies 10.0.1.4)"
expect "the queued user's cookies are refused at cid's door" 401 "$(door 10.0.1.4)"
expect "a refresh keeps the place" "200 2" "$(poll 10.0.1.5 lab) $(position 10.0.1.5)"
expect "a second refresh too" "200 2" "$(poll 10.0.1.5 lab) $(position 10.0.1.5)"
expect "logging in again from the same browser keeps the place, without a second password check" \
	"200 3" "$(login 10.0.1.6 u5 not-the-password lab) $(position 10.0.1.6)"

# ---- a departure: the head is admitted at its next refresh ----
browser 10.0.1.2 -o "$T/me.10.0.1.2" "$PORTAL/me"
sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$T/me.10.0.1.2" | head -n 1 >"$T/mecsrf"
expect "an admitted user logs out" 200 "$(browser 10.0.1.2 -o /dev/null -w '%{http_code}' \
	--data "csrf=$(cat "$T/mecsrf")" "$PORTAL/logout")"
expect "the freed slot waits for the head: the second in line still waits" "200 2" \
	"$(poll 10.0.1.5 lab) $(position 10.0.1.5)"
expect "one live right while the head has not refreshed" 1 "$(live lab)"
expect "that poll gave the head its turn (queue.turn_at), and nobody else" "u3" \
	"$(sql "SELECT u.name FROM queue q JOIN users u ON u.id = q.user_id WHERE q.turn_at IS NOT NULL")"
turn=$(sql "SELECT q.turn_at FROM queue q JOIN users u ON u.id = q.user_id WHERE u.name = 'u3'")
check "the queued head still cannot reach the service" fw_closed 10.0.1.4
expect "the head's refresh admits it (303 to the entry handoff)" 303 "$(poll 10.0.1.4 lab)"
check "the admission goes to the entry handoff" \
	grep -Eq '^Location: http://10\.0\.9\.2/_sekisho/enter\?code=' "$T/head.10.0.1.4"
check "the admitted head reaches the service" fw_open 10.0.1.4
expect "the head's admit audit row carries its turn" "turn_at=$turn" \
	"$(sql "SELECT detail FROM audit WHERE action = 'admit' AND target = 'u3' ORDER BY id DESC LIMIT 1" |
	   grep -o 'turn_at=[0-9]*')"
expect "its turn came no later than its admission" 1 \
	"$(sql "SELECT $turn <= at FROM audit WHERE action = 'admit' AND target = 'u3' ORDER BY id DESC LIMIT 1")"
U3=$(enter 10.0.1.4)
check "the head redeems its entry code at cid's door and gets the access cookie" test -n "$U3"
expect "the admitted head's cookie is accepted at cid's door (204)" 204 "$(door 10.0.1.4 "sekisho=$U3")"
expect "a cookie from another address is refused there" 401 "$(door 10.0.1.5 "sekisho=$U3")"
expect "the others move up" "1 2" "$(poll 10.0.1.5 lab >/dev/null; position 10.0.1.5) $(poll 10.0.1.6 lab >/dev/null; position 10.0.1.6)"

# ---- a place lapses when its browser stops polling ----
# (its turn set by hand: a slot held for a place that then lapsed)
sql "UPDATE queue SET last_poll = last_poll - 61, turn_at = last_poll - 70 WHERE user_id = (SELECT id FROM users WHERE name = 'u4')"
turn=$(sql "SELECT turn_at FROM queue WHERE user_id = (SELECT id FROM users WHERE name = 'u4')")
expect "u4's place lapsed: u5 is first" "200 1" "$(poll 10.0.1.6 lab) $(position 10.0.1.6)"
expect "the lapse is audited with the user's name" "1 u4" \
	"$(sql "SELECT count(*), group_concat(target) FROM audit WHERE action = 'queue.lapse'" | tr '|' ' ')"
expect "and with the turn it let lapse" "turn_at=$turn" \
	"$(sql "SELECT detail FROM audit WHERE action = 'queue.lapse'" | grep -o 'turn_at=[0-9]*')"
expect "u4 comes back at the end" "200 2" "$(poll 10.0.1.5 lab) $(position 10.0.1.5)"

# ---- the bound ----
expect "u6 takes the third place" "200 3" "$(login 10.0.1.7 u6 good-password lab) $(position 10.0.1.7)"
expect "past queue_max a login gets 503" 503 "$(login 10.0.1.8 u7 good-password lab)"
check "the 503 carries Retry-After and says the line is full" sh -c "
	grep -Eq '^Retry-After: [0-9]+' '$T/head.10.0.1.8' && grep -q 'waiting line is full' '$T/body.10.0.1.8'"
check "the refused user cannot reach the service" fw_closed 10.0.1.8
expect "the metrics show the line's length" 'sekisho_authd_queue_length{service="lab"} 3' \
	"$(in_ns gw curl -s "$MON/metrics" | grep '^sekisho_authd_queue_length{service="lab"}')"
sql "UPDATE queue SET joined_at = joined_at - 100 WHERE id = (SELECT min(id) FROM queue WHERE service_id = $(svc_id lab))"
w=$(in_ns gw curl -s "$MON/metrics" | sed -n 's/^sekisho_authd_queue_oldest_wait_seconds{service="lab"} \([0-9]*\)$/\1/p')
check "the metrics show how long the first in line has waited (${w:--} s)" test "${w:-0}" -ge 100 -a "${w:-0}" -lt 200
check "sekishoctl status shows the line" sh -c "'$B/sekishoctl' -f '$CONF' status | grep -Eq '^  lab +3 +[0-9]{4}-'"
check "and in JSON" sh -c "'$B/sekishoctl' -f '$CONF' status --json | grep -q '\"queues\":\[{\"service\":\"lab\",\"waiting\":3,'"
expect "joins (u3, u4, u5, u4 again, u6) and admissions are audited" "5 1" "$(sql "SELECT count(*) FROM audit WHERE action = 'queue.join'") $(sql "SELECT count(*) FROM audit WHERE action = 'admit' AND target = 'u3'")"
expect "a logged-out user's place goes" "200 0" "$(browser 10.0.1.7 -o /dev/null -w '%{http_code}' \
	--data "csrf=$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$T/body.10.0.1.7" | head -n 1)" \
	"$PORTAL/logout") $(sql "SELECT count(*) FROM queue WHERE user_id = (SELECT id FROM users WHERE name = 'u6')")"
expect "without a portal login GET /queue goes back to the form" 303 \
	"$(browser 10.0.1.9 -o /dev/null -w '%{http_code}' "$PORTAL/queue?service=lab")"

# ---- a down service gives no place in line (docs/adaptive.md) ----
# lab has no probe, so the prober leaves the row as written here.
lab_line() { sql "SELECT count(*) FROM queue WHERE service_id = $(svc_id lab)"; }
expect "two places in line, one free" 2 "$(lab_line)"
sql "UPDATE services SET health = 1 WHERE name = 'lab'"
expect "a login to a down service gets 503, not a place in line" "503 2" \
	"$(login 10.0.1.10 u7 good-password lab) $(lab_line)"
check "it is the service-unavailable page, not the full line's" sh -c "
	grep -q 'not answering' '$T/body.10.0.1.10' && ! grep -q 'waiting line is full' '$T/body.10.0.1.10'"
expect "one in line gets the same 503 at its next poll and keeps its place" "503 2" \
	"$(poll 10.0.1.6 lab) $(lab_line)"
check "the refusal is audited as service_down" sh -c "[ \"\$(sqlite3 '$DB' \"SELECT count(*) FROM audit WHERE action = 'deny' AND target = 'u7' AND detail LIKE 'reason=service_down %'\")\" = 1 ]"
sql "UPDATE services SET health = 0 WHERE name = 'lab'"
expect "up again: the line goes on in its order" "200 1" "$(poll 10.0.1.6 lab) $(position 10.0.1.6)"

# ---- an admission rate (per service): the line holds until the rate has room ----
# paced: cap 10, at most 2 new users a minute, its own waiting room on.
ctl service add paced --url http://10.0.9.2/ --max-usage 60 --max-interval 30 --cap 10 \
	--admin root --queue on --queue-max 5 --rate 2 >/dev/null
paced_line() { sql "SELECT count(*) FROM queue WHERE service_id = $(svc_id paced)"; }
st=""
for n in 1 2; do st="$st $(login "10.0.1.$((n + 19))" "u$n" good-password paced)"; done
expect "rate 2: two new users are admitted" " 303 303" "$st"
expect "the third waits in line although 8 places are free" "200 1" \
	"$(login 10.0.1.22 u3 good-password paced) $(position 10.0.1.22)"
check "its page says the line moves at the rate" grep -q 'lets in at most 2 new users a minute' "$T/body.10.0.1.22"
expect "the fourth is second" "200 2" "$(login 10.0.1.23 u4 good-password paced) $(position 10.0.1.23)"
expect "a refresh within the minute admits nobody" "200 1 2" \
	"$(poll 10.0.1.22 paced) $(position 10.0.1.22) $(live paced)"
expect "renewing one's own right is not a new user: admitted at once" 303 \
	"$(login 10.0.1.20 u1 good-password paced)"
expect "still two rights, two in line" "2 2" "$(live paced) $(paced_line)"
# The first admission leaves the minute (as time would move it): room for one.
sql "UPDATE admissions SET at = at - 60 WHERE id = (SELECT min(id) FROM admissions WHERE service_id = $(svc_id paced))"
expect "the second in line does not pass the head" "200 2" "$(poll 10.0.1.23 paced) $(position 10.0.1.23)"
expect "the head is admitted when the rate allows" 303 "$(poll 10.0.1.22 paced)"
expect "the other moves up and waits for the next room" "200 1 3" \
	"$(poll 10.0.1.23 paced) $(position 10.0.1.23) $(live paced)"
# Its line full (one place) while places are free: the rate holds it, not the cap.
ctl service edit paced --queue-max 1 >/dev/null
expect "a newcomer to the full line of a rate-held service gets 503" 503 \
	"$(login 10.0.1.26 u5 good-password paced)"
ra=$(tr -d '\r' <"$T/head.10.0.1.26" | sed -n 's/^Retry-After: \([0-9]*\)$/\1/p')
check "with Retry-After within the minute the rate moves the line in ($ra)" \
	test "${ra:-0}" -ge 1 -a "${ra:-0}" -le 60
check "the page names the rate, not a full service" sh -c "
	grep -q 'Line full' '$T/body.10.0.1.26' &&
	grep -q 'lets in at most 2 new users a minute' '$T/body.10.0.1.26' &&
	! grep -q 'are in use' '$T/body.10.0.1.26'"
# Without the waiting room: a clear 503 that names the rate.
ctl service add paced2 --url http://10.0.9.2/ --max-usage 60 --max-interval 30 --cap 10 \
	--admin root --queue off --rate 1 >/dev/null
expect "paced2 (no waiting room, rate 1): the first is admitted" 303 "$(login 10.0.1.24 u5 good-password paced2)"
expect "the second gets 503 and no place" "503 0" "$(login 10.0.1.25 u6 good-password paced2) \
$(sql "SELECT count(*) FROM queue WHERE service_id = $(svc_id paced2)")"
ra=$(tr -d '\r' <"$T/head.10.0.1.25" | sed -n 's/^Retry-After: \([0-9]*\)$/\1/p')
check "with Retry-After within the minute ($ra)" test "${ra:-0}" -ge 1 -a "${ra:-0}" -le 60
check "the page says it is the rate, not the cap" sh -c "
	grep -q 'Admission rate reached' '$T/body.10.0.1.25' && grep -q 'It is not full' '$T/body.10.0.1.25' &&
	! grep -q 'are in use' '$T/body.10.0.1.25'"
expect "the refusal is audited as rate_limited" 1 \
	"$(sql "SELECT count(*) FROM audit WHERE action = 'deny' AND service = 'paced2' AND detail LIKE 'reason=rate_limited %'")"

# ---- an idle line: the sweeper lapses its places, nobody logs in or polls ----
# quiet has its own lapse of 120 s ([authd] queue_lapse_s is 60). u12 stops
# polling (its last poll moved 121 s back), u13 polled 61 s ago: within the
# service's lapse, though past the [authd] one. After that nobody logs in
# to quiet or polls it: only the sweeper (every second) can lapse a place.
ctl service add quiet --url http://10.0.9.2/ --max-usage 60 --max-interval 30 --cap 1 \
	--admin root --queue on --queue-lapse 120 >/dev/null
quiet_place() {   # USER: 1 while USER holds a place in quiet's line, else 0
	sql "SELECT count(*) FROM queue WHERE service_id = $(svc_id quiet) AND
	     user_id = (SELECT id FROM users WHERE name = '$1')"
}
quiet_gone() { [ "$(quiet_place "$1")" = 0 ]; }
sweeps() { in_ns gw curl -s "$MON/metrics" | sed -n 's/^sekisho_authd_sweeps_total{result="ok"} \([0-9]*\)$/\1/p'; }
sweeps_past() { [ "$(sweeps)" -gt "$1" ]; }
st="$(login 10.0.1.11 u1 good-password quiet) $(login 10.0.1.12 u2 good-password quiet)"
st="$st $(login 10.0.1.13 u3 good-password quiet) $(position 10.0.1.13)"
expect "quiet (cap 1): one admitted, two in line" "303 200 200 2" "$st"
sql "UPDATE queue SET last_poll = last_poll - 121 WHERE service_id = $(svc_id quiet) AND
     user_id = (SELECT id FROM users WHERE name = 'u2')"
sql "UPDATE queue SET last_poll = last_poll - 61 WHERE service_id = $(svc_id quiet) AND
     user_id = (SELECT id FROM users WHERE name = 'u3')"
check "the sweeper lapses u2's place without any login or poll of quiet" wait_for 30 quiet_gone u2
expect "the lapse is audited by the sweeper, naming the user and the service" "1 sweeper u2 quiet" \
	"$(sql "SELECT count(*), actor, target, service FROM audit WHERE action = 'queue.lapse' AND service = 'quiet'" | tr '|' ' ')"
check "the sweeper logs the lapse and its summary" sh -c "
	grep -q 'event=queue_lapse service=quiet user=u2 ' '$T/authd.log' &&
	grep -q 'event=queue_lapse service=quiet places=1 by=sweeper' '$T/authd.log'"
s0=$(sweeps)
check "two more sweeps pass (${s0:--} before)" wait_for 30 sweeps_past "$((${s0:-0} + 1))"
expect "u3, polled within quiet's own lapse, keeps its place through them" 1 "$(quiet_place u3)"
expect "the status shows one waiting on quiet" 1 \
	"$(ctl status --json | "$PY" -c 'import json, sys
print([q["waiting"] for q in json.load(sys.stdin)["queues"] if q["service"] == "quiet"][0])')"
sql "UPDATE queue SET last_poll = last_poll - 120 WHERE service_id = $(svc_id quiet)"
check "u3 stops polling too: the sweeper lapses its place" wait_for 30 quiet_gone u3
expect "quiet's line is empty in the status" "0 0" \
	"$(ctl status --json | "$PY" -c 'import json, sys
q = [q for q in json.load(sys.stdin)["queues"] if q["service"] == "quiet"][0]
print(q["waiting"], q["first_joined"])')"
expect "and in the metrics" 'sekisho_authd_queue_oldest_wait_seconds{service="quiet"} 0' \
	"$(in_ns gw curl -s "$MON/metrics" | grep '^sekisho_authd_queue_oldest_wait_seconds{service="quiet"}')"
expect "two lapses audited on quiet, and nobody admitted or queued there since the logins" "2 1 2" \
	"$(sql "SELECT (SELECT count(*) FROM audit WHERE action = 'queue.lapse' AND service = 'quiet' AND actor = 'sweeper'),
	               (SELECT count(*) FROM audit WHERE action = 'admit' AND service = 'quiet'),
	               (SELECT count(*) FROM audit WHERE action = 'queue.join' AND service = 'quiet')" | tr '|' ' ')"

# ---- a short flood: 50 users within one second, cap 5 (bench/flood.c) ----
# Everyone is served in the end (admitted, uses the service 1 s, logs out),
# nobody gets an error, and the cap holds at every admission.
sed -i 's/^queue_max = 3$/queue_max = 100/' "$CONF"
bg_stop authd
bg_start authd gw "$B/authd" -d -f "$CONF"
wait_for 10 in_ns gw curl -sf -o /dev/null "$MON/healthz"
ctl user add c1 --role user --password-file "$T/pw" >/dev/null
sql "WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < 50)
     INSERT INTO users (name, role, pwhash, created_at)
     SELECT 'c' || i, 0, (SELECT pwhash FROM users WHERE name = 'c1'), unixepoch() FROM n;"
ctl service add crowd --url http://10.0.9.2:81/ --max-usage 60 --max-interval 30 --cap 5 \
	--admin root --guard 10.0.9.2:81 >/dev/null
in_ns c1 "$B/bench/flood" --src 10.0.1.29 --users 50 --service crowd --prefix c \
	--password good-password --portal "$PORTAL" --spread-ms 1000 --usage-s 1 --poll-s 1 \
	--retries 0 --duration-s 240 >"$T/flood.out" 2>&1
check "flood: all 50 served, none failed" grep -q '^served (admitted, used, logged out) 50; still holding a place 0; failed 0; admitted 50' "$T/flood.out"
check "flood: no errors of any kind" grep -q '^errors by kind: none' "$T/flood.out"
expect "flood: every admission was within the cap" 0 \
	"$(sql "SELECT count(*) FROM audit WHERE action = 'admit' AND service = 'crowd' AND detail NOT GLOB '*active=[1-5] cap=5*'")"
expect "flood: 50 admissions" 50 "$(sql "SELECT count(*) FROM audit WHERE action = 'admit' AND service = 'crowd'")"
expect "flood: the line is empty at the end" 0 "$(sql "SELECT count(*) FROM queue WHERE service_id = (SELECT id FROM services WHERE name = 'crowd')")"

# ---- the login line: one hash worker, 100 users within one second ----
# Every login is answered at once (its own answer, or a page with its place
# in the login line that refreshes to /login/wait) and goes on to the
# service in the order it reached authd: the order of the tickets.
sed -i 's/^hash_workers = 2$/hash_workers = 1/' "$CONF"
bg_stop authd
bg_start authd gw "$B/authd" -d -f "$CONF"
wait_for 10 in_ns gw curl -sf -o /dev/null "$MON/healthz"
i=81
while [ $i -le 200 ]; do echo "addr add 10.0.1.$i/24 dev to-gw"; i=$((i + 1)); done >"$T/more.batch"
in_ns c1 ip -batch "$T/more.batch"
ctl user add l1 --role user --password-file "$T/pw" >/dev/null
sql "WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < 100)
     INSERT INTO users (name, role, pwhash, created_at)
     SELECT 'l' || i, 0, (SELECT pwhash FROM users WHERE name = 'l1'), unixepoch() FROM n;"
ctl service add lined --url http://10.0.9.2:82/ --max-usage 60 --max-interval 30 --cap 100 \
	--admin root --guard 10.0.9.2:82 >/dev/null
in_ns c1 "$B/bench/flood" --src 10.0.1.99 --users 100 --service lined --prefix l \
	--password good-password --portal "$PORTAL" --spread-ms 1000 --usage-s 1 --poll-s 1 \
	--retries 0 --duration-s 240 >"$T/line.out" 2>&1
check "login line: all 100 served, none failed" grep -q '^served (admitted, used, logged out) 100; still holding a place 0; failed 0; admitted 100' "$T/line.out"
check "login line: no errors of any kind" grep -q '^errors by kind: none' "$T/line.out"
lined=$(sed -n 's/.*login line: \([0-9]*\) users held a ticket.*/\1/p' "$T/line.out")
check "login line: those beyond the first 32 were answered at once with a place in line ($lined of 100)" \
	test "${lined:-0}" -ge 50
grep 'event=login_line_join' "$T/authd.log" | grep 'service=lined' |
	sed 's/.*ticket=\([0-9]*\) user=\([a-z0-9]*\) .*/\1 \2/' | sort -n | cut -d' ' -f2 >"$T/line.order"
sql "SELECT target FROM audit WHERE action = 'admit' AND service = 'lined' ORDER BY id" >"$T/admit.order"
expect "login line: 100 tickets" 100 "$(wc -l <"$T/line.order")"
check "login line: admissions in ticket order" cmp -s "$T/line.order" "$T/admit.order"
pw_in_store=$(sql "SELECT count(*) FROM audit WHERE detail LIKE '%good-password%'")
expect "login line: no password in the store's records" 0 "$pw_in_store"
expect "/login/wait without a ticket: 404" 404 \
	"$(browser 10.0.1.70 -o /dev/null -w '%{http_code}' "$PORTAL/login/wait")"

tap_done
