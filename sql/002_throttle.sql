-- Login throttling (docs/security.md, "Login throttling").
--
-- Failed logins per (account name, source) and per account across every
-- source (source '*'). A source is a client address or "d:" and the hash of a
-- device cookie. Names need not exist: made-up names are counted the same
-- way, so the throttle does not tell which names exist.
CREATE TABLE lockouts (
	name      TEXT    NOT NULL,
	source    TEXT    NOT NULL,
	failures  INTEGER NOT NULL CHECK (failures > 0),
	last_at   INTEGER NOT NULL,
	PRIMARY KEY (name, source)
) WITHOUT ROWID;
CREATE INDEX lockouts_last ON lockouts (last_at);

-- Sources a user logged in from with the right password.
CREATE TABLE known_sources (
	user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	source    TEXT    NOT NULL,
	last_at   INTEGER NOT NULL,
	PRIMARY KEY (user_id, source)
) WITHOUT ROWID;
CREATE INDEX known_sources_last ON known_sources (last_at);
