#!/bin/sh
# make demo works: dist/demo.sh in its smoke mode (the flow once with curl from
# this host, through the gateway namespace, to nginx in the service namespace),
# twice in a row, after an interrupted run, and it leaves nothing behind.
# Names and addresses are this run's own (SEKISHO_DEMO_PREFIX / _NET), so a
# demo someone is running is never touched.
. "${SEKISHO_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/net/lib.sh"
net_init

DP="skd$$"
export SEKISHO_DEMO_PREFIX=$DP SEKISHO_DEMO_NET=$((100 + $$ % 48 * 2))
DEMO="$SEKISHO_TOP/dist/demo.sh"

leftovers() {   # what of the demo is still there, one word per kind
	ip netns list | grep -q "^$DP-" && echo namespaces
	ip link show "${DP}0" >/dev/null 2>&1 && echo link
	ip route | grep -q "^198\.18\.$((SEKISHO_DEMO_NET + 1))\.0/24" && echo route
	[ -e "/run/sekisho-$DP" ] && echo state
	pgrep -f "/run/sekisho-$DP/" >/dev/null && echo processes
	return 0
}
clean() { [ -z "$(leftovers)" ]; }
demo_cleanup() {   # whatever a failed case left
	for ns in "$DP-gw" "$DP-srv"; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
	done
	ip link del "${DP}0" 2>/dev/null
	rm -rf "/run/sekisho-$DP"
}
trap 'demo_cleanup; net_cleanup' EXIT

smoke() {   # n: one smoke run, output in $T/smoke.N
	SEKISHO_DEMO_SMOKE=1 sh "$DEMO" "$SEKISHO_BUILD" >"$T/smoke.$1" 2>&1
}
passed() { grep -q 'demo: smoke run passed' "$T/smoke.$1" && ! grep -q FAIL "$T/smoke.$1"; }

check "the smoke run passes" smoke 1
check "it logs in, is refused at the cap, uses the other service; exposes only the portal" \
	sh -c "[ \$(grep -c '^  ok ' '$T/smoke.1') -eq 10 ]"
check "it reports the flow's results" passed 1
check "it leaves no namespace, link, route, state or process behind" clean
check "a second run in a row passes too" smoke 2
check "and leaves nothing behind either" clean

# An interrupted run (SIGKILL: no trap runs) leaves everything; the next run clears it.
sh "$DEMO" "$SEKISHO_BUILD" >"$T/interactive" 2>&1 &
pid=$!
wait_for 30 grep -q 'demo is up' "$T/interactive"
check "the interactive demo comes up and prints the portal" grep -q "Portal .*http://198\.18\.$SEKISHO_DEMO_NET\.2:8080/" "$T/interactive"
check "it prints the demo credentials" grep -q 'password demo-user-pw' "$T/interactive"
# As a deployment runs them (dist/sekisho-*.service): own users, the units' capabilities.
daemon() {   # name -> "USER CAPEFF" of the running daemon
	p=/proc/$(cat "/run/sekisho-$DP/$1.pid" 2>/dev/null)
	echo "$(stat -c %U "$p" 2>/dev/null) $(sed -n 's/^CapEff:\t*//p' "$p/status" 2>/dev/null)"
}
for d in authd cid ipfd; do
	want="sekisho-$d 0000000000000000"
	[ "$d" != ipfd ] || want="sekisho-ipfd 0000000000001000"
	got=$(daemon "$d")
	if [ "$got" = "$want" ]; then ok "the demo runs $d as $want"; else not_ok "the demo runs $d as $want" "got '$got'"; fi
done
kill -9 "$pid"
wait "$pid" 2>/dev/null
check "a killed demo leaves its namespaces behind" sh -c "ip netns list | grep -q '^$DP-'"
check "the next run removes the leftovers and passes" smoke 3
check "it said it removed leftovers" grep -q 'removing leftovers' "$T/smoke.3"
check "and nothing is left afterwards" clean

# SIGTERM (as from systemd or kill) ends the demo and removes everything.
sh "$DEMO" "$SEKISHO_BUILD" >"$T/interactive2" 2>&1 &
pid=$!
wait_for 30 grep -q 'demo is up' "$T/interactive2"
kill -TERM "$pid"
wait "$pid" 2>/dev/null
check "SIGTERM stops the demo and removes everything" clean
tap_done
