import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { consumerGroup, decodeBatch, FLEET_AGENT_ID, type FarmEvent } from '@farmbrain/contracts';
import {
  ANALYTICS_MIGRATIONS_DIR,
  ANALYTICS_PROJECTION,
  analyticsSchema,
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
import { startAlerts, type RunningAlerts } from './startAlerts.js';

/**
 * Alerts through the whole pipeline: the evaluator publishes alert_changed to
 * ingress, ingest puts it on the canonical log, the analytics projection
 * (in process, on the real kit) projects it into the alerts table and the
 * outbox, and the deliverer POSTs it to a real local HTTP receiver that refuses
 * the first two tries.
 */

const SECRET = 'whsec-test';
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

function start(cfg: AlertConfig, o: { collect?: (now: number) => Promise<Map<string, MetricSample[]>>; deliver?: boolean } = {}): RunningAlerts {
  const r = startAlerts({
    config: o.deliver === false ? { ...cfg, webhook: undefined } : cfg, pool, schema: analyticsSchema(stack.names), js: stack.js, jsm: stack.jsm, names: stack.names,
    owned: () => runner.owned(), leading: () => runner.leases.valid(0), log, pollMs: 20, ...(o.collect ? { collect: o.collect } : {}),
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
  let lag = 500;
  const collect = async () => new Map([['lag_test', [{ subject: 'tiering_v1', agentId: FLEET_AGENT_ID, value: lag }]]]);
  const a = start(cfg, { collect });
  // A second evaluator (a takeover overlapping the previous owner) seeing the same value in the same interval: no delivery.
  const b = start(cfg, { collect, deliver: false });
  // Whole minutes (the interval), a little in the past: the evaluator's times are the interval's starts.
  const now = minute(Date.now() - 10 * 60_000);
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
