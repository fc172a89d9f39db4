-- Access lists and user sources (docs/identity.md). A service is open to every enabled user
-- (restricted = 0, as before) or only to the users listed in service_acl,
-- directly or through a group. Deleting a user, group or service deletes its
-- memberships and list entries with it.

CREATE TABLE groups (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	name        TEXT    NOT NULL UNIQUE,
	created_at  INTEGER NOT NULL
);

CREATE TABLE group_members (
	group_id    INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
	user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

-- One entry names a user or a group, never both.
CREATE TABLE service_acl (
	service_id  INTEGER NOT NULL REFERENCES services (id) ON DELETE CASCADE,
	user_id     INTEGER REFERENCES users (id) ON DELETE CASCADE,
	group_id    INTEGER REFERENCES groups (id) ON DELETE CASCADE,
	CHECK ((user_id IS NULL) <> (group_id IS NULL))
);
CREATE UNIQUE INDEX service_acl_user  ON service_acl (service_id, user_id)  WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX service_acl_group ON service_acl (service_id, group_id) WHERE group_id IS NOT NULL;

ALTER TABLE services ADD COLUMN restricted INTEGER NOT NULL DEFAULT 0 CHECK (restricted IN (0, 1));

-- Where a user's password is checked (docs/identity.md): 'local' (the scrypt
-- hash in pwhash, as before), 'pam' or 'ldap' (pwhash is '!', which matches
-- no password). Accounts of an external source are made at their first login.
ALTER TABLE users ADD COLUMN source TEXT NOT NULL DEFAULT 'local'
	CHECK (source IN ('local', 'pam', 'ldap'));
