-- [5/9] Memory lifecycle: records move warm → cold → archive → deleted by
-- policy. Every move is a records_moved event on the log, applied by tiering in
-- the batch's transaction, so a rebuild moves the same records at the same
-- point of the log and ends with the same blocks.

-- Cold and colder: the records of one agent, kind and UTC day, taken out of
-- their warm table by one move, as one compressed block. The block keeps the
-- ids (and stream sequences) of its records, so a record is found by id in any
-- tier, and a tombstone remains when retention deletes it.
CREATE TABLE cold_blocks (
  -- The records_moved event that made it; the move's further blocks (another day, more than a block's
  -- rows) and the two parts of a block a later move cut have ids derived from it (derivedEventId), so a
  -- rebuild makes the same blocks under the same ids.
  block_id      uuid PRIMARY KEY,
  agent_id      text NOT NULL,
  kind          text NOT NULL,                 -- decision | trade | checkpoint | recall
  day           date NOT NULL,                 -- the UTC day its records occurred
  tier          text NOT NULL,                 -- cold | archive | deleted
  records       integer NOT NULL,
  first_at      timestamptz NOT NULL,
  last_at       timestamptz NOT NULL,
  event_ids     uuid[] NOT NULL,
  stream_seqs   bigint[] NOT NULL,             -- canonical stream sequence of each record (archive segments hold the log)
  part          integer NOT NULL,
  codec         text NOT NULL,                 -- how payload is encoded
  payload       bytea,                         -- cold: the block (packages/store coldBlock.ts); NULL in the archive tier (in the object store) and once deleted
  archive_key   text,                          -- archive tier: the immutable object holding the payload
  sha256        text NOT NULL,                 -- of the payload bytes, wherever they are
  raw_bytes     integer NOT NULL,              -- the encoded records before compression
  stored_bytes  integer NOT NULL,              -- the payload
  warm_bytes    bigint NOT NULL DEFAULT 0,     -- what the records took as warm rows (pg_column_size), for the compression figures
  moved_at      timestamptz NOT NULL,          -- occurred_at of the last move that touched it
  moved_by      uuid NOT NULL,                 -- that move's event id
  policy        text NOT NULL,
  reason        text NOT NULL,
  -- Every move that touched its records, oldest first (lifecycle_moves.event_id): a block cut in two
  -- by a partial move leaves two blocks that both keep the history of the one they came from.
  moves         uuid[] NOT NULL DEFAULT '{}'
);
CREATE INDEX cold_blocks_agent ON cold_blocks (agent_id, kind, last_at DESC) WHERE tier IN ('cold', 'archive');
CREATE INDEX cold_blocks_day ON cold_blocks (agent_id, kind, day);
-- Finds a record by id in any tier, and keeps a duplicate of a moved event out of warm.
CREATE INDEX cold_blocks_ids ON cold_blocks USING gin (event_ids) WITH (fastupdate = off);
CREATE INDEX cold_blocks_tier ON cold_blocks (tier, kind, day);
CREATE INDEX cold_blocks_part ON cold_blocks (part, kind);

-- Every move applied: what moved where, by which policy, and why (explain, tier metrics).
CREATE TABLE lifecycle_moves (
  event_id      uuid PRIMARY KEY,
  agent_id      text NOT NULL,
  kind          text NOT NULL,
  from_tier     text NOT NULL,
  to_tier       text NOT NULL,
  day           date,
  records       integer NOT NULL,
  bytes_before  bigint NOT NULL,
  bytes_after   bigint NOT NULL,
  policy        text NOT NULL,
  reason        text NOT NULL,
  moved_at      timestamptz NOT NULL,
  stream_seq    bigint NOT NULL,
  -- Records the move left where they were because they are under legal hold (retention only).
  held          integer NOT NULL DEFAULT 0,
  -- The blocks it made or changed.
  block_ids     uuid[] NOT NULL DEFAULT '{}'
);
CREATE INDEX lifecycle_moves_agent ON lifecycle_moves (agent_id, moved_at DESC);
CREATE INDEX lifecycle_moves_policy ON lifecycle_moves (policy, moved_at DESC);

-- Legal holds: a held agent (record_id '') or record is never deleted by retention.
CREATE TABLE legal_holds (
  agent_id   text NOT NULL,
  record_id  text NOT NULL DEFAULT '',
  reason     text NOT NULL,
  operator   text NOT NULL,
  held_at    timestamptz NOT NULL,
  event_id   uuid NOT NULL,
  PRIMARY KEY (agent_id, record_id)
);

-- Archive objects whose records were deleted (retention) or re-cut into other blocks: removed from the
-- object store after the commit that made them garbage (never before: that removal could not be rolled
-- back), and by the partition's next owner if a crash came between.
CREATE TABLE archive_removals (
  archive_key  text PRIMARY KEY,
  agent_id     text NOT NULL,
  part         integer NOT NULL,
  block_id     uuid NOT NULL,
  queued_by    uuid NOT NULL
);
CREATE INDEX archive_removals_part ON archive_removals (part);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['cold_blocks','lifecycle_moves','legal_holds','archive_removals'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format($p$CREATE POLICY agent_reads_own ON %I FOR SELECT
      USING (agent_id = (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'agent_id'))$p$, t);
  END LOOP;
END $$;
