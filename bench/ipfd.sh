#!/bin/sh
# ipfd benchmark, in a private network namespace (root). Run by bench/run.sh,
# or alone:  make build/bench/ipfd_load && sh bench/ipfd.sh
#
# One run measures, on the same namespace and store:
#   admission  IPC_ADMIT round trips through ipfd's socket (client sends, ipfd
#              reads the right from the store, commits the netlink batch, answers):
#              p50/p99 over 10 000 admissions of new addresses, one client; then
#              8 clients at once (per-admission cost = wall time / admissions);
#              then re-admissions of addresses already held, and the default
#              500 us batch window
#   rebuild    IPC_SYNC of 100 000 live rights: store snapshot + one atomic batch
#   baseline   the openNDS way: one "nft add element" process per admission,
#              1000 of them, spawned directly (the cheapest form, used for the
#              ratios) and through "/bin/sh -c" as system()/popen() do, into
#              a set of the same kind in a table of their own
# Each figure is the median of ROUNDS runs. Results: bench/results/ipfd.txt.
# Environment: SEKISHO_BUILD, SEKISHO_TOP, SEKISHO_BENCH_OUT, and to shrink a
# trial run IPFD_BENCH_RIGHTS, IPFD_BENCH_ADMITS, IPFD_BENCH_NFT, IPFD_BENCH_ROUNDS.
SEKISHO_TOP=${SEKISHO_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
. "$SEKISHO_TOP/tests/net/lib.sh"

B=$SEKISHO_BUILD
OUT=${SEKISHO_BENCH_OUT:-$SEKISHO_TOP/bench/results}
RIGHTS=${IPFD_BENCH_RIGHTS:-100000}
ADMITS=${IPFD_BENCH_ADMITS:-10000}
NFT=${IPFD_BENCH_NFT:-1000}
ROUNDS=${IPFD_BENCH_ROUNDS:-3}
LOAD=$B/bench/ipfd_load

[ -x "$LOAD" ] || { echo "ipfd bench: $LOAD missing (make build/bench/ipfd_load)" >&2; exit 1; }
[ $((2 * ROUNDS * ADMITS)) -le "$RIGHTS" ] || { echo "ipfd bench: need 2 x ROUNDS x ADMITS <= RIGHTS" >&2; exit 1; }
net_init
mkdir -p "$OUT"
host_add gw

write_conf() {   # batch_window_us
	cat >"$T/sekisho.conf" <<EOF
[db]
path = $T/db.sqlite
[ipfd]
socket = $T/ipfd.sock
group = root
hook = forward
sync_interval_s = 86400
batch_window_us = $1
EOF
}

ipfd_start() {
	rm -f "$T/ipfd.sock"
	bg_start ipfd gw "$B/ipfd" -d -f "$T/sekisho.conf"
	wait_for 30 test -S "$T/ipfd.sock" || { echo "ipfd did not start:" >&2; cat "$T/ipfd.log" >&2; exit 1; }
}

load() { in_ns gw "$LOAD" -f "$T/sekisho.conf" "$@"; }
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p"; }   # key < line
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }

write_conf 0
printf 'bench-password-1\n' >"$T/pw"
"$B/sekishoctl" -f "$T/sekisho.conf" init --root-password-file "$T/pw" >/dev/null || exit 1
ipfd_start   # before the seeding: the admissions below put new addresses in the set
echo "seeding $RIGHTS rights through the store API..." >&2
load seed "$RIGHTS" >"$T/seed.txt" || exit 1

: >"$T/admit1.txt"; : >"$T/admit8.txt"; : >"$T/sync.txt"; : >"$T/nft.txt"; : >"$T/nftsh.txt"
# Admissions first, each round with rights not admitted before: every one puts
# a new address in the set (the rebuilds below would put them all there).
r=1
while [ $r -le "$ROUNDS" ]; do
	load admit $(((2 * r - 2) * ADMITS + 1)) "$ADMITS" 1 >>"$T/admit1.txt" || exit 1
	load admit $(((2 * r - 1) * ADMITS + 1)) "$ADMITS" 8 >>"$T/admit8.txt" || exit 1
	r=$((r + 1))
done
# The baseline's own table, shaped like ipfd's sets (another process's
# elements in ipfd's table would make ipfd rebuild and take them out).
in_ns gw nft add table inet nftbench || exit 1
in_ns gw nft add set inet nftbench s1_v4 '{ type ipv4_addr; flags timeout; }' || exit 1
r=1
while [ $r -le "$ROUNDS" ]; do
	load nft $((RIGHTS + (r - 1) * NFT)) "$NFT" s1_v4 >>"$T/nft.txt" || exit 1
	load nftsh $((RIGHTS + (r + ROUNDS) * NFT)) "$NFT" s1_v4 >>"$T/nftsh.txt" || exit 1
	load sync >>"$T/sync.txt" || exit 1
	r=$((r + 1))
done
grep 'event=sync scope=all' "$T/ipfd.log" | tail -n "$ROUNDS" >"$T/synclog.txt"
# Now every right is held: re-admissions (add, delete, add in one batch).
load admit 1 "$ADMITS" 1 >"$T/readmit.txt" || exit 1
bg_stop ipfd
foreign=$(grep -c 'event=table_changed' "$T/ipfd.log")   # none: the baseline has its own table

write_conf 500   # the shipped default window, for its price in latency
ipfd_start
load admit 1 "$ADMITS" 1 >"$T/admit1w.txt" || exit 1
bg_stop ipfd

a_p50=$(field p50_us <"$T/admit1.txt" | median)
a_p99=$(field p99_us <"$T/admit1.txt" | median)
a_per=$(field per_admission_us <"$T/admit1.txt" | median)
c_p50=$(field p50_us <"$T/admit8.txt" | median)
c_per=$(field per_admission_us <"$T/admit8.txt" | median)
s_ms=$(field total_us <"$T/sync.txt" | median | awk '{ printf "%.0f", $1 / 1000 }')
s_build=$(field build_us <"$T/synclog.txt" | median | awk '{ printf "%.0f", $1 / 1000 }')
s_commit=$(field commit_us <"$T/synclog.txt" | median | awk '{ printf "%.0f", $1 / 1000 }')
n_p50=$(field p50_us <"$T/nft.txt" | median)
n_per=$(field per_admission_us <"$T/nft.txt" | median)
h_p50=$(field p50_us <"$T/nftsh.txt" | median)
h_per=$(field per_admission_us <"$T/nftsh.txt" | median)
w_p50=$(field p50_us <"$T/admit1w.txt")
re_p50=$(field p50_us <"$T/readmit.txt")
re_p99=$(field p99_us <"$T/readmit.txt")

{
	echo "ipfd benchmark ($(date -u +%Y-%m-%dT%H:%M:%SZ), kernel $(uname -r), $(nproc) CPUs)"
	echo "medians of $ROUNDS rounds; times in microseconds unless marked"
	echo
	printf '%-58s %10s %10s %14s\n' "" p50 p99 per-admission
	printf '%-58s %10s %10s %14s\n' "ipfd admission, 1 client, $ADMITS admissions (window 0)" "$a_p50" "$a_p99" "$a_per"
	printf '%-58s %10s %10s %14s\n' "ipfd admission, 8 clients, $ADMITS admissions (window 0)" "$c_p50" - "$c_per"
	printf '%-58s %10s %10s %14s\n' "ipfd re-admission of held addresses, 1 client" "$re_p50" "$re_p99" -
	printf '%-58s %10s %10s %14s\n' "ipfd re-admission, 1 client, batch_window_us = 500" "$w_p50" - -
	printf '%-58s %10s %10s %14s\n' "baseline: one nft process per admission, $NFT admissions" "$n_p50" - "$n_per"
	printf '%-58s %10s %10s %14s\n' "baseline through /bin/sh -c (system/popen), $NFT admissions" "$h_p50" - "$h_per"
	echo
	echo "ratio, baseline / ipfd at p50 (1 client):          $(awk "BEGIN { printf \"%.0fx\", $n_p50 / $a_p50 }")"
	echo "ratio, baseline / ipfd per admission (8 clients):  $(awk "BEGIN { printf \"%.0fx\", $n_per / $c_per }")"
	echo "ratio, shell baseline / ipfd at p50 (1 client):    $(awk "BEGIN { printf \"%.0fx\", $h_p50 / $a_p50 }")"
	echo
	echo "rebuild of $RIGHTS rights (IPC_SYNC round trip): ${s_ms} ms"
	echo "  of which store snapshot + batch building ${s_build} ms, kernel commit ${s_commit} ms"
	echo "  (ipfd listens to the kernel's nftables events throughout; rebuilds they caused: $foreign)"
	echo
	echo "raw:"
	sed 's/^/  /' "$T/seed.txt" "$T/admit1.txt" "$T/admit8.txt" "$T/admit1w.txt" "$T/readmit.txt" "$T/sync.txt" "$T/nft.txt" "$T/nftsh.txt"
} | tee "$OUT/ipfd.txt"
