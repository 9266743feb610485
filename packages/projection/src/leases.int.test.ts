import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import type { KV } from '@nats-io/kv';
import { COMMON_DEFAULTS, connectNats, createLogger } from '@farmbrain/platform';
import { uniqueNamespace, waitFor } from '@farmbrain/testing';
import { LEASE_KEYS } from '@farmbrain/contracts';
import { openLeaseBucket, PartitionLeases, type LeaseRecord } from './leases.js';

// Leases of one consumer group on the real NATS KV, several instances in this process.
const TTL = 1500;
const PARTITIONS = 6;
const bucket = `${uniqueNamespace('lease')}_leases`;
let nc: NatsConnection;
let jsm: JetStreamManager;
let kv: KV;
const log = createLogger('leases-test', 'silent');

before(async () => {
  nc = await connectNats(process.env.NATS_URL ?? COMMON_DEFAULTS.natsUrl, 'leases-test');
  jsm = await jetstreamManager(nc);
  kv = (await openLeaseBucket(nc, bucket, TTL)).kv;
});
after(async () => {
  await jsm.streams.delete(`KV_${bucket}`).catch(() => undefined);
  await nc.close();
});

/** An instance that records what it was told to run, and when. */
function instance(group: string, id: string) {
  const running = new Map<number, number>();
  const events: string[] = [];
  const leases = new PartitionLeases({
    kv, ttlMs: TTL, group, instanceId: id, partitions: PARTITIONS, log,
    handlers: {
      acquired: async (p, epoch) => {
        running.set(p, epoch);
        events.push(`+${p}@${epoch}`);
      },
      stop: async (p, why) => {
        running.delete(p);
        events.push(`-${p}:${why}`);
      },
    },
  });
  return { id, leases, running, events };
}

/** No partition runs on two instances at once, and together they run all of them. */
function assertExclusive(insts: ReturnType<typeof instance>[], all = true): void {
  const seen = new Map<number, string>();
  for (const i of insts) for (const p of i.running.keys()) {
    assert.ok(!seen.has(p), `partition ${p} runs on ${seen.get(p)} and ${i.id}`);
    seen.set(p, i.id);
  }
  if (all) assert.equal(seen.size, PARTITIONS, `every partition runs somewhere: ${[...seen.keys()]}`);
}

test('leases - instances share the partitions fairly, rebalance when one joins or leaves, and never run a partition twice', async () => {
  const g = 'g1';
  const a = instance(g, 'a');
  await a.leases.start();
  assert.equal(a.running.size, PARTITIONS, 'alone, an instance takes every partition');
  const b = instance(g, 'b');
  const c = instance(g, 'c');
  await Promise.all([b.leases.start(), c.leases.start()]);
  const sample = setInterval(() => assertExclusive([a, b, c], false), 5);
  try {
    await waitFor('three fair shares', () => [a, b, c].every((i) => i.running.size === 2), 15_000);
    assertExclusive([a, b, c]);
    // Epochs grow with each new owner: every partition that moved has a higher epoch than its first.
    const first = new Map(a.events.filter((e) => e.startsWith('+')).map((e) => [Number(e.slice(1).split('@')[0]), Number(e.split('@')[1])]));
    for (const i of [b, c]) for (const [p, epoch] of i.running) assert.ok(epoch > first.get(p)!, `partition ${p}: epoch ${epoch} after ${first.get(p)}`);
    // a moved partitions only after draining them ('released'), never 'lost'.
    assert.ok(a.events.some((e) => e.endsWith(':released')) && !a.events.some((e) => e.endsWith(':lost')), a.events.join(' '));

    const t0 = Date.now();
    await c.leases.stop(); // SIGTERM: drains and hands its leases back
    await waitFor('two instances take everything', () => a.running.size + b.running.size === PARTITIONS, 15_000);
    const handedBack = Date.now() - t0;
    assertExclusive([a, b]);
    assert.ok(handedBack < TTL, `a released partition is taken at the next round, not after the TTL (${handedBack} ms)`);
  } finally {
    clearInterval(sample);
    await Promise.all([a.leases.stop(), b.leases.stop(), c.leases.stop()]);
  }
});

test('leases - a dead instance\'s partitions are taken over after its lease expires; one paused past its lease stops before applying anything', async () => {
  const g = 'g2';
  const a = instance(g, 'a');
  const b = instance(g, 'b');
  await a.leases.start();
  await b.leases.start();
  await waitFor('fair shares', () => a.running.size === 3 && b.running.size === 3, 15_000);
  const aHad = [...a.running.keys()];
  const epochs = new Map(a.running);
  // Pause a's whole process for longer than the TTL, the way SIGSTOP would: none of its code runs, and
  // the server expires its leases meanwhile.
  const pausedAt = Date.now();
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, TTL + 300);
  assert.ok(Date.now() - pausedAt >= TTL);
  for (const p of aHad) assert.equal(a.leases.valid(p), false, `after the pause, a no longer trusts its lease of ${p}`);
  try {
    await waitFor('a to see its leases lost', () => a.events.filter((e) => e.endsWith(':lost')).length === 3, 15_000);
    // Shared again (a rejoins at once: it is alive), each moved partition under a higher epoch than before the pause.
    await waitFor('shared again', () => a.running.size + b.running.size === PARTITIONS && a.running.size > 0, 15_000);
    assertExclusive([a, b]);
    for (const p of aHad) {
      const owner = a.running.has(p) ? a : b;
      const rec = (await kv.get(LEASE_KEYS.lease(g, p)))!.json<LeaseRecord>();
      assert.equal(rec.owner, owner.id);
      assert.ok(owner.running.get(p)! > epochs.get(p)!, `partition ${p} runs under a new, higher epoch (${owner.running.get(p)} > ${epochs.get(p)})`);
    }
  } finally {
    await Promise.all([a.leases.stop(), b.leases.stop()]);
  }

  // A dead instance (no stop, no more rounds): its partitions move once its keys expire.
  const d = instance(g, 'd');
  const e = instance(g, 'e');
  await d.leases.start();
  await e.leases.start();
  await waitFor('fair shares', () => d.running.size === 3 && e.running.size === 3, 15_000);
  const t0 = Date.now();
  killRounds(d.leases);
  try {
    await waitFor('e takes d\'s partitions', () => e.running.size === PARTITIONS, 15_000);
    const took = Date.now() - t0;
    assert.ok(took >= TTL * 0.5 && took < TTL * 2 + 1000, `taken over after the TTL and within TTL + a round (${took} ms, TTL ${TTL})`);
  } finally {
    await e.leases.stop();
  }
});

/** Stops an instance's rounds without releasing anything, as a crash does (its timer calls `tick`, shadowed here). */
function killRounds(l: PartitionLeases): void {
  Object.defineProperty(l, 'tick', { value: () => Promise.resolve() });
}
