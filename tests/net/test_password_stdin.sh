#!/bin/sh
# sekishoctl reads a password from standard input whoever runs it: as another
# user than the one who opened the file or made the pipe (docs/deploy.md
# runs it with runuser), "/dev/stdin" and "-" are read as they are.
. "${SEKISHO_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/net/lib.sh"
net_init
B=$SEKISHO_BUILD
command -v runuser >/dev/null || { not_ok "runuser installed"; tap_done; exit 1; }

# The store belongs to nobody; the password file is root's alone.
mkdir -m 0700 "$T/store" "$T/secret" && chown nobody "$T/store"
printf 'pw-from-root-1\n' >"$T/secret/pw" && chmod 0600 "$T/secret/pw"
cat >"$T/sekisho.conf" <<EOF
[db]
path = $T/store/sekisho.db
[ipfd]
enabled = off
EOF
chmod 0644 "$T/sekisho.conf"
as_nobody() { runuser -u nobody -- "$B/sekishoctl" -f "$T/sekisho.conf" "$@"; }

check "sekishoctl init as another user, root password from a redirect" \
	as_nobody init --root-password-file /dev/stdin <"$T/secret/pw"
check "user add: --password-file - from a redirect of a root-only file (deploy.md §5)" \
	as_nobody user add a1 --role user --password-file - <"$T/secret/pw"
check "user add: --password-file /dev/stdin from a pipe made by root" \
	sh -c "cat '$T/secret/pw' | runuser -u nobody -- '$B/sekishoctl' -f '$T/sekisho.conf' user add a2 --role user --password-file /dev/stdin"
check "user passwd: --password-file - from a pipe" \
	sh -c "printf 'another-pw-2\n' | runuser -u nobody -- '$B/sekishoctl' -f '$T/sekisho.conf' user passwd a1 --password-file -"
if as_nobody user add a3 --role user --password-file "$T/secret/pw" 2>"$T/err"; then
	not_ok "a file the user cannot read is refused, naming it"
else
	grep -q "$T/secret/pw: Permission denied" "$T/err" && ok "a file the user cannot read is refused, naming it" ||
		not_ok "a file the user cannot read is refused, naming it" "$(cat "$T/err")"
fi
n=$(as_nobody user list 2>/dev/null | grep -c '^a[12] ')
[ "$n" = 2 ] && ok "both users exist" || not_ok "both users exist" "$(as_nobody user list 2>&1 | tr '\n' ' ')"

tap_done
