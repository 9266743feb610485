import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@farmbrain/platform';
import { DEFAULT_LIFECYCLE_INTERVAL_MS, DEFAULT_LIFECYCLE_POLICY, loadLifecycleConfig, loadLifecyclePolicy, parseLifecyclePolicy } from './index.js';

const fails = (text: string, pattern: RegExp) => assert.throws(() => parseLifecyclePolicy(text), (err: unknown) => err instanceof ConfigError && pattern.test(err.message), `expected ${pattern} for ${text}`);

test('lifecycle policy - no setting gives the defaults, valid and ordered', () => {
  const c = loadLifecycleConfig({});
  assert.deepEqual(c.policy, DEFAULT_LIFECYCLE_POLICY);
  assert.equal(c.enabled, true);
  assert.equal(c.intervalMs, DEFAULT_LIFECYCLE_INTERVAL_MS);
  assert.equal(loadLifecycleConfig({ FB_LIFECYCLE: 'off' }).enabled, false);
  assert.equal(loadLifecycleConfig({ FB_LIFECYCLE_INTERVAL_MS: '60000' }).intervalMs, 60_000);
  assert.throws(() => loadLifecycleConfig({ FB_LIFECYCLE_INTERVAL_MS: '5' }), /FB_LIFECYCLE_INTERVAL_MS='5' must be an integer from 1000/);
  assert.throws(() => loadLifecycleConfig({ FB_LIFECYCLE: 'maybe' }), /FB_LIFECYCLE='maybe' must be true or false/);
});

test('lifecycle policy - a document is merged over the defaults, key by key', () => {
  const p = parseLifecyclePolicy('{"recall": {"deleteAfterDays": 180}, "checkpoint": {"keepLast": 5}, "decision": {"deleteAfterDays": null}, "memory": {"decay": {"enabled": true}}}');
  assert.equal(p.recall.deleteAfterDays, 180);
  assert.equal(p.recall.coldAfterDays, DEFAULT_LIFECYCLE_POLICY.recall.coldAfterDays);
  assert.equal(p.checkpoint.keepLast, 5);
  assert.equal(p.checkpoint.keepDaily, true);
  assert.equal(p.decision.deleteAfterDays, null);
  assert.deepEqual(p.memory.decay, { ...DEFAULT_LIFECYCLE_POLICY.memory.decay, enabled: true });
  // The defaults object itself is never changed by a merge.
  assert.equal(DEFAULT_LIFECYCLE_POLICY.recall.deleteAfterDays, 365);
  assert.equal(DEFAULT_LIFECYCLE_POLICY.memory.decay.enabled, false);
});

test('lifecycle policy - mistakes are refused with what to fix', () => {
  fails('{"decisions": {}}', /unknown key 'decisions' \(known here: decision, trade, recall, checkpoint, memory\)/);
  fails('{"trade": {"coldAfter": 3}}', /unknown key 'trade.coldAfter'/);
  fails('{"trade": {"coldAfterDays": -1}}', /trade.coldAfterDays must be a whole number of days from 0/);
  fails('{"trade": {"coldAfterDays": 1.5}}', /trade.coldAfterDays must be a whole number/);
  fails('{"trade": {"coldAfterDays": "7"}}', /trade.coldAfterDays must be a whole number/);
  fails('{"recall": {"archiveAfterDays": 2}}', /recall.archiveAfterDays \(2\) must be greater than recall.coldAfterDays \(3\)/);
  fails('{"recall": {"deleteAfterDays": 30}}', /recall.deleteAfterDays \(30\) must be greater than recall.archiveAfterDays \(30\)/);
  fails('{"recall": {"archiveAfterDays": null, "deleteAfterDays": 2}}', /recall.deleteAfterDays \(2\) must be greater than recall.coldAfterDays \(3\)/);
  fails('{"checkpoint": {"deleteAfterDays": 10}}', /checkpoint.deleteAfterDays \(10\) must be greater than checkpoint.archiveAfterDays \(30\)/);
  fails('{"checkpoint": {"keepDaily": "yes"}}', /checkpoint.keepDaily must be true or false/);
  fails('{"memory": {"decay": {"halfLifeDays": 0}}}', /memory.decay.halfLifeDays must be a whole number of days from 1/);
  fails('{"memory": {"decay": {"halfLifeDays": null}}}', /memory.decay.halfLifeDays/);
  fails('{"memory": {"decay": {"minFactor": 2}}}', /memory.decay.minFactor must be a number from 0 to 1/);
  fails('{"memory": {"hotIdleMinutes": 10}}', /memory.hotIdleMinutes \(10\) must be at least memory.promoteWindowMinutes \(60\)/);
  fails('{"memory": 3}', /memory must be a JSON object/);
  fails('[1]', /the policy must be a JSON object/);
  fails('{nope', /not valid JSON/);
  // Every message carries an example of a valid document.
  fails('{"x": 1}', /Example: \{"recall"/);
  // A null age is "never", and ordering only concerns the ages that are set.
  assert.equal(parseLifecyclePolicy('{"recall": {"archiveAfterDays": null}}').recall.archiveAfterDays, null);
});

test('lifecycle policy - from a file, and never from both places', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fb-lifecycle-'));
  const file = join(dir, 'policy.json');
  writeFileSync(file, '{"trade": {"archiveAfterDays": 365}}');
  assert.equal(loadLifecyclePolicy({ FB_LIFECYCLE_POLICY_FILE: file }).trade.archiveAfterDays, 365);
  writeFileSync(file, '{"trade": {"archiveAfterDays": 1}}');
  assert.throws(() => loadLifecyclePolicy({ FB_LIFECYCLE_POLICY_FILE: file }), new RegExp(`FB_LIFECYCLE_POLICY_FILE=${file}: trade.archiveAfterDays \\(1\\) must be greater`));
  assert.throws(() => loadLifecyclePolicy({ FB_LIFECYCLE_POLICY_FILE: join(dir, 'missing.json') }), /cannot be read/);
  assert.throws(() => loadLifecyclePolicy({ FB_LIFECYCLE_POLICY: '{}', FB_LIFECYCLE_POLICY_FILE: file }), /not both/);
});
