-- Login throttling (docs/security.md, "Login throttling"); the same tables
-- as SQLite's sql/002_throttle.sql.
--
-- Failed logins per (account name, source) and per account across every
-- source (source '*'). A source is a client address or "d:" and the hash of a
-- device cookie. Names need not exist: made-up names are counted the same
-- way, so the throttle does not tell which names exist.
CREATE TABLE lockouts (
	name      text    NOT NULL,
	source    text    NOT NULL,
	failures  integer NOT NULL CHECK (failures > 0),
	last_at   bigint  NOT NULL,
	PRIMARY KEY (name, source)
);
CREATE INDEX lockouts_last ON lockouts (last_at);

-- Sources a user logged in from with the right password.
CREATE TABLE known_sources (
	user_id   bigint  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	source    text    NOT NULL,
	last_at   bigint  NOT NULL,
	PRIMARY KEY (user_id, source)
);
CREATE INDEX known_sources_last ON known_sources (last_at);
