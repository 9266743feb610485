-- farmbrain warm store. Every row is a projection of the canonical event log and
-- can be rebuilt from it. Runs inside the namespace schema (search_path).

CREATE TABLE projection_checkpoints (
  projection  text    NOT NULL,
  partition   integer NOT NULL,
  last_seq    bigint  NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (projection, partition)
);

CREATE TABLE agents (
  agent_id       text PRIMARY KEY,
  name           text NOT NULL DEFAULT '',
  team           text NOT NULL DEFAULT '',
  strategy       text NOT NULL DEFAULT '',
  config         jsonb NOT NULL DEFAULT '{}',
  status         text NOT NULL DEFAULT 'active',
  registered_at  timestamptz,
  first_seen_at  timestamptz NOT NULL,
  last_event_at  timestamptz NOT NULL,
  -- producer_seq of the last registration/state event applied (guards replays)
  state_seq      bigint NOT NULL DEFAULT 0
);

CREATE TABLE decisions (
  event_id      uuid PRIMARY KEY,
  agent_id      text NOT NULL,
  producer_seq  bigint NOT NULL,
  occurred_at   timestamptz NOT NULL,
  symbol        text NOT NULL,
  action        text NOT NULL,
  size          double precision NOT NULL,
  confidence    double precision NOT NULL,
  rationale     text NOT NULL,
  situation     double precision[] NOT NULL DEFAULT '{}',
  memory_ids    text[] NOT NULL DEFAULT '{}',
  correlation_id text NOT NULL DEFAULT '',
  stream_seq    bigint NOT NULL
);
CREATE INDEX decisions_agent_time ON decisions (agent_id, occurred_at DESC, event_id DESC);
CREATE INDEX decisions_agent_symbol_time ON decisions (agent_id, symbol, occurred_at DESC, event_id DESC);

CREATE TABLE trades (
  event_id      uuid PRIMARY KEY,
  agent_id      text NOT NULL,
  producer_seq  bigint NOT NULL,
  occurred_at   timestamptz NOT NULL,
  order_id      text NOT NULL,
  symbol        text NOT NULL,
  side          text NOT NULL,
  qty           double precision NOT NULL,
  price         double precision NOT NULL,
  fees          double precision NOT NULL,
  decision_id   text NOT NULL DEFAULT '',
  stream_seq    bigint NOT NULL
);
CREATE INDEX trades_agent_time ON trades (agent_id, occurred_at DESC, event_id DESC);
CREATE INDEX trades_agent_symbol_time ON trades (agent_id, symbol, occurred_at DESC, event_id DESC);

-- One row per position lifetime: opened by a trade on a flat symbol, closed by PositionClosed.
CREATE TABLE positions (
  position_id    uuid PRIMARY KEY,           -- event id of the opening trade
  agent_id       text NOT NULL,
  symbol         text NOT NULL,
  status         text NOT NULL,              -- open | closed
  qty            double precision NOT NULL,  -- signed: > 0 long, < 0 short
  avg_price      double precision NOT NULL,
  fees           double precision NOT NULL,
  opened_at      timestamptz NOT NULL,
  closed_at      timestamptz,
  realized_pnl   double precision,
  exit_price     double precision,
  decision_ids   text[] NOT NULL DEFAULT '{}',
  trade_count    integer NOT NULL,
  close_event_id uuid UNIQUE,
  updated_seq    bigint NOT NULL
);
CREATE UNIQUE INDEX positions_one_open ON positions (agent_id, symbol) WHERE status = 'open';
CREATE INDEX positions_agent_time ON positions (agent_id, opened_at DESC, position_id DESC);

CREATE TABLE position_closes (
  event_id      uuid PRIMARY KEY,
  agent_id      text NOT NULL,
  occurred_at   timestamptz NOT NULL,
  symbol        text NOT NULL,
  realized_pnl  double precision NOT NULL,
  exit_price    double precision NOT NULL,
  decision_ids  text[] NOT NULL DEFAULT '{}',
  position_id   uuid
);

CREATE TABLE checkpoints (
  event_id      uuid PRIMARY KEY,
  agent_id      text NOT NULL,
  producer_seq  bigint NOT NULL,
  occurred_at   timestamptz NOT NULL,
  label         text NOT NULL,
  state         bytea NOT NULL,
  size_bytes    integer NOT NULL,
  stream_seq    bigint NOT NULL
);
CREATE INDEX checkpoints_agent_time ON checkpoints (agent_id, occurred_at DESC, event_id DESC);
CREATE INDEX checkpoints_agent_label_time ON checkpoints (agent_id, label, occurred_at DESC);

CREATE TABLE memories (
  memory_id        text PRIMARY KEY,
  agent_id         text NOT NULL,
  kind             text NOT NULL,
  text             text NOT NULL,
  tags             text[] NOT NULL DEFAULT '{}',
  importance       double precision NOT NULL,
  embedding        real[] NOT NULL DEFAULT '{}',
  situation        double precision[] NOT NULL DEFAULT '{}',
  scope            text NOT NULL,
  scope_id         text NOT NULL DEFAULT '',
  expires_at       timestamptz,
  source_event_ids text[] NOT NULL DEFAULT '{}',
  version          integer NOT NULL,
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL,
  forgotten_at     timestamptz,
  forgotten_reason text
);
CREATE INDEX memories_agent_time ON memories (agent_id, created_at DESC, memory_id DESC);
CREATE INDEX memories_scope ON memories (scope, scope_id) WHERE forgotten_at IS NULL;

-- Every version a memory ever had, keyed by the event that made it: what an agent
-- knew at any moment stays answerable after updates and forgets.
CREATE TABLE memory_versions (
  event_id     uuid PRIMARY KEY,
  memory_id    text NOT NULL,
  agent_id     text NOT NULL,
  version      integer NOT NULL,
  op           text NOT NULL,             -- stored | updated | forgotten
  occurred_at  timestamptz NOT NULL,
  snapshot     jsonb NOT NULL
);
CREATE INDEX memory_versions_memory ON memory_versions (memory_id, version);

-- Supabase-compatible row-level security: a client whose JWT carries
-- agent_id (claim) reads only its own rows. Services connect as the table
-- owner and are not subject to these policies.
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['agents','decisions','trades','positions','position_closes','checkpoints','memories','memory_versions'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format($p$CREATE POLICY agent_reads_own ON %I FOR SELECT
      USING (agent_id = (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'agent_id'))$p$, t);
  END LOOP;
END $$;
