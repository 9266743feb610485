import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alertKey, resolutionIdOf, type ActiveAlert } from '@farmbrain/analytics';
import { FLEET_AGENT_ID } from '@farmbrain/contracts';
import { reconcileFiring } from './alertEvaluator.js';

const alert = (alertId: string, firedAt: number, subject = 'tiering_v1'): ActiveAlert => ({
  alertId, rule: 'lag', metric: 'consumer_lag', subject, agentId: FLEET_AGENT_ID, severity: 'warning', threshold: 100, value: 500, firedAt,
});

test('alert takeover - a key firing twice keeps the newest and resolves the others; the book\'s own firings and resolutions count', () => {
  const k = alertKey('lag', 'tiering_v1');
  const k2 = alertKey('lag', 'ingest');
  const old = alert('018bcfe5-6800-7000-8000-000000000001', 1_000);
  const dup = alert('018bcfe5-6800-7000-8000-000000000002', 2_000);
  const mine = alert('018bcfe5-6800-7000-8000-000000000003', 3_000);
  const other = alert('018bcfe5-6800-7000-8000-000000000004', 1_500, 'ingest');

  // From the table alone (a takeover): two rows of one key, the older resolved.
  const a = reconcileFiring(new Map([[k, [old, dup]], [k2, [other]]]), undefined, new Set(), 60_000);
  assert.deepEqual([...a.book.firing].map(([key, x]) => [key, x.alertId]), [[k, dup.alertId], [k2, other.alertId]]);
  assert.deepEqual(a.transitions.map((t) => [t.eventId, t.data.state, t.data.alertId, t.occurredAt, t.data.firedAt]), [[resolutionIdOf(old.alertId, old.firedAt), 'resolved', old.alertId, 60_000, old.firedAt]]);
  assert.match(a.transitions[0]!.data.message, new RegExp(`superseded by alert ${dup.alertId}`));

  // Again once analytics caught up, with what this evaluator fired meanwhile (newest) and resolved (still firing in the table).
  const b = reconcileFiring(new Map([[k, [old, dup]], [k2, [other]]]), { firing: new Map([[k, mine]]), pending: new Map([[k2, 5]]) }, new Set([other.alertId, old.alertId]), 120_000);
  assert.deepEqual([...b.book.firing].map(([key, x]) => [key, x.alertId]), [[k, mine.alertId]]);
  assert.deepEqual(b.transitions.map((t) => t.data.alertId), [dup.alertId], 'the one already resolved here is not resolved again');
  assert.deepEqual([...b.book.pending], [[k2, 5]]);

  // One row per key: nothing to resolve.
  assert.deepEqual(reconcileFiring(new Map([[k, [old]]]), undefined, new Set(), 0).transitions, []);
});
