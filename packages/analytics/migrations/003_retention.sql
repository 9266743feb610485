-- Retention (FB_ANALYTICS_*_RETENTION_DAYS): each partition owner deletes its own partition's rows older than the
-- retention, in bounded batches; these indexes find them without scanning the tables. Minute-grain rows only
-- (hour and day rows are kept), hence partial indexes.
CREATE INDEX IF NOT EXISTS rollups_minute_prune ON rollups (partition, bucket) WHERE grain = 'minute';
CREATE INDEX IF NOT EXISTS rollup_calibration_minute_prune ON rollup_calibration (partition, bucket) WHERE grain = 'minute';
CREATE INDEX IF NOT EXISTS rollup_latency_minute_prune ON rollup_latency (partition, bucket) WHERE grain = 'minute';
CREATE INDEX IF NOT EXISTS analytics_decisions_prune ON analytics_decisions (partition, occurred_at);
-- tier_samples is found by its primary key (t, tier).
