#!/bin/sh
# Two gateways on one PostgreSQL (tests/net/lib_gw.sh topology): how long a
# revocation made through gateway 1 takes to close gateway 2's kernel set and
# to make gateway 2's cid refuse the cookie. Each sample: a login at gateway 1,
# wait until gateway 2 has it, then revoke through gateway 1 (sekishoctl) and
# poll gateway 2's set (nft) and cid (curl) until they say no; the polls cost
# about 10-20 ms each here, which bounds the resolution. cid's fallback poll is
# 5 s, so the figures are the notification path.
# Then (bench/drivers/gw_scale.sh) gateway 1's followers against a large
# store: catch-up after 100 000 changes committed while they were stopped,
# and 1 000 000 live rights (snapshot, ipfd's full rebuild into the kernel,
# cid's load, memory per right).
# Results: bench/results/gateways.txt. Needs root. GW_BENCH_N samples (30);
# GW_BENCH_PARTS picks among "revoke scale" (both) and "catchup" (the
# catch-up of the second alone); SCALE_CHANGES, SCALE_RIGHTS, SCALE_SERVICES,
# SCALE_CATCHUP_RUNS size the second (gw_scale.sh).
set -u
SEKISHO_TOP=${SEKISHO_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
out=${SEKISHO_BENCH_OUT:-$SEKISHO_TOP/bench/results}
. "$SEKISHO_TOP/tests/net/lib.sh"
. "$SEKISHO_TOP/tests/net/lib_pg.sh"
. "$SEKISHO_TOP/tests/net/lib_system.sh"
. "$SEKISHO_TOP/tests/net/lib_gw.sh"
. "$SEKISHO_TOP/bench/drivers/gw_scale.sh"
net_init
trap 'gw_cleanup; net_cleanup' EXIT
N=${GW_BENCH_N:-30}
PARTS=${GW_BENCH_PARTS:-revoke scale}
part() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }
loadavg() { cut -d" " -f1-3 /proc/loadavg; }
LOAD0=$(loadavg)
GW_LOG_LEVEL=warn

ms() { date +%s%3N; }
svc_set_has() { in_ns gw2 nft list set inet sekisho "s$SID"_v4 2>/dev/null | grep -Eq "(^|[ {,])$1([ ,}]|$)"; }
door() { gw_door 2 lab "$1" "$2"; }

gw_db_start && gw_add 1 1 && gw_add 2 1 && gw_init 1 || exit 1
gw_ctl 1 user add u1 --role user --password-file "$T/pw" >/dev/null
# The revocation samples on gateways 1 and 2 (their daemons stopped after).
revoke() {
	gw_service lab 2 1000
	SID=$(gw_psql "SELECT id FROM services WHERE name = 'lab'")
	gw_start 1 && gw_start 2 || return 1
	: >"$T/fw.ms"; : >"$T/cid.ms"
	i=0
	while [ "$i" -lt "$N" ]; do
		loc=$(gw_login 1 10.0.1.2 u1 lab)
		cookie=$(gw_enter 1 10.0.1.2 "${loc#* }")
		within_ms 5000 svc_set_has 10.0.1.2 || { echo "sample $i: admission not seen" >&2; exit 1; }
		while [ "$(door 10.0.1.2 "$cookie")" != 204 ]; do sleep 0.01; done
		rid=$(gw_psql "SELECT id FROM rights WHERE ended_at IS NULL ORDER BY id DESC LIMIT 1")
		t0=$(ms)
		gw_ctl 1 right revoke "$rid" >/dev/null 2>&1
		fw="" cid=""
		while [ -z "$fw" ] || [ -z "$cid" ]; do
			[ -z "$fw" ] && ! svc_set_has 10.0.1.2 && fw=$(( $(ms) - t0 ))
			[ -z "$cid" ] && [ "$(door 10.0.1.2 "$cookie")" = 401 ] && cid=$(( $(ms) - t0 ))
			[ $(( $(ms) - t0 )) -gt 10000 ] && { fw=${fw:-10000} cid=${cid:-10000}; }
		done
		echo "$fw" >>"$T/fw.ms"; echo "$cid" >>"$T/cid.ms"
		i=$((i + 1))
	done
	pct() { sort -n "$1" | awk -v p="$2" '{ v[NR] = $1 } END { i = int(NR * p / 100 + 0.5); if (i < 1) i = 1; print v[i] }'; }
	{
		echo "Revocation through gateway 1 -> gateway 2 (two gateways, PostgreSQL 15 on a third namespace over TCP,"
		echo "fsync off; LISTEN/NOTIFY wake-ups; cid's fallback poll 5 s), $N samples, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
		echo "load average before/after: $LOAD0 / $(cut -d' ' -f1-3 /proc/loadavg)"
		echo "includes sekishoctl's start and commit (t0 is taken before it runs) and the poll's own cost"
		printf '%-34s %6s %6s %6s\n' "" p50 p99 max
		printf '%-34s %6s %6s %6s\n' "gateway 2 kernel set (ms)" "$(pct "$T/fw.ms" 50)" "$(pct "$T/fw.ms" 99)" "$(sort -n "$T/fw.ms" | tail -n 1)"
		printf '%-34s %6s %6s %6s\n' "gateway 2 cid refuses (ms)" "$(pct "$T/cid.ms" 50)" "$(pct "$T/cid.ms" 99)" "$(sort -n "$T/cid.ms" | tail -n 1)"
	}
	for g in 1 2; do for p in authd cid ipfd; do gw_stop "$g" "$p"; done; done
}

: >"$out/gateways.txt.tmp"
part revoke && { { revoke && echo; } >>"$out/gateways.txt.tmp" || exit 1; }
if part scale || part catchup; then
	l0=$(loadavg)
	{
		echo "One gateway's followers on PostgreSQL 15 (a third namespace over TCP, fsync off), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
		scale_setup && scale_catchup || exit 1
		if part scale; then scale_million || exit 1; fi
		echo "load average before/after: $l0 / $(loadavg)"
	} >>"$out/gateways.txt.tmp"
fi
mv "$out/gateways.txt.tmp" "$out/gateways.txt"
cat "$out/gateways.txt"

