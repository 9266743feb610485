import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeBatch } from '@farmbrain/contracts';
import { createLogger, loadEventLimits } from '@farmbrain/platform';
import { makeEvent, TestStack, waitFor } from '@farmbrain/testing';
import { FeedFullError, FeedHub, type FeedSink } from './feedHub.js';
import { parseEventId } from './feedItems.js';

/**
 * The feed hub against a real events stream, with sinks that stand for clients (one of them slow): a client
 * that cannot keep up is dropped without holding up the others, and resumes from its last id without loss
 * or duplicate, from the buffer or from the stream.
 */
const stack = new TestStack();
let seq = 0;

/** A client: keeps what it was sent; after `capacity` writes it stops reading (its unsent bytes grow). */
class Sink implements FeedSink {
  readonly received: string[] = [];
  writableLength = 0;
  ended = false;
  destroyed = false;
  constructor(private readonly capacity = Number.POSITIVE_INFINITY) {}
  write(chunk: string): boolean {
    if (this.received.length >= this.capacity) {
      this.writableLength += chunk.length;
      return false;
    }
    this.received.push(chunk);
    return true;
  }
  drained(): Promise<void> {
    return Promise.resolve();
  }
  end(): void {
    this.ended = true;
  }
  destroy(): void {
    this.destroyed = true;
  }
  /** The decisions it got: [id, eventId]. */
  decisions(): [string, string][] {
    return this.received.filter((c) => c.includes('event: decision')).map((c) => [/^id: (.*)$/m.exec(c)![1]!, (JSON.parse(/^data: (.*)$/m.exec(c)![1]!) as { eventId: string }).eventId]);
  }
  lastId(): string {
    return this.decisions().at(-1)![0];
  }
}

/** Publishes `n` canonical messages of one decision each (as ingest would), in order; their event ids. */
async function decide(n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const e = makeEvent('hub-1', 'decision_made', { symbol: 'ETH', action: 'buy', confidence: 0.5, size: 1 }, { producerSeq: ++seq });
    await stack.js.publish(stack.names.eventsSubject('hub-1'), encodeBatch([e]));
    ids.push(e.eventId);
  }
  return ids;
}

const hubOf = () => new FeedHub({
  js: stack.js, jsm: async () => stack.jsm, names: stack.names, limits: loadEventLimits({}), log: createLogger('feed-test', 'silent'),
  bufferSize: 5, maxClients: 4, maxBufferedBytes: 2000, heartbeatMs: 3_600_000, metricsMs: 3_600_000,
});

/** Subscribes once the hub follows the stream. */
const join = (hub: FeedHub, sink: Sink, after?: string) =>
  waitFor('the hub to follow the stream', () => {
    try {
      hub.subscribe(sink, after === undefined ? undefined : parseEventId(after));
      return true;
    } catch (err) {
      if ((err as { code?: string }).code === 'NATS_UNAVAILABLE') return false;
      throw err;
    }
  });

before(async () => {
  await stack.connect();
});
after(() => stack.destroy());

test('feed hub - a client that stops reading is dropped and the others get every item; it resumes from its last id from the stream, missing nothing', async () => {
  const hub = hubOf();
  hub.start();
  try {
    const fast = new Sink();
    const slow = new Sink(4); // retry: + 3 decisions, then nothing
    await join(hub, fast);
    await join(hub, slow);
    const sent = await decide(20);
    await waitFor('the fast client to get every decision', () => fast.decisions().length === 20);
    assert.deepEqual(fast.decisions().map(([, e]) => e), sent);
    assert.equal(slow.destroyed, true, 'the slow client was not dropped');
    assert.equal(hub.clients, 1);
    assert.deepEqual(slow.decisions().map(([, e]) => e), sent.slice(0, 3));
    // It reconnects with its last id: older than the buffer (5 items), so replayed from the stream, then live.
    const back = new Sink();
    await join(hub, back, slow.lastId());
    const more = await decide(2);
    await waitFor('the resumed client to catch up', () => back.decisions().length === 19);
    assert.deepEqual(back.decisions().map(([, e]) => e), [...sent.slice(3), ...more]);
    await waitFor('the fast client to get the live ones', () => fast.decisions().length === 22);
  } finally {
    await hub.stop();
  }
});

test('feed hub - a resume id still in the buffer is served from it; the client cap refuses one more', async () => {
  const hub = hubOf();
  hub.start();
  try {
    const a = new Sink();
    await join(hub, a);
    const sent = await decide(4);
    await waitFor('a to get them', () => a.decisions().length === 4);
    const b = new Sink();
    await join(hub, b, a.decisions()[1]![0]);
    // Synchronously, from the buffer: the two after the id.
    assert.deepEqual(b.decisions().map(([, e]) => e), sent.slice(2));
    const c = new Sink();
    const d = new Sink();
    await join(hub, c);
    await join(hub, d);
    assert.throws(() => hub.subscribe(new Sink(), undefined), FeedFullError);
    await hub.stop();
    assert.ok([a, b, c, d].every((s) => s.ended), 'stop ends every client');
  } finally {
    await hub.stop();
  }
});

test('feed hub - a message carrying a decision and an alert gives two items, <seq>:0 and <seq>; resuming from <seq>:0 gives the alert alone', async () => {
  const hub = hubOf();
  hub.start();
  try {
    const a = new Sink();
    await join(hub, a);
    const d = makeEvent('hub-2', 'decision_made', { symbol: 'BTC', action: 'sell', confidence: 0.9, size: 2 }, { producerSeq: 1 });
    const al = makeEvent('hub-2', 'alert_changed', {
      alertId: 'al-1', rule: 'win-rate', metric: 'win_rate_drop', state: 'firing', severity: 'warning', subject: 'hub-2', value: 0.2, threshold: 0.4,
      message: 'win rate dropped', firedAt: 1_700_000_000_000,
    }, { producerSeq: 2 });
    const ack = await stack.js.publish(stack.names.eventsSubject('hub-2'), encodeBatch([d, al]));
    await waitFor('both items', () => a.received.filter((c) => c.startsWith('id: ')).length === 2);
    const frames = a.received.filter((c) => c.startsWith('id: '));
    assert.match(frames[0]!, new RegExp(`^id: ${ack.seq}:0\nevent: decision\n`));
    assert.match(frames[1]!, new RegExp(`^id: ${ack.seq}\nevent: alert\n`));
    const alert = JSON.parse(/^data: (.*)$/m.exec(frames[1]!)![1]!) as Record<string, unknown>;
    assert.deepEqual([alert.alertId, alert.state, alert.metric, alert.agentId, alert.streamSeq], ['al-1', 'firing', 'win_rate_drop', 'hub-2', ack.seq]);
    const b = new Sink();
    await join(hub, b, `${ack.seq}:0`);
    assert.deepEqual(b.received.filter((c) => c.startsWith('id: ')).map((c) => /^event: (.*)$/m.exec(c)![1]), ['alert']);
  } finally {
    await hub.stop();
  }
});
