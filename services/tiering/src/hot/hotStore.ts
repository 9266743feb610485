import type { Redis } from 'ioredis';
import type { FarmEvent } from '@farmbrain/contracts';
import { isMemoryChange, type HotSnapshots } from '../warm/warmStore.js';

/** Redis keys of one agent's hot state. The gateway reads the same layout. */
export const hotKeys = (prefix: string, agentId: string) => ({
  state: `${prefix}agent:${agentId}`,
  decisions: `${prefix}agent:${agentId}:decisions`,
  positions: `${prefix}agent:${agentId}:positions`,
  memories: `${prefix}agent:${agentId}:memories`,
  recentMemories: `${prefix}agent:${agentId}:memories:recent`,
  fleet: `${prefix}agents`,
});

/**
 * One hot-state change, tagged with the producer sequence of the event it comes from.
 * Values are absolute (set to X), never increments, so applying them is idempotent.
 */
export type HotOp =
  | { s: string; t: 'state'; f: Record<string, string> }
  | { s: string; t: 'dec'; v: string }
  | { s: string; t: 'pos'; f: Record<string, string> }
  | { s: string; t: 'mem'; id: string; v: string | null; score: string };

/**
 * Applies an agent's ops atomically, skipping every op whose sequence is not
 * above the agent's `_seq`: a redelivery or replay can never move state back.
 * KEYS: state, decisions, positions, memories, recentMemories, fleet.
 * ARGV: ops JSON, max decisions kept, max recent memories kept, agent id.
 */
const APPLY_LUA = `
local cur = redis.call('HGET', KEYS[1], '_seq')
local seq = tonumber(cur or '0')
local ops = cjson.decode(ARGV[1])
local nDec = tonumber(ARGV[2])
local nMem = tonumber(ARGV[3])
local best, bestStr = seq, nil
local applied = 0
for _, op in ipairs(ops) do
  local s = tonumber(op.s)
  if s > seq then
    applied = applied + 1
    if op.t == 'state' then
      for k, v in pairs(op.f) do redis.call('HSET', KEYS[1], k, v) end
    elseif op.t == 'dec' then
      redis.call('LPUSH', KEYS[2], op.v)
      redis.call('LTRIM', KEYS[2], 0, nDec - 1)
    elseif op.t == 'pos' then
      redis.call('DEL', KEYS[3])
      for k, v in pairs(op.f) do redis.call('HSET', KEYS[3], k, v) end
    elseif op.t == 'mem' then
      if op.v ~= cjson.null and op.v ~= nil then
        redis.call('HSET', KEYS[4], op.id, op.v)
        redis.call('ZADD', KEYS[5], op.score, op.id)
        local extra = redis.call('ZCARD', KEYS[5]) - nMem
        if extra > 0 then
          local old = redis.call('ZRANGE', KEYS[5], 0, extra - 1)
          for _, id in ipairs(old) do redis.call('HDEL', KEYS[4], id) end
          redis.call('ZREMRANGEBYRANK', KEYS[5], 0, extra - 1)
        end
      else
        redis.call('HDEL', KEYS[4], op.id)
        redis.call('ZREM', KEYS[5], op.id)
      end
    end
    if s > best then best = s; bestStr = op.s end
  end
end
if bestStr then
  redis.call('HSET', KEYS[1], '_seq', bestStr)
  redis.call('SADD', KEYS[6], ARGV[4])
end
return applied
`;

export interface HotStoreOptions {
  prefix: string;
  maxDecisions: number;
  maxMemories: number;
}

type RedisWithApply = Redis & {
  fbApplyHot(k1: string, k2: string, k3: string, k4: string, k5: string, k6: string, ops: string, nDec: number, nMem: number, agentId: string): Promise<number>;
};

export class HotStore {
  readonly #redis: RedisWithApply;
  constructor(redis: Redis, private readonly o: HotStoreOptions) {
    if (!('fbApplyHot' in redis)) redis.defineCommand('fbApplyHot', { numberOfKeys: 6, lua: APPLY_LUA });
    this.#redis = redis as RedisWithApply;
  }

  /** Applies each agent's ops in one round trip for the whole batch. Returns the ops applied. */
  async apply(byAgent: Map<string, HotOp[]>): Promise<number> {
    if (byAgent.size === 0) return 0;
    const pipe = this.#redis.pipeline() as unknown as RedisWithApply & { exec(): Promise<[Error | null, unknown][] | null> };
    for (const [agentId, ops] of byAgent) {
      const k = hotKeys(this.o.prefix, agentId);
      pipe.fbApplyHot(k.state, k.decisions, k.positions, k.memories, k.recentMemories, k.fleet, JSON.stringify(ops), this.o.maxDecisions, this.o.maxMemories, agentId);
    }
    const res = (await pipe.exec()) ?? [];
    let n = 0;
    for (const [err, v] of res) {
      if (err) throw err;
      n += Number(v);
    }
    return n;
  }
}

/** The decision as the hot tier keeps it: deterministic JSON, newest first in the list. */
export const decisionJson = (e: Extract<FarmEvent, { type: 'decision_made' }>): string =>
  JSON.stringify({
    decisionId: e.eventId,
    symbol: e.data.symbol,
    action: e.data.action,
    size: e.data.size,
    confidence: e.data.confidence,
    rationale: e.data.rationale,
    memoryIds: e.data.memoryIds,
    occurredAt: e.occurredAt,
  });

/**
 * Turns a batch (in log order) and the warm snapshots into ordered hot ops per
 * agent. Snapshot ops (positions, memories) carry the sequence of the last event
 * of the batch that touched them.
 */
export function buildHotOps(events: readonly FarmEvent[], snaps: HotSnapshots): Map<string, HotOp[]> {
  const out = new Map<string, HotOp[]>();
  const lastPos = new Map<string, number>();
  const lastMem = new Map<string, { agentId: string; seq: number }>();
  const push = (agentId: string, op: HotOp) => {
    let l = out.get(agentId);
    if (!l) out.set(agentId, (l = []));
    l.push(op);
  };
  events.forEach((e, i) => {
    if (e.type === 'trade_executed' || e.type === 'position_closed') lastPos.set(e.agentId, i);
    if (isMemoryChange(e)) lastMem.set(e.data.memoryId, { agentId: e.agentId, seq: i });
  });
  const memAt = new Map<number, string>();
  for (const [id, v] of lastMem) memAt.set(v.seq, id);
  // A duplicate (same event again, or anything not above the agent's last
  // sequence in this batch) contributes nothing; Redis guards across batches.
  const seqOf = new Map<string, number>();
  // Snapshot ops anchored on event i: emitted even for a duplicate, at the agent's current sequence.
  const pushSnapshots = (e: FarmEvent, i: number, s: string) => {
    if (lastPos.get(e.agentId) === i) push(e.agentId, { s, t: 'pos', f: snaps.positions.get(e.agentId) ?? {} });
    const memId = memAt.get(i);
    if (memId === undefined) return;
    const m = snaps.memories.get(memId);
    // A memory id owned by another agent is never mirrored into this agent's hot state.
    if (!m || m.agentId === e.agentId) push(e.agentId, { s, t: 'mem', id: memId, v: m?.json ?? null, score: String(m?.createdAt ?? 0) });
  };
  events.forEach((e, i) => {
    const prev = seqOf.get(e.agentId) ?? 0;
    if (e.producerSeq <= prev) {
      pushSnapshots(e, i, String(prev));
      return;
    }
    seqOf.set(e.agentId, e.producerSeq);
    const s = String(e.producerSeq);
    const base: Record<string, string> = { lastEventAt: String(e.occurredAt), lastEventType: e.type };
    switch (e.type) {
      case 'agent_registered':
        push(e.agentId, { s, t: 'state', f: { ...base, name: e.data.name, team: e.data.team, strategy: e.data.strategy, config: JSON.stringify(e.data.config) } });
        break;
      case 'agent_state_changed':
        push(e.agentId, { s, t: 'state', f: { ...base, status: e.data.status, ...(e.data.config ? { config: JSON.stringify(e.data.config) } : {}) } });
        break;
      case 'decision_made':
        push(e.agentId, { s, t: 'state', f: base });
        push(e.agentId, { s, t: 'dec', v: decisionJson(e) });
        break;
      default:
        push(e.agentId, { s, t: 'state', f: base });
    }
    pushSnapshots(e, i, s);
  });
  // Several ops of one event share its sequence: the guard compares against the
  // agent's _seq only, so ops of the same event are applied together.
  return out;
}
