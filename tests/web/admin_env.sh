#!/bin/sh
# The world the admin browser test (test_admin.mjs) runs in, kept up while
# the test reads from this script's stdin; EOF (or TERM) tears it all down.
#
#   c1 (10.0.1.2, .3) --- gw (ipfd, hook forward) --- srv 10.0.9.2, echo on 80
#   authd: in the test's own namespace on 127.0.0.1:$ADMIN_PORT, so the
#   browser reaches it directly; it talks to ipfd over the unix socket.
#
# Accounts (sekishoctl): root, admins alice and bob, users carol, dave, erin.
# Prints one line "READY <dir> <conf> <namespace prefix>" when authd answers.
# A line "FAILED" on stdin keeps the directory under $SEKISHO_TEST_OUT.
. "${SEKISHO_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/net/lib.sh"

B=$SEKISHO_BUILD
PORT=${ADMIN_PORT:?ADMIN_PORT must be set}
AUTHD_PID=""
net_init

env_cleanup() {
	if [ -n "$AUTHD_PID" ]; then
		kill "$AUTHD_PID" 2>/dev/null
		i=0
		while kill -0 "$AUTHD_PID" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		kill -9 "$AUTHD_PID" 2>/dev/null
	fi
	net_cleanup
}
trap 'env_cleanup' EXIT

CONF=$T/sekisho.conf
cat >"$CONF" <<EOF
[db]
path = $T/db.sqlite
guard_forbid = 10.0.1.0/24, 10.0.9.1
[authd]
listen = 127.0.0.1:$PORT
# /healthz on a free port of its own (this authd runs in the host's namespace)
monitor_listen = 127.0.0.1:0
base_url = http://127.0.0.1:$PORT
web_dir = $SEKISHO_TOP/web
hash_workers = 2
ipfd_timeout_ms = 3000
sweep_interval_s = 60
[ipfd]
socket = $T/ipfd.sock
group = root
hook = forward
sync_interval_s = 300
enabled = on
EOF

ctl() { "$B/sekishoctl" -f "$CONF" "$@" >/dev/null; }
fail() { echo "admin_env: $*" >&2; exit 1; }

for h in c1 gw srv; do host_add $h || fail "cannot make namespace $h"; done
link_add c1 10.0.1.2/24 gw 10.0.1.1/24
in_ns c1 ip addr add 10.0.1.3/24 dev to-gw
link_add srv 10.0.9.2/24 gw 10.0.9.1/24
route_add c1 default 10.0.1.1
route_add srv default 10.0.9.1
forward_on gw
bg_start echo srv "$PY" "$NET_HELPERS/tcp.py" serve 80

printf 'root-password\n' >"$T/rootpw"
printf 'good-password\n' >"$T/pw"
ctl init --root-password-file "$T/rootpw" || fail "sekishoctl init failed"
for u in alice bob; do ctl user add $u --role admin --password-file "$T/pw"; done
for u in carol dave erin; do ctl user add $u --role user --password-file "$T/pw"; done

bg_start ipfd gw "$B/ipfd" -d -f "$CONF"
wait_for 5 test -S "$T/ipfd.sock" || fail "ipfd did not start: $(tail -n 5 "$T/ipfd.log")"
"$B/authd" -d -f "$CONF" >"$T/authd.log" 2>&1 &
AUTHD_PID=$!
monitor_healthy() {
	mport=$(sed -n 's/.*event=start .* monitor_port=\([0-9]*\).*/\1/p' "$T/authd.log")
	[ -n "$mport" ] && curl -sf -o /dev/null "http://127.0.0.1:$mport/healthz"
}
wait_for 10 monitor_healthy ||
	fail "authd did not answer: $(tail -n 5 "$T/authd.log")"

echo "READY $T $CONF $NET_PREFIX"
while read -r line; do
	[ "$line" = FAILED ] && TAP_FAILED=1
done
exit 0
