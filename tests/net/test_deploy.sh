#!/bin/sh
# The deployment of docs/deploy.md and docs/security.md, minus systemd itself.
# The units in dist/ are checked with systemd-analyze (verify, and a security
# score of at most 2.5 each); sysusers and tmpfiles are applied to a scratch
# root. Then the daemons run as the units run them: setpriv stands in for
# systemd, with the users and groups of dist/sekisho.sysusers created for
# real under this run's prefix (sk<pid>-authd for sekisho-authd, and so on):
#   ipfd   user -ipfd,  groups store + ctl, CAP_NET_ADMIN only (ambient)
#   authd  user -authd, groups store + ctl, no capabilities
#   cid    user -cid,   group store,        no capabilities
#   an operator (sekishoctl) in groups store + ctl
# each under strace, whose record of their system calls is checked against
# the units' SystemCallFilter. The whole flow must work, each daemon may do
# only what docs/security.md says, and a row written into the store by cid's
# user opens nothing.
. "${SEKISHO_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/net/lib.sh"
. "$SEKISHO_TOP/tests/net/lib_system.sh"
net_init

# The units, sysusers and tmpfiles files under their dist/ names; test_package.sh
# points SEKISHO_DIST at the installed ones (a directory of links) instead.
DIST=${SEKISHO_DIST:-$SEKISHO_TOP/dist}
MAX_EXPOSURE=2.5
P=$NET_PREFIX                          # sekisho -> sk<pid> in every user and group name
expect() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "want '$2', got '$3'"; fi; }

# ---- the units ----
if command -v systemd-analyze >/dev/null; then
	# Everything but the programs' absence from /usr/sbin on a build machine.
	systemd-analyze verify "$DIST"/*.service 2>&1 |
		grep -v -e 'is not executable: No such file' >"$T/verify" || true
	check "systemd-analyze verify finds nothing wrong in dist/*.service" \
		sh -c "! test -s '$T/verify' || { cat '$T/verify'; false; }"
	for d in authd cid ipfd tls-keys; do
		score=$(systemd-analyze security --offline=yes "$DIST/sekisho-$d.service" 2>&1 |
			sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
		check "systemd-analyze security: sekisho-$d.service scores ${score:-nothing} <= $MAX_EXPOSURE" \
			awk -v s="$score" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s != "" && s + 0 <= m + 0) }'
	done
else
	ok "systemd-analyze verify and security dist/*.service # SKIP no systemd-analyze"
fi
unit_has() { grep -qx "$2" "$DIST/sekisho-$1.service"; }
check "the ipfd unit: its own user, CAP_NET_ADMIN and nothing else" sh -c "
	grep -qx 'User=sekisho-ipfd' '$DIST/sekisho-ipfd.service' &&
	grep -qx 'CapabilityBoundingSet=CAP_NET_ADMIN' '$DIST/sekisho-ipfd.service' &&
	grep -qx 'AmbientCapabilities=CAP_NET_ADMIN' '$DIST/sekisho-ipfd.service' &&
	[ \$(grep -c '^CapabilityBoundingSet=' '$DIST/sekisho-ipfd.service') = 1 ]"
for d in authd cid; do
	check "the $d unit: its own user, no capabilities" sh -c "
		grep -qx 'User=sekisho-$d' '$DIST/sekisho-$d.service' &&
		grep -qx 'CapabilityBoundingSet=' '$DIST/sekisho-$d.service' &&
		! grep -q '^AmbientCapabilities' '$DIST/sekisho-$d.service'"
done

# ---- sysusers and tmpfiles, as shipped, on a scratch root ----
if command -v systemd-sysusers >/dev/null && command -v systemd-tmpfiles >/dev/null; then
	R=$T/root
	mkdir -p "$R/etc"
	systemd-sysusers --root="$R" "$DIST/sekisho.sysusers" >/dev/null 2>&1
	systemd-tmpfiles --root="$R" --create "$DIST/sekisho.tmpfiles" >/dev/null 2>&1
	members() { sed -n "s/^$1:x:[0-9]*://p" "$R/etc/group"; }
	uid_in_root() { sed -n "s/^$1:x:\([0-9]*\):.*/\1/p" "$R/etc/passwd"; }
	gid_in_root() { sed -n "s/^$1:x:\([0-9]*\):.*/\1/p" "$R/etc/group"; }
	for d in authd cid ipfd; do
		check "sysusers: a system user sekisho-$d with its own group" sh -c "
			grep -q '^sekisho-$d:x:[0-9]*:$(gid_in_root "sekisho-$d"):' '$R/etc/passwd'"
	done
	expect "sysusers: the store's group sekisho holds authd, cid and ipfd" \
		"sekisho-authd,sekisho-cid,sekisho-ipfd" "$(members sekisho | tr ',' '\n' | sort | paste -sd,)"
	expect "sysusers: ipfd's socket group sekisho-ctl holds authd and ipfd, not cid" \
		"sekisho-authd,sekisho-ipfd" "$(members sekisho-ctl | tr ',' '\n' | sort | paste -sd,)"
	mode() { stat -c '%a %u %g' "$R$1"; }
	expect "tmpfiles: /var/lib/sekisho 2770 root:sekisho" "2770 0 $(gid_in_root sekisho)" "$(mode /var/lib/sekisho)"
	expect "tmpfiles: /run/sekisho 2750 sekisho-ipfd:sekisho-ctl" \
		"2750 $(uid_in_root sekisho-ipfd) $(gid_in_root sekisho-ctl)" "$(mode /run/sekisho)"
	expect "tmpfiles: /etc/sekisho 0750 root:sekisho" "750 0 $(gid_in_root sekisho)" "$(mode /etc/sekisho)"
fi

# ---- this run's users: dist/sekisho.sysusers renamed, plus an operator ----
{
	sed "s/sekisho/$P/g" "$DIST/sekisho.sysusers"
	echo "u $P-op - \"operator\" -"
	echo "m $P-op $P"
	echo "m $P-op $P-ctl"
} >"$T/sysusers.conf"
deploy_cleanup() {
	for u in authd cid ipfd op; do userdel "$P-$u" 2>/dev/null; done
	for g in "$P-authd" "$P-cid" "$P-ipfd" "$P-op" "$P-ctl" "$P"; do groupdel "$g" 2>/dev/null; done
}
trap 'deploy_cleanup; net_cleanup' EXIT
if ! systemd-sysusers "$T/sysusers.conf" >"$T/sysusers.log" 2>&1; then
	not_ok "this run's users and groups are created" "$(cat "$T/sysusers.log")"
	tap_done; exit 1
fi
# As systemd runs a unit: the user, its group, its memberships (--init-groups),
# the units' UMask.
printf '#!/bin/sh\numask 0027\nexec "$@"\n' >"$T/umask0027" && chmod 0755 "$T/umask0027"
as() { echo "setpriv --reuid $P-$1 --regid $P-$1 --init-groups --no-new-privs"; }
UM=$T/umask0027
# LeakSanitizer cannot run under ptrace: in an ASan build the traced runs go without it.
traced() { echo "env ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -D -f -qq -A -o $T/syscalls.$1"; }   # the files, the daemons' own:
for d in authd cid ipfd; do
	for f in "$d" "$d-n"; do install -m 0600 -o "$P-$d" /dev/null "$T/syscalls.$f"; done
done
SYS_AS_CTL="$(as op)"
SYS_AS_AUTHD="$(as authd) --bounding-set -all --inh-caps -all $UM $(traced authd)"
SYS_AS_CID="$(as cid) --bounding-set -all --inh-caps -all $UM $(traced cid)"
SYS_AS_IPFD="$(as ipfd) --bounding-set -all,+net_admin --inh-caps -all,+net_admin \
	--ambient-caps -all,+net_admin $UM $(traced ipfd)"
SYS_IPFD_GROUP=$P-ctl
install -d -o root -g "$P" -m 2770 "$T/lib"           # as tmpfiles makes them
install -d -o "$P-ipfd" -g "$P-ctl" -m 2750 "$T/run"
SYS_DB=$T/lib/sekisho.db SYS_SOCK=$T/run/ipfd.sock

# ---- the store and the daemons as the units run them ----
sys_init || { not_ok "sekishoctl init as the operator"; tap_done; exit 1; }
chgrp "$P" "$CONF" && chmod 0640 "$CONF"          # as in /etc/sekisho
sys_client c1 1
sys_client c2 2
sys_user alice bob
sys_service lab 2 5
expect "the store file is 0660, group $P (the store's group)" "660 $P" "$(stat -c '%a %G' "$DB")"
check "someone outside the store's group cannot read it" \
	sh -c "! setpriv --reuid nobody --regid nogroup --clear-groups cat '$DB' >/dev/null 2>&1"
check "ipfd -n, authd -n and cid -n pass as their users" sh -c "
	$(as ipfd) $(traced ipfd-n) '$B/ipfd' -n -f '$CONF' && $(as authd) $(traced authd-n) '$B/authd' -n -f '$CONF' &&
	$(as cid) $(traced cid-n) '$B/cid' -n -f '$CONF'"
check "ipfd, authd and cid start with those privileges" sys_start_all
pid_of() { cat "$T/$1.pid"; }
status_of() { sed -n "s/^$2:\t*//p" "/proc/$(pid_of "$1")/status"; }
uid_of() { status_of "$1" Uid | cut -f1; }
expect "ipfd's effective capabilities are CAP_NET_ADMIN alone" 0000000000001000 "$(status_of ipfd CapEff)"
expect "authd has no capability" 0000000000000000 "$(status_of authd CapEff)"
expect "cid has no capability" 0000000000000000 "$(status_of cid CapEff)"
expect "each daemon runs as its own user" "$(id -u "$P-ipfd") $(id -u "$P-authd") $(id -u "$P-cid")" \
	"$(uid_of ipfd) $(uid_of authd) $(uid_of cid)"
# ipfd's descriptors on the store's file: every one opened O_RDONLY (flags & 3 == 0).
db_fd_modes() {
	for f in /proc/"$(pid_of ipfd)"/fd/*; do
		[ "$(readlink "$f")" = "$DB" ] || continue
		sed -n 's/^flags:\t*//p' "/proc/$(pid_of ipfd)/fdinfo/${f##*/}" | awk '{ print substr($0, length($0)) % 4 }'
	done | sort -u | paste -sd,
}
expect "ipfd holds the store's file read-only" 0 "$(db_fd_modes)"
check "the operator's sekishoctl sees ipfd up" sh -c "$SYS_AS_CTL '$B/sekishoctl' -f '$CONF' status | grep -q 'ipfd: *up'"
got=$($(as cid) "$PY" "$NET_HELPERS/ipc_send.py" "$SOCK" status)
expect "cid's user cannot reach ipfd's control socket" "refused Permission denied" "$got"

# ---- the flow ----
expect "alice logs in and reaches the service" "200 2 $(svc_url 2)" "$(web_login c1 10.0.1.2 alice lab)"
check "bob, not logged in, cannot connect" fw_closed c2 10.0.2.2 2
check "authd's user without CAP_NET_ADMIN cannot change the firewall" \
	sh -c "! ip netns exec $NET_PREFIX-gw $(as authd) nft add table inet intruder 2>/dev/null"

# cid's user can write the store (touches, entry codes): a right written
# straight into it, for an address no user holds, still opens nothing.
$(as cid) sqlite3 -cmd ".timeout 5000" "$DB" "INSERT INTO rights (sid, user_id, user_name,
	service_id, service_name, ip, created_at, expires_at, last_seen) SELECT 'forged', 9999, 'ghost',
	id, name, x'0a000202', unixepoch(), unixepoch() + 600, unixepoch() FROM services WHERE name = 'lab'"
expect "cid's user could write the forged right" 1 "$(sql "SELECT count(*) FROM rights WHERE sid = 'forged'")"
n=$(grep -c 'event=sync scope=all' "$T/ipfd.log")
kill -HUP "$(pid_of ipfd)"
wait_for 5 sh -c "[ \$(grep -c 'event=sync scope=all' '$T/ipfd.log') -gt $n ]"
check "after ipfd's rebuild the forged right's address is still shut out" fw_closed c2 10.0.2.2 2
check "ipfd logged the right it refused" grep -q 'event=right_refused .*user_id=9999' "$T/ipfd.log"
sql "DELETE FROM rights WHERE sid = 'forged'"

ctl right revoke "$(right_of alice lab)" >/dev/null
check "a revocation by the operator closes the firewall" fw_closed c1 10.0.1.2 2

# Restart in boot order (ipfd first): it makes the -wal and -shm files, and
# authd and cid must still write through them.
for d in cid authd ipfd; do sys_stop "$d"; done
check "started again in boot order (ipfd first), they come up" sys_start_all
expect "bob logs in after the restart (authd writes through what ipfd opened)" "200 2 $(svc_url 2)" \
	"$(web_login c2 10.0.2.2 bob lab)"
check "every file in the store's directory is 0660 and the store's group's" sh -c "
	! find '$T/lib' -mindepth 1 \\( ! -group $P -o ! -perm 0660 \\) | grep ."
for d in cid authd ipfd; do sys_stop "$d"; done

# Started by root with [cid] user (to bind a low port, say), cid drops to that
# user with its memberships, as systemd's User= gives them: the store's too.
sed "s/^\[cid\]\$/[cid]\nuser = $P-cid/" "$CONF" >"$T/cid-root.conf"
bg_start cidroot gw "$B/cid" -d -f "$T/cid-root.conf"
check "cid started by root with [cid] user comes up" wait_for 10 cid_up
expect "and runs as that user, in the store's group" "$(id -u "$P-cid") yes" \
	"$(status_of cidroot Uid | cut -f1) $(status_of cidroot Groups | tr ' ' '\n' | grep -qx "$(getent group "$P" | cut -d: -f3)" && echo yes)"
bg_stop cidroot

# ---- the system call filter ----
# Names a filter expression (@group or call, nested groups expanded) stands for.
sc_expand() {
	for x in "$@"; do
		case $x in
		@*) sc_expand $(systemd-analyze syscall-filter "$x" | sed -n 's/^    \([@a-z0-9_-]*\)$/\1/p') ;;
		*) echo "$x" ;;
		esac
	done
}
sc_allowed() {   # unit file -> the calls its SystemCallFilter lines allow
	sc_expand $(sed -n 's/^SystemCallFilter=\([^~].*\)/\1/p' "$1") | sort -u >"$T/sc.allow"
	sc_expand $(sed -n 's/^SystemCallFilter=~\(.*\)/\1/p' "$1") | sort -u >"$T/sc.deny"
	comm -23 "$T/sc.allow" "$T/sc.deny"
}
if command -v systemd-analyze >/dev/null; then
	for d in authd cid ipfd; do
		sc_allowed "$DIST/sekisho-$d.service" >"$T/allowed.$d"
		cat "$T/syscalls.$d" "$T/syscalls.$d-n" | sed -n 's/^[0-9]* *\([a-z0-9_]*\)(.*/\1/p' |
			sort -u >"$T/used.$d"
		comm -23 "$T/used.$d" "$T/allowed.$d" >"$T/refused.$d"
		check "every system call $d made is allowed by its unit's filter" \
			sh -c "[ -s '$T/used.$d' ] && ! grep . '$T/refused.$d'"
	done
fi
tap_done
