import { decodeConsistencyToken, FarmbrainError, type MemoryKind } from '@farmbrain/contracts';
import { fromBytes, type Logger, type Pool } from '@farmbrain/platform';
import { readCheckpoints, type Checkpoint } from '@farmbrain/projection';
import type { MemoryMeta, VectorIndex } from './vectorIndex.js';

interface Row {
  memory_id: string;
  agent_id: string;
  owner_key: string;
  kind: MemoryKind;
  tags: string[];
  importance: number;
  created: number;
  expires: number | null;
  version: number;
  embedding: Buffer | null;
  embedding_model: string;
  /** Out of recall: forgotten (erased included), or merged into a canonical memory by consolidation. */
  gone: boolean;
  part: number;
  change_seq: number;
}

const COLUMNS = `memory_id, agent_id, owner_key, kind, tags, importance,
  (extract(epoch from created_at) * 1000)::bigint AS created,
  (extract(epoch from expires_at) * 1000)::bigint AS expires,
  version, embedding, embedding_model, (forgotten_at IS NOT NULL OR consolidated_into IS NOT NULL) AS gone, part, change_seq`;

export class ConsistencyTimeoutError extends FarmbrainError {
  constructor(partition: number, ingressSeq: number, waitedMs: number) {
    super('CONSISTENCY_TIMEOUT',
      `the write at ingress sequence ${ingressSeq} (partition ${partition}) was not applied within ${waitedMs} ms: the pipeline is lagging ` +
      '(GET /readyz says whether a dependency is down). Retry the read, or read without the token for possibly stale results');
    this.name = 'ConsistencyTimeoutError';
  }
}

/**
 * Keeps a VectorIndex equal to the memories table, and answers consistency
 * tokens. The memories change feed is (part, change_seq): tiering commits one
 * partition's batches in order, each with its checkpoint, so "every row with
 * change_seq <= checkpoint" is a consistent cut per partition. A sync reads the
 * checkpoints, then the rows changed between the index's watermark and them.
 */
export class IndexSync {
  /** Per partition: the canonical sequence the index reflects. */
  readonly #watermark = new Map<number, number>();
  #syncing: Promise<void> | undefined;
  #again = false;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  lastSyncAt = 0;
  /** True once the initial load from Postgres is done. */
  loaded = false;

  constructor(
    private readonly pool: Pool,
    private readonly index: VectorIndex,
    private readonly o: {
      projection: string; partitions: number; log: Logger; pollMs: number; consistencyTimeoutMs: number;
      /** The ingress stream's last sequence: a token naming a later one was never issued (checked before waiting on it). */
      ingressHead?: () => Promise<number>;
    },
  ) {}

  /** The followed projection's checkpoints (the projection kit's one reader of them). */
  checkpoints(): Promise<Map<number, Checkpoint>> {
    return readCheckpoints(this.pool, this.o.projection);
  }

  /** Loads every live memory with an embedding, in pages, then keeps polling the change feed. */
  async start(): Promise<{ memories: number; ms: number }> {
    const t0 = performance.now();
    const cps = await this.checkpoints();
    for (let p = 0; p < this.o.partitions; p++) {
      const hi = cps.get(p)?.lastSeq ?? 0;
      let after: [number, string] = [0, ''];
      for (;;) {
        const r = await this.pool.query<Row>(
          `SELECT ${COLUMNS} FROM memories
            WHERE part = $1 AND change_seq <= $2 AND (change_seq, memory_id) > ($3, $4)
              AND forgotten_at IS NULL AND consolidated_into IS NULL AND embedding IS NOT NULL
            ORDER BY change_seq, memory_id LIMIT 20000`,
          [p, hi, after[0], after[1]],
        );
        this.#apply(r.rows);
        if (r.rows.length < 20000) break;
        const last = r.rows[r.rows.length - 1]!;
        after = [last.change_seq, last.memory_id];
      }
      this.#watermark.set(p, hi);
    }
    this.lastSyncAt = Date.now();
    this.loaded = true;
    this.#schedule();
    return { memories: this.index.size, ms: Math.round(performance.now() - t0) };
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
  }

  /** Consecutive failed syncs: the poll backs off while Postgres is away, and says so once. */
  #failures = 0;

  #schedule(): void {
    if (this.#stopped) return;
    const delay = this.#failures === 0 ? this.o.pollMs : Math.min(this.o.pollMs * 2 ** this.#failures, 5000);
    this.#timer = setTimeout(() => {
      this.sync()
        .then(() => {
          if (this.#failures > 0) this.o.log.info({ failures: this.#failures }, 'memory index sync resumed');
          this.#failures = 0;
        })
        .catch((err: unknown) => {
          if (this.#failures === 0) this.o.log.warn({ err: (err as Error)?.message ?? String(err) }, 'memory index sync failed; retrying with backoff');
          this.#failures++;
        })
        .finally(() => this.#schedule());
    }, delay);
    this.#timer.unref();
  }

  /** Brings the index up to the current checkpoints. Concurrent callers share one run (and ask for one more). */
  sync(): Promise<void> {
    if (this.#syncing) {
      this.#again = true;
      return this.#syncing;
    }
    this.#syncing = (async () => {
      do {
        this.#again = false;
        await this.#syncOnce(await this.checkpoints());
      } while (this.#again);
    })().finally(() => (this.#syncing = undefined));
    return this.#syncing;
  }

  async #syncOnce(cps: Map<number, Checkpoint>): Promise<void> {
    const ps: number[] = [];
    const lo: number[] = [];
    const hi: number[] = [];
    for (const [p, cp] of cps) {
      const w = this.#watermark.get(p) ?? 0;
      if (cp.lastSeq > w) {
        ps.push(p);
        lo.push(w);
        hi.push(cp.lastSeq);
      }
    }
    if (ps.length === 0) {
      this.lastSyncAt = Date.now();
      return;
    }
    const r = await this.pool.query<Row>(
      `SELECT ${COLUMNS} FROM memories m
         JOIN unnest($1::int[], $2::bigint[], $3::bigint[]) AS w(p, lo, hi)
           ON m.part = w.p AND m.change_seq > w.lo AND m.change_seq <= w.hi
        ORDER BY m.change_seq`,
      [ps, lo, hi],
    );
    this.#apply(r.rows);
    ps.forEach((p, i) => this.#watermark.set(p, hi[i]!));
    this.lastSyncAt = Date.now();
  }

  #apply(rows: readonly Row[]): void {
    const adds: { meta: MemoryMeta; vector: Float32Array }[] = [];
    for (const row of rows) {
      if (row.gone || row.embedding === null) {
        this.index.remove(row.memory_id);
        continue;
      }
      const meta: MemoryMeta = {
        memoryId: row.memory_id, agentId: row.agent_id, ownerKey: row.owner_key, kind: row.kind, tags: row.tags,
        importance: row.importance, createdAt: row.created, expiresAt: row.expires, version: row.version, model: row.embedding_model,
      };
      const vector = fromBytes(row.embedding);
      const cur = this.index.get(row.memory_id);
      // Same vector (a re-tag, a new importance): only the metadata moves; the graph is untouched.
      if (cur && cur.vector.length === vector.length && cur.vector.every((x, i) => x === vector[i]) && this.index.updateMeta(meta)) continue;
      adds.push({ meta, vector });
    }
    if (adds.length > 0) this.index.upsert(adds);
  }

  /** The writes among `marks` that ingest rejected, or the projection dead-lettered, as sentences for a response's warnings. */
  async #rejected(marks: Map<number, number>): Promise<string[]> {
    const args = [[...marks.keys()], [...marks.values()]];
    const [ingest, projection] = await Promise.all([
      this.pool.query<{ partition: number; ingress_seq: number; rejected: number; accepted: number; code: string; reason: string }>(
        `SELECT partition, ingress_seq, rejected, accepted, code, reason FROM rejected_writes
          WHERE (partition, ingress_seq) IN (SELECT * FROM unnest($1::int[], $2::bigint[]))`, args),
      this.pool.query<{ partition: number; ingress_seq: number; n: number; code: string; reason: string }>(
        `SELECT partition, ingress_seq, count(*)::int AS n, min(code) AS code, min(reason) AS reason FROM projection_dead_letters
          WHERE ingress_seq > 0 AND replayed_at IS NULL AND (partition, ingress_seq) IN (SELECT * FROM unnest($1::int[], $2::bigint[]))
          GROUP BY partition, ingress_seq`, args),
    ]);
    return [
      ...ingest.rows.map((w) =>
        `the write your consistency token names (partition ${w.partition}, ingress sequence ${w.ingress_seq}) was rejected by ingest: ` +
        `${w.rejected} event(s) dead-lettered${w.accepted > 0 ? `, ${w.accepted} applied` : ''} (${w.code}: ${w.reason}); fix it and write again`),
      ...projection.rows.map((w) =>
        `the write your consistency token names (partition ${w.partition}, ingress sequence ${w.ingress_seq}) was not applied: ` +
        `${w.n} event(s) dead-lettered by the projection (${w.code}: ${w.reason}); see GET /v1/dead-letters`),
    ];
  }

  /** Whether the index reflects partition p up to canonical sequence seq. */
  #covers(p: number, seq: number): boolean {
    return (this.#watermark.get(p) ?? 0) >= seq;
  }

  /**
   * Read-your-writes: resolves once the projection has applied every ingress
   * message the token names AND this index reflects it. Throws
   * CONSISTENCY_TIMEOUT after the bound. A write ingest rejected moves the
   * watermark too (ingest marks it on the canonical stream), so the wait ends
   * at once; the result then says which writes were rejected and why, one
   * sentence each (empty when all were applied).
   */
  async waitFor(token: string | undefined, timeoutMs = this.o.consistencyTimeoutMs): Promise<string[]> {
    if (!token) return [];
    const marks = decodeConsistencyToken(token, this.o.partitions);
    const deadline = Date.now() + timeoutMs;
    let delay = 2;
    for (let round = 0; ; round++) {
      const cps = await this.checkpoints();
      const pending = [...marks].filter(([p, s]) => (cps.get(p)?.ingressSeq ?? 0) < s);
      if (round === 0 && pending.length > 0 && this.o.ingressHead) {
        const head = await this.o.ingressHead().catch(() => undefined);
        const past = pending.find(([, s]) => head !== undefined && s > head);
        if (past) {
          throw new FarmbrainError('INVALID_CONSISTENCY_TOKEN',
            `consistency token '${token.slice(0, 80)}' names ingress sequence ${past[1]}, but the ingress stream ends at ${head}: it was not issued by this deployment; pass the consistencyToken a write returned, unchanged`);
        }
      }
      if (pending.length === 0) {
        if (![...marks.keys()].every((p) => this.#covers(p, cps.get(p)?.lastSeq ?? 0))) await this.sync();
        return this.#rejected(marks);
      }
      if (Date.now() >= deadline) throw new ConsistencyTimeoutError(pending[0]![0], pending[0]![1], timeoutMs);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 25);
    }
  }
}
