-- One word for an access right: the table "sessions" becomes "rights", with
-- its indexes and triggers (SQLite renames the table inside the triggers and
-- in entry_codes' foreign key; their own names are recreated here).
-- Audit rows written under the old names get the one name each act has now,
-- whatever interface did it.

ALTER TABLE sessions RENAME TO rights;

DROP INDEX sessions_live_user;
DROP INDEX sessions_live_ip;
DROP INDEX sessions_live_expiry;
DROP INDEX sessions_live_seen;
DROP INDEX sessions_ended;
-- One live right per user and service: a second admission replaces the first.
CREATE UNIQUE INDEX rights_live_user ON rights (user_id, service_id) WHERE ended_at IS NULL;
CREATE INDEX rights_live_ip      ON rights (service_id, ip)         WHERE ended_at IS NULL;
CREATE INDEX rights_live_expiry  ON rights (service_id, expires_at) WHERE ended_at IS NULL;
CREATE INDEX rights_live_seen    ON rights (service_id, last_seen)  WHERE ended_at IS NULL;
CREATE INDEX rights_ended        ON rights (ended_at)               WHERE ended_at IS NOT NULL;

DROP TRIGGER sessions_admit;
DROP TRIGGER sessions_end;
DROP TRIGGER sessions_delete_live;

CREATE TRIGGER rights_admit AFTER INSERT ON rights
WHEN NEW.ended_at IS NULL
BEGIN
	UPDATE services SET active = active + 1 WHERE id = NEW.service_id;
	INSERT INTO changes (kind, service_id, right_id) VALUES (1, NEW.service_id, NEW.id);
END;

CREATE TRIGGER rights_end AFTER UPDATE OF ended_at ON rights
WHEN OLD.ended_at IS NULL AND NEW.ended_at IS NOT NULL
BEGIN
	UPDATE services SET active = active - 1 WHERE id = NEW.service_id;
	INSERT INTO changes (kind, service_id, right_id) VALUES (2, NEW.service_id, NEW.id);
END;

-- A live right removed by hand still frees its slot.
CREATE TRIGGER rights_delete_live AFTER DELETE ON rights
WHEN OLD.ended_at IS NULL
BEGIN
	UPDATE services SET active = active - 1 WHERE id = OLD.service_id;
	INSERT INTO changes (kind, service_id, right_id) VALUES (2, OLD.service_id, OLD.id);
END;

-- sekishoctl wrote these before the names were shared with the admin pages.
UPDATE audit SET action = 'right.revoke' WHERE action = 'session.revoke';
UPDATE audit SET action = 'admit' WHERE action = 'grant';
UPDATE audit SET action = 'deny', detail = detail || ' reason=ipfd_unavailable'
WHERE action = 'grant.rollback';
UPDATE audit SET detail = replace(detail, 'rights_ended=', 'ended=')
WHERE detail LIKE '%rights_ended=%';
