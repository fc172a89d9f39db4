-- The waiting room: a place in line per (service, user), in arrival order.
-- id is the order (AUTOINCREMENT: never reused, so a newcomer is always
-- behind everyone already waiting). last_poll is when the browser last asked;
-- a place not polled for the configured lapse time is removed by the next
-- queue operation on its service. The queue's rules are in common/store.h
-- (store_queue_admit).
CREATE TABLE queue (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	service_id  INTEGER NOT NULL REFERENCES services (id) ON DELETE CASCADE,
	user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	joined_at   INTEGER NOT NULL,
	last_poll   INTEGER NOT NULL,
	UNIQUE (service_id, user_id)
);
CREATE INDEX queue_order ON queue (service_id, id);
CREATE INDEX queue_poll  ON queue (service_id, last_poll);
