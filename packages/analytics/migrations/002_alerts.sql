-- Alerts, projected from alert_changed events (one row per firing: it opens as
-- 'firing' and the same row turns 'resolved'), and the webhook outbox (one row
-- per transition to deliver, owned by the partition the event was applied in).

CREATE TABLE IF NOT EXISTS alerts (
  alert_id        uuid PRIMARY KEY,
  rule            text NOT NULL,
  metric          text NOT NULL,
  severity        text NOT NULL,
  subject         text NOT NULL,
  agent_id        text NOT NULL,
  partition       int NOT NULL,
  state           text NOT NULL CHECK (state IN ('firing', 'resolved')),
  threshold       double precision NOT NULL,
  -- The value when it fired, and when it resolved.
  value           double precision NOT NULL,
  resolved_value  double precision,
  message         text NOT NULL,
  resolved_message text,
  fired_at        timestamptz NOT NULL,
  resolved_at     timestamptz,
  -- Canonical stream sequences of the firing and of the resolution (the feed's ids).
  fired_seq       bigint NOT NULL,
  resolved_seq    bigint,
  updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS alerts_firing ON alerts (fired_at DESC) WHERE state = 'firing';
CREATE INDEX IF NOT EXISTS alerts_recent ON alerts (greatest(fired_at, coalesce(resolved_at, fired_at)) DESC);

CREATE TABLE IF NOT EXISTS alert_deliveries (
  -- The alert_changed event's id: one delivery per transition, whatever replays.
  delivery_id     uuid PRIMARY KEY,
  alert_id        uuid NOT NULL,
  state           text NOT NULL CHECK (state IN ('firing', 'resolved')),
  partition       int NOT NULL,
  stream_seq      bigint NOT NULL,
  -- The JSON body POSTed (fixed when the event is applied, so every try sends the same bytes).
  body            text NOT NULL,
  -- skipped: never sent, the event was older than FB_ALERT_WEBHOOK_MAX_AGE_MS when applied (last_error says so).
  status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed', 'skipped')),
  attempts        int NOT NULL DEFAULT 0,
  -- When it is due; while a deliverer is POSTing it, the end of that try's claim (no other instance takes it before).
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error      text,
  response_status int,
  created_at      timestamptz NOT NULL DEFAULT now(),
  delivered_at    timestamptz,
  updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS alert_deliveries_due ON alert_deliveries (partition, next_attempt_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS alert_deliveries_alert ON alert_deliveries (alert_id, stream_seq);
