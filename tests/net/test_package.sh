#!/bin/sh
# The Debian package: `make deb` on a copy of the tree (lintian clean of
# errors), then the package installed into this system (as root), checked,
# the deploy test (tests/net/test_deploy.sh) run against the installed files,
# and the package purged again; then make install / make uninstall into a
# staging directory.
#
# It changes the real system while it runs: it refuses to start when a
# sekisho package is already installed, never starts the units (no systemd
# runs here, and the package installs them disabled and stopped), and undoes
# what the package made (the users and groups of dist/sekisho.sysusers,
# /var/lib/sekisho, /run/sekisho, /etc/sekisho) when they were not there before.
. "${SEKISHO_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/net/lib.sh"
net_init

if dpkg-query -W -f='${Status}' sekisho 2>/dev/null | grep -q 'ok installed'; then
	echo "1..0 # SKIP a sekisho package is installed on this machine"
	exit 0
fi
APT="apt-get -y -qq -o DPkg::Lock::Timeout=120"
USERS="sekisho-authd sekisho-cid sekisho-ipfd" GROUPS_="sekisho sekisho-ctl"
had_users="" had_groups="" had_dirs=""
for u in $USERS; do getent passwd "$u" >/dev/null && had_users="$had_users $u"; done
for g in $USERS $GROUPS_; do getent group "$g" >/dev/null && had_groups="$had_groups $g"; done
for d in /var/lib/sekisho /run/sekisho /etc/sekisho; do [ -e "$d" ] && had_dirs="$had_dirs $d"; done
had() { case " $1 " in *" $2 "*) return 0 ;; esac; return 1; }
installed=no
pkg_cleanup() {
	[ "$installed" = yes ] && DEBIAN_FRONTEND=noninteractive $APT purge sekisho >/dev/null 2>&1
	installed=no
	for u in $USERS; do had "$had_users" "$u" || userdel "$u" 2>/dev/null; done
	for g in $USERS $GROUPS_; do had "$had_groups" "$g" || groupdel "$g" 2>/dev/null; done
	for d in /var/lib/sekisho /run/sekisho /etc/sekisho; do had "$had_dirs" "$d" || rm -rf "$d"; done
	net_cleanup
}
trap 'pkg_cleanup' EXIT

# ---- build ----
mkdir -p "$T/src"
(cd "$SEKISHO_TOP" && tar -c --exclude=./build --exclude=./.git --exclude=node_modules -f - .) |
	tar -x -C "$T/src"
if make -C "$T/src" deb >"$T/deb.log" 2>&1; then
	ok "make deb builds the package and lintian finds no error"
else
	not_ok "make deb builds the package and lintian finds no error" "$(tail -n 5 "$T/deb.log" | tr '\n' ' ')"
	tap_done; exit 1
fi
DEB=$(ls "$T"/src/build/deb/sekisho_*_*.deb)
SRC=$T/src/build/deb/src   # the tree dpkg-buildpackage built in (its build/ stays)
contents() { dpkg-deb -c "$DEB" | awk '{ print $6 }' | sed 's|^\./|/|'; }
for f in /usr/sbin/authd /usr/sbin/ipfd /usr/sbin/cid /usr/bin/sekishoctl \
	/lib/systemd/system/sekisho-authd.service /lib/systemd/system/sekisho-ipfd.service \
	/lib/systemd/system/sekisho-cid.service /usr/lib/sysusers.d/sekisho.conf \
	/usr/lib/tmpfiles.d/sekisho.conf /usr/share/sekisho/nginx/sekisho-door.conf \
	/usr/share/sekisho/grafana/sekisho-dashboard.json /usr/share/man/man8/authd.8.gz \
	/usr/share/man/man8/ipfd.8.gz /usr/share/man/man8/cid.8.gz /usr/share/man/man8/sekishoctl.8.gz \
	/usr/share/man/man5/sekisho.conf.5.gz /usr/share/doc/sekisho/deploy.md.gz \
	/usr/share/sekisho/web/login.html; do
	contents | grep -qx "$f" || missing="${missing:-} $f"
done
[ -z "${missing:-}" ] &&
	ok "the package has the programs, units, sysusers and tmpfiles entries, snippet, dashboard, man pages, docs" ||
	not_ok "the package has the programs, units, sysusers and tmpfiles entries, snippet, dashboard, man pages, docs" \
		"missing:$missing"
for p in caddy haproxy; do
	if [ -d "$SEKISHO_TOP/dist/$p" ]; then
		check "the package has the $p examples" sh -c "dpkg-deb -c '$DEB' | grep -q './usr/share/sekisho/$p/.'"
	fi
done

# ---- install ----
[ -z "$(pidof systemd 2>/dev/null)" ] && ok "no systemd runs here: nothing can start the units" ||
	ok "systemd runs here; the package starts no unit (--no-start) # note"
if DEBIAN_FRONTEND=noninteractive $APT install --no-install-recommends "$DEB" >"$T/install.log" 2>&1; then
	installed=yes
	ok "the package installs"
else
	not_ok "the package installs" "$(tail -n 5 "$T/install.log" | tr '\n' ' ')"
	tap_done; exit 1
fi
check "the daemons' users and the groups sekisho, sekisho-ctl exist (sysusers)" sh -c "
	for u in $USERS; do getent passwd \$u >/dev/null || exit 1; done
	getent group sekisho >/dev/null && getent group sekisho-ctl >/dev/null"
check "/var/lib/sekisho 2770 root:sekisho and /etc/sekisho 0750 root:sekisho (tmpfiles)" sh -c "
	[ \"\$(stat -c '%a %U %G' /var/lib/sekisho)\" = '2770 root sekisho' ] &&
	[ \"\$(stat -c '%a %U %G' /etc/sekisho)\" = '750 root sekisho' ]"
running_installed() {   # a process whose program is one of the installed daemons
	for e in /proc/[0-9]*/exe; do readlink "$e" 2>/dev/null; done |
		grep -qx -e /usr/sbin/authd -e /usr/sbin/ipfd -e /usr/sbin/cid
}
if running_installed; then not_ok "no installed daemon runs after the install"; else ok "no installed daemon runs after the install"; fi
check "the units are installed disabled" sh -c "! ls /etc/systemd/system/*.wants/sekisho-* 2>/dev/null | grep -q ."
check "man finds the pages: authd(8), ipfd(8), cid(8), sekishoctl(8), sekisho.conf(5)" sh -c "
	[ \"\$(man -w 8 authd)\" = /usr/share/man/man8/authd.8.gz ] &&
	[ \"\$(man -w 8 ipfd)\" = /usr/share/man/man8/ipfd.8.gz ] &&
	[ \"\$(man -w 8 cid)\" = /usr/share/man/man8/cid.8.gz ] &&
	[ \"\$(man -w 8 sekishoctl)\" = /usr/share/man/man8/sekishoctl.8.gz ] &&
	[ \"\$(man -w 5 sekisho.conf)\" = /usr/share/man/man5/sekisho.conf.5.gz ]"
check "the installed authd checks the example configuration with the installed templates" sh -c "
	zcat /usr/share/doc/sekisho/sekisho.conf.example.gz >'$T/example.conf' &&
	/usr/sbin/authd -n -f '$T/example.conf'"

# ---- the deploy test against the installed files ----
mkdir -p "$T/bin"
for p in authd ipfd cid; do ln -s "/usr/sbin/$p" "$T/bin/$p"; done
ln -s /usr/bin/sekishoctl "$T/bin/sekishoctl"
# The installed units, sysusers and tmpfiles files under the names test_deploy.sh reads.
mkdir -p "$T/dist"
for d in authd cid ipfd; do ln -s "/lib/systemd/system/sekisho-$d.service" "$T/dist/"; done
ln -s /usr/lib/sysusers.d/sekisho.conf "$T/dist/sekisho.sysusers"
ln -s /usr/lib/tmpfiles.d/sekisho.conf "$T/dist/sekisho.tmpfiles"
SEKISHO_BUILD=$T/bin SEKISHO_DIST=$T/dist \
SEKISHO_WEB=/usr/share/sekisho/web SEKISHO_NGINX_SNIPPET=/usr/share/sekisho/nginx/sekisho-door.conf \
SEKISHO_TEST_OUT='' sh "$SEKISHO_TOP/tests/net/test_deploy.sh" >"$T/deploy.tap" 2>&1
n_ok=$(grep -c '^ok ' "$T/deploy.tap") n_bad=$(grep -c '^not ok ' "$T/deploy.tap")
if [ "$n_bad" = 0 ] && [ "$n_ok" -ge 15 ]; then
	ok "test_deploy.sh passes against the installed files ($n_ok cases)"
else
	not_ok "test_deploy.sh passes against the installed files" \
		"$n_bad failed: $(grep -A1 '^not ok' "$T/deploy.tap" | tr '\n' ' ')"
fi

# ---- purge ----
if DEBIAN_FRONTEND=noninteractive $APT purge sekisho >"$T/purge.log" 2>&1; then
	installed=no
	ok "the package purges"
else
	not_ok "the package purges" "$(tail -n 5 "$T/purge.log" | tr '\n' ' ')"
fi
check "nothing of the package is left" sh -c "
	! test -e /usr/sbin/authd && ! test -e /lib/systemd/system/sekisho-ipfd.service &&
	! test -e /usr/share/sekisho && ! test -e /usr/share/man/man8/authd.8.gz"

# ---- make install / make uninstall ----
make -C "$SRC" install DESTDIR="$T/stage" >"$T/inst.log" 2>&1 &&
	ok "make install DESTDIR=... installs" || not_ok "make install DESTDIR=... installs" "$(tail -n 3 "$T/inst.log")"
check "make install puts the man pages in place" sh -c "
	test -f '$T/stage/usr/share/man/man8/sekishoctl.8' && test -f '$T/stage/usr/share/man/man5/sekisho.conf.5'"
make -C "$SRC" uninstall DESTDIR="$T/stage" >"$T/uninst.log" 2>&1 &&
	ok "make uninstall DESTDIR=... runs" || not_ok "make uninstall DESTDIR=... runs" "$(tail -n 3 "$T/uninst.log")"
check "make uninstall leaves no file but directories" sh -c "[ -z \"\$(find '$T/stage' ! -type d)\" ]"
tap_done
