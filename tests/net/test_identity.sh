#!/bin/sh
# PAM logins end to end (docs/identity.md): a real authd over a temporary
# SQLite store (ipfd off) whose [identity] PAM service is a stack in a temp
# directory (pam_unix against a system user made for the test and removed at
# the end); curl as the browser. /etc/pam.d is never written: authd reads the
# stack through pam_confdir, and pamtester (which knows only /etc/pam.d) sees
# the temp directory bind-mounted over it in a mount namespace of its own.
#
#   c1 (10.0.1.2) --- gw (authd 10.0.1.1:8080)
. "${SEKISHO_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/net/lib.sh"

B=$SEKISHO_BUILD
net_init
command -v pamtester >/dev/null || { echo "1..0 # SKIP pamtester missing (make deps)"; exit 0; }

PORTAL=http://10.0.1.1:8080
PUSER="skp$$"                     # the system user PAM knows
PPASS="Pam-pass-$$-ok"
CONF=$T/sekisho.conf
mkdir "$T/pam.d"
pam_stack() {   # the test service's stack: pam_unix, or a module that does not exist
	if [ "$1" = broken ]; then
		printf 'auth required pam_sekisho_missing_module.so\naccount required pam_unix.so\n'
	else
		printf 'auth required pam_unix.so\naccount required pam_unix.so\n'
	fi >"$T/pam.d/sekisho-test"
}
pam_stack unix
cat >"$CONF" <<CONF
[db]
path = $T/db.sqlite
[authd]
listen = 10.0.1.1:8080
base_url = $PORTAL
web_dir = $SEKISHO_TOP/web
hash_workers = 2
throttle_ip_burst = 50
throttle_user_burst = 20
[identity]
pam_service = sekisho-test
pam_confdir = $T/pam.d
[ipfd]
socket = $T/ipfd.sock
enabled = off
CONF

trap 'userdel "$PUSER" 2>/dev/null; net_cleanup' EXIT
useradd -M -N -s /usr/sbin/nologin "$PUSER" || { echo "1..0 # SKIP cannot add a system user"; exit 0; }
printf '%s:%s\n' "$PUSER" "$PPASS" | chpasswd

ctl() { "$B/sekishoctl" -f "$CONF" "$@"; }
browser() { in_ns c1 curl -s --max-time 30 -b "$T/jar" -c "$T/jar" "$@"; }
login() {   # USER PASSWORD: the form, then POST /login; prints the status code
	browser -o "$T/form" "$PORTAL/"
	csrf=$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$T/form" | head -n 1)
	browser -o "$T/body" -w '%{http_code}' --data-urlencode "user=$1" \
		--data-urlencode "password=$2" --data-urlencode "service=lab" \
		--data-urlencode "csrf=$csrf" "$PORTAL/login"
}
expect() {   # name want got
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "want $2, got $3"; fi
}
user_field() {   # USER FIELD: a field of the user in "user list --json"
	ctl user list --json | "$PY" -c 'import json, sys
u = [x for x in json.load(sys.stdin)["users"] if x["name"] == sys.argv[1]]
print(u[0][sys.argv[2]] if u else "absent")' "$1" "$2"
}
pamtester_ns() {   # pamtester with the temp stack bind-mounted over /etc/pam.d
	unshare -m sh -c 'mount --bind "$1" /etc/pam.d && shift && exec pamtester "$@"' sh \
		"$T/pam.d" "$@"
}

# ---- the PAM stack itself ----
pam_says() {   # PASSWORD: pamtester authenticates the system user with it
	printf '%s\n' "$1" | pamtester_ns sekisho-test "$PUSER" authenticate acct_mgmt >/dev/null 2>&1
}
check "pamtester: the test stack accepts the system user's password" pam_says "$PPASS"
if pam_says wrong-password; then not_ok "pamtester: ... and refuses a wrong one"
else ok "pamtester: ... and refuses a wrong one"; fi
check "/etc/pam.d has no test service" test ! -e /etc/pam.d/sekisho-test

# ---- topology, store, authd ----
host_add c1; host_add gw
link_add c1 10.0.1.2/24 gw 10.0.1.1/24
printf 'root-password\n' >"$T/rootpw"
ctl init --root-password-file "$T/rootpw" >/dev/null
printf 'local-password\n' >"$T/pw"
ctl user add loc --role user --password-file "$T/pw" >/dev/null
ctl service add lab --url http://10.0.9.2/ --max-usage 60 --max-interval 30 --cap 50 \
	--admin root >/dev/null
bg_start authd gw "$B/authd" -d -f "$CONF"
wait_for 10 in_ns gw curl -sf -o /dev/null http://127.0.0.1:9080/healthz

# ---- PAM logins ----
expect "an unknown name PAM does not know either is refused" 401 "$(login nosuchuser$$ whatever)"
expect "a wrong password of the system user is refused" 401 "$(login "$PUSER" wrong-password)"
expect "no account is made for a refused login" absent "$(user_field "$PUSER" source)"
expect "the system user's password admits it" 303 "$(login "$PUSER" "$PPASS")"
expect "... through a pam account made at the first login" pam "$(user_field "$PUSER" source)"
expect "... with role user" user "$(user_field "$PUSER" role)"
check "the first login is audited" sh -c "'$B/sekishoctl' -f '$CONF' audit --user '$PUSER' | grep -q 'user.add'"
expect "a second login uses the same account" 303 "$(login "$PUSER" "$PPASS")"
check "sekishoctl refuses to set a pam account's password" \
	sh -c "! '$B/sekishoctl' -f '$CONF' user passwd '$PUSER' --password-file '$T/pw' 2>'$T/passwd.err' && grep -q 'kept by its source (pam)' '$T/passwd.err'"
expect "a local account still logs in by its own password" 303 "$(login loc local-password)"
# A fresh browser: one holding loc's portal login would not be asked again.
rm -f "$T/jar"
expect "a local account's name is never checked by PAM" 401 "$(login loc "$PPASS")"

# ---- the stack failing: fail closed for PAM, local accounts still work ----
pam_stack broken
expect "a broken PAM stack refuses the pam account with 503" 503 "$(login "$PUSER" "$PPASS")"
check "... saying the directory is not answering" grep -q 'directory is not answering' "$T/body"
expect "... while a local account still logs in" 303 "$(login loc local-password)"
pam_stack unix

# ---- the user removed from the system ----
userdel "$PUSER"
expect "a user PAM no longer knows is refused" 401 "$(login "$PUSER" "$PPASS")"
expect "... and its sekisho account is disabled" True "$(user_field "$PUSER" disabled)"
check "... which is audited" sh -c "'$B/sekishoctl' -f '$CONF' audit --user '$PUSER' | grep -q 'user.disable'"

tap_done
