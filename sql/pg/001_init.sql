-- The session database on PostgreSQL. Applied in one transaction by the
-- store, which records it in schema_migrations (version and name).
--
-- Same meaning as sql/001_init.sql (SQLite), by the contract in
-- common/store.h. Ids are never reused (identity columns). Times are unix
-- seconds. IP addresses are 4 or 16 bytes in network order.
--
-- The change log is written by the triggers below only. Every transaction
-- that appends to it first locks the one row of feed (the statement triggers
-- *_feed_lock do it for any writer, the store does it at the start of each
-- write transaction) and takes seq = feed.seq + 1. The lock is held until
-- commit, so seq order is commit order and a rollback gives its number back:
-- the log is gap-free. docs/scaleout.md has the argument.

CREATE TABLE users (
	id          bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name        text    NOT NULL UNIQUE,
	role        integer NOT NULL CHECK (role IN (0, 1, 2)),
	pwhash      text    NOT NULL,
	disabled    integer NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
	created_at  bigint  NOT NULL
);

-- active is the number of live rights, kept by the trigger on rights in the
-- same transaction as the change that moves it.
CREATE TABLE services (
	id               bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name             text    NOT NULL UNIQUE,
	url              text    NOT NULL,
	entry_url        text    NOT NULL DEFAULT '',
	max_usage_min    integer NOT NULL CHECK (max_usage_min > 0),
	max_interval_min integer NOT NULL CHECK (max_interval_min > 0),
	cap              integer NOT NULL CHECK (cap >= 0),
	admin_id         bigint  NOT NULL REFERENCES users (id),
	enabled          integer NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
	active           integer NOT NULL DEFAULT 0 CHECK (active >= 0),
	created_at       bigint  NOT NULL,
	updated_at       bigint  NOT NULL
);
CREATE INDEX services_admin ON services (admin_id);

CREATE TABLE guards (
	service_id  bigint  NOT NULL REFERENCES services (id) ON DELETE CASCADE,
	pos         integer NOT NULL,
	ip          bytea   NOT NULL CHECK (length(ip) IN (4, 16)),
	port        integer NOT NULL CHECK (port BETWEEN 0 AND 65535),
	PRIMARY KEY (service_id, pos)
);

-- Access rights. A right is live while ended_at IS NULL. user_id and
-- service_id are plain ids, not foreign keys: ended rights outlive their user
-- and service, and the names are copied so the record still reads.
CREATE TABLE rights (
	id           bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	sid          text    NOT NULL UNIQUE,
	user_id      bigint  NOT NULL,
	user_name    text    NOT NULL,
	service_id   bigint  NOT NULL,
	service_name text    NOT NULL,
	ip           bytea   NOT NULL CHECK (length(ip) IN (4, 16)),
	created_at   bigint  NOT NULL,
	expires_at   bigint  NOT NULL,
	last_seen    bigint  NOT NULL,
	ended_at     bigint,
	end_reason   integer NOT NULL DEFAULT 0,
	CHECK ((ended_at IS NULL) = (end_reason = 0))
);
CREATE UNIQUE INDEX rights_live_user ON rights (user_id, service_id) WHERE ended_at IS NULL;
CREATE INDEX rights_live_ip      ON rights (service_id, ip)         WHERE ended_at IS NULL;
CREATE INDEX rights_live_expiry  ON rights (service_id, expires_at) WHERE ended_at IS NULL;
CREATE INDEX rights_live_seen    ON rights (service_id, last_seen)  WHERE ended_at IS NULL;
CREATE INDEX rights_ended        ON rights (ended_at)               WHERE ended_at IS NOT NULL;

CREATE TABLE keys (
	kid          bigint  PRIMARY KEY CHECK (kid BETWEEN 0 AND 4294967295),
	secret       bytea   NOT NULL CHECK (length(secret) = 32),
	created_at   bigint  NOT NULL,
	activates_at bigint  NOT NULL,
	expires_at   bigint  NOT NULL
);

-- One-time entry codes (authd -> cid), by hash; consumed by deletion.
CREATE TABLE entry_codes (
	code_hash   text    PRIMARY KEY,
	right_id    bigint  NOT NULL REFERENCES rights (id) ON DELETE CASCADE,
	expires_at  bigint  NOT NULL
);
CREATE INDEX entry_codes_right ON entry_codes (right_id);

-- Portal/admin logins, by hash of the login cookie.
CREATE TABLE logins (
	id_hash     text    PRIMARY KEY,
	user_id     bigint  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	csrf        text    NOT NULL,
	created_at  bigint  NOT NULL,
	expires_at  bigint  NOT NULL,
	last_seen   bigint  NOT NULL
);
CREATE INDEX logins_user ON logins (user_id);

CREATE TABLE audit (
	id          bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at          bigint  NOT NULL,
	actor       text    NOT NULL,
	action      text    NOT NULL,
	service     text    NOT NULL DEFAULT '',
	target      text    NOT NULL DEFAULT '',
	detail      text    NOT NULL DEFAULT ''
);
CREATE INDEX audit_service ON audit (service, id);
CREATE INDEX audit_actor   ON audit (actor, id);
CREATE INDEX audit_target  ON audit (target, id);
CREATE INDEX audit_at      ON audit (at);

-- The last seq handed out. One row; its lock is the change log's one writer.
CREATE TABLE feed (
	one  boolean PRIMARY KEY DEFAULT true CHECK (one),
	seq  bigint  NOT NULL DEFAULT 0
);
INSERT INTO feed DEFAULT VALUES;

-- The change log followers replay: kind 1 admit, 2 end, 3 service, 4 keys.
-- at is the wall clock of the write and serves retention only.
CREATE TABLE changes (
	seq         bigint  PRIMARY KEY,
	kind        integer NOT NULL CHECK (kind BETWEEN 1 AND 4),
	service_id  bigint  NOT NULL DEFAULT 0,
	right_id    bigint  NOT NULL DEFAULT 0,
	at          bigint  NOT NULL
);
CREATE INDEX changes_at ON changes (at);

CREATE FUNCTION feed_lock() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM 1 FROM feed FOR UPDATE;
	RETURN NULL;
END $$;

-- Appends one entry under the feed lock and wakes the followers at commit
-- (NOTIFY is delivered only if the transaction commits).
CREATE FUNCTION feed_append(k integer, svc bigint, r bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
BEGIN
	UPDATE feed SET seq = seq + 1 RETURNING seq INTO n;
	INSERT INTO changes (seq, kind, service_id, right_id, at)
	VALUES (n, k, svc, r, extract(epoch FROM clock_timestamp())::bigint);
	PERFORM pg_notify('sekisho_changes', '');
END $$;

CREATE FUNCTION rights_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		IF NEW.ended_at IS NULL THEN
			UPDATE services SET active = active + 1 WHERE id = NEW.service_id;
			PERFORM feed_append(1, NEW.service_id, NEW.id);
		END IF;
	ELSIF OLD.ended_at IS NULL THEN
		-- A live right removed by hand still frees its slot.
		UPDATE services SET active = active - 1 WHERE id = OLD.service_id;
		PERFORM feed_append(2, OLD.service_id, OLD.id);
	END IF;
	RETURN NULL;
END $$;

CREATE TRIGGER rights_feed_lock BEFORE INSERT OR DELETE OR UPDATE OF ended_at ON rights
FOR EACH STATEMENT EXECUTE FUNCTION feed_lock();
CREATE TRIGGER rights_changed AFTER INSERT OR DELETE ON rights
FOR EACH ROW EXECUTE FUNCTION rights_changed();

-- Rights ended by one statement (a sweep may end thousands): once per
-- statement, each service's count moves by its number of ended rights and
-- the feed by the total, so no row is updated once per right. A row trigger
-- would rewrite the same service and feed rows thousands of times in one
-- transaction, each update slower than the last.
-- Transition tables have no statistics: without the SET the planner may join
-- them by nested loop, quadratic in the rights one statement ends.
CREATE FUNCTION rights_ended() RETURNS trigger LANGUAGE plpgsql
SET enable_nestloop = off AS $$
DECLARE
	k    bigint;
	base bigint;
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
	UPDATE feed SET seq = seq + k RETURNING seq - k INTO base;
	INSERT INTO changes (seq, kind, service_id, right_id, at)
	SELECT base + row_number() OVER (ORDER BY n.id), 2, n.service_id, n.id,
	       extract(epoch FROM clock_timestamp())::bigint
	FROM old_rows o JOIN new_rows n ON n.id = o.id
	WHERE o.ended_at IS NULL AND n.ended_at IS NOT NULL;
	PERFORM pg_notify('sekisho_changes', '');
	RETURN NULL;
END $$;

-- UPDATE only (a trigger with transition tables takes no column list): a
-- last-seen update finds nothing ended and returns at once.
CREATE TRIGGER rights_ended AFTER UPDATE ON rights
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION rights_ended();

CREATE FUNCTION services_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'DELETE' THEN
		PERFORM feed_append(3, OLD.id, 0);
	ELSE
		PERFORM feed_append(3, NEW.id, 0);
	END IF;
	RETURN NULL;
END $$;

-- Every editable column; active is bookkeeping and not a change.
CREATE TRIGGER services_feed_lock BEFORE INSERT OR DELETE OR UPDATE OF name, url,
	entry_url, max_usage_min, max_interval_min, cap, admin_id, enabled, updated_at
ON services FOR EACH STATEMENT EXECUTE FUNCTION feed_lock();
CREATE TRIGGER services_changed AFTER INSERT OR DELETE OR UPDATE OF name, url,
	entry_url, max_usage_min, max_interval_min, cap, admin_id, enabled, updated_at
ON services FOR EACH ROW EXECUTE FUNCTION services_changed();

CREATE FUNCTION keys_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM feed_append(4, 0, 0);
	RETURN NULL;
END $$;

CREATE TRIGGER keys_feed_lock BEFORE INSERT OR DELETE ON keys
FOR EACH STATEMENT EXECUTE FUNCTION feed_lock();
CREATE TRIGGER keys_changed AFTER INSERT OR DELETE ON keys
FOR EACH ROW EXECUTE FUNCTION keys_changed();

-- The admission in one round trip (store.h, store_admit). Under the feed lock
-- (every admission and every change to the log queue here, so the count read
-- below cannot change before this commits) and the service row's lock: ends
-- the service's expired and idle rights and the user's own live right, counts,
-- then inserts or denies. rc: 0 admitted, 1 denied, 2 no such enabled
-- service or user. On denial nothing is written: the reaping is undone.
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
	cap := v.cap;
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
		IF active >= v.cap THEN
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
