-- A second load signal for the adaptive cap (docs/adaptive.md): a gauge read
-- from the service's own Prometheus endpoint. The prober reads it with each
-- probe; the load is the larger of the probe's latency over its target and
-- the gauge over its target.
--   gauge_url:           '' none, or 'http://ADDR[:PORT]/PATH' (text exposition format)
--   gauge_metric:        the series: a metric name, optionally {label="value",...}
--   gauge_target_milli:  the gauge's value at the service's limit, in thousandths
--                        (the schema stores no REAL; > 0 with a URL)
ALTER TABLE services ADD COLUMN gauge_url TEXT NOT NULL DEFAULT '';
ALTER TABLE services ADD COLUMN gauge_metric TEXT NOT NULL DEFAULT '';
ALTER TABLE services ADD COLUMN gauge_target_milli INTEGER NOT NULL DEFAULT 0
	CHECK (gauge_target_milli >= 0);
