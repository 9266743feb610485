import type { Redis } from 'ioredis';
import { bySymbol, type AgentView, type ViewLimits } from './agentView.js';
import type { AgentSummary, DecisionItem, MemoryCore, PositionItem } from './rows.js';

/**
 * The hot tier: a copy in Redis of each agent's view (see AgentView), written
 * only by tiering, read by the gateway. The copy is always either complete and
 * equal to what Postgres gives for the agent, or marked incomplete (no
 * `_complete` field), in which case readers go to Postgres. After Redis loses
 * data, tiering rebuilds an agent's copy from Postgres at the agent's next event.
 *
 * Keys of agent `a` under prefix `p`:
 * - `p agent:a` hash: `view` (summary JSON), `_complete` ('1'), `_v` (canonical seq of the last snapshot);
 * - `p agent:a:decisions` zset (member decisionId, score occurredAt ms) and `…:decisions:docs` hash id → JSON;
 * - `p agent:a:positions` hash symbol → JSON (open positions);
 * - `p agent:a:memories` hash memoryId → JSON and `…:memories:recent` zset (score createdAt ms).
 * Equal scores order by member in byte order, as the Postgres reads do.
 */
/** The gateway's cache of a recalled memory's content (exact version), under the same prefix. */
export const memdocKey = (prefix: string, memoryId: string): string => `${prefix}memdoc:${memoryId}`;

/**
 * What the recalled-memory cache holds for an erased memory (tiering writes it
 * after the erasure commits): no content, and the gateway never caches a view
 * over it, so a recall that read the memory just before the erasure cannot put
 * its text back. It lasts as long as the longest cache entry may (FB_HOT_MEMORY_TTL_S at most 30 days).
 */
export const ERASED_MEMDOC = '{"erased":true}';
export const ERASED_MEMDOC_TTL_S = 30 * 86_400;

/**
 * Every key of a version's hot state under `prefix`, as SCAN patterns (agents'
 * copies, partition marks, the recalled-memory cache): what `farmbrain drop`
 * deletes. A later version's prefix extends the first's (`fb:` and
 * `fb:tiering_v2:`), so nothing is deleted by prefix alone.
 */
export const hotKeyPatterns = (prefix: string): string[] => [`${prefix}agent:*`, `${prefix}hot:*`, `${prefix}memdoc:*`];

export const hotKeys = (prefix: string, agentId: string) => {
  const base = `${prefix}agent:${agentId}`;
  return [base, `${base}:decisions`, `${base}:decisions:docs`, `${base}:positions`, `${base}:memories`, `${base}:memories:recent`] as const;
};

/**
 * What one batch changes in an agent's view. Snapshots (summary, positions,
 * memories) are read from Postgres after the batch committed; `asOf` is the
 * batch's last canonical sequence, and a snapshot never replaces a newer one.
 * Decisions never change once written, so adding one again is harmless.
 */
export interface HotChange {
  agentId: string;
  asOf: number;
  summary?: AgentSummary;
  decisions?: DecisionItem[];
  /** The whole set of open positions (when the batch touched positions). */
  positions?: PositionItem[];
  /** All of the agent's newest memories (replaces what is kept), or single changes. */
  memories?: { all?: MemoryCore[]; upserts?: MemoryCore[]; removals?: string[] };
}

const ms = (iso: string | null): string => String(iso ? Date.parse(iso) : 0);

// KEYS: the six keys. ARGV: change JSON, as-of, decisions kept, memories kept.
// Returns 0 without touching anything when the copy is not complete (Redis lost it, or never had it).
const APPLY = `
if redis.call('HGET', KEYS[1], '_complete') ~= '1' then return 0 end
local c = cjson.decode(ARGV[1])
local asOf = tonumber(ARGV[2])
local nDec, nMem = tonumber(ARGV[3]), tonumber(ARGV[4])
local function trim(z, h, n)
  local extra = redis.call('ZCARD', z) - n
  if extra > 0 then
    local old = redis.call('ZRANGE', z, 0, extra - 1)
    for _, id in ipairs(old) do redis.call('HDEL', h, id) end
    redis.call('ZREMRANGEBYRANK', z, 0, extra - 1)
  end
end
if c.d then
  for _, d in ipairs(c.d) do
    redis.call('ZADD', KEYS[2], d[2], d[1])
    redis.call('HSET', KEYS[3], d[1], d[3])
  end
  trim(KEYS[2], KEYS[3], nDec)
end
if asOf >= tonumber(redis.call('HGET', KEYS[1], '_v') or '0') then
  if c.s then redis.call('HSET', KEYS[1], 'view', c.s) end
  if c.p then
    redis.call('DEL', KEYS[4])
    for _, p in ipairs(c.p) do redis.call('HSET', KEYS[4], p[1], p[2]) end
  end
  if c.ma then
    redis.call('DEL', KEYS[5], KEYS[6])
    for _, m in ipairs(c.ma) do
      redis.call('HSET', KEYS[5], m[1], m[3])
      redis.call('ZADD', KEYS[6], m[2], m[1])
    end
  end
  if c.mu then
    for _, m in ipairs(c.mu) do
      redis.call('HSET', KEYS[5], m[1], m[3])
      redis.call('ZADD', KEYS[6], m[2], m[1])
    end
    trim(KEYS[6], KEYS[5], nMem)
  end
  if c.mr then
    for _, id in ipairs(c.mr) do
      redis.call('HDEL', KEYS[5], id)
      redis.call('ZREM', KEYS[6], id)
    end
  end
  redis.call('HSET', KEYS[1], '_v', ARGV[2])
end
return 1
`;

// KEYS: the six keys. ARGV: whole view JSON (same encoding as APPLY), as-of. Replaces everything, then marks it complete;
// returns 0 and changes nothing when a complete copy newer than this view is already there.
const HYDRATE = `
local h = redis.call('HMGET', KEYS[1], '_complete', '_v')
if h[1] == '1' and tonumber(h[2] or '0') > tonumber(ARGV[2]) then return 0 end
local c = cjson.decode(ARGV[1])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6])
for _, d in ipairs(c.d) do
  redis.call('ZADD', KEYS[2], d[2], d[1])
  redis.call('HSET', KEYS[3], d[1], d[3])
end
for _, p in ipairs(c.p) do redis.call('HSET', KEYS[4], p[1], p[2]) end
for _, m in ipairs(c.ma) do
  redis.call('HSET', KEYS[5], m[1], m[3])
  redis.call('ZADD', KEYS[6], m[2], m[1])
end
redis.call('HSET', KEYS[1], 'view', c.s, '_v', ARGV[2], '_complete', '1')
return 1
`;

// KEYS: the six keys. ARGV: decisions shown, memories shown. One atomic read of a complete copy, or nil.
const READ = `
local h = redis.call('HMGET', KEYS[1], '_complete', 'view')
if h[1] ~= '1' then return false end
local dids = redis.call('ZREVRANGE', KEYS[2], 0, tonumber(ARGV[1]) - 1)
local decs = {}
if #dids > 0 then decs = redis.call('HMGET', KEYS[3], unpack(dids)) end
local mids = redis.call('ZREVRANGE', KEYS[6], 0, tonumber(ARGV[2]) - 1)
local mems = {}
if #mids > 0 then mems = redis.call('HMGET', KEYS[5], unpack(mids)) end
return { h[2], decs, redis.call('HVALS', KEYS[4]), mems }
`;

// KEYS: a partition's mark. ARGV: seq. Raises the mark to seq (never lowers it).
const MARK = `
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > cur then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
`;

type Cmd = (k1: string, k2: string, k3: string, k4: string, k5: string, k6: string, ...args: (string | number)[]) => Promise<unknown>;
type MarkCmd = (key: string, seq: number) => Promise<unknown>;
type HotRedis = Redis & { fbHotApply: Cmd; fbHotHydrate: Cmd; fbHotRead: Cmd; fbHotMark: MarkCmd };
type Pipe = { fbHotApply: Cmd; fbHotHydrate: Cmd; fbHotMark: MarkCmd; exec(): Promise<[Error | null, unknown][] | null> };

const decisionTuple = (d: DecisionItem) => [d.decisionId, ms(d.occurredAt), JSON.stringify(d)];
const memoryTuple = (m: MemoryCore) => [m.memoryId, ms(m.createdAt), JSON.stringify(m)];
const positionTuple = (p: PositionItem) => [p.symbol, JSON.stringify(p)];

/** A change as the APPLY script reads it: only what the batch touched. */
const encodeChange = (c: HotChange) => JSON.stringify({
  ...(c.summary ? { s: JSON.stringify(c.summary) } : {}),
  ...(c.decisions?.length ? { d: c.decisions.map(decisionTuple) } : {}),
  ...(c.positions ? { p: c.positions.map(positionTuple) } : {}),
  ...(c.memories?.all ? { ma: c.memories.all.map(memoryTuple) } : {}),
  ...(c.memories?.upserts?.length ? { mu: c.memories.upserts.map(memoryTuple) } : {}),
  ...(c.memories?.removals?.length ? { mr: c.memories.removals } : {}),
});

/** A whole view as the HYDRATE script reads it: every part present. */
const encodeView = (v: AgentView) => JSON.stringify({
  s: JSON.stringify(v.summary), d: v.decisions.map(decisionTuple), p: v.positions.map(positionTuple), ma: v.memories.map(memoryTuple),
});

export class HotView {
  readonly #redis: HotRedis;

  constructor(redis: Redis, private readonly prefix: string, readonly keep: ViewLimits) {
    const r = redis as HotRedis;
    if (!('fbHotApply' in r)) {
      redis.defineCommand('fbHotApply', { numberOfKeys: 6, lua: APPLY });
      redis.defineCommand('fbHotHydrate', { numberOfKeys: 6, lua: HYDRATE });
      redis.defineCommand('fbHotRead', { numberOfKeys: 6, lua: READ });
      redis.defineCommand('fbHotMark', { numberOfKeys: 1, lua: MARK });
      redis.defineCommand('fbDropDoc', { numberOfKeys: 1, lua: "if redis.call('GET', KEYS[1]) == ARGV[1] then return 0 end return redis.call('DEL', KEYS[1])" });
    }
    this.#redis = r;
  }

  /**
   * Applies each agent's change, and raises the partition's mark to `through`
   * (the log position the partition's copies now reflect), in one atomic
   * transaction: a Redis snapshot holds all of a batch or none of it, so a mark
   * read back after a restart says truly how far the copies go. Returns the
   * agents whose copy is not complete (to hydrate), and the mark as it was
   * before (below what was last written means Redis lost writes), read in the
   * same round trip.
   */
  async apply(changes: readonly HotChange[], through?: { partition: number; seq: number }): Promise<{ cold: string[]; markBefore: number }> {
    if (changes.length === 0 && !through) return { cold: [], markBefore: 0 };
    const tx = this.#redis.multi() as unknown as Pipe & { get(key: string): unknown };
    if (through) tx.get(this.#markKey(through.partition));
    for (const c of changes) {
      tx.fbHotApply(...hotKeys(this.prefix, c.agentId), encodeChange(c), c.asOf, this.keep.decisions, this.keep.memories);
    }
    if (through) tx.fbHotMark(this.#markKey(through.partition), through.seq);
    const res = (await tx.exec()) ?? [];
    for (const [err] of res) if (err) throw err;
    const first = through ? 1 : 0;
    const cold = changes.filter((_, i) => Number(res[first + i]?.[1]) === 0).map((c) => c.agentId);
    return { cold, markBefore: through ? Number(res[0]?.[1] ?? 0) || 0 : 0 };
  }

  #markKey(partition: number): string {
    return `${this.prefix}hot:through:${partition}`;
  }

  /**
   * How far (canonical sequence) the partition's copies reflect the log, as
   * Redis holds it (checked against the checkpoint when Redis comes back).
   */
  async through(partition: number): Promise<number> {
    return Number((await this.#redis.get(this.#markKey(partition))) ?? 0) || 0;
  }

  /** Raises the partition's mark (after its copies were rebuilt as of `seq`). */
  async markThrough(partition: number, seq: number): Promise<void> {
    await this.#redis.fbHotMark(this.#markKey(partition), seq);
  }

  /**
   * Replaces each agent's copy with its whole view (read from Postgres as of
   * canonical sequence `asOf`) and marks it complete, unless a newer complete
   * copy is there already (a rebuild racing the agent's own next batch never wins with older data).
   */
  async hydrate(views: ReadonlyMap<string, AgentView>, asOf: number): Promise<void> {
    if (views.size === 0) return;
    const pipe = this.#redis.pipeline() as unknown as Pipe;
    for (const [agentId, v] of views) {
      pipe.fbHotHydrate(...hotKeys(this.prefix, agentId), encodeView(v), asOf);
    }
    for (const [err] of (await pipe.exec()) ?? []) if (err) throw err;
  }

  /** Replaces the recalled-memory cache entries of erased memories with the tombstone (ERASED_MEMDOC). */
  async eraseDocs(memoryIds: readonly string[]): Promise<void> {
    if (memoryIds.length === 0) return;
    const pipe = this.#redis.pipeline();
    for (const id of new Set(memoryIds)) pipe.set(memdocKey(this.prefix, id), ERASED_MEMDOC, 'EX', ERASED_MEMDOC_TTL_S);
    for (const [err] of (await pipe.exec()) ?? []) if (err) throw err;
  }

  /**
   * Drops the recalled-memory cache entries of memories that changed tier (promoted or demoted): the next
   * recall caches each again for as long as its new tier says. An erasure's tombstone is kept.
   */
  async dropDocs(memoryIds: readonly string[]): Promise<void> {
    if (memoryIds.length === 0) return;
    const pipe = this.#redis.pipeline();
    for (const id of new Set(memoryIds)) (pipe as unknown as { fbDropDoc(key: string, tombstone: string): unknown }).fbDropDoc(memdocKey(this.prefix, id), ERASED_MEMDOC);
    for (const [err] of (await pipe.exec()) ?? []) if (err) throw err;
  }

  /** True while the Redis connection is up (a write can reach Redis). */
  get connected(): boolean {
    return this.#redis.status === 'ready';
  }

  /** Marks these agents' copies incomplete: readers go to Postgres until tiering rebuilds them. */
  async invalidate(agentIds: readonly string[]): Promise<void> {
    if (agentIds.length === 0) return;
    const pipe = this.#redis.pipeline();
    for (const a of agentIds) pipe.hdel(hotKeys(this.prefix, a)[0], '_complete');
    for (const [err] of (await pipe.exec()) ?? []) if (err) throw err;
  }

  /** Which of these agents have no complete copy (Redis lost it, or never had it). */
  async incomplete(agentIds: readonly string[]): Promise<string[]> {
    if (agentIds.length === 0) return [];
    const pipe = this.#redis.pipeline();
    for (const a of agentIds) pipe.hget(hotKeys(this.prefix, a)[0], '_complete');
    const res = (await pipe.exec()) ?? [];
    return agentIds.filter((_, i) => {
      const [err, v] = res[i] ?? [null, null];
      if (err) throw err;
      return v !== '1';
    });
  }

  /** The agent's view from Redis, or undefined when the copy is not complete (read Postgres then). */
  async read(agentId: string, show: ViewLimits): Promise<AgentView | undefined> {
    const r = (await this.#redis.fbHotRead(...hotKeys(this.prefix, agentId), show.decisions, show.memories)) as
      [string, (string | null)[], string[], (string | null)[]] | null;
    if (!r) return undefined;
    const parse = <T>(xs: (string | null)[]): T[] => xs.filter((x): x is string => x !== null).map((x) => JSON.parse(x) as T);
    return {
      summary: JSON.parse(r[0]) as AgentSummary,
      decisions: parse<DecisionItem>(r[1]),
      positions: parse<PositionItem>(r[2]).sort(bySymbol),
      memories: parse<MemoryCore>(r[3]),
    };
  }
}
