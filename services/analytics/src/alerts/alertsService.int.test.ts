import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { decodeBatch, FLEET_AGENT_ID } from '@farmbrain/contracts';
import { analyticsSchema, readAlerts, verifyWebhook } from '@farmbrain/analytics';
import { createPool, type Pool } from '@farmbrain/platform';
import { makeEvent, publishEvents, readStream, TestStack, waitFor } from '@farmbrain/testing';
import type { AlertWebhookBody } from './applyAlertEvents.js';

/**
 * The analytics service as deployed (a process of its own, configured by
 * environment): slow recalls reach the rollups, its evaluator fires
 * recall_p95, the alert goes through the log into the alerts table, and its
 * webhook reaches a local receiver, signed.
 */

const SECRET = 'whsec-e2e-0123456789';
let stack: TestStack;
let pool: Pool;
let receiver: Server;
const received: { headers: IncomingHttpHeaders; body: string }[] = [];

before(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const addr = receiver.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  stack = await new TestStack({
    partitions: 2,
    env: {
      FB_ALERT_INTERVAL_MS: '250',
      FB_ALERT_RULES: JSON.stringify({ recall_p95: { threshold: 20, clear: 10, forMs: 0, minSamples: 3, windowMs: 3_600_000 } }),
      FB_ALERT_WEBHOOK_URL: `http://127.0.0.1:${port}/alerts`,
      FB_ALERT_WEBHOOK_SECRET: SECRET,
    },
  }).connect();
  await stack.start('ingest');
  await stack.start('analytics');
  pool = createPool(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test', analyticsSchema(stack.names), { max: 2 });
});

after(async () => {
  await pool?.end();
  receiver?.closeAllConnections();
  receiver?.close();
  await stack?.destroy();
});

test('alerts service - slow recalls fire recall_p95 through the log into the alerts table, and its webhook arrives signed', async () => {
  let seq = 0;
  const recall = (agentId: string, latencyMs: number) => makeEvent(agentId, 'memory_recalled', { queryText: 'q', k: 3, hits: [], latencyMs }, { producerSeq: ++seq });
  await publishEvents(stack.js, stack.names, [recall('svc-a', 80), recall('svc-a', 95)]);
  await publishEvents(stack.js, stack.names, [recall('svc-b', 110), recall('svc-b', 70)]);

  const alert = await waitFor('recall_p95 firing in the alerts table', async () => (await readAlerts(pool, { state: 'firing', limit: 10 })).find((a) => a.rule === 'recall_p95'));
  assert.equal(alert.metric, 'recall_p95');
  assert.equal(alert.subject, 'fleet');
  assert.equal(alert.agentId, FLEET_AGENT_ID);
  assert.equal(alert.threshold, 20);
  assert.ok(alert.value > 20, String(alert.value));
  assert.match(alert.message, /recall p95 latency of fleet is .* ms, above 20 ms/);

  // It is on the canonical log, once.
  await stack.caughtUp();
  const onLog = (await readStream(stack.js, stack.jsm, stack.names.eventsStream))
    .flatMap((m) => decodeBatch(m.data).map((x) => x.event))
    .filter((e) => e?.type === 'alert_changed' && e.data.alertId === alert.alertId);
  assert.equal(onLog.length, 1);
  assert.equal(alert.streamSeq > 0, true);

  const got = await waitFor('the webhook', () => received.find((r) => (JSON.parse(r.body) as AlertWebhookBody).alert.alertId === alert.alertId));
  assert.equal(verifyWebhook(SECRET, got.body, got.headers['fb-signature'] as string).ok, true);
  assert.equal(got.headers['fb-alert-id'], alert.alertId);
  const body = JSON.parse(got.body) as AlertWebhookBody;
  assert.deepEqual({ state: body.alert.state, rule: body.alert.rule, agentId: body.alert.agentId }, { state: 'firing', rule: 'recall_p95', agentId: FLEET_AGENT_ID });
  await waitFor('the delivery recorded', async () => (await readAlerts(pool, { state: 'firing', limit: 10 })).find((a) => a.alertId === alert.alertId)?.delivery?.status === 'delivered');
});
