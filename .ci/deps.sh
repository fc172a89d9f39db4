#!/bin/sh
# Installs the Debian packages (and the one npm package) sekisho needs, if missing.
# Idempotent and quiet when nothing is missing. Run as root on Debian 12.
set -eu
PKGS="build-essential pkg-config libmicrohttpd-dev libnftnl-dev libmnl-dev
libsqlite3-dev sqlite3 libssl-dev libcriterion-dev libinih-dev libpq-dev
postgresql-15 nftables iproute2 iputils-ping curl nginx-light chromium
libcurl4-openssl-dev wrk gnuplot-nox hyperfine procps psmisc socat netcat-openbsd python3 strace
clang libclang-rt-14-dev caddy haproxy libpam0g-dev pamtester
slapd ldap-utils libldap-dev keepalived postgresql-15-auto-failover pg-auto-failover-cli"
# Node.js may come from elsewhere than Debian (its npm then conflicts with
# Debian's): only the commands matter.
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || PKGS="$PKGS nodejs npm"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "deps: missing packages:$missing (run 'make deps' as root)" >&2
		exit 1
	fi
	echo "deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# playwright-core drives Debian's chromium in the browser tests; no browser download.
if [ ! -d tests/web/node_modules/playwright-core ]; then
	echo "deps: installing playwright-core (npm)"
	(cd tests/web && npm install --no-audit --no-fund --silent >/dev/null)
fi
