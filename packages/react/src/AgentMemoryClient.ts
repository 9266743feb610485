import type { RecallRequest, RecallResponse } from '@farmbrain/contracts/browser';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import { GatewayError, isRetryable, isUnreachable } from './gatewayError.js';
import { GatewayHttp, type FetchLike } from './gatewayHttp.js';
import { LastKnownStore, SETTLED_KEEP_MAX, type SettledWrite } from './lastKnownStore.js';
import { MemoryStorage, type StorageLike } from './memoryStorage.js';
import { eventsBody, pendingWrite, type AcceptedBody } from './pendingWrite.js';
import type { AgentMemoryState, AgentReadLimits, AgentState, ClientError, DecisionItem, MemoryItem, PendingWrite, RememberInput } from './types.js';

/** Where 'online' events come from (window in a browser). */
export interface OnlineEvents {
  addEventListener(type: 'online', listener: () => void): void;
  removeEventListener(type: 'online', listener: () => void): void;
}

/** Where 'storage' events come from (window in a browser): another tab changed the Storage. */
export interface StorageEvents {
  addEventListener(type: 'storage', listener: (e: StorageChange) => void): void;
  removeEventListener(type: 'storage', listener: (e: StorageChange) => void): void;
}

/**
 * The part of a StorageEvent the client reads: the key changed (null when the Storage was
 * cleared). Not which Storage: a change of another one under the same key only costs a re-read.
 */
export interface StorageChange {
  readonly key: string | null;
}

/** The part of the Web Locks API the client uses (navigator.locks in a browser). */
export interface LockManagerLike {
  request(name: string, callback: () => Promise<unknown>): Promise<unknown>;
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
  /**
   * 'storage' events, so that a change another tab made to the shared write queue shows at once
   * (in `pending`). Default: globalThis when it has addEventListener (a browser window); null: none
   * (the queue is then read again at each operation: remember, flush, pending, probe).
   */
  storageEvents?: StorageEvents | null;
  /**
   * Serialises flushes across the tabs sharing the Storage (the lock `<storageKey>:queue`).
   * Default: navigator.locks when there is one; null: none (two tabs may then send the same write,
   * a duplicate the pipeline drops by event id).
   */
  locks?: LockManagerLike | null;
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

/** A change of the shared queue made by this client (see #sync). */
interface QueueChange {
  /** A write this client queues. */
  add?: PendingWrite;
  /** A write this client saw acknowledged, or refused. */
  settled?: SettledWrite;
  /** A write this client sent without an answer: its attempts. */
  tried?: PendingWrite;
}

/**
 * The order of the queue: the order the writes were queued, which is the order of their event ids.
 * They are UUIDv7s (newEventId: uuid's v7): 48 bits of epoch ms then a counter that the generator keeps
 * increasing within a millisecond and across a clock that steps back, as lowercase hex, so within a
 * tab they sort exactly in the order made, and across tabs by the millisecond they were made
 * (writes two tabs make within the same millisecond are concurrent: either order is right). Not
 * `queuedAt`: it comes from the `now` option, which may be any clock. (A tab opened after the
 * machine's clock stepped back orders its writes by that clock: before older writes of other tabs.)
 */
const byEnqueueOrder = (a: PendingWrite, b: PendingWrite): number => (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0);

const samePending = (a: readonly PendingWrite[], b: readonly PendingWrite[]): boolean =>
  a.length === b.length && a.every((w, i) => w.eventId === b[i]!.eventId && w.attempts === b[i]!.attempts);

const errorOf = (err: unknown): ClientError => err instanceof GatewayError
  ? { code: err.code, message: err.message }
  : { code: 'CLIENT_ERROR', message: (err as Error)?.message ?? String(err) };

/**
 * An agent's memory as the gateway serves it, for a UI: a cache per agent (its state, memories and
 * decisions), a last known copy in Storage shown while the gateway does not answer, and writes
 * (`remember`) queued in Storage and sent in order, each with an event id fixed when it was queued,
 * so a resend after a lost answer is a duplicate the pipeline drops. The queue in Storage is shared
 * by every tab of the origin and is the source of truth: each change re-reads it and merges by
 * event id (#sync), 'storage' events keep `pending` in step with other tabs, and a flush holds a
 * Web Lock so that one tab at a time sends. No React here: the hook is a useSyncExternalStore over
 * subscribe/getSnapshot.
 */
export class AgentMemoryClient {
  readonly #http: GatewayHttp;
  readonly #store: LastKnownStore;
  readonly #entries = new Map<string, Entry>();
  readonly #probeIntervalMs: number;
  readonly #backoff: BackoffOptions;
  readonly #now: () => number;
  readonly #onlineEvents: OnlineEvents | undefined;
  readonly #storageEvents: StorageEvents | undefined;
  readonly #locks: LockManagerLike | undefined;
  readonly #lockName: string;
  /**
   * Writes not yet acknowledged, oldest first: this client's view of the queue in Storage, which
   * every tab of the origin shares and which is the source of truth (see #sync).
   */
  #queue: PendingWrite[];
  /** Writes this client queued and has not seen settled: put back in Storage when missing from it. */
  readonly #own = new Map<string, PendingWrite>();
  /** Writes this client saw settled: never put back in Storage (even when the settled list there is lost). */
  readonly #settled = new Map<string, SettledWrite>();
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
    this.#lockName = `${o.storageKey ?? 'farmbrain'}:queue`;
    this.#probeIntervalMs = o.probeIntervalMs ?? 5000;
    this.#backoff = { ...DEFAULT_BACKOFF, ...o.backoff };
    this.#now = o.now ?? Date.now;
    const g = globalThis as Partial<OnlineEvents>;
    this.#onlineEvents = o.onlineEvents === null ? undefined
      : o.onlineEvents ?? (typeof g.addEventListener === 'function' && typeof g.removeEventListener === 'function' ? (g as OnlineEvents) : undefined);
    this.#storageEvents = o.storageEvents === null ? undefined
      : o.storageEvents ?? (typeof g.addEventListener === 'function' && typeof g.removeEventListener === 'function' ? (g as unknown as StorageEvents) : undefined);
    const nav = (globalThis as { navigator?: { locks?: Partial<LockManagerLike> } }).navigator;
    this.#locks = o.locks === null ? undefined
      : o.locks ?? (typeof nav?.locks?.request === 'function' ? (nav.locks as LockManagerLike) : undefined);
    this.#queue = this.#store.readQueue().sort(byEnqueueOrder);
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
   * acknowledged (by this tab's flush or another tab's), `queued: true` when the gateway did not
   * answer (it is sent later, in order, by whichever tab flushes first). Rejects with the gateway's GatewayError when the gateway refuses it (a 4xx: it is
   * dropped from the queue and shown in `error`).
   */
  async remember(agentId: string, input: RememberInput): Promise<{ eventId: string; memoryId: string; queued: boolean }> {
    this.#use();
    const w = pendingWrite(agentId, input, this.#now());
    if (this.#entries.get(agentId)?.state.error?.eventId !== undefined) this.#update(agentId, { error: undefined });
    this.#sync({ add: w });
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

  /** Writes not yet acknowledged (of one agent, or all; queued by any tab sharing the Storage), oldest first. */
  pending(agentId?: string): PendingWrite[] {
    this.#sync();
    return agentId === undefined ? [...this.#queue] : this.#queue.filter((w) => w.agentId === agentId);
  }

  /**
   * Sends the queued writes now, oldest first, one at a time: each acknowledged one leaves the
   * queue; the first that gets no answer (or a retryable one) stops the pass and is retried with
   * backoff, the ones after it waiting behind it; one the gateway refuses (4xx) is dropped and
   * its error shown. Resolves when the pass is over.
   *
   * The queue is the one in Storage, shared by the tabs of the origin: the pass sends the writes of
   * every tab, reading the queue again before each send, and holds the lock `<storageKey>:queue`
   * (Web Locks) so that one tab at a time flushes. Without Web Locks two tabs may send the same
   * write: a duplicate, which the pipeline drops by event id.
   */
  async flush(): Promise<void> {
    this.#use();
    while (this.#flushing) await this.#flushing;
    this.#sync();
    if (this.#queue.length === 0) return;
    this.#clearRetry();
    this.#flushing = this.#locked(() => this.#drain())
      .then((written) => Promise.all([...written].filter((a) => this.#entries.has(a)).map((a) => this.refresh(a))))
      .then(() => undefined)
      .finally(() => {
        this.#flushing = undefined;
      });
    return this.#flushing;
  }

  /** Runs `fn` holding the queue's lock (across tabs) when there are Web Locks. */
  async #locked<T>(fn: () => Promise<T>): Promise<T> {
    if (!this.#locks) return fn();
    let r: { v: T } | undefined;
    await this.#locks.request(this.#lockName, async () => {
      r = { v: await fn() };
    });
    return r!.v;
  }

  /** Sends the queue, oldest first; returns the agents written to. */
  async #drain(): Promise<Set<string>> {
    const written = new Set<string>();
    while (this.#started) {
      // Read again before each send: another tab may have sent, or queued, writes meanwhile.
      this.#sync();
      const w = this.#queue[0];
      if (!w) break;
      try {
        const r = await this.#http.request<AcceptedBody>('POST', '/v1/events', eventsBody(w));
        if (!r?.accepted?.some((a) => a.eventId === w.eventId)) {
          throw new GatewayError('UNEXPECTED_ANSWER', `POST /v1/events answered without event ${w.eventId}: is baseUrl the farmbrain gateway?`, 200);
        }
        // Acknowledged (duplicate: true when an earlier send had got through and its answer was lost).
        this.#sync({ settled: { eventId: w.eventId, at: this.#now() } });
        this.#settle(w.eventId, { ok: true });
        if (this.#entries.get(w.agentId)?.state.error?.eventId === w.eventId) this.#update(w.agentId, { error: undefined });
        written.add(w.agentId);
        this.#answered();
      } catch (err) {
        if (isRetryable(err)) {
          const tried = { ...w, attempts: w.attempts + 1 };
          this.#sync({ tried });
          this.#update(w.agentId, { error: { ...errorOf(err), eventId: w.eventId } });
          if (isUnreachable(err)) this.#wentUnreachable();
          this.#scheduleRetry(tried.attempts);
          break;
        }
        // Refused: resending it would be refused again. It leaves the queue; the reason stays in `error`.
        const ge = err instanceof GatewayError ? err : new GatewayError('CLIENT_ERROR', String(err), 0);
        this.#sync({ settled: { eventId: w.eventId, at: this.#now(), refused: { code: ge.code, message: ge.message, status: ge.status } } });
        this.#settle(w.eventId, { ok: false, err: ge });
        this.#answered();
        this.#refused(w, ge);
      }
    }
    // What was written shows in the agent's reads once the pipeline applied it (milliseconds): flush() reads them again.
    return written;
  }

  #refused(w: PendingWrite, ge: { code: string; message: string }): void {
    this.#update(w.agentId, { error: { code: ge.code, message: `the write "${w.text.length > 60 ? `${w.text.slice(0, 60)}…` : w.text}" was refused and dropped from the queue: ${ge.message}`, eventId: w.eventId } });
  }

  #settle(eventId: string, o: Outcome): void {
    if (this.#awaited.has(eventId)) this.#awaited.set(eventId, o);
  }

  /**
   * Reads the shared queue in Storage again, applies this client's change, writes it back when it
   * differs and shows it (`pending`). Never a blind overwrite: the queue is the union of what
   * Storage holds and this client's own writes not yet settled, less every write settled (by this
   * client, or by any tab: the settled list in Storage), in enqueue order (byEnqueueOrder). All of
   * it is synchronous: no other code of this page runs between the read and the write.
   */
  #sync(change: QueueChange = {}): void {
    const now = this.#now();
    const { add, settled, tried } = change;
    if (add) this.#own.set(add.eventId, add);
    const stored = this.#store.readQueue();
    const storedSettled = this.#store.readSettled();
    const gone = new Map<string, SettledWrite>(storedSettled.map((d) => [d.eventId, d]));
    for (const [id, d] of this.#settled) if (!gone.has(id)) gone.set(id, d);
    let saved = true;
    if (settled) {
      this.#settled.set(settled.eventId, settled);
      if (this.#settled.size > SETTLED_KEEP_MAX) this.#settled.delete(this.#settled.keys().next().value!);
      this.#own.delete(settled.eventId);
      gone.set(settled.eventId, settled);
      // Settled first, then the queue: a tab that sees the write gone from the queue also sees why.
      saved = this.#store.writeSettled([...storedSettled.filter((d) => d.eventId !== settled.eventId), settled], now);
    }
    // This client's writes that another tab settled: a remember() waiting for one hears the outcome (after the write-back).
    const settledElsewhere: [PendingWrite, SettledWrite][] = [];
    for (const [id, w] of [...this.#own]) {
      const d = gone.get(id);
      if (!d) continue;
      this.#own.delete(id);
      settledElsewhere.push([w, d]);
    }
    const byId = new Map<string, PendingWrite>();
    for (const w of stored) if (!gone.has(w.eventId)) byId.set(w.eventId, w);
    // This client's new writes, and its writes missing from Storage (refused by it, or lost to another writer).
    for (const [id, w] of this.#own) if (!byId.has(id)) byId.set(id, w);
    if (tried) {
      const w = byId.get(tried.eventId);
      if (w) byId.set(tried.eventId, { ...w, attempts: Math.max(w.attempts, tried.attempts) });
      const mine = this.#own.get(tried.eventId);
      if (mine) this.#own.set(tried.eventId, { ...mine, attempts: Math.max(mine.attempts, tried.attempts) });
    }
    const q = [...byId.values()].sort(byEnqueueOrder);
    if (JSON.stringify(q) !== JSON.stringify(stored)) saved = this.#store.writeQueue(q) && saved;
    this.#show(q, saved);
    for (const [w, d] of settledElsewhere) {
      if (d.refused) {
        const err = new GatewayError(d.refused.code, d.refused.message, d.refused.status);
        this.#settle(w.eventId, { ok: false, err });
        this.#refused(w, err);
      } else {
        this.#settle(w.eventId, { ok: true });
      }
    }
  }

  /** Makes `q` the queue shown: each agent whose pending writes changed gets a new snapshot. */
  #show(q: PendingWrite[], saved: boolean): void {
    const before = this.#queue;
    this.#queue = q;
    const agents = new Set([...before, ...q].map((w) => w.agentId));
    for (const a of agents) {
      const e = this.#entries.get(a);
      if (!e) continue;
      const pending = q.filter((w) => w.agentId === a);
      if (!samePending(pending, e.state.pending)) {
        this.#update(a, saved ? { pending } : { pending, error: { code: 'STORAGE_REFUSED', message: 'the browser storage refused the write queue (full, or disabled): queued writes are kept in memory only and are lost if the page is closed before they are sent' } });
      }
    }
  }

  /** Another tab changed the Storage: the queue shown follows. */
  readonly #onStorage = (e: StorageChange): void => {
    if (e.key === null || e.key === this.#store.queueKey || e.key === this.#store.settledKey) this.#sync();
  };

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
    if (!was || this.#flushing) return;
    this.#sync(); // other tabs may have queued writes meanwhile
    if (this.#queue.length > 0) void this.flush();
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
    this.#storageEvents?.addEventListener('storage', this.#onStorage);
    // Other tabs may have changed the queue while this client was not listening.
    this.#sync();
    if (this.#unreachable) this.#schedule('probe', this.#probeIntervalMs);
    else if (this.#queue.length > 0) this.#schedule('retry', 0);
  }

  /** Stops timers and listeners (the queue stays in Storage). start() resumes. */
  close(): void {
    this.#closed = true;
    this.#started = false;
    this.#onlineEvents?.removeEventListener('online', this.#onOnline);
    this.#storageEvents?.removeEventListener('storage', this.#onStorage);
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
