import { retryDelayMs, signWebhook, type WebhookConfig } from '@farmbrain/analytics';
import { storableText } from '@farmbrain/projection';
import type { Logger, Pool } from '@farmbrain/platform';

export interface WebhookDelivererDeps {
  /** The analytics schema (search_path): its alert_deliveries outbox. */
  pool: Pool;
  webhook: WebhookConfig;
  /** The partitions this instance owns: it delivers the outbox rows of those, and only those. */
  owned: () => readonly number[];
  /** How often the outbox is looked at for due rows, ms (default 500). */
  pollMs?: number;
  log: Logger;
  /** Seams for tests. */
  now?: () => number;
  random?: () => number;
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

interface Due { delivery_id: string; alert_id: string; body: string; attempts: number }

/**
 * Delivers the alert webhooks of the partitions this instance owns: POSTs
 * each pending outbox row's body (JSON) with `Fb-Signature` (signWebhook over
 * the body and the send time), `Fb-Alert-Id`, `Fb-Delivery-Id` and
 * `Content-Type: application/json`. A 2xx answer marks it delivered; anything
 * else (an error status, no answer within timeoutMs, a refused connection) is
 * recorded (attempts, last error, response status) and tried again after an
 * exponential backoff with jitter, until maxAttempts, then it is 'failed'.
 * Delivery is at least once (a crash between the POST and the row's update
 * sends it again): receivers dedupe on Fb-Delivery-Id.
 */
export function startWebhookDeliverer(d: WebhookDelivererDeps): WebhookDeliverer {
  const clock = d.now ?? Date.now;
  const random = d.random ?? Math.random;
  const w = d.webhook;
  let chain: Promise<unknown> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const send = async (row: Due): Promise<{ ok: boolean; status: number | null; error: string | null }> => {
    const t = Math.floor(clock() / 1000);
    const headers: Record<string, string> = { 'Content-Type': 'application/json', 'Fb-Alert-Id': row.alert_id, 'Fb-Delivery-Id': row.delivery_id };
    if (w.secret !== '') headers['Fb-Signature'] = signWebhook(w.secret, row.body, t);
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

  const pass = async (): Promise<DeliveryPass> => {
    const owned = [...d.owned()];
    const out: DeliveryPass = { tried: 0, delivered: 0, failed: 0 };
    if (owned.length === 0) return out;
    const due = await d.pool.query<Due>(
      `SELECT delivery_id, alert_id, body, attempts FROM alert_deliveries
        WHERE status = 'pending' AND partition = ANY($1::int[]) AND next_attempt_at <= $2 ORDER BY next_attempt_at, stream_seq LIMIT 50`,
      [owned, new Date(clock())],
    );
    for (const row of due.rows) {
      if (stopped) break;
      out.tried++;
      const r = await send(row);
      const attempts = row.attempts + 1;
      if (r.ok) {
        out.delivered++;
        await d.pool.query(
          `UPDATE alert_deliveries SET status = 'delivered', attempts = $2, response_status = $3, last_error = NULL, delivered_at = now(), updated_at = now()
            WHERE delivery_id = $1 AND status = 'pending'`, [row.delivery_id, attempts, r.status]);
        continue;
      }
      const failed = attempts >= w.maxAttempts;
      if (failed) out.failed++;
      await d.pool.query(
        `UPDATE alert_deliveries SET status = $2, attempts = $3, response_status = $4, last_error = $5, next_attempt_at = $6, updated_at = now()
          WHERE delivery_id = $1 AND status = 'pending'`,
        [row.delivery_id, failed ? 'failed' : 'pending', attempts, r.status, storableText(r.error ?? '', 500), new Date(clock() + retryDelayMs(attempts, w, random()))],
      );
      d.log[failed ? 'error' : 'warn']({ deliveryId: row.delivery_id, alertId: row.alert_id, attempts, status: r.status, error: r.error },
        failed ? `alert webhook failed after ${attempts} tries; it is not tried again` : 'alert webhook not delivered; trying again later');
    }
    return out;
  };

  const deliverDue = (): Promise<DeliveryPass> => {
    const run = chain.then(pass);
    chain = run.catch(() => undefined);
    return run;
  };
  const tick = (): void => {
    if (stopped) return;
    deliverDue()
      .catch((err: unknown) => d.log.error({ err }, 'alert webhook pass failed; trying again'))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, d.pollMs ?? 500).unref();
      });
  };
  timer = setTimeout(tick, 0).unref();
  d.log.info({ url: new URL(w.url).origin, signed: w.secret !== '', maxAttempts: w.maxAttempts }, 'alert webhook deliverer started');
  return {
    deliverDue,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await chain;
    },
  };
}
