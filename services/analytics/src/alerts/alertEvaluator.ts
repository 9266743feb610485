import type { JetStreamClient } from '@nats-io/jetstream';
import type { Names } from '@farmbrain/contracts';
import { emptyAlertBook, evaluateAlerts, alertKey, type ActiveAlert, type AlertBook, type AlertRule, type AlertTransition, type RuleSamples } from '@farmbrain/analytics';
import type { Logger, Pool } from '@farmbrain/platform';
import { collectSamples, newCollectMemo, type CollectDeps } from './collectSamples.js';
import { publishAlerts } from './publishAlerts.js';

export interface AlertEvaluatorDeps extends CollectDeps {
  js: JetStreamClient;
  names: Names;
  rules: readonly AlertRule[];
  intervalMs: number;
  /** Whether this instance evaluates now: the owner of partition 0 (one evaluator per deployment). */
  leading: () => boolean;
  now?: () => number;
  log: Logger;
  /** Seam for tests: measure differently. */
  collect?: (now: number) => Promise<RuleSamples>;
}

export interface EvaluationRun {
  now: number;
  skipped?: string;
  transitions: AlertTransition[];
  duplicates: number;
}

export interface AlertEvaluator {
  /** One evaluation now (after any in progress: runs never overlap); rejects when publishing fails (it is retried next run). */
  runOnce(now?: number): Promise<EvaluationRun>;
  stop(): Promise<void>;
}

/** The alerts firing according to the alerts table (what this evaluator starts from after a restart or a takeover). */
export async function loadFiringAlerts(pool: Pool): Promise<Map<string, ActiveAlert>> {
  const r = await pool.query<{ alert_id: string; rule: string; metric: ActiveAlert['metric']; subject: string; agent_id: string; severity: ActiveAlert['severity']; threshold: number; value: number; fired_at: Date }>(
    "SELECT alert_id, rule, metric, subject, agent_id, severity, threshold, value, fired_at FROM alerts WHERE state = 'firing'");
  return new Map(r.rows.map((x) => [alertKey(x.rule, x.subject), {
    alertId: x.alert_id, rule: x.rule, metric: x.metric, subject: x.subject, agentId: x.agent_id, severity: x.severity,
    threshold: Number(x.threshold), value: Number(x.value), firedAt: x.fired_at.getTime(),
  }]));
}

/**
 * Evaluates the alert rules every interval while this instance leads (owns
 * partition 0), and publishes the transitions. Evaluation times are whole
 * intervals (epoch ms rounded down), so two evaluators overlapping during a
 * takeover derive the same alert ids and the log keeps one. On taking the lead
 * it starts from the alerts firing in the table, so a restart does not fire an
 * alert again. Transitions JetStream did not acknowledge are published again
 * (same ids) before the next evaluation.
 */
export function startAlertEvaluator(d: AlertEvaluatorDeps): AlertEvaluator {
  const clock = d.now ?? Date.now;
  const memo = newCollectMemo();
  const collect = d.collect ?? ((now: number) => collectSamples(d, d.rules, now, memo));
  let book: AlertBook | undefined;
  let unpublished: AlertTransition[] = [];
  let chain: Promise<unknown> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const once = async (at: number): Promise<EvaluationRun> => {
    const now = at - (at % d.intervalMs);
    if (!d.leading()) {
      // Another instance evaluates; on taking the lead back, start again from the table.
      book = undefined;
      unpublished = [];
      return { now, skipped: 'not the owner of partition 0', transitions: [], duplicates: 0 };
    }
    book ??= { ...emptyAlertBook(), firing: await loadFiringAlerts(d.pool) };
    let duplicates = 0;
    if (unpublished.length > 0) {
      duplicates += (await publishAlerts(d.js, d.names, unpublished)).duplicates;
      unpublished = [];
    }
    const next = evaluateAlerts(d.rules, await collect(now), book, now);
    book = next.book;
    if (next.transitions.length > 0) {
      try {
        duplicates += (await publishAlerts(d.js, d.names, next.transitions)).duplicates;
      } catch (err) {
        unpublished = next.transitions;
        throw err;
      }
      for (const t of next.transitions) {
        d.log.info({ alertId: t.data.alertId, rule: t.data.rule, subject: t.data.subject, state: t.data.state, value: t.data.value, threshold: t.data.threshold }, `alert ${t.data.state}: ${t.data.message}`);
      }
    }
    return { now, transitions: next.transitions, duplicates };
  };

  const runOnce = (now?: number): Promise<EvaluationRun> => {
    const run = chain.then(() => once(now ?? clock()));
    chain = run.catch(() => undefined);
    return run;
  };
  const tick = (): void => {
    if (stopped) return;
    runOnce()
      .catch((err: unknown) => d.log.error({ err }, 'alert evaluation failed; trying again next interval'))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, d.intervalMs - (clock() % d.intervalMs)).unref();
      });
  };
  timer = setTimeout(tick, d.intervalMs - (clock() % d.intervalMs)).unref();
  d.log.info({ intervalMs: d.intervalMs, rules: d.rules.filter((r) => r.enabled).map((r) => r.name) }, 'alert evaluator started');
  return {
    runOnce,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await chain;
    },
  };
}
