/**
 * What every fleet member shares: its SDK client, calls that log a rejection
 * and carry on, reads that fall back to nothing, and the scope a shared memory
 * gets under the scope policy.
 */
import { writeDenial, type MemoryKind, type Scope, type ScopePolicy } from '@farmbrain/contracts';
import type { MemoryInput } from '@farmbrain/sdk';
import { errorCode, errorMessage } from './format.js';
import type { Ack, AgentSdk, GatewayHttp, Log } from './ports.js';
import type { ReadMonitor } from './readMonitor.js';
import type { FleetStats } from './stats.js';

/** What the fleet hands each member. */
export interface MemberDeps {
  sdk: AgentSdk;
  /** Absent: no gateway, the member records but never reads. */
  gateway: GatewayHttp | undefined;
  policy: ScopePolicy;
  reads: ReadMonitor;
  log: Log;
  stats: FleetStats;
  /** Epoch ms (memory expiries). */
  now: () => number;
}

export interface ScopeChoice {
  scope: Scope;
  scopeId: string;
}

export interface SharedMemory {
  kind: MemoryKind;
  tags: string[];
  text: string;
  importance: number;
  scope: Scope;
  scopeId: string;
  /** How the log names it. */
  label: string;
}

export abstract class FleetMember {
  readonly id: string;
  readonly sdk: AgentSdk;
  protected readonly gateway: GatewayHttp | undefined;
  protected readonly policy: ScopePolicy;
  protected readonly reads: ReadMonitor;
  protected readonly log: Log;
  protected readonly stats: FleetStats;
  protected readonly now: () => number;
  /** Shared scopes the policy refused this member (logged once each). */
  readonly #denied = new Set<string>();

  constructor(id: string, deps: MemberDeps) {
    this.id = id;
    this.sdk = deps.sdk;
    this.gateway = deps.gateway;
    this.policy = deps.policy;
    this.reads = deps.reads;
    this.log = deps.log;
    this.stats = deps.stats;
    this.now = deps.now;
  }

  /** Registers and marks itself active. */
  abstract start(): Promise<void>;
  /** Memory set-up once the gateway answers. */
  abstract prepare(): Promise<void>;
  /** One market tick. */
  abstract tick(): Promise<void>;
  /** `clean`: the loop finished, so wind down (flatten, withdraw, mark stopped) before closing the client. */
  abstract stop(timeoutMs: number, clean: boolean): Promise<void>;

  /** Runs one SDK call; a rejection is logged with its code and the member carries on (null). */
  async call<T>(what: string, fn: () => Promise<T>): Promise<T | null> {
    try {
      return await fn();
    } catch (err) {
      this.stats.errors += 1;
      this.log(`${this.id}: ${what} rejected: ${errorCode(err)}: ${errorMessage(err)}`);
      return null;
    }
  }

  /** One read through the gateway; null (and the fleet's read monitor told) when it fails or there is no gateway. */
  async read<T>(what: string, fn: (gateway: GatewayHttp) => Promise<T>): Promise<T | null> {
    if (!this.gateway) return null;
    try {
      const r = await fn(this.gateway);
      this.reads.ok();
      return r;
    } catch (err) {
      this.reads.failed(this.id, what, err);
      return null;
    }
  }

  /** The scope a memory meant for (scope, scopeId) gets: that one when the policy lets this member write it, else private. */
  scopeFor(scope: Scope, scopeId = ''): ScopeChoice {
    if (scope === 'agent') return { scope: 'agent', scopeId: '' };
    const denial = writeDenial(this.policy, this.id, scope, scopeId);
    if (!denial) return { scope, scopeId: scope === 'team' ? scopeId : '' };
    const key = scope === 'fleet' ? 'fleet' : `team:${scopeId}`;
    if (!this.#denied.has(key)) {
      this.#denied.add(key);
      this.log(`${this.id}: keeps the memories it meant for ${key} private: ${denial}`);
    }
    return { scope: 'agent', scopeId: '' };
  }

  /** Stores a memory; counts it, and shared ones separately. Resolves with the receipt (with memoryId) or null. */
  async remember(m: MemoryInput): Promise<(Ack & { memoryId: string }) | null> {
    const r = await this.call('remember', () => this.sdk.remember(m));
    if (r) {
      this.stats.memories += 1;
      if (m.scope && m.scope !== 'agent') this.stats.shared += 1;
    }
    return r;
  }

  /**
   * A shared memory this member keeps across runs (a playbook, the risk limits):
   * found with a recall by its tags, updated when there, stored when not.
   */
  async keepShared({ kind, tags, text, importance, scope, scopeId, label }: SharedMemory): Promise<string | undefined> {
    const found = await this.read('recall', () => this.sdk.recall({ kinds: [kind], tags, scopes: [scope], k: 20 }));
    const mine = found?.hits.find((h) => h.memory.agentId === this.id && h.memory.scope === scope && h.memory.scopeId === scopeId);
    if (mine) {
      const u = await this.call('updateMemory', () => this.sdk.updateMemory({ memoryId: mine.memory.memoryId, text, importance }));
      if (u) {
        this.stats.updates += 1;
        this.log(`${this.id} updates ${label} (memory ${mine.memory.memoryId}, version ${mine.memory.version} -> ${mine.memory.version + 1})`);
      }
      return mine.memory.memoryId;
    }
    const m = await this.remember({ kind, text, tags, importance, scope, scopeId });
    if (m) this.log(`${this.id} stores ${label}${scope === 'agent' ? ' (privately)' : ''} (memory ${m.memoryId})`);
    return m?.memoryId;
  }
}
