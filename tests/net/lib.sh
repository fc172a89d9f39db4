# Network test harness, sourced by tests/net/test_*.sh (POSIX sh, runs as root).
#
#   . "$SEKISHO_TOP/tests/net/lib.sh"
#   net_init                         temp dir $T, cleanup trap (always runs)
#   host_add c1                      a network namespace (lo up)
#   host_del c1                      kill what runs in it and delete it (cleanup does all)
#   link_add c1 10.0.1.2/24 gw 10.0.1.1/24 [fd00:1::2/64 fd00:1::1/64]
#                                    a veth pair between two hosts, v4 (+ v6)
#   route_add c1 default 10.0.1.1    routes (v6 when the gateway has a ':')
#   forward_on gw                    IPv4 and IPv6 forwarding
#   in_ns c1 CMD...                  run CMD in host c1
#   bg_start NAME HOST CMD...        background process, pidfile $T/NAME.pid, log $T/NAME.log
#   bg_stop NAME [SIGNAL]            stop it and wait (TERM by default)
#   bg_alive NAME                    0 while it runs
#   wait_for SECONDS CMD...          retry CMD every 0.1 s until it succeeds
#   wait_tcp HOST ADDR PORT [S]      until ADDR:PORT accepts from HOST
#   ok NAME / not_ok NAME [WHY]      TAP lines;  check NAME CMD...  runs CMD, prints either
#   tap_done                         "1..N", exit status 1 when a case failed
#   json_field PATH                  a field of the JSON on stdin (sekishoctl --json)
#
# Environment (set by tests/run-all.sh; defaults for running a file alone):
#   SEKISHO_BUILD  absolute build dir      SEKISHO_TOP  repository root
#   SEKISHO_TEST_OUT  where logs are kept (a failing run keeps $T there)
# Names carry the prefix "sk<pid>" so concurrent runs never collide.

set -u

SEKISHO_TOP=${SEKISHO_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
SEKISHO_BUILD=${SEKISHO_BUILD:-$SEKISHO_TOP/build}
NET_PREFIX="sk$$"
NET_HOSTS=""
NET_BG=""
TAP_N=0
TAP_FAILED=0
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
NET_HELPERS="$SEKISHO_TOP/tests/net"
# enum end_reason (common/store.h), for the cases that read or bend the store directly.
END_REVOKED=5
END_REPLACED=6

net_cleanup() {
	set +e
	for n in $NET_BG; do
		bg_stop "$n" KILL 2>/dev/null
	done
	for h in $NET_HOSTS; do
		host_del "$h"   # anything still running inside (a stray client) goes with it
	done
	NET_HOSTS="" NET_BG=""
	if [ "$TAP_FAILED" -ne 0 ] && [ -n "${SEKISHO_TEST_OUT:-}" ]; then
		keep="$SEKISHO_TEST_OUT/$(basename "$0" .sh).$$"
		rm -rf "$keep" && cp -r "$T" "$keep" 2>/dev/null && echo "# logs kept in $keep"
	fi
	[ -n "${KEEP:-}" ] && echo "# KEEP: $T" || rm -rf "$T"
}

net_init() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "1..0 # SKIP needs root"
		exit 0
	fi
	T=$(mktemp -d "/tmp/$NET_PREFIX.XXXXXX")
	chmod 755 "$T"
	trap 'net_cleanup' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

host_add() {   # name
	ip netns add "$NET_PREFIX-$1" || return 1
	NET_HOSTS="$NET_HOSTS $1"
	in_ns "$1" ip link set lo up
}

host_del() {   # name
	for p in $(ip netns pids "$NET_PREFIX-$1" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	ip netns del "$NET_PREFIX-$1" 2>/dev/null
	NET_HOSTS=$(echo "$NET_HOSTS" | tr ' ' '\n' | grep -vx "$1" | tr '\n' ' ')
}

in_ns() {   # host cmd...
	h=$1; shift
	ip netns exec "$NET_PREFIX-$h" "$@"
}

# A veth pair "to-B" in A and "to-A" in B, with addresses (CIDR) on each end.
# Host names stay within 12 characters (interface names hold 15).
link_add() {   # hostA addrA hostB addrB [addr6A addr6B]
	ip link add "to-$3" netns "$NET_PREFIX-$1" type veth peer name "to-$1" netns "$NET_PREFIX-$3" || return 1
	in_ns "$1" ip addr add "$2" dev "to-$3"
	in_ns "$3" ip addr add "$4" dev "to-$1"
	if [ $# -ge 6 ]; then
		in_ns "$1" ip -6 addr add "$5" dev "to-$3" nodad
		in_ns "$3" ip -6 addr add "$6" dev "to-$1" nodad
	fi
	in_ns "$1" ip link set "to-$3" up
	in_ns "$3" ip link set "to-$1" up
}

route_add() {   # host dest via
	case $3 in
	*:*) in_ns "$1" ip -6 route add "$2" via "$3" ;;
	*)   in_ns "$1" ip route add "$2" via "$3" ;;
	esac
}

forward_on() {   # host
	in_ns "$1" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
}

bg_start() {   # name host cmd...
	n=$1 h=$2; shift 2
	# A simple command, not the in_ns function: $! is then the program itself.
	ip netns exec "$NET_PREFIX-$h" "$@" >"$T/$n.log" 2>&1 &
	echo $! >"$T/$n.pid"
	case " $NET_BG " in *" $n "*) ;; *) NET_BG="$NET_BG $n" ;; esac
}

bg_alive() {   # name
	[ -f "$T/$1.pid" ] && kill -0 "$(cat "$T/$1.pid")" 2>/dev/null
}

bg_stop() {   # name [signal]
	[ -f "$T/$1.pid" ] || return 0
	p=$(cat "$T/$1.pid")
	kill -"${2:-TERM}" "$p" 2>/dev/null
	i=0
	while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	kill -9 "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	rm -f "$T/$1.pid"
}

wait_for() {   # seconds cmd...
	deadline=$(( $(date +%s) + $1 )); shift
	while ! "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -ge "$deadline" ] && return 1
		sleep 0.1
	done
}

# One field of the JSON on stdin (sekishoctl --json), by a dotted path.
json_field() {   # path, e.g. ipfd.state
	"$PY" -c 'import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[k]
print(v)' "$1"
}

# A TCP client that exchanges one line with an echo server (tests/net/tcp.py).
tcp_ok() {   # host addr port
	in_ns "$1" "$PY" "$NET_HELPERS/tcp.py" echo "$2" "$3" >/dev/null 2>&1
}

wait_tcp() {   # host addr port [seconds]
	wait_for "${4:-5}" tcp_ok "$1" "$2" "$3"
}

ok() {
	TAP_N=$((TAP_N + 1))
	echo "ok $TAP_N - $1"
}

not_ok() {   # name [why]
	TAP_N=$((TAP_N + 1))
	TAP_FAILED=$((TAP_FAILED + 1))
	echo "not ok $TAP_N - $1"
	[ $# -ge 2 ] && echo "# $2"
	return 0
}

check() {   # name cmd...
	n=$1; shift
	if "$@" >"$T/check.out" 2>&1; then ok "$n"; else not_ok "$n" "$(tail -n 3 "$T/check.out" | tr '\n' ' ')"; fi
}

tap_done() {
	echo "1..$TAP_N"
	[ "$TAP_FAILED" -eq 0 ]
}
