import { retryDelayMs, signWebhook, type WebhookConfig } from '@farmbrain/analytics';
import { storableText } from '@farmbrain/projection';
import { every, type Logger, type Pool } from '@farmbrain/platform';

export interface WebhookDelivererDeps {
  /** The analytics schema (search_path): its alert_deliveries outbox. */
  pool: Pool;
  webhook: WebhookConfig;
  /** The partitions this instance owns: it delivers the outbox rows of those, and only those. */
  owned: () => readonly number[];
  /**
   * Whether this instance's lease on a partition is still valid (the runner's `leases.valid(p)`): checked right
   * before each POST, so an instance paused past its lease does not send what the new owner sends.
   */
  valid: (partition: number) => boolean;
  /** How often the outbox is looked at for due rows, ms (default 500). */
  pollMs?: number;
  log: Logger;
  /** Seams for tests. */
  now?: () => number;
  random?: () => number;
  /** Called with each row after it is claimed, before its lease is checked and it is POSTed. */
  beforeSend?: (row: { deliveryId: string; partition: number }) => Promise<void> | void;
}

export interface DeliveryPass {
  tried: number;
  delivered: number;
  failed: number;
}

export interface WebhookDeliverer {
  /** Sends what is due now (after a pass in progress). */
  deliverDue(): Promise<DeliveryPass>;
  stop(): Promise<void>;
}

interface Due { delivery_id: string; alert_id: string; body: string; partition: number; attempts: number }

/** The most rows one pass sends (the rest wait for the next pass). */
const PASS_ROWS = 50;
/** A claim outlives the try's timeout by this much (the row's update after the answer). */
const CLAIM_SLACK_MS = 5_000;

/**
 * Delivers the alert webhooks of the partitions this instance owns: POSTs
 * each pending outbox row's body (JSON) with `Fb-Signature` (signWebhook over
 * the body and the send time), `Fb-Alert-Id`, `Fb-Delivery-Id` and
 * `Content-Type: application/json`. A 2xx answer marks it delivered; anything
 * else (an error status, no answer within timeoutMs, a refused connection) is
 * recorded (attempts, last error, response status) and tried again after an
 * exponential backoff with jitter, until maxAttempts, then it is 'failed'.
 *
 * Order: a transition is never sent while an earlier one of the same alert is
 * pending (a resolution waits for its firing, however long the firing backs off).
 *
 * One sender per row at a time: a row is claimed before it is POSTed (one
 * statement moves its next_attempt_at past the try's timeout; concurrent
 * claims skip locked rows), and the lease of its partition is checked right
 * before the POST: two instances never POST the same row at once, and
 * `attempts` counts the tries made. Delivery is still at least once (a crash
 * between the POST and the row's update sends it again once the claim
 * expires): receivers dedupe on Fb-Delivery-Id.
 */
export function startWebhookDeliverer(d: WebhookDelivererDeps): WebhookDeliverer {
  const clock = d.now ?? Date.now;
  const random = d.random ?? Math.random;
  const w = d.webhook;
  let stopping = false;

  const send = async (row: Due): Promise<{ ok: boolean; status: number | null; error: string | null }> => {
    const t = Math.floor(clock() / 1000);
    const headers: Record<string, string> = {
      'Content-Type': 'application/json', 'Fb-Alert-Id': row.alert_id, 'Fb-Delivery-Id': row.delivery_id, 'Fb-Signature': signWebhook(w.secret, row.body, t),
    };
    try {
      const res = await fetch(w.url, { method: 'POST', headers, body: row.body, signal: AbortSignal.timeout(w.timeoutMs), redirect: 'error' });
      await res.arrayBuffer().catch(() => undefined);
      return res.ok ? { ok: true, status: res.status, error: null } : { ok: false, status: res.status, error: `HTTP ${res.status} ${res.statusText}` };
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const why = e.name === 'TimeoutError' ? `no answer within ${w.timeoutMs} ms` : e.cause?.code ?? e.cause?.message ?? e.message;
      return { ok: false, status: null, error: why };
    }
  };

  /**
   * Claims the next due row of these partitions: pending, due, with no earlier pending row of its alert, not
   * locked by another claim. Its next_attempt_at moves to the end of the try (the claim), in the same statement.
   */
  const claim = async (partitions: readonly number[]): Promise<Due | undefined> => {
    const now = clock();
    const r = await d.pool.query<Due>(
      `WITH next AS (
         SELECT o.delivery_id FROM alert_deliveries o
          WHERE o.status = 'pending' AND o.partition = ANY($1::int[]) AND o.next_attempt_at <= $2
            AND NOT EXISTS (SELECT 1 FROM alert_deliveries e WHERE e.alert_id = o.alert_id AND e.status = 'pending' AND e.stream_seq < o.stream_seq)
          ORDER BY o.next_attempt_at, o.stream_seq
          LIMIT 1
          FOR UPDATE SKIP LOCKED)
       UPDATE alert_deliveries x SET next_attempt_at = $3, updated_at = now()
         FROM next WHERE x.delivery_id = next.delivery_id AND x.status = 'pending' AND x.next_attempt_at <= $2
       RETURNING x.delivery_id, x.alert_id, x.body, x.partition, x.attempts`,
      [partitions, new Date(now), new Date(now + w.timeoutMs + CLAIM_SLACK_MS)],
    );
    return r.rows[0];
  };

  const pass = async (): Promise<DeliveryPass> => {
    const out: DeliveryPass = { tried: 0, delivered: 0, failed: 0 };
    while (out.tried < PASS_ROWS && !stopping) {
      const partitions = d.owned().filter((p) => d.valid(p));
      if (partitions.length === 0) break;
      const row = await claim(partitions);
      if (!row) break;
      await d.beforeSend?.({ deliveryId: row.delivery_id, partition: row.partition });
      if (!d.valid(row.partition)) {
        // The lease went while claiming: hand the row back at once to whoever owns the partition now.
        await d.pool.query(`UPDATE alert_deliveries SET next_attempt_at = $2, updated_at = now() WHERE delivery_id = $1 AND status = 'pending'`, [row.delivery_id, new Date(clock())]);
        d.log.warn({ deliveryId: row.delivery_id, partition: row.partition }, 'alert webhook not sent: the partition\'s lease is no longer held here; its new owner sends it');
        continue;
      }
      out.tried++;
      const r = await send(row);
      if (r.ok) {
        out.delivered++;
        await d.pool.query(
          `UPDATE alert_deliveries SET status = 'delivered', attempts = attempts + 1, response_status = $2, last_error = NULL, delivered_at = now(), updated_at = now()
            WHERE delivery_id = $1 AND status = 'pending'`, [row.delivery_id, r.status]);
        continue;
      }
      // Counted in the row (attempts + 1), not from what this instance read: the count is exact whoever tried before.
      const u = await d.pool.query<{ attempts: number; status: string }>(
        `UPDATE alert_deliveries SET attempts = attempts + 1, status = CASE WHEN attempts + 1 >= $2 THEN 'failed' ELSE 'pending' END,
                response_status = $3, last_error = $4, next_attempt_at = $5, updated_at = now()
          WHERE delivery_id = $1 AND status = 'pending'
          RETURNING attempts, status`,
        [row.delivery_id, w.maxAttempts, r.status, storableText(r.error ?? '', 500), new Date(clock() + retryDelayMs(row.attempts + 1, w, random()))],
      );
      const attempts = u.rows[0]?.attempts ?? row.attempts + 1;
      const failed = u.rows[0]?.status === 'failed';
      if (failed) out.failed++;
      d.log[failed ? 'error' : 'warn']({ deliveryId: row.delivery_id, alertId: row.alert_id, attempts, status: r.status, error: r.error },
        failed ? `alert webhook failed after ${attempts} tries; it is not tried again` : 'alert webhook not delivered; trying again later');
    }
    return out;
  };

  const loop = every(d.pollMs ?? 500, () => pass(), { log: d.log, name: 'alert webhook pass', firstDelayMs: 0 });
  d.log.info({ url: new URL(w.url).origin, maxAttempts: w.maxAttempts }, 'alert webhook deliverer started');
  return {
    deliverDue: () => loop.run(),
    async stop() {
      stopping = true;
      await loop.stop();
    },
  };
}
