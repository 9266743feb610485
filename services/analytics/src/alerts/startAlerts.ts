import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { Names } from '@farmbrain/contracts';
import type { AlertConfig, RuleSamples } from '@farmbrain/analytics';
import type { Logger, Pool } from '@farmbrain/platform';
import type { ProjectionRegistry } from '@farmbrain/projection';
import { startAlertEvaluator, type AlertEvaluator } from './alertEvaluator.js';
import { startWebhookDeliverer, type WebhookDeliverer } from './webhookDeliverer.js';

export interface StartAlertsDeps {
  config: AlertConfig;
  /** The analytics schema (search_path): alerts, the outbox, the rollups and tier samples the rules read. */
  pool: Pool;
  /** Its name (projection_errors counts its dead letters too). */
  schema: string;
  js: JetStreamClient;
  jsm: JetStreamManager;
  names: Names;
  /** The projection registry: projection_errors counts the dead letters of every version's schema. */
  registry?: ProjectionRegistry;
  /** The analytics partitions this instance owns now (the runner's): their webhooks are delivered here. */
  owned: () => readonly number[];
  /**
   * Whether this instance's lease on a partition is valid now (`(p) => runner.leases.valid(p)`): the deliverer
   * checks it right before each POST of that partition's webhooks.
   */
  valid: (partition: number) => boolean;
  /** Whether this instance evaluates the rules: it holds partition 0's lease (`runner.leases.valid(0)`). */
  leading: () => boolean;
  log: Logger;
  /** Seams for tests. */
  now?: () => number;
  collect?: (now: number) => Promise<RuleSamples>;
  pollMs?: number;
  /** The evaluator's wait for analytics after taking the lead (AlertEvaluatorDeps.catchUpWaitMs, catchUpMaxMs). */
  catchUp?: { waitMs?: number; maxMs?: number };
}

export interface RunningAlerts {
  /** Stops evaluating and delivering (waits for a pass in progress). */
  stop(): Promise<void>;
  /** Undefined when FB_ALERTS=off. */
  evaluator: AlertEvaluator | undefined;
  /** Undefined without FB_ALERT_WEBHOOK_URL. */
  deliverer: WebhookDeliverer | undefined;
}

/**
 * The analytics service's alerting: the evaluator (on the owner of partition 0)
 * and the webhook deliverer (each instance for the partitions it owns). The
 * projection applies the alert_changed events themselves (applyAlertEvents).
 */
export function startAlerts(d: StartAlertsDeps): RunningAlerts {
  const log = d.log.child({ component: 'alerts' });
  const schemas = async (): Promise<string[]> => {
    const all = new Set<string>([d.schema, d.names.pgSchema]);
    for (const s of await d.registry?.services() ?? []) for (const v of Object.values(s.versions)) all.add(v.schema);
    return [...all];
  };
  const evaluator = d.config.enabled
    ? startAlertEvaluator({
      pool: d.pool, jsm: d.jsm, js: d.js, names: d.names, schemas, rules: d.config.rules, intervalMs: d.config.intervalMs, leading: d.leading, log,
      ...(d.now ? { now: d.now } : {}), ...(d.collect ? { collect: d.collect } : {}),
      ...(d.catchUp?.waitMs !== undefined ? { catchUpWaitMs: d.catchUp.waitMs } : {}), ...(d.catchUp?.maxMs !== undefined ? { catchUpMaxMs: d.catchUp.maxMs } : {}),
    })
    : undefined;
  const deliverer = d.config.webhook
    ? startWebhookDeliverer({ pool: d.pool, webhook: d.config.webhook, owned: d.owned, valid: d.valid, log, ...(d.now ? { now: d.now } : {}), ...(d.pollMs ? { pollMs: d.pollMs } : {}) })
    : undefined;
  return {
    evaluator,
    deliverer,
    async stop() {
      await evaluator?.stop();
      await deliverer?.stop();
    },
  };
}
