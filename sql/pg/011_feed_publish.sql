-- The change feed without one writer at a time (docs/scaleout.md).
--
-- Until 010 every transaction that appended to the log locked the one row of
-- feed and took seq = feed.seq + 1, so change-writing transactions ran one at
-- a time, each holding the lock through its commit's WAL flush (and so did
-- their NOTIFY). Now writers append entries without a number (seq NULL),
-- take no lock in common and notify nobody (the store does, after the
-- commit); readers
-- publish them: feed_publish() locks the feed row, numbers every entry its
-- statement's snapshot shows unnumbered (all committed, in id order) from
-- feed.seq + 1 and moves feed.seq on, in a transaction of its own. Numbers
-- are therefore handed out one publisher at a time, only to committed
-- entries, gap-free; an entry whose transaction commits later gets a later
-- number; and a reader that sees seq n sees every seq below it (the publisher
-- of n took the lock after the publisher of n - 1 committed). Writers on
-- different services no longer wait for each other.
--
-- The feed row lock also ordered admissions against the store's other write
-- transactions (the last-root rule, revocations, sweeps, service changes).
-- That order is kept by an advisory lock: admissions take it shared (they do
-- not wait for each other), the store's write transactions (pg_begin) take it
-- exclusive.

ALTER TABLE changes DROP CONSTRAINT changes_pkey;
ALTER TABLE changes ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY;
ALTER TABLE changes ALTER COLUMN seq DROP NOT NULL;
CREATE UNIQUE INDEX changes_seq ON changes (seq);
CREATE INDEX changes_unpublished ON changes (id) WHERE seq IS NULL;

DROP TRIGGER rights_feed_lock ON rights;
DROP TRIGGER services_feed_lock ON services;
DROP TRIGGER keys_feed_lock ON keys;
DROP FUNCTION feed_lock();

-- Appends one unnumbered entry. No NOTIFY here any more: a transaction that
-- notifies takes a lock global to the server at commit and holds it through
-- its WAL flush, which would queue every writer behind every other again.
-- The store wakes the followers after the commit instead (pg_ring,
-- docs/scaleout.md).
CREATE OR REPLACE FUNCTION feed_append(k integer, svc bigint, r bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO changes (kind, service_id, right_id, at)
	VALUES (k, svc, r, extract(epoch FROM clock_timestamp())::bigint);
END $$;

-- Rights ended by one statement: once per statement, as in 001, without the
-- feed row.
CREATE OR REPLACE FUNCTION rights_ended() RETURNS trigger LANGUAGE plpgsql
SET enable_nestloop = off AS $$
DECLARE
	k bigint;
BEGIN
	SELECT count(*) INTO k FROM old_rows o JOIN new_rows n ON n.id = o.id
	WHERE o.ended_at IS NULL AND n.ended_at IS NOT NULL;
	IF k = 0 THEN
		RETURN NULL;
	END IF;
	UPDATE services s SET active = s.active - c.n
	FROM (SELECT n.service_id, count(*) AS n FROM old_rows o JOIN new_rows n ON n.id = o.id
	      WHERE o.ended_at IS NULL AND n.ended_at IS NOT NULL GROUP BY n.service_id) c
	WHERE s.id = c.service_id;
	INSERT INTO changes (kind, service_id, right_id, at)
	SELECT 2, n.service_id, n.id, extract(epoch FROM clock_timestamp())::bigint
	FROM old_rows o JOIN new_rows n ON n.id = o.id
	WHERE o.ended_at IS NULL AND n.ended_at IS NOT NULL
	ORDER BY n.id;
	RETURN NULL;
END $$;

-- Numbers the committed unnumbered entries and returns the last number handed
-- out. Must run in a READ COMMITTED transaction of its own (the store calls it
-- outside any): the UPDATE takes its snapshot after the lock is granted, so it
-- sees the previous publisher's numbers and every entry committed before.
-- Nothing to number: no lock, no write.
CREATE FUNCTION feed_publish() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	base bigint;
	k    bigint;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM changes c WHERE c.seq IS NULL) THEN
		RETURN (SELECT f.seq FROM feed f);
	END IF;
	SELECT f.seq INTO base FROM feed f FOR UPDATE;
	UPDATE changes c SET seq = base + u.rn
	FROM (SELECT x.id, row_number() OVER (ORDER BY x.id) AS rn
	      FROM changes x WHERE x.seq IS NULL) u
	WHERE c.id = u.id;
	GET DIAGNOSTICS k = ROW_COUNT;
	UPDATE feed SET seq = base + k;
	RETURN base + k;
END $$;

-- store_changes in one round trip: publish, then read the numbered entries.
CREATE FUNCTION feed_read(p_after bigint, p_max integer)
RETURNS TABLE (seq bigint, kind integer, service_id bigint, right_id bigint)
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM feed_publish();
	RETURN QUERY SELECT c.seq, c.kind, c.service_id, c.right_id FROM changes c
	WHERE c.seq > p_after ORDER BY c.seq LIMIT p_max;
END $$;

-- admit() and queue_admit() as in 010 (the admission rate included), with the
-- writers' lock taken shared in place of the feed row: the service row's
-- lock still orders admissions to one service, so the count (and the rate's
-- rows) read cannot change before the insert commits.
CREATE OR REPLACE FUNCTION admit(p_user bigint, p_service bigint, p_ip bytea, p_now bigint,
                      p_sid text,
                      OUT rc integer, OUT right_id bigint, OUT reaped integer,
                      OUT replaced_id bigint, OUT replaced_ip bytea,
                      OUT active integer, OUT cap integer, OUT user_name text,
                      OUT service_name text, OUT expires_at bigint,
                      OUT idle_deadline bigint)
LANGUAGE plpgsql AS $$
DECLARE
	v services%ROWTYPE;
BEGIN
	reaped := 0;
	PERFORM pg_advisory_xact_lock_shared(hashtext('sekisho.writers'));
	SELECT * INTO v FROM services WHERE id = p_service AND enabled = 1 FOR UPDATE;
	SELECT u.name INTO user_name FROM users u WHERE u.id = p_user AND u.disabled = 0;
	IF v.id IS NULL OR user_name IS NULL THEN
		rc := 2;
		RETURN;
	END IF;
	service_name := v.name;
	cap := CASE WHEN v.cap_effective >= 0 AND v.cap_effective < v.cap
	            THEN v.cap_effective ELSE v.cap END;
	IF v.health = 1 THEN
		SELECT s.active INTO active FROM services s WHERE s.id = p_service;
		rc := 3;
		RETURN;
	END IF;
	BEGIN
		UPDATE rights r SET ended_at = p_now,
		       end_reason = CASE WHEN r.expires_at <= p_now THEN 1 ELSE 2 END
		WHERE r.service_id = p_service AND r.ended_at IS NULL
		  AND (r.expires_at <= p_now OR r.last_seen + 60 * v.max_interval_min <= p_now);
		GET DIAGNOSTICS reaped = ROW_COUNT;
		UPDATE rights r SET ended_at = p_now, end_reason = 6
		WHERE r.user_id = p_user AND r.service_id = p_service AND r.ended_at IS NULL
		RETURNING r.id, r.ip INTO replaced_id, replaced_ip;
		SELECT s.active INTO active FROM services s WHERE s.id = p_service;
		IF active >= cap THEN
			RAISE EXCEPTION USING ERRCODE = 'SK001';
		END IF;
		-- 010 rate: a new user (no live right replaced) needs room in the rate.
		IF replaced_id IS NULL AND v.rate_per_min > 0
		   AND rate_room(p_service, v.rate_per_min, p_now) <= 0 THEN
			RAISE EXCEPTION USING ERRCODE = 'SK002';
		END IF;
		-- 010 rate end
	EXCEPTION WHEN SQLSTATE 'SK001' OR SQLSTATE 'SK002' THEN     -- 010 rate: SK002
		rc := CASE WHEN SQLSTATE = 'SK002' THEN 5 ELSE 1 END;   -- 010 rate: 5
		-- 010 rate: rc 5 carries when the rate next has room in expires_at:
		-- when the (n - rate + 1)th oldest of the window leaves it.
		IF rc = 5 THEN
			SELECT d.at + 60 INTO expires_at FROM admissions d
			WHERE d.service_id = p_service AND d.at > p_now - 60 ORDER BY d.at
			OFFSET (SELECT greatest(count(*) - v.rate_per_min, 0) FROM admissions e
			        WHERE e.service_id = p_service AND e.at > p_now - 60) LIMIT 1;
		END IF;
		-- 010 rate end
		reaped := 0;
		replaced_id := NULL;
		replaced_ip := NULL;
		RETURN;
	END;
	expires_at := p_now + 60 * v.max_usage_min;
	idle_deadline := p_now + 60 * v.max_interval_min;
	INSERT INTO rights (sid, user_id, user_name, service_id, service_name, ip,
	                    created_at, expires_at, last_seen)
	VALUES (p_sid, p_user, user_name, p_service, v.name, p_ip, p_now, expires_at, p_now)
	RETURNING id INTO right_id;
	-- 010 rate: count the new admission.
	IF replaced_id IS NULL AND v.rate_per_min > 0 THEN
		INSERT INTO admissions (service_id, at) VALUES (p_service, p_now);
	END IF;
	-- 010 rate end
	active := active + 1;
	rc := 0;
END $$;

CREATE OR REPLACE FUNCTION queue_admit(p_user bigint, p_service bigint, p_ip bytea, p_now bigint,
                            p_sid text, p_lapse integer, p_max integer, p_window integer,
                            OUT rc integer, OUT right_id bigint, OUT reaped integer,
                            OUT replaced_id bigint, OUT replaced_ip bytea,
                            OUT active integer, OUT cap integer, OUT user_name text,
                            OUT service_name text, OUT expires_at bigint,
                            OUT idle_deadline bigint, OUT q_position integer,
                            OUT q_waiting integer, OUT q_lapsed integer,
                            OUT q_departures integer, OUT q_joined bigint,
                            OUT q_new integer)
LANGUAGE plpgsql AS $$
DECLARE
	v services%ROWTYPE;
	mine_id bigint;
	holds boolean;
	free integer;
	a record;
	n_reaped integer;
BEGIN
	q_position := 0;
	q_new := 0;
	PERFORM pg_advisory_xact_lock_shared(hashtext('sekisho.writers'));
	SELECT * INTO v FROM services WHERE id = p_service AND enabled = 1 FOR UPDATE;
	SELECT u.name INTO user_name FROM users u WHERE u.id = p_user AND u.disabled = 0;
	IF v.id IS NULL OR user_name IS NULL THEN
		rc := 2;
		RETURN;
	END IF;
	service_name := v.name;
	cap := CASE WHEN v.cap_effective >= 0 AND v.cap_effective < v.cap
	            THEN v.cap_effective ELSE v.cap END;
	IF v.health = 1 THEN
		SELECT s.active INTO active FROM services s WHERE s.id = p_service;
		rc := 4;
		RETURN;
	END IF;
	DELETE FROM queue q WHERE q.service_id = p_service AND q.last_poll <= p_now - p_lapse;
	GET DIAGNOSTICS q_lapsed = ROW_COUNT;
	UPDATE rights r SET ended_at = p_now,
	       end_reason = CASE WHEN r.expires_at <= p_now THEN 1 ELSE 2 END
	WHERE r.service_id = p_service AND r.ended_at IS NULL
	  AND (r.expires_at <= p_now OR r.last_seen + 60 * v.max_interval_min <= p_now);
	GET DIAGNOSTICS n_reaped = ROW_COUNT;
	SELECT EXISTS (SELECT 1 FROM rights r WHERE r.user_id = p_user
	               AND r.service_id = p_service AND r.ended_at IS NULL) INTO holds;
	SELECT s.active INTO active FROM services s WHERE s.id = p_service;
	free := cap - active + (CASE WHEN holds THEN 1 ELSE 0 END);
	-- 010 rate: the reserved slots are those the rate allows now (a holder passes).
	IF NOT holds AND v.rate_per_min > 0 THEN
		free := least(free, rate_room(p_service, v.rate_per_min, p_now));
	END IF;
	-- 010 rate end
	SELECT q.id, q.joined_at INTO mine_id, q_joined FROM queue q
	WHERE q.service_id = p_service AND q.user_id = p_user;
	SELECT count(*) INTO q_waiting FROM queue q WHERE q.service_id = p_service;
	IF mine_id IS NULL THEN
		q_position := q_waiting + 1;
		q_joined := p_now;
	ELSE
		SELECT count(*) INTO q_position FROM queue q
		WHERE q.service_id = p_service AND q.id <= mine_id;
	END IF;
	IF holds OR q_position <= free THEN
		SELECT * INTO a FROM admit(p_user, p_service, p_ip, p_now, p_sid);
		IF a.rc = 0 THEN
			IF mine_id IS NOT NULL THEN
				DELETE FROM queue q WHERE q.id = mine_id;
				q_waiting := q_waiting - 1;
			END IF;
			rc := 0;
			right_id := a.right_id;
			reaped := n_reaped + a.reaped;
			replaced_id := a.replaced_id;
			replaced_ip := a.replaced_ip;
			active := a.active;
			expires_at := a.expires_at;
			idle_deadline := a.idle_deadline;
			q_position := 0;
			RETURN;
		ELSIF a.rc NOT IN (1, 5) THEN              -- 010 rate: 5 holds the line too
			RAISE EXCEPTION 'queue_admit: admit() refused a free slot (rc %)', a.rc;
		END IF;
	END IF;
	SELECT count(*) INTO q_departures FROM rights r
	WHERE r.service_id = p_service AND r.ended_at > p_now - p_window;
	reaped := n_reaped;
	IF mine_id IS NULL THEN
		IF q_waiting >= p_max THEN
			rc := 1;
			q_position := 0;
			RETURN;
		END IF;
		INSERT INTO queue (service_id, user_id, joined_at, last_poll)
		VALUES (p_service, p_user, p_now, p_now);
		q_waiting := q_waiting + 1;
		q_new := 1;
	ELSE
		UPDATE queue q SET last_poll = p_now WHERE q.id = mine_id;
	END IF;
	rc := 3;
END $$;
