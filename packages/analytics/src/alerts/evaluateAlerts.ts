import { derivedEventId, type AlertChanged, type AlertMetric } from '@farmbrain/contracts';
import type { AlertRule } from './alertConfig.js';

/** One measurement of a rule's metric for one subject. */
export interface MetricSample {
  /** A projection, a tier, an agent id, `fleet`. */
  subject: string;
  /** The agent the alert is published under: the subject's agent, or FLEET_AGENT_ID. */
  agentId: string;
  /** null: not measurable now (too few observations): the alert's state stays as it is. */
  value: number | null;
  /** Observations behind the value (closes, recalls); below the rule's minSamples the value does not count. */
  samples?: number;
}

/** Samples per rule name. A rule with no entry was not measured this time (its collector failed): its state stays. */
export type RuleSamples = ReadonlyMap<string, readonly MetricSample[]>;

/** An alert firing now (from the previous evaluation, or from the alerts table after a restart). */
export interface ActiveAlert {
  alertId: string;
  rule: string;
  metric: AlertMetric;
  subject: string;
  agentId: string;
  severity: AlertChanged['severity'];
  threshold: number;
  value: number;
  firedAt: number;
}

/** What an evaluator carries from one evaluation to the next. */
export interface AlertBook {
  /** By alertKey(rule, subject). */
  firing: ReadonlyMap<string, ActiveAlert>;
  /** Past the threshold since (epoch ms), not yet for the rule's forMs. By alertKey. */
  pending: ReadonlyMap<string, number>;
}

/** One state change to publish: an alert_changed event. */
export interface AlertTransition {
  /** Firing: the alert id. Resolved: derived from the alert id (one resolution per firing). */
  eventId: string;
  agentId: string;
  occurredAt: number;
  data: AlertChanged;
}

export const emptyAlertBook = (): AlertBook => ({ firing: new Map(), pending: new Map() });

export const alertKey = (rule: string, subject: string): string => `${rule}\u0000${subject}`;

/** One firing's id: the same for the same rule, subject and firing time, whoever computes it. */
export const alertIdOf = (rule: string, subject: string, firedAt: number): string => derivedEventId(firedAt, `alert:${rule}:${subject}:${firedAt}`);

/** The id of an alert's resolution: one per firing, so two evaluators resolving it publish one event. */
export const resolutionIdOf = (alertId: string, firedAt: number): string => derivedEventId(firedAt, `alert-resolved:${alertId}`);

/** For people: what each metric is, its unit, and where to look. */
const METRIC_TEXT = {
  consumer_lag: { what: 'consumer lag', unit: ' messages', look: 'is the projection running and keeping up? (farmbrain status)' },
  dead_letter_rate: { what: 'dead-letter rate', unit: '/min', look: 'ingest refuses events: farmbrain dlq list shows why' },
  tier_size: { what: 'tier size', unit: ' bytes', look: 'review the lifecycle policy or run an optimize' },
  win_rate_drop: { what: 'win-rate drop', unit: '', look: "compare the agent's recent decisions with the window before" },
  projection_errors: { what: 'projection errors', unit: ' dead letters', look: "the projection's dead letters say which events it could not apply" },
  recall_p95: { what: 'recall p95 latency', unit: ' ms', look: 'check Postgres and Redis load and the hot-hit ratio' },
} as const satisfies { [M in AlertMetric]: { what: string; unit: string; look: string } };

const fmt = (v: number): string => (Number.isInteger(v) ? String(v) : v.toFixed(3).replace(/\.?0+$/, ''));

export function alertMessage(rule: AlertRule, subject: string, value: number, state: 'firing' | 'resolved', why?: string): string {
  const t = METRIC_TEXT[rule.metric];
  const where = subject === '' ? '' : ` of ${subject}`;
  if (state === 'resolved') return `${t.what}${where} is back to ${fmt(value)}${t.unit}${why ? ` (${why})` : ''} (rule ${rule.name})`;
  return `${t.what}${where} is ${fmt(value)}${t.unit}, ${rule.direction} ${fmt(rule.threshold)}${t.unit} (rule ${rule.name}): ${t.look}`;
}

/**
 * Decides which alerts fire and which resolve, from the rules, this
 * evaluation's samples and what was firing or pending before. Pure: the same
 * inputs give the same transitions and ids.
 *
 * A subject fires when its value is past the threshold at every evaluation for
 * the rule's forMs (a value back inside the threshold starts the wait over),
 * and resolves when the value is back past `clear`: between threshold and
 * clear nothing changes (hysteresis), so a value flapping around the threshold
 * fires once. A firing alert also resolves when its rule is gone or disabled,
 * or when its metric was measured and its subject no longer shows. A null
 * value, one with too few samples, or a rule not measured changes nothing.
 */
export function evaluateAlerts(rules: readonly AlertRule[], samples: RuleSamples, book: AlertBook, now: number): { transitions: AlertTransition[]; book: AlertBook } {
  const firing = new Map(book.firing);
  const pending = new Map(book.pending);
  const transitions: AlertTransition[] = [];
  const live = new Map(rules.filter((r) => r.enabled).map((r) => [r.name, r]));

  const resolve = (a: ActiveAlert, rule: AlertRule | undefined, value: number, why?: string): void => {
    firing.delete(alertKey(a.rule, a.subject));
    const message = rule ? alertMessage(rule, a.subject, value, 'resolved', why) : `alert ${a.rule} on ${a.subject} resolved: ${why ?? ''}`;
    transitions.push({
      eventId: resolutionIdOf(a.alertId, a.firedAt), agentId: a.agentId, occurredAt: now,
      data: { alertId: a.alertId, rule: a.rule, metric: a.metric, state: 'resolved', severity: a.severity, subject: a.subject, value, threshold: a.threshold, message, firedAt: a.firedAt },
    });
  };

  for (const a of [...firing.values()]) {
    if (!live.has(a.rule)) resolve(a, undefined, a.value, 'its rule was removed or disabled');
  }
  for (const key of [...pending.keys()]) if (!live.has(key.slice(0, key.indexOf('\u0000')))) pending.delete(key);

  for (const rule of live.values()) {
    const measured = samples.get(rule.name);
    if (measured === undefined) continue;
    const seen = new Set<string>();
    for (const s of measured) {
      if (rule.subject !== '' && s.subject !== rule.subject) continue;
      const key = alertKey(rule.name, s.subject);
      seen.add(key);
      if (s.value === null || !Number.isFinite(s.value) || (s.samples ?? Infinity) < rule.minSamples) continue;
      const v = s.value;
      const breached = rule.direction === 'above' ? v > rule.threshold : v < rule.threshold;
      const cleared = rule.direction === 'above' ? v <= rule.clear : v >= rule.clear;
      const active = firing.get(key);
      if (active) {
        if (cleared) resolve(active, rule, v);
        continue;
      }
      if (!breached) {
        pending.delete(key);
        continue;
      }
      const since = pending.get(key) ?? now;
      if (now - since < rule.forMs) {
        pending.set(key, since);
        continue;
      }
      pending.delete(key);
      const alertId = alertIdOf(rule.name, s.subject, now);
      const a: ActiveAlert = { alertId, rule: rule.name, metric: rule.metric, subject: s.subject, agentId: s.agentId, severity: rule.severity, threshold: rule.threshold, value: v, firedAt: now };
      firing.set(key, a);
      transitions.push({
        eventId: alertId, agentId: s.agentId, occurredAt: now,
        data: { alertId, rule: rule.name, metric: rule.metric, state: 'firing', severity: rule.severity, subject: s.subject, value: v, threshold: rule.threshold, message: alertMessage(rule, s.subject, v, 'firing'), firedAt: now },
      });
    }
    for (const a of [...firing.values()]) {
      if (a.rule === rule.name && !seen.has(alertKey(a.rule, a.subject))) resolve(a, rule, a.value, 'no longer measured');
    }
    for (const key of [...pending.keys()]) if (key.startsWith(`${rule.name}\u0000`) && !seen.has(key)) pending.delete(key);
  }
  return { transitions, book: { firing, pending } };
}
