-- [3/9] Exactly once, poison isolation, and what happened to every write.

-- Events this projection has processed (applied, or dead-lettered), by id, for
-- the event types whose effects do not already hang off a row keyed by their
-- event id (decisions, trades, closes, checkpoints and recalls do: that row's
-- ON CONFLICT gates every effect). The runner inserts a batch's ids here in the
-- batch's transaction and applies only those that were not already present, so
-- a duplicate is applied once however it arrives: in one message, one batch,
-- adjacent batches, or a separate request days later.
CREATE TABLE projection_events (
  projection  text NOT NULL,
  event_id    uuid NOT NULL,
  PRIMARY KEY (projection, event_id)
);

-- Events a projection could not apply, or chose not to (not the owner, an
-- unknown memory): written in the same transaction as the checkpoint, so each
-- is recorded exactly once, and the partition moves on. `event` holds the
-- protobuf Event as it was on the canonical stream (or the whole message body
-- when it did not decode), so it can be replayed after a fix.
CREATE TABLE projection_dead_letters (
  id                bigserial PRIMARY KEY,
  projection        text NOT NULL,
  partition         integer NOT NULL,
  stream_seq        bigint NOT NULL,
  -- The ingress sequence of the write that carried it: a read on that write's consistency token says it was dead-lettered.
  ingress_seq       bigint NOT NULL DEFAULT 0,
  event_id          uuid,
  agent_id          text NOT NULL,
  event_type        text NOT NULL DEFAULT '',
  code              text NOT NULL,
  reason            text NOT NULL,
  sqlstate          text,
  event             bytea NOT NULL,
  dead_lettered_at  timestamptz NOT NULL DEFAULT now(),
  replayed_at       timestamptz
);
CREATE INDEX projection_dead_letters_agent ON projection_dead_letters (agent_id, id);
CREATE INDEX projection_dead_letters_write ON projection_dead_letters (partition, ingress_seq) WHERE ingress_seq > 0;
-- One dead letter per event: a duplicate of a poison event adds none.
CREATE UNIQUE INDEX projection_dead_letters_event ON projection_dead_letters (projection, event_id) WHERE event_id IS NOT NULL;
CREATE INDEX projection_dead_letters_projection ON projection_dead_letters (projection, id);

-- Ingress messages ingest rejected, in whole or in part (it marks them on the
-- canonical stream): a read carrying such a write's consistency token resolves
-- at once and says the write was rejected, instead of waiting out its bound.
CREATE TABLE rejected_writes (
  partition    integer NOT NULL,
  ingress_seq  bigint NOT NULL,
  agent_id     text NOT NULL,
  rejected     integer NOT NULL,
  accepted     integer NOT NULL,
  code         text NOT NULL,
  reason       text NOT NULL,
  at           timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (partition, ingress_seq)
);

-- Recent memories of an agent, newest first with ties in byte order (the order
-- the hot tier keeps): served by this index instead of a sort.
CREATE INDEX memories_agent_recent ON memories (agent_id, created_at DESC, memory_id COLLATE "C" DESC) WHERE forgotten_at IS NULL;

ALTER TABLE projection_dead_letters ENABLE ROW LEVEL SECURITY;
CREATE POLICY agent_reads_own ON projection_dead_letters FOR SELECT
  USING (agent_id = (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'agent_id'));
ALTER TABLE rejected_writes ENABLE ROW LEVEL SECURITY;
CREATE POLICY agent_reads_own ON rejected_writes FOR SELECT
  USING (agent_id = (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'agent_id'));
ALTER TABLE projection_events ENABLE ROW LEVEL SECURITY;
