import type { AlertChanged, EventOf } from '@farmbrain/contracts';
import type { Logger, PoolClient } from '@farmbrain/platform';
import type { SeqEvent } from '@farmbrain/projection';

export interface ApplyAlertOptions {
  /** The partition the batch is applied in: its owner delivers the webhooks of these events. */
  partition: number;
  /**
   * With a webhook configured: each transition gets an outbox row, pending; one older than maxAgeMs when applied
   * gets a 'skipped' row instead, with the reason, and is never sent (a rebuild replaying the log must not send old
   * alerts again; an analytics that lagged that long shows the alert as skipped, and logs it). Undefined: no outbox rows.
   */
  webhook: { maxAgeMs: number } | undefined;
  /** Where skipped webhooks are reported (one warning per batch). */
  log?: Logger;
  /** The clock (epoch ms). */
  now?: number;
}

/** The JSON body a webhook receives for one transition (fixed at projection time: every try sends the same bytes). */
export interface AlertWebhookBody {
  /** The alert_changed event's id: receivers dedupe on it (also the Fb-Delivery-Id header). */
  deliveryId: string;
  type: 'alert_changed';
  /** Canonical stream sequence of the event. */
  streamSeq: number;
  occurredAt: number;
  /** The event's payload (the contract's AlertChanged), its agent, and when it resolved. */
  alert: AlertChanged & { agentId: string; resolvedAt: number | null };
}

export const webhookBodyOf = (e: EventOf<'alert_changed'> & { streamSeq: number }): AlertWebhookBody => ({
  deliveryId: e.eventId, type: 'alert_changed', streamSeq: e.streamSeq, occurredAt: e.occurredAt,
  alert: { ...e.data, agentId: e.agentId, resolvedAt: e.data.state === 'resolved' ? e.occurredAt : null },
});

/**
 * Projects alert_changed events into `alerts` (a firing inserts the alert's
 * row, its resolution turns the same row resolved) and, with a webhook, into
 * the `alert_deliveries` outbox. Every write is keyed (alert id, event id), so
 * applying an event again changes nothing: safe under the kit's replays
 * (alert_changed may be listed in the projection's keyedByRow). Other event
 * types are ignored. Runs inside the batch's transaction (`tx`).
 */
export async function applyAlertEvents(tx: PoolClient, events: readonly SeqEvent[], o: ApplyAlertOptions): Promise<{ skipped: number }> {
  const now = o.now ?? Date.now();
  const skipped: { alertId: string; deliveryId: string; state: string; ageMs: number }[] = [];
  for (const ev of events) {
    if (ev.type !== 'alert_changed') continue;
    const e = ev as EventOf<'alert_changed'> & { streamSeq: number };
    const d = e.data;
    const at = new Date(e.occurredAt);
    if (d.state === 'firing') {
      await tx.query(
        `INSERT INTO alerts (alert_id, rule, metric, severity, subject, agent_id, partition, state, threshold, value, message, fired_at, fired_seq)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'firing', $8, $9, $10, $11, $12) ON CONFLICT (alert_id) DO NOTHING`,
        [d.alertId, d.rule, d.metric, d.severity, d.subject, e.agentId, o.partition, d.threshold, d.value, d.message, new Date(d.firedAt), e.streamSeq],
      );
    } else {
      // A resolution seen before its firing (it cannot be on the log first, but a rebuild from a trimmed log could) keeps the alert, resolved.
      await tx.query(
        `INSERT INTO alerts (alert_id, rule, metric, severity, subject, agent_id, partition, state, threshold, value, message, fired_at, fired_seq,
                             resolved_value, resolved_message, resolved_at, resolved_seq)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'resolved', $8, $9, $10, $11, $12, $9, $10, $13, $12)
         ON CONFLICT (alert_id) DO UPDATE SET state = 'resolved', resolved_value = EXCLUDED.resolved_value, resolved_message = EXCLUDED.resolved_message,
           resolved_at = EXCLUDED.resolved_at, resolved_seq = EXCLUDED.resolved_seq, updated_at = now()
         WHERE alerts.state = 'firing'`,
        [d.alertId, d.rule, d.metric, d.severity, d.subject, e.agentId, o.partition, d.threshold, d.value, d.message, new Date(d.firedAt), e.streamSeq, at],
      );
    }
    if (o.webhook) {
      // Too old to send: recorded as skipped (readAlerts shows why), never POSTed. A row already there (a replay) stays as it is.
      const ageMs = now - e.occurredAt;
      const late = ageMs > o.webhook.maxAgeMs;
      const reason = late ? skipReason(ageMs, o.webhook.maxAgeMs) : null;
      const r = await tx.query(
        `INSERT INTO alert_deliveries (delivery_id, alert_id, state, partition, stream_seq, body, status, last_error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (delivery_id) DO NOTHING`,
        [e.eventId, d.alertId, d.state, o.partition, e.streamSeq, JSON.stringify(webhookBodyOf(e)), late ? 'skipped' : 'pending', reason],
      );
      if (late && (r.rowCount ?? 0) > 0) skipped.push({ alertId: d.alertId, deliveryId: e.eventId, state: d.state, ageMs });
    }
  }
  if (skipped.length > 0) {
    o.log?.warn({ partition: o.partition, skipped: skipped.length, maxAgeMs: o.webhook?.maxAgeMs, alerts: skipped.slice(0, 10) },
      `${skipped.length} alert webhook(s) not sent: applied more than FB_ALERT_WEBHOOK_MAX_AGE_MS after they happened (a rebuild replaying the log, or analytics lagging); recorded as skipped`);
  }
  return { skipped: skipped.length };
}

/** Why a transition's webhook was not sent (the outbox row's last_error, readAlerts' delivery.reason). */
export const skipReason = (ageMs: number, maxAgeMs: number): string =>
  `not sent: applied ${Math.round(ageMs / 1000)} s after it happened, beyond FB_ALERT_WEBHOOK_MAX_AGE_MS (${maxAgeMs} ms): a rebuild replaying the log, or analytics lagging`;
