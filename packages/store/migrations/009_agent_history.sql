-- [5/9] Time travel and restores.

-- The agent's row (who it is, its status and config) after each registration
-- or state change, keyed by the event: what GET /v1/agents/:id/state?as_of=
-- reads for "who was it then".
CREATE TABLE agent_history (
  event_id      uuid PRIMARY KEY,
  agent_id      text NOT NULL,
  occurred_at   timestamptz NOT NULL,
  stream_seq    bigint NOT NULL,
  name          text NOT NULL,
  team          text NOT NULL,
  strategy      text NOT NULL,
  config        jsonb NOT NULL,
  status        text NOT NULL,
  registered_at timestamptz
);
CREATE INDEX agent_history_agent_time ON agent_history (agent_id, occurred_at DESC, stream_seq DESC);

-- Restores of an agent to one of its checkpoints (agent_restored events): the
-- audit, and what makes that checkpoint the agent's current one.
CREATE TABLE agent_restores (
  event_id       uuid PRIMARY KEY,
  agent_id       text NOT NULL,
  checkpoint_id  uuid NOT NULL,
  reason         text NOT NULL,
  operator       text NOT NULL,
  restored_at    timestamptz NOT NULL,
  stream_seq     bigint NOT NULL
);
CREATE INDEX agent_restores_agent_time ON agent_restores (agent_id, restored_at DESC, stream_seq DESC);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['agent_history','agent_restores'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format($p$CREATE POLICY agent_reads_own ON %I FOR SELECT
      USING (agent_id = (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'agent_id'))$p$, t);
  END LOOP;
END $$;
