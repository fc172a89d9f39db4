-- When each place's turn came: the same column as SQLite's
-- sql/013_queue_turn.sql (NULL: not yet), stamped by queue_turns() from
-- admit() and queue_admit() under the service row lock, so the turns are
-- in line order across every gateway. admit() and queue_admit() are 011's
-- bodies with the stamp added (the lines marked "013 turn"); queue_admit()
-- also returns the caller's place's turn_at (q_turn, 0: none), which
-- changes its row type: dropped and created anew. Locking as in 011.

ALTER TABLE queue ADD COLUMN turn_at bigint;

-- Stamps turn_at = p_now on each of the first k places of the service's line
-- that has none: k = p_free (slots free under the cap in force), bounded by
-- the rate's room now when the service has a rate. Called under the service
-- row lock (admit(), queue_admit()); a place keeps its first turn_at.
CREATE FUNCTION queue_turns(p_service bigint, p_free integer, p_rate integer, p_now bigint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	k integer := p_free;
BEGIN
	IF k > 0 AND p_rate > 0 THEN
		k := least(k, rate_room(p_service, p_rate, p_now));
	END IF;
	IF k > 0 THEN
		UPDATE queue q SET turn_at = p_now
		WHERE q.turn_at IS NULL AND q.id IN (SELECT x.id FROM queue x
		      WHERE x.service_id = p_service ORDER BY x.id LIMIT k);
	END IF;
END $$;

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
	-- 013 turn: the first places the service could admit now (the caller's
	-- replaced right is live again once inserted: not free).
	PERFORM queue_turns(p_service, cap - active - CASE WHEN replaced_id IS NULL THEN 0 ELSE 1 END,
	                    v.rate_per_min, p_now);
	-- 013 turn end
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

DROP FUNCTION queue_admit(bigint, bigint, bytea, bigint, text, integer, integer, integer);

CREATE FUNCTION queue_admit(p_user bigint, p_service bigint, p_ip bytea, p_now bigint,
                            p_sid text, p_lapse integer, p_max integer, p_window integer,
                            OUT rc integer, OUT right_id bigint, OUT reaped integer,
                            OUT replaced_id bigint, OUT replaced_ip bytea,
                            OUT active integer, OUT cap integer, OUT user_name text,
                            OUT service_name text, OUT expires_at bigint,
                            OUT idle_deadline bigint, OUT q_position integer,
                            OUT q_waiting integer, OUT q_lapsed integer,
                            OUT q_departures integer, OUT q_joined bigint,
                            OUT q_new integer, OUT q_turn bigint)
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
	q_turn := 0;                                        -- 013 turn
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
	-- 013 turn: every live right counted (a holder's too), all in line are new.
	PERFORM queue_turns(p_service, cap - active, v.rate_per_min, p_now);
	SELECT q.id, q.joined_at, coalesce(q.turn_at, 0) INTO mine_id, q_joined, q_turn FROM queue q
	WHERE q.service_id = p_service AND q.user_id = p_user;
	-- 013 turn end
	SELECT count(*) INTO q_waiting FROM queue q WHERE q.service_id = p_service;
	IF mine_id IS NULL THEN
		q_position := q_waiting + 1;
		q_joined := p_now;
		q_turn := 0;                                    -- 013 turn
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
