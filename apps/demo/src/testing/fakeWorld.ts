/**
 * Tests only: a fake farmbrain for the fleet. Its SDK clients build each event
 * exactly as FarmbrainAgent does (defaults filled, encoded, checked with the
 * contracts' validateEvent against the default limits) and keep it; its
 * gateway answers recalls from the memories stored so far. Deterministic
 * except for the ids (UUIDv7), which `normalized()` replaces by ordinals.
 */
import {
  defaultEventLimits,
  encodeEvent,
  InvalidEventError,
  newEventId,
  SCHEMA_VERSION,
  validateEvent,
  withDefaults,
  type AgentStatus,
  type EventPayloads,
  type EventType,
  type FarmEvent,
  type MemoryView,
  type PayloadInput,
  type RecallRequest,
  type RecallResponse,
  type SimilarDecisionsRequest,
  type SimilarDecisionsResponse,
  type ValidationIssue,
} from '@farmbrain/contracts';
import type { ClosePositionInput, DecisionInput, MemoryInput, MemoryUpdateInput, RecordOptions, TradeInput } from '@farmbrain/sdk';
import type { Ack, AgentSdk, GatewayHttp, OpenPosition } from '../ports.js';

export interface Recorded {
  event: FarmEvent;
  /** What validateEvent found (the SDK would have rejected the call). */
  issues: ValidationIssue[];
}

export interface FakeWorldOptions {
  /** Epoch ms the clock starts at; it advances by `advance()`. */
  start?: number;
  /** Every n-th write call of each agent rejects (0: none). */
  failWritesEvery?: number;
  /** Every n-th read of each agent rejects (0: none). */
  failReadsEvery?: number;
  /** The session the risk desk registered with last. */
  lastSession?: number;
  /** Positions an earlier run left open, by agent. */
  leftovers?: Record<string, OpenPosition[]>;
}

export class FakeWorld {
  readonly recorded: Recorded[] = [];
  readonly memories: MemoryView[] = [];
  readonly clients = new Map<string, FakeSdk>();
  readonly #o: FakeWorldOptions;
  #clock: number;

  constructor(o: FakeWorldOptions = {}) {
    this.#o = o;
    this.#clock = o.start ?? 1_750_000_000_000;
  }

  now = (): number => this.#clock;
  advance(ms: number): void {
    this.#clock += ms;
  }

  get failWritesEvery(): number {
    return this.#o.failWritesEvery ?? 0;
  }
  get failReadsEvery(): number {
    return this.#o.failReadsEvery ?? 0;
  }

  sdkFor = (agentId: string): AgentSdk => {
    const c = new FakeSdk(agentId, this);
    this.clients.set(agentId, c);
    return c;
  };

  readonly gateway: GatewayHttp = {
    lastSession: async () => this.#o.lastSession,
    openPositions: async (agentId) => this.#o.leftovers?.[agentId] ?? [],
  };

  /** The events recorded (valid or not), in order. */
  get events(): FarmEvent[] {
    return this.recorded.map((r) => r.event);
  }

  /** Every event as JSON with its ids replaced by ordinals (in order of first appearance), for comparing runs. */
  normalized(): string[] {
    const ids = new Map<string, string>();
    const uuid = /[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}/g;
    return this.recorded.map(({ event }) =>
      JSON.stringify({ ...event, occurredAt: undefined }, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString() : v))
        .replace(uuid, (id) => {
          let n = ids.get(id);
          if (n === undefined) ids.set(id, (n = `#${ids.size}`));
          return n;
        }));
  }
}

export class FakeSdk implements AgentSdk {
  readonly pending = 0;
  #seq = 0;
  #writes = 0;
  #reads = 0;
  closed = false;

  constructor(readonly agentId: string, readonly world: FakeWorld) {}

  #record<T extends EventType>(type: T, data: EventPayloads[T], opts: RecordOptions = {}): Promise<Ack> {
    if (this.closed) return Promise.reject(new Error('closed'));
    this.#writes += 1;
    const now = this.world.now();
    const event = {
      eventId: newEventId(),
      agentId: this.agentId,
      producerSeq: ++this.#seq,
      occurredAt: now,
      correlationId: opts.correlationId ?? '',
      causationId: '',
      schemaVersion: SCHEMA_VERSION,
      type,
      data,
    } as FarmEvent;
    let issues: ValidationIssue[];
    try {
      issues = validateEvent(event, { limits: defaultEventLimits(), now, encodedBytes: encodeEvent(event).byteLength });
    } catch (err) {
      issues = [...validateEvent(event, { limits: defaultEventLimits(), now }), { code: 'MISSING_FIELD', field: '', message: `encode failed: ${String(err)}` }];
    }
    this.world.recorded.push({ event, issues });
    if (issues.length > 0) return Promise.reject(new InvalidEventError(issues));
    const every = this.world.failWritesEvery;
    if (every > 0 && this.#writes % every === 0) return Promise.reject(new Error(`fake write failure ${this.#writes}`));
    return Promise.resolve({ eventId: event.eventId });
  }

  #read(): void {
    this.#reads += 1;
    const every = this.world.failReadsEvery;
    if (every > 0 && this.#reads % every === 0) throw Object.assign(new Error('fake read failure'), { code: 'GATEWAY_TIMEOUT' });
  }

  register(data: PayloadInput<'agent_registered'>): Promise<Ack> {
    return this.#record('agent_registered', withDefaults('agent_registered', data));
  }
  setStatus(status: AgentStatus, extra: { reason?: string } = {}): Promise<Ack> {
    return this.#record('agent_state_changed', withDefaults('agent_state_changed', { ...extra, status }));
  }
  recordDecision(d: DecisionInput, opts?: RecordOptions): Promise<Ack> {
    return this.#record('decision_made', withDefaults('decision_made', d), opts);
  }
  recordTrade(t: TradeInput, opts?: RecordOptions): Promise<Ack> {
    return this.#record('trade_executed', withDefaults('trade_executed', t), opts);
  }
  closePosition(p: ClosePositionInput): Promise<Ack> {
    return this.#record('position_closed', withDefaults('position_closed', p));
  }
  saveCheckpoint(label: string, state: string): Promise<Ack> {
    return this.#record('checkpoint_saved', { label, state: new TextEncoder().encode(state) });
  }
  async remember(m: MemoryInput): Promise<Ack & { memoryId: string }> {
    const memoryId = m.memoryId ?? newEventId();
    const data = withDefaults('memory_stored', { ...m, memoryId });
    const r = await this.#record('memory_stored', data);
    const t = this.world.now();
    this.world.memories.push({
      memoryId, agentId: this.agentId, kind: data.kind, text: data.text, tags: [...data.tags], importance: data.importance,
      scope: data.scope, scopeId: data.scopeId, version: 1, createdAt: t, updatedAt: t, expiresAt: data.expiresAt || null, embeddingModel: '',
    });
    return { ...r, memoryId };
  }
  updateMemory(u: MemoryUpdateInput): Promise<Ack> {
    const m = this.world.memories.find((x) => x.memoryId === u.memoryId);
    if (m) m.version += 1;
    return this.#record('memory_updated', withDefaults('memory_updated', u));
  }
  forget(memoryId: string, reason: string): Promise<Ack> {
    const i = this.world.memories.findIndex((x) => x.memoryId === memoryId);
    if (i >= 0) this.world.memories.splice(i, 1);
    return this.#record('memory_forgotten', { memoryId, reason });
  }
  async recall(req: RecallRequest): Promise<RecallResponse> {
    this.#read();
    const hits = this.world.memories
      .filter((m) => (m.agentId === this.agentId || m.scope !== 'agent')
        && (!req.kinds || req.kinds.includes(m.kind))
        && (!req.scopes || req.scopes.includes(m.scope))
        && (req.tags ?? []).every((t) => m.tags.includes(t)))
      .slice(-(req.k ?? 10))
      .reverse()
      .map((memory, i) => ({
        memory: { ...memory, tags: [...memory.tags] },
        score: 1 / (61 + i),
        parts: { vector: null, text: null, recency: { ageMs: 0, rank: i + 1 }, importance: { value: memory.importance, rank: i + 1 } },
        tier: 'hot' as const,
      }));
    return { recallId: newEventId(), hits, embeddingModel: '', tookMs: 1 };
  }
  async recallSimilarDecisions(req: SimilarDecisionsRequest): Promise<SimilarDecisionsResponse> {
    this.#read();
    const n = (req.situation.length + this.#reads) % 5;
    const wins = Math.floor(n / 2);
    const meanPnl = n ? (this.#reads % 9) - 4.5 : null;
    return {
      neighbours: [],
      stats: { n, wins, losses: n - wins, winRate: n ? wins / n : null, meanPnl, stdevPnl: null, medianPnl: meanPnl, minPnl: meanPnl, maxPnl: meanPnl, meanHoldingMs: null },
    };
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}
