import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { consumerGroup, decodeBatch, FLEET_AGENT_ID, type FarmEvent } from '@farmbrain/contracts';
import { randomUUID } from 'node:crypto';
import {
  ANALYTICS_MIGRATIONS_DIR,
  ANALYTICS_PROJECTION,
  analyticsSchema,
  emptyAlertBook,
  evaluateAlerts,
  loadAlertConfig,
  readAlerts,
  verifyWebhook,
  type AlertConfig,
  type MetricSample,
} from '@farmbrain/analytics';
import { createLogger, createPool, migrate, type Pool } from '@farmbrain/platform';
import { newProjectionStats, openLeaseBucket, PartitionRunner, projectionSession } from '@farmbrain/projection';
import { MIGRATIONS_DIR } from '@farmbrain/store';
import { makeEvent, publishEvents, readStream, TestStack, waitFor } from '@farmbrain/testing';
import { analyticsProjection } from '../analyticsProjection.js';
import { applyAlertEvents, type AlertWebhookBody } from './applyAlertEvents.js';
import { collectSamples, newCollectMemo } from './collectSamples.js';
import { publishAlerts } from './publishAlerts.js';
import { startAlerts, type RunningAlerts } from './startAlerts.js';
import { startWebhookDeliverer } from './webhookDeliverer.js';

/**
 * Alerts through the whole pipeline: the evaluator publishes alert_changed to
 * ingress, ingest puts it on the canonical log, the analytics projection
 * (in process, on the real kit) projects it into the alerts table and the
 * outbox, and the deliverer POSTs it to a real local HTTP receiver that refuses
 * the first two tries.
 */

const SECRET = 'whsec-test-0123456789';
const log = createLogger('alerts-test', 'silent');
let stack: TestStack;
let pool: Pool;
let runner: PartitionRunner;
let receiver: Server;
let url = '';
const received: { headers: IncomingHttpHeaders; body: string; status: number }[] = [];
let refuseFirst = 2;
const running: RunningAlerts[] = [];

before(async () => {
  stack = await new TestStack({ partitions: 2 }).connect();
  await stack.start('ingest');
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => {
      const status = refuseFirst-- > 0 ? 503 : 200;
      received.push({ headers: req.headers, body, status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const addr = receiver.address();
  url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/hooks/farmbrain`;

  const schema = analyticsSchema(stack.names);
  pool = createPool(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test', schema, { max: 6 });
  await migrate(pool, schema, MIGRATIONS_DIR);
  await migrate(pool, schema, ANALYTICS_MIGRATIONS_DIR);
  const leases = await openLeaseBucket(stack.nc, stack.names.leaseBucket, 6000);
  const webhook = config().webhook!;
  const projection = analyticsProjection({ applyAlerts: (tx, events, partition) => applyAlertEvents(tx, events, { partition, webhook }) });
  const group = consumerGroup(ANALYTICS_PROJECTION);
  const n = stack.names;
  runner = new PartitionRunner({
    nc: stack.nc, js: stack.js, jsm: stack.jsm, kv: leases.kv, leaseTtlMs: leases.ttlMs, group, stream: n.eventsStream,
    filterSubject: (p) => n.eventsFilter(p), durable: (p) => n.durable(group, p), partitions: n.partitions, instanceId: 'alerts-test', batchSize: 100, log,
    open: (p, epoch) => projectionSession(projection, { pool, log, stats: newProjectionStats() }, p, epoch),
  });
  await runner.start();
  await waitFor('the analytics partitions to be taken over', () => runner.owned().length === n.partitions);
});

after(async () => {
  for (const r of running) await r.stop();
  await runner?.stop();
  await pool?.end();
  receiver?.closeAllConnections();
  receiver?.close();
  await stack?.destroy();
});

function config(env: Record<string, string> = {}): AlertConfig {
  return loadAlertConfig({
    FB_ALERT_WEBHOOK_URL: url, FB_ALERT_WEBHOOK_SECRET: SECRET, FB_ALERT_WEBHOOK_BACKOFF_MS: '20', FB_ALERT_WEBHOOK_BACKOFF_MAX_MS: '100',
    FB_ALERT_WEBHOOK_TIMEOUT_MS: '2000', FB_ALERT_INTERVAL_MS: '60000', ...env,
  });
}

function start(cfg: AlertConfig, o: { collect?: (now: number) => Promise<Map<string, MetricSample[]>>; deliver?: boolean; catchUpWaitMs?: number } = {}): RunningAlerts {
  const r = startAlerts({
    config: o.deliver === false ? { ...cfg, webhook: undefined } : cfg, pool, schema: analyticsSchema(stack.names), js: stack.js, jsm: stack.jsm, names: stack.names,
    owned: () => runner.owned(), valid: (p) => runner.leases.valid(p), leading: () => runner.leases.valid(0), log, pollMs: 20,
    catchUp: { waitMs: o.catchUpWaitMs ?? 20_000 }, ...(o.collect ? { collect: o.collect } : {}),
  });
  running.push(r);
  return r;
}

const minute = (t: number): number => t - (t % 60_000);

async function alertEventsOnLog(): Promise<FarmEvent[]> {
  const out: FarmEvent[] = [];
  for (const m of await readStream(stack.js, stack.jsm, stack.names.eventsStream)) for (const { event } of decodeBatch(m.data)) if (event?.type === 'alert_changed') out.push(event);
  return out;
}

test('alerts - a firing and its resolution reach the webhook once each, signed, after retries that are recorded', async () => {
  const rules = '{"lag_test": {"metric": "consumer_lag", "subject": "tiering_v1", "threshold": 100, "clear": 10, "forMs": 0}}';
  const cfg = config({ FB_ALERT_RULES: rules });
  let lag = 5;
  const collect = async () => new Map([['lag_test', [{ subject: 'tiering_v1', agentId: FLEET_AGENT_ID, value: lag }]]]);
  const a = start(cfg, { collect });
  // A second evaluator (a takeover overlapping the previous owner) seeing the same value in the same interval: no delivery.
  const b = start(cfg, { collect, deliver: false });
  // Whole minutes (the interval), a little in the past: the evaluator's times are the interval's starts.
  const now = minute(Date.now() - 10 * 60_000);
  // Both lead already (their takeover waits are behind them), nothing firing yet.
  assert.deepEqual((await a.evaluator!.runOnce(now - 60_000)).transitions, []);
  assert.deepEqual((await b.evaluator!.runOnce(now - 60_000)).transitions, []);
  lag = 500;
  const first = await a.evaluator!.runOnce(now);
  assert.deepEqual(first.transitions.map((t) => t.data.state), ['firing']);
  const again = await b.evaluator!.runOnce(now + 1000);
  assert.deepEqual(again.transitions.map((t) => t.eventId), first.transitions.map((t) => t.eventId), 'the same alert id');
  assert.equal(again.duplicates, 1, 'JetStream kept the first copy');

  const alertId = first.transitions[0]!.data.alertId;
  await waitFor('the firing to be delivered', async () => (await readAlerts(pool, { state: 'firing', limit: 10 }))[0]?.delivery?.status === 'delivered');
  const [firing] = await readAlerts(pool, { state: 'firing', limit: 10 });
  assert.deepEqual({ ...firing, streamSeq: undefined }, {
    alertId, rule: 'lag_test', metric: 'consumer_lag', state: 'firing', severity: 'warning', subject: 'tiering_v1', agentId: FLEET_AGENT_ID, value: 500, threshold: 100,
    message: first.transitions[0]!.data.message, firedAt: now, resolvedAt: null, delivery: { status: 'delivered', attempts: 3 }, streamSeq: undefined,
  });
  assert.ok(firing!.streamSeq > 0);
  const tries = (await pool.query<{ attempts: number; response_status: number; last_error: string | null }>('SELECT attempts, response_status, last_error FROM alert_deliveries WHERE alert_id = $1', [alertId])).rows;
  assert.deepEqual(tries, [{ attempts: 3, response_status: 200, last_error: null }]);

  lag = 50; // between clear and threshold: still firing (hysteresis)
  assert.deepEqual((await a.evaluator!.runOnce(now + 60_000)).transitions, []);
  lag = 5;
  const resolved = await a.evaluator!.runOnce(now + 120_000);
  assert.deepEqual(resolved.transitions.map((t) => [t.data.state, t.data.alertId]), [['resolved', alertId]]);
  assert.equal((await b.evaluator!.runOnce(now + 121_000)).duplicates, 1);
  await waitFor('the resolution to be delivered', async () => {
    const [x] = await readAlerts(pool, { state: 'all', limit: 10 });
    return x?.state === 'resolved' && x.delivery?.status === 'delivered';
  });
  await a.stop();
  await b.stop();
  assert.deepEqual(await readAlerts(pool, { state: 'firing', limit: 10 }), []);

  // What the receiver saw: two refused tries, then the firing once and the resolution once, each signed over its bytes.
  assert.deepEqual(received.map((r) => r.status), [503, 503, 200, 200]);
  const bodies = received.map((r) => JSON.parse(r.body) as AlertWebhookBody);
  assert.deepEqual(bodies.map((b) => b.alert.state), ['firing', 'firing', 'firing', 'resolved']);
  assert.equal(new Set(received.slice(0, 3).map((r) => r.body)).size, 1, 'every try sends the same body');
  for (const r of received) {
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers['fb-alert-id'], alertId);
    assert.deepEqual(verifyWebhook(SECRET, r.body, r.headers['fb-signature'] as string).ok, true);
    assert.equal(verifyWebhook('wrong', r.body, r.headers['fb-signature'] as string).ok, false);
  }
  assert.deepEqual(received.map((r) => r.headers['fb-delivery-id']), [...Array(3).fill(first.transitions[0]!.eventId), resolved.transitions[0]!.eventId]);
  assert.equal(bodies[3]!.alert.resolvedAt, now + 120_000);

  // On the log: one firing and one resolution, published under the fleet's agent id.
  const onLog = (await alertEventsOnLog()).filter((e) => e.type === 'alert_changed' && e.data.alertId === alertId);
  assert.deepEqual(onLog.map((e) => [e.agentId, e.type === 'alert_changed' ? e.data.state : '']), [[FLEET_AGENT_ID, 'firing'], [FLEET_AGENT_ID, 'resolved']]);

  // Applying the events again (a replay) changes nothing.
  const before = await readAlerts(pool, { state: 'all', limit: 10 });
  const c = await pool.connect();
  try {
    await applyAlertEvents(c, onLog.map((e, i) => ({ ...e, streamSeq: 1000 + i })), { partition: 0, webhook: { maxAgeMs: 1e12 } });
  } finally {
    c.release();
  }
  assert.deepEqual(await readAlerts(pool, { state: 'all', limit: 10 }), before);
  assert.equal((await pool.query('SELECT 1 FROM alert_deliveries')).rowCount, 2);
});

test('alerts - a webhook that never answers right ends failed after its attempts, with the last error', async () => {
  refuseFirst = 1000;
  received.length = 0;
  const cfg = config({ FB_ALERT_RULES: '{"lag_fail": {"metric": "consumer_lag", "subject": "archive_v1", "threshold": 1, "forMs": 0}}', FB_ALERT_WEBHOOK_MAX_ATTEMPTS: '3' });
  const a = start(cfg, { collect: async () => new Map([['lag_fail', [{ subject: 'archive_v1', agentId: FLEET_AGENT_ID, value: 9 }]]]) });
  const [t] = (await a.evaluator!.runOnce(minute(Date.now() - 5 * 60_000))).transitions;
  await waitFor('the delivery to fail', async () => (await pool.query<{ status: string }>('SELECT status FROM alert_deliveries WHERE delivery_id = $1', [t!.eventId])).rows[0]?.status === 'failed');
  const row = (await pool.query('SELECT attempts, response_status, last_error FROM alert_deliveries WHERE delivery_id = $1', [t!.eventId])).rows[0];
  assert.deepEqual(row, { attempts: 3, response_status: 503, last_error: 'HTTP 503 Service Unavailable' });
  assert.equal(received.length, 3);
  await a.stop();
  refuseFirst = 0;
});

test('alerts - end to end: recalls slower than the rule fire recall_p95 from the rollups, and a restarted evaluator does not fire it again', async () => {
  const cfg = config({ FB_ALERT_RULES: '{"recall_p95": {"threshold": 20, "clear": 10, "forMs": 0, "minSamples": 3, "windowMs": 3600000}}' });
  const now = minute(Date.now());
  let seq = 0;
  const recall = (agentId: string, latencyMs: number) => makeEvent(agentId, 'memory_recalled', { queryText: 'q', k: 3, hits: [], latencyMs }, { producerSeq: ++seq, occurredAt: now - 60_000 });
  await publishEvents(stack.js, stack.names, [recall('e2e-a', 80), recall('e2e-a', 90)]);
  await publishEvents(stack.js, stack.names, [recall('e2e-b', 120), recall('e2e-b', 100)]);
  await stack.caughtUp();
  // The real collectors: every enabled rule is measured (the dead-letter rate needs a second look first).
  const samples = await collectSamples({ pool, jsm: stack.jsm, names: stack.names, schemas: async () => [analyticsSchema(stack.names), stack.names.pgSchema], log }, cfg.rules, now, newCollectMemo());
  assert.deepEqual([...samples.keys()].sort(), cfg.rules.filter((r) => r.enabled).map((r) => r.name).sort());
  assert.ok(samples.get('consumer_lag')!.some((s) => s.subject === 'ingest' && s.value === 0), JSON.stringify(samples.get('consumer_lag')));
  assert.deepEqual(samples.get('projection_errors'), [{ subject: ANALYTICS_PROJECTION, agentId: FLEET_AGENT_ID, value: 0 }]);
  const p95 = samples.get('recall_p95')![0]!;
  assert.equal(p95.samples, 4);
  assert.ok(p95.value! > 20 && p95.value! <= 128, String(p95.value));

  const a = start(cfg, { deliver: false });
  const fired = await a.evaluator!.runOnce(now);
  const recallAlerts = fired.transitions.filter((t) => t.data.rule === 'recall_p95');
  assert.deepEqual(recallAlerts.map((t) => [t.data.state, t.data.subject, t.agentId]), [['firing', 'fleet', FLEET_AGENT_ID]]);
  await waitFor('the alert in the alerts table', async () => (await readAlerts(pool, { state: 'firing', limit: 10 })).some((x) => x.alertId === recallAlerts[0]!.data.alertId));
  await a.stop();
  // A new evaluator (a restart) starts from the table: the alert is firing already, nothing is published.
  const restarted = start(cfg, { deliver: false });
  const later = await restarted.evaluator!.runOnce(now + 30 * 60_000);
  assert.deepEqual(later.transitions.filter((t) => t.data.rule === 'recall_p95'), []);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Earlier tests' outbox rows nobody delivers (their evaluators ran without a deliverer): out of the way of this one's receiver counts. */
async function clearOutbox(): Promise<void> {
  await pool.query("UPDATE alert_deliveries SET status = 'failed', last_error = 'cleared by the test' WHERE status = 'pending'");
}

/** The alert_changed events of a rule on the canonical log: [state, alertId]. */
async function ruleOnLog(rule: string): Promise<[string, string][]> {
  return (await alertEventsOnLog()).flatMap((e) => (e.type === 'alert_changed' && e.data.rule === rule ? [[e.data.state, e.data.alertId] as [string, string]] : []));
}

async function alertRows(rule: string): Promise<{ alert_id: string; state: string }[]> {
  return (await pool.query<{ alert_id: string; state: string }>('SELECT alert_id, state FROM alerts WHERE rule = $1 ORDER BY fired_at', [rule])).rows;
}

test('alerts - a leader restarted before its firing is projected waits for it: one firing, then its resolution, none orphaned', async () => {
  const cfg = config({ FB_ALERT_RULES: '{"lag_takeover": {"metric": "consumer_lag", "subject": "takeover_v1", "threshold": 100, "clear": 10, "forMs": 0}}' });
  let lag = 5;
  const collect = async () => new Map([['lag_takeover', [{ subject: 'takeover_v1', agentId: FLEET_AGENT_ID, value: lag }]]]);
  const now = minute(Date.now() - 40 * 60_000);
  const first = start(cfg, { collect, deliver: false });
  await stack.caughtUp();
  assert.deepEqual((await first.evaluator!.runOnce(now - 60_000)).transitions, [], 'leading, caught up, nothing past the threshold');

  // Ingest paused: the firing is published (on ingress), not on the log, not in the alerts table.
  stack.signal('ingest', 'SIGSTOP');
  let second: RunningAlerts;
  let fired: string;
  try {
    lag = 500;
    const f = await first.evaluator!.runOnce(now);
    assert.deepEqual(f.transitions.map((t) => t.data.state), ['firing']);
    fired = f.transitions[0]!.data.alertId;
    await first.stop();
    // The restarted leader: the table shows nothing firing yet, so it waits instead of firing again under a new id.
    second = start(cfg, { collect, deliver: false, catchUpWaitMs: 300 });
    const waiting = await second.evaluator!.runOnce(now + 60_000);
    assert.deepEqual({ skipped: waiting.skipped, transitions: waiting.transitions }, { skipped: 'waiting for analytics to apply the log up to the takeover', transitions: [] });
    assert.deepEqual(await alertRows('lag_takeover'), []);
  } finally {
    stack.signal('ingest', 'SIGCONT');
  }
  const run = await waitFor('the takeover wait to end', async () => {
    const r = await second.evaluator!.runOnce(now + 120_000);
    return r.skipped ? undefined : r;
  });
  assert.deepEqual(run.transitions, [], 'the firing of the previous leader is known: not fired again');
  lag = 5;
  const resolved = await second.evaluator!.runOnce(now + 180_000);
  assert.deepEqual(resolved.transitions.map((t) => [t.data.state, t.data.alertId]), [['resolved', fired]]);
  await stack.caughtUp();
  await waitFor('the resolution in the table', async () => (await alertRows('lag_takeover'))[0]?.state === 'resolved');
  assert.deepEqual(await alertRows('lag_takeover'), [{ alert_id: fired, state: 'resolved' }]);
  assert.deepEqual(await ruleOnLog('lag_takeover'), [['firing', fired], ['resolved', fired]]);
  await second.stop();
});

test('alerts - a key firing twice in the table (a duplicate from an earlier takeover): the older is resolved, the newer resolves when it clears', async () => {
  const cfg = config({ FB_ALERT_RULES: '{"lag_dup": {"metric": "consumer_lag", "subject": "dup_v1", "threshold": 100, "clear": 10, "forMs": 0}}' });
  let lag = 500;
  const samples = () => new Map([['lag_dup', [{ subject: 'dup_v1', agentId: FLEET_AGENT_ID, value: lag }]]]);
  const t0 = minute(Date.now() - 50 * 60_000);
  // Two leaders, each not knowing the other's firing.
  const one = evaluateAlerts(cfg.rules, samples(), emptyAlertBook(), t0).transitions;
  const two = evaluateAlerts(cfg.rules, samples(), emptyAlertBook(), t0 + 60_000).transitions;
  await publishAlerts(stack.js, stack.names, [...one, ...two]);
  await waitFor('both firings in the table', async () => (await alertRows('lag_dup')).filter((x) => x.state === 'firing').length === 2);
  const [older, newer] = [one[0]!.data.alertId, two[0]!.data.alertId];

  const a = start(cfg, { collect: async () => samples(), deliver: false });
  const r = await a.evaluator!.runOnce(t0 + 120_000);
  assert.deepEqual(r.transitions.map((t) => [t.data.state, t.data.alertId]), [['resolved', older]]);
  lag = 5;
  const cleared = await a.evaluator!.runOnce(t0 + 180_000);
  assert.deepEqual(cleared.transitions.map((t) => [t.data.state, t.data.alertId]), [['resolved', newer]]);
  await waitFor('nothing of the rule firing', async () => (await alertRows('lag_dup')).every((x) => x.state === 'resolved'));
  assert.deepEqual(await ruleOnLog('lag_dup'), [['firing', older], ['firing', newer], ['resolved', older], ['resolved', newer]]);
  await a.stop();
});

test('alerts - a resolution is not delivered before its firing, however long the firing backs off', async () => {
  await clearOutbox();
  received.length = 0;
  refuseFirst = 1;
  const cfg = config({
    FB_ALERT_RULES: '{"lag_order": {"metric": "consumer_lag", "subject": "order_v1", "threshold": 100, "clear": 10, "forMs": 0}}',
    FB_ALERT_WEBHOOK_BACKOFF_MS: '6000', FB_ALERT_WEBHOOK_BACKOFF_MAX_MS: '6000',
  });
  let lag = 500;
  const a = start(cfg, { collect: async () => new Map([['lag_order', [{ subject: 'order_v1', agentId: FLEET_AGENT_ID, value: lag }]]]) });
  const now = minute(Date.now() - 20 * 60_000);
  const [firing] = (await a.evaluator!.runOnce(now)).transitions;
  const status = async (id: string) => (await pool.query<{ status: string; attempts: number }>('SELECT status, attempts FROM alert_deliveries WHERE delivery_id = $1', [id])).rows[0];
  await waitFor('the firing refused once', async () => (await status(firing!.eventId))?.attempts === 1);
  lag = 5;
  const [resolution] = (await a.evaluator!.runOnce(now + 60_000)).transitions;
  await waitFor('the resolution in the outbox', async () => (await status(resolution!.eventId)) !== undefined);
  await sleep(300); // many passes of the deliverer (every 20 ms): the resolution is due, its firing waits in backoff (3 to 6 s)
  assert.deepEqual(await status(resolution!.eventId), { status: 'pending', attempts: 0 });
  assert.deepEqual(await status(firing!.eventId), { status: 'pending', attempts: 1 });
  assert.equal(received.length, 1);
  await waitFor('both delivered', async () => (await status(resolution!.eventId))?.status === 'delivered');
  assert.deepEqual(received.map((r) => [r.status, r.headers['fb-delivery-id']]), [[503, firing!.eventId], [200, firing!.eventId], [200, resolution!.eventId]]);
  assert.deepEqual(await status(firing!.eventId), { status: 'delivered', attempts: 2 });
  await a.stop();
  refuseFirst = 0;
});

test('alerts - a row is claimed before it is POSTed (two deliverers never send it together) and sent only under a valid lease', async () => {
  await clearOutbox();
  received.length = 0;
  refuseFirst = 0;
  const webhook = config().webhook!;
  const alertId = randomUUID();
  const row = async (deliveryId: string, seq: number) => pool.query(
    `INSERT INTO alert_deliveries (delivery_id, alert_id, state, partition, stream_seq, body) VALUES ($1, $2, 'firing', 0, $3, $4)`,
    [deliveryId, alertId, seq, JSON.stringify({ deliveryId })]);
  const status = async (id: string) => (await pool.query<{ status: string; attempts: number; due: boolean }>(
    'SELECT status, attempts, next_attempt_at <= now() AS due FROM alert_deliveries WHERE delivery_id = $1', [id])).rows[0];
  // B looks while A holds its claim, between the claim and the POST: nothing for B.
  let bPass: { tried: number } | undefined;
  const b = startWebhookDeliverer({ pool, webhook, owned: () => [0], valid: () => true, log, pollMs: 60_000 });
  const a = startWebhookDeliverer({
    pool, webhook, owned: () => [0], valid: () => true, log, pollMs: 60_000,
    beforeSend: async () => {
      bPass ??= await b.deliverDue();
    },
  });
  await a.deliverDue(); // after the first passes of the timers (nothing due yet); the next are a minute away
  await b.deliverDue();
  const one = randomUUID();
  await row(one, 9_000_001);
  assert.deepEqual(await a.deliverDue(), { tried: 1, delivered: 1, failed: 0 });
  assert.deepEqual(bPass, { tried: 0, delivered: 0, failed: 0 });
  assert.deepEqual({ ...await status(one), due: undefined }, { status: 'delivered', attempts: 1, due: undefined });
  assert.deepEqual(received.map((r) => r.headers['fb-delivery-id']), [one], 'POSTed once');
  await a.stop();
  await b.stop();

  // The lease goes between the claim and the POST: nothing is sent, the row is handed back at once, untried.
  let lease = true;
  const c = startWebhookDeliverer({ pool, webhook, owned: () => [0], valid: () => lease, log, pollMs: 60_000, beforeSend: () => { lease = false; } });
  await c.deliverDue();
  const two = randomUUID();
  await row(two, 9_000_002);
  const pass = await c.deliverDue();
  assert.equal(pass.tried, 0);
  assert.deepEqual(await status(two), { status: 'pending', attempts: 0, due: true });
  assert.equal(received.length, 1);
  assert.deepEqual(await c.deliverDue(), { tried: 0, delivered: 0, failed: 0 }, 'no lease: nothing claimed');
  await c.stop();
  const next = startWebhookDeliverer({ pool, webhook, owned: () => [0], valid: () => true, log, pollMs: 60_000 });
  await waitFor('the new owner to deliver it', async () => (await status(two))?.status === 'delivered');
  assert.equal((await status(two))?.attempts, 1);
  await next.stop();
});

test('alerts - a transition applied later than FB_ALERT_WEBHOOK_MAX_AGE_MS is recorded as skipped with its reason, logged, never sent', async () => {
  await clearOutbox();
  received.length = 0;
  const warnings: string[] = [];
  const capture = createLogger('alerts-test', 'silent');
  capture.warn = ((...args: unknown[]) => void warnings.push(String(args[1]))) as unknown as typeof capture.warn;
  const firedAt = minute(Date.now() - 3 * 3600_000);
  const alertId = randomUUID();
  const e = makeEvent(FLEET_AGENT_ID, 'alert_changed', {
    alertId, rule: 'lag_late', metric: 'consumer_lag', state: 'firing', severity: 'warning', subject: 'late_v1', value: 9, threshold: 1, message: 'late', firedAt,
  }, { producerSeq: 1, occurredAt: firedAt, eventId: alertId });
  const c = await pool.connect();
  try {
    const r = await applyAlertEvents(c, [{ ...e, streamSeq: 9_100_000 }], { partition: 0, webhook: { maxAgeMs: 3600_000 }, log: capture });
    assert.deepEqual(r, { skipped: 1 });
  } finally {
    c.release();
  }
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /1 alert webhook\(s\) not sent: applied more than FB_ALERT_WEBHOOK_MAX_AGE_MS/);
  const [view] = (await readAlerts(pool, { state: 'all', limit: 1000 })).filter((x) => x.alertId === alertId);
  assert.equal(view?.delivery?.status, 'skipped');
  assert.equal(view?.delivery?.attempts, 0);
  assert.match(view!.delivery!.reason!, /^not sent: applied 108\d\d s after it happened, beyond FB_ALERT_WEBHOOK_MAX_AGE_MS \(3600000 ms\)/);
  const d = startWebhookDeliverer({ pool, webhook: config().webhook!, owned: () => [0], valid: () => true, log, pollMs: 60_000 });
  assert.equal((await d.deliverDue()).tried, 0);
  await d.stop();
  assert.equal(received.length, 0);
});
