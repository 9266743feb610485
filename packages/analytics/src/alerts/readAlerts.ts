import type { Pool } from '@farmbrain/platform';

/** An alert as readers see it: its firing, its resolution when there is one, and its latest webhook delivery. */
export interface AlertView {
  alertId: string;
  rule: string;
  metric: string;
  state: 'firing' | 'resolved';
  severity: string;
  subject: string;
  agentId: string;
  /** The value when it fired, or when it resolved. */
  value: number;
  threshold: number;
  message: string;
  firedAt: number;
  resolvedAt: number | null;
  /**
   * The webhook delivery of its latest transition; null without a webhook. status: pending, delivered, failed
   * (after its attempts), or skipped (never sent: applied too late, see FB_ALERT_WEBHOOK_MAX_AGE_MS). reason: why it
   * was skipped, or the last error of a failed or retrying delivery.
   */
  delivery: { status: string; attempts: number; reason?: string } | null;
  /** Canonical stream sequence of its latest transition. */
  streamSeq: number;
}

export interface AlertQuery {
  /** firing: those firing now (newest first); all: every alert, the most recently changed first. Default firing. */
  state?: 'firing' | 'all';
  /** 1 to 1000 (clamped). */
  limit: number;
}

interface Row {
  alert_id: string; rule: string; metric: string; state: 'firing' | 'resolved'; severity: string; subject: string; agent_id: string;
  value: number; resolved_value: number | null; threshold: number; message: string; resolved_message: string | null;
  fired_at: Date; resolved_at: Date | null; fired_seq: string; resolved_seq: string | null; d_status: string | null; d_attempts: number | null; d_error: string | null;
}

/** Alerts from the analytics schema (`pool`'s search path). */
export async function readAlerts(pool: Pool, q: AlertQuery): Promise<AlertView[]> {
  const all = q.state === 'all';
  const limit = Number.isFinite(q.limit) ? Math.max(1, Math.min(1000, Math.floor(q.limit))) : 100;
  const r = await pool.query<Row>(
    `SELECT a.*, d.status AS d_status, d.attempts AS d_attempts, d.last_error AS d_error
       FROM alerts a
       LEFT JOIN LATERAL (SELECT status, attempts, last_error FROM alert_deliveries x WHERE x.alert_id = a.alert_id ORDER BY x.stream_seq DESC LIMIT 1) d ON true
      ${all ? '' : "WHERE a.state = 'firing'"}
      ORDER BY ${all ? 'greatest(a.fired_at, coalesce(a.resolved_at, a.fired_at)) DESC' : 'a.fired_at DESC'}, a.alert_id
      LIMIT $1`,
    [limit],
  );
  return r.rows.map((x) => ({
    alertId: x.alert_id, rule: x.rule, metric: x.metric, state: x.state, severity: x.severity, subject: x.subject, agentId: x.agent_id,
    value: x.state === 'resolved' && x.resolved_value !== null ? Number(x.resolved_value) : Number(x.value),
    threshold: Number(x.threshold),
    message: x.state === 'resolved' && x.resolved_message !== null ? x.resolved_message : x.message,
    firedAt: x.fired_at.getTime(), resolvedAt: x.resolved_at ? x.resolved_at.getTime() : null,
    delivery: x.d_status === null ? null
      : { status: x.d_status, attempts: Number(x.d_attempts), ...(x.d_error !== null && x.d_status !== 'delivered' ? { reason: x.d_error } : {}) },
    streamSeq: Number(x.resolved_seq ?? x.fired_seq),
  }));
}
