-- Per-service waiting room settings and an admission rate (docs/authd.md,
-- "The waiting room"). The [authd] keys queue, queue_max and queue_lapse_s
-- stay the defaults: a column at its "unset" value takes the [authd] key.
--   queue_mode:     -1 as [authd] queue, 0 off, 1 on
--   queue_max:      places in line; 0 = [authd] queue_max
--   queue_lapse_s:  a place lapses unpolled this long; 0 = [authd] queue_lapse_s
--   rate_per_min:   new admissions in any 60 s; 0 = no rate
ALTER TABLE services ADD COLUMN queue_mode INTEGER NOT NULL DEFAULT -1
	CHECK (queue_mode IN (-1, 0, 1));
ALTER TABLE services ADD COLUMN queue_max INTEGER NOT NULL DEFAULT 0
	CHECK (queue_max BETWEEN 0 AND 1000000);
ALTER TABLE services ADD COLUMN queue_lapse_s INTEGER NOT NULL DEFAULT 0
	CHECK (queue_lapse_s = 0 OR queue_lapse_s BETWEEN 10 AND 86400);
ALTER TABLE services ADD COLUMN rate_per_min INTEGER NOT NULL DEFAULT 0
	CHECK (rate_per_min BETWEEN 0 AND 100000);

-- The new admissions of a service with a rate, one row each, at the second
-- it was made. The admission's own transaction counts the rows of the last
-- 60 s (at > now - 60) and removes older ones, so the rate is exact across
-- gateways. A user who replaces their own live right is not new: no row.
CREATE TABLE admissions (
	id          INTEGER PRIMARY KEY,
	service_id  INTEGER NOT NULL REFERENCES services (id) ON DELETE CASCADE,
	at          INTEGER NOT NULL
);
CREATE INDEX admissions_at ON admissions (service_id, at);
