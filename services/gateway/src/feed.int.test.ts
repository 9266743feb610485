import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeBatch } from '@farmbrain/contracts';
import { FarmbrainAgent } from '@farmbrain/sdk';
import { makeEvent, TestStack, waitFor } from '@farmbrain/testing';

/**
 * The live feed (GET /v1/feed, Server-Sent Events) and the dashboard served at `/`, against a real stack.
 */
const dashboard = await mkdtemp(join(tmpdir(), 'fb-dashboard-'));
const INDEX = '<!doctype html><title>farmbrain dashboard (test build)</title><div id="root"></div>';
const MAX_CLIENTS = 8;
/** Canonical messages a resuming client is replayed at most: the stream has fewer before the gap test publishes more. */
const MAX_REPLAY = 100;
const stack = new TestStack({ env: { FB_DASHBOARD_DIR: dashboard, FB_FEED_MAX_CLIENTS: String(MAX_CLIENTS), FB_FEED_MAX_REPLAY: String(MAX_REPLAY) } });
let early: string[] = [];

interface FeedEvent {
  id: string | undefined;
  event: string;
  data: { eventId?: string; agentId?: string; rationale?: string; symbol?: string; streamSeq?: number; reason?: string; requested?: string; resumeAfter?: number; missedMessages?: number } & Record<string, unknown>;
}

/** An SSE client over fetch: collects every event (and the `retry:` it was told), until closed. */
class FeedClient {
  readonly events: FeedEvent[] = [];
  retry: number | undefined;
  status = 0;
  readonly #abort = new AbortController();
  #waiters: (() => void)[] = [];
  #ended = false;
  readonly opened: Promise<void>;

  constructor(query = '', headers: Record<string, string> = {}) {
    this.opened = this.#run(query, headers);
  }

  async #run(query: string, headers: Record<string, string>): Promise<void> {
    const r = await fetch(`${stack.gatewayUrl}/v1/feed${query}`, { headers: { accept: 'text/event-stream', ...headers }, signal: this.#abort.signal });
    this.status = r.status;
    assert.equal(r.status, 200, await (r.status === 200 ? '' : r.text()));
    assert.match(r.headers.get('content-type') ?? '', /^text\/event-stream/);
    const reader = r.body!.getReader();
    const dec = new TextDecoder();
    let buf = '';
    let first = true;
    const pump = async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += dec.decode(value, { stream: true });
          let i: number;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            this.#frame(buf.slice(0, i));
            buf = buf.slice(i + 2);
          }
          this.#wake();
        }
      } catch {
        // aborted
      }
      this.#ended = true;
      this.#wake();
    };
    // Resolve `opened` once the first frame (retry:) arrived: the feed has taken the client on.
    await new Promise<void>((resolve) => {
      this.#waiters.push(() => {
        if (first && (this.retry !== undefined || this.#ended)) {
          first = false;
          resolve();
        }
      });
      void pump();
    });
  }

  #frame(text: string): void {
    let id: string | undefined;
    let event = 'message';
    const data: string[] = [];
    for (const line of text.split('\n')) {
      if (line.startsWith(':')) continue;
      const [k, ...rest] = line.split(':');
      const v = rest.join(':').replace(/^ /, '');
      if (k === 'retry') this.retry = Number(v);
      else if (k === 'id') id = v;
      else if (k === 'event') event = v;
      else if (k === 'data') data.push(v);
    }
    if (data.length > 0) this.events.push({ id, event, data: JSON.parse(data.join('\n')) as FeedEvent['data'] });
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  /** Resolves with the first `metrics` event that satisfies `ok` (the test runner's timeout bounds it). */
  async untilMetrics(ok: (data: FeedEvent['data']) => boolean): Promise<FeedEvent['data']> {
    for (;;) {
      const m = this.events.find((e) => e.event === 'metrics' && ok(e.data));
      if (m) return m.data;
      if (this.#ended) throw new Error('the feed ended before a matching metrics event');
      await new Promise<void>((r) => this.#waiters.push(r));
    }
  }

  decisions(): FeedEvent[] {
    return this.events.filter((e) => e.event === 'decision');
  }

  /** Resolves with the first event that satisfies `ok` (the test runner's timeout bounds it). */
  async until(what: string, ok: (e: FeedEvent) => boolean): Promise<FeedEvent> {
    for (;;) {
      const e = this.events.find(ok);
      if (e) return e;
      if (this.#ended) throw new Error(`the feed ended before ${what}`);
      await new Promise<void>((r) => this.#waiters.push(r));
    }
  }

  /** Resolves once the decision with this event id arrived; the event ids of every decision so far. */
  async untilEventId(eventId: string): Promise<string[]> {
    await this.until(`decision ${eventId}`, (e) => e.event === 'decision' && e.data.eventId === eventId);
    return this.decisions().map((e) => e.data.eventId!);
  }

  /** Resolves once `n` decisions arrived (the test runner's timeout bounds it). */
  async untilDecisions(n: number): Promise<FeedEvent[]> {
    while (this.decisions().length < n) {
      if (this.#ended) throw new Error(`the feed ended after ${this.decisions().length} decisions, ${n} expected`);
      await new Promise<void>((r) => this.#waiters.push(r));
    }
    return this.decisions();
  }

  /** The id EventSource would send on reconnect: the last `id:` received. */
  lastId(): string | undefined {
    return this.events.filter((e) => e.id !== undefined).at(-1)?.id;
  }

  close(): void {
    this.#abort.abort();
  }
}

const decide = (agentId: string, rationales: string[]) =>
  stack.post<{ accepted: { eventId: string }[] }>('/v1/events', {
    events: rationales.map((rationale) => ({ agentId, type: 'decision_made', data: { symbol: 'ETH', action: 'buy', confidence: 0.7, size: 1, rationale } })),
  }).then((r) => {
    assert.equal(r.status, 202);
    return r.body.accepted.map((a) => a.eventId);
  });

before(async () => {
  await mkdir(join(dashboard, 'assets'));
  await writeFile(join(dashboard, 'index.html'), INDEX);
  await writeFile(join(dashboard, 'assets', 'index-Ab12Cd34.js'), 'console.log("dashboard")');
  await stack.connect();
  await stack.start('tiering');
  await stack.start('ingest');
  // Decisions on the log before the gateway starts: older than anything its feed has buffered.
  const agent = new FarmbrainAgent({ agentId: 'feed-early', connection: stack.nc, namespace: stack.namespace, partitions: stack.names.partitions });
  early = [];
  for (const r of ['early-1', 'early-2']) early.push((await agent.recordDecision({ symbol: 'BTC', action: 'hold', confidence: 0.5, rationale: r })).eventId);
  await agent.close();
  await stack.start('analytics');
  await stack.caughtUp();
  await stack.start('gateway');
});
after(async () => {
  await stack.destroy();
  await rm(dashboard, { recursive: true, force: true });
});

test('feed - clients get new decisions live; one that reconnects with Last-Event-ID gets exactly what it missed, in order, once', async () => {
  const a = new FeedClient();
  const b = new FeedClient();
  await Promise.all([a.opened, b.opened]);
  assert.equal(a.retry, 2000);
  const first = await decide('feed-1', ['d1', 'd2', 'd3']);
  const seenA = await a.untilDecisions(3);
  assert.deepEqual(seenA.map((e) => e.data.eventId), first);
  assert.deepEqual(seenA.map((e) => [e.data.agentId, e.data.symbol, e.data.action]), first.map(() => ['feed-1', 'ETH', 'buy']));
  // Ids are the canonical stream sequences, increasing.
  const seqs = seenA.map((e) => e.data.streamSeq!);
  assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y));
  assert.ok(seenA.every((e) => e.id !== undefined && Number(e.id.split(':')[0]) === e.data.streamSeq));

  // a goes away; more decisions come meanwhile (b, still connected, sees them).
  const resumeFrom = a.lastId()!;
  a.close();
  const missed = [...(await decide('feed-1', ['d4', 'd5'])), ...(await decide('feed-2', ['d6', 'd7']))];
  await b.untilDecisions(7);

  // Reconnecting with Last-Event-ID: exactly the missed ones, in order, then live ones.
  const a2 = new FeedClient('', { 'last-event-id': resumeFrom });
  // And one resuming with the query parameter, at the same time.
  const a3 = new FeedClient(`?lastEventId=${encodeURIComponent(resumeFrom)}`);
  await Promise.all([a2.opened, a3.opened]);
  const live = await decide('feed-2', ['d8']);
  for (const c of [a2, a3]) {
    const got = await c.untilDecisions(5);
    assert.deepEqual(got.map((e) => e.data.eventId), [...missed, ...live]);
  }
  // b got everything once, in order.
  assert.deepEqual((await b.untilDecisions(8)).map((e) => e.data.eventId), [...first, ...missed, ...live]);
  for (const c of [b, a2, a3]) {
    const ids = c.decisions().map((e) => e.data.eventId);
    assert.equal(new Set(ids).size, ids.length, 'a decision came twice');
    c.close();
  }
});

test('feed - an id older than what the gateway buffered is replayed from the stream, then live', async () => {
  // Resuming from sequence 0: everything on the log (fewer than FB_FEED_MAX_REPLAY messages), including what was written before the gateway started.
  const c = new FeedClient('?lastEventId=0');
  await c.opened;
  const all = await c.untilDecisions(2);
  assert.deepEqual(all.slice(0, 2).map((e) => e.data.eventId), early);
  // Resuming right after the first early decision: from the second one on.
  const d = new FeedClient('', { 'last-event-id': all[0]!.id! });
  await d.opened;
  const live = await decide('feed-3', ['late']);
  // c (from 0) is the reference, whatever earlier tests published: d gets what c got after the first decision, once each, in order.
  const everything = await c.untilEventId(live[0]!);
  assert.equal(new Set(everything).size, everything.length, 'a decision came twice');
  const ids = await d.untilEventId(live[0]!);
  assert.deepEqual(ids, everything.slice(1));
  assert.equal(ids[0], early[1]);
  assert.ok(!c.events.some((e) => e.event === 'gap'), 'no gap below FB_FEED_MAX_REPLAY');
  c.close();
  d.close();
});

test('feed - a malformed Last-Event-ID is a 400 in the one error shape', async () => {
  const r = await stack.get<{ error: { code: string; message: string } }>('/v1/feed?lastEventId=abc');
  assert.equal(r.status, 400);
  assert.equal(r.body.error.code, 'VALIDATION_FAILED');
  const h = await fetch(`${stack.gatewayUrl}/v1/feed`, { headers: { 'last-event-id': 'x; drop' } });
  assert.equal(h.status, 400);
  assert.equal(((await h.json()) as { error: { code: string } }).error.code, 'VALIDATION_FAILED');
});

test('dashboard - / serves the built index.html, assets are cached for good, unknown pages fall back to the app, the API keeps its JSON 404', async () => {
  const home = await fetch(`${stack.gatewayUrl}/`);
  assert.equal(home.status, 200);
  assert.match(home.headers.get('content-type') ?? '', /text\/html/);
  assert.equal(home.headers.get('cache-control'), 'no-cache');
  assert.equal(await home.text(), INDEX);
  const asset = await fetch(`${stack.gatewayUrl}/assets/index-Ab12Cd34.js`);
  assert.equal(asset.status, 200);
  assert.match(asset.headers.get('cache-control') ?? '', /immutable/);
  assert.equal(await asset.text(), 'console.log("dashboard")');
  const route = await fetch(`${stack.gatewayUrl}/agents/feed-1?tab=agents`);
  assert.equal(route.status, 200);
  assert.equal(await route.text(), INDEX);
  const missingAsset = await fetch(`${stack.gatewayUrl}/assets/gone-123.js`);
  assert.equal(missingAsset.status, 404);
  const nope = await stack.get<{ error: { code: string } }>('/v1/nope');
  assert.equal(nope.status, 404);
  assert.equal(nope.body.error.code, 'NOT_FOUND');
  const traversal = await fetch(`${stack.gatewayUrl}/assets/..%2f..%2fetc%2fpasswd`);
  assert.ok(traversal.status === 404 || (traversal.status === 200 && (await traversal.text()) === INDEX), `traversal answered ${traversal.status}`);
  assert.equal((await stack.get('/healthz')).status, 200);
  assert.equal((await stack.get<{ paths: Record<string, unknown> }>('/docs/json')).status, 200);
});

test('dashboard - without a build, / says to run npm run build (HTML for browsers, the error shape otherwise)', async () => {
  await rm(join(dashboard, 'index.html'));
  try {
    const page = await fetch(`${stack.gatewayUrl}/`, { headers: { accept: 'text/html' } });
    assert.equal(page.status, 503);
    assert.match(await page.text(), /npm run build/);
    const json = await stack.get<{ error: { code: string; message: string } }>('/');
    assert.equal(json.body.error.code, 'DASHBOARD_NOT_BUILT');
    assert.match(json.body.error.message, /npm run build/);
  } finally {
    await writeFile(join(dashboard, 'index.html'), INDEX);
  }
});

test('feed - metrics events carry the overview\'s live figures', async () => {
  await stack.caughtUp();
  const overview = await stack.get<{ throughput: { decisionsPerMinute: number }; indicators: { decisionQuality: { decisions: number } } }>('/v1/analytics/overview?window=1h');
  assert.equal(overview.status, 200, JSON.stringify(overview.body));
  assert.ok(overview.body.throughput.decisionsPerMinute > 0);
  const c = new FeedClient();
  await c.opened;
  type Snapshot = { window: string; throughput: { decisionsPerMinute: number }; indicators: { decisionQuality: { decisions: number } }; lag: { total: number } };
  const m = (await c.untilMetrics((d) => (d as unknown as Snapshot).throughput?.decisionsPerMinute === overview.body.throughput.decisionsPerMinute)) as unknown as Snapshot;
  assert.equal(m.window, '1h');
  assert.equal(m.indicators.decisionQuality.decisions, overview.body.indicators.decisionQuality.decisions);
  assert.equal(typeof m.lag.total, 'number');
  c.close();
});

test('feed - a Last-Event-ID past the end of the stream (a recreated stream, a stale tab) starts from now after a reset event: neither refused nor silent', async () => {
  const head = (await stack.jsm.streams.info(stack.names.eventsStream)).state.last_seq;
  for (const [query, headers] of [['', { 'last-event-id': String(head + 1_000_000) }], [`?lastEventId=${head + 1_000_000}:2`, {}]] as const) {
    const c = new FeedClient(query, headers);
    await c.opened;
    const reset = await c.until('a reset event', (e) => e.event === 'reset');
    assert.equal(reset.data.reason, 'ahead');
    assert.equal(reset.data.requested, query ? `${head + 1_000_000}:2` : String(head + 1_000_000));
    assert.ok(reset.data.resumeAfter! >= head, JSON.stringify(reset));
    assert.equal(reset.id, String(reset.data.resumeAfter), 'the reset carries the id EventSource resumes from');
    const live = await decide('feed-ahead', ['after the reset']);
    assert.deepEqual(await c.untilEventId(live[0]!), live);
    c.close();
  }
});

test('feed - one event in two canonical messages (a republish past the duplicate window) reaches a client once, live and on resume', async () => {
  const live = new FeedClient();
  await live.opened;
  const ev = (producerSeq: number) => makeEvent('feed-dup', 'decision_made', { symbol: 'SOL', action: 'sell', confidence: 0.6, size: 1 }, { producerSeq });
  const publish = (e: ReturnType<typeof ev>) => stack.js.publish(stack.names.eventsSubject('feed-dup'), encodeBatch([e]));
  const [dup, between, last] = [ev(1), ev(2), ev(3)];
  const first = await publish(dup);
  await publish(between);
  const again = await publish(dup);
  assert.ok(again.seq > first.seq && !again.duplicate, 'the republish is a second message');
  await publish(last);
  const want = [dup.eventId, between.eventId, last.eventId];
  const only = (ids: string[]) => ids.filter((id) => want.includes(id));
  assert.deepEqual(only(await live.untilEventId(last.eventId)), want);
  // Resuming from before the first copy, and from between the copies.
  const before = new FeedClient(`?lastEventId=${first.seq - 1}`);
  const mid = new FeedClient('', { 'last-event-id': String(first.seq) });
  await Promise.all([before.opened, mid.opened]);
  assert.deepEqual(only(await before.untilEventId(last.eventId)), want);
  assert.deepEqual(only(await mid.untilEventId(last.eventId)), want.slice(1));
  for (const c of [live, before, mid]) c.close();
});

test('feed - a resume id more than FB_FEED_MAX_REPLAY messages back: a gap event saying how many messages were missed, then the last FB_FEED_MAX_REPLAY', async () => {
  const acks: { seq: number; eventId: string }[] = [];
  for (let i = 0; i < MAX_REPLAY + 10; i++) {
    const e = makeEvent('feed-gap', 'decision_made', { symbol: 'ETH', action: 'hold', confidence: 0.5, size: 0 }, { producerSeq: i + 1 });
    acks.push({ seq: (await stack.js.publish(stack.names.eventsSubject('feed-gap'), encodeBatch([e]))).seq, eventId: e.eventId });
  }
  const c = new FeedClient('?lastEventId=0');
  await c.opened;
  const got = await c.untilEventId(acks.at(-1)!.eventId);
  const gap = c.events.find((e) => e.event === 'gap');
  assert.ok(gap, 'no gap event');
  assert.ok(c.events.indexOf(gap) < c.events.findIndex((e) => e.event === 'decision'), 'the gap comes before the decisions');
  const resumeAfter = gap.data.resumeAfter!;
  assert.deepEqual(gap.data, { requested: '0', resumeAfter, missedMessages: resumeAfter, reason: 'replay-limit' });
  assert.equal(gap.id, String(resumeAfter));
  // The head when it joined is at least the last of these: at most MAX_REPLAY messages were replayed.
  assert.ok(resumeAfter >= acks.at(-1)!.seq - MAX_REPLAY, `resumed after ${resumeAfter}`);
  const mine = got.filter((id) => acks.some((a) => a.eventId === id));
  assert.deepEqual(mine, acks.filter((a) => a.seq > resumeAfter).map((a) => a.eventId));
  assert.ok(mine.length > 0 && mine.length <= MAX_REPLAY);
  c.close();
});

test('feed - exactly FB_FEED_MAX_CLIENTS clients are held; one more is refused with 503 FEED_FULL, and a slot a client leaves is taken again', async () => {
  const held: AbortController[] = [];
  /** undefined: accepted (and held); otherwise the refusal. */
  const open = async (): Promise<{ status: number; code: string } | undefined> => {
    const ac = new AbortController();
    const r = await fetch(`${stack.gatewayUrl}/v1/feed`, { signal: ac.signal });
    if (r.status === 200) {
      held.push(ac);
      return undefined;
    }
    return { status: r.status, code: ((await r.json()) as { error: { code: string } }).error.code };
  };
  try {
    // Clients of earlier tests may still be closing on the server: take every slot as they free up.
    const deadline = Date.now() + 15_000;
    while (held.length < MAX_CLIENTS) {
      const refused = await open();
      if (!refused) continue;
      assert.deepEqual(refused, { status: 503, code: 'FEED_FULL' });
      assert.ok(Date.now() < deadline, `only ${held.length} of ${MAX_CLIENTS} clients were accepted`);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(held.length, MAX_CLIENTS);
    assert.deepEqual(await open(), { status: 503, code: 'FEED_FULL' }, `client ${MAX_CLIENTS + 1} was accepted`);
    // One leaves: its slot is free again, and only that one.
    held.shift()!.abort();
    await waitFor('the freed slot', async () => (await open()) === undefined, 10_000, 100);
    assert.equal(held.length, MAX_CLIENTS);
    assert.deepEqual(await open(), { status: 503, code: 'FEED_FULL' });
  } finally {
    for (const ac of held) ac.abort();
  }
});
