#!/bin/sh
# The deployment of docs/deploy.md, minus systemd itself: the units in dist/
# are checked with systemd-analyze, and the daemons run with the users,
# groups and capabilities those units give them (setpriv stands in for
# systemd; nobody:nogroup stands in for sekisho:sekisho):
#   ipfd   user sekisho, group sekisho, CAP_NET_ADMIN only (ambient)
#   authd  user sekisho, no capabilities
#   cid    user sekisho, no capabilities
#   the store directory 0770 sekisho:sekisho, sekishoctl run as sekisho
# Then the whole flow must work, and only ipfd may touch the firewall.
. "${SEKISHO_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/net/lib.sh"
. "$SEKISHO_TOP/tests/net/lib_system.sh"
net_init

U=nobody G=nogroup
AS_USER="setpriv --reuid $U --regid $G --clear-groups --no-new-privs"
SYS_AS_CTL=$AS_USER
SYS_AS_AUTHD="$AS_USER --bounding-set -all --inh-caps -all"
SYS_AS_CID=$SYS_AS_AUTHD
SYS_AS_IPFD="$AS_USER --bounding-set -all,+net_admin --inh-caps -all,+net_admin --ambient-caps -all,+net_admin"
SYS_IPFD_GROUP=$G
install -d -o "$U" -g "$G" -m 0770 "$T/lib"
install -d -o "$U" -g "$G" -m 0750 "$T/run"
SYS_DB=$T/lib/sekisho.db SYS_SOCK=$T/run/ipfd.sock

# ---- the units ----
if command -v systemd-analyze >/dev/null; then
	# Everything but the programs' absence from /usr/sbin on a build machine.
	systemd-analyze verify "$SEKISHO_TOP"/dist/*.service 2>&1 |
		grep -v -e 'is not executable: No such file' >"$T/verify" || true
	check "systemd-analyze verify finds nothing wrong in dist/*.service" \
		sh -c "! test -s '$T/verify' || { cat '$T/verify'; false; }"
else
	ok "systemd-analyze verify dist/*.service # SKIP no systemd-analyze"
fi
check "the ipfd unit: user sekisho, CAP_NET_ADMIN and nothing else" sh -c "
	grep -qx 'User=sekisho' '$SEKISHO_TOP/dist/sekisho-ipfd.service' &&
	grep -qx 'CapabilityBoundingSet=CAP_NET_ADMIN' '$SEKISHO_TOP/dist/sekisho-ipfd.service' &&
	grep -qx 'AmbientCapabilities=CAP_NET_ADMIN' '$SEKISHO_TOP/dist/sekisho-ipfd.service'"
check "the authd unit: user sekisho, no capabilities" sh -c "
	grep -qx 'User=sekisho' '$SEKISHO_TOP/dist/sekisho-authd.service' &&
	grep -qx 'CapabilityBoundingSet=' '$SEKISHO_TOP/dist/sekisho-authd.service'"
check "the cid unit: user sekisho, no capabilities" sh -c "
	grep -qx 'User=sekisho' '$SEKISHO_TOP/dist/sekisho-cid.service' &&
	grep -qx 'CapabilityBoundingSet=' '$SEKISHO_TOP/dist/sekisho-cid.service'"

if command -v systemd-sysusers >/dev/null && command -v systemd-tmpfiles >/dev/null; then
	R=$T/root
	mkdir -p "$R/etc"
	systemd-sysusers --root="$R" "$SEKISHO_TOP/dist/sekisho.sysusers" >/dev/null 2>&1
	systemd-tmpfiles --root="$R" --create "$SEKISHO_TOP/dist/sekisho.tmpfiles" >/dev/null 2>&1
	id=$(sed -n 's/^sekisho:x:\([0-9]*\):.*/\1/p' "$R/etc/passwd")
	check "sysusers: a system user and group sekisho" sh -c "[ -n '$id' ] && grep -q '^sekisho:x:$id:' '$R/etc/group'"
	check "tmpfiles: /var/lib/sekisho 0770 sekisho:sekisho, /etc/sekisho 0750 root:sekisho" sh -c "
		[ \"\$(stat -c '%a %u %g' '$R/var/lib/sekisho')\" = '770 $id $id' ] &&
		[ \"\$(stat -c '%a %u %g' '$R/etc/sekisho')\" = '750 0 $id' ]"
fi

# ---- the store and the daemons as the units run them ----
sys_init || { not_ok "sekishoctl init as the sekisho user"; tap_done; exit 1; }
chgrp "$G" "$CONF" && chmod 0640 "$CONF"
sys_client c1 1
sys_client c2 2
sys_user alice bob
sys_service lab 2 5
check "the store belongs to the sekisho user" sh -c "[ \"\$(stat -c %U '$DB')\" = $U ]"
check "ipfd, authd and cid start with those privileges" sys_start_all
pid_of() { cat "$T/$1.pid"; }
cap_eff() { sed -n 's/^CapEff:\t*//p' "/proc/$(pid_of "$1")/status"; }
uid_of() { sed -n 's/^Uid:\t*\([0-9]*\).*/\1/p' "/proc/$(pid_of "$1")/status"; }
expect() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "want '$2', got '$3'"; fi; }
expect "ipfd's effective capabilities are CAP_NET_ADMIN alone" 0000000000001000 "$(cap_eff ipfd)"
expect "authd has no capability" 0000000000000000 "$(cap_eff authd)"
expect "cid has no capability" 0000000000000000 "$(cap_eff cid)"
expect "every daemon runs as the sekisho user" "65534 65534 65534" "$(uid_of ipfd) $(uid_of authd) $(uid_of cid)"
check "sekishoctl as the sekisho user sees ipfd up" sh -c "$SYS_AS_CTL '$B/sekishoctl' -f '$CONF' status | grep -q 'ipfd: *up'"

# ---- the flow ----
expect "alice logs in and reaches the service" "200 2 $(svc_url 2)" "$(web_login c1 10.0.1.2 alice lab)"
check "bob, not logged in, cannot connect" fw_closed c2 10.0.2.2 2
check "the sekisho user without CAP_NET_ADMIN cannot change the firewall" \
	sh -c "! ip netns exec $NET_PREFIX-gw $SYS_AS_AUTHD nft add table inet intruder 2>/dev/null"
ctl right revoke "$(right_of alice lab)" >/dev/null
check "a revocation by the operator (sekishoctl as sekisho) closes the firewall" fw_closed c1 10.0.1.2 2

# Restart order of a boot: ipfd first, so it opens the store before anyone else.
for d in cid authd ipfd; do sys_stop "$d"; done
check "with every daemon stopped the store's WAL files are gone or the sekisho user's" sh -c "
	! find '$T/lib' -mindepth 1 ! -user $U | grep -q ."
check "started again in boot order (ipfd first), they come up" sys_start_all
expect "bob logs in after the restart (authd can write what ipfd opened)" "200 2 $(svc_url 2)" \
	"$(web_login c2 10.0.2.2 bob lab)"
check "every file in the store's directory belongs to the sekisho user" sh -c "
	! find '$T/lib' -mindepth 1 ! -user $U | grep -q ."
tap_done
