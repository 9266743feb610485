import type { Pool } from '@farmbrain/platform';
import { UnknownAgentError } from '../http/errors.js';

export interface AgentDirectoryOptions {
  /** How long a known agent stays known without asking Postgres again, ms. */
  ttlMs?: number;
  /** Most agents remembered; the cache starts over beyond it. */
  maxEntries?: number;
}

/**
 * Which agents exist: those with a row in `agents` (tiering adds one for the
 * first event of every agent). Every agent-scoped read asks here first, so a
 * read of an agent that never recorded an event answers UNKNOWN_AGENT and does
 * nothing else (in particular, a recall publishes no memory_recalled event,
 * which would otherwise make tiering create the agent).
 *
 * Known agents are cached for a few seconds (an agent is never removed, so a
 * stale "known" is harmless); unknown ones are not cached, so an agent is
 * readable as soon as tiering has applied its first event.
 */
export class AgentDirectory {
  readonly #known = new Map<string, number>();
  readonly #ttlMs: number;
  readonly #max: number;

  constructor(private readonly pool: Pool, o: AgentDirectoryOptions = {}) {
    this.#ttlMs = o.ttlMs ?? 5000;
    this.#max = o.maxEntries ?? 100_000;
  }

  async known(agentId: string): Promise<boolean> {
    const until = this.#known.get(agentId);
    if (until !== undefined && until > Date.now()) return true;
    const r = await this.pool.query('SELECT 1 FROM agents WHERE agent_id = $1', [agentId]);
    if (r.rowCount === 0) {
      this.#known.delete(agentId);
      return false;
    }
    if (this.#known.size >= this.#max) this.#known.clear();
    this.#known.set(agentId, Date.now() + this.#ttlMs);
    return true;
  }

  /** Resolves when the agent exists; rejects with UnknownAgentError (404 UNKNOWN_AGENT) otherwise. */
  async require(agentId: string): Promise<void> {
    if (!(await this.known(agentId))) throw new UnknownAgentError(agentId);
  }
}
