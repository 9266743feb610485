import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeBatch } from '@farmbrain/contracts';
import { createLogger, loadEventLimits, provisionStreams } from '@farmbrain/platform';
import { makeEvent, TestStack, waitFor } from '@farmbrain/testing';
import { FeedFullError, FeedHub, type FeedHubOptions, type FeedSink } from './feedHub.js';
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
  /** The frames of one event type: [id, data]. */
  frames(event: string): [string | undefined, Record<string, unknown>][] {
    return this.received.filter((c) => new RegExp(`^event: ${event}$`, 'm').test(c))
      .map((c) => [/^id: (.*)$/m.exec(c)?.[1], JSON.parse(/^data: (.*)$/m.exec(c)![1]!) as Record<string, unknown>]);
  }
  eventIds(): string[] {
    return this.decisions().map(([, e]) => e);
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

const hubOf = (o: Partial<FeedHubOptions> = {}) => new FeedHub({
  js: stack.js, jsm: async () => stack.jsm, names: stack.names, limits: loadEventLimits({}), log: createLogger('feed-test', (process.env.FEED_TEST_LOG ?? 'silent') as 'silent'),
  bufferSize: 5, maxReplay: 1000, maxClients: 4, maxBufferedBytes: 2000, heartbeatMs: 3_600_000, metricsMs: 3_600_000, ...o,
});

const lastSeq = async () => (await stack.jsm.streams.info(stack.names.eventsStream)).state.last_seq;

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
      alertId: '018bcfe5-6800-7000-8000-0000000000a1', rule: 'win-rate', metric: 'win_rate_drop', state: 'firing', severity: 'warning', subject: 'hub-2', value: 0.2, threshold: 0.4,
      message: 'win rate dropped', firedAt: 1_700_000_000_000,
    }, { producerSeq: 2 });
    const ack = await stack.js.publish(stack.names.eventsSubject('hub-2'), encodeBatch([d, al]));
    await waitFor('both items', () => a.received.filter((c) => c.startsWith('id: ')).length === 2);
    const frames = a.received.filter((c) => c.startsWith('id: '));
    assert.match(frames[0]!, new RegExp(`^id: ${ack.seq}:0\nevent: decision\n`));
    assert.match(frames[1]!, new RegExp(`^id: ${ack.seq}\nevent: alert\n`));
    const alert = JSON.parse(/^data: (.*)$/m.exec(frames[1]!)![1]!) as Record<string, unknown>;
    assert.deepEqual([alert.alertId, alert.state, alert.metric, alert.agentId, alert.streamSeq], ['018bcfe5-6800-7000-8000-0000000000a1', 'firing', 'win_rate_drop', 'hub-2', ack.seq]);
    const b = new Sink();
    await join(hub, b, `${ack.seq}:0`);
    assert.deepEqual(b.received.filter((c) => c.startsWith('id: ')).map((c) => /^event: (.*)$/m.exec(c)![1]), ['alert']);
  } finally {
    await hub.stop();
  }
});

test('feed hub - one event in two canonical messages (a republish past the duplicate window) is sent once: live, from the buffer, between the copies, and replayed', async () => {
  const hub = hubOf({ maxClients: 10 });
  hub.start();
  try {
    const live = new Sink();
    await join(hub, live);
    const before = await decide(1);
    await waitFor('the first decision', () => live.decisions().length === 1);
    const anchor = live.lastId();
    const e = makeEvent('hub-3', 'decision_made', { symbol: 'SOL', action: 'buy', confidence: 0.7, size: 3 }, { producerSeq: 1 });
    const first = await stack.js.publish(stack.names.eventsSubject('hub-3'), encodeBatch([e]));
    const between = await decide(1);
    const second = await stack.js.publish(stack.names.eventsSubject('hub-3'), encodeBatch([e]));
    assert.ok(second.seq > first.seq && !second.duplicate, 'the republish is a second message');
    const after = await decide(1);
    await waitFor('the live client to get the last one', () => live.eventIds().includes(after[0]!));
    assert.deepEqual(live.eventIds(), [...before, e.eventId, ...between, ...after]);

    // From the buffer: resuming before both copies, and between them.
    const buffered = new Sink();
    await join(hub, buffered, anchor);
    assert.deepEqual(buffered.eventIds(), [e.eventId, ...between, ...after]);
    const mid = new Sink();
    await join(hub, mid, String(first.seq));
    assert.deepEqual(mid.eventIds(), [...between, ...after]);

    // Replayed from the stream (older than the buffer), by this hub and by a new one that never saw either copy live.
    const more = await decide(6);
    await waitFor('the live client to get them', () => live.decisions().length === 10);
    const hub2 = hubOf({ maxClients: 10 });
    hub2.start();
    try {
      for (const h of [hub, hub2]) {
        for (const from of [anchor, String(first.seq)]) {
          const replayed = new Sink();
          await join(h, replayed, from);
          const want = [...(from === anchor ? [e.eventId] : []), ...between, ...after, ...more];
          await waitFor('the replay', () => replayed.decisions().length >= want.length);
          await new Promise((r) => setTimeout(r, 100));
          assert.deepEqual(replayed.eventIds(), want, `resuming from ${from} (${h === hub ? 'the hub that saw both copies' : 'a new hub'})`);
        }
      }
    } finally {
      await hub2.stop();
    }
  } finally {
    await hub.stop();
  }
});

test('feed hub - a resume id past the stream\'s last sequence starts from now after a reset event (not silent until the stream gets there)', async () => {
  const hub = hubOf();
  hub.start();
  try {
    const probe = new Sink();
    await join(hub, probe);
    for (const ahead of [(h: number) => String(h + 1000), (h: number) => `${h + 1}:0`]) {
      const head = await lastSeq();
      const s = new Sink();
      await join(hub, s, ahead(head));
      await waitFor('the reset event', () => s.frames('reset').length === 1);
      const [[id, data]] = s.frames('reset') as [[string, Record<string, unknown>]];
      assert.equal(id, String(head));
      assert.deepEqual(data, { reason: 'ahead', requested: ahead(head), resumeAfter: head, lastSeq: head });
      const live = await decide(2);
      await waitFor('the live decisions', () => s.decisions().length === 2);
      assert.deepEqual(s.eventIds(), live);
    }
  } finally {
    await hub.stop();
  }
});

test('feed hub - an id more than maxReplay messages back: a gap event (how many missed, from where), then the last maxReplay messages; resuming from the gap\'s id repeats nothing', async () => {
  const hub = hubOf({ maxReplay: 3 });
  hub.start();
  try {
    const a = new Sink();
    await join(hub, a);
    const sent = await decide(10);
    await waitFor('the decisions', () => a.decisions().length === 10);
    const head = await lastSeq();
    const from = a.decisions()[0]![0];
    const b = new Sink();
    await join(hub, b, from);
    await waitFor('the replay', () => b.decisions().length === 3);
    const [[id, gap]] = b.frames('gap') as [[string, Record<string, unknown>]];
    assert.deepEqual(gap, { requested: from, resumeAfter: head - 3, missedMessages: head - 3 - Number(from), reason: 'replay-limit' });
    assert.equal(gap.missedMessages, 6);
    assert.equal(id, String(head - 3));
    assert.ok(b.received.findIndex((c) => c.includes('event: gap')) < b.received.findIndex((c) => c.includes('event: decision')), 'the gap comes first');
    assert.deepEqual(b.eventIds(), sent.slice(7));
    const live = await decide(1);
    await waitFor('the live one', () => b.decisions().length === 4);
    assert.deepEqual(b.eventIds(), [...sent.slice(7), ...live]);
    // Reconnecting with the last id it got (the gap's, had nothing come after): no gap again.
    const c = new Sink();
    await join(hub, c, id);
    await waitFor('the rest', () => c.decisions().length === 4);
    assert.deepEqual(c.eventIds(), [...sent.slice(7), ...live]);
    assert.equal(c.frames('gap').length, 0);
  } finally {
    await hub.stop();
  }
});

// Last: it deletes and recreates the events stream.
test('feed hub - a recreated events stream resets the hub: clients get a reset event and the new stream\'s items, not silence until it passes the old head', async () => {
  const hub = hubOf({ streamCheckMs: 100 });
  hub.start();
  try {
    const a = new Sink();
    await join(hub, a);
    await decide(2);
    await waitFor('the decisions', () => a.decisions().length === 2);
    const oldHead = await lastSeq();
    assert.ok(oldHead > 5);
    await stack.jsm.streams.delete(stack.names.eventsStream);
    await provisionStreams(stack.jsm, stack.names);
    await waitFor('the reset event', () => a.frames('reset').length === 1, 15_000);
    assert.deepEqual(a.frames('reset'), [['0', { reason: 'stream-reset', resumeAfter: 0, lastSeq: 0 }]]);
    const fresh = await decide(2);
    await waitFor('the new stream\'s decisions', () => a.decisions().length === 4, 15_000);
    assert.deepEqual(a.eventIds().slice(2), fresh);
    assert.deepEqual(a.decisions().slice(2).map(([id]) => id), ['1', '2']);
    // A client resuming with an id of the old stream: past the new one's end, so it starts from now.
    const b = new Sink();
    await join(hub, b, String(oldHead));
    await waitFor('its reset event', () => b.frames('reset').length === 1);
    assert.equal(b.frames('reset')[0]![1].reason, 'ahead');
  } finally {
    await hub.stop();
  }
});
