-- The session database. Applied in one transaction by the store; the store
-- then sets PRAGMA user_version to this file's number.
--
-- Ids of users, services, rights and changes are never reused (AUTOINCREMENT):
-- ended rights keep the ids and names of a deleted user or service for audit,
-- and followers must never mistake a new row for an old one.
-- Times are unix seconds. IP addresses are 4 or 16 bytes in network order.

CREATE TABLE users (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	name        TEXT    NOT NULL UNIQUE,
	role        INTEGER NOT NULL CHECK (role IN (0, 1, 2)),
	pwhash      TEXT    NOT NULL,
	disabled    INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
	created_at  INTEGER NOT NULL
);

-- active is the number of live rights, kept by the triggers below in the same
-- transaction as the change that moves it, so admission reads it in O(1).
CREATE TABLE services (
	id               INTEGER PRIMARY KEY AUTOINCREMENT,
	name             TEXT    NOT NULL UNIQUE,
	url              TEXT    NOT NULL,
	entry_url        TEXT    NOT NULL DEFAULT '',
	max_usage_min    INTEGER NOT NULL CHECK (max_usage_min > 0),
	max_interval_min INTEGER NOT NULL CHECK (max_interval_min > 0),
	cap              INTEGER NOT NULL CHECK (cap >= 0),
	admin_id         INTEGER NOT NULL REFERENCES users (id),
	enabled          INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
	active           INTEGER NOT NULL DEFAULT 0 CHECK (active >= 0),
	created_at       INTEGER NOT NULL,
	updated_at       INTEGER NOT NULL
);
CREATE INDEX services_admin ON services (admin_id);

CREATE TABLE guards (
	service_id  INTEGER NOT NULL REFERENCES services (id) ON DELETE CASCADE,
	pos         INTEGER NOT NULL,
	ip          BLOB    NOT NULL CHECK (length(ip) IN (4, 16)),
	port        INTEGER NOT NULL CHECK (port BETWEEN 0 AND 65535),
	PRIMARY KEY (service_id, pos)
) WITHOUT ROWID;

-- Access rights. A right is live while ended_at IS NULL. user_id and
-- service_id are plain ids, not foreign keys: ended rights outlive their user
-- and service, and the names are copied so the record still reads.
CREATE TABLE sessions (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	sid          TEXT    NOT NULL UNIQUE,
	user_id      INTEGER NOT NULL,
	user_name    TEXT    NOT NULL,
	service_id   INTEGER NOT NULL,
	service_name TEXT    NOT NULL,
	ip           BLOB    NOT NULL CHECK (length(ip) IN (4, 16)),
	created_at   INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL,
	last_seen    INTEGER NOT NULL,
	ended_at     INTEGER,
	end_reason   INTEGER NOT NULL DEFAULT 0,
	CHECK ((ended_at IS NULL) = (end_reason = 0))
);
-- One live right per user and service: a second admission replaces the first.
CREATE UNIQUE INDEX sessions_live_user ON sessions (user_id, service_id) WHERE ended_at IS NULL;
CREATE INDEX sessions_live_ip      ON sessions (service_id, ip)         WHERE ended_at IS NULL;
CREATE INDEX sessions_live_expiry  ON sessions (service_id, expires_at) WHERE ended_at IS NULL;
CREATE INDEX sessions_live_seen    ON sessions (service_id, last_seen)  WHERE ended_at IS NULL;
CREATE INDEX sessions_ended        ON sessions (ended_at)               WHERE ended_at IS NOT NULL;

CREATE TABLE keys (
	kid          INTEGER PRIMARY KEY CHECK (kid BETWEEN 0 AND 4294967295),
	secret       BLOB    NOT NULL CHECK (length(secret) = 32),
	created_at   INTEGER NOT NULL,
	activates_at INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL
);

-- One-time entry codes (authd -> cid), by hash; consumed by deletion.
CREATE TABLE entry_codes (
	code_hash   TEXT    PRIMARY KEY,
	right_id    INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	expires_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX entry_codes_right ON entry_codes (right_id);

-- Portal/admin logins, by hash of the login cookie.
CREATE TABLE logins (
	id_hash     TEXT    PRIMARY KEY,
	user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	csrf        TEXT    NOT NULL,
	created_at  INTEGER NOT NULL,
	expires_at  INTEGER NOT NULL,
	last_seen   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX logins_user ON logins (user_id);

CREATE TABLE audit (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	at          INTEGER NOT NULL,
	actor       TEXT    NOT NULL,
	action      TEXT    NOT NULL,
	service     TEXT    NOT NULL DEFAULT '',
	target      TEXT    NOT NULL DEFAULT '',
	detail      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_service ON audit (service, id);
CREATE INDEX audit_actor   ON audit (actor, id);
CREATE INDEX audit_target  ON audit (target, id);
CREATE INDEX audit_at      ON audit (at);

-- The change log followers replay: kind 1 admit, 2 end, 3 service, 4 keys.
-- Rows are written only by the triggers below, so every state change appends
-- in its own transaction and seq order is commit order. at is the wall clock
-- of the write and serves retention only.
CREATE TABLE changes (
	seq         INTEGER PRIMARY KEY AUTOINCREMENT,
	kind        INTEGER NOT NULL CHECK (kind BETWEEN 1 AND 4),
	service_id  INTEGER NOT NULL DEFAULT 0,
	right_id    INTEGER NOT NULL DEFAULT 0,
	at          INTEGER NOT NULL DEFAULT (unixepoch())
);
CREATE INDEX changes_at ON changes (at);

CREATE TRIGGER sessions_admit AFTER INSERT ON sessions
WHEN NEW.ended_at IS NULL
BEGIN
	UPDATE services SET active = active + 1 WHERE id = NEW.service_id;
	INSERT INTO changes (kind, service_id, right_id) VALUES (1, NEW.service_id, NEW.id);
END;

CREATE TRIGGER sessions_end AFTER UPDATE OF ended_at ON sessions
WHEN OLD.ended_at IS NULL AND NEW.ended_at IS NOT NULL
BEGIN
	UPDATE services SET active = active - 1 WHERE id = NEW.service_id;
	INSERT INTO changes (kind, service_id, right_id) VALUES (2, NEW.service_id, NEW.id);
END;

-- A live right removed by hand still frees its slot.
CREATE TRIGGER sessions_delete_live AFTER DELETE ON sessions
WHEN OLD.ended_at IS NULL
BEGIN
	UPDATE services SET active = active - 1 WHERE id = OLD.service_id;
	INSERT INTO changes (kind, service_id, right_id) VALUES (2, OLD.service_id, OLD.id);
END;

CREATE TRIGGER services_add AFTER INSERT ON services
BEGIN
	INSERT INTO changes (kind, service_id) VALUES (3, NEW.id);
END;

-- Every editable column; active is bookkeeping and not a change.
CREATE TRIGGER services_update
AFTER UPDATE OF name, url, entry_url, max_usage_min, max_interval_min, cap,
                admin_id, enabled, updated_at ON services
BEGIN
	INSERT INTO changes (kind, service_id) VALUES (3, NEW.id);
END;

CREATE TRIGGER services_delete AFTER DELETE ON services
BEGIN
	INSERT INTO changes (kind, service_id) VALUES (3, OLD.id);
END;

CREATE TRIGGER keys_add AFTER INSERT ON keys
BEGIN
	INSERT INTO changes (kind) VALUES (4);
END;

CREATE TRIGGER keys_delete AFTER DELETE ON keys
BEGIN
	INSERT INTO changes (kind) VALUES (4);
END;
