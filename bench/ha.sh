#!/bin/sh
# High availability, measured as the source does: 10 trials, mean and maximum.
# Parts (HA_BENCH_PARTS, default "gateway db db_loaded both"):
#   gateway    tests/net/test_ha_gateway.sh: gateway 1, master of the clients'
#              virtual address under keepalived, fails four ways (its LAN link
#              down; its ipfd, authd and cid killed; a planned switch-over
#              stopping its keepalived; its keepalived killed -9, then started
#              again); the downtime is the longest gap in an admitted client's
#              TCP connections to the service (one new connection every 100 ms,
#              300 ms timeout, so the resolution is about 0.1 s), from its first
#              failed connection to the next that succeeds. Every trial also
#              checks no new login, no stranger through and no right lost; a
#              failed trial is reported, not timed.
#   db         tests/net/test_ha_db.sh: the pg_auto_failover primary killed
#              (kill -9 of the node), alternately a and b; admission downtime
#              from the first refused login to the first admitted one (a login
#              every 0.2 s), live rights before and after, admitted users' door
#              checks and connections (3 s to connect) that failed meanwhile,
#              the firewall's resets to them, and the same clients' connections
#              at the same moment to a port no set guards (the control).
#   db_loaded  the same with a 300 ms connect timeout while HA_BENCH_LOAD (8)
#              busy loops run (the load of a shared machine, reproduced): what
#              fails through the kernel set and on the control alike is the
#              machine, not sekisho.
#   both       tests/net/test_ha_both.sh: the primary killed and gateway 1's
#              links down at the same moment; the admitted client's traffic
#              downtime (as for gateway) and the admission downtime (as for db).
# Results: bench/results/ha.txt, with the load average before and after each
# part. Needs root. HA_BENCH_N trials (10).
set -u
SEKISHO_TOP=${SEKISHO_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
out=${SEKISHO_BENCH_OUT:-$SEKISHO_TOP/bench/results}
N=${HA_BENCH_N:-10}
rep=$(mktemp)
lp=""
trap 'rm -f "$rep" "$rep.tap"; [ -z "$lp" ] || kill -- $lp 2>/dev/null' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
load() { cut -d" " -f1-3 /proc/loadavg; }

rc=0
for part in ${HA_BENCH_PARTS:-gateway db db_loaded both}; do
	test=$part env=""
	case $part in
	db_loaded) test=db env="HA_PROBE_TIMEOUT=0.3" ;;
	esac
	l0=$(load)
	if [ "$part" = db_loaded ]; then
		# Busy loops in a process group of their own, ended with the part.
		setsid sh -c 'i=0; while [ $i -lt "$1" ]; do sh -c "while :; do :; done" & i=$((i + 1)); done; wait' \
			busy "${HA_BENCH_LOAD:-8}" &
		lp="-$!"
		sleep 10
		l0="$l0 (busy loops started: $(load))"
	fi
	echo "# part $part ($N trials): load average before: $l0" >>"$rep"
	env $env HA_TRIALS="$N" HA_REPORT="$rep" GW_LOG_LEVEL=warn \
		sh "$SEKISHO_TOP/tests/net/test_ha_$test.sh" >>"$rep.tap" 2>&1 || rc=1
	echo "# part $part: load average after: $(load)" >>"$rep"
	if [ -n "$lp" ]; then kill -- $lp 2>/dev/null; lp=""; fi
done
{
	echo "# ha: $N trials of each (mean, max); $(date -u +%Y-%m-%d), commit $(git -C "$SEKISHO_TOP" rev-parse --short HEAD 2>/dev/null)"
	echo "# keepalived: VRRPv3, advert_int 0.5 s, checks every 1 s, fall 2 (dist/keepalived)"
	cat "$rep"
	# The tests' verdicts over every trial: no new login, no stranger through, no right lost.
	grep '^\(not \)\?ok .*\(fails (\|primary killed\|at once\|refused no admitted\)' "$rep.tap" | sed 's/^/# /'
} | tee "$out/ha.txt"
exit $rc
