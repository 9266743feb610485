import { quoteIdent, type Pool } from '@farmbrain/platform';

type Queryable = Pick<Pool, 'query'>;
import type { ExportedCheckpoint, ExportedMemory } from './agentFile.js';

/** Columns that say where a row sits in one deployment's log, not what it holds: left out of files and comparisons. */
const LOCAL_COLUMNS = new Set(['stream_seq', 'part', 'change_seq', 'owner_key', 'tsv']);

async function columnsOf(pool: Queryable, table: string): Promise<string[]> {
  const r = await pool.query<{ c: string }>(
    `SELECT column_name AS c FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = $1 AND is_generated = 'NEVER' ORDER BY ordinal_position`, [table],
  );
  return r.rows.map((x) => x.c).filter((c) => !LOCAL_COLUMNS.has(c));
}

const plain = (row: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString('base64') : v instanceof Date ? v.toISOString() : v]));

/**
 * The memories an agent wrote (with their embeddings and every version) and the
 * checkpoints it saved, as the deployment's warm store holds them, in a stable
 * order: what an export carries and what an import is checked against.
 */
export async function agentRows(pool: Queryable, agentId: string): Promise<{ memories: ExportedMemory[]; checkpoints: ExportedCheckpoint[] }> {
  const [mcols, vcols, ccols] = await Promise.all([columnsOf(pool, 'memories'), columnsOf(pool, 'memory_versions'), columnsOf(pool, 'checkpoints')]);
  const sel = (cols: string[]) => cols.map(quoteIdent).join(', ');
  const [m, v, c] = await Promise.all([
    pool.query(`SELECT ${sel(mcols)} FROM memories WHERE agent_id = $1 ORDER BY memory_id COLLATE "C"`, [agentId]),
    pool.query(`SELECT ${sel(vcols)} FROM memory_versions WHERE agent_id = $1 ORDER BY memory_id COLLATE "C", version, event_id`, [agentId]),
    pool.query(`SELECT ${sel(ccols)} FROM checkpoints WHERE agent_id = $1 ORDER BY occurred_at, event_id`, [agentId]),
  ]);
  const versions = new Map<string, Record<string, unknown>[]>();
  for (const row of v.rows as Record<string, unknown>[]) {
    const id = String(row.memory_id);
    versions.set(id, [...(versions.get(id) ?? []), plain(row)]);
  }
  return {
    memories: (m.rows as Record<string, unknown>[]).map((row) => ({ ...plain(row), versions: versions.get(String(row.memory_id)) ?? [] }) as ExportedMemory),
    checkpoints: (c.rows as Record<string, unknown>[]).map((row) => plain(row) as ExportedCheckpoint),
  };
}
