# A private PostgreSQL cluster for system tests (POSIX sh), sourced after
# lib.sh. The same code as the unit tests' (tests/lib/pgcluster.c), through
# build/tests/tools/pgcluster: initdb in a temporary directory, postgres on a
# unix socket there only (no TCP, no system service), run as the "postgres"
# user when we are root. Daemons in any network namespace reach the socket.
#
#   pg_start            starts the cluster; sets PG_DIR and PG_URL (its postgres database)
#   pg_createdb         makes an empty database; prints its conninfo (for [db] url)
#   pg_stop             stops the cluster and removes PG_DIR (call it from the test's cleanup)

PG_TOOL="$SEKISHO_BUILD/tests/tools/pgcluster"
PG_DIR=""
PG_URL=""

pg_start() {
	pg_out=$("$PG_TOOL" start) || return 1
	PG_DIR=${pg_out%% *}
	PG_URL=${pg_out#* }
}

pg_createdb() {
	"$PG_TOOL" createdb "$PG_URL"
}

pg_stop() {
	[ -n "$PG_DIR" ] || return 0
	"$PG_TOOL" stop "$PG_DIR"
	PG_DIR=""
}
