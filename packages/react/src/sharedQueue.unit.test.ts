/**
 * Two tabs, one Storage: the write queue in Storage is shared, and no tab loses or blindly
 * overwrites another's writes (two AgentMemoryClients over one shared in-memory Storage).
 */
import { after, afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AgentMemoryClient, type AgentMemoryClientOptions, type LockManagerLike, type OnlineEvents, type StorageEvents } from './AgentMemoryClient.js';
import { SharedStorage, TestLocks, type StorageTab } from './testing/sharedStorage.js';
import { GatewayDouble } from './testing/gatewayDouble.js';

// What a browser gives (window, navigator.locks) fits the options.
type Fits<A, B> = A extends B ? true : never;
const fits: [Fits<LockManager, LockManagerLike>, Fits<Window, StorageEvents>, Fits<Window, OnlineEvents>] = [true, true, true];
void fits;

const QUEUE_KEY = 'farmbrain:v1:queue';
const clients: AgentMemoryClient[] = [];
const gateways: GatewayDouble[] = [];

/** A tab: a client over its view of the shared Storage. No timer fires during a test (an hour away). */
function tab(gw: GatewayDouble, storage: StorageTab, o: AgentMemoryClientOptions = {}): AgentMemoryClient {
  const c = new AgentMemoryClient({
    baseUrl: gw.url, storage, storageEvents: storage, onlineEvents: null, locks: null,
    probeIntervalMs: 3_600_000, backoff: { firstMs: 3_600_000, maxMs: 3_600_000 }, ...o,
  });
  clients.push(c);
  return c;
}

async function gateway(): Promise<GatewayDouble> {
  const gw = new GatewayDouble();
  await gw.start();
  gateways.push(gw);
  return gw;
}

/** Lets the storage events queued so far be delivered. */
const settle = async () => {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
};

afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});
after(async () => {
  for (const g of gateways) await g.stop();
});

for (const mode of [
  { events: 'async', locks: true, what: 'storage events and Web Locks' },
  { events: 'none', locks: false, what: 'no storage events, no Web Locks: the queue is read again at each operation' },
] as const) {
  test(`react client - two tabs queue writes offline, one flushes: every write of both arrives once, in enqueue order (${mode.what})`, async () => {
    const gw = await gateway();
    await gw.stop();
    const shared = new SharedStorage(mode.events);
    const locks = mode.locks ? new TestLocks() : null;
    // Both tabs are open before any write (B's queue in memory is empty when A queues).
    const tabA = shared.tab();
    const tabB = shared.tab();
    const a = tab(gw, tabA, { locks });
    const b = tab(gw, tabB, { locks });
    a.subscribe('x1', () => undefined);
    b.subscribe('x1', () => undefined);

    const w1 = await a.remember('x1', { text: 'A: first' });
    const w2 = await b.remember('x1', { text: 'B: second' });
    const w3 = await a.remember('x2', { text: 'A: third' });
    const w4 = await b.remember('x1', { text: 'B: fourth' });
    const written = [w1, w2, w3, w4];
    assert.deepEqual(written.map((w) => w.queued), [true, true, true, true]);
    await settle();

    const ids = written.map((w) => w.eventId);
    if (mode.events !== 'none') {
      // The storage events alone keep each tab's `pending` right.
      assert.deepEqual(a.getSnapshot('x1').pending.map((p) => p.eventId), [w1.eventId, w2.eventId, w4.eventId]);
      assert.deepEqual(b.getSnapshot('x1').pending.map((p) => p.eventId), [w1.eventId, w2.eventId, w4.eventId]);
    }
    assert.deepEqual(a.pending().map((p) => p.eventId), ids);
    assert.deepEqual(b.pending().map((p) => p.eventId), ids);
    assert.deepEqual((JSON.parse(tabA.getItem(QUEUE_KEY)!) as { eventId: string }[]).map((w) => w.eventId), ids, 'Storage holds the writes of both tabs');

    // The gateway is back; tab B notices first and flushes the shared queue: A's writes too.
    await gw.start();
    assert.equal(await b.probe(), true);
    assert.deepEqual(gw.received.map((e) => e.eventId), ids, 'every write of both tabs, once, in enqueue order');
    assert.deepEqual(gw.received.map((e) => e.data.text), ['A: first', 'B: second', 'A: third', 'B: fourth']);
    assert.deepEqual(b.pending(), []);
    await settle();
    if (mode.events !== 'none') assert.deepEqual(a.getSnapshot('x1').pending, [], "A hears that B's flush emptied the queue");
    assert.deepEqual(a.pending(), []);
    assert.equal(tabA.getItem(QUEUE_KEY), null, 'nothing is left behind');

    // Nothing is sent again, by either tab, or by a reload of A.
    await a.flush();
    await a.probe();
    await b.flush();
    a.close();
    await tab(gw, shared.tab(), { locks }).flush();
    assert.equal(gw.received.length, 4);
    assert.equal(gw.memories.get('x1')!.length, 3);
    assert.equal(gw.memories.get('x2')!.length, 1);
  });
}

test('react client - two tabs flushing at once: with Web Locks each write is sent once; without, at most once per tab and none lost', async () => {
  for (const withLocks of [true, false]) {
    const gw = await gateway();
    await gw.stop();
    const shared = new SharedStorage('sync');
    const locks = withLocks ? new TestLocks() : null;
    const a = tab(gw, shared.tab(), { locks });
    const b = tab(gw, shared.tab(), { locks });
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await (i % 2 ? b : a).remember('y', { text: `w${i}` })).eventId);
    await gw.start();
    await Promise.all([a.flush(), b.flush()]);
    assert.deepEqual([...new Set(gw.received.map((e) => e.eventId))], ids, 'first arrivals in enqueue order');
    if (locks) {
      assert.deepEqual(gw.received.map((e) => e.eventId), ids, 'one tab at a time: each write sent once');
      assert.equal(locks.maxHeld, 1);
    }
    assert.deepEqual(gw.memories.get('y')!.map((m) => m.text).reverse(), ['w0', 'w1', 'w2', 'w3', 'w4', 'w5'], 'one memory per write');
    assert.deepEqual([a.pending(), b.pending()], [[], []]);
    a.close();
    b.close();
  }
});

test("react client - a remember made while another tab's flush holds the lock is settled by that flush: acknowledged, or refused", async () => {
  const gw = await gateway();
  await gw.stop();
  const shared = new SharedStorage('async');
  const locks = new TestLocks();
  const a = tab(gw, shared.tab(), { locks });
  const b = tab(gw, shared.tab(), { locks });
  b.subscribe('u', () => undefined); // B is open (and idle) before A queues
  const first = await a.remember('u', { text: 'queued offline by A' });
  await gw.start();
  const flushing = a.flush(); // A takes the lock and sends the queue
  const [good, bad] = await Promise.allSettled([b.remember('u', { text: 'by B meanwhile' }), b.remember('u', { text: 'INVALID by B meanwhile' })]);
  await flushing;
  assert.equal(good.status, 'fulfilled');
  assert.equal(good.status === 'fulfilled' && good.value.queued, false, "acknowledged (A's pass sent it)");
  assert.equal(bad.status, 'rejected');
  assert.equal(bad.status === 'rejected' && (bad.reason as { code?: string }).code, 'INVALID_EVENT', "B's remember hears the refusal A saw");
  assert.equal(b.getSnapshot('u').error?.code, 'INVALID_EVENT');
  const ids = [first.eventId, good.status === 'fulfilled' ? good.value.eventId : ''];
  assert.deepEqual(gw.received.map((e) => e.eventId!).filter((id) => ids.includes(id)), ids, 'each once, in order');
  assert.equal(gw.received.length, 3);
  assert.deepEqual([a.pending(), b.pending()], [[], []]);
  assert.equal(locks.maxHeld, 1);
});

test("react client - a write another tab saw refused leaves every tab's queue, with its reason", async () => {
  const gw = await gateway();
  await gw.stop();
  const shared = new SharedStorage('sync');
  const a = tab(gw, shared.tab());
  const b = tab(gw, shared.tab());
  const bad = await a.remember('z', { text: 'INVALID offline' });
  const good = await a.remember('z', { text: 'fine' });
  await gw.start();
  await b.flush();
  assert.deepEqual(gw.received.map((e) => e.eventId), [bad.eventId, good.eventId]);
  assert.deepEqual(a.getSnapshot('z').pending, []);
  assert.equal(a.getSnapshot('z').error?.code, 'INVALID_EVENT');
  assert.equal(a.getSnapshot('z').error?.eventId, bad.eventId);
  await a.flush();
  assert.equal(gw.received.length, 2, 'the refused write is not sent again by the tab that queued it');
});

test('react client - a tab puts back its own writes when another writer wiped the queue, but not the ones settled', async () => {
  const gw = await gateway();
  await gw.stop();
  const shared = new SharedStorage('sync');
  const tabA = shared.tab();
  const other = shared.tab();
  const a = tab(gw, tabA);
  a.subscribe('v', () => undefined);
  const w = await a.remember('v', { text: 'mine' });
  // A writer that overwrites blindly (an older version of this client, in another tab).
  other.removeItem(QUEUE_KEY);
  assert.deepEqual((JSON.parse(tabA.getItem(QUEUE_KEY)!) as { eventId: string }[]).map((q) => q.eventId), [w.eventId], 'put back on the storage event');
  assert.deepEqual(a.getSnapshot('v').pending.map((p) => p.eventId), [w.eventId]);
  await gw.start();
  await a.flush();
  // A stale writer puts the acknowledged write back.
  other.setItem(QUEUE_KEY, JSON.stringify([{ eventId: w.eventId, memoryId: w.memoryId, agentId: 'v', kind: 'observation', text: 'mine', queuedAt: 0, attempts: 0 }]));
  assert.deepEqual(a.pending(), [], 'an acknowledged write written back by a stale writer is removed again');
  await a.flush();
  assert.equal(gw.received.length, 1);
});

test('react client - property: any interleaving of two tabs queuing, flushing and the gateway coming and going loses no write and sends none twice from one tab', async () => {
  const op = fc.oneof(
    { arbitrary: fc.record({ t: fc.constant('remember' as const), c: fc.integer({ min: 0, max: 1 }), agent: fc.constantFrom('p1', 'p2'), invalid: fc.integer({ min: 0, max: 9 }).map((n) => n < 2), wait: fc.boolean() }), weight: 5 },
    { arbitrary: fc.record({ t: fc.constant('flush' as const), c: fc.integer({ min: 0, max: 1 }), wait: fc.boolean() }), weight: 2 },
    { arbitrary: fc.record({ t: fc.constant('flushBoth' as const) }), weight: 1 },
    { arbitrary: fc.record({ t: fc.constant('down' as const) }), weight: 1 },
    { arbitrary: fc.record({ t: fc.constant('up' as const) }), weight: 2 },
    { arbitrary: fc.record({ t: fc.constant('reload' as const), c: fc.integer({ min: 0, max: 1 }) }), weight: 1 },
    { arbitrary: fc.record({ t: fc.constant('tick' as const) }), weight: 1 },
  );
  await fc.assert(
    fc.asyncProperty(fc.boolean(), fc.constantFrom('async', 'sync', 'none') as fc.Arbitrary<'async' | 'sync' | 'none'>, fc.array(op, { minLength: 1, maxLength: 25 }), async (withLocks, events, ops) => {
      const gw = new GatewayDouble();
      await gw.start();
      const shared = new SharedStorage(events);
      const locks = withLocks ? new TestLocks() : null;
      let up = false;
      /** [client instance, event id] of every POST /v1/events that the gateway answered. */
      const sends: [number, string][] = [];
      let instances = 0;
      const open = (view: StorageTab): AgentMemoryClient => {
        const inst = instances++;
        return tab(gw, view, {
          locks,
          fetch: async (url, init) => {
            if (!up) throw new TypeError('fetch failed'); // the gateway does not answer (nothing reaches it)
            const res = await fetch(url, init);
            if (init?.method === 'POST' && url.endsWith('/v1/events')) {
              for (const e of (JSON.parse(String(init.body)) as { events: { eventId: string }[] }).events) sends.push([inst, e.eventId]);
            }
            return res;
          },
        });
      };
      const views = [shared.tab(), shared.tab()];
      const tabs = views.map(open);
      const queued: { eventId: string; invalid: boolean }[] = [];
      const inflight: Promise<unknown>[] = [];
      try {
        for (const o of ops) {
          switch (o.t) {
            case 'remember': {
              let text = `w${queued.length}`;
              if (o.invalid) text = `INVALID ${text}`;
              const p = tabs[o.c]!.remember(o.agent, { text });
              // The write is queued (its event id fixed) before remember's first await: read it back from Storage.
              const q = JSON.parse(views[o.c]!.getItem(QUEUE_KEY) ?? '[]') as { eventId: string; text: string }[];
              const mine = q.find((w) => w.text === text);
              assert.ok(mine, `${text} is in Storage as soon as it is queued`);
              queued.push({ eventId: mine.eventId, invalid: o.invalid });
              const settled = p.catch(() => undefined);
              if (o.wait) await settled;
              else inflight.push(settled);
              break;
            }
            case 'flush': {
              const p = tabs[o.c]!.flush();
              if (o.wait) await p;
              else inflight.push(p);
              break;
            }
            case 'flushBoth':
              await Promise.all(tabs.map((t) => t.flush()));
              break;
            case 'down':
              up = false;
              break;
            case 'up':
              up = true;
              break;
            case 'reload':
              tabs[o.c]!.close();
              tabs[o.c] = open(views[o.c]!);
              break;
            case 'tick':
              await settle();
              break;
          }
        }
        // The gateway is back for good: both tabs flush until the queue is empty.
        up = true;
        await Promise.all(inflight);
        for (let i = 0; i < 3; i++) await Promise.all(tabs.map((t) => t.flush()));
        await settle();

        const ids = queued.map((q) => q.eventId);
        const arrived = gw.received.map((e) => e.eventId!);
        assert.deepEqual([...new Set(arrived)], ids, 'every write arrives, first arrivals in enqueue order');
        if (withLocks) assert.deepEqual(arrived, ids, 'with Web Locks, each write is sent once in all');
        const perInstance = new Set<string>();
        for (const [inst, id] of sends) {
          assert.ok(!perInstance.has(`${inst}/${id}`), `tab instance ${inst} sent ${id} twice`);
          perInstance.add(`${inst}/${id}`);
        }
        const stored = [...gw.memories.values()].flat().map((m) => m.text);
        assert.equal(stored.length, queued.filter((q) => !q.invalid).length, 'one memory per valid write');
        assert.deepEqual(tabs.map((t) => t.pending()), [[], []], 'nothing left in either tab');
        assert.equal(views[0]!.getItem(QUEUE_KEY), null, 'nothing left in Storage');
        if (events !== 'none') for (const t of tabs) for (const a of ['p1', 'p2']) assert.deepEqual(t.getSnapshot(a).pending, []);
      } finally {
        for (const t of tabs) t.close();
        await gw.stop();
      }
    }),
    { numRuns: 60 },
  );
});
