-- The waiting room: the same table as SQLite's sql/006_queue.sql, and
-- queue_admit(), the sibling of admit() that decides between admitting,
-- keeping or giving a place in line, under the same locks (feed row, then the
-- service row), so FIFO and the head's reserved slot are exact across every
-- gateway. The rules are in common/store.h (store_queue_admit).
CREATE TABLE queue (
	id          bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	service_id  bigint  NOT NULL REFERENCES services (id) ON DELETE CASCADE,
	user_id     bigint  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	joined_at   bigint  NOT NULL,
	last_poll   bigint  NOT NULL,
	UNIQUE (service_id, user_id)
);
CREATE INDEX queue_order ON queue (service_id, id);
CREATE INDEX queue_poll  ON queue (service_id, last_poll);

-- rc: 0 admitted (admit()'s columns filled), 1 queue full, 2 no such enabled
-- service or user, 3 holding a place (q_position, q_waiting; q_new 1 when
-- this call gave it).
CREATE FUNCTION queue_admit(p_user bigint, p_service bigint, p_ip bytea, p_now bigint,
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
	cap := v.cap;
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
	free := v.cap - active + (CASE WHEN holds THEN 1 ELSE 0 END);
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
		IF mine_id IS NOT NULL THEN
			DELETE FROM queue q WHERE q.id = mine_id;
			q_waiting := q_waiting - 1;
		END IF;
		SELECT * INTO a FROM admit(p_user, p_service, p_ip, p_now, p_sid);
		rc := a.rc;
		right_id := a.right_id;
		reaped := n_reaped + a.reaped;
		replaced_id := a.replaced_id;
		replaced_ip := a.replaced_ip;
		active := a.active;
		expires_at := a.expires_at;
		idle_deadline := a.idle_deadline;
		q_position := 0;
		IF rc <> 0 THEN
			RAISE EXCEPTION 'queue_admit: admit() refused a free slot (rc %)', rc;
		END IF;
		RETURN;
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
