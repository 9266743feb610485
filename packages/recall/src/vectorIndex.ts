import usearch, { type ScalarKind } from 'usearch';
import type { MemoryKind } from '@farmbrain/contracts';

/**
 * In-process approximate nearest-neighbour index over memory embeddings.
 *
 * Postgres keeps the embeddings as the record; this index is derived from it
 * (rebuilt at start, kept current from the memories change feed) and never
 * written anywhere else. Design:
 * - One HNSW graph (usearch) per bucket = (embedding model, owner key). An
 *   agent's recall searches only the buckets it may read (its own, its teams',
 *   the fleet's), so the visibility filter costs nothing and an agent's private
 *   memories are never even candidates for another agent.
 * - Other filters (kind, tags, time, importance, expiry) are applied to the
 *   graph's candidates, widening the search when too few pass; when a filter
 *   is so selective that the widened search would visit most of the bucket, an
 *   exact scan over the bucket's vectors answers instead.
 * - Vectors are L2-normalised, so cosine similarity is a dot product.
 */

export interface MemoryMeta {
  memoryId: string;
  agentId: string;
  ownerKey: string;
  kind: MemoryKind;
  tags: readonly string[];
  importance: number;
  createdAt: number;
  expiresAt: number | null;
  version: number;
  model: string;
}

export interface VectorFilter {
  kinds?: ReadonlySet<string>;
  allTags?: readonly string[];
  anyTags?: readonly string[];
  since?: number;
  until?: number;
  minImportance?: number;
  /** Memories expiring at or before this time are left out. */
  now: number;
}

export interface VectorHit {
  meta: MemoryMeta;
  similarity: number;
}

export interface IndexTuning {
  /** HNSW graph degree. */
  connectivity: number;
  /** Candidate list size while building. */
  expansionAdd: number;
  /** Candidate list size while searching (at least k). */
  expansionSearch: number;
  /** Stored precision of the graph's vectors. */
  quantization: 'f32' | 'f16' | 'i8';
}

export const DEFAULT_TUNING: IndexTuning = { connectivity: 16, expansionAdd: 64, expansionSearch: 96, quantization: 'f16' };

interface Entry {
  meta: MemoryMeta;
  key: number;
  slot: number;
  bucket: Bucket;
}

class Bucket {
  readonly index: InstanceType<typeof usearch.Index>;
  /** Row-major vectors, one slot per live entry (dense: removal moves the last slot into the hole). */
  vectors: Float32Array;
  readonly slotEntry: Entry[] = [];
  constructor(readonly model: string, readonly ownerKey: string, readonly dims: number, tuning: IndexTuning) {
    this.index = new usearch.Index({
      metric: usearch.MetricKind.IP,
      dimensions: dims,
      connectivity: tuning.connectivity,
      quantization: tuning.quantization as ScalarKind,
      expansion_add: tuning.expansionAdd,
      expansion_search: tuning.expansionSearch,
      multi: false,
    });
    this.vectors = new Float32Array(dims * 64);
  }
  get size(): number {
    return this.slotEntry.length;
  }
  vectorOf(slot: number): Float32Array {
    return this.vectors.subarray(slot * this.dims, (slot + 1) * this.dims);
  }
}

const matches = (m: MemoryMeta, f: VectorFilter): boolean => {
  if (m.expiresAt !== null && m.expiresAt <= f.now) return false;
  if (f.kinds && !f.kinds.has(m.kind)) return false;
  if (f.minImportance !== undefined && m.importance < f.minImportance) return false;
  if (f.since !== undefined && m.createdAt < f.since) return false;
  if (f.until !== undefined && m.createdAt >= f.until) return false;
  if (f.allTags && !f.allTags.every((t) => m.tags.includes(t))) return false;
  if (f.anyTags && f.anyTags.length > 0 && !f.anyTags.some((t) => m.tags.includes(t))) return false;
  return true;
};

export const dot = (a: Float32Array, b: Float32Array): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

export class VectorIndex {
  readonly #buckets = new Map<string, Bucket>();
  readonly #entries = new Map<string, Entry>();
  readonly #byKey = new Map<number, Entry>();
  #nextKey = 1;

  constructor(private readonly tuning: IndexTuning = DEFAULT_TUNING) {}

  get size(): number {
    return this.#entries.size;
  }

  get(memoryId: string): { meta: MemoryMeta; vector: Float32Array } | undefined {
    const e = this.#entries.get(memoryId);
    return e && { meta: e.meta, vector: e.bucket.vectorOf(e.slot) };
  }

  stats(): { memories: number; buckets: number } {
    return { memories: this.#entries.size, buckets: this.#buckets.size };
  }

  /**
   * Adds or replaces memories (vectors already L2-normalised). Groups by
   * bucket so that each graph gets one multi-threaded batch insert.
   */
  upsert(items: readonly { meta: MemoryMeta; vector: Float32Array }[]): void {
    const groups = new Map<Bucket, { entry: Entry; vector: Float32Array }[]>();
    for (const it of items) {
      this.remove(it.meta.memoryId);
      const bucket = this.#bucket(it.meta.model, it.meta.ownerKey, it.vector.length);
      const entry: Entry = { meta: it.meta, key: this.#nextKey++, slot: -1, bucket };
      let g = groups.get(bucket);
      if (!g) groups.set(bucket, (g = []));
      g.push({ entry, vector: it.vector });
    }
    for (const [bucket, g] of groups) {
      const need = (bucket.size + g.length) * bucket.dims;
      if (need > bucket.vectors.length) {
        const grown = new Float32Array(Math.max(need, bucket.vectors.length * 2));
        grown.set(bucket.vectors);
        bucket.vectors = grown;
      }
      const keys = new BigUint64Array(g.length);
      const flat = new Float32Array(g.length * bucket.dims);
      g.forEach(({ entry, vector }, i) => {
        entry.slot = bucket.slotEntry.length;
        bucket.slotEntry.push(entry);
        bucket.vectors.set(vector, entry.slot * bucket.dims);
        keys[i] = BigInt(entry.key);
        flat.set(vector, i * bucket.dims);
        this.#entries.set(entry.meta.memoryId, entry);
        this.#byKey.set(entry.key, entry);
      });
      bucket.index.add(keys, flat, 0);
    }
  }

  /** Replaces a memory's metadata without touching its vector (a re-tag, a new importance). */
  updateMeta(meta: MemoryMeta): boolean {
    const e = this.#entries.get(meta.memoryId);
    if (!e || e.meta.model !== meta.model || e.meta.ownerKey !== meta.ownerKey) return false;
    e.meta = meta;
    return true;
  }

  remove(memoryId: string): void {
    const e = this.#entries.get(memoryId);
    if (!e) return;
    const b = e.bucket;
    b.index.remove(BigInt(e.key));
    const last = b.slotEntry.length - 1;
    if (e.slot !== last) {
      const moved = b.slotEntry[last]!;
      b.vectors.copyWithin(e.slot * b.dims, last * b.dims, (last + 1) * b.dims);
      moved.slot = e.slot;
      b.slotEntry[e.slot] = moved;
    }
    b.slotEntry.pop();
    this.#entries.delete(memoryId);
    this.#byKey.delete(e.key);
  }

  /**
   * The k most similar memories of the given owners, in one embedding model,
   * that pass the filter. `exact` forces a full scan (ground truth for benchmarks).
   */
  search(model: string, ownerKeys: readonly string[], query: Float32Array, k: number, filter: VectorFilter, exact = false): VectorHit[] {
    const hits: VectorHit[] = [];
    for (const owner of ownerKeys) {
      const b = this.#buckets.get(`${model}\u0000${owner}`);
      if (!b || b.size === 0 || b.dims !== query.length) continue;
      hits.push(...(exact ? this.#scan(b, query, k, filter) : this.#searchBucket(b, query, k, filter)));
    }
    hits.sort((x, y) => y.similarity - x.similarity);
    return hits.slice(0, k);
  }

  #searchBucket(b: Bucket, q: Float32Array, k: number, f: VectorFilter): VectorHit[] {
    // Without selective filters the graph's top k are the answer; with them, widen until k pass.
    let want = Math.min(b.size, Math.max(k, 10));
    for (;;) {
      if (want > b.size / 4 && want < b.size) return this.#scan(b, q, k, f);
      const r = b.index.search(q, want, 0);
      const out: VectorHit[] = [];
      for (let i = 0; i < r.keys.length; i++) {
        const e = this.#byKey.get(Number(r.keys[i]));
        if (!e || !matches(e.meta, f)) continue;
        out.push({ meta: e.meta, similarity: 1 - r.distances[i]! });
        if (out.length === k) return out;
      }
      if (want >= b.size) return out;
      want = Math.min(b.size, want * 4);
    }
  }

  #scan(b: Bucket, q: Float32Array, k: number, f: VectorFilter): VectorHit[] {
    const best: VectorHit[] = [];
    let floor = -Infinity;
    for (let s = 0; s < b.size; s++) {
      const e = b.slotEntry[s]!;
      if (!matches(e.meta, f)) continue;
      const sim = dot(q, b.vectorOf(s));
      if (best.length === k && sim <= floor) continue;
      best.push({ meta: e.meta, similarity: sim });
      if (best.length > k) {
        best.sort((x, y) => y.similarity - x.similarity);
        best.length = k;
      }
      if (best.length === k) floor = Math.min(...best.map((h) => h.similarity));
    }
    return best.sort((x, y) => y.similarity - x.similarity);
  }

  #bucket(model: string, ownerKey: string, dims: number): Bucket {
    const id = `${model}\u0000${ownerKey}`;
    let b = this.#buckets.get(id);
    if (b && b.dims !== dims) {
      // A model id names one dimensionality; a client that changes dims under one name gets a fresh bucket.
      for (const e of [...b.slotEntry]) this.remove(e.meta.memoryId);
      this.#buckets.delete(id);
      b = undefined;
    }
    if (!b) {
      b = new Bucket(model, ownerKey, dims, this.tuning);
      this.#buckets.set(id, b);
    }
    return b;
  }
}
