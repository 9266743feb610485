import type { Pool } from '@farmbrain/platform';
import type { AgentDirectory } from './agentDirectory.js';

/** One bucket of a memory-health histogram: its label, its bounds ([lo, hi), hi null: open) and how many memories fall in it. */
export interface HealthBucket {
  label: string;
  lo: number;
  hi: number | null;
  count: number;
}

export interface MemoryHealth {
  agentId: string;
  /** When it was read (epoch ms). */
  at: number;
  totals: {
    /** Live memories (not forgotten): what the buckets count. */
    memories: number;
    /** Of those, replaced in recall by a consolidated memory. */
    consolidated: number;
    /** Of those, past their expiry. */
    expired: number;
    /** Of those, in the hot tier. */
    hot: number;
    /** Forgotten (or erased) memories, not in the buckets. */
    forgotten: number;
    /** Recalls that returned the live memories (sum of their access counts). */
    accesses: number;
    meanImportance: number | null;
  };
  /** Age since creation, in days. */
  age: HealthBucket[];
  /** Times recalled. */
  access: HealthBucket[];
  importance: HealthBucket[];
}

const DAY = 86_400_000;
/** The bucket bounds: age in days, accesses, importance. One table, read by the SQL and the response. */
export const HEALTH_BUCKETS = {
  age: [['<1d', 0, 1], ['1-7d', 1, 7], ['7-30d', 7, 30], ['>30d', 30, null]],
  access: [['0', 0, 1], ['1-4', 1, 5], ['5-19', 5, 20], ['20+', 20, null]],
  importance: [['<0.25', 0, 0.25], ['0.25-0.5', 0.25, 0.5], ['0.5-0.75', 0.5, 0.75], ['≥0.75', 0.75, null]],
} as const satisfies Record<string, readonly (readonly [string, number, number | null])[]>;

/** `count(*) FILTER (…) AS <name>_<i>` for each bucket of one histogram over `expr`, live memories only. */
const filters = (name: keyof typeof HEALTH_BUCKETS, expr: string): string =>
  HEALTH_BUCKETS[name].map(([, lo, hi], i) => `count(*) FILTER (WHERE forgotten_at IS NULL AND ${expr} >= ${lo}${hi === null ? '' : ` AND ${expr} < ${hi}`})::int AS ${name}_${i}`).join(', ');

/**
 * An agent's memories bucketed by age, accesses and importance, with totals, from the live tiering version's
 * `memories` table (read-only). Unknown agent: UNKNOWN_AGENT (404), as every agent-scoped read.
 */
export class MemoryHealthReader {
  constructor(private readonly pool: Pool, private readonly agents: AgentDirectory) {}

  async memoryHealth(agentId: string, now = Date.now()): Promise<MemoryHealth> {
    await this.agents.require(agentId);
    const age = `(extract(epoch FROM ($2::timestamptz - created_at)) * 1000 / ${DAY})`;
    const r = await this.pool.query<Record<string, number | null>>(
      `SELECT count(*) FILTER (WHERE forgotten_at IS NULL)::int AS memories,
              count(*) FILTER (WHERE forgotten_at IS NULL AND consolidated_into IS NOT NULL)::int AS consolidated,
              count(*) FILTER (WHERE forgotten_at IS NULL AND expires_at IS NOT NULL AND expires_at <= $2)::int AS expired,
              count(*) FILTER (WHERE forgotten_at IS NULL AND tier = 'hot')::int AS hot,
              count(*) FILTER (WHERE forgotten_at IS NOT NULL)::int AS forgotten,
              coalesce(sum(access_count) FILTER (WHERE forgotten_at IS NULL), 0)::float8 AS accesses,
              avg(importance) FILTER (WHERE forgotten_at IS NULL)::float8 AS mean_importance,
              ${filters('age', `greatest(${age}, 0)`)}, ${filters('access', 'access_count')}, ${filters('importance', 'importance')}
         FROM memories WHERE agent_id = $1`,
      [agentId, new Date(now)],
    );
    const row = r.rows[0] ?? {};
    const buckets = (name: keyof typeof HEALTH_BUCKETS): HealthBucket[] =>
      HEALTH_BUCKETS[name].map(([label, lo, hi], i) => ({ label, lo, hi, count: Number(row[`${name}_${i}`] ?? 0) }));
    return {
      agentId, at: now,
      totals: {
        memories: Number(row.memories ?? 0), consolidated: Number(row.consolidated ?? 0), expired: Number(row.expired ?? 0), hot: Number(row.hot ?? 0),
        forgotten: Number(row.forgotten ?? 0), accesses: Number(row.accesses ?? 0), meanImportance: row.mean_importance ?? null,
      },
      age: buckets('age'), access: buckets('access'), importance: buckets('importance'),
    };
  }
}
