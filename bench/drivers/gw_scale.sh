# Sourced by bench/gateways.sh (after lib_gw.sh, with gateway 1's host, the
# database and gw_init done): one gateway's followers against a large store.
#
#   scale_setup            SCALE_SERVICES services with caps nobody reaches,
#                          users b1.. (enough for both parts: ipfd refuses a
#                          right whose user does not exist)
#   scale_catchup          ipfd and cid running and caught up; both stopped
#                          (SIGSTOP: offline, their connections kept) while
#                          SCALE_CHANGES new rights commit (transactions of
#                          1000 rows; the triggers append one entry each, as
#                          admit() does); then SIGCONT and the time
#                          until ipfd has read the log to its end (its debug
#                          line event=follow seq=) and until cid's cache holds
#                          every new right (its cache_rights metric; cid may
#                          replay the entries or take a snapshot). Also the
#                          RSS of both with no right, for the next part.
#                          SCALE_CATCHUP_RUNS times (3; the medians, each
#                          run from an empty rights table, fresh daemons).
#   scale_million          SCALE_RIGHTS live rights bulk-inserted (generate_series,
#                          the rights triggers off, the counts set after), then:
#                          store_snapshot (snapread, median of 3), ipfd started
#                          until its full sync into the kernel is logged
#                          (event=sync scope=all elements=N; its own build and
#                          commit times), cid started until its cache holds
#                          them all (cache_rights metric), and each one's
#                          RSS - the RSS with no right, per right.
# Each prints its lines to stdout. Times are wall milliseconds (date +%s%3N
# polls every 20 ms: the resolution).

SCALE_SERVICES=${SCALE_SERVICES:-10}
SCALE_CHANGES=${SCALE_CHANGES:-100000}
SCALE_RIGHTS=${SCALE_RIGHTS:-1000000}
SCALE_CATCHUP_RUNS=${SCALE_CATCHUP_RUNS:-3}

scale_pid() { cat "$T/$1.1.pid"; }
scale_rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$(scale_pid "$1")/status"; }   # kB
scale_metric() { in_ns gw1 curl -s --max-time 5 http://127.0.0.1:9081/metrics | awk -v m="$1" '$1 == m { printf "%d\n", $2 }'; }
scale_ipfd_seq() { sed -n 's/.*event=follow seq=\([0-9]*\).*/\1/p' "$T/ipfd.1.log" | tail -n 1; }
scale_ge() { v=$("$2"); [ -n "$v" ] && [ "$v" -ge "$1" ]; }   # target getter

scale_setup() {
	GW_LOG_LEVEL=debug gw_conf 1 >"$T/gw1.conf"   # ipfd's event=follow lines
	k=0
	while [ "$k" -lt "$SCALE_SERVICES" ]; do
		gw_service "big$k" $((k + 10)) 1000 || return 1
		k=$((k + 1))
	done
	gw_psql "UPDATE services SET cap = 100000000, max_usage_min = 100000, max_interval_min = 100000"
	nu=$((SCALE_RIGHTS / SCALE_SERVICES))   # each user holds a right on every service
	[ "$nu" -lt "$SCALE_CHANGES" ] && nu=$SCALE_CHANGES
	gw_psql "INSERT INTO users (name, role, pwhash, created_at)
	         SELECT 'b' || i, 0, '\$x\$', 0 FROM generate_series(1, $nu) i"
}

# Waits until getter $2 reaches $1, at most $3 s; prints the milliseconds since $4.
scale_until() {
	while ! scale_ge "$1" "$2"; do
		[ $(( $(date +%s%3N) - $4 )) -gt $(($3 * 1000)) ] && { echo timeout; return 1; }
		sleep 0.02
	done
	echo $(( $(date +%s%3N) - $4 ))
}

scale_cid_rights() { scale_metric sekisho_cid_cache_rights; }

# One catch-up; appends "commit_ms ipfd_ms cid_ms" to $T/catchup.runs.
scale_catchup_once() {
	gw_start 1 ipfd cid || return 1
	wait_for 30 scale_ge 0 scale_cid_rights || return 1
	sleep 2
	SCALE_RSS0_IPFD=$(scale_rss ipfd) SCALE_RSS0_CID=$(scale_rss cid)
	c0=$(scale_cid_rights)
	kill -STOP "$(scale_pid ipfd)" "$(scale_pid cid)"
	t=$(date +%s%3N)
	gw_psql "DO \$\$
	DECLARE
		svc bigint[] := (SELECT array_agg(id ORDER BY id) FROM services WHERE name LIKE 'big%');
		u0 bigint := (SELECT min(id) - 1 FROM users WHERE name LIKE 'b%');
		t_now bigint := extract(epoch FROM now())::bigint;
	BEGIN
		FOR k IN 0 .. $SCALE_CHANGES / 1000 - 1 LOOP
			INSERT INTO rights (sid, user_id, user_name, service_id, service_name, ip,
			                    created_at, expires_at, last_seen)
			SELECT md5('c' || i), u0 + i, 'b' || i, s.id, s.name,
			       decode(lpad(to_hex(167772160 + i), 8, '0'), 'hex'), t_now, t_now + 86400, t_now
			FROM generate_series(k * 1000 + 1, k * 1000 + 1000) i
			JOIN services s ON s.id = svc[1 + i % array_length(svc, 1)];
			COMMIT;
		END LOOP;
	END \$\$"
	commit_ms=$(( $(date +%s%3N) - t ))
	gw_psql "SELECT pg_notify('sekisho_changes', '')" >/dev/null   # SQL by hand rings nobody (docs/scaleout.md)
	target=$(gw_psql "SELECT (SELECT seq FROM feed) + (SELECT count(*) FROM changes WHERE seq IS NULL)")
	t0=$(date +%s%3N)
	kill -CONT "$(scale_pid ipfd)" "$(scale_pid cid)"
	ipfd_ms="" cid_ms=""
	while [ -z "$ipfd_ms" ] || [ -z "$cid_ms" ]; do   # both at once: each its own time
		[ -z "$ipfd_ms" ] && scale_ge "$target" scale_ipfd_seq && ipfd_ms=$(( $(date +%s%3N) - t0 ))
		[ -z "$cid_ms" ] && scale_ge $((c0 + SCALE_CHANGES)) scale_cid_rights && cid_ms=$(( $(date +%s%3N) - t0 ))
		[ $(( $(date +%s%3N) - t0 )) -gt 1800000 ] && { ipfd_ms=${ipfd_ms:-timeout} cid_ms=${cid_ms:-timeout}; }
		sleep 0.02
	done
	echo "$commit_ms $ipfd_ms $cid_ms" >>"$T/catchup.runs"
	gw_stop 1 ipfd
	gw_stop 1 cid
}

scale_median() { awk -v c="$1" '{ print $c }' "$T/catchup.runs" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
scale_runs() { awk -v c="$1" '{ printf "%s%s", (NR > 1 ? "," : ""), $c }' "$T/catchup.runs"; }

scale_catchup() {
	: >"$T/catchup.runs"
	r=0
	while [ "$r" -lt "$SCALE_CATCHUP_RUNS" ]; do
		[ "$r" -gt 0 ] && gw_psql "ALTER TABLE rights DISABLE TRIGGER USER; DELETE FROM rights;
		                          ALTER TABLE rights ENABLE TRIGGER USER" >/dev/null
		scale_catchup_once || return 1
		r=$((r + 1))
	done
	echo "catch-up of one gateway's followers after $SCALE_CHANGES changes (new rights over $SCALE_SERVICES services, committed in $(scale_median 1) ms while both were stopped), median of $SCALE_CATCHUP_RUNS runs"
	echo "  ipfd read the log to its end and refilled the sets it names:       $(scale_median 2) ms (runs: $(scale_runs 2))"
	echo "  cid's cache holds every new right:                                 $(scale_median 3) ms (runs: $(scale_runs 3))"
}

scale_million() {
	per=$((SCALE_RIGHTS / SCALE_SERVICES))
	t=$(date +%s%3N)
	gw_psql "ALTER TABLE rights DISABLE TRIGGER USER;
	DELETE FROM rights;
	INSERT INTO rights (sid, user_id, user_name, service_id, service_name, ip, created_at,
	                    expires_at, last_seen)
	SELECT md5('m' || s.id || '.' || i), n.u0 + i, 'b' || i, s.id, s.name,
	       decode(lpad(to_hex(167772160 + i), 8, '0'), 'hex'), n.t, n.t + 86400 * 30, n.t
	FROM (SELECT extract(epoch FROM now())::bigint AS t,
	             (SELECT min(id) - 1 FROM users WHERE name LIKE 'b%') AS u0) n,
	     services s, generate_series(1, $per) i WHERE s.name LIKE 'big%';
	ALTER TABLE rights ENABLE TRIGGER USER;
	UPDATE services s SET active = (SELECT count(*) FROM rights r WHERE r.service_id = s.id AND r.ended_at IS NULL)"
	gw_psql "VACUUM ANALYZE rights"
	fill_ms=$(( $(date +%s%3N) - t ))
	live=$(gw_psql "SELECT count(*) FROM rights WHERE ended_at IS NULL")
	snap=$(in_ns gw1 "$SEKISHO_BUILD/bench/snapread" -f "$T/gw1.conf" 3)
	snap_med=$(echo "$snap" | sed 's/^ms=\([0-9,]*\) .*/\1/' | tr , '\n' | sort -n | sed -n 2p)
	t0=$(date +%s%3N)
	rm -f "$T/ipfd.1.sock"
	bg_start ipfd.1 gw1 "$SEKISHO_BUILD/ipfd" -d -f "$T/gw1.conf"
	wait_for 1800 grep -q "event=sync scope=all.* elements=$live" "$T/ipfd.1.log" || { echo "ipfd: no full sync" >&2; return 1; }
	ipfd_ms=$(( $(date +%s%3N) - t0 ))
	sync_line=$(grep "event=sync scope=all.* elements=$live" "$T/ipfd.1.log" | head -n 1)
	build_us=$(echo "$sync_line" | sed 's/.*build_us=\([0-9]*\).*/\1/')
	commit_us=$(echo "$sync_line" | sed 's/.*commit_us=\([0-9]*\).*/\1/')
	sleep 1
	rss_ipfd=$(scale_rss ipfd)
	t0=$(date +%s%3N)
	bg_start cid.1 gw1 "$SEKISHO_BUILD/cid" -d -f "$T/gw1.conf"
	cid_ms=$(scale_until "$live" scale_cid_rights 1800 "$t0")
	sleep 1
	rss_cid=$(scale_rss cid)
	echo "$live live rights over $SCALE_SERVICES services (bulk insert and VACUUM ANALYZE: $fill_ms ms)"
	echo "  store_snapshot (snapread, median of 3; $snap):  $snap_med ms"
	echo "  ipfd start to its full sync in the kernel:            $ipfd_ms ms (its snapshot and batch build $((build_us / 1000)) ms, netlink commit $((commit_us / 1000)) ms)"
	echo "  cid start to all rights in its cache:                 $cid_ms ms"
	echo "  ipfd RSS $SCALE_RSS0_IPFD kB with no right, $rss_ipfd kB with them: $(( (rss_ipfd - SCALE_RSS0_IPFD) * 1024 / live )) bytes per right (the kernel's set memory not counted)"
	echo "  cid  RSS $SCALE_RSS0_CID kB with no right, $rss_cid kB with them: $(( (rss_cid - SCALE_RSS0_CID) * 1024 / live )) bytes per right"
	gw_stop 1 ipfd
	gw_stop 1 cid
}
