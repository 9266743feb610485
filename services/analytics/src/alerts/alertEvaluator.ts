import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { encodeConsistencyToken, type Names } from '@farmbrain/contracts';
import {
  ANALYTICS_PROJECTION, emptyAlertBook, evaluateAlerts, alertKey, resolutionIdOf,
  type ActiveAlert, type AlertBook, type AlertRule, type AlertTransition, type RuleSamples,
} from '@farmbrain/analytics';
import { every, type Logger, type Pool } from '@farmbrain/platform';
import { NotAppliedError, waitApplied } from '@farmbrain/projection';
import { collectSamples, newCollectMemo, type CollectDeps } from './collectSamples.js';
import { publishAlerts } from './publishAlerts.js';

export interface AlertEvaluatorDeps extends CollectDeps {
  js: JetStreamClient;
  names: Names;
  rules: readonly AlertRule[];
  intervalMs: number;
  /** Whether this instance evaluates now: the owner of partition 0 (one evaluator per deployment). Asked again right before publishing. */
  leading: () => boolean;
  /**
   * On taking the lead, how long the evaluator waits for analytics to apply what was on the log then (the previous
   * leader's last transitions) before it evaluates from the alerts table as it is (default: 10 intervals, at least
   * 5 minutes). Until then each run is skipped; after, the table is reconciled again once analytics has caught up.
   */
  catchUpMaxMs?: number;
  /** How long one run waits for that before it is skipped (default: a tenth of the interval, at most 2 s). */
  catchUpWaitMs?: number;
  /** The projection whose checkpoints say what analytics applied (default ANALYTICS_PROJECTION). */
  projection?: string;
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

/**
 * Every alert firing according to the alerts table, by alertKey, oldest first. A key can have more than one
 * (two leaders that each fired it under a different id, one not knowing the other's firing): all are returned.
 */
export async function loadFiringAlerts(pool: Pool): Promise<Map<string, ActiveAlert[]>> {
  const r = await pool.query<{ alert_id: string; rule: string; metric: ActiveAlert['metric']; subject: string; agent_id: string; severity: ActiveAlert['severity']; threshold: number; value: number; fired_at: Date }>(
    "SELECT alert_id, rule, metric, subject, agent_id, severity, threshold, value, fired_at FROM alerts WHERE state = 'firing' ORDER BY fired_at, alert_id");
  const out = new Map<string, ActiveAlert[]>();
  for (const x of r.rows) {
    const key = alertKey(x.rule, x.subject);
    const a: ActiveAlert = {
      alertId: x.alert_id, rule: x.rule, metric: x.metric, subject: x.subject, agentId: x.agent_id, severity: x.severity,
      threshold: Number(x.threshold), value: Number(x.value), firedAt: x.fired_at.getTime(),
    };
    out.set(key, [...out.get(key) ?? [], a]);
  }
  return out;
}

const newer = (a: ActiveAlert, b: ActiveAlert): boolean => a.firedAt > b.firedAt || (a.firedAt === b.firedAt && a.alertId > b.alertId);

/**
 * The book to evaluate from: the alerts firing in the table and in `book` (what this evaluator fired and the
 * table may not show yet), one per key, the newest; every other firing of a key is resolved (its resolution is
 * among the transitions returned). Alerts in `resolved` (resolved by this evaluator, maybe not projected yet) are
 * left out. Pure.
 */
export function reconcileFiring(table: ReadonlyMap<string, readonly ActiveAlert[]>, book: AlertBook | undefined, resolved: ReadonlySet<string>, now: number): { book: AlertBook; transitions: AlertTransition[] } {
  const all = new Map<string, Map<string, ActiveAlert>>();
  const add = (key: string, a: ActiveAlert): void => {
    if (resolved.has(a.alertId)) return;
    const m = all.get(key) ?? new Map<string, ActiveAlert>();
    m.set(a.alertId, a);
    all.set(key, m);
  };
  for (const [key, list] of table) for (const a of list) add(key, a);
  for (const [key, a] of book?.firing ?? []) add(key, a);
  const firing = new Map<string, ActiveAlert>();
  const transitions: AlertTransition[] = [];
  for (const [key, m] of all) {
    const list = [...m.values()];
    const keep = list.reduce((x, y) => (newer(y, x) ? y : x));
    firing.set(key, keep);
    for (const a of list) {
      if (a === keep) continue;
      transitions.push({
        eventId: resolutionIdOf(a.alertId, a.firedAt), agentId: a.agentId, occurredAt: now,
        data: {
          alertId: a.alertId, rule: a.rule, metric: a.metric, state: 'resolved', severity: a.severity, subject: a.subject, value: a.value, threshold: a.threshold,
          message: `alert ${a.rule} on ${a.subject} resolved: superseded by alert ${keep.alertId}, fired for the same rule and subject (a duplicate firing from a change of leader)`,
          firedAt: a.firedAt,
        },
      });
    }
  }
  return { book: { firing, pending: book?.pending ?? new Map() }, transitions };
}

/**
 * Where the ingress stream stands now, per partition: the sequence of its last message (a consistency token).
 * Once analytics' checkpoints cover it, every transition published before now (by any leader) is in the table.
 */
export async function ingressMarks(jsm: JetStreamManager, names: Names): Promise<string | undefined> {
  const marks = new Map<number, number>();
  for (let p = 0; p < names.partitions; p++) {
    const m = await jsm.streams.getMessage(names.ingressStream, { last_by_subj: names.ingressFilter(p) }).catch((err: unknown) => {
      if ((err as { code?: unknown }).code === 404 || /no message found/i.test((err as Error).message ?? '')) return null;
      throw err;
    });
    if (m && m.seq > 0) marks.set(p, m.seq);
  }
  return marks.size > 0 ? encodeConsistencyToken(marks) : undefined;
}

/** A takeover of the lead: what must be applied before the table is the whole truth. */
interface Takeover {
  since: number;
  token: string | undefined;
  /** Analytics applied everything up to the takeover. */
  applied: boolean;
  /** Evaluating from the table without that (waited catchUpMaxMs): the table is reconciled again once applied. */
  degraded: boolean;
}

/**
 * Evaluates the alert rules every interval while this instance leads (owns
 * partition 0), and publishes the transitions. Evaluation times are whole
 * intervals (epoch ms rounded down), so two evaluators overlapping during a
 * takeover derive the same alert ids and the log keeps one.
 *
 * On taking the lead it notes where the ingress stream stands, waits (run
 * after run, up to catchUpMaxMs) until analytics has applied all of it, and
 * only then starts from the alerts firing in the table: a firing the previous
 * leader published but analytics had not projected yet is in the book, so it
 * is not fired again under a new id, and is resolved when it clears. A key
 * firing more than once in the table (a duplicate from an earlier takeover)
 * keeps the newest; the others are resolved. Transitions JetStream did not
 * acknowledge are published again (same ids) before the next evaluation; a
 * run that lost the lead just before publishing publishes nothing.
 */
export function startAlertEvaluator(d: AlertEvaluatorDeps): AlertEvaluator {
  const clock = d.now ?? Date.now;
  const memo = newCollectMemo();
  const collect = d.collect ?? ((now: number) => collectSamples(d, d.rules, now, memo));
  const catchUpMaxMs = d.catchUpMaxMs ?? Math.max(10 * d.intervalMs, 5 * 60_000);
  const projection = d.projection ?? ANALYTICS_PROJECTION;
  let book: AlertBook | undefined;
  let unpublished: AlertTransition[] = [];
  let takeover: Takeover | undefined;
  /** Alerts this evaluator resolved since it took the lead (the table may still show them firing). */
  let resolvedHere = new Set<string>();

  const stepDown = (): void => {
    // Another instance evaluates; on taking the lead back, start again from the table.
    book = undefined;
    unpublished = [];
    takeover = undefined;
    resolvedHere = new Set();
  };

  /** Whether analytics applied the log up to the takeover (a short wait: catchUpWaitMs). */
  const applied = async (t: Takeover): Promise<boolean> => {
    try {
      await waitApplied(d.pool, { projection, partitions: d.names.partitions, token: t.token, timeoutMs: d.catchUpWaitMs ?? Math.min(d.intervalMs / 10, 2000), pollMs: 50, what: 'the log up to the takeover' });
      return true;
    } catch (err) {
      if (err instanceof NotAppliedError) return false;
      throw err;
    }
  };

  const once = async (at: number): Promise<EvaluationRun> => {
    const now = at - (at % d.intervalMs);
    const skip = (why: string): EvaluationRun => ({ now, skipped: why, transitions: [], duplicates: 0 });
    if (!d.leading()) {
      stepDown();
      return skip('not the owner of partition 0');
    }
    takeover ??= { since: clock(), token: await ingressMarks(d.jsm, d.names), applied: false, degraded: false };
    let reconcile = book === undefined;
    if (!takeover.applied) {
      if (await applied(takeover)) {
        takeover.applied = true;
        // Evaluated from the table before it was whole: look at it again (firings of the previous leader show now).
        reconcile = true;
        if (takeover.degraded) d.log.info('analytics applied the log up to the takeover: alerts reconciled with the table');
      } else if (clock() - takeover.since < catchUpMaxMs) {
        d.log.info({ waitedMs: clock() - takeover.since, catchUpMaxMs }, 'alert evaluation waits for analytics to apply the log up to the takeover');
        return skip('waiting for analytics to apply the log up to the takeover');
      } else if (!takeover.degraded) {
        takeover.degraded = true;
        d.log.error({ waitedMs: clock() - takeover.since, catchUpMaxMs },
          'analytics has not applied the log up to the takeover: evaluating alerts from the table as it is (an alert the previous leader fired may fire again; the duplicate is resolved once analytics catches up)');
      }
    }
    let extra: AlertTransition[] = [];
    if (reconcile) {
      const r = reconcileFiring(await loadFiringAlerts(d.pool), book, resolvedHere, now);
      book = r.book;
      extra = r.transitions;
      // Only a reconcile before the table is whole needs what was resolved here; the last one is behind us.
      if (takeover.applied) resolvedHere = new Set();
    }
    let duplicates = 0;
    if (unpublished.length > 0) {
      if (!d.leading()) {
        stepDown();
        return skip('not the owner of partition 0 any more');
      }
      duplicates += (await publishAlerts(d.js, d.names, unpublished)).duplicates;
      unpublished = [];
    }
    const next = evaluateAlerts(d.rules, await collect(now), book!, now);
    const transitions = [...extra, ...next.transitions];
    if (transitions.length > 0 && !d.leading()) {
      // Lost the lead while measuring: the new leader decides (from the table); nothing is published from here.
      stepDown();
      return skip('not the owner of partition 0 any more');
    }
    book = next.book;
    if (!takeover.applied) for (const t of transitions) if (t.data.state === 'resolved') resolvedHere.add(t.data.alertId);
    if (transitions.length > 0) {
      try {
        duplicates += (await publishAlerts(d.js, d.names, transitions)).duplicates;
      } catch (err) {
        unpublished = transitions;
        throw err;
      }
      for (const t of transitions) {
        d.log.info({ alertId: t.data.alertId, rule: t.data.rule, subject: t.data.subject, state: t.data.state, value: t.data.value, threshold: t.data.threshold }, `alert ${t.data.state}: ${t.data.message}`);
      }
    }
    return { now, transitions, duplicates };
  };

  const loop = every(() => d.intervalMs - (clock() % d.intervalMs), (at: number | undefined) => once(at ?? clock()), { log: d.log, name: 'alert evaluation' });
  d.log.info({ intervalMs: d.intervalMs, rules: d.rules.filter((r) => r.enabled).map((r) => r.name) }, 'alert evaluator started');
  return {
    runOnce: (now?: number) => loop.run(now),
    stop: () => loop.stop(),
  };
}
