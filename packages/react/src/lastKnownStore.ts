import type { StorageLike } from './memoryStorage.js';
import type { AgentState, DecisionItem, MemoryItem, PendingWrite } from './types.js';

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
  get #queueKey() {
    return `${this.prefix}:v${LAYOUT}:queue`;
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
    const v = this.#read(this.#queueKey);
    return Array.isArray(v) ? v.filter((w): w is PendingWrite => typeof w?.eventId === 'string' && typeof w?.agentId === 'string' && typeof w?.text === 'string') : [];
  }

  /** false when Storage refused it (the queue then lives in memory only: a reload loses it). */
  writeQueue(q: readonly PendingWrite[]): boolean {
    if (q.length === 0) {
      try {
        this.storage.removeItem(this.#queueKey);
        return true;
      } catch {
        return false;
      }
    }
    return this.#write(this.#queueKey, q);
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
