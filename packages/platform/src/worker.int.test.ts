import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats } from './nats.js';
import { createLogger } from './logger.js';
import { provisionDurable } from './nats.js';
import { DeliveryTracker, PartitionWorker } from './worker.js';

const url = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const id = randomBytes(4).toString('hex');
const stream = `WT_${id.toUpperCase()}`;
const subject = `wt${id}.p.a`;
const durable = 'worker_p0';
let nc: NatsConnection;
let jsm: JetStreamManager;

before(async () => {
  nc = await connectNats(url, 'worker-test');
  jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: stream, subjects: [`wt${id}.>`] });
});
after(async () => {
  await jsm.streams.delete(stream).catch(() => undefined);
  await nc.close();
});

test('worker - a delivery tracker sees a hole in the delivery sequence, and nothing else', () => {
  const t = new DeliveryTracker();
  assert.deepEqual([57, 58, 59].map((d) => t.next(d)), [true, true, true], 'the first one seen starts the count');
  assert.equal(t.next(62), false, 'deliveries 60 and 61 never arrived');
  assert.equal(t.next(63), true);
  t.restart();
  assert.equal(t.next(1), true, 'a recreated consumer counts from 1');
});

test('worker - deliveries that never reach the worker are not acked over: it starts over after what it applied, and applies every message in order', async () => {
  const js = jetstream(nc);
  const N = 1500;
  for (let i = 0; i < N; i++) await js.publish(subject, new TextEncoder().encode(String(i)));
  const spec = { stream, durable, filterSubject: `wt${id}.p.*` };
  await provisionDurable(jsm, spec);
  const applied: number[] = [];
  let stolen = 0;
  const worker = new PartitionWorker({
    js, stream, durable, batchSize: 10, log: createLogger('worker-test', 'silent'),
    reset: (afterSeq) => provisionDurable(jsm, spec, afterSeq),
    handle: async (msgs) => {
      // In order, no hole: each batch starts at most right after what was applied before (a replay may start earlier).
      const top = applied.length ? Math.max(...applied) : 0;
      assert.ok(msgs[0]!.seq <= top + 1, `batch from ${msgs[0]!.seq} would skip ${top + 1}..${msgs[0]!.seq - 1}`);
      applied.push(...msgs.map((m) => m.seq));
      await new Promise((r) => setTimeout(r, 5));
    },
  });
  await worker.start();
  // The fault: while the worker pulls, another client takes deliveries of the same durable and never acks
  // them. To the worker they are lost on the way: a hole in its delivery sequence.
  while (applied.length < 50) await new Promise((r) => setTimeout(r, 5));
  const thief = await js.consumers.get(stream, durable);
  for (let i = 0; i < 3; i++) {
    // Once the worker saw the hole it recreates the durable: the thief's next pull then finds it deleted.
    const m = await thief.next({ expires: 1000 }).catch(() => null);
    if (!m) break;
    stolen++;
  }
  const deadline = Date.now() + 30_000;
  while (new Set(applied).size < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await worker.stop();
  assert.ok(stolen > 0, 'the fault hit: deliveries were taken from under the worker');
  assert.equal(new Set(applied).size, N, `every message applied (missing: ${[...Array(N).keys()].map((i) => i + 1).filter((s) => !applied.includes(s)).slice(0, 10).join(', ')})`);
  assert.ok(worker.resets >= 1, 'the worker saw the hole and started over');
});
