import { DeliverPolicy, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type StreamInfo } from '@nats-io/jetstream';
import { FarmbrainError, type EventLimits, type Names } from '@farmbrain/contracts';
import { isNotFound, type Logger } from '@farmbrain/platform';
import { decodeCanonical, type CanonicalMessage } from '@farmbrain/projection';
import { feedItems, isAfter, positionId, sseFrame, type FeedItem, type FeedPosition } from './feedItems.js';

/** Where a client's frames go: an HTTP response (node's ServerResponse is one). */
export interface FeedSink {
  /** false: the chunk was buffered above the high-water mark (see drained). */
  write(chunk: string): boolean;
  readonly writableLength: number;
  /** Resolves once the buffered bytes were flushed, or the sink closed. */
  drained(): Promise<void>;
  end(): void;
  destroy(): void;
}

export interface FeedHubOptions {
  js: JetStreamClient;
  jsm: () => Promise<JetStreamManager>;
  names: Names;
  /** The contract's limits (events that break them are not sent, as no projection applies them). */
  limits: EventLimits;
  log: Logger;
  /** Items kept for clients that resume (older ids are replayed from the stream). */
  bufferSize: number;
  /**
   * Most canonical messages a resuming client is replayed from the stream (FB_FEED_MAX_REPLAY). An older id
   * starts from the oldest of them, after a `gap` event saying how many messages it missed.
   */
  maxReplay: number;
  /** Event ids remembered to drop repeats (a republish past JetStream's duplicate window); at least bufferSize. Default max(bufferSize, 10000). */
  recentIds?: number;
  /** How often the stream is checked for a reset (recreated, or behind the hub). Default 5000 ms. */
  streamCheckMs?: number;
  /** Most clients at once; one more is refused (503 FEED_FULL). */
  maxClients: number;
  /** A client whose unsent bytes pass this is dropped (it reconnects with Last-Event-ID and misses nothing). */
  maxBufferedBytes: number;
  heartbeatMs: number;
  metricsMs: number;
  /** The `metrics` snapshot (an object); sent, with `generatedAt`, when it changed since the last one (errors skip a round). */
  metrics?: () => Promise<object>;
}

/** The live feed has as many clients as it takes: 503, retry later. */
export class FeedFullError extends FarmbrainError {
  constructor(max: number) {
    super('FEED_FULL', `the live feed has its maximum of ${max} clients (FB_FEED_MAX_CLIENTS); retry later, or close other dashboards`);
    this.name = 'FeedFullError';
  }
}

/** The feed has not read the events stream yet (NATS down, or the gateway just started). */
export class FeedNotReadyError extends FarmbrainError {
  constructor() {
    super('NATS_UNAVAILABLE', 'the live feed is not following the events stream yet (NATS unavailable or starting); retry shortly');
    this.name = 'FeedNotReadyError';
  }
}

interface Client {
  sink: FeedSink;
  /** The last position sent (or known to the client). */
  after: FeedPosition;
  /** Items that came while the client was being caught up from the stream, sent once it is. */
  queue: FeedItem[] | undefined;
  closed: boolean;
}

const END = Number.POSITIVE_INFINITY;
const DEFAULT_RECENT_IDS = 10_000;
const DEFAULT_STREAM_CHECK_MS = 5000;

/** Why a client's position moved: `gap` (some of what it asked for is not replayed) or `reset` (its id means nothing on this stream). */
export type GapReason = 'replay-limit' | 'retention';
export type ResetReason = 'ahead' | 'stream-reset';

/**
 * The gateway's one subscription to the canonical events stream (an ordered
 * consumer), fanned out to every feed client. It keeps the last `bufferSize`
 * items: a client resuming from an id still in it gets the rest from memory; an
 * older one is replayed from the stream (its own ordered consumer, up to where
 * the shared one was when it joined) before it joins the live items, at most
 * `maxReplay` messages back (older: a `gap` event, then from there). Positions
 * only grow, and each client is sent only items after its last one, so a
 * resume yields exactly what was missed, in order. Each event is sent once: the
 * hub remembers the position of the copy it sends of the last `recentIds` event
 * ids, and every other copy (a republish past JetStream's duplicate window) is
 * dropped, live and on replay. A resume id past the stream's last sequence, or a
 * stream that was recreated, moves the client to the head with a `reset` event.
 * Writes never wait: a client that cannot keep up is dropped, never slowing the
 * others.
 */
export class FeedHub {
  readonly #clients = new Set<Client>();
  readonly #buffer: FeedItem[] = [];
  /** The buffer holds every item after this position. */
  #floor: FeedPosition = { seq: 0, idx: END };
  /** The last stream sequence read; undefined until the stream answered. */
  #head: number | undefined;
  /** When the stream the hub follows was created (another value: it was recreated). */
  #created: string | undefined;
  /** Event id → the position of the copy the feed sends; insertion order, at most #recentMax (the oldest go first). */
  readonly #recent = new Map<string, FeedPosition>();
  readonly #recentMax: number;
  #checking = false;
  #iter: ConsumerMessages | undefined;
  #stopped = false;
  #running: Promise<void> | undefined;
  #timers: NodeJS.Timeout[] = [];
  #metricsFrame: string | undefined;
  #metricsKey: string | undefined;
  #metricsBusy = false;

  constructor(private readonly o: FeedHubOptions) {
    this.#recentMax = Math.max(o.bufferSize, o.recentIds ?? DEFAULT_RECENT_IDS);
  }

  get clients(): number {
    return this.#clients.size;
  }

  /** Starts following the stream (retrying while NATS or the stream is away) and the heartbeat and metrics timers. */
  start(): void {
    this.#running ??= this.#run();
    this.#timers.push(setInterval(() => this.#broadcastRaw(': heartbeat\n\n'), this.o.heartbeatMs).unref());
    if (this.o.metrics) this.#timers.push(setInterval(() => void this.#pollMetrics(), this.o.metricsMs).unref());
    this.#timers.push(setInterval(() => void this.#checkStream(), this.o.streamCheckMs ?? DEFAULT_STREAM_CHECK_MS).unref());
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#timers) clearInterval(t);
    await this.#iter?.close().catch(() => undefined);
    for (const c of this.#clients) this.#drop(c, false);
    await this.#running;
  }

  /**
   * Adds a client: first the `retry:` and the last metrics snapshot, then, when it resumes from `after`, every
   * item after it (from the buffer, or replayed from the stream, at most maxReplay messages back: older, a `gap`
   * event first), then live items. An id past the stream's last sequence starts from now after a `reset` event
   * (clamped, not refused: EventSource cannot recover from an error answer, and keeps sending its last id).
   * Throws FeedFullError or FeedNotReadyError before writing anything. Returns the function that removes it (on disconnect).
   */
  subscribe(sink: FeedSink, after: FeedPosition | undefined): () => void {
    if (this.#head === undefined) throw new FeedNotReadyError();
    if (this.#clients.size >= this.o.maxClients) throw new FeedFullError(this.o.maxClients);
    const head = this.#head;
    const from = after ?? { seq: head, idx: END };
    const c: Client = { sink, after: from, queue: undefined, closed: false };
    this.#clients.add(c);
    this.#write(c, `retry: 2000\n\n${this.#metricsFrame ?? ''}`);
    if (from.seq <= head && !isAfter(this.#floor, from)) {
      // Everything after `from` is in the buffer.
      for (const it of this.#buffer) this.#send(c, it);
    } else {
      // Older than the buffer (replayed from the stream), or ahead of what the hub read (checked against the stream).
      c.queue = [];
      void this.#catchUp(c, head, from).catch((err: unknown) => {
        this.o.log.warn({ err: (err as Error)?.message ?? String(err) }, 'feed: catching up a resuming client failed; it is dropped and may retry');
        this.#drop(c, true);
      });
    }
    return () => this.#drop(c, false);
  }

  /**
   * A client resuming from `from`, not served from the buffer: ahead of the hub's `head` (clamped to it with a
   * `reset` event when the stream never had it), or older (replayed from the stream up to `head`, at most
   * maxReplay messages, after a `gap` event when that or the stream's retention leaves some out). Then what came meanwhile.
   */
  async #catchUp(c: Client, head: number, from: FeedPosition): Promise<void> {
    const info = await (await this.o.jsm()).streams.info(this.o.names.eventsStream);
    const last = info.state.last_seq;
    if (c.closed) return;
    if (from.seq > head) {
      if (from.seq > last) {
        // An id this stream never had (it was recreated, or the id is made up): from now on, and the client is told.
        c.after = { seq: head, idx: END };
        this.#write(c, sseFrame('reset', { reason: 'ahead' satisfies ResetReason, requested: positionId(from), resumeAfter: head, lastSeq: last }, String(head)));
      }
      // Otherwise the stream has it and the hub has not read that far yet: the queue goes on from it.
    } else {
      const wanted = from.idx === END ? from.seq + 1 : Math.max(from.seq, 1);
      let start = wanted;
      let reason: GapReason | undefined;
      if (start < info.state.first_seq) {
        start = info.state.first_seq;
        reason = 'retention';
      }
      if (start < head - this.o.maxReplay + 1) {
        start = head - this.o.maxReplay + 1;
        reason = 'replay-limit';
      }
      start = Math.min(start, head + 1);
      if (start > wanted && reason) {
        const resumeAfter = start - 1;
        c.after = { seq: resumeAfter, idx: END };
        this.#write(c, sseFrame('gap', { requested: positionId(from), resumeAfter, missedMessages: start - wanted, reason }, String(resumeAfter)));
      }
      if (start <= head && last >= start && info.state.messages > 0) await this.#replay(c, start, head);
    }
    const queued = c.queue ?? [];
    c.queue = undefined;
    if (c.after.seq < head) c.after = { seq: head, idx: END };
    for (const item of queued) this.#send(c, item);
  }

  /** Sends a client the items after its position in messages `start`..`head`, from the stream (repeats left out). */
  async #replay(c: Client, start: number, head: number): Promise<void> {
    const consumer = await this.o.js.consumers.get(this.o.names.eventsStream, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start });
    const it = await consumer.consume();
    try {
      for await (const m of it) {
        if (c.closed) break;
        if (m.seq > head) break;
        let full = false;
        for (const item of this.#itemsOf(m)) if (!this.#replayedRepeat(item)) full = !this.#send(c, item) || full;
        // This client's own replay waits for its socket (nobody else does): a long replay is not a reason to drop it.
        if (full && !c.closed) await c.sink.drained();
        if (m.seq >= head || m.info.pending === 0) break;
      }
    } finally {
      await it.close().catch(() => undefined);
    }
  }

  /**
   * A replayed item is a repeat when the hub sends another copy of its event (an earlier one, or a later one
   * the live clients got: the client gets that one). An event the hub does not know yet is remembered at
   * this position, so a later copy is a repeat for everyone.
   */
  #replayedRepeat(item: FeedItem): boolean {
    const known = this.#recent.get(item.eventId);
    if (known) return known.seq !== item.seq || known.idx !== item.idx;
    this.#remember(item);
    return false;
  }

  #remember(item: FeedItem): void {
    this.#recent.set(item.eventId, { seq: item.seq, idx: item.idx });
    if (this.#recent.size > this.#recentMax) this.#recent.delete(this.#recent.keys().next().value!);
  }

  async #run(): Promise<void> {
    let failing = false;
    while (!this.#stopped) {
      try {
        const jsm = await this.o.jsm();
        const info = await jsm.streams.info(this.o.names.eventsStream);
        if (this.#head === undefined) {
          this.#head = info.state.last_seq;
          this.#created = info.created;
          this.#floor = { seq: this.#head, idx: END };
        } else if (info.created !== this.#created || info.state.last_seq < this.#head) {
          this.#resetTo(info);
        }
        const consumer = await this.o.js.consumers.get(this.o.names.eventsStream, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.#head + 1 });
        this.#iter = await consumer.consume();
        if (this.#stopped) {
          await this.#iter.close().catch(() => undefined);
          break;
        }
        if (failing) this.o.log.info({ from: this.#head + 1 }, 'feed: following the events stream again');
        failing = false;
        for await (const m of this.#iter) this.#onMessage(m);
        this.#iter = undefined;
      } catch (err) {
        this.#iter = undefined;
        if (this.#stopped) break;
        const msg = isNotFound(err) ? `stream ${this.o.names.eventsStream} not found yet` : ((err as Error)?.message ?? String(err));
        // Once per outage (NATS down is also what /readyz reports), then quietly every second.
        if (failing) this.o.log.debug({ err: msg }, 'feed: following the events stream failed; retrying');
        else this.o.log.warn({ err: msg }, 'feed: following the events stream failed; retrying every second');
        failing = true;
      }
      if (!this.#stopped) await new Promise((r) => setTimeout(r, 1000).unref());
    }
  }

  #itemsOf(m: CanonicalMessage): FeedItem[] {
    const partition = Number(m.subject.split('.').at(-2)) || 0;
    return feedItems(m.seq, decodeCanonical([m], partition, this.o.limits).events);
  }

  /**
   * The stream was recreated (or is behind the hub): the hub starts again from its head with an empty buffer,
   * and every client is moved there with a `reset` event (one being caught up from the old stream is dropped; it reconnects).
   */
  #resetTo(info: StreamInfo): void {
    const head = info.state.last_seq;
    this.o.log.warn({ previousHead: this.#head, head, created: info.created }, 'feed: the events stream was recreated or reset; following it from its head (clients get a reset event)');
    this.#head = head;
    this.#created = info.created;
    this.#buffer.length = 0;
    this.#floor = { seq: head, idx: END };
    this.#recent.clear();
    const frame = sseFrame('reset', { reason: 'stream-reset' satisfies ResetReason, resumeAfter: head, lastSeq: head }, String(head));
    for (const c of [...this.#clients]) {
      if (c.queue) {
        this.#drop(c, true);
        continue;
      }
      c.after = { seq: head, idx: END };
      this.#write(c, frame);
    }
  }

  /** Every streamCheckMs: a recreated stream (or one behind the hub) ends the shared consumer, and #run resets. */
  async #checkStream(): Promise<void> {
    if (this.#checking || this.#head === undefined || !this.#iter) return;
    this.#checking = true;
    // The head before asking: the hub reads on meanwhile, and the stream's last sequence is at least this one unless it was reset.
    const head = this.#head;
    try {
      const info = await (await this.o.jsm()).streams.info(this.o.names.eventsStream);
      if (info.created !== this.#created || info.state.last_seq < head) await this.#iter?.close().catch(() => undefined);
    } catch {
      // NATS away or the stream gone: #run's retries report it.
    } finally {
      this.#checking = false;
    }
  }

  #onMessage(m: CanonicalMessage): void {
    if (this.#head !== undefined && m.seq <= this.#head) return; // a redelivery after a reset
    const items = this.#itemsOf(m);
    this.#head = m.seq;
    for (const item of items) {
      // A repeat of an event already sent (the same event id in a later message: a republish past the duplicate window).
      if (this.#recent.has(item.eventId)) continue;
      this.#remember(item);
      this.#buffer.push(item);
      if (this.#buffer.length > this.o.bufferSize) this.#floor = this.#buffer.shift()!;
      for (const c of this.#clients) {
        if (c.queue) {
          c.queue.push(item);
          if (c.queue.length > this.o.bufferSize) this.#drop(c, true);
        } else this.#send(c, item);
      }
    }
  }

  async #pollMetrics(): Promise<void> {
    if (this.#clients.size === 0 || this.#metricsBusy || !this.o.metrics) return;
    this.#metricsBusy = true;
    try {
      const value = await this.o.metrics();
      const key = JSON.stringify(value);
      if (key !== this.#metricsKey) {
        this.#metricsKey = key;
        this.#metricsFrame = sseFrame('metrics', { generatedAt: Date.now(), ...(value as object) });
        this.#broadcastRaw(this.#metricsFrame);
      }
    } catch (err) {
      this.o.log.debug({ err: (err as Error)?.message ?? String(err) }, 'feed: metrics snapshot failed; skipped');
    } finally {
      this.#metricsBusy = false;
    }
  }

  #broadcastRaw(chunk: string): void {
    for (const c of this.#clients) if (!c.queue) this.#write(c, chunk);
  }

  /** Sends the item if the client has not seen it; false when the client's buffer is above its high-water mark. */
  #send(c: Client, item: FeedItem): boolean {
    if (c.closed || !isAfter(item, c.after)) return true;
    c.after = item;
    return this.#write(c, item.frame);
  }

  /** Never waits: a client with more than maxBufferedBytes unsent is dropped. */
  #write(c: Client, chunk: string): boolean {
    if (c.closed || chunk === '') return true;
    const ok = c.sink.write(chunk);
    if (c.sink.writableLength > this.o.maxBufferedBytes) {
      this.o.log.info({ buffered: c.sink.writableLength }, 'feed: a client is not keeping up; dropped (it resumes with Last-Event-ID)');
      this.#drop(c, true);
      return false;
    }
    return ok;
  }

  #drop(c: Client, hard: boolean): void {
    if (c.closed) return;
    c.closed = true;
    this.#clients.delete(c);
    if (hard) c.sink.destroy();
    else c.sink.end();
  }
}
