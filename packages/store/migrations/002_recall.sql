-- Recall: memories become searchable (full text + vectors), recalls are kept as
-- provenance, and decisions link to what they were based on. Like every warm
-- table, all of it is a projection of the log and can be rebuilt by replay.

-- btree_gin lets one GIN index serve "these owners AND this text query". It is
-- a trusted contrib extension (Supabase ships it). Installed in public so that
-- dropping a namespace schema never drops it from under another namespace.
CREATE EXTENSION IF NOT EXISTS btree_gin SCHEMA public;

CREATE FUNCTION fb_memory_document(body text, tags text[]) RETURNS tsvector
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT to_tsvector('english'::regconfig, body || ' ' || coalesce(array_to_string(tags, ' '), '')) $$;

-- The embedding record moves from real[] to float32 little-endian bytes: 4 bytes
-- a dimension instead of ~10 characters of text, and an index rebuild reads it
-- without parsing. The model that made it is recorded with it.
ALTER TABLE memories DROP COLUMN embedding;
ALTER TABLE memories
  ADD COLUMN embedding        bytea,
  ADD COLUMN embedding_dims   integer NOT NULL DEFAULT 0,
  ADD COLUMN embedding_model  text NOT NULL DEFAULT '',
  -- Who may read it: agent:<id> | team:<name> | fleet.
  ADD COLUMN owner_key        text GENERATED ALWAYS AS (
    CASE scope WHEN 'agent' THEN 'agent:' || agent_id WHEN 'team' THEN 'team:' || scope_id ELSE 'fleet' END) STORED,
  ADD COLUMN tsv              tsvector GENERATED ALWAYS AS (fb_memory_document(text, tags)) STORED,
  -- Change feed for in-memory indexes: the partition and canonical stream
  -- sequence of the last event that changed the row. Within a partition, rows
  -- commit in sequence order (one transaction per batch, batches in order).
  ADD COLUMN part             integer NOT NULL DEFAULT 0,
  ADD COLUMN change_seq       bigint NOT NULL DEFAULT 0,
  -- Usage, projected from memory_recalled events, for tier policies.
  ADD COLUMN access_count     bigint NOT NULL DEFAULT 0,
  ADD COLUMN last_accessed_at timestamptz;

CREATE INDEX memories_fts ON memories USING gin (owner_key, tsv) WHERE forgotten_at IS NULL;
CREATE INDEX memories_changes ON memories (part, change_seq);
CREATE INDEX memories_owner_time ON memories (owner_key, created_at DESC) WHERE forgotten_at IS NULL;

ALTER TABLE memory_versions ADD COLUMN embedding_model text NOT NULL DEFAULT '';

ALTER TABLE decisions ADD COLUMN recall_ids text[] NOT NULL DEFAULT '{}';
CREATE INDEX decisions_agent_situation ON decisions (agent_id, occurred_at DESC) WHERE cardinality(situation) > 0;

-- A decision's outcome is the position(s) it opened or closed.
CREATE INDEX positions_decisions ON positions USING gin (decision_ids);

-- Every recall served: what was asked and exactly which memory versions came back.
CREATE TABLE recalls (
  recall_id        uuid PRIMARY KEY,           -- event id of the memory_recalled event
  agent_id         text NOT NULL,
  occurred_at      timestamptz NOT NULL,
  query_text       text NOT NULL,
  query_vector     real[] NOT NULL DEFAULT '{}',
  embedding_model  text NOT NULL DEFAULT '',
  filters          jsonb NOT NULL DEFAULT '{}',
  k                integer NOT NULL,
  hits             jsonb NOT NULL,             -- [{memoryId, version, score, tier}]
  correlation_id   text NOT NULL DEFAULT '',
  stream_seq       bigint NOT NULL
);
CREATE INDEX recalls_agent_time ON recalls (agent_id, occurred_at DESC);
CREATE INDEX recalls_agent_correlation ON recalls (agent_id, correlation_id) WHERE correlation_id <> '';
ALTER TABLE recalls ENABLE ROW LEVEL SECURITY;
CREATE POLICY agent_reads_own ON recalls FOR SELECT
  USING (agent_id = (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'agent_id'));

-- Read-your-writes: the highest ingress sequence whose events this projection
-- has applied, per partition (ingest stamps it on every canonical message).
ALTER TABLE projection_checkpoints ADD COLUMN ingress_seq bigint NOT NULL DEFAULT 0;
