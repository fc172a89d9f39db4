#!/bin/sh
# High availability, measured as the source does: 10 trials, mean and maximum.
# Gateways (tests/net/test_ha_gateway.sh with HA_TRIALS=N): gateway 1, master
# of the clients' virtual address under keepalived, fails three ways (its LAN
# link down; its ipfd, authd and cid killed; a planned switch-over stopping its
# keepalived); the downtime is the longest gap in an admitted client's TCP
# connections to the service (one new connection every 100 ms, 300 ms timeout,
# so the resolution is about 0.1 s), from its first failed connection to the
# next that succeeds. Every trial also checks no new login, no stranger
# through and no right lost; a failed trial is reported, not timed.
# Database (tests/net/test_ha_db.sh with HA_TRIALS=N): the pg_auto_failover
# primary killed (kill -9 of the node), alternately a and b; admission downtime
# from the first refused login to the first admitted one (a login every 0.2 s),
# live rights before and after, admitted users' door checks and connections
# that failed meanwhile.
# Results: bench/results/ha.txt. Needs root. HA_BENCH_N trials (10);
# HA_BENCH_PARTS "gateway db" (both).
set -u
SEKISHO_TOP=${SEKISHO_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
out=${SEKISHO_BENCH_OUT:-$SEKISHO_TOP/bench/results}
N=${HA_BENCH_N:-10}
LOAD0=$(cut -d" " -f1-3 /proc/loadavg)
rep=$(mktemp)
trap 'rm -f "$rep" "$rep.tap"' EXIT
rc=0
for part in ${HA_BENCH_PARTS:-gateway db}; do
	HA_TRIALS=$N HA_REPORT=$rep GW_LOG_LEVEL=warn \
		sh "$SEKISHO_TOP/tests/net/test_ha_$part.sh" >>"$rep.tap" 2>&1 || rc=1
done
{
	echo "# ha: $N trials of each (mean, max); $(date -u +%Y-%m-%d)"
	echo "# load average before: $LOAD0, after: $(cut -d" " -f1-3 /proc/loadavg)"
	echo "# keepalived: VRRPv3, advert_int 0.5 s, check every 1 s, fall 2 (dist/keepalived)"
	cat "$rep"
	# The tests' verdicts over every trial: no new login, no stranger through, no right lost.
	grep '^\(not \)\?ok .*\(fails (\|primary killed\)' "$rep.tap" | sed 's/^/# /'
} | tee "$out/ha.txt"
exit $rc
