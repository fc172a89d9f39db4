-- Load-aware admission (docs/adaptive.md). Per service, an optional health
-- probe and a cap mode; the prober (authd/probe.c) writes its verdict and the
-- effective cap back here, and admission reads them in the same transaction
-- as the count.
--   probe:            '' none, 'http://HOST[:PORT]/PATH' (GET, 2xx) or 'tcp://HOST:PORT'
--   cap_mode:         0 fixed, 1 adaptive (AIMD between cap_min and cap)
--   health:           0 up, 1 down (a down service admits nobody)
--   cap_effective:    what admission compares the count against; -1 = cap
ALTER TABLE services ADD COLUMN probe TEXT NOT NULL DEFAULT '';
ALTER TABLE services ADD COLUMN probe_interval_ms INTEGER NOT NULL DEFAULT 1000
	CHECK (probe_interval_ms BETWEEN 100 AND 60000);
ALTER TABLE services ADD COLUMN probe_timeout_ms INTEGER NOT NULL DEFAULT 500
	CHECK (probe_timeout_ms BETWEEN 10 AND 30000);
ALTER TABLE services ADD COLUMN probe_down_after INTEGER NOT NULL DEFAULT 3
	CHECK (probe_down_after BETWEEN 1 AND 100);
ALTER TABLE services ADD COLUMN probe_up_after INTEGER NOT NULL DEFAULT 2
	CHECK (probe_up_after BETWEEN 1 AND 100);
ALTER TABLE services ADD COLUMN cap_mode INTEGER NOT NULL DEFAULT 0 CHECK (cap_mode IN (0, 1));
ALTER TABLE services ADD COLUMN cap_min INTEGER NOT NULL DEFAULT 1 CHECK (cap_min >= 0);
ALTER TABLE services ADD COLUMN latency_target_ms INTEGER NOT NULL DEFAULT 200
	CHECK (latency_target_ms BETWEEN 1 AND 60000);
ALTER TABLE services ADD COLUMN health INTEGER NOT NULL DEFAULT 0 CHECK (health IN (0, 1));
ALTER TABLE services ADD COLUMN cap_effective INTEGER NOT NULL DEFAULT -1
	CHECK (cap_effective >= -1);

-- Who probes: with several gateways on one store, one prober holds this lease
-- (name 'prober') and writes the verdicts; the others read them. Renewed by
-- its holder, taken over by another once expires_ms (wall clock) has passed.
CREATE TABLE leases (
	name        TEXT    PRIMARY KEY,
	holder      TEXT    NOT NULL,
	expires_ms  INTEGER NOT NULL
) WITHOUT ROWID;
