# A PostgreSQL primary and standby under pg_auto_failover (monitor, two nodes),
# in host "db" of tests/net/lib_gw.sh, sourced after it. Everything runs as the
# postgres user in $T/paf (trust authentication and no TLS: tests only; see
# docs/ha.md for production). The monitor's health checks are shortened so a
# failover takes seconds, not half a minute.
#
#   paf_start          monitor on 5500, node a on 5501 (primary), node b on 5502
#                      (synchronous standby); waits until both are in place
#   paf_url N          gateway N's conninfo: both nodes, target_session_attrs=read-write
#   paf_kill NODE      kill -9 node NODE's pg_autoctl and its postgres (a or b)
#   paf_run NODE       start node NODE's pg_autoctl again (it rejoins as standby)
#   paf_primary        prints the node (a or b) the monitor names primary
#   paf_secondary_ok   0 once a standby is in place and the primary is "primary"
#   paf_state          pg_autoctl show state
#   gw_psql SQL        (replaced) on the current primary
PAF_BIN=/usr/lib/postgresql/15/bin
PAF_MON="postgres://autoctl_node@127.0.0.1:5500/pg_auto_failover?sslmode=disable"

PAF_AS="setpriv --reuid=postgres --regid=postgres --init-groups env PATH=$PAF_BIN:/usr/bin:/bin"

paf_as() {   # cmd... as postgres in db
	in_ns db $PAF_AS XDG_CONFIG_HOME="$T/paf/cfg" XDG_DATA_HOME="$T/paf/data" XDG_RUNTIME_DIR="$T/paf/run" "$@"
}

paf_port() { case $1 in mon) echo 5500 ;; a) echo 5501 ;; b) echo 5502 ;; esac; }

paf_run() {   # node
	# Its own process group (setsid), so paf_kill takes every process of the node.
	bg_start "paf.$1" db setsid $PAF_AS XDG_CONFIG_HOME="$T/paf/cfg" \
		XDG_DATA_HOME="$T/paf/data" XDG_RUNTIME_DIR="$T/paf/run" pg_autoctl run --pgdata "$T/paf/$1"
}

paf_create() {   # node
	paf_as pg_autoctl create postgres --pgdata "$T/paf/$1" --pgport "$(paf_port "$1")" \
		--hostname 127.0.0.1 --listen '*' --auth trust --no-ssl --monitor "$PAF_MON" \
		--dbname sekisho --name "$1" >>"$T/paf/create.log" 2>&1
}

paf_mon_sql() {   # sql
	paf_as psql -X -q -At -h 127.0.0.1 -p 5500 -d pg_auto_failover -c "$1"
}

paf_state() { paf_as pg_autoctl show state --pgdata "$T/paf/mon"; }
paf_primary() {
	paf_mon_sql "SELECT nodename FROM pgautofailover.node WHERE reportedstate = goalstate
	             AND goalstate IN ('single', 'primary', 'wait_primary')"
}
paf_primary_is() { [ "$(paf_primary)" = "$1" ]; }
# A standby in place and the primary past wait_primary: the monitor fails over
# only from "primary" (a kill while the primary still waits for its new
# standby is not failed over, so a trial must not start before).
paf_secondary_ok() {
	[ "$(paf_mon_sql "SELECT count(*) FROM pgautofailover.node WHERE reportedstate = 'secondary' AND goalstate = 'secondary'")" = 1 ] &&
	[ "$(paf_mon_sql "SELECT count(*) FROM pgautofailover.node WHERE reportedstate = 'primary' AND goalstate = 'primary'")" = 1 ]
}

paf_start() {
	host_add db || return 1
	mkdir -p "$T/paf/run" && chown postgres "$T/paf" "$T/paf/run" || return 1
	paf_as pg_autoctl create monitor --pgdata "$T/paf/mon" --pgport 5500 --hostname 127.0.0.1 \
		--auth trust --no-ssl >"$T/paf/create.log" 2>&1 || return 1
	paf_run mon
	wait_for 30 paf_mon_sql "SELECT 1" || return 1
	# Health checks every 500 ms; a node is unhealthy after 2 s without an answer;
	# the standby is promoted 2 s after the primary was told to stop, not 30 s.
	for s in "health_check_period = 500" "health_check_timeout = 500" \
	         "health_check_max_retries = 1" "health_check_retry_delay = 200" \
	         "node_considered_unhealthy_timeout = 2000" "startup_grace_period = 1000" \
	         "primary_demote_timeout = 2000"; do
		paf_mon_sql "ALTER SYSTEM SET pgautofailover.$s" || return 1
	done
	paf_mon_sql "SELECT pg_reload_conf()" >/dev/null
	paf_create a || return 1
	# The gateways' hosts (10.7.N.1); pg_basebackup copies it to the standby.
	echo "host all all 10.7.0.0/16 trust" >>"$T/paf/a/pg_hba.conf"
	paf_run a
	wait_for 30 paf_primary_is a || return 1
	paf_create b || return 1
	paf_run b
	wait_for 90 paf_secondary_ok
}

paf_url() {   # n
	echo "host=10.7.$1.10,10.7.$1.10 port=5501,5502 dbname=sekisho user=postgres target_session_attrs=read-write connect_timeout=2"
}

paf_kill() {   # node: the whole node at once, as a host would die
	pids=$(cat "$T/paf/$1/postmaster.pid" 2>/dev/null | head -n 1)
	/bin/kill -KILL -- "-$(cat "$T/paf.$1.pid")" $pids 2>/dev/null   # dash's kill takes no group
	# The killed pg_autoctl stays a zombie of this shell (a subshell cannot reap it),
	# which its pidfile check would take for a live one when the node restarts.
	rm -f "$T/paf/run/pg_autoctl$T/paf/$1/pg_autoctl.pid"
	# postgres's other processes end with their postmaster; wait for the port.
	wait_for 10 sh -c '! ip netns exec "$0" sh -c "ss -ltn | grep -q :$1"' "$NET_PREFIX-db" "$(paf_port "$1")"
}

gw_psql() {   # sql, on the primary
	in_ns db "$PAF_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 \
		"host=127.0.0.1,127.0.0.1 port=5501,5502 dbname=sekisho user=postgres target_session_attrs=read-write" -c "$1"
}
gw_url() { paf_url "$1"; }
