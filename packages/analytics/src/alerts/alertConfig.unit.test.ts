import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALERT_METRICS } from '@farmbrain/contracts';
import { ConfigError } from '@farmbrain/platform';
import { DEFAULT_ALERT_INTERVAL_MS, DEFAULT_ALERT_RULES, DEFAULT_WEBHOOK, loadAlertConfig, parseAlertRules } from './index.js';

const fails = (text: string, pattern: RegExp) =>
  assert.throws(() => parseAlertRules(text), (err: unknown) => err instanceof ConfigError && pattern.test(err.message), `expected ${pattern} for ${text}`);

test('alert config - no setting gives one enabled default rule per metric and no webhook', () => {
  const c = loadAlertConfig({});
  assert.equal(c.enabled, true);
  assert.equal(c.intervalMs, DEFAULT_ALERT_INTERVAL_MS);
  assert.equal(c.webhook, undefined);
  assert.deepEqual(c.rules.map((r) => r.metric).sort(), [...ALERT_METRICS].sort());
  assert.deepEqual(c.rules, DEFAULT_ALERT_RULES.map((r) => ({ ...r })));
  for (const r of c.rules) {
    assert.ok(r.enabled, r.name);
    assert.ok(r.direction === 'above' ? r.clear <= r.threshold : r.clear >= r.threshold, `${r.name}: clear on the normal side`);
  }
  assert.equal(loadAlertConfig({ FB_ALERTS: 'off' }).enabled, false);
});

test('alert config - a default rule changes only the fields given; clear follows a new threshold', () => {
  const rules = parseAlertRules('{"recall_p95": {"threshold": 400}, "tier_size": null, "dead_letter_rate": {"enabled": false, "severity": "critical"}}');
  const p95 = rules.find((r) => r.name === 'recall_p95')!;
  assert.equal(p95.threshold, 400);
  assert.equal(p95.clear, 320, 'same proportion as the default (200/250)');
  assert.equal(p95.windowMs, DEFAULT_ALERT_RULES.find((r) => r.name === 'recall_p95')!.windowMs);
  assert.equal(rules.find((r) => r.name === 'tier_size')!.enabled, false);
  const dl = rules.find((r) => r.name === 'dead_letter_rate')!;
  assert.equal(dl.enabled, false);
  assert.equal(dl.severity, 'critical');
});

test('alert config - a new rule names its metric and takes the rest from that metric\'s default', () => {
  const rules = parseAlertRules('{"lag_tiering": {"metric": "consumer_lag", "subject": "tiering_v1", "threshold": 50, "clear": 5, "forMs": 0}}');
  assert.equal(rules.length, DEFAULT_ALERT_RULES.length + 1);
  const r = rules.find((x) => x.name === 'lag_tiering')!;
  assert.deepEqual({ metric: r.metric, subject: r.subject, threshold: r.threshold, clear: r.clear, forMs: r.forMs, severity: r.severity },
    { metric: 'consumer_lag', subject: 'tiering_v1', threshold: 50, clear: 5, forMs: 0, severity: 'warning' });
  // A projection's name means its consumer group (what the lag is measured by): either spelling matches.
  const byProjection = parseAlertRules('{"lag_tiering": {"metric": "consumer_lag", "subject": "tiering.v1"}, "errs": {"metric": "projection_errors", "subject": "analytics.v1"}}');
  assert.equal(byProjection.find((x) => x.name === 'lag_tiering')!.subject, 'tiering_v1');
  assert.equal(byProjection.find((x) => x.name === 'errs')!.subject, 'analytics.v1', 'other metrics keep the subject as given');
  // The example every rule error shows is itself valid, with a group name as consumer_lag's subject.
  assert.throws(() => parseAlertRules('{"x": {"metric": "cpu"}}'), (err: Error) => {
    const example = /Example: (.*)$/.exec(err.message)![1]!;
    assert.match(example, /"subject": "tiering_v1"/);
    assert.equal(parseAlertRules(example).find((x) => x.name === 'lag_tiering')!.subject, 'tiering_v1');
    return true;
  });
});

test('alert config - mistakes name the rule, the field and what to write', () => {
  fails('{', /FB_ALERT_RULES: not valid JSON/);
  fails('[]', /must be a JSON object keyed by rule name/);
  fails('{"my rule": {}}', /rule name 'my rule' must be 1 to 64 of a-z/);
  fails('{"new_one": {"threshold": 3}}', /'new_one' is a new rule: give its metric \('new_one.metric': one of consumer_lag, /);
  fails('{"x": {"metric": "cpu"}}', /'x.metric' must be one of consumer_lag, .* got "cpu"/);
  fails('{"recall_p95": {"treshold": 3}}', /'recall_p95.treshold' is not a rule field \(known: metric, severity, direction, threshold/);
  fails('{"recall_p95": {"threshold": "fast"}}', /'recall_p95.threshold' must be a finite number, got "fast"/);
  fails('{"recall_p95": {"forMs": -1}}', /'recall_p95.forMs' must be a whole number of milliseconds from 0/);
  fails('{"recall_p95": {"severity": "page"}}', /'recall_p95.severity' must be one of info, warning, critical/);
  fails('{"recall_p95": {"threshold": 100, "clear": 150}}', /'recall_p95.clear' \(150\) must be at most 'recall_p95.threshold' \(100\) for a rule that fires above it/);
  fails('{"nope": null}', /there is no default rule 'nope'/);
  fails('{"recall_p95": 3}', /'recall_p95' must be an object of rule fields/);
  // Every message ends with an example to copy.
  fails('{"recall_p95": {"minSamples": 1.5}}', /minSamples' must be a whole number .*Example: \{"recall_p95"/);
});

test('alert config - rules from a file, the webhook and its limits, and their mistakes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fb-alerts-'));
  const file = join(dir, 'rules.json');
  writeFileSync(file, '{"win_rate_drop": {"minSamples": 5}}');
  assert.equal(loadAlertConfig({ FB_ALERT_RULES_FILE: file }).rules.find((r) => r.name === 'win_rate_drop')!.minSamples, 5);
  assert.throws(() => loadAlertConfig({ FB_ALERT_RULES_FILE: join(dir, 'missing.json') }), /FB_ALERT_RULES_FILE=.*missing.json cannot be read/);
  writeFileSync(file, '{"win_rate_drop": {"minSamples": -5}}');
  assert.throws(() => loadAlertConfig({ FB_ALERT_RULES_FILE: file }), /FB_ALERT_RULES_FILE=.*rules.json: 'win_rate_drop.minSamples' must be a whole number/);
  assert.throws(() => loadAlertConfig({ FB_ALERT_RULES: '{}', FB_ALERT_RULES_FILE: file }), /set FB_ALERT_RULES or FB_ALERT_RULES_FILE, not both/);

  const w = loadAlertConfig({ FB_ALERT_WEBHOOK_URL: 'https://hooks.example.com/fb', FB_ALERT_WEBHOOK_SECRET: 's3cret-s3cret-s3cret', FB_ALERT_WEBHOOK_MAX_ATTEMPTS: '3' }).webhook;
  assert.deepEqual(w, { ...DEFAULT_WEBHOOK, url: 'https://hooks.example.com/fb', secret: 's3cret-s3cret-s3cret', maxAttempts: 3 });
  assert.throws(() => loadAlertConfig({ FB_ALERT_WEBHOOK_URL: 'hooks.example.com' }), /FB_ALERT_WEBHOOK_URL='hooks.example.com' must be an http:\/\/ or https:\/\/ URL/);
  assert.throws(() => loadAlertConfig({ FB_ALERT_WEBHOOK_SECRET: 'x' }), /FB_ALERT_WEBHOOK_SECRET is set but FB_ALERT_WEBHOOK_URL is not/);
  assert.throws(() => loadAlertConfig({ FB_ALERT_WEBHOOK_URL: 'http://h/' }), /FB_ALERT_WEBHOOK_SECRET must be set \(at least 16 characters\)/);
  assert.throws(() => loadAlertConfig({ FB_ALERT_WEBHOOK_URL: 'http://h/', FB_ALERT_WEBHOOK_SECRET: 'short' }), /FB_ALERT_WEBHOOK_SECRET must be set/);
  assert.throws(() => loadAlertConfig({ FB_ALERT_WEBHOOK_URL: 'http://h/', FB_ALERT_WEBHOOK_MAX_ATTEMPTS: '0' }), /FB_ALERT_WEBHOOK_MAX_ATTEMPTS='0' must be an integer from 1 to 100/);
  assert.throws(() => loadAlertConfig({ FB_ALERT_WEBHOOK_URL: 'http://h/', FB_ALERT_WEBHOOK_BACKOFF_MS: '5000', FB_ALERT_WEBHOOK_BACKOFF_MAX_MS: '1000' }), /BACKOFF_MAX_MS \(1000\) must be at least FB_ALERT_WEBHOOK_BACKOFF_MS \(5000\)/);
});
