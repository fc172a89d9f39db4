-- Access lists; the same tables as SQLite's sql/009_identity.sql.

CREATE TABLE groups (
	id          bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name        text    NOT NULL UNIQUE,
	created_at  bigint  NOT NULL
);

CREATE TABLE group_members (
	group_id    bigint  NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
	user_id     bigint  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

-- One entry names a user or a group, never both.
CREATE TABLE service_acl (
	service_id  bigint  NOT NULL REFERENCES services (id) ON DELETE CASCADE,
	user_id     bigint  REFERENCES users (id) ON DELETE CASCADE,
	group_id    bigint  REFERENCES groups (id) ON DELETE CASCADE,
	CHECK ((user_id IS NULL) <> (group_id IS NULL))
);
CREATE UNIQUE INDEX service_acl_user  ON service_acl (service_id, user_id)  WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX service_acl_group ON service_acl (service_id, group_id) WHERE group_id IS NOT NULL;

ALTER TABLE services ADD COLUMN restricted integer NOT NULL DEFAULT 0 CHECK (restricted IN (0, 1));

-- Where a user's password is checked; see sql/009_identity.sql.
ALTER TABLE users ADD COLUMN source text NOT NULL DEFAULT 'local'
	CHECK (source IN ('local', 'pam', 'ldap'));
