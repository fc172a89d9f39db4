#!/bin/sh
# The packages `make deb` (and tests/net/test_package.sh) need besides those of
# .ci/deps.sh: debhelper, lintian, fakeroot. Kept apart so `make check`'s
# dependencies stay lean; idempotent and quiet when nothing is missing.
set -eu
PKGS="debhelper lintian fakeroot dpkg-dev"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps-deb: missing packages:$missing (run 'make deb' once as root)" >&2
	exit 1
fi
echo "deps-deb: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
