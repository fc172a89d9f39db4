-- A second load signal for the adaptive cap: the same columns as SQLite's
-- sql/012_gauge.sql. Not in the services triggers' column lists (the
-- followers mirror no load setting), and admit()/queue_admit() do not read
-- them: only the prober does.
ALTER TABLE services ADD COLUMN gauge_url text NOT NULL DEFAULT '';
ALTER TABLE services ADD COLUMN gauge_metric text NOT NULL DEFAULT '';
ALTER TABLE services ADD COLUMN gauge_target_milli bigint NOT NULL DEFAULT 0
	CHECK (gauge_target_milli >= 0);
