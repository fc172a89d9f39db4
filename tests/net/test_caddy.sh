#!/bin/sh
# cid behind a real Caddy (Debian's caddy) with forward_auth, with the
# shipped dist/caddy/Caddyfile: the layout of tests/net/lib_proxy.sh, Caddy
# on 127.0.0.1:8080.
. "${SEKISHO_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/net/lib.sh"
net_init
. "$NET_HELPERS/lib_proxy.sh"
command -v caddy >/dev/null || { not_ok "caddy installed (make deps)"; tap_done; exit 1; }

px_setup

# No admin endpoint, no automatic HTTPS, state under $T; then the shipped
# file with this test's addresses.
{
	printf '{\n\tadmin off\n\tauto_https off\n\tstorage file_system %s\n}\n' "$T/caddy"
	sed -e 's|http://lab\.example\.org|http://127.0.0.1:8080|' -e 's|192\.0\.2\.1:|127.0.0.1:|' \
		"$SEKISHO_TOP/dist/caddy/Caddyfile"
} >"$T/Caddyfile"
export XDG_DATA_HOME="$T/caddy" XDG_CONFIG_HOME="$T/caddy" HOME="$T"
check "the shipped Caddyfile is valid" caddy validate --adapter caddyfile --config "$T/Caddyfile"
bg_start caddy gw caddy run --adapter caddyfile --config "$T/Caddyfile"
caddy_up() { [ "$(px_status 127.0.0.1 "$LAB/")" = 303 ]; }
check "caddy answers" wait_for 10 caddy_up

PX_REFUSED=303 px_door_cases caddy

tap_done
