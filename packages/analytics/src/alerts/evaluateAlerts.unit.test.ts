import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FLEET_AGENT_ID, isUuidV7 } from '@farmbrain/contracts';
import { alertIdOf, DEFAULT_ALERT_RULES, emptyAlertBook, evaluateAlerts, parseAlertRules, resolutionIdOf, type AlertBook, type AlertRule, type AlertTransition, type MetricSample } from './index.js';

const rule = (over: Partial<AlertRule> = {}): AlertRule => ({ ...DEFAULT_ALERT_RULES.find((r) => r.name === 'recall_p95')!, threshold: 250, clear: 200, forMs: 30_000, minSamples: 0, ...over });
const fleet = (value: number | null, samples?: number): MetricSample[] => [{ subject: 'fleet', agentId: FLEET_AGENT_ID, value, ...(samples === undefined ? {} : { samples }) }];
const T0 = 1_700_000_000_000;

/** Feeds values one evaluation every 15 s; returns every transition and the last book. */
function run(rules: AlertRule[], values: (number | null | MetricSample[] | undefined)[], book: AlertBook = emptyAlertBook(), start = T0) {
  const all: AlertTransition[] = [];
  values.forEach((v, i) => {
    const samples = new Map<string, MetricSample[]>();
    if (v !== undefined) for (const r of rules) samples.set(r.name, Array.isArray(v) ? v : fleet(v));
    const out = evaluateAlerts(rules, samples, book, start + i * 15_000);
    all.push(...out.transitions);
    book = out.book;
  });
  return { transitions: all, book };
}

test('alert evaluation - fires only once the value stays past the threshold for forMs, then resolves past clear', () => {
  const { transitions, book } = run([rule()], [100, 300, 300, 300, 280, 210, 190, 100]);
  assert.deepEqual(transitions.map((t) => [t.data.state, t.data.value, t.occurredAt - T0]), [['firing', 300, 45_000], ['resolved', 190, 90_000]]);
  const [f, r] = transitions as [AlertTransition, AlertTransition];
  assert.equal(f.data.firedAt, T0 + 45_000);
  assert.equal(r.data.firedAt, f.data.firedAt, 'the resolution carries the firing time');
  assert.equal(r.data.alertId, f.data.alertId);
  assert.equal(f.eventId, f.data.alertId);
  assert.equal(f.agentId, FLEET_AGENT_ID);
  assert.match(f.data.message, /recall p95 latency of fleet is 300 ms, above 250 ms \(rule recall_p95\)/);
  assert.match(r.data.message, /back to 190 ms/);
  assert.equal(book.firing.size, 0);
});

test('alert evaluation - a value dipping back below the threshold starts the wait over', () => {
  const { transitions } = run([rule()], [300, 300, 240, 300, 300, 300]);
  assert.deepEqual(transitions.map((t) => t.occurredAt - T0), [75_000]);
});

test('alert evaluation - a value flapping around the threshold fires once and does not resolve until it is back past clear', () => {
  const flapping = [300, 300, 300, 240, 260, 240, 260, 230, 270, 210, 255];
  const { transitions, book } = run([rule()], flapping);
  assert.deepEqual(transitions.map((t) => t.data.state), ['firing']);
  assert.equal(book.firing.size, 1);
  const end = run([rule()], [199], book, T0 + 200_000);
  assert.deepEqual(end.transitions.map((t) => t.data.state), ['resolved']);
});

test('alert evaluation - alert ids depend on rule, subject and firing time only: two evaluators, or a run again, derive the same events', () => {
  const a = run([rule({ forMs: 0 })], [300, 100]);
  const b = run([rule({ forMs: 0 })], [900, 50]);
  assert.deepEqual(a.transitions.map((t) => t.eventId), b.transitions.map((t) => t.eventId));
  assert.equal(a.transitions[0]!.eventId, alertIdOf('recall_p95', 'fleet', T0));
  assert.equal(a.transitions[1]!.eventId, resolutionIdOf(a.transitions[0]!.eventId, T0));
  for (const t of a.transitions) assert.ok(isUuidV7(t.eventId), t.eventId);
  assert.notEqual(alertIdOf('recall_p95', 'fleet', T0 + 15_000), alertIdOf('recall_p95', 'fleet', T0), 'a later firing is another alert');
  assert.notEqual(alertIdOf('recall_p95', 'other', T0), alertIdOf('recall_p95', 'fleet', T0));
  assert.notEqual(alertIdOf('lag', 'fleet', T0), alertIdOf('recall_p95', 'fleet', T0));
});

test('alert evaluation - a restarted evaluator given the firing alerts does not fire them again', () => {
  const first = run([rule({ forMs: 0 })], [300]);
  const restarted: AlertBook = { firing: first.book.firing, pending: new Map() };
  assert.deepEqual(run([rule({ forMs: 0 })], [300, 400, 280], restarted, T0 + 60_000).transitions, []);
});

test('alert evaluation - too few samples, no value, or a metric not measured leave the alert as it is', () => {
  const r = rule({ forMs: 0, minSamples: 20 });
  assert.deepEqual(run([r], [fleet(900, 5), fleet(null, 100)]).transitions, []);
  const fired = run([r], [fleet(900, 20)]);
  assert.equal(fired.transitions.length, 1);
  assert.deepEqual(run([r], [fleet(10, 3), undefined, fleet(null)], fired.book, T0 + 15_000).transitions, []);
});

test('alert evaluation - per subject: each subject fires on its own; a subject that is no longer measured resolves', () => {
  const r: AlertRule = { ...parseAlertRules('{"consumer_lag": {"threshold": 100, "clear": 10, "forMs": 0}}').find((x) => x.name === 'consumer_lag')! };
  const s = (tiering: number, analytics: number): MetricSample[] => [
    { subject: 'tiering_v1', agentId: FLEET_AGENT_ID, value: tiering }, { subject: 'analytics_v1', agentId: FLEET_AGENT_ID, value: analytics },
  ];
  const { transitions, book } = run([r], [s(500, 5), s(500, 700), [{ subject: 'analytics_v1', agentId: FLEET_AGENT_ID, value: 700 }]]);
  assert.deepEqual(transitions.map((t) => [t.data.subject, t.data.state]), [['tiering_v1', 'firing'], ['analytics_v1', 'firing'], ['tiering_v1', 'resolved']]);
  assert.match(transitions[2]!.data.message, /no longer measured/);
  assert.deepEqual([...book.firing.values()].map((a) => a.subject), ['analytics_v1']);
});

test('alert evaluation - a rule limited to one subject ignores the others; per-agent alerts are published under the agent', () => {
  const r = rule({ name: 'drop', metric: 'win_rate_drop', threshold: 0.2, clear: 0.1, forMs: 0, subject: 'a1' });
  const { transitions } = run([r], [[{ subject: 'a1', agentId: 'a1', value: 0.5, samples: 30 }, { subject: 'a2', agentId: 'a2', value: 0.9, samples: 30 }]]);
  assert.deepEqual(transitions.map((t) => [t.agentId, t.data.subject, t.data.metric]), [['a1', 'a1', 'win_rate_drop']]);
});

test('alert evaluation - a below rule fires under the threshold and resolves above clear', () => {
  const r = rule({ direction: 'below', threshold: 10, clear: 20, forMs: 0 });
  assert.deepEqual(run([r], [15, 5, 15, 25]).transitions.map((t) => [t.data.state, t.data.value]), [['firing', 5], ['resolved', 25]]);
});

test('alert evaluation - an alert whose rule is removed or disabled resolves', () => {
  const { book } = run([rule({ forMs: 0 })], [300]);
  const gone = evaluateAlerts([], new Map(), book, T0 + 15_000);
  assert.deepEqual(gone.transitions.map((t) => [t.data.state, t.data.rule]), [['resolved', 'recall_p95']]);
  assert.match(gone.transitions[0]!.data.message, /removed or disabled/);
  assert.equal(evaluateAlerts([rule({ enabled: false })], new Map([['recall_p95', fleet(900)]]), book, T0 + 15_000).transitions[0]!.data.state, 'resolved');
});

test('alert evaluation - the same inputs give the same transitions (pure)', () => {
  const samples = new Map([['recall_p95', fleet(300)]]);
  const a = evaluateAlerts([rule({ forMs: 0 })], samples, emptyAlertBook(), T0);
  const b = evaluateAlerts([rule({ forMs: 0 })], samples, emptyAlertBook(), T0);
  assert.deepEqual(a, b);
});
