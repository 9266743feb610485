import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import {
  defaultEventLimits,
  encodeEvent,
  FarmbrainError,
  batchMsgId,
  frameBatch,
  HybridSequence,
  InvalidEventError,
  names as makeNames,
  newEventId,
  SCHEMA_VERSION,
  validateEvent,
  withDefaults,
  type AgentStateChanged,
  type CheckpointSaved,
  type EventLimits,
  type EventPayloads,
  type EventType,
  type FarmEvent,
  type Names,
  type PayloadInput,
} from '@farmbrain/contracts';
import { ClosedError, FlushTimeoutError, OutboxFullError } from './errors.js';

export interface AgentClientOptions {
  /** [A-Za-z0-9_-]{1,64}. */
  agentId: string;
  /** NATS server(s). Default nats://127.0.0.1:4222. */
  servers?: string | string[];
  /** An existing connection to share between agents of one process; it is not closed by close(). */
  connection?: NatsConnection;
  /** Must match the deployment (FB_NAMESPACE / FB_PARTITIONS). Defaults: 'fb', 8. */
  namespace?: string;
  partitions?: number;
  /** In-memory outbox bounds. When either is reached, record calls fail with OUTBOX_FULL. */
  outbox?: { maxEvents?: number; maxBytes?: number };
  /** Several events travel in one message: up to maxEvents / maxBytes, waiting at most lingerMs for more. */
  batch?: { maxEvents?: number; maxBytes?: number; lingerMs?: number };
  /** How long one publish waits for JetStream's ack before it is retried. */
  publishTimeoutMs?: number;
  /** Client-side validation limits (ingest enforces the deployment's own). */
  limits?: Partial<EventLimits>;
  /** Clock, epoch ms (tests). */
  now?: () => number;
}

/** What a record call resolves with once the event is durable in JetStream. */
export interface Receipt {
  eventId: string;
  producerSeq: number;
  /** Sequence of the carrying message in the ingress stream. */
  streamSeq: number;
  /** True when JetStream had already stored this message (a retry). */
  duplicate: boolean;
}

export interface RecordOptions {
  /** Use this id instead of a fresh UUIDv7 (idempotent retries across processes). */
  eventId?: string;
  correlationId?: string;
  causationId?: string;
  occurredAt?: number;
}

interface Pending {
  event: FarmEvent;
  bytes: Uint8Array;
  resolve: (r: Receipt) => void;
  reject: (e: Error) => void;
}

/** A decision; cite `memoryIds` and `recallIds` to link it to what the agent recalled (decision provenance). */
export type DecisionInput = PayloadInput<'decision_made'>;
export type TradeInput = PayloadInput<'trade_executed'>;
export type ClosePositionInput = PayloadInput<'position_closed'>;
/** A memory; `memoryId` is generated when absent. */
export type MemoryInput = Omit<PayloadInput<'memory_stored'>, 'memoryId'> & { memoryId?: string };
export type MemoryUpdateInput = PayloadInput<'memory_updated'>;

const DEFAULTS = {
  servers: 'nats://127.0.0.1:4222',
  namespace: 'fb',
  partitions: 8,
  outboxMaxEvents: 100_000,
  outboxMaxBytes: 64 * 1024 * 1024,
  batchMaxEvents: 256,
  batchMaxBytes: 512 * 1024,
  lingerMs: 1,
  publishTimeoutMs: 5000,
};

/**
 * One trading agent's connection to farmbrain. Every record call validates the
 * event, puts it in a bounded in-memory outbox and resolves once JetStream has
 * stored it. While NATS is unreachable the outbox holds events and sends them,
 * in order, when it is back.
 */
export class FarmbrainAgent {
  readonly agentId: string;
  readonly #names: Names;
  readonly #subject: string;
  readonly #seq = new HybridSequence();
  readonly #limits: EventLimits;
  readonly #now: () => number;
  readonly #o: Required<Pick<AgentClientOptions, 'publishTimeoutMs'>> & {
    outboxMaxEvents: number; outboxMaxBytes: number; batchMaxEvents: number; batchMaxBytes: number; lingerMs: number;
  };
  readonly #ownsConnection: boolean;
  #nc: NatsConnection | undefined;
  #js: JetStreamClient | undefined;
  #connecting: Promise<void> | undefined;
  #queue: Pending[] = [];
  #queuedBytes = 0;
  #inflight: { items: Pending[]; body: Uint8Array; msgId: string } | undefined;
  #wake: (() => void) | undefined;
  #closed = false;
  #loop: Promise<void>;
  #lastError: Error | undefined;
  #connectError: Error | undefined;

  constructor(opts: AgentClientOptions) {
    this.agentId = opts.agentId;
    this.#names = makeNames(opts.namespace ?? DEFAULTS.namespace, opts.partitions ?? DEFAULTS.partitions);
    this.#subject = this.#names.ingressSubject(opts.agentId);
    this.#limits = { ...defaultEventLimits(), ...opts.limits };
    this.#now = opts.now ?? Date.now;
    this.#o = {
      outboxMaxEvents: opts.outbox?.maxEvents ?? DEFAULTS.outboxMaxEvents,
      outboxMaxBytes: opts.outbox?.maxBytes ?? DEFAULTS.outboxMaxBytes,
      batchMaxEvents: opts.batch?.maxEvents ?? DEFAULTS.batchMaxEvents,
      batchMaxBytes: opts.batch?.maxBytes ?? DEFAULTS.batchMaxBytes,
      lingerMs: opts.batch?.lingerMs ?? DEFAULTS.lingerMs,
      publishTimeoutMs: opts.publishTimeoutMs ?? DEFAULTS.publishTimeoutMs,
    };
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(opts.agentId)) {
      throw new FarmbrainError('INVALID_AGENT_ID', `agentId '${opts.agentId}' must be 1..64 of A-Z a-z 0-9 _ -`);
    }
    this.#ownsConnection = opts.connection === undefined;
    if (opts.connection) {
      this.#nc = opts.connection;
      this.#js = jetstream(opts.connection, { timeout: this.#o.publishTimeoutMs });
    } else {
      const servers = opts.servers ?? DEFAULTS.servers;
      // Connect in the background: an agent starting while NATS is down still records (into the outbox).
      this.#connecting = connect({ servers, name: `farmbrain-agent-${opts.agentId}`, waitOnFirstConnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 250, timeout: 2000 })
        .then((nc) => {
          if (this.#closed && this.#queue.length === 0) {
            void nc.close();
            return;
          }
          this.#nc = nc;
          this.#js = jetstream(nc, { timeout: this.#o.publishTimeoutMs });
          this.#wake?.();
        })
        .catch((err: Error) => {
          this.#connectError = err;
          this.#wake?.();
        });
    }
    this.#loop = this.#run();
  }

  /** Events waiting in the outbox (including the batch being sent). */
  get pending(): number {
    return this.#queue.length + (this.#inflight?.items.length ?? 0);
  }

  register(data: PayloadInput<'agent_registered'>, opts?: RecordOptions): Promise<Receipt> {
    return this.record('agent_registered', withDefaults('agent_registered', data), opts);
  }

  recordDecision(d: DecisionInput, opts?: RecordOptions): Promise<Receipt> {
    return this.record('decision_made', withDefaults('decision_made', d), opts);
  }

  recordTrade(t: TradeInput, opts?: RecordOptions): Promise<Receipt> {
    return this.record('trade_executed', withDefaults('trade_executed', t), opts);
  }

  closePosition(p: ClosePositionInput, opts?: RecordOptions): Promise<Receipt> {
    return this.record('position_closed', withDefaults('position_closed', p), opts);
  }

  saveCheckpoint(label: string, state: Uint8Array | string, opts?: RecordOptions): Promise<Receipt> {
    const bytes = typeof state === 'string' ? new TextEncoder().encode(state) : state;
    const data: CheckpointSaved = { label, state: bytes };
    return this.record('checkpoint_saved', data, opts);
  }

  /** Stores a memory; resolves with the receipt and the new memory's id. */
  async remember(m: MemoryInput, opts?: RecordOptions): Promise<Receipt & { memoryId: string }> {
    const memoryId = m.memoryId ?? newEventId();
    const r = await this.record('memory_stored', withDefaults('memory_stored', { ...m, memoryId }), opts);
    return { ...r, memoryId };
  }

  updateMemory(u: MemoryUpdateInput, opts?: RecordOptions): Promise<Receipt> {
    return this.record('memory_updated', withDefaults('memory_updated', u), opts);
  }

  forget(memoryId: string, reason = '', opts?: RecordOptions): Promise<Receipt> {
    return this.record('memory_forgotten', { memoryId, reason }, opts);
  }

  setStatus(status: AgentStateChanged['status'], extra: Partial<Omit<AgentStateChanged, 'status'>> = {}, opts?: RecordOptions): Promise<Receipt> {
    return this.record('agent_state_changed', withDefaults('agent_state_changed', { ...extra, status }), opts);
  }

  /** Records any event type. Rejects at once with INVALID_EVENT, OUTBOX_FULL or CLOSED. */
  record<T extends EventType>(type: T, data: EventPayloads[T], opts: RecordOptions = {}): Promise<Receipt> {
    if (this.#closed) return Promise.reject(new ClosedError(this.agentId));
    const event = {
      eventId: opts.eventId ?? newEventId(),
      agentId: this.agentId,
      producerSeq: this.#seq.next(),
      occurredAt: opts.occurredAt ?? this.#now(),
      correlationId: opts.correlationId ?? '',
      causationId: opts.causationId ?? '',
      schemaVersion: SCHEMA_VERSION,
      type,
      data,
    } as FarmEvent;
    const bytes = encodeEvent(event);
    const issues = validateEvent(event, { limits: this.#limits, now: this.#now(), encodedBytes: bytes.byteLength });
    if (issues.length > 0) return Promise.reject(new InvalidEventError(issues));
    if (this.pending >= this.#o.outboxMaxEvents || this.#queuedBytes + bytes.byteLength > this.#o.outboxMaxBytes) {
      return Promise.reject(new OutboxFullError(this.agentId, this.pending, this.#queuedBytes, this.#lastError));
    }
    return new Promise<Receipt>((resolve, reject) => {
      this.#queue.push({ event, bytes, resolve, reject });
      this.#queuedBytes += bytes.byteLength;
      this.#wake?.();
    });
  }

  /** Resolves when everything recorded so far is durable (or rejects after timeoutMs). */
  async flush(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.pending > 0) {
      if (Date.now() > deadline) throw new FlushTimeoutError(this.agentId, this.pending, this.#lastError);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /**
   * Flushes the outbox, then closes (the connection too, unless it was given).
   * Events still unsent after timeoutMs are rejected with FLUSH_TIMEOUT.
   */
  async close(timeoutMs = 10_000): Promise<void> {
    let failure: Error | undefined;
    try {
      await this.flush(timeoutMs);
    } catch (err) {
      failure = err as Error;
    }
    this.#closed = true;
    for (const p of this.#drainAll()) p.reject(failure ?? new ClosedError(this.agentId));
    this.#wake?.();
    await this.#loop;
    if (this.#ownsConnection) {
      await this.#nc?.close().catch(() => undefined);
      if (!this.#nc) void this.#connecting?.then(() => this.#nc?.close());
    }
    if (failure) throw failure;
  }

  #drainAll(): Pending[] {
    const all = [...(this.#inflight?.items ?? []), ...this.#queue];
    this.#inflight = undefined;
    this.#queue = [];
    this.#queuedBytes = 0;
    return all;
  }

  #takeBatch(): { items: Pending[]; body: Uint8Array; msgId: string } {
    const items: Pending[] = [];
    let bytes = 0;
    while (this.#queue.length > 0 && items.length < this.#o.batchMaxEvents) {
      const next = this.#queue[0]!;
      if (items.length > 0 && bytes + next.bytes.byteLength + 8 > this.#o.batchMaxBytes) break;
      items.push(next);
      bytes += next.bytes.byteLength + 8;
      this.#queue.shift();
    }
    // The batch is frozen from here on and retried as is, so its message id dedupes a retry.
    return { items, body: frameBatch(items.map((p) => p.bytes)), msgId: batchMsgId(items.map((p) => p.event)) };
  }

  async #run(): Promise<void> {
    let backoff = 50;
    for (;;) {
      if (this.#closed && this.#queue.length === 0 && !this.#inflight) return;
      if (!this.#js || (this.#queue.length === 0 && !this.#inflight)) {
        if (this.#closed) return;
        await new Promise<void>((r) => {
          this.#wake = r;
          if (this.#connectError) setTimeout(r, 1000);
        });
        this.#wake = undefined;
        continue;
      }
      if (!this.#inflight) {
        if (this.#queue.length < this.#o.batchMaxEvents && this.#o.lingerMs > 0 && !this.#closed) {
          await new Promise((r) => setTimeout(r, this.#o.lingerMs));
        }
        this.#inflight = this.#takeBatch();
      }
      const batch = this.#inflight;
      try {
        const ack = await this.#js.publish(this.#subject, batch.body, { msgID: batch.msgId, timeout: this.#o.publishTimeoutMs });
        if (this.#inflight !== batch) continue; // rejected by close() meanwhile
        this.#inflight = undefined;
        backoff = 50;
        this.#lastError = undefined;
        for (const p of batch.items) {
          this.#queuedBytes -= p.bytes.byteLength;
          p.resolve({ eventId: p.event.eventId, producerSeq: p.event.producerSeq, streamSeq: ack.seq, duplicate: ack.duplicate });
        }
      } catch (err) {
        // NATS is down or slow: keep the batch, wait, retry the same message (same id).
        this.#lastError = err as Error;
        if (this.#closed && this.#inflight !== batch) continue;
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 2000);
      }
    }
  }
}
