-- [5/9] Memory content over time: consolidation and erasure.

-- Consolidation (memories_consolidated): near-duplicate memories of one agent,
-- kind and owner become one canonical memory. The canonical carries what it
-- stands for; the originals keep their rows (readable by id, their versions
-- intact, decisions citing them still resolve) and leave recall, pointing at
-- the canonical that replaced them.
ALTER TABLE memories
  -- Originals: the canonical memory that replaced them in recall (NULL: in recall, if live).
  ADD COLUMN consolidated_into     text,
  -- Canonical memories: the memories merged into it (sorted), earlier canonicals included. Empty for an original.
  ADD COLUMN merged_ids            text[] NOT NULL DEFAULT '{}',
  -- How many original memories it stands for (1 for an original; a canonical: the sum over what it merged).
  ADD COLUMN evidence_count        integer NOT NULL DEFAULT 1,
  -- The time range its evidence spans (creation times of the originals); NULL for an original (its created_at).
  ADD COLUMN span_from             timestamptz,
  ADD COLUMN span_to               timestamptz,
  -- 'representative' or 'summary:<model>' ('' for an original), and the original whose text stands for the group.
  ADD COLUMN consolidation_method  text NOT NULL DEFAULT '',
  ADD COLUMN representative_id     text NOT NULL DEFAULT '',
  -- Erasure (memory_erased): when its content was removed from every store. An erased memory is also forgotten.
  ADD COLUMN erased_at             timestamptz;

-- The originals of a canonical (an erasure of the canonical returns them to recall).
CREATE INDEX memories_consolidated_into ON memories (consolidated_into) WHERE consolidated_into IS NOT NULL;
-- Canonicals derived from a memory (an erasure of an original erases what was derived from it).
CREATE INDEX memories_merged_ids ON memories USING gin (merged_ids) WHERE cardinality(merged_ids) > 0;

-- The erasure log: who erased which memory, when and why. Never the content.
-- One row per erased memory per memory_erased event (a repeated erasure of an
-- erased memory is logged too: it is an operator action).
CREATE TABLE erasures (
  event_id    uuid NOT NULL,                 -- the memory_erased event
  memory_id   text NOT NULL,
  agent_id    text NOT NULL,
  operator    text NOT NULL,
  reason      text NOT NULL,
  erased_at   timestamptz NOT NULL,          -- occurred_at of the event
  -- Whether it had content left to remove (false: erased before).
  scrubbed    boolean NOT NULL,
  -- Versions of the memory whose snapshot was scrubbed.
  versions    integer NOT NULL,
  -- Originals a canonical memory's erasure returned to recall.
  released    text[] NOT NULL DEFAULT '{}',
  stream_seq  bigint NOT NULL,
  PRIMARY KEY (event_id, memory_id)
);
CREATE INDEX erasures_time ON erasures (erased_at DESC, event_id DESC);
CREATE INDEX erasures_memory ON erasures (memory_id);
CREATE INDEX erasures_agent ON erasures (agent_id, erased_at DESC);

ALTER TABLE erasures ENABLE ROW LEVEL SECURITY;
CREATE POLICY agent_reads_own ON erasures FOR SELECT
  USING (agent_id = (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'agent_id'));
