-- [6/9] Analytics rollups (projection analytics.v1). This schema (`<ns>_analytics`) also holds the store's
-- migrations (the projection kit's checkpoints, claims and dead letters come from there), so every table
-- here is named so as not to meet one of the store's (`agents` and `decisions` are the store's).
--
-- Every rollup row is written by one partition only (the key holds the partition): partition owners never
-- contend, and a read sums over partitions. Every column is additive, so a row is a sum of the events of
-- its bucket: increments apply once because the kit claims each event id (projection_events) first.

-- The agents seen, with the team of their last agent_registered ('' before one): scope 'team' follows it.
CREATE TABLE analytics_agents (
  agent_id       text PRIMARY KEY,
  partition      integer NOT NULL,
  name           text NOT NULL DEFAULT '',
  team           text NOT NULL DEFAULT '',
  last_event_at  timestamptz
);

-- Decisions, so that a position_closed can score those it names (same agent, hence same partition).
CREATE TABLE analytics_decisions (
  decision_id     uuid PRIMARY KEY,
  agent_id        text NOT NULL,
  partition       integer NOT NULL,
  action          text NOT NULL,
  confidence      double precision NOT NULL,
  cited_memories  integer NOT NULL,
  occurred_at     timestamptz NOT NULL
);

-- One bucket of one scope, as counted by one partition.
CREATE TABLE rollups (
  scope            text NOT NULL,            -- agent | team | fleet
  scope_id         text NOT NULL,            -- agent id, team name, '' for the fleet
  grain            text NOT NULL,            -- minute | hour | day
  bucket           timestamptz NOT NULL,     -- UTC start of the bucket
  partition        integer NOT NULL,
  decisions_buy    bigint NOT NULL DEFAULT 0,
  decisions_sell   bigint NOT NULL DEFAULT 0,
  decisions_hold   bigint NOT NULL DEFAULT 0,
  decisions_close  bigint NOT NULL DEFAULT 0,
  trades           bigint NOT NULL DEFAULT 0,
  notional         numeric NOT NULL DEFAULT 0,
  closes           bigint NOT NULL DEFAULT 0,
  wins             bigint NOT NULL DEFAULT 0,
  pnl              numeric NOT NULL DEFAULT 0,
  pnl_abs          numeric NOT NULL DEFAULT 0,
  scored           bigint NOT NULL DEFAULT 0,
  scored_wins      bigint NOT NULL DEFAULT 0,
  brier_sum        numeric NOT NULL DEFAULT 0,
  cited_scored     bigint NOT NULL DEFAULT 0,
  cited_wins       bigint NOT NULL DEFAULT 0,
  memory_writes    bigint NOT NULL DEFAULT 0,
  recalls          bigint NOT NULL DEFAULT 0,
  recall_hits      bigint NOT NULL DEFAULT 0,
  hot_hits         bigint NOT NULL DEFAULT 0,
  useful_recalls   bigint NOT NULL DEFAULT 0,
  consolidations   bigint NOT NULL DEFAULT 0,
  merged           bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (scope, scope_id, grain, bucket, partition)
);
CREATE INDEX rollups_bucket ON rollups (grain, bucket);

-- The reliability curve: scored decisions by confidence bin (0..9: [0.1·bin, 0.1·(bin+1)), 1.0 in bin 9).
CREATE TABLE rollup_calibration (
  scope            text NOT NULL,
  scope_id         text NOT NULL,
  grain            text NOT NULL,
  bucket           timestamptz NOT NULL,
  partition        integer NOT NULL,
  bin              smallint NOT NULL,
  n                bigint NOT NULL DEFAULT 0,
  wins             bigint NOT NULL DEFAULT 0,
  confidence_sum   numeric NOT NULL DEFAULT 0,
  PRIMARY KEY (scope, scope_id, grain, bucket, partition, bin)
);

-- Recall latencies by fixed log-scale bin (see latencyBin in @farmbrain/analytics).
CREATE TABLE rollup_latency (
  scope            text NOT NULL,
  scope_id         text NOT NULL,
  grain            text NOT NULL,
  bucket           timestamptz NOT NULL,
  partition        integer NOT NULL,
  bin              smallint NOT NULL,
  n                bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (scope, scope_id, grain, bucket, partition, bin)
);

-- Tier sizes, sampled every minute from the live tiering version (not from the log).
CREATE TABLE tier_samples (
  t        timestamptz NOT NULL,
  tier     text NOT NULL,
  bytes    bigint NOT NULL,
  records  bigint NOT NULL,
  PRIMARY KEY (t, tier)
);
