import { FarmbrainError } from '@farmbrain/contracts';
import type { Pool } from '@farmbrain/platform';
import { decodeBlock, sha256Hex, WARM_TABLE, type BlockKind, type BlockRow } from '@farmbrain/store';

/**
 * What the gateway needs of the archive's object store to read archive-tier
 * blocks: `ArchiveStore` of @farmbrain/archive has it.
 */
export interface BlockObjectReader {
  get(key: string): Promise<Uint8Array>;
}

/** A block's row in cold_blocks, without its payload. */
export interface BlockMeta {
  blockId: string;
  agentId: string;
  kind: BlockKind;
  tier: 'cold' | 'archive' | 'deleted';
  firstAt: Date;
  lastAt: Date;
  sha256: string;
  archiveKey: string | null;
  movedAt: Date;
  /** The moves that touched its records, oldest first. */
  moves: string[];
}

/** The archive tier is needed and not configured, or did not answer. */
export class ArchiveUnavailableError extends FarmbrainError {
  constructor(detail: string, options?: ErrorOptions) {
    super('ARCHIVE_UNAVAILABLE', `records in the archive tier cannot be read now: ${detail}; retry shortly (or configure the archive store on the gateway)`, options);
    this.name = 'ArchiveUnavailableError';
  }
}

/** A block's bytes are not what its row says (sha256), or do not decode. */
export class BlockCorruptError extends FarmbrainError {
  constructor(blockId: string, detail: string, options?: ErrorOptions) {
    super('BLOCK_CORRUPT', `block ${blockId} cannot be read: ${detail}; restore its object from a copy of the archive store, or rebuild the projection`, options);
    this.name = 'BlockCorruptError';
  }
}

const META = `block_id::text AS block_id, agent_id, kind, tier, first_at, last_at, sha256, archive_key, moved_at, moves::text[] AS moves`;
type MetaRow = { block_id: string; agent_id: string; kind: BlockKind; tier: BlockMeta['tier']; first_at: Date; last_at: Date; sha256: string; archive_key: string | null; moved_at: Date; moves: string[] };
const metaOf = (r: MetaRow): BlockMeta => ({
  blockId: r.block_id, agentId: r.agent_id, kind: r.kind, tier: r.tier, firstAt: r.first_at, lastAt: r.last_at, sha256: r.sha256,
  archiveKey: r.archive_key, movedAt: r.moved_at, moves: r.moves,
});

/**
 * Reads records out of cold and archive blocks: which blocks may hold the
 * rows a page needs, and a block's rows (decoded once, then kept in a small
 * cache: a block never changes under its id; a move that changes its records
 * makes new blocks).
 */
export class BlockReader {
  readonly #cache = new Map<string, BlockRow[]>();
  readonly #max: number;

  constructor(private readonly pool: Pool, private readonly archive: BlockObjectReader | undefined, o: { cacheBlocks?: number } = {}) {
    this.#max = o.cacheBlocks ?? 64;
  }

  /**
   * The agent's readable (cold, archive) blocks of `kind` that overlap [from, to)
   * and begin before `before` (a cursor's time, inclusive), newest end first.
   */
  async candidates(agentId: string, kind: BlockKind, q: { from?: Date; to?: Date; before?: Date }): Promise<BlockMeta[]> {
    const r = await this.pool.query<MetaRow>(
      `SELECT ${META} FROM cold_blocks
        WHERE agent_id = $1 AND kind = $2 AND tier IN ('cold', 'archive')
          AND ($3::timestamptz IS NULL OR last_at >= $3) AND ($4::timestamptz IS NULL OR first_at < $4)
          AND ($5::timestamptz IS NULL OR first_at <= $5)
        ORDER BY last_at DESC, block_id DESC`,
      [agentId, kind, q.from ?? null, q.to ?? null, q.before ?? null],
    );
    return r.rows.map(metaOf);
  }

  /** The block holding this record id, in any tier (a tombstone included), or undefined. */
  async holding(recordId: string): Promise<BlockMeta | undefined> {
    const r = await this.pool.query<MetaRow>(
      `SELECT ${META} FROM cold_blocks WHERE event_ids @> ARRAY[$1::uuid] ORDER BY moved_at DESC, block_id LIMIT 1`,
      [recordId],
    );
    return r.rows[0] ? metaOf(r.rows[0]) : undefined;
  }

  /** The rows of a cold or archive block, in block order, as `SELECT *` on its warm table gives them. */
  async rows(b: BlockMeta): Promise<BlockRow[]> {
    const key = `${b.blockId}:${b.sha256}`;
    const hit = this.#cache.get(key);
    if (hit) {
      // Least recently used goes first: a hit moves to the end.
      this.#cache.delete(key);
      this.#cache.set(key, hit);
      return hit;
    }
    const bytes = await this.#bytes(b);
    if (sha256Hex(bytes) !== b.sha256) throw new BlockCorruptError(b.blockId, `its bytes do not match its sha256 ${b.sha256}`);
    let rows: BlockRow[];
    try {
      rows = decodeBlock(bytes).rows;
    } catch (err) {
      throw new BlockCorruptError(b.blockId, (err as Error).message, { cause: err });
    }
    if (this.#cache.size >= this.#max) this.#cache.delete(this.#cache.keys().next().value!);
    this.#cache.set(key, rows);
    return rows;
  }

  /** One record of a block, by id. */
  async row(b: BlockMeta, recordId: string): Promise<BlockRow | undefined> {
    const id = WARM_TABLE[b.kind].id;
    return (await this.rows(b)).find((r) => r[id] === recordId);
  }

  async #bytes(b: BlockMeta): Promise<Uint8Array> {
    if (b.tier === 'cold') {
      const r = await this.pool.query<{ payload: Buffer | null }>('SELECT payload FROM cold_blocks WHERE block_id = $1', [b.blockId]);
      const payload = r.rows[0]?.payload;
      if (payload) return payload;
      // Moved on since it was listed (archived, or cut by a later move): the caller's next read sees where it went.
      throw new FarmbrainError('SERVICE_UNAVAILABLE', `block ${b.blockId} moved while it was read; retry`);
    }
    if (!b.archiveKey) throw new BlockCorruptError(b.blockId, 'it is in the archive tier without an archive key');
    if (!this.archive) throw new ArchiveUnavailableError('the gateway has no archive store configured');
    try {
      return await this.archive.get(b.archiveKey);
    } catch (err) {
      throw new ArchiveUnavailableError(`reading ${b.archiveKey} failed (${(err as Error).message})`, { cause: err });
    }
  }
}
