#!/bin/sh
# keepalived's vrrp_script for a sekisho gateway: exit 0 when this gateway is
# healthy in the sense asked, 1 otherwise.
#
#   sekisho-check.sh [--local|--store] [AUTHD_MONITOR [CID_MONITOR]]
#
# --local: the gateway's own daemons run and can carry admitted users, whatever
#   the database does: authd answers /healthz and says ipfd answers its socket,
#   cid answers /healthz (200, or 503 while it has no current view of the
#   store: its kernel-side twin, the sets, still carry the admitted users).
#   keepalived puts a gateway failing this in FAULT (it gives the addresses up).
# --store: the gateway reaches the database: authd's /healthz is 200 (its store
#   answers and ipfd answers its socket) and cid's is 200 (a current view of
#   the store). keepalived lowers
#   the priority of a gateway failing this (weight), so one that reaches the
#   database is preferred, but a gateway that does not still holds the
#   addresses when it is the only one left (the database failing over while
#   the other gateway is down: admitted users keep their way).
# Without a flag: both (exit 0 only when the gateway is fully healthy).
# AUTHD_MONITOR and CID_MONITOR are the daemons' monitor_listen (ADDR:PORT).
# It needs nothing but HTTP to the monitor listeners: the user keepalived runs
# it as belongs to no sekisho group and can change nothing.
# Every probe is bounded (3 s each): --local ends within about 3 s even when
# authd waits on the database, below keepalived's script timeout (4 s); in
# --store mode an answer that late is a failure either way.
MODE=all
case ${1:-} in
--local|--store) MODE=${1#--}; shift ;;
esac
AUTHD=${1:-127.0.0.1:9080}
CID=${2:-127.0.0.1:9081}

fail() { echo "sekisho-check: $*" >&2; exit 1; }

# GET /healthz: HZ_CODE is the status ("000": no answer), HZ_BODY the answer,
# HZ_RC curl's exit status (7: nothing listens; 28: no answer in time).
healthz() {   # name addr
	HZ_BODY=$(curl -s --max-time 3 -w '\n%{http_code}' "http://$2/healthz")
	HZ_RC=$?
	HZ_CODE=$(printf '%s\n' "$HZ_BODY" | tail -n 1)
	eval "${1}_code=\$HZ_CODE ${1}_rc=\$HZ_RC ${1}_body=\$HZ_BODY"
}

healthz authd "$AUTHD"
healthz cid "$CID"
ipfd_ok() {   # authd's answer says ipfd answers its socket (or runs without it)
	case $authd_body in *"ipfd ok"*|*"ipfd disabled"*) return 0 ;; esac
	return 1
}

if [ "$MODE" != store ]; then
	# A daemon that answers late is alive (authd may wait on an unreachable
	# database): that is for --store to judge. One that is not there is not.
	case $authd_rc in 0|22|28) ;; *) fail "authd does not answer /healthz at $AUTHD" ;; esac
	case $cid_rc in 0|22|28) ;; *) fail "cid does not answer /healthz at $CID" ;; esac
	[ "$authd_code" = 000 ] || ipfd_ok || fail "authd says ipfd does not answer its socket"

fi
[ "$MODE" != local ] || exit 0
[ "$authd_code" = 200 ] || fail "authd /healthz at $AUTHD is not 200 (store or ipfd)"
ipfd_ok || fail "authd says ipfd does not answer its socket"
[ "$cid_code" = 200 ] || fail "cid /healthz at $CID is not 200 (no current view of the store)"
exit 0
