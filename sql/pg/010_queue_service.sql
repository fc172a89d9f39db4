-- Per-service waiting room settings and an admission rate (docs/authd.md,
-- "The waiting room"). The [authd] keys queue, queue_max and queue_lapse_s
-- stay the defaults: a column at its "unset" value takes the [authd] key.
--   queue_mode:     -1 as [authd] queue, 0 off, 1 on
--   queue_max:      places in line; 0 = [authd] queue_max
--   queue_lapse_s:  a place lapses unpolled this long; 0 = [authd] queue_lapse_s
--   rate_per_min:   new admissions in any 60 s; 0 = no rate
ALTER TABLE services ADD COLUMN queue_mode integer NOT NULL DEFAULT -1
	CHECK (queue_mode IN (-1, 0, 1));
ALTER TABLE services ADD COLUMN queue_max integer NOT NULL DEFAULT 0
	CHECK (queue_max BETWEEN 0 AND 1000000);
ALTER TABLE services ADD COLUMN queue_lapse_s integer NOT NULL DEFAULT 0
	CHECK (queue_lapse_s = 0 OR queue_lapse_s BETWEEN 10 AND 86400);
ALTER TABLE services ADD COLUMN rate_per_min integer NOT NULL DEFAULT 0
	CHECK (rate_per_min BETWEEN 0 AND 100000);

-- The new admissions of a service with a rate, one row each, at the second
-- it was made. The admission's own transaction counts the rows of the last
-- 60 s (at > now - 60) and removes older ones, so the rate is exact across
-- gateways. A user who replaces their own live right is not new: no row.
CREATE TABLE admissions (
	id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	service_id  bigint  NOT NULL REFERENCES services (id) ON DELETE CASCADE,
	at          bigint  NOT NULL
);
CREATE INDEX admissions_at ON admissions (service_id, at);

-- How many more new admissions the rate allows at p_now (rows of the last
-- 60 s against p_rate), removing the service's older rows. Called under the
-- service row lock (admit(), queue_admit()), so the count is exact.
CREATE FUNCTION rate_room(p_service bigint, p_rate integer, p_now bigint) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	n integer;
BEGIN
	DELETE FROM admissions d WHERE d.service_id = p_service AND d.at <= p_now - 60;
	SELECT count(*) INTO n FROM admissions d WHERE d.service_id = p_service;
	RETURN p_rate - n;
END $$;

-- admit() as in 007, and the rate (the lines between "010 rate" marks): a
-- new user past the service's rate is refused with rc 5 (nothing written;
-- expires_at = when the rate next has room). The signature is 007's.
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
	PERFORM 1 FROM feed FOR UPDATE;
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

-- queue_admit() as in 007, and the rate (the lines between "010 rate"
-- marks): the head's reserved slots are limited to what the rate allows now,
-- so the line holds (FIFO) until the rate has room. Signature as in 006.
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
	PERFORM 1 FROM feed FOR UPDATE;
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
