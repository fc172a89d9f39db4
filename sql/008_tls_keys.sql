-- The TLS session-ticket key ring (docs/tls.md), apart from the cookie keys:
-- the terminators' ticket keys are derived from secret, so one row is one key
-- for nginx and HAProxy alike. Not in the change log: followers do not need it.
CREATE TABLE tls_keys (
	kid          INTEGER PRIMARY KEY CHECK (kid BETWEEN 1 AND 4294967295),
	secret       BLOB    NOT NULL CHECK (length(secret) = 32),
	created_at   INTEGER NOT NULL,
	activates_at INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL,
	CHECK (expires_at > activates_at)
);
