import { readFileSync } from 'node:fs';
import { ALERT_METRICS, ALERT_SEVERITIES, consumerGroup, type AlertMetric, type AlertSeverity } from '@farmbrain/contracts';
import { ConfigError, readers, type Env } from '@farmbrain/platform';

/**
 * One alert rule. It fires when its metric is on the wrong side of `threshold`
 * (above it, or below it with `direction: 'below'`) for `forMs` in a row, and
 * resolves only when the value is back past `clear` (hysteresis: a value that
 * hovers around the threshold does not fire and resolve in turn).
 */
export interface AlertRule {
  /** The rule's name (the key in FB_ALERT_RULES): `[a-z0-9_.-]`, 1 to 64 characters. */
  name: string;
  metric: AlertMetric;
  severity: AlertSeverity;
  direction: 'above' | 'below';
  threshold: number;
  /** Resolves once the value is at or below this (above rules), at or above it (below rules). */
  clear: number;
  /** How long the value must stay past the threshold before the alert fires (0: at the first evaluation). */
  forMs: number;
  /** The span the metric is measured over (rates, errors, win rates, latency percentiles). */
  windowMs: number;
  /** The least number of observations a value needs to count (closes for win_rate_drop, recalls for recall_p95). */
  minSamples: number;
  /** Only this subject (a projection, a tier, an agent id); empty: every subject of the metric. */
  subject: string;
  enabled: boolean;
}

export interface WebhookConfig {
  /** FB_ALERT_WEBHOOK_URL: where each alert transition is POSTed (JSON). */
  url: string;
  /** FB_ALERT_WEBHOOK_SECRET: the HMAC key of the Fb-Signature header (required with a URL: every delivery is signed). */
  secret: string;
  /** FB_ALERT_WEBHOOK_MAX_ATTEMPTS: a delivery is marked failed after this many tries. */
  maxAttempts: number;
  /** FB_ALERT_WEBHOOK_TIMEOUT_MS: one try gives up after this. */
  timeoutMs: number;
  /** FB_ALERT_WEBHOOK_BACKOFF_MS: the delay before the second try; it doubles each try (with jitter) up to backoffMaxMs. */
  backoffMs: number;
  /** FB_ALERT_WEBHOOK_BACKOFF_MAX_MS. */
  backoffMaxMs: number;
  /** FB_ALERT_WEBHOOK_MAX_AGE_MS: transitions older than this when projected (a rebuild replaying the log) are not sent. */
  maxAgeMs: number;
}

export interface AlertConfig {
  /** FB_ALERTS=off stops evaluating (alerts already on the log are still projected). */
  enabled: boolean;
  /** FB_ALERT_INTERVAL_MS: how often the rules are evaluated. */
  intervalMs: number;
  rules: AlertRule[];
  /** Absent when FB_ALERT_WEBHOOK_URL is not set. */
  webhook: WebhookConfig | undefined;
}

const MIN = 60_000;

type RuleDefaults = Omit<AlertRule, 'name' | 'metric'>;

/** Every default rule, one per metric, named after it (see the README's Alerts section for why these values). */
export const DEFAULT_ALERT_RULES: readonly AlertRule[] = Object.freeze(([
  // Messages a projection (every live version's durables) has not applied yet.
  ['consumer_lag', { severity: 'warning', direction: 'above', threshold: 10_000, clear: 1_000, forMs: 2 * MIN, windowMs: MIN, minSamples: 0, subject: '', enabled: true }],
  // Events ingest refused (the dead-letter stream), per minute over the window.
  ['dead_letter_rate', { severity: 'warning', direction: 'above', threshold: 10, clear: 1, forMs: 0, windowMs: 5 * MIN, minSamples: 0, subject: '', enabled: true }],
  // Bytes of the hot tier (Redis): the tier that costs memory.
  ['tier_size', { severity: 'warning', direction: 'above', threshold: 1024 ** 3, clear: 0.9 * 1024 ** 3, forMs: 5 * MIN, windowMs: 5 * MIN, minSamples: 0, subject: 'hot', enabled: true }],
  // An agent's win rate over the window minus the window before (in points, 0.2 = 20 points down).
  ['win_rate_drop', { severity: 'warning', direction: 'above', threshold: 0.2, clear: 0.1, forMs: 0, windowMs: 24 * 60 * MIN, minSamples: 20, subject: '', enabled: true }],
  // Events a projection dead-lettered (could not apply) in the window.
  ['projection_errors', { severity: 'critical', direction: 'above', threshold: 0, clear: 0, forMs: 0, windowMs: 15 * MIN, minSamples: 0, subject: '', enabled: true }],
  // Recall latency p95 (ms) over the window, fleet-wide.
  ['recall_p95', { severity: 'warning', direction: 'above', threshold: 250, clear: 200, forMs: 2 * MIN, windowMs: 5 * MIN, minSamples: 20, subject: '', enabled: true }],
] satisfies [AlertMetric, RuleDefaults][]).map(([metric, d]) => Object.freeze({ name: metric, metric, ...d })));

export const DEFAULT_ALERT_INTERVAL_MS = 15_000;

/** The shortest webhook secret accepted. */
export const MIN_SECRET_CHARS = 16;

export const DEFAULT_WEBHOOK: Omit<WebhookConfig, 'url' | 'secret'> = Object.freeze({
  maxAttempts: 8,
  timeoutMs: 5_000,
  backoffMs: 1_000,
  backoffMaxMs: 5 * MIN,
  maxAgeMs: 60 * MIN,
});

const NAME = /^[a-z0-9_.-]{1,64}$/;
const EXAMPLE = '{"recall_p95": {"threshold": 400}, "tier_size": {"enabled": false}, "lag_tiering": {"metric": "consumer_lag", "subject": "tiering_v1", "threshold": 500}}';
const FIELDS = ['metric', 'severity', 'direction', 'threshold', 'clear', 'forMs', 'windowMs', 'minSamples', 'subject', 'enabled'] as const;
const MAX_MS = 30 * 24 * 60 * MIN;

/**
 * Parses FB_ALERT_RULES: a JSON object keyed by rule name. A default rule's
 * name changes only the fields given; a new name is a new rule (its `metric` is
 * required, the rest defaults to that metric's default rule); `null` or
 * `{"enabled": false}` turns a rule off. When a rule changes `threshold` but
 * not `clear`, `clear` follows in the default's proportion (or equals the
 * threshold when that would put it on the wrong side). Throws ConfigError naming the
 * rule, the field and what to write.
 */
export function parseAlertRules(text: string, source = 'FB_ALERT_RULES'): AlertRule[] {
  const fail = (why: string): never => {
    throw new ConfigError(`${source}: ${why}. Example: ${EXAMPLE}`);
  };
  const rules = new Map(DEFAULT_ALERT_RULES.map((r) => [r.name, { ...r }]));
  if (text.trim() === '') return [...rules.values()];
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return fail(`not valid JSON (${(err as Error).message})`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return fail('must be a JSON object keyed by rule name');
  for (const [name, over] of Object.entries(raw as Record<string, unknown>)) {
    if (!NAME.test(name)) fail(`rule name '${name}' must be 1 to 64 of a-z, 0-9, '_', '.', '-'`);
    if (over === null) {
      const r = rules.get(name) ?? fail(`'${name}': null turns a default rule off, and there is no default rule '${name}' (defaults: ${DEFAULT_ALERT_RULES.map((d) => d.name).join(', ')})`);
      r.enabled = false;
      continue;
    }
    if (typeof over !== 'object' || Array.isArray(over)) fail(`'${name}' must be an object of rule fields (${FIELDS.join(', ')}) or null`);
    const o = over as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!(FIELDS as readonly string[]).includes(k)) fail(`'${name}.${k}' is not a rule field (known: ${FIELDS.join(', ')})`);
    const existing = rules.get(name);
    let base: AlertRule;
    if (existing && (o.metric === undefined || o.metric === existing.metric)) base = existing;
    else {
      const metric = o.metric === undefined
        ? fail(`'${name}' is a new rule: give its metric ('${name}.metric': one of ${ALERT_METRICS.join(', ')})`)
        : ALERT_METRICS.includes(o.metric as AlertMetric) ? (o.metric as AlertMetric) : fail(`'${name}.metric' must be one of ${ALERT_METRICS.join(', ')}, got ${JSON.stringify(o.metric)}`);
      base = { ...DEFAULT_ALERT_RULES.find((d) => d.metric === metric)!, name, metric };
    }
    const r: AlertRule = { ...base };
    const num = (k: 'threshold' | 'clear'): number => (typeof o[k] === 'number' && Number.isFinite(o[k]) ? (o[k] as number) : fail(`'${name}.${k}' must be a finite number, got ${JSON.stringify(o[k])}`));
    const ms = (k: 'forMs' | 'windowMs', min: number): number => {
      const v = o[k];
      return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= MAX_MS ? v : fail(`'${name}.${k}' must be a whole number of milliseconds from ${min} to ${MAX_MS}, got ${JSON.stringify(v)}`);
    };
    if (o.severity !== undefined) r.severity = ALERT_SEVERITIES.includes(o.severity as AlertSeverity) ? (o.severity as AlertSeverity) : fail(`'${name}.severity' must be one of ${ALERT_SEVERITIES.join(', ')}, got ${JSON.stringify(o.severity)}`);
    if (o.direction !== undefined) r.direction = o.direction === 'above' || o.direction === 'below' ? o.direction : fail(`'${name}.direction' must be 'above' or 'below', got ${JSON.stringify(o.direction)}`);
    if (o.threshold !== undefined) r.threshold = num('threshold');
    if ((o.threshold !== undefined || o.direction !== undefined) && o.clear === undefined) {
      // clear follows the threshold in the default's proportion, unless that would put it on the wrong side.
      const c = r.threshold * (base.threshold !== 0 ? base.clear / base.threshold : 1);
      r.clear = (r.direction === 'above' ? c <= r.threshold : c >= r.threshold) ? c : r.threshold;
    }
    if (o.clear !== undefined) r.clear = num('clear');
    if (o.forMs !== undefined) r.forMs = ms('forMs', 0);
    if (o.windowMs !== undefined) r.windowMs = ms('windowMs', 1000);
    if (o.minSamples !== undefined) {
      r.minSamples = typeof o.minSamples === 'number' && Number.isInteger(o.minSamples) && o.minSamples >= 0 && o.minSamples <= 1_000_000
        ? o.minSamples : fail(`'${name}.minSamples' must be a whole number from 0 to 1000000, got ${JSON.stringify(o.minSamples)}`);
    }
    if (o.subject !== undefined) r.subject = typeof o.subject === 'string' && o.subject.length <= 128 ? o.subject : fail(`'${name}.subject' must be a string of at most 128 characters (a projection, a tier, an agent id; '' for all), got ${JSON.stringify(o.subject)}`);
    if (o.enabled !== undefined) r.enabled = typeof o.enabled === 'boolean' ? o.enabled : fail(`'${name}.enabled' must be true or false, got ${JSON.stringify(o.enabled)}`);
    // Hysteresis must point back toward normal, or the alert would resolve while still past its threshold.
    if (r.direction === 'above' ? r.clear > r.threshold : r.clear < r.threshold) {
      fail(`'${name}.clear' (${r.clear}) must be ${r.direction === 'above' ? 'at most' : 'at least'} '${name}.threshold' (${r.threshold}) for a rule that fires ${r.direction} it: it is the value the metric must come back to before the alert resolves`);
    }
    // consumer_lag's subjects are consumer group names (tiering_v1); a projection's name (tiering.v1) means its group.
    if (r.metric === 'consumer_lag') r.subject = consumerGroup(r.subject);
    rules.set(name, r);
  }
  return [...rules.values()];
}

function readRules(env: Env): AlertRule[] {
  const inline = env.FB_ALERT_RULES ?? '';
  const file = env.FB_ALERT_RULES_FILE ?? '';
  if (inline !== '' && file !== '') throw new ConfigError('set FB_ALERT_RULES or FB_ALERT_RULES_FILE, not both');
  if (file === '') return parseAlertRules(inline, 'FB_ALERT_RULES');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`FB_ALERT_RULES_FILE=${file} cannot be read: ${(err as Error).message}`);
  }
  return parseAlertRules(text, `FB_ALERT_RULES_FILE=${file}`);
}

/**
 * The alert settings of the analytics service: FB_ALERTS (on/off, default on),
 * FB_ALERT_INTERVAL_MS, the rules (FB_ALERT_RULES inline JSON or
 * FB_ALERT_RULES_FILE, over DEFAULT_ALERT_RULES) and the webhook
 * (FB_ALERT_WEBHOOK_URL, FB_ALERT_WEBHOOK_SECRET and its retry limits).
 */
export function loadAlertConfig(env: Env): AlertConfig {
  const r = readers(env);
  const url = r.str('FB_ALERT_WEBHOOK_URL', '');
  if (url !== '') {
    let u: URL | undefined;
    try {
      u = new URL(url);
    } catch {
      u = undefined;
    }
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) throw new ConfigError(`FB_ALERT_WEBHOOK_URL='${url}' must be an http:// or https:// URL (e.g. https://hooks.example.com/farmbrain), or empty for no webhook`);
  }
  const secret = r.str('FB_ALERT_WEBHOOK_SECRET', '');
  const d = DEFAULT_WEBHOOK;
  const webhook: WebhookConfig | undefined = url === '' ? undefined : {
    url,
    secret,
    maxAttempts: r.int('FB_ALERT_WEBHOOK_MAX_ATTEMPTS', d.maxAttempts, 1, 100),
    timeoutMs: r.int('FB_ALERT_WEBHOOK_TIMEOUT_MS', d.timeoutMs, 100, 120_000),
    backoffMs: r.int('FB_ALERT_WEBHOOK_BACKOFF_MS', d.backoffMs, 10, 3600_000),
    backoffMaxMs: r.int('FB_ALERT_WEBHOOK_BACKOFF_MAX_MS', d.backoffMaxMs, 10, 24 * 3600_000),
    maxAgeMs: r.int('FB_ALERT_WEBHOOK_MAX_AGE_MS', d.maxAgeMs, 1000, MAX_MS),
  };
  if (url === '' && secret !== '') throw new ConfigError('FB_ALERT_WEBHOOK_SECRET is set but FB_ALERT_WEBHOOK_URL is not: set the URL the alerts go to, or unset the secret');
  if (webhook && webhook.backoffMaxMs < webhook.backoffMs) throw new ConfigError(`FB_ALERT_WEBHOOK_BACKOFF_MAX_MS (${webhook.backoffMaxMs}) must be at least FB_ALERT_WEBHOOK_BACKOFF_MS (${webhook.backoffMs})`);
  // An unsigned alert could be forged by anyone who finds the receiver's URL: a webhook is always signed.
  if (webhook && secret.length < MIN_SECRET_CHARS) {
    throw new ConfigError(`FB_ALERT_WEBHOOK_SECRET must be set (at least ${MIN_SECRET_CHARS} characters) with FB_ALERT_WEBHOOK_URL: receivers check the Fb-Signature header with it (e.g. openssl rand -hex 32)`);
  }
  return {
    enabled: r.bool('FB_ALERTS', true),
    intervalMs: r.int('FB_ALERT_INTERVAL_MS', DEFAULT_ALERT_INTERVAL_MS, 100, 3600_000),
    rules: readRules(env),
    webhook,
  };
}
