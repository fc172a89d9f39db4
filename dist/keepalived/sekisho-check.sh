#!/bin/sh
# keepalived's vrrp_script for a sekisho gateway: exit 0 when this gateway can
# admit and carry users, 1 otherwise (keepalived then hands the address over).
#
#   sekisho-check.sh [CONF [AUTHD_MONITOR [CID_MONITOR]]]
#
# Healthy means all three:
#   - authd's /healthz is 200: its store answers and ipfd answers its socket;
#   - cid's /healthz is 200: cid holds a current view of the store;
#   - `sekishoctl status --json` reaches the store and says ipfd is "up".
# AUTHD_MONITOR and CID_MONITOR are the daemons' monitor_listen (ADDR:PORT).
# Every probe is bounded (2 s), so keepalived's script timeout is never the
# one that decides.
CONF=${1:-/etc/sekisho/sekisho.conf}
AUTHD=${2:-127.0.0.1:9080}
CID=${3:-127.0.0.1:9081}
CTL=${SEKISHOCTL:-sekishoctl}

probe() {   # what addr
	curl -sf -o /dev/null --max-time 2 "http://$2/healthz" && return 0
	echo "sekisho-check: $1 /healthz at $2 is not 200" >&2
	return 1
}

probe authd "$AUTHD" || exit 1
probe cid "$CID" || exit 1
st=$(timeout 3 "$CTL" -f "$CONF" status --json 2>&1) || {
	echo "sekisho-check: sekishoctl status failed: $st" >&2
	exit 1
}
case $st in
*'"ipfd":{"state":"up"'*) exit 0 ;;
esac
echo "sekisho-check: ipfd is not up" >&2
exit 1
