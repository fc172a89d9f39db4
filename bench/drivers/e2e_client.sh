#!/bin/sh
# One client of bench/e2e.sh, run inside its network namespace (kept out of
# bench/*.sh, which bench/run.sh runs as benchmarks): K accesses one after
# another, each a fresh login followed by the first use of the service, timed
# by curl itself (-w, from the start of the transfer to its end:
# curl's own start-up is not counted).
#
#   T1  POST /login -> 303 (password check, admission, ipfd's kernel ack, entry code)
#   T2  GET the 303's Location (cid's handoff: code -> cookie -> 303) and follow
#       it to the service's first page (firewall, nginx auth_request, cid, app)
#
# With RETRIES > 1 a login answered 503 (authd busy: every hash worker taken
# for 20 s) is tried again after its Retry-After, and a connection authd did
# not take (code 000: its connection limit) after a second, as a user pressing
# reload would; T1 is then the sum of every attempt and every wait.
#
# Usage: sh e2e_client.sh PORTAL ADDR USER PASSWORD SERVICE K OUT [RETRIES]
# Appends one line per access to OUT:
#   "CODE1 T1 CODE2 T2 REDIRECTS BUSY REFUSED" (seconds; BUSY: 503 answers,
#   REFUSED: connections that failed, the form's included)
set -u
portal=$1 addr=$2 user=$3 pw=$4 service=$5 k=$6 out=$7 retries=${8:-1}
jar=$out.jar.$addr hdr=$out.hdr.$addr
rm -f "$jar"
get() { curl -s --max-time 600 --interface "$addr" -b "$jar" -c "$jar" "$@"; }
add() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", a + b }'; }

# The login form once: its CSRF value stays valid (double submit with a cookie).
refused=0 tries=0 csrf=""
while [ -z "$csrf" ] && [ "$tries" -lt "$retries" ]; do
	[ "$tries" -eq 0 ] || { refused=$((refused + 1)); sleep 1; }
	csrf=$(get "$portal/" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -n 1)
	tries=$((tries + 1))
done
i=0
while [ "$i" -lt "$k" ]; do
	t1=0 tries=0 busy=0
	while :; do
		tries=$((tries + 1))
		r1=$(get -D "$hdr" -o /dev/null -w '%{http_code} %{time_total} %{redirect_url}' \
			--data-urlencode "user=$user" --data-urlencode "password=$pw" \
			--data-urlencode "service=$service" --data-urlencode "csrf=$csrf" "$portal/login")
		code1=${r1%% *} rest=${r1#* }
		t1=$(add "$t1" "${rest%% *}") loc=${rest#* }
		case $code1 in
		503) busy=$((busy + 1))
		     wait_s=$(tr -d '\r' <"$hdr" | sed -n 's/^[Rr]etry-[Aa]fter: *\([0-9][0-9]*\)$/\1/p') ;;
		000) refused=$((refused + 1)) wait_s=1 ;;
		*)   break ;;
		esac
		[ "$tries" -lt "$retries" ] || break
		[ -n "$wait_s" ] && [ "$wait_s" -le 30 ] || wait_s=5
		sleep "$wait_s"
		t1=$(add "$t1" "$wait_s")
	done
	if [ "$code1" = 303 ] && [ -n "$loc" ]; then
		r2=$(get -L -o /dev/null -w '%{http_code} %{time_total} %{num_redirects}' "$loc")
	else
		r2="000 0 0"
	fi
	echo "$code1 $t1 $r2 $busy $refused" >>"$out"
	refused=0 i=$((i + 1))
done
rm -f "$jar" "$hdr"
