import type { Pool, PoolClient } from '@farmbrain/platform';
import { SegmentCorruptError } from './errors.js';

type Queryable = Pick<Pool, 'query'> | Pick<PoolClient, 'query'>;

/**
 * One sealed segment, as the manifest (table `archive_segments`) and its
 * sidecar object (`<key>.json`) describe it. The segment holds every canonical
 * message of `partition` with afterSeq < seq <= lastSeq; `firstSeq` is the first of them.
 */
export interface SegmentInfo {
  partition: number;
  afterSeq: number;
  firstSeq: number;
  lastSeq: number;
  messages: number;
  /** Stored (compressed) bytes. */
  bytes: number;
  /** Record bytes before compression. */
  rawBytes: number;
  /** Hex sha256 of the stored bytes. */
  sha256: string;
  key: string;
  sealedAt: Date;
}

export const SIDECAR_FORMAT = 'farmbrain.archive.segment/1';

/** The sidecar's JSON: the manifest row, so the archive describes itself without Postgres. */
export function sidecarJson(namespace: string, s: SegmentInfo): Uint8Array {
  return Buffer.from(`${JSON.stringify({
    format: SIDECAR_FORMAT, namespace, partition: s.partition, afterSeq: s.afterSeq, firstSeq: s.firstSeq, lastSeq: s.lastSeq,
    messages: s.messages, bytes: s.bytes, rawBytes: s.rawBytes, sha256: s.sha256, key: s.key, createdAt: s.sealedAt.toISOString(),
  }, null, 2)}\n`);
}

export function parseSidecar(bytes: Uint8Array, key: string): SegmentInfo {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new SegmentCorruptError(key, 'the sidecar is not JSON', { cause: err });
  }
  const int = (k: string) => {
    const v = j[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new SegmentCorruptError(key, `sidecar field ${k} is not a non-negative integer`);
    return v;
  };
  if (j.format !== SIDECAR_FORMAT) throw new SegmentCorruptError(key, `sidecar format ${JSON.stringify(j.format)}, expected ${SIDECAR_FORMAT}`);
  if (typeof j.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(j.sha256) || typeof j.key !== 'string') throw new SegmentCorruptError(key, 'sidecar without sha256 or key');
  const sealedAt = new Date(String(j.createdAt));
  if (Number.isNaN(sealedAt.getTime())) throw new SegmentCorruptError(key, 'sidecar createdAt is not a time');
  return {
    partition: int('partition'), afterSeq: int('afterSeq'), firstSeq: int('firstSeq'), lastSeq: int('lastSeq'), messages: int('messages'),
    bytes: int('bytes'), rawBytes: int('rawBytes'), sha256: j.sha256, key: j.key, sealedAt,
  };
}

/** Whether two descriptions are of the same segment (the time it was sealed aside). */
export const sameSegment = (a: SegmentInfo, b: SegmentInfo): boolean =>
  a.partition === b.partition && a.afterSeq === b.afterSeq && a.firstSeq === b.firstSeq && a.lastSeq === b.lastSeq
  && a.messages === b.messages && a.bytes === b.bytes && a.rawBytes === b.rawBytes && a.sha256 === b.sha256 && a.key === b.key;

interface SegmentRow {
  partition: number;
  after_seq: string | number;
  first_seq: string | number;
  last_seq: string | number;
  messages: number;
  bytes: string | number;
  raw_bytes: string | number;
  sha256: string;
  key: string;
  sealed_at: Date;
}

const fromRow = (r: SegmentRow): SegmentInfo => ({
  partition: r.partition, afterSeq: Number(r.after_seq), firstSeq: Number(r.first_seq), lastSeq: Number(r.last_seq), messages: r.messages,
  bytes: Number(r.bytes), rawBytes: Number(r.raw_bytes), sha256: r.sha256, key: r.key, sealedAt: r.sealed_at,
});

const COLUMNS = 'partition, after_seq, first_seq, last_seq, messages, bytes, raw_bytes, sha256, key, sealed_at';

/** The manifest's segments of a partition that hold messages above `afterSeq`, in order (at most `limit`). */
export async function readManifest(db: Queryable, partition: number, afterSeq = 0, limit = 1000): Promise<SegmentInfo[]> {
  const r = await db.query<SegmentRow>(
    `SELECT ${COLUMNS} FROM archive_segments WHERE partition = $1 AND last_seq > $2 ORDER BY first_seq LIMIT $3`,
    [partition, afterSeq, limit],
  );
  return r.rows.map(fromRow);
}

/** The segment of the manifest that would hold `streamSeq`, if any. */
export async function manifestSegmentOf(db: Queryable, partition: number, streamSeq: number): Promise<SegmentInfo | undefined> {
  const r = await db.query<SegmentRow>(
    `SELECT ${COLUMNS} FROM archive_segments WHERE partition = $1 AND first_seq <= $2 ORDER BY first_seq DESC LIMIT 1`,
    [partition, streamSeq],
  );
  const s = r.rows[0] ? fromRow(r.rows[0]) : undefined;
  return s && s.lastSeq >= streamSeq ? s : undefined;
}

/** Records a sealed segment (in the seal's transaction). */
export async function insertManifest(c: Queryable, s: SegmentInfo): Promise<void> {
  await c.query(
    `INSERT INTO archive_segments (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [s.partition, s.afterSeq, s.firstSeq, s.lastSeq, s.messages, s.bytes, s.rawBytes, s.sha256, s.key, s.sealedAt],
  );
}
