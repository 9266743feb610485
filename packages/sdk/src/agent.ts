import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import {
  batchMessage,
  buildEnvelope,
  DEFAULT_BATCH_LIMITS,
  defaultEventLimits,
  encodeEvent,
  FarmbrainError,
  HybridSequence,
  InvalidEventError,
  consistencyTokenOf,
  mergeConsistencyTokens,
  partitionOf,
  names as makeNames,
  newEventId,
  nextBatchLength,
  validateEvent,
  type AgentStateChanged,
  type BatchLimits,
  type CheckpointSaved,
  type EventLimits,
  type EventPayloads,
  type EventType,
  type FarmEvent,
  type Names,
  type PayloadInput,
} from '@farmbrain/contracts';
import {
  ClosedError,
  FlushTimeoutError,
  IngressStreamMissingError,
  OutboxFullError,
  PartitionMismatchError,
  whatToCheck,
  type GatewayError,
} from './errors.js';
import { readIngress } from './deployment.js';
import { isNoResponders, partitionsOfSubjects, subjectCovers } from './partitions.js';
import {
  checkDecisionId,
  checkRecallRequest,
  checkSimilarDecisionsRequest,
  DEFAULT_GATEWAY_TIMEOUT_MS,
  GatewayClient,
  type ConsistencyToken,
  type DecisionContext,
  type ReadOptions,
  type RecallRequest,
  type RecallResponse,
  type SimilarDecisionsRequest,
  type SimilarDecisionsResponse,
} from './memory.js';

export interface AgentClientOptions {
  /** [A-Za-z0-9_-]{1,64}. */
  agentId: string;
  /** NATS server(s). Default nats://127.0.0.1:4222. */
  servers?: string | string[];
  /** An existing connection to share between agents of one process; it is not closed by close(). */
  connection?: NatsConnection;
  /**
   * Must match the deployment (FB_NAMESPACE / FB_PARTITIONS). Defaults: 'fb', 8.
   * With another `partitions`, JetStream refuses the agent's subject whenever it
   * computes a partition the deployment does not have, and record calls reject
   * with PARTITION_MISMATCH (`discoverPartitions()` reads the deployment's).
   */
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
  /**
   * Base URL of the farmbrain gateway, e.g. 'http://127.0.0.1:8080'. Needed
   * only by the reads (recall, recallSimilarDecisions, decisionContext);
   * recording goes to NATS and works without it.
   */
  gateway?: string;
  /** How long one gateway request may take, in ms. Default 10000. */
  gatewayTimeoutMs?: number;
}

/** What a record call resolves with once the event is durable in JetStream. */
export interface Receipt {
  eventId: string;
  producerSeq: number;
  /** Sequence of the carrying message in the ingress stream. */
  streamSeq: number;
  /** True when JetStream had already stored this message (a retry). */
  duplicate: boolean;
  /**
   * Read-your-writes token for this write: pass it as `consistency` to a read
   * (of this or another client) and the gateway answers only once it has
   * applied this event. The agent's own reads do this by default.
   */
  consistencyToken: ConsistencyToken;
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
    outboxMaxEvents: number; outboxMaxBytes: number; batch: BatchLimits; lingerMs: number;
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
  /** Set once the deployment refused this agent's subject for good: every record call rejects with it. */
  #refused: PartitionMismatchError | undefined;
  readonly #partitions: number;
  readonly #partition: number;
  /** Merged token of every acknowledged write. */
  #token: ConsistencyToken | undefined;
  /** Events that entered the outbox / left it (acknowledged, or rejected by close()); reads wait on these. */
  #enqueued = 0;
  #settled = 0;
  #settleWaiters: { target: number; resolve: () => void }[] = [];
  readonly #gateway: GatewayClient | undefined;
  readonly #gatewayTimeoutMs: number;

  constructor(opts: AgentClientOptions) {
    this.agentId = opts.agentId;
    this.#partitions = opts.partitions ?? DEFAULTS.partitions;
    this.#names = makeNames(opts.namespace ?? DEFAULTS.namespace, this.#partitions);
    this.#subject = this.#names.ingressSubject(opts.agentId);
    this.#limits = { ...defaultEventLimits(), ...opts.limits };
    this.#now = opts.now ?? Date.now;
    this.#o = {
      outboxMaxEvents: opts.outbox?.maxEvents ?? DEFAULTS.outboxMaxEvents,
      outboxMaxBytes: opts.outbox?.maxBytes ?? DEFAULTS.outboxMaxBytes,
      batch: {
        maxEvents: opts.batch?.maxEvents ?? DEFAULT_BATCH_LIMITS.maxEvents,
        maxBytes: opts.batch?.maxBytes ?? DEFAULT_BATCH_LIMITS.maxBytes,
      },
      lingerMs: opts.batch?.lingerMs ?? DEFAULTS.lingerMs,
      publishTimeoutMs: opts.publishTimeoutMs ?? DEFAULTS.publishTimeoutMs,
    };
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(opts.agentId)) {
      throw new FarmbrainError('INVALID_AGENT_ID', `agentId '${opts.agentId}' must be 1..64 of A-Z a-z 0-9 _ -`);
    }
    this.#partition = partitionOf(opts.agentId, this.#partitions);
    this.#gateway = opts.gateway === undefined ? undefined : new GatewayClient({ baseUrl: opts.gateway, timeoutMs: opts.gatewayTimeoutMs });
    this.#gatewayTimeoutMs = this.#gateway?.timeoutMs ?? DEFAULT_GATEWAY_TIMEOUT_MS;
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

  /**
   * The merged consistency token of every write of this client that JetStream
   * has acknowledged so far (undefined before the first). Hand it to another
   * reader so it sees this agent's writes; this agent's own reads send it by
   * default.
   */
  get consistencyToken(): ConsistencyToken | undefined {
    return this.#token;
  }

  register(data: PayloadInput<'agent_registered'>, opts?: RecordOptions): Promise<Receipt> {
    return this.record('agent_registered', data, opts);
  }

  recordDecision(d: DecisionInput, opts?: RecordOptions): Promise<Receipt> {
    return this.record('decision_made', d, opts);
  }

  recordTrade(t: TradeInput, opts?: RecordOptions): Promise<Receipt> {
    return this.record('trade_executed', t, opts);
  }

  closePosition(p: ClosePositionInput, opts?: RecordOptions): Promise<Receipt> {
    return this.record('position_closed', p, opts);
  }

  saveCheckpoint(label: string, state: Uint8Array | string, opts?: RecordOptions): Promise<Receipt> {
    const bytes = typeof state === 'string' ? new TextEncoder().encode(state) : state;
    const data: CheckpointSaved = { label, state: bytes };
    return this.record('checkpoint_saved', data, opts);
  }

  /** Stores a memory; resolves with the receipt and the new memory's id. */
  async remember(m: MemoryInput, opts?: RecordOptions): Promise<Receipt & { memoryId: string }> {
    const memoryId = m.memoryId ?? newEventId();
    const r = await this.record('memory_stored', { ...m, memoryId }, opts);
    return { ...r, memoryId };
  }

  updateMemory(u: MemoryUpdateInput, opts?: RecordOptions): Promise<Receipt> {
    return this.record('memory_updated', u, opts);
  }

  forget(memoryId: string, reason = '', opts?: RecordOptions): Promise<Receipt> {
    return this.record('memory_forgotten', { memoryId, reason }, opts);
  }

  setStatus(status: AgentStateChanged['status'], extra: Partial<Omit<AgentStateChanged, 'status'>> = {}, opts?: RecordOptions): Promise<Receipt> {
    return this.record('agent_state_changed', { ...extra, status }, opts);
  }

  /**
   * Records any event type; payload fields with a default (PAYLOAD_DEFAULTS) may be
   * left out. Rejects at once with INVALID_EVENT, OUTBOX_FULL, CLOSED, or
   * PARTITION_MISMATCH once the deployment has refused this agent's subject.
   */
  record<T extends EventType>(type: T, data: PayloadInput<T> | EventPayloads[T], opts: RecordOptions = {}): Promise<Receipt> {
    if (this.#refused) return Promise.reject(this.#refused);
    if (this.#closed) return Promise.reject(new ClosedError(this.agentId));
    const { eventId, occurredAt, correlationId, causationId } = opts;
    const event: FarmEvent = buildEnvelope({ agentId: this.agentId, type, data, eventId, occurredAt, correlationId, causationId }, { seq: this.#seq, now: this.#now });
    let bytes: Uint8Array;
    try {
      bytes = encodeEvent(event);
    } catch (err) {
      // A value of the wrong type (a BigInt, a cycle in a JSON field) is an INVALID_EVENT naming the field, not the encoder's TypeError.
      const fieldIssues = validateEvent(event, { limits: this.#limits, now: this.#now() });
      return Promise.reject(fieldIssues.length > 0 ? new InvalidEventError(fieldIssues) : err);
    }
    const issues = validateEvent(event, { limits: this.#limits, now: this.#now(), encodedBytes: bytes.byteLength });
    if (issues.length > 0) return Promise.reject(new InvalidEventError(issues));
    if (this.pending >= this.#o.outboxMaxEvents || this.#queuedBytes + bytes.byteLength > this.#o.outboxMaxBytes) {
      return Promise.reject(new OutboxFullError(this.agentId, this.pending, this.#queuedBytes, this.#lastError));
    }
    return new Promise<Receipt>((resolve, reject) => {
      this.#queue.push({ event, bytes, resolve, reject });
      this.#enqueued++;
      this.#queuedBytes += bytes.byteLength;
      this.#wake?.();
    });
  }

  /**
   * Resolves when everything recorded so far is durable; rejects with FLUSH_TIMEOUT after
   * timeoutMs, or with PARTITION_MISMATCH once the deployment refused this agent's subject
   * (its events were rejected, not stored).
   */
  async flush(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.pending > 0) {
      if (Date.now() > deadline) throw new FlushTimeoutError(this.agentId, this.pending, this.#lastError);
      await new Promise((r) => setTimeout(r, 5));
    }
    if (this.#refused) throw this.#refused;
  }

  /**
   * Flushes the outbox, then closes (the connection too, unless it was given).
   * Events still unsent after timeoutMs are rejected with FLUSH_TIMEOUT, which
   * close() then throws. After a PARTITION_MISMATCH nothing is left unsent (those
   * events were rejected already), so close() just closes.
   */
  async close(timeoutMs = 10_000): Promise<void> {
    let failure: Error | undefined;
    try {
      await this.flush(timeoutMs);
    } catch (err) {
      if (!(err instanceof PartitionMismatchError)) failure = err as Error;
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

  // -------------------------------------------------------------------------
  // Reads, through the gateway (the `gateway` option)
  // -------------------------------------------------------------------------

  /**
   * Recalls this agent's most relevant memories (and the team and fleet
   * memories it may read) for a text `query`, a query `vector`, or both,
   * ranked by reciprocal-rank fusion of vector similarity, text relevance,
   * recency and importance. The gateway records the recall as a
   * `memory_recalled` event; cite the returned `recallId` in
   * `recordDecision({ recallIds })` to link the decision to what it was based on.
   *
   * Read-your-writes by default: events this agent recorded before the call
   * are waited for (until JetStream acknowledges them) and the recall sees
   * them. See {@link ReadOptions} to read another client's writes or not wait.
   *
   * Rejects with INVALID_REQUEST (nothing sent: no query or vector, k outside
   * 1..100, a non-finite vector component), NO_GATEWAY, FLUSH_TIMEOUT, or a
   * {@link GatewayError}.
   *
   * @example
   * ```ts
   * await agent.remember({ kind: 'lesson', text: 'BTC breakouts on low volume fade within the hour.', tags: ['btc'] });
   * const { recallId, hits } = await agent.recall({ query: 'btc breakout volume', tags: ['btc'], k: 5 });
   * // The lesson just stored can be among the hits: the recall waited until the gateway had applied it.
   * await agent.recordDecision({ symbol: 'BTC-USD', action: 'hold', confidence: 0.6,
   *   memoryIds: hits.map((h) => h.memory.memoryId), recallIds: [recallId] });
   * ```
   */
  async recall(req: RecallRequest, opts: ReadOptions = {}): Promise<RecallResponse> {
    const gw = this.#requireGateway('recall');
    checkRecallRequest(req);
    const consistency = await this.#readToken(req.consistency, opts, 'recall');
    return gw.recall(this.agentId, { ...req, consistency }, opts);
  }

  /**
   * Outcome-linked recall: "what did I do the last times the market looked
   * like this, and how did it turn out?". Finds the `k` past decisions
   * (this agent's; its teams' too with `includeTeam`) whose recorded
   * `situation` vector is nearest to `situation` (Euclidean), each with its
   * realized outcome, plus win rate and P&L statistics over them. Only
   * decisions with a closed position count unless `includeOpen`.
   *
   * `situation` must use the same features, in the same order, as the
   * `situation` you record on decisions. Read-your-writes by default, as for
   * {@link FarmbrainAgent.recall}. Rejects with INVALID_REQUEST (nothing sent:
   * empty or non-finite `situation`, k outside 1..200), NO_GATEWAY,
   * FLUSH_TIMEOUT, or a {@link GatewayError}.
   *
   * @example
   * ```ts
   * const situation = [rsi14 / 100, atrPct, fundingRate, volumeZ];
   * const { neighbours, stats } = await agent.recallSimilarDecisions({ situation, symbol: 'BTC-USD', k: 20 });
   * if (stats.n >= 5 && (stats.winRate ?? 0) < 0.4) {
   *   // this setup has mostly lost money before: skip it
   * }
   * ```
   */
  async recallSimilarDecisions(req: SimilarDecisionsRequest, opts: ReadOptions = {}): Promise<SimilarDecisionsResponse> {
    const gw = this.#requireGateway('recallSimilarDecisions');
    checkSimilarDecisionsRequest(req);
    const consistency = await this.#readToken(req.consistency, opts, 'recallSimilarDecisions');
    return gw.recallSimilarDecisions(this.agentId, { ...req, consistency }, opts);
  }

  /**
   * What this agent knew when it made a decision: the decision, the recalls
   * behind it (those it cites in `recallIds`, those sharing its
   * `correlationId`, or else the recalls since its previous decision) and the
   * memories it cites, as they were at that time, flagged if they changed or
   * were forgotten since. `decisionId` is the decision's `eventId`
   * (`Receipt.eventId` of `recordDecision`).
   *
   * Read-your-writes by default, so a decision just recorded can be read back
   * at once. Rejects with INVALID_REQUEST (empty id), NO_GATEWAY,
   * FLUSH_TIMEOUT, or a {@link GatewayError} (`NOT_FOUND`, status 404, for an
   * unknown decision).
   *
   * @example
   * ```ts
   * const { eventId } = await agent.recordDecision({ symbol: 'ETH-USD', action: 'sell', recallIds: [recallId] });
   * const ctx = await agent.decisionContext(eventId);
   * for (const m of ctx.citedMemories) if (m.forgottenSince) console.warn(`decided on since-forgotten memory ${m.memoryId}`);
   * ```
   */
  async decisionContext(decisionId: string, opts: ReadOptions = {}): Promise<DecisionContext> {
    const gw = this.#requireGateway('decisionContext');
    checkDecisionId(decisionId);
    const consistency = await this.#readToken(undefined, opts, 'decisionContext');
    return gw.decisionContext(this.agentId, decisionId, { ...opts, consistency });
  }

  #requireGateway(method: string): GatewayClient {
    if (this.#gateway) return this.#gateway;
    throw new FarmbrainError(
      'NO_GATEWAY',
      `agent '${this.agentId}': ${method}() reads through the farmbrain gateway, but no gateway URL was given; ` +
        `pass it when creating the agent: new FarmbrainAgent({ agentId: '${this.agentId}', gateway: 'http://127.0.0.1:8080', ... })`,
    );
  }

  /** The token a read sends: explicit (opts, then body) wins; else wait for earlier writes and use ours. */
  async #readToken(inBody: ConsistencyToken | undefined, opts: ReadOptions, method: string): Promise<ConsistencyToken | undefined> {
    const explicit = opts.consistency ?? inBody;
    if (explicit === 'none') return undefined;
    if (explicit !== undefined) return explicit;
    await this.#waitForWrites(opts.flushTimeoutMs ?? this.#gatewayTimeoutMs, method);
    return this.#token;
  }

  /**
   * Waits until every event recorded before this call has left the outbox
   * (acknowledged, so the token covers it). Unlike flush(), later records do
   * not extend the wait.
   */
  #waitForWrites(timeoutMs: number, method: string): Promise<void> {
    const target = this.#enqueued;
    if (this.#settled >= target) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        target,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.#settleWaiters = this.#settleWaiters.filter((w) => w !== waiter);
        reject(new FlushTimeoutError(
          this.agentId,
          target - this.#settled,
          this.#lastError,
          `${method}() waits for them so that it reads this agent's own writes. ${whatToCheck(this.#lastError)}, ` +
            `raise flushTimeoutMs, or read without them: pass { consistency: 'none' }.`,
        ));
      }, timeoutMs);
      this.#settleWaiters.push(waiter);
    });
  }

  #settle(n: number): void {
    if (n === 0) return;
    this.#settled += n;
    if (this.#settleWaiters.length === 0) return;
    const still: { target: number; resolve: () => void }[] = [];
    for (const w of this.#settleWaiters) {
      if (this.#settled >= w.target) w.resolve();
      else still.push(w);
    }
    this.#settleWaiters = still;
  }

  #drainAll(): Pending[] {
    const all = [...(this.#inflight?.items ?? []), ...this.#queue];
    this.#inflight = undefined;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#settle(all.length);
    return all;
  }

  #takeBatch(): { items: Pending[]; body: Uint8Array; msgId: string } {
    const items = this.#queue.splice(0, nextBatchLength(this.#queue, this.#o.batch));
    // The batch is frozen from here on and retried as is, so its message id dedupes a retry.
    return { items, ...batchMessage(items) };
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
        if (this.#queue.length < this.#o.batch.maxEvents && this.#o.lingerMs > 0 && !this.#closed) {
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
        // One message, one ingress sequence: the whole batch shares a token. (A duplicate's ack.seq
        // is the originally stored message's, which is what a read must wait for.)
        const consistencyToken = consistencyTokenOf(this.#partition, ack.seq);
        this.#token = mergeConsistencyTokens(this.#token, consistencyToken, this.#partitions);
        for (const p of batch.items) {
          this.#queuedBytes -= p.bytes.byteLength;
          p.resolve({ eventId: p.event.eventId, producerSeq: p.event.producerSeq, streamSeq: ack.seq, duplicate: ack.duplicate, consistencyToken });
        }
        this.#settle(batch.items.length);
      } catch (err) {
        // NATS is down or slow: keep the batch, wait, retry the same message (same id).
        this.#lastError = err as Error;
        if (this.#closed && this.#inflight !== batch) continue;
        if (isNoResponders(err)) {
          // Reachable, but no stream took the message (so it was not stored): find out why.
          const refused = await this.#whyRefused(err as Error);
          if (refused) {
            this.#refuse(refused);
            return;
          }
          if (this.#inflight !== batch) continue; // rejected by close() meanwhile
        }
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 2000);
      }
    }
  }

  /**
   * After "no responders" on this agent's subject: a PartitionMismatchError when the
   * ingress stream exists and does not capture the subject (a configuration error no
   * retry can fix). Otherwise undefined, and the outbox retries: a missing stream may
   * just not be provisioned yet, so #lastError then says that instead of blaming NATS.
   */
  async #whyRefused(err: Error): Promise<PartitionMismatchError | undefined> {
    const nc = this.#nc;
    if (!nc) return undefined;
    let view;
    try {
      view = await readIngress(nc, this.#names.ingressStream, this.#o.publishTimeoutMs);
    } catch {
      return undefined; // cannot tell (connection lost meanwhile): retry as for any outage
    }
    if (view.kind === 'no-stream') {
      this.#lastError = new IngressStreamMissingError(this.#names.ingressStream, this.#names.namespace, { cause: err });
      return undefined;
    }
    if (view.kind === 'no-jetstream') return undefined;
    // Covered after all: the stream changed since the publish; just retry.
    if (view.subjects.some((f) => subjectCovers(f, this.#subject))) return undefined;
    return new PartitionMismatchError(
      this.agentId,
      this.#subject,
      partitionsOfSubjects(view.subjects, this.#names.namespace),
      this.#partitions,
      this.#names.ingressStream,
      view.subjects,
      { cause: err },
    );
  }

  /** The deployment refuses this agent for good: reject everything pending, and every later record call. */
  #refuse(e: PartitionMismatchError): void {
    this.#refused = e;
    this.#lastError = e;
    for (const p of this.#drainAll()) p.reject(e);
  }
}
