#!/bin/sh
# Moving a gateway from SQLite to PostgreSQL (sekishoctl store copy,
# docs/scaleout.md): a gateway on SQLite with an admitted client and a
# logged-in admin stops, sekishoctl copies the store into PostgreSQL, the
# gateway starts on PostgreSQL, and nobody logs in again: the same cookie
# opens cid's door, the client's address is in the kernel set, the admin's
# login holds; a stranger is still refused. Bad sources and targets are
# refused with a message naming them, leaving nothing behind; a second copy
# into the now filled database is refused.
. "${SEKISHO_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/net/lib.sh"
. "$SEKISHO_TOP/tests/net/lib_pg.sh"
. "$SEKISHO_TOP/tests/net/lib_system.sh"
. "$SEKISHO_TOP/tests/net/lib_gw.sh"
net_init
trap 'gw_cleanup; net_cleanup' EXIT

expect() {   # name want got
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "want '$2', got '$3'"; fi
}
set_has() {   # addr: gateway 1's kernel set of service 1 (lab) holds addr
	in_ns gw1 nft list set inet sekisho s1_v4 2>/dev/null | grep -Eq "(^|[ {,])$1([ ,}]|$)"
}
door_is() { [ "$(gw_door 1 lab "$1" "$2")" = "$3" ]; }   # addr cookie code
fails_saying() {   # file text cmd...: cmd exits non-zero and says text on stderr
	_f=$1 _t=$2; shift 2
	! "$@" >/dev/null 2>"$T/$_f" && grep -q -- "$_t" "$T/$_f"
}
copy() { gw_ctl 1 store copy "$@"; }
stop_all() { gw_stop 1 cid; gw_stop 1 authd; gw_stop 1 ipfd; }

# ---- a gateway on SQLite ----
gw_db_start && gw_add 1 2 || { not_ok "database host and a gateway"; tap_done; exit 1; }
PG_CONF=$T/gw1.pg.conf
mv "$T/gw1.conf" "$PG_CONF"
sed "s|^url = .*|path = $T/db.sqlite|" "$PG_CONF" >"$T/gw1.conf"
check "the gateway's store is a SQLite file" gw_init 1
gw_ctl 1 user add u1 --role user --password-file "$T/pw" >/dev/null
gw_service lab 2 5
check "the gateway starts on SQLite" gw_start 1
loc=$(gw_login 1 10.0.1.2 u1 lab)
expect "(setup) u1 is admitted" 303 "${loc%% *}"
cookie=$(gw_enter 1 10.0.1.2 "${loc#* }")
check "(setup) cid hands over the access cookie" door_is 10.0.1.2 "$cookie" 204
check "(setup) the client's address is in the kernel set" set_has 10.0.1.2
expect "(setup) root logs in to the admin pages" 303 "$(gw_admin_login 1 10.0.1.3)"
stop_all
sum_before=$(sha256sum <"$T/db.sqlite")

# ---- what the copy refuses, leaving the target as it was ----
URL=$(gw_url 1)
check "a missing source is refused, naming it" \
	fails_saying e1 "$T/nope.db" copy --from "$T/nope.db" --to "$URL"
echo "not a database" >"$T/junk.db"
check "a file that is no database is refused, naming it" \
	fails_saying e2 "$T/junk.db" copy --from "$T/junk.db" --to "$URL"
cp "$T/db.sqlite" "$T/old.db" && sqlite3 "$T/old.db" "PRAGMA user_version = 8"
# The build's version is its newest migration's number.
need=$(ls "$SEKISHO_TOP"/sql/[0-9]*.sql | sed 's|.*/0*\([0-9]*\)_.*|\1|' | sort -n | tail -n 1)
check "a source at another schema version is refused, naming both" \
	fails_saying e8 "schema version 8, this build needs $need" copy --from "$T/old.db" --to "$URL"
cp "$T/db.sqlite" "$T/more.db" && sqlite3 "$T/more.db" "CREATE TABLE extra (x)"
check "a source with a table the copy does not know is refused before any row" \
	fails_saying e9 'table "extra"' copy --from "$T/more.db" --to "$URL"
check "a malformed connection string is refused" \
	fails_saying e3 "unterminated" copy --to "host='10.7.1.10"
check "an unreachable PostgreSQL is refused, naming the host" \
	fails_saying e4 "10.7.1.99" copy --to "host=10.7.1.99 $GW_URL connect_timeout=2"
other=$(pg_createdb)
"$PGC_PSQL" -X -q "$other" -c "CREATE TABLE foreign_stuff (x int)"
check "a database that is not sekisho's is refused" \
	fails_saying e5 "not a sekisho database" copy --to "$other"
check "... and stays as it was" test "$("$PGC_PSQL" -X -At "$other" -c \
	"SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" = 1
older=$(pg_createdb)
copy --to "$older" >/dev/null 2>&1 &&
PGOPTIONS="-c client_min_messages=warning" "$PGC_PSQL" -X -q "$older" -c "TRUNCATE audit, users CASCADE;
	DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)"
check "a database at an older schema is refused: migrate it first" \
	fails_saying e7 "sekishoctl migrate" copy --to "$older"
expect "--to is needed when the config names no url (exit 2)" 2 \
	"$(copy >/dev/null 2>&1; echo $?)"
expect "nothing reached the target database but its empty schema" "0 0 0 0" \
	"$(gw_psql "SELECT (SELECT count(*) FROM users) || ' ' || (SELECT count(*) FROM services)
	            || ' ' || (SELECT count(*) FROM rights) || ' ' || (SELECT count(*) FROM audit)")"

# ---- the move ----
copy --to "$URL" --json >"$T/copy.json" 2>"$T/copy.err"
expect "sekishoctl store copy moves the store (exit 0)" 0 "$?"
expect "it reports the users it moved" 2 "$(json_field rows.users <"$T/copy.json")"
expect "it reports the live right it moved" 1 "$(json_field rows.rights <"$T/copy.json")"
check "the source file is unchanged" test "$(sha256sum <"$T/db.sqlite")" = "$sum_before"
expect "the move is the last audit record" "store.copy" \
	"$(gw_psql "SELECT action FROM audit ORDER BY id DESC LIMIT 1")"
cp "$PG_CONF" "$T/gw1.conf"
check "the gateway starts on PostgreSQL" gw_start 1
check "the same cookie opens cid's door without logging in again" \
	door_is 10.0.1.2 "$cookie" 204
check "the client's address is in the kernel set again" wait_for 20 set_has 10.0.1.2
check "... and the firewall lets it through" gw_fw_open 1 10.0.1.2 2
expect "root's admin login holds too" 200 "$(gw_admin_get 1 10.0.1.3 /admin/rights)"
check "... and its page lists u1's access" grep -q '>u1<' "$T/admin.10.0.1.3.page"
set_lacks() { ! set_has "$@"; }
fw_shut() { ! gw_fw_open "$@"; }
check "a stranger's address is not in the kernel set" set_lacks 10.0.1.3
check "... and the firewall keeps it out" fw_shut 1 10.0.1.3 2
forged=$(printf '%s' "$cookie" | sed 's/.$/A/')
[ "$forged" = "$cookie" ] && forged=$(printf '%s' "$cookie" | sed 's/.$/B/')
check "a forged cookie is refused at cid's door" door_is 10.0.1.2 "$forged" 401
check "a second copy into the now filled database is refused, saying why" \
	fails_saying e6 "not empty" copy --from "$T/db.sqlite" --to "$URL"
check "... and that nothing was copied" grep -q "nothing was copied" "$T/e6"
expect "... leaving one move in the audit log" 1 \
	"$(gw_psql "SELECT count(*) FROM audit WHERE action = 'store.copy'")"
check "the same cookie still opens the door" door_is 10.0.1.2 "$cookie" 204
for p in ipfd authd cid; do bg_alive "$p.1" || not_ok "$p still runs"; done
for f in e1 e2 e3 e4 e5 e6 e7 e8 e9; do echo "# $f: $(cat "$T/$f")"; done
tap_done
