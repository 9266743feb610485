import type { RecallRequest, RecallResponse } from '@farmbrain/contracts/browser';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import { GatewayError, isRetryable, isUnreachable } from './gatewayError.js';
import { GatewayHttp, type FetchLike } from './gatewayHttp.js';
import { LastKnownStore } from './lastKnownStore.js';
import { MemoryStorage, type StorageLike } from './memoryStorage.js';
import { eventsBody, pendingWrite, type AcceptedBody } from './pendingWrite.js';
import type { AgentMemoryState, AgentReadLimits, AgentState, ClientError, DecisionItem, MemoryItem, PendingWrite, RememberInput } from './types.js';

/** Where 'online' events come from (window in a browser). */
export interface OnlineEvents {
  addEventListener(type: 'online', listener: () => void): void;
  removeEventListener(type: 'online', listener: () => void): void;
}

export interface AgentMemoryClientOptions {
  /** The gateway's URL; '' (default): the page's own origin. */
  baseUrl?: string;
  /** Where the last known data and the write queue survive a reload (window.localStorage). Default: memory only. */
  storage?: StorageLike;
  /** Prefix of the keys in `storage`. Default 'farmbrain'. */
  storageKey?: string;
  /** Default: globalThis.fetch (add auth headers, or point tests at a moving gateway, here). */
  fetch?: FetchLike;
  /** How long a request may wait for an answer before it counts as none (a write is then resent, same event id). Default 15000 ms. */
  timeoutMs?: number;
  /** How often the gateway is probed (GET /readyz) while it does not answer. Default 5000 ms. */
  probeIntervalMs?: number;
  /** Delays between sends of a queued write that got no answer: doubling from firstMs (1 s) up to maxMs (30 s). */
  backoff?: Partial<BackoffOptions>;
  /** 'online' events to react to at once. Default: globalThis when it has addEventListener (a browser window); null: none. */
  onlineEvents?: OnlineEvents | null;
  /** Clock, epoch ms (the time a memory was remembered). */
  now?: () => number;
}

export const DEFAULT_LIMITS: Readonly<Required<AgentReadLimits>> = Object.freeze({ memories: 50, decisions: 20 });

interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

interface Entry {
  state: AgentMemoryState;
  listeners: Set<() => void>;
  limits: Required<AgentReadLimits>;
  loading: Promise<void> | undefined;
  /** The limits changed while a read was under way: read again after it. */
  again: boolean;
}

type Outcome = { ok: true } | { ok: false; err: GatewayError };

const errorOf = (err: unknown): ClientError => err instanceof GatewayError
  ? { code: err.code, message: err.message }
  : { code: 'CLIENT_ERROR', message: (err as Error)?.message ?? String(err) };

/**
 * An agent's memory as the gateway serves it, for a UI: a cache per agent (its state, memories and
 * decisions), a last known copy in Storage shown while the gateway does not answer, and writes
 * (`remember`) queued in Storage and sent in order, each with an event id fixed when it was queued,
 * so a resend after a lost answer is a duplicate the pipeline drops. No React here: the hook is a
 * useSyncExternalStore over subscribe/getSnapshot.
 */
export class AgentMemoryClient {
  readonly #http: GatewayHttp;
  readonly #store: LastKnownStore;
  readonly #entries = new Map<string, Entry>();
  readonly #probeIntervalMs: number;
  readonly #backoff: BackoffOptions;
  readonly #now: () => number;
  readonly #onlineEvents: OnlineEvents | undefined;
  /** Writes not yet acknowledged, oldest first (mirrored in Storage). */
  #queue: PendingWrite[];
  #flushing: Promise<void> | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #probeTimer: ReturnType<typeof setTimeout> | undefined;
  /** The gateway did not answer the last call (reads show the last known copy; writes wait). */
  #unreachable = false;
  #started = false;
  /** close() was called: nothing starts again until start(). */
  #closed = false;
  /** Outcomes of sends that a remember() call waits for. */
  readonly #awaited = new Map<string, Outcome | undefined>();

  constructor(o: AgentMemoryClientOptions = {}) {
    const fetchFn = o.fetch ?? ((input: string, init?: RequestInit) => globalThis.fetch(input, init));
    this.#http = new GatewayHttp(o.baseUrl ?? '', fetchFn, o.timeoutMs);
    this.#store = new LastKnownStore(o.storage ?? new MemoryStorage(), o.storageKey ?? 'farmbrain');
    this.#probeIntervalMs = o.probeIntervalMs ?? 5000;
    this.#backoff = { ...DEFAULT_BACKOFF, ...o.backoff };
    this.#now = o.now ?? Date.now;
    const g = globalThis as Partial<OnlineEvents>;
    this.#onlineEvents = o.onlineEvents === null ? undefined
      : o.onlineEvents ?? (typeof g.addEventListener === 'function' && typeof g.removeEventListener === 'function' ? (g as OnlineEvents) : undefined);
    this.#queue = this.#store.readQueue();
  }

  /** Starts timers and listeners at the first use (not in the constructor: React may make a client it then throws away). */
  #use(): void {
    if (!this.#started && !this.#closed) this.start();
  }

  // ---- the external store (useSyncExternalStore) ----

  /** Calls `listener` whenever the agent's snapshot changes; returns the unsubscribe. */
  subscribe(agentId: string, listener: () => void): () => void {
    this.#use();
    const e = this.#entry(agentId);
    e.listeners.add(listener);
    return () => {
      e.listeners.delete(listener);
    };
  }

  /** The agent's current state: the same object until it changes. Before any answer: the last known copy (stale). */
  getSnapshot(agentId: string): AgentMemoryState {
    return this.#entry(agentId).state;
  }

  // ---- reads ----

  /**
   * Reads the agent, its memories and its decisions from the gateway (one read at a time per
   * agent). When the gateway does not answer, the agent shows the last known copy, offline and
   * stale, and the gateway is probed until it answers again.
   */
  refresh(agentId: string, limits?: AgentReadLimits): Promise<void> {
    this.#use();
    const e = this.#entry(agentId);
    if (limits) {
      const l = { memories: limits.memories ?? DEFAULT_LIMITS.memories, decisions: limits.decisions ?? DEFAULT_LIMITS.decisions };
      if (l.memories !== e.limits.memories || l.decisions !== e.limits.decisions) {
        e.limits = l;
        e.again = true;
      }
    }
    if (e.loading) return e.loading.then(() => (e.again ? this.refresh(agentId) : undefined));
    e.again = false;
    e.loading = this.#load(agentId, e.limits).finally(() => {
      e.loading = undefined;
    });
    return e.loading;
  }

  async #load(agentId: string, limits: Required<AgentReadLimits>): Promise<void> {
    const id = encodeURIComponent(agentId);
    try {
      const [agent, memories, decisions] = await Promise.all([
        this.#http.request<AgentState>('GET', `/v1/agents/${id}`),
        this.#http.request<Page<MemoryItem>>('GET', `/v1/agents/${id}/memories?limit=${limits.memories}`),
        this.#http.request<Page<DecisionItem>>('GET', `/v1/agents/${id}/decisions?limit=${limits.decisions}`),
      ]);
      const fetchedAt = this.#now();
      this.#store.writeAgent(agentId, { agent, memories: memories.items, decisions: decisions.items, fetchedAt });
      // A read answered clears a read's error; a write's (a refusal, or a write still waiting) stays until that write is settled or the next remember.
      const error = this.#entry(agentId).state.error?.eventId !== undefined ? this.#entry(agentId).state.error : undefined;
      this.#update(agentId, { status: 'online', stale: false, agent, memories: memories.items, decisions: decisions.items, error, fetchedAt });
      this.#answered();
    } catch (err) {
      this.#readFailed(agentId, err);
    }
  }

  #readFailed(agentId: string, err: unknown): void {
    const error = errorOf(err);
    if (isRetryable(err)) {
      // No answer, or the gateway could not read (a dependency down): the last known copy stays.
      this.#update(agentId, { status: 'offline', stale: true, error });
      if (isUnreachable(err)) {
        this.#wentUnreachable();
      } else {
        // It answered: writes need NATS only, they may go through while the reads' store is down.
        this.#answered();
        this.#answeredBut();
      }
      return;
    }
    this.#answered();
    if (error.code === 'UNKNOWN_AGENT' || error.code === 'NOT_FOUND') {
      // The gateway knows no such agent (yet): nothing to show, and no copy to keep.
      this.#update(agentId, { status: 'online', stale: false, agent: undefined, memories: [], decisions: [], error, fetchedAt: this.#now() });
      return;
    }
    this.#update(agentId, { status: 'online', stale: true, error });
  }

  /** Recall over the agent's memories (POST /v1/agents/:agentId/recall): needs the gateway, nothing is cached. */
  async recall(agentId: string, req: string | RecallRequest): Promise<RecallResponse> {
    this.#use();
    try {
      const r = await this.#http.request<RecallResponse>('POST', `/v1/agents/${encodeURIComponent(agentId)}/recall`, typeof req === 'string' ? { query: req } : req);
      this.#answered();
      return r;
    } catch (err) {
      if (isUnreachable(err)) {
        this.#update(agentId, { status: 'offline', stale: true, error: errorOf(err) });
        this.#wentUnreachable();
      } else {
        this.#update(agentId, { error: errorOf(err) });
      }
      throw err;
    }
  }

  // ---- writes ----

  /**
   * Remembers a memory: a memory_stored event whose event id and memory id are fixed now and kept
   * in the Storage queue until the gateway acknowledges it. Resolves `queued: false` once
   * acknowledged, `queued: true` when the gateway did not answer (it is sent later, in order,
   * once). Rejects with the gateway's GatewayError when the gateway refuses it (a 4xx: it is
   * dropped from the queue and shown in `error`).
   */
  async remember(agentId: string, input: RememberInput): Promise<{ eventId: string; memoryId: string; queued: boolean }> {
    this.#use();
    const w = pendingWrite(agentId, input, this.#now());
    if (this.#entries.get(agentId)?.state.error?.eventId !== undefined) this.#update(agentId, { error: undefined });
    this.#setQueue([...this.#queue, w]);
    const result = { eventId: w.eventId, memoryId: w.memoryId };
    if (this.#unreachable || this.#retryTimer !== undefined) return { ...result, queued: true };
    this.#awaited.set(w.eventId, undefined);
    try {
      await this.flush();
      const outcome = this.#awaited.get(w.eventId);
      if (outcome && !outcome.ok) throw outcome.err;
      return { ...result, queued: !outcome };
    } finally {
      this.#awaited.delete(w.eventId);
    }
  }

  /** Writes not yet acknowledged (of one agent, or all), oldest first. */
  pending(agentId?: string): PendingWrite[] {
    return agentId === undefined ? [...this.#queue] : this.#queue.filter((w) => w.agentId === agentId);
  }

  /**
   * Sends the queued writes now, oldest first, one at a time: each acknowledged one leaves the
   * queue; the first that gets no answer (or a retryable one) stops the pass and is retried with
   * backoff, the ones after it waiting behind it; one the gateway refuses (4xx) is dropped and
   * its error shown. Resolves when the pass is over.
   */
  async flush(): Promise<void> {
    this.#use();
    while (this.#flushing) await this.#flushing;
    if (this.#queue.length === 0) return;
    this.#clearRetry();
    this.#flushing = this.#drain().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  async #drain(): Promise<void> {
    const written = new Set<string>();
    while (this.#queue.length > 0 && this.#started) {
      const w = this.#queue[0]!;
      try {
        const r = await this.#http.request<AcceptedBody>('POST', '/v1/events', eventsBody(w));
        if (!r?.accepted?.some((a) => a.eventId === w.eventId)) {
          throw new GatewayError('UNEXPECTED_ANSWER', `POST /v1/events answered without event ${w.eventId}: is baseUrl the farmbrain gateway?`, 200);
        }
        // Acknowledged (duplicate: true when an earlier send had got through and its answer was lost).
        this.#setQueue(this.#queue.filter((q) => q.eventId !== w.eventId));
        this.#settle(w.eventId, { ok: true });
        if (this.#entries.get(w.agentId)?.state.error?.eventId === w.eventId) this.#update(w.agentId, { error: undefined });
        written.add(w.agentId);
        this.#answered();
      } catch (err) {
        if (isRetryable(err)) {
          const tried = { ...w, attempts: w.attempts + 1 };
          this.#setQueue(this.#queue.map((q) => (q.eventId === w.eventId ? tried : q)));
          this.#update(w.agentId, { error: { ...errorOf(err), eventId: w.eventId } });
          if (isUnreachable(err)) this.#wentUnreachable();
          this.#scheduleRetry(tried.attempts);
          break;
        }
        // Refused: resending it would be refused again. It leaves the queue; the reason stays in `error`.
        const ge = err instanceof GatewayError ? err : new GatewayError('CLIENT_ERROR', String(err), 0);
        this.#setQueue(this.#queue.filter((q) => q.eventId !== w.eventId));
        this.#settle(w.eventId, { ok: false, err: ge });
        this.#answered();
        this.#update(w.agentId, { error: { code: ge.code, message: `the write "${w.text.length > 60 ? `${w.text.slice(0, 60)}…` : w.text}" was refused and dropped from the queue: ${ge.message}`, eventId: w.eventId } });
      }
    }
    // What was written shows in the agent's reads once the pipeline applied it (milliseconds).
    await Promise.all([...written].filter((a) => this.#entries.has(a)).map((a) => this.refresh(a)));
  }

  #settle(eventId: string, o: Outcome): void {
    if (this.#awaited.has(eventId)) this.#awaited.set(eventId, o);
  }

  #setQueue(q: PendingWrite[]): void {
    const before = this.#queue;
    this.#queue = q;
    const saved = this.#store.writeQueue(q);
    const agents = new Set([...before, ...q].map((w) => w.agentId));
    for (const a of agents) {
      if (!this.#entries.has(a)) continue;
      const pending = q.filter((w) => w.agentId === a);
      const was = this.#entries.get(a)!.state.pending;
      if (pending.length !== was.length || pending.some((w, i) => w !== was[i])) {
        this.#update(a, saved ? { pending } : { pending, error: { code: 'STORAGE_REFUSED', message: 'the browser storage refused the write queue (full, or disabled): queued writes are kept in memory only and are lost if the page is closed before they are sent' } });
      }
    }
  }

  // ---- online / offline ----

  /**
   * Asks the gateway whether it answers (GET /readyz). When it does, the agents being shown are
   * read again and the queue is flushed; when not, the next probe is scheduled.
   */
  async probe(): Promise<boolean> {
    this.#use();
    this.#clearProbe();
    const ok = await this.#http.probe();
    if (!ok) {
      this.#wentUnreachable();
      return false;
    }
    this.#unreachable = false;
    await Promise.all([...this.#entries].filter(([, e]) => e.listeners.size > 0).map(([a]) => this.refresh(a)));
    await this.flush();
    return true;
  }

  /** The gateway answered: stop probing; a queue waiting for it is sent (the next successful read brings the writes back). */
  #answered(): void {
    const was = this.#unreachable;
    this.#unreachable = false;
    this.#clearProbe();
    if (was && this.#queue.length > 0 && !this.#flushing) void this.flush();
  }

  /** The gateway answered but could not serve (a dependency down): read again after an interval. */
  #answeredBut(): void {
    this.#schedule('probe', this.#probeIntervalMs);
  }

  #wentUnreachable(): void {
    if (!this.#unreachable) {
      this.#unreachable = true;
      // Everything shown is now the last known copy.
      for (const [a, e] of this.#entries) if (e.state.status !== 'offline' || !e.state.stale) this.#update(a, { status: 'offline', stale: true });
    }
    this.#schedule('probe', this.#probeIntervalMs);
  }

  #scheduleRetry(attempts: number): void {
    this.#schedule('retry', backoffDelay(attempts, this.#backoff));
  }

  #schedule(which: 'probe' | 'retry', ms: number): void {
    if (!this.#started) return;
    if (which === 'probe') {
      if (this.#probeTimer !== undefined) return;
      this.#probeTimer = unref(setTimeout(() => {
        this.#probeTimer = undefined;
        void this.probe();
      }, ms));
    } else {
      this.#clearRetry();
      this.#retryTimer = unref(setTimeout(() => {
        this.#retryTimer = undefined;
        void this.flush();
      }, ms));
    }
  }

  #clearProbe(): void {
    if (this.#probeTimer !== undefined) clearTimeout(this.#probeTimer);
    this.#probeTimer = undefined;
  }

  #clearRetry(): void {
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
  }

  readonly #onOnline = (): void => {
    void this.probe();
  };

  /**
   * Listens to 'online' events and resumes probing and retrying: done at the first use
   * (subscribe, refresh, remember...), and needed again after close() (AgentMemoryProvider does both).
   */
  start(): void {
    this.#closed = false;
    if (this.#started) return;
    this.#started = true;
    this.#onlineEvents?.addEventListener('online', this.#onOnline);
    if (this.#unreachable) this.#schedule('probe', this.#probeIntervalMs);
    else if (this.#queue.length > 0) this.#schedule('retry', 0);
  }

  /** Stops timers and listeners (the queue stays in Storage). start() resumes. */
  close(): void {
    this.#closed = true;
    this.#started = false;
    this.#onlineEvents?.removeEventListener('online', this.#onOnline);
    this.#clearProbe();
    this.#clearRetry();
  }

  // ---- state ----

  #entry(agentId: string): Entry {
    let e = this.#entries.get(agentId);
    if (!e) {
      const known = this.#store.readAgent(agentId);
      e = {
        state: {
          agentId,
          status: 'loading',
          stale: known !== undefined,
          agent: known?.agent,
          memories: known?.memories ?? [],
          decisions: known?.decisions ?? [],
          pending: this.#queue.filter((w) => w.agentId === agentId),
          error: undefined,
          fetchedAt: known?.fetchedAt,
        },
        listeners: new Set(),
        limits: { ...DEFAULT_LIMITS },
        loading: undefined,
        again: false,
      };
      this.#entries.set(agentId, e);
    }
    return e;
  }

  #update(agentId: string, patch: Partial<AgentMemoryState>): void {
    const e = this.#entry(agentId);
    e.state = { ...e.state, ...patch };
    for (const l of [...e.listeners]) l();
  }
}

/** A timer that does not keep a Node process alive (browsers' timers are numbers: nothing to do). */
function unref<T>(t: T): T {
  (t as { unref?: () => void }).unref?.();
  return t;
}
