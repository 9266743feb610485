-- [5/9] Memory tiers: a memory recalled often is promoted to hot (its content
-- kept in Redis for as long as the memory policy's hotIdleMinutes, instead of the
-- recall cache's short TTL), and demoted to warm when it goes idle. Set by tiering
-- from records_moved events (kind memory), so a rebuild agrees.
ALTER TABLE memories
  ADD COLUMN tier       text NOT NULL DEFAULT 'warm',
  ADD COLUMN tier_since timestamptz;
CREATE INDEX memories_hot ON memories (agent_id) WHERE tier = 'hot';
