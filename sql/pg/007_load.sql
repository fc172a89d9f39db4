-- Load-aware admission (docs/adaptive.md). Per service, an optional health
-- probe and a cap mode; the prober (authd/probe.c) writes its verdict and the
-- effective cap back here, and admission reads them in the same transaction
-- as the count.
--   probe:            '' none, 'http://HOST[:PORT]/PATH' (GET, 2xx) or 'tcp://HOST:PORT'
--   cap_mode:         0 fixed, 1 adaptive (AIMD between cap_min and cap)
--   health:           0 up, 1 down (a down service admits nobody)
--   cap_effective:    what admission compares the count against; -1 = cap
ALTER TABLE services ADD COLUMN probe TEXT NOT NULL DEFAULT '';
ALTER TABLE services ADD COLUMN probe_interval_ms integer NOT NULL DEFAULT 1000
	CHECK (probe_interval_ms BETWEEN 100 AND 60000);
ALTER TABLE services ADD COLUMN probe_timeout_ms integer NOT NULL DEFAULT 500
	CHECK (probe_timeout_ms BETWEEN 10 AND 30000);
ALTER TABLE services ADD COLUMN probe_down_after integer NOT NULL DEFAULT 3
	CHECK (probe_down_after BETWEEN 1 AND 100);
ALTER TABLE services ADD COLUMN probe_up_after integer NOT NULL DEFAULT 2
	CHECK (probe_up_after BETWEEN 1 AND 100);
ALTER TABLE services ADD COLUMN cap_mode integer NOT NULL DEFAULT 0 CHECK (cap_mode IN (0, 1));
ALTER TABLE services ADD COLUMN cap_min integer NOT NULL DEFAULT 1 CHECK (cap_min >= 0);
ALTER TABLE services ADD COLUMN latency_target_ms integer NOT NULL DEFAULT 200
	CHECK (latency_target_ms BETWEEN 1 AND 60000);
ALTER TABLE services ADD COLUMN health integer NOT NULL DEFAULT 0 CHECK (health IN (0, 1));
ALTER TABLE services ADD COLUMN cap_effective integer NOT NULL DEFAULT -1
	CHECK (cap_effective >= -1);

-- Who probes: with several gateways on one store, one prober holds this lease
-- (name 'prober') and writes the verdicts; the others read them. Renewed by
-- its holder, taken over by another once expires_ms (wall clock) has passed.
CREATE TABLE leases (
	name        text    PRIMARY KEY,
	holder      text    NOT NULL,
	expires_ms  bigint  NOT NULL
);

-- admit() compares the count against the effective cap and refuses a down
-- service (rc 3). These columns are not in the services triggers' column
-- lists: a verdict or a new effective cap is not a change followers mirror.
DROP FUNCTION admit(bigint, bigint, bytea, bigint, text);
CREATE FUNCTION admit(p_user bigint, p_service bigint, p_ip bytea, p_now bigint,
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
	EXCEPTION WHEN SQLSTATE 'SK001' THEN
		rc := 1;
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
	active := active + 1;
	rc := 0;
END $$;

-- queue_admit() as in 006, but it holds the line at the effective cap and
-- refuses a down service before the line (rc 4: nothing written, no place
-- given). A holder whose replacement would still leave the service over a
-- lowered effective cap is not admitted (admit() says rc 1) and keeps or
-- takes a place instead. 006 stays as it was: a database may be at 6.
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
		ELSIF a.rc <> 1 THEN
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
