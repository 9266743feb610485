import type { StorageLike } from './memoryStorage.js';
import type { AgentState, DecisionItem, MemoryItem, PendingWrite } from './types.js';

/**
 * A queued write some tab saw settled: acknowledged by the gateway, or refused (a 4xx, then
 * `refused` says why). Kept a while (see LastKnownStore.writeDone) so that every tab sharing the
 * queue knows the write is gone for good and does not put it back.
 */
export interface SettledWrite {
  eventId: string;
  /** When it was settled, epoch ms (the client's clock). */
  at: number;
  refused?: { code: string; message: string; status: number };
}

/** How long, and how many, settled writes are remembered (the gateway refuses events older than 7 days anyway). */
export const SETTLED_KEEP_MS = 7 * 24 * 3600 * 1000;
export const SETTLED_KEEP_MAX = 1000;

/** The last answer the gateway gave for an agent, as kept in Storage. */
export interface LastKnown {
  agent: AgentState | undefined;
  memories: MemoryItem[];
  decisions: DecisionItem[];
  fetchedAt: number;
}

/** Bumped when what is stored changes shape: older copies are then ignored. */
const LAYOUT = 1;

/**
 * What survives a reload, in a Storage (localStorage): the last known copy of each agent and the
 * queue of writes not yet acknowledged. Storage can refuse (quota, private mode) or hold garbage:
 * a write that fails reports it, a read of something unreadable is treated as absent.
 */
export class LastKnownStore {
  constructor(private readonly storage: StorageLike, private readonly prefix: string) {}

  #agentKey = (agentId: string) => `${this.prefix}:v${LAYOUT}:agent:${agentId}`;
  /** The Storage key of the write queue (an array of PendingWrite, shared by every tab of the origin). */
  get queueKey(): string {
    return `${this.prefix}:v${LAYOUT}:queue`;
  }

  /** The Storage key of the writes recently settled (an array of SettledWrite). */
  get settledKey(): string {
    return `${this.prefix}:v${LAYOUT}:settled`;
  }

  readAgent(agentId: string): LastKnown | undefined {
    const v = this.#read(this.#agentKey(agentId)) as LastKnown | undefined;
    return v && Array.isArray(v.memories) && Array.isArray(v.decisions) && typeof v.fetchedAt === 'number' ? v : undefined;
  }

  /** false when Storage refused it (the copy then lives in memory only). */
  writeAgent(agentId: string, v: LastKnown): boolean {
    return this.#write(this.#agentKey(agentId), v);
  }

  readQueue(): PendingWrite[] {
    const v = this.#read(this.queueKey);
    return Array.isArray(v) ? v.filter((w): w is PendingWrite => typeof w?.eventId === 'string' && typeof w?.agentId === 'string' && typeof w?.text === 'string') : [];
  }

  /** false when Storage refused it (the queue then lives in memory only: a reload loses it). */
  writeQueue(q: readonly PendingWrite[]): boolean {
    if (q.length === 0) return this.#remove(this.queueKey);
    return this.#write(this.queueKey, q);
  }

  readSettled(): SettledWrite[] {
    const v = this.#read(this.settledKey);
    return Array.isArray(v) ? v.filter((d): d is SettledWrite => typeof d?.eventId === 'string' && typeof d?.at === 'number') : [];
  }

  /** Keeps the newest SETTLED_KEEP_MAX entries of the last SETTLED_KEEP_MS; false when Storage refused it. */
  writeSettled(list: readonly SettledWrite[], now: number): boolean {
    const kept = list.filter((d) => d.at > now - SETTLED_KEEP_MS).sort((a, b) => a.at - b.at).slice(-SETTLED_KEEP_MAX);
    if (kept.length === 0) return this.#remove(this.settledKey);
    return this.#write(this.settledKey, kept);
  }

  #remove(key: string): boolean {
    try {
      this.storage.removeItem(key);
      return true;
    } catch {
      return false;
    }
  }

  #read(key: string): unknown {
    try {
      const s = this.storage.getItem(key);
      return s === null ? undefined : JSON.parse(s);
    } catch {
      return undefined;
    }
  }

  #write(key: string, v: unknown): boolean {
    try {
      this.storage.setItem(key, JSON.stringify(v));
      return true;
    } catch {
      return false;
    }
  }
}
