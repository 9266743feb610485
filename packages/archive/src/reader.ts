import type { Pool } from '@farmbrain/platform';
import { ChecksumMismatchError, SegmentCorruptError } from './errors.js';
import { partitionPrefix, parseKey } from './layout.js';
import { manifestSegmentOf, parseSidecar, readManifest, type SegmentInfo } from './manifest.js';
import { decodeHeaders, decodeSegment, sha256Hex, type ArchivedMessage } from './segment.js';
import type { ArchiveStore } from './store.js';

export interface ArchiveReaderOptions {
  store: ArchiveStore;
  namespace: string;
  /**
   * A pool on the archive's Postgres schema (archiveSchema): the manifest
   * table, and the messages not sealed yet. Without it (or while the archive's
   * tables do not exist) the reader lists the sidecars in the store, and sees sealed segments only.
   */
  pool?: Pool | undefined;
  /** Decoded segments kept in memory (least recently used dropped first). */
  cacheSegments?: number;
}

export interface ReadOptions {
  /** Messages per chunk. */
  chunk?: number;
  /** Called when the archive holds nothing contiguous after `cursor` (it began later, or a segment is missing); reading stops there. */
  onGap?(cursor: number, next: number): void;
}

/**
 * Reads the archive: a partition's messages after a sequence, in order and in
 * chunks (what a rebuild replays before it reads the stream), and single
 * messages by (partition, stream sequence) (the gateway's archive tier). Every
 * segment is checked against its manifest's sha256 before it is decoded:
 * ChecksumMismatchError (ARCHIVE_CHECKSUM_MISMATCH) names the object.
 */
export class ArchiveReader {
  readonly #cache = new Map<string, ArchivedMessage[]>();
  readonly #sidecars = new Map<string, SegmentInfo>();
  #tables = false;

  constructor(private readonly o: ArchiveReaderOptions) {}

  /**
   * Whether the manifest can be read from Postgres: its tables exist (until
   * the archive service first ran, they do not, and the store's sidecars are
   * read). Only a yes is kept: the tables may appear later, never go away.
   */
  async #usePg(): Promise<boolean> {
    const pool = this.o.pool;
    if (!pool) return false;
    if (!this.#tables) this.#tables = (await pool.query<{ t: string | null }>("SELECT to_regclass('archive_segments')::text AS t")).rows[0]?.t != null;
    return this.#tables;
  }

  /** The segments of a partition holding messages above `afterSeq`, in order of their first sequence. */
  async segments(partition: number, afterSeq = 0): Promise<SegmentInfo[]> {
    if (await this.#usePg()) return readManifest(this.o.pool!, partition, afterSeq, 100_000);
    const keys = (await this.o.store.list(partitionPrefix(this.o.namespace, partition))).filter((k) => {
      const r = parseKey(k);
      return r?.kind === 'json' && r.lastSeq > afterSeq;
    });
    const out: SegmentInfo[] = [];
    for (const k of keys) {
      let s = this.#sidecars.get(k);
      if (!s) {
        s = parseSidecar(await this.o.store.get(k), k);
        if (s.partition !== partition) throw new SegmentCorruptError(k, `sidecar of partition ${s.partition} under partition ${partition}`);
        this.#sidecars.set(k, s);
      }
      out.push(s);
    }
    return out.sort((a, b) => a.firstSeq - b.firstSeq || b.lastSeq - a.lastSeq);
  }

  /** A segment's messages: the object read, its checksum and header checked against `info`, decoded (and cached). */
  async load(info: SegmentInfo): Promise<ArchivedMessage[]> {
    const hit = this.#cache.get(info.key);
    if (hit) {
      this.#cache.delete(info.key);
      this.#cache.set(info.key, hit);
      return hit;
    }
    const bytes = await this.o.store.get(info.key);
    const sha = sha256Hex(bytes);
    if (sha !== info.sha256) throw new ChecksumMismatchError(info.key, info.sha256, sha);
    const { header, messages } = await decodeSegment(bytes, info.key);
    if (header.partition !== info.partition || header.afterSeq !== info.afterSeq || header.firstSeq !== info.firstSeq || header.lastSeq !== info.lastSeq || header.messages !== info.messages) {
      throw new SegmentCorruptError(info.key, `its header (partition ${header.partition}, ${header.afterSeq} < seq ≤ ${header.lastSeq}, ${header.messages} messages) is not what its manifest says`);
    }
    this.#cache.set(info.key, messages);
    while (this.#cache.size > (this.o.cacheSegments ?? 8)) this.#cache.delete(this.#cache.keys().next().value!);
    return messages;
  }

  /**
   * The partition's archived messages above `afterSeq`, in stream order, in
   * chunks: sealed segments, then (with Postgres) the messages waiting to be
   * sealed. Stops where the archive holds nothing contiguous (onGap), and once
   * it has given everything the archive holds (it follows seals made meanwhile).
   */
  async *messages(partition: number, afterSeq: number, opts: ReadOptions = {}): AsyncGenerator<ArchivedMessage[]> {
    const chunk = opts.chunk ?? 500;
    let cursor = afterSeq;
    const pg = await this.#usePg();
    for (;;) {
      let progressed = false;
      for (const s of await this.segments(partition, cursor)) {
        if (s.lastSeq <= cursor) continue;
        if (s.afterSeq > cursor) {
          opts.onGap?.(cursor, s.afterSeq);
          return;
        }
        const msgs = (await this.load(s)).filter((m) => m.seq > cursor);
        for (let i = 0; i < msgs.length; i += chunk) yield msgs.slice(i, i + chunk);
        cursor = s.lastSeq;
        progressed = true;
      }
      if (pg) {
        for (;;) {
          const rows = await this.#pendingAfter(partition, cursor, chunk);
          if (rows.length === 0) break;
          yield rows;
          cursor = rows[rows.length - 1]!.seq;
          progressed = true;
        }
      }
      if (!progressed) return;
    }
  }

  /**
   * Messages waiting to be sealed, above `cursor`, when they follow it without
   * a gap: every segment ends at or below it, and it is at or past where the
   * pending rows begin (the last segment, or where archiving began). One
   * statement, so a seal committing meanwhile cannot make rows vanish unseen.
   */
  async #pendingAfter(partition: number, cursor: number, limit: number): Promise<ArchivedMessage[]> {
    const r = await this.o.pool!.query<{ stream_seq: string; subject: string; headers: Buffer; data: Buffer }>(
      `SELECT p.stream_seq, p.subject, p.headers, p.data FROM archive_pending p
        WHERE p.partition = $1 AND p.stream_seq > $2
          AND NOT EXISTS (SELECT 1 FROM archive_segments s WHERE s.partition = $1 AND s.last_seq > $2)
          AND COALESCE((SELECT max(last_seq) FROM archive_segments s WHERE s.partition = $1),
                       (SELECT after_seq FROM archive_origins o WHERE o.partition = $1)) <= $2
        ORDER BY p.stream_seq LIMIT $3`,
      [partition, cursor, limit],
    );
    return r.rows.map(pendingMessage);
  }

  /** One canonical message of the archive, or undefined when the archive does not hold it (or it is of another partition). */
  async find(partition: number, streamSeq: number): Promise<ArchivedMessage | undefined> {
    const pg = await this.#usePg();
    let seg: SegmentInfo | undefined;
    if (pg) seg = await manifestSegmentOf(this.o.pool!, partition, streamSeq);
    else {
      const inRange = (s: SegmentInfo) => s.firstSeq <= streamSeq && streamSeq <= s.lastSeq;
      seg = [...this.#sidecars.values()].find((s) => s.partition === partition && inRange(s))
        ?? (await this.segments(partition, streamSeq - 1)).find(inRange);
    }
    if (seg) return bisect(await this.load(seg), streamSeq);
    if (!pg) return undefined;
    const r = await this.o.pool!.query<{ stream_seq: string; subject: string; headers: Buffer; data: Buffer }>(
      'SELECT stream_seq, subject, headers, data FROM archive_pending WHERE partition = $1 AND stream_seq = $2', [partition, streamSeq],
    );
    return r.rows[0] ? pendingMessage(r.rows[0]) : undefined;
  }
}

function pendingMessage(row: { stream_seq: string; subject: string; headers: Buffer; data: Buffer }): ArchivedMessage {
  return { seq: Number(row.stream_seq), subject: row.subject, headers: decodeHeaders(row.headers), data: new Uint8Array(row.data) };
}

function bisect(msgs: readonly ArchivedMessage[], seq: number): ArchivedMessage | undefined {
  let lo = 0;
  let hi = msgs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const s = msgs[mid]!.seq;
    if (s === seq) return msgs[mid];
    if (s < seq) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}
